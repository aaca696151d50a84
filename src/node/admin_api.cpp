#include "node/admin_api.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "auth/password.hpp"
#include "core/names.hpp"
#include "core/validate.hpp"
#include "net/upgrade.hpp"
#include "node/api_request.hpp"
#include "node/room_directory.hpp"
#include "node/server_api.hpp"
#include "protocol/errc.hpp"
#include "protocol/events.hpp"
#include "protocol/json_writer.hpp"

namespace parley::node {

namespace json = boost::json;
using net::ApiRequest;
using net::ApiResponse;
using protocol::errc;

using api::error;
using api::has_scheme;
using api::percent_decoded;

namespace {

constexpr std::string_view prefix = "/api/admin/";
ApiResponse json_response(unsigned status, std::string body) { return ApiResponse{status, std::move(body), {}}; }

// The value of `name` in a query string, or nullopt.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// The p99 of the observations between two readings of a histogram, in ms: the upper bound of
// the bucket holding it (0 if there were none).
double p99_ms(const AdminApi::Sample& now, const AdminApi::Sample& before) {
  std::uint64_t total = 0;
  std::array<std::uint64_t, core::Histogram::bounded + 1> d{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = now.commit[i] >= before.commit[i] ? now.commit[i] - before.commit[i] : 0;
    total += d[i];
  }
  if (total == 0) return 0;
  const std::uint64_t rank = (total * 99 + 99) / 100;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    seen += d[i];
    if (seen >= rank) {
      const auto bound = i < core::Histogram::bounded ? core::Histogram::bounds_ns[i]
                                                      : core::Histogram::bounds_ns[core::Histogram::bounded - 1];
      return static_cast<double>(bound) / 1e6;
    }
  }
  return 0;
}

// A node's published stats as values (a member missing or of another type: 0).
protocol::AdminNode parsed_stats(const std::string& id, const json::object& o) {
  const auto count = [&o](std::string_view key) -> std::uint64_t {
    const json::value* v = o.if_contains(key);
    if (v && v->is_uint64()) return v->get_uint64();
    if (v && v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    return 0;
  };
  const auto real = [&o](std::string_view key) -> double {
    const json::value* v = o.if_contains(key);
    return v && v->is_number() ? v->to_number<double>() : 0.0;
  };
  protocol::AdminNode n;
  n.id = id;
  const json::value* draining = o.if_contains("draining");
  n.draining = draining && draining->is_bool() && draining->get_bool();
  n.connections = count("connections");
  n.rooms = count("rooms");
  n.deliveries_per_s = real("deliveries_per_s");
  n.commit_p99_ms = real("commit_p99_ms");
  n.broker_catchups = count("broker_catchups");
  n.rate_limited = count("rate_limited");
  n.rate_limit_closes = count("flood_closes");
  n.slow_consumer_closes = count("slow_consumer_closes");
  return n;
}

std::size_t status_index(unsigned status) {
  const auto& s = AdminApi::statuses;
  const auto* it = std::find(s.begin(), s.end(), status);
  return it == s.end() ? 0 : static_cast<std::size_t>(it - s.begin());
}

}  // namespace

AdminApi::AdminApi(NodeContext& ctx, RoomDirectory& rooms, ServerApi& keys, Hooks hooks)
    : ctx_(ctx), rooms_(rooms), keys_(keys), hooks_(std::move(hooks)) {
  // auth.admins: names (compared by their name key, the folding registration makes names unique
  // under, so that a look-alike cannot pass) and ids, comma-separated.
  std::string_view list = ctx_.options.auth.admins;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
    if (!item.empty()) {
      admin_ids_.emplace(item);
      if (auto name = core::normalize_name(item)) admin_keys_.insert(core::name_skeleton(*name));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool AdminApi::is_admin(const store::StoredUser& user) const {
  if (user.deleted) return false;
  return admin_ids_.contains(user.id) || admin_keys_.contains(core::name_skeleton(user.name));
}

bool AdminApi::is_admin_session(std::string_view user_id, std::string_view name) const {
  if (!core::is_account_id(user_id)) return false;
  return admin_ids_.contains(std::string(user_id)) || admin_keys_.contains(core::name_skeleton(name));
}

std::string AdminApi::node_id() const { return ctx_.broker ? ctx_.broker->node_id() : std::string("local"); }

std::size_t AdminApi::nodes_known() const {
  const std::lock_guard lock(mutex_);
  return nodes_.size();
}

void AdminApi::tick(std::int64_t now_ms, const Sample& sample) {
  const double seconds = last_ms_ > 0 && now_ms > last_ms_ ? static_cast<double>(now_ms - last_ms_) / 1000.0 : 0;
  const double deliveries = seconds > 0 && sample.deliveries >= last_.deliveries
                                ? static_cast<double>(sample.deliveries - last_.deliveries) / seconds
                                : 0;
  protocol::JsonWriter w;
  w.str("id", node_id())
      .boolean("draining", hooks_.draining && hooks_.draining())
      .unum("connections", sample.connections)
      .unum("rooms", sample.rooms)
      .raw("deliveries_per_s", fixed(deliveries))
      .raw("commit_p99_ms", fixed(p99_ms(sample, last_)))
      .unum("slow_consumer_closes", sample.slow_consumer_closes)
      .unum("rate_limited", sample.rate_limited)
      .unum("flood_closes", sample.flood_closes)
      .unum("broker_catchups", sample.broker_catchups)
      .num("time", now_ms);
  std::string stats = std::move(w).done();
  last_ = sample;
  last_ms_ = now_ms;
  if (ctx_.broker) {
    ctx_.broker->announce_node_stats(stats);  // heard back through on_node_stats, as every node's
  } else {
    on_node_stats(node_id(), stats);
  }
}

void AdminApi::on_node_stats(const std::string& node_id, const std::string& stats) {
  // From the broker, which only nodes write to; still, what is kept must be an object, and the
  // table is bounded.
  boost::system::error_code ec;
  const auto v = json::parse(stats, ec);
  if (ec || !v.is_object()) return;
  const std::int64_t now = ctx_.now_ms();
  NodeEntry entry{stats, parsed_stats(node_id, v.as_object()), now};
  const std::lock_guard lock(mutex_);
  for (auto it = nodes_.begin(); it != nodes_.end();)
    it = now - it->second.heard_ms > node_forget_ms ? nodes_.erase(it) : std::next(it);
  if (!nodes_.contains(node_id) && nodes_.size() >= max_nodes) return;
  nodes_[node_id] = std::move(entry);
}

void AdminApi::on_drain_requested(const std::string& node_id) {
  if (node_id != this->node_id()) return;
  spdlog::info("admin: draining this node ({}), as asked through the admin API", node_id);
  if (hooks_.drain) hooks_.drain();
}

void AdminApi::handle_api(ApiRequest req, Respond respond) {
  const std::string_view rest = std::string_view(req.path).substr(std::min(req.path.size(), prefix.size()));
  std::vector<std::string> parts;
  for (std::size_t at = 0; at <= rest.size();) {
    const auto slash = rest.find('/', at);
    auto part = percent_decoded(rest.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (!part) return respond(error(400, "bad_request", "the path is not percent-encoded correctly"));
    parts.push_back(std::move(*part));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  auto counted = [this, respond = std::move(respond)](ApiResponse r) {
    counts_[status_index(r.status)].add();
    respond(std::move(r));
  };
  const std::string& m = req.method;
  const auto n = parts.size();
  enum class Call : std::uint8_t {
    nodes,
    rooms,
    delete_room,
    delete_message,
    disconnect,
    ban,
    unban,
    drain,
    none
  } call = Call::none;
  std::string_view method = "GET";
  if (n == 1 && parts[0] == "nodes") {
    call = Call::nodes;
  } else if (n == 1 && parts[0] == "rooms") {
    call = Call::rooms;
  } else if (n == 2 && parts[0] == "rooms") {
    call = Call::delete_room, method = "DELETE";
  } else if (n == 4 && parts[0] == "rooms" && parts[2] == "messages") {
    call = Call::delete_message, method = "DELETE";
  } else if (n == 3 && parts[0] == "users" && parts[2] == "disconnect") {
    call = Call::disconnect, method = "POST";
  } else if (n == 3 && parts[0] == "users" && parts[2] == "ban") {
    call = Call::ban, method = "POST";
  } else if (n == 3 && parts[0] == "users" && parts[2] == "unban") {
    call = Call::unban, method = "POST";
  } else if (n == 3 && parts[0] == "nodes" && parts[2] == "drain") {
    call = Call::drain, method = "POST";
  }
  if (call == Call::none) return counted(error(404, "not_found", "no such endpoint"));
  if (m != method && !(method == "GET" && m == "HEAD"))
    return counted(error(405, "method_not_allowed", "this endpoint does not take " + m));
  const std::string arg = n >= 2 ? parts[1] : std::string();
  const std::string arg2 = n >= 4 ? parts[3] : std::string();
  with_admin(req, std::move(counted), [this, call, arg, arg2, query = req.query](const Who& who, Respond respond) {
    switch (call) {
      case Call::nodes: return do_nodes(respond);
      case Call::rooms: return do_rooms(query, respond);
      case Call::delete_room: return do_delete_room(arg, who, std::move(respond));
      case Call::delete_message: return do_delete_message(arg, arg2, who, std::move(respond));
      case Call::disconnect: return do_disconnect(arg, who, respond);
      case Call::ban: return do_ban(arg, who, std::move(respond));
      case Call::unban: return do_unban(arg, who, std::move(respond));
      case Call::drain: return do_drain(arg, who, respond);
      case Call::none: break;
    }
  });
}

void AdminApi::with_admin(const ApiRequest& req, Respond respond, Then then) {
  // An API key: the server API checks it (its budgets, the store, the scope).
  if (has_scheme(req.authorization, "apikey ")) {
    return keys_.with_key(req, auth::ApiScope::admin, std::move(respond),
                          [then = std::move(then)](const ServerApi::Key& key, Respond respond) {
                            then(Who{"key " + key.name}, std::move(respond));
                          });
  }
  std::int64_t retry_ms = 0;
  if (!ctx_.per_address.take(req.address, core::KeyedLimits::Action::request, ctx_.now_ms(), retry_ms)) {
    auto r = error(429, "rate_limited", "too many requests from this address; wait");
    r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, (retry_ms + 999) / 1000)));
    return respond(std::move(r));
  }
  // A session: its Bearer token, else its cookie (as /api/me).
  std::string_view token = has_scheme(req.authorization, "bearer ")
                               ? std::string_view(req.authorization).substr(7)
                               : net::cookie_value(req.cookie, net::session_cookie);
  if (token.empty())
    return respond(error(401, "unauthorized", "sign in as an admin, or send an API key with the admin scope"));
  const unsigned shard = static_cast<unsigned>(std::hash<std::string_view>{}(token) % ctx_.shard_count());
  ctx_.accounts.authenticate(token, [this, shard, respond = std::move(respond), then = std::move(then)](
                                        std::error_code ec, std::optional<SignedIn> who) mutable {
    if (ec) {
      auto r = error(503, "store_failed", "the sessions could not be reached; try again");
      r.headers.emplace_back("Retry-After", "1");
      return respond(std::move(r));
    }
    if (!who) return respond(error(401, "unauthorized", "the session has ended; sign in again"));
    if (!is_admin(who->user)) return respond(error(403, "forbidden", "this account is not an admin"));
    ctx_.shard(shard).post(
        [then = std::move(then), name = who->user.name, respond = std::move(respond)] { then(Who{name}, respond); });
  });
}

void AdminApi::do_nodes(const Respond& respond) const {
  const std::int64_t now = ctx_.now_ms();
  const std::string self = node_id();
  std::string body = "{\"nodes\":[";
  {
    const std::lock_guard lock(mutex_);
    bool first = true;
    for (const auto& [id, e] : nodes_) {
      if (now - e.heard_ms > node_forget_ms) continue;
      protocol::JsonWriter w;
      w.str("id", id)
          .boolean("up", now - e.heard_ms <= node_quiet_ms)
          .boolean("self", id == self)
          .num("heard_ms_ago", now - e.heard_ms)
          .raw("stats", e.stats);
      if (!first) body += ',';
      body += std::move(w).done();
      first = false;
    }
  }
  body += "]}";
  respond(json_response(200, std::move(body)));
}

std::vector<protocol::AdminNode> AdminApi::nodes_snapshot() const {
  const std::int64_t now = ctx_.now_ms();
  const std::string self = node_id();
  std::vector<protocol::AdminNode> out;
  const std::lock_guard lock(mutex_);
  out.reserve(nodes_.size());
  for (const auto& [id, e] : nodes_) {
    if (now - e.heard_ms > node_forget_ms) continue;
    out.push_back(e.parsed);
    out.back().up = now - e.heard_ms <= node_quiet_ms;
    out.back().self = id == self;
    out.back().heard_ms_ago = now - e.heard_ms;
  }
  return out;
}

void AdminApi::do_rooms(const std::string& query, const Respond& respond) {
  std::size_t limit = default_rooms;
  if (auto v = query_value(query, "limit")) {
    std::size_t parsed = 0;
    bool ok = !v->empty() && v->size() <= 4;
    for (char c : *v) ok = ok && std::isdigit(static_cast<unsigned char>(c));
    if (ok) parsed = std::stoul(std::string(*v));
    if (!ok || parsed == 0 || parsed > max_rooms)
      return respond(error(400, "bad_request", "limit is a number from 1 to " + std::to_string(max_rooms)));
    limit = parsed;
  }
  busiest_rooms(limit, [respond](std::vector<protocol::AdminRoom> rooms) {
    std::string body = "{\"rooms\":[";
    for (std::size_t i = 0; i < rooms.size(); ++i) {
      protocol::JsonWriter w;
      w.str("room", rooms[i].room)
          .unum("members", rooms[i].members)
          .unum("members_here", rooms[i].members_here)
          .unum("last_seq", rooms[i].last_seq);
      if (i) body += ',';
      body += std::move(w).done();
    }
    body += "]}";
    respond(json_response(200, std::move(body)));
  });
}

void AdminApi::busiest_rooms(std::size_t limit, std::function<void(std::vector<protocol::AdminRoom>)> done) {
  // Each shard's busiest owned rooms (by members on this node, then by messages), merged here.
  struct Row {
    std::string id;
    std::uint32_t local = 0;
    std::size_t members = 0;
    std::uint64_t last_seq = 0;
    bool operator<(const Row& o) const {
      return std::tie(o.local, o.members, o.last_seq, id) < std::tie(local, members, last_seq, o.id);
    }
  };
  struct Gather {
    std::mutex mutex;  // each shard adds its rows once, on its own thread
    std::vector<Row> rows;
    std::size_t limit = 0;
    std::size_t left = 0;  // shards still to answer (guarded by mutex)
    std::function<void(std::vector<protocol::AdminRoom>)> done;
    Gather() = default;
    Gather(const Gather&) = delete;
    Gather& operator=(const Gather&) = delete;
    ~Gather() {
      // A shard's part dropped unrun (the node is stopping): no answer, and nothing posted to
      // shards that may be gone.
      if (left > 0) return;
      std::sort(rows.begin(), rows.end());
      if (rows.size() > limit) rows.resize(limit);
      std::vector<protocol::AdminRoom> out;
      out.reserve(rows.size());
      for (auto& r : rows) out.push_back(protocol::AdminRoom{std::move(r.id), r.members, r.local, r.last_seq});
      done(std::move(out));
    }
  };
  auto gather = std::make_shared<Gather>();
  gather->limit = limit;
  gather->done = std::move(done);
  gather->left = ctx_.shard_count();
  for (unsigned i = 0; i < ctx_.shard_count(); ++i) {
    Shard& shard = ctx_.shard(i);
    shard.post([&shard, gather, limit] {
      std::vector<Row> rows;
      for (const auto& [id, r] : shard.owned()) {
        if (r->state == OwnedRoom::State::deleting) continue;
        rows.push_back(Row{id, r->local_members(), 0, r->last_seq()});
      }
      const std::size_t keep = std::min(limit, rows.size());
      std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(keep), rows.end());
      rows.resize(keep);
      for (auto& row : rows) row.members = std::max<std::size_t>(shard.owned().at(row.id)->presence.size(), row.local);
      const std::lock_guard lock(gather->mutex);
      gather->rows.insert(gather->rows.end(), rows.begin(), rows.end());
      --gather->left;
    });
  }
}

void AdminApi::do_delete_room(const std::string& room, const Who& who, Respond respond) {
  if (!core::valid_room_id(room)) return respond(error(400, "bad_room", "not a room id"));
  spdlog::info("admin: delete-room {} by {}", room, who.name);
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, room, respond = std::move(respond)] {
    rooms_.remove(owner, room, [respond](std::error_code ec, const std::string& message) {
      if (!ec) return respond(ApiResponse{204, {}, {}});
      const auto code = static_cast<errc>(ec.value());
      const std::string_view name = protocol::code_name(code);
      const unsigned status = code == errc::no_such_room ? 404 : code == errc::bad_request ? 400 : 503;
      auto r = error(status, name, message.empty() ? protocol::default_message(code) : message);
      if (status == 503) r.headers.emplace_back("Retry-After", "1");
      respond(std::move(r));
    });
  });
}

