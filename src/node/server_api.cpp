#include "node/server_api.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <memory>
#include <utility>

#include "auth/token.hpp"
#include "core/names.hpp"
#include "core/validate.hpp"
#include "node/api_request.hpp"
#include "node/moderation.hpp"
#include "node/room_directory.hpp"
#include "node/room_owner.hpp"
#include "protocol/errc.hpp"
#include "protocol/events.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"

namespace parley::node {

namespace json = boost::json;
using net::ApiRequest;
using net::ApiResponse;
using protocol::errc;
using Call = ServerApi::Call;

using api::body_object;
using api::error;
using api::percent_decoded;

namespace {

constexpr std::string_view prefix = "/api/server/";
// A request the owner has not answered in this long hears `unavailable` (Shard::add_waiter):
// an answer is always sent, but a waiter must not outlive a lost one.
constexpr std::int64_t answer_timeout_ms = 30000;
// last_used_at is written at most this often per key (not on every request).
constexpr std::int64_t touch_interval_ms = 60000;
// The HTTP status of an error a room's owner answered with (the codes of protocol.md).
unsigned status_of(std::string_view code) {
  static constexpr std::pair<std::string_view, unsigned> table[] = {
      {"bad_json", 400},     {"bad_request", 400},   {"bad_room", 400},     {"bad_name", 400},
      {"empty_text", 400},   {"text_too_long", 400}, {"bad_cid", 400},      {"bad_password", 400},
      {"unauthorized", 401}, {"forbidden", 403},     {"no_such_room", 404}, {"no_such_user", 404},
      {"room_exists", 409},  {"cid_conflict", 409},  {"rate_limited", 429}, {"overloaded", 503},
      {"store_failed", 503}, {"unavailable", 503},   {"room_limit", 503},   {"no_such_message", 404},
      {"deleted", 409},
  };
  for (const auto& [name, status] : table)
    if (name == code) return status;
  return 500;
}

ApiResponse errc_response(errc code, std::string_view message) {
  const std::string_view name = protocol::code_name(code);
  auto r = error(status_of(name), name, message.empty() ? protocol::default_message(code) : message);
  if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

// An owner's answer (an event, as a client would get it): `ok` for anything but an error, or
// the error as HTTP.
ApiResponse from_event(const std::string& event, const std::function<ApiResponse(const json::object&)>& ok) {
  boost::system::error_code ec;
  auto v = json::parse(event, ec);
  if (ec || !v.is_object()) return error(500, "internal", "the server could not read its own answer");
  const auto& o = v.as_object();
  const auto* type = o.if_contains("type");
  if (type && type->is_string() && type->as_string() == "error") {
    const auto* code = o.if_contains("code");
    const auto* message = o.if_contains("message");
    const std::string_view c = code && code->is_string() ? std::string_view(code->as_string()) : "internal";
    const std::string_view m = message && message->is_string() ? std::string_view(message->as_string()) : "";
    auto r = error(status_of(c), c, m);
    // The owner logged the error with this id (node/errors.hpp): the answer carries the same.
    if (const auto* rid = o.if_contains("rid"); rid && rid->is_string()) r.rid = std::string(rid->as_string());
    if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
    if (const auto* retry = o.if_contains("retry_after_ms"); retry && retry->is_int64() && r.status == 429)
      r.headers.emplace_back("Retry-After",
                             std::to_string(std::max<std::int64_t>(1, (retry->as_int64() + 999) / 1000)));
    return r;
  }
  return ok(o);
}
// A string field: nullopt after answering 400 if it is missing (and `required`) or not a string;
// "" if it is absent and optional.
std::optional<std::string> string_field(const json::object& o, std::string_view key, bool required,
                                        const net::ApiService::Respond& respond) {
  const auto* v = o.if_contains(key);
  if (!v && !required) return std::string();
  if (!v || !v->is_string()) {
    respond(error(400, "bad_request", "the body needs a string \"" + std::string(key) + "\""));
    return std::nullopt;
  }
  return std::string(v->as_string());
}

// The key of an `Authorization: apikey <key>` header (the scheme in any case), or "".
std::string_view apikey(std::string_view authorization) {
  constexpr std::string_view scheme = "apikey ";
  return api::has_scheme(authorization, scheme) ? authorization.substr(scheme.size()) : std::string_view{};
}

// Whether the query string has `name=1` or `name=true`.
bool query_flag(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      const std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      return value == "1" || value == "true";
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

std::size_t status_index(unsigned status) {
  const auto& s = ServerApi::statuses;
  const auto* it = std::find(s.begin(), s.end(), status);
  return it == s.end() ? static_cast<std::size_t>(std::find(s.begin(), s.end(), 500u) - s.begin())
                       : static_cast<std::size_t>(it - s.begin());
}

std::string retry_header(std::int64_t ms) { return std::to_string(std::max<std::int64_t>(1, (ms + 999) / 1000)); }

}  // namespace

std::string_view ServerApi::call_name(Call c) noexcept {
  switch (c) {
    case Call::publish: return "publish";
    case Call::create_room: return "create_room";
    case Call::delete_room: return "delete_room";
    case Call::add_member: return "add_member";
    case Call::remove_member: return "remove_member";
    case Call::unban: return "unban";
    case Call::other:
    case Call::count: break;
  }
  return "other";
}

ServerApi::ServerApi(NodeContext& ctx, RoomDirectory& rooms, RoomOwner& owner, Moderation& moderation)
    : ctx_(ctx), rooms_(rooms), owner_(owner), moderation_(moderation), per_key_([&] {
        core::KeyedLimits::Options o;
        const auto& a = ctx.options.auth;
        o.rates[static_cast<std::size_t>(core::KeyedLimits::Action::request)] = {a.api_rate_per_key,
                                                                                 a.api_burst_per_key};
        o.max_keys = a.max_tracked_keys;
        return o;
      }()) {}

void ServerApi::handle_api(ApiRequest req, Respond respond) {
  // Which call: the path after /api/server/, split on '/'.
  const std::string_view rest = std::string_view(req.path).substr(std::min(req.path.size(), prefix.size()));
  std::vector<std::string_view> parts;
  for (std::size_t at = 0; at <= rest.size();) {
    const auto slash = rest.find('/', at);
    parts.push_back(rest.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  const std::string& m = req.method;
  Call call = Call::other;
  bool method_ok = true;
  if (parts.size() == 1 && parts[0] == "publish") {
    call = Call::publish, method_ok = m == "POST";
  } else if (parts.size() == 1 && parts[0] == "rooms") {
    call = Call::create_room, method_ok = m == "POST";
  } else if (parts.size() == 2 && parts[0] == "rooms") {
    call = Call::delete_room, method_ok = m == "DELETE";
  } else if (parts.size() == 3 && parts[0] == "rooms" && parts[2] == "members") {
    call = Call::add_member, method_ok = m == "POST";
  } else if (parts.size() == 4 && parts[0] == "rooms" && parts[2] == "members") {
    call = Call::remove_member, method_ok = m == "DELETE";
  } else if (parts.size() == 4 && parts[0] == "rooms" && parts[2] == "bans") {
    call = Call::unban, method_ok = m == "DELETE";
  }
  // Every answer is counted, by call and status.
  auto counted = [this, call, respond = std::move(respond)](ApiResponse r) {
    counts_[static_cast<std::size_t>(call)][status_index(r.status)].add();
    respond(std::move(r));
  };
  if (call == Call::other) return counted(error(404, "not_found", "no such endpoint"));
  if (!method_ok) return counted(error(405, "method_not_allowed", "this endpoint does not take " + m));

  // The node's budget of requests in flight: each holds a connection, a waiter and a closure.
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= ctx_.options.auth.api_max_in_flight) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    auto r = error(503, "overloaded", "too many server API requests at once; retry");
    r.headers.emplace_back("Retry-After", "1");
    return counted(std::move(r));
  }
  Respond done = [this, counted = std::move(counted)](ApiResponse r) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    counted(std::move(r));
  };
  if (ctx_.shedding.load(std::memory_order_relaxed)) {
    auto r = error(503, "overloaded", "the server is overloaded; retry later");
    r.headers.emplace_back("Retry-After", "1");
    return done(std::move(r));
  }

  // The room and user of the path, decoded and checked here once.
  std::string room, user;
  if (parts.size() >= 2) {
    auto decoded = percent_decoded(parts[1]);
    if (!decoded || !core::valid_room_id(*decoded))
      return done(error(400, "bad_room", protocol::default_message(errc::bad_room)));
    room = std::move(*decoded);
  }
  if (parts.size() == 4) {
    auto decoded = percent_decoded(parts[3]);
    if (!decoded || decoded->empty()) return done(error(400, "bad_name", "the path needs a user's name"));
    user = std::move(*decoded);
  }
  switch (call) {
    case Call::publish:
      return with_key(req, auth::ApiScope::publish, std::move(done),
                      [this, req](const Key&, Respond r) { do_publish(req, std::move(r)); });
    case Call::create_room:
      return with_key(req, auth::ApiScope::rooms, std::move(done),
                      [this, req](const Key& key, const Respond& r) { do_create_room(req, key, r); });
    case Call::delete_room:
      return with_key(req, auth::ApiScope::rooms, std::move(done),
                      [this, room](const Key&, Respond r) { do_delete_room(room, std::move(r)); });
    case Call::add_member:
      return with_key(req, auth::ApiScope::members, std::move(done),
                      [this, req, room](const Key& key, Respond r) { do_member(req, room, key, std::move(r)); });
    case Call::remove_member:
    case Call::unban:
      return with_key(req, auth::ApiScope::members, std::move(done),
                      [this, req, room, user, unban = call == Call::unban](const Key& key, Respond r) {
                        do_remove(req, room, user, unban, key, std::move(r));
                      });
    case Call::other:
    case Call::count: break;
  }
}

void ServerApi::with_key(const ApiRequest& req, auth::ApiScope scope, Respond respond, Then then) {
  // Every request counts against its address's request budget (limits.request_rate_per_address,
  // with its WebSocket frames): well-formed keys of made-up ids each cost a store lookup, and
  // varying the id must not make them free.
  std::int64_t retry_ms = 0;
  if (!ctx_.per_address.take(req.address, core::KeyedLimits::Action::request, ctx_.now_ms(), retry_ms)) {
    auto r = error(429, "rate_limited", "too many requests from this address; wait");
    r.headers.emplace_back("Retry-After", retry_header(retry_ms));
    return respond(std::move(r));
  }
  const std::string_view text = apikey(req.authorization);
  if (text.empty())
    return respond(error(401, "unauthorized", "send the key as the header \"Authorization: apikey <key>\""));
  auto key = auth::parse_api_key(text);
  if (!key) return respond(error(401, "unauthorized", "the API key is malformed, unknown or revoked"));
  // The budget is the key's (by its id): a backend in a loop slows itself down, not the node.
  // An id that names no key spends its own budget, not a real key's.
  if (!per_key_.take(key->id, core::KeyedLimits::Action::request, ctx_.now_ms(), retry_ms)) {
    auto r = error(429, "rate_limited", "too many requests with this key; wait");
    r.headers.emplace_back("Retry-After", retry_header(retry_ms));
    return respond(std::move(r));
  }
  std::string digest = auth::token_digest(key->secret);
  ctx_.store.find_api_key(key->id, [this, scope, digest = std::move(digest), respond = std::move(respond),
                                    then = std::move(then)](std::error_code ec,
                                                            std::optional<store::StoredApiKey> row) mutable {
    if (ec) return respond(errc_response(errc::store_failed, "the keys could not be reached; try again"));
    // One answer for a key that is unknown, revoked or whose secret is wrong: nothing is learnt.
    if (!row || row->revoked_at != 0 || !auth::constant_time_equal(row->secret_digest, digest))
      return respond(error(401, "unauthorized", "the API key is malformed, unknown or revoked"));
    const std::uint8_t scopes = auth::parse_scopes(row->scopes).value_or(0);
    if (!auth::has_scope(scopes, scope))
      return respond(error(403, "forbidden",
                           "this key lacks the scope \"" + auth::scopes_text(static_cast<std::uint8_t>(scope)) + "\""));
    const std::int64_t now = ctx_.now_ms();
    if (now - row->last_used_at >= touch_interval_ms) ctx_.store.touch_api_key(row->id, now, [](std::error_code) {});
    // The call itself (its body parsed, names checked with ICU) runs on an I/O thread: the store's
    // thread serves every commit of the node, and is not held by a request's parsing.
    Shard& shard = ctx_.shard(static_cast<unsigned>(std::hash<std::string>{}(row->id) % ctx_.shard_count()));
    shard.post([then = std::move(then), key = Key{row->id, row->name, scopes}, respond = std::move(respond)] {
      then(key, respond);
    });
  });
}

void ServerApi::on_owner(const std::string& room, std::function<void(Shard&, SessionRef)> call,
                         std::function<void(const std::string& event)> answer) {
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, call = std::move(call), answer = std::move(answer)]() mutable {
    const std::uint64_t id = owner.add_waiter(std::move(answer), ctx_.now_ms() + answer_timeout_ms);
    call(owner, SessionRef{owner.index(), id});
  });
}