void AdminApi::do_delete_message(const std::string& room, const std::string& seq, const Who& who, Respond respond) {
  if (!core::valid_room_id(room)) return respond(error(400, "bad_room", "not a room id"));
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), n);
  if (ec != std::errc() || end != seq.data() + seq.size() || n == 0)
    return respond(error(400, "bad_request", "a message's seq is a positive integer"));
  spdlog::info("admin: delete-message {} {} by {}", room, n, who.name);
  keys_.delete_message(room, n, who.name, std::move(respond));
}

void AdminApi::do_disconnect(const std::string& user, const Who& who, const Respond& respond) {
  core::NameError why{};
  auto name = core::normalize_name(user, &why);
  if (!name) return respond(error(400, "bad_name", core::describe(why)));
  // By the name key: an account's sessions and a guest's alike (a guest cannot hold an account's
  // name, nor a look-alike of it), on every node.
  const std::string key = core::name_skeleton(*name);
  const std::string reason = "disconnected by an admin";
  spdlog::info("admin: disconnect {} by {}", *name, who.name);
  if (ctx_.broker) {
    ctx_.broker->announce_disconnect(key, reason);
  } else if (hooks_.disconnect) {
    hooks_.disconnect(key, reason);
  }
  protocol::JsonWriter w;
  w.str("user", *name);
  respond(json_response(202, std::move(w).done()));
}