void ServerApi::do_publish(const ApiRequest& req, Respond respond) {
  auto body = body_object(req, respond);
  if (!body) return;
  auto room = string_field(*body, "room", true, respond);
  if (!room) return;
  auto text = string_field(*body, "text", true, respond);
  if (!text) return;
  auto as = string_field(*body, "as", true, respond);
  if (!as) return;
  auto cid = string_field(*body, "cid", false, respond);
  if (!cid) return;
  if (!core::valid_room_id(*room)) return respond(errc_response(errc::bad_room, {}));
  core::NameError why{};
  auto name = core::normalize_name(*as, &why);
  if (!name) return respond(error(400, "bad_name", core::describe(why)));
  // The text rules of a client's send (Requests::do_send).
  if (!protocol::is_valid_utf8(*text) || text->find('\0') != std::string::npos)
    return respond(error(400, "bad_request", "text must be valid UTF-8 without U+0000"));
  if (!core::visible_text(*text)) return respond(errc_response(errc::empty_text, {}));
  const auto max_text = ctx_.limits().max_text_length;
  if (protocol::utf8_length(*text) > max_text)
    return respond(
        errc_response(errc::text_too_long, "the text is longer than " + std::to_string(max_text) + " characters"));
  // Without a cid a retry cannot be recognised: each request is a new message.
  if (!body->contains("cid")) {
    *cid = "api-" + auth::mint_token().substr(0, 22);
  } else if (!core::valid_cid(*cid)) {
    return respond(errc_response(errc::bad_cid, {}));
  }
  core::Message m{.room = std::move(*room),
                  .from = *name,
                  .text = std::move(*text),
                  .ts = ctx_.now_ms(),
                  .cid = std::move(*cid),
                  .from_id = "b_" + *name,
                  .arrived_ns = ctx_.clock().steady_ns()};
  const std::string room_id = m.room;
  on_owner(
      room_id,
      [this, m = std::move(m)](Shard& owner, SessionRef who) mutable { owner_.send(owner, std::move(m), who, {}); },
      [respond = std::move(respond)](const std::string& event) {
        respond(from_event(event, [](const json::object& ack) {
          protocol::JsonWriter w;
          w.str("room", ack.at("room").as_string()).unum("seq", ack.at("seq").to_number<std::uint64_t>());
          if (const auto* cid = ack.if_contains("cid"); cid && cid->is_string()) w.str("cid", cid->as_string());
          return ApiResponse{200, std::move(w).done(), {}};
        }));
      });
}