void AdminApi::with_account(const std::string& user, Respond respond,
                            std::function<void(const store::StoredUser&, Respond)> then) {
  core::NameError why{};
  auto name = core::normalize_name(user, &why);
  if (!name) return respond(error(400, "bad_name", core::describe(why)));
  ctx_.store.find_user_by_name_key(
      core::name_skeleton(*name), [respond = std::move(respond), then = std::move(then)](
                                      std::error_code ec, const std::optional<store::StoredUser>& found) mutable {
        if (ec) {
          auto r = error(503, "store_failed", "the accounts could not be reached; try again");
          r.headers.emplace_back("Retry-After", "1");
          return respond(std::move(r));
        }
        if (!found) return respond(error(404, "no_such_user", "no account of that name"));
        then(*found, std::move(respond));
      });
}

void AdminApi::do_ban(const std::string& user, const Who& who, Respond respond) {
  with_account(user, std::move(respond), [this, actor = who.name](const store::StoredUser& found, Respond respond) {
    // The ban is the account's hash behind a prefix (auth::is_banned_hash): no password
    // verifies, and the store ends every session of the account in the same transaction.
    // Banning again is success, and ends any session made meanwhile.
    std::string locked(auth::is_banned_hash(found.password_hash) ? "" : auth::banned_hash_prefix);
    locked.append(found.password_hash);
    spdlog::info("admin: ban {} by {}", found.name, actor);
    ctx_.store.set_password(found.id, std::move(locked), {},
                            [this, id = found.id, name = found.name, respond = std::move(respond)](std::error_code ec) {
                              if (ec == errc::no_such_user)
                                return respond(error(404, "no_such_user", "no account of that name"));
                              if (ec) {
                                auto r = error(503, "store_failed", "the ban could not be stored; try again");
                                r.headers.emplace_back("Retry-After", "1");
                                return respond(std::move(r));
                              }
                              if (hooks_.sessions_ended) hooks_.sessions_ended(id);
                              protocol::JsonWriter w;
                              w.str("user", name).boolean("banned", true);
                              respond(json_response(200, std::move(w).done()));
                            });
  });
}

void AdminApi::do_unban(const std::string& user, const Who& who, Respond respond) {
  with_account(user, std::move(respond),
               [this, actor = who.name](const store::StoredUser& found, const Respond& respond) {
                 const auto answer = [respond](const std::string& name) {
                   protocol::JsonWriter w;
                   w.str("user", name).boolean("banned", false);
                   respond(json_response(200, std::move(w).done()));
                 };
                 // Not banned: nothing to lift (success, as banning twice is).
                 if (!auth::is_banned_hash(found.password_hash)) return answer(found.name);
                 std::string hash = found.password_hash.substr(auth::banned_hash_prefix.size());
                 spdlog::info("admin: unban {} by {}", found.name, actor);
                 ctx_.store.set_password(
                     found.id, std::move(hash), {}, [name = found.name, respond, answer](std::error_code ec) {
                       if (ec == errc::no_such_user)
                         return respond(error(404, "no_such_user", "no account of that name"));
                       if (ec) {
                         auto r = error(503, "store_failed", "the unban could not be stored; try again");
                         r.headers.emplace_back("Retry-After", "1");
                         return respond(std::move(r));
                       }
                       answer(name);
                     });
               });
}

void AdminApi::do_drain(const std::string& node, const Who& who, const Respond& respond) {
  bool known = false;
  {
    const std::lock_guard lock(mutex_);
    known = nodes_.contains(node);
  }
  if (!known && node != node_id()) return respond(error(404, "no_such_node", "no node of that id has been heard from"));
  spdlog::info("admin: drain {} by {}", node, who.name);
  if (ctx_.broker) {
    ctx_.broker->announce_drain(node);
  } else {
    on_drain_requested(node);
  }
  protocol::JsonWriter w;
  w.str("node", node);
  respond(json_response(202, std::move(w).done()));
}

}  // namespace parley::node