void ServerApi::delete_message(const std::string& room, std::uint64_t seq, const std::string& actor, Respond respond) {
  // The actor is named, with no uid (an admin may be a key, not an account). Each request is a
  // delete of its own: a repeated one finds the message deleted (409), whoever deleted it.
  core::Message m{.room = room,
                  .from = actor,
                  .text = {},
                  .ts = ctx_.now_ms(),
                  .cid = "admin-" + auth::mint_token().substr(0, 22),
                  .from_id = {},
                  .arrived_ns = ctx_.clock().steady_ns(),
                  .kind = core::MessageKind::remove,
                  .target = seq};
  on_owner(
      room,
      [this, m = std::move(m)](Shard& owner, SessionRef who) mutable {
        owner_.change(owner, std::move(m), who, {}, /*admin=*/true);
      },
      [respond = std::move(respond), seq](const std::string& event) {
        respond(from_event(event, [seq](const json::object& ack) {
          protocol::JsonWriter w;
          w.str("room", ack.at("room").as_string())
              .unum("seq", ack.at("seq").to_number<std::uint64_t>())
              .unum("target", seq);
          return ApiResponse{200, std::move(w).done(), {}};
        }));
      });
}

void ServerApi::do_create_room(const ApiRequest& req, const Key& key, const Respond& respond) {
  auto body = body_object(req, respond);
  if (!body) return;
  auto room = string_field(*body, "room", true, respond);
  if (!room) return;
  auto password = string_field(*body, "password", false, respond);
  if (!password) return;
  auto owner_name = string_field(*body, "owner", false, respond);
  if (!owner_name) return;
  bool private_room = false;
  if (const auto* p = body->if_contains("private")) {
    if (!p->is_bool()) return respond(error(400, "bad_request", "\"private\" must be true or false"));
    private_room = p->as_bool();
  }
  if (!core::valid_room_id(*room)) return respond(errc_response(errc::bad_room, {}));
  if (core::is_direct_room_id(*room))
    return respond(error(400, "bad_room", "ids starting with dm- are direct conversations'"));
  if (!password->empty() && !private_room)
    return respond(error(400, "bad_request", "only a private room has a password"));
  store::StoredRoom spec{.id = std::move(*room), .created_by = key.name};
  spec.kind = private_room ? core::RoomKind::private_room : core::RoomKind::public_room;
  spec.created_at = ctx_.now_ms();

  // The steps: the owner's account (by name), then the password's hash, then the room.
  auto create = [this, respond](store::StoredRoom spec) {
    const std::string id = spec.id;
    const bool is_private = spec.kind != core::RoomKind::public_room;
    on_owner(
        id,
        [this, spec = std::move(spec)](Shard& owner, SessionRef who) mutable {
          rooms_.create(owner, std::move(spec), who, {});
        },
        [respond, id, is_private](const std::string& event) {
          respond(from_event(event, [&](const json::object&) {
            protocol::JsonWriter w;
            w.str("room", id).boolean("private", is_private);
            return ApiResponse{201, std::move(w).done(), {}};
          }));
        });
  };
  auto hashed = [this, respond, create](store::StoredRoom spec, std::string password) mutable {
    if (password.empty()) return create(std::move(spec));
    ctx_.accounts.hash_room_password(
        std::move(password),
        [respond, create, spec = std::move(spec)](std::error_code ec, std::int64_t retry_ms, std::string hash) mutable {
          if (ec == errc::bad_password) return respond(error(400, "bad_password", hash));
          if (ec) {
            auto r = error(503, "overloaded", "the server is busy; try again");
            r.headers.emplace_back("Retry-After", retry_header(retry_ms));
            return respond(std::move(r));
          }
          spec.password_hash = std::move(hash);
          create(std::move(spec));
        });
  };
  if (owner_name->empty()) return hashed(std::move(spec), std::move(*password));
  core::NameError why{};
  auto name = core::normalize_name(*owner_name, &why);
  if (!name) return respond(error(400, "bad_name", core::describe(why)));
  ctx_.store.find_user_by_name_key(core::name_skeleton(*name),
                                   [respond, hashed, spec = std::move(spec), password = std::move(*password)](
                                       std::error_code ec, const std::optional<store::StoredUser>& user) mutable {
                                     if (ec) return respond(errc_response(errc::store_failed, {}));
                                     if (!user) return respond(error(404, "no_such_user", "no account of that name"));
                                     spec.owner_id = user->id;
                                     hashed(std::move(spec), std::move(password));
                                   });
}

void ServerApi::do_delete_room(const std::string& room, Respond respond) {
  // What the operator's `parley admin delete-room` does (RoomDirectory::remove), and its refusals.
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, room, respond = std::move(respond)] {
    rooms_.remove(owner, room, [respond](std::error_code ec, const std::string& message) {
      if (!ec) return respond(ApiResponse{204, {}, {}});
      respond(errc_response(static_cast<errc>(ec.value()), message));
    });
  });
}

void ServerApi::moderate(protocol::Request req, const Key& key, const std::string& name, Respond respond) {
  core::NameError why{};
  auto normal = core::normalize_name(name, &why);
  if (!normal) return respond(error(400, "bad_name", core::describe(why)));
  // The account by its name key (the look-alike folding registration uses), as a client's.
  ctx_.store.find_user_by_name_key(
      core::name_skeleton(*normal), [this, req = std::move(req), actor = key.name, respond = std::move(respond)](
                                        std::error_code ec, const std::optional<store::StoredUser>& user) mutable {
        if (ec) return respond(errc_response(errc::store_failed, {}));
        if (!user) return respond(error(404, "no_such_user", "no account of that name"));
        const std::string room = req.room;
        on_owner(
            room,
            [this, req, actor, id = user->id, target = user->name](Shard& owner, SessionRef who) {
              // The key acts under its server id: a room owner's rights (core::is_server_id).
              moderation_.apply(owner, req, Actor{"b_" + actor, actor, who, {}}, id, target);
            },
            [respond, room, target = user->name, role = req.role, ban = req.ban,
             type = req.type](const std::string& event) {
              respond(from_event(event, [&](const json::object&) {
                protocol::JsonWriter w;
                w.str("room", room).str("user", target);
                if (type == protocol::RequestType::set_role) w.str("role", role);
                if (type == protocol::RequestType::remove) w.boolean("banned", ban);
                return ApiResponse{200, std::move(w).done(), {}};
              }));
            });
      });
}

void ServerApi::do_member(const ApiRequest& req, const std::string& room, const Key& key, Respond respond) {
  auto body = body_object(req, respond);
  if (!body) return;
  auto user = string_field(*body, "user", true, respond);
  if (!user) return;
  auto role = string_field(*body, "role", false, respond);
  if (!role) return;
  protocol::Request r;
  r.room = room;
  // Without a role: an invitation (a private room's); with one: the role (the room's rules decide,
  // as for a client's set_role: a private room's member must be invited first).
  if (role->empty()) {
    r.type = protocol::RequestType::invite;
  } else {
    r.type = protocol::RequestType::set_role;
    r.role = std::move(*role);
  }
  moderate(std::move(r), key, *user, std::move(respond));
}

void ServerApi::do_remove(const ApiRequest& req, const std::string& room, const std::string& user, bool unban,
                          const Key& key, Respond respond) {
  protocol::Request r;
  r.room = room;
  r.type = unban ? protocol::RequestType::unban : protocol::RequestType::remove;
  r.ban = !unban && query_flag(req.query, "ban");
  moderate(std::move(r), key, user, std::move(respond));
}

void ServerApi::create_key(const std::string& name, const std::string& scopes, AdminDone done) {
  core::NameError why{};
  auto normal = core::normalize_name(name, &why);
  if (!normal) return done(errc::bad_name, std::string(core::describe(why)));
  const auto bits = auth::parse_scopes(scopes);
  if (!bits) return done(errc::bad_request, "scopes are a comma-separated list of publish, rooms, members, admin");
  auth::ApiKey key = auth::mint_api_key();
  store::StoredApiKey row{key.id, auth::token_digest(key.secret), *normal, auth::scopes_text(*bits), ctx_.now_ms(), 0,
                          0};
  ctx_.store.create_api_key(std::move(row), [done = std::move(done), text = key.text()](std::error_code ec) {
    if (ec) return done(ec, "the key could not be stored");
    done({}, text);
  });
}

void ServerApi::list_keys(AdminDone done) {
  ctx_.store.list_api_keys([done = std::move(done)](std::error_code ec, const std::vector<store::StoredApiKey>& keys) {
    if (ec) return done(ec, "the keys could not be read");
    std::string out;
    for (const auto& k : keys) {
      if (!out.empty()) out += '\n';
      out += k.id + " " + k.name + " scopes=" + k.scopes + " created=" + std::to_string(k.created_at) +
             " last_used=" + std::to_string(k.last_used_at) + " revoked=" + std::to_string(k.revoked_at);
    }
    done({}, std::move(out));
  });
}

void ServerApi::revoke_key(const std::string& id, AdminDone done) {
  if (!auth::looks_like_api_key_id(id)) return done(errc::bad_request, "a key id is pk_ and 16 hex digits");
  ctx_.store.revoke_api_key(id, ctx_.now_ms(), [done = std::move(done)](std::error_code ec, bool revoked) {
    if (ec) return done(ec, "the key could not be revoked");
    if (!revoked) return done(errc::bad_request, "no live key of that id");
    done({}, {});
  });
}

}  // namespace parley::node
