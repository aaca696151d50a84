#include "node/requests.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "auth/jwt.hpp"
#include "auth/token.hpp"
#include "core/message.hpp"
#include "core/names.hpp"
#include "core/validate.hpp"
#include "net/log.hpp"
#include "node/admin_watch.hpp"
#include "node/delivery.hpp"
#include "node/errors.hpp"
#include "node/files.hpp"
#include "node/moderation.hpp"
#include "node/read_marks.hpp"
#include "node/room_directory.hpp"
#include "node/room_owner.hpp"
#include "protocol/events.hpp"
#include "protocol/utf8.hpp"

namespace parley::node {

using protocol::errc;
using protocol::RequestType;

namespace {
SessionRef ref_of(const Client& s) { return SessionRef{s.shard().index(), s.id()}; }

// The key of the user's send and room-creation budgets (and its cids: core::sender_key): an
// account's id, so that its budget follows it whatever its name; a guest's name, as a guest's id
// is new with every connection and a budget keyed on it would be one per reconnect.
std::string budget_key(const Client& s) { return core::sender_key(s.user_id, s.user); }

std::string retry_after(std::int64_t ms) { return "\"retry_after_ms\":" + std::to_string(ms); }

// Requests held behind a pending join, at most: a client pipelining that far ahead is refused.
constexpr std::size_t max_held = 64;
constexpr std::size_t max_held_bytes = std::size_t{256} * 1024;

// A room's title and topic: at most these many characters (code points), and as texts are: valid
// UTF-8, no control characters (one line; NUL cannot be stored in PostgreSQL), and, unless empty
// (which clears it), something to see (not only spaces or invisible characters).
constexpr std::size_t max_title_length = 64;
constexpr std::size_t max_topic_length = 256;

// Why `text` cannot be a room's `what` (empty: it can).
std::string room_text_problem(std::string_view text, std::size_t max, std::string_view what) {
  if (!protocol::is_valid_utf8(text)) return std::string(what) + " is not valid UTF-8";
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return std::string(what) + " must be one line, without control characters";
  if (!text.empty() && !core::visible_text(text)) return std::string(what) + " has nothing to see";
  if (protocol::utf8_length(text) > max)
    return std::string(what) + " is longer than " + std::to_string(max) + " characters";
  return {};
}

// The problem with a request's title and topic, if any (absent ones are fine).
std::string title_topic_problem(const protocol::Request& req) {
  if (req.title) {
    if (auto why = room_text_problem(*req.title, max_title_length, "the title"); !why.empty()) return why;
  }
  if (req.topic) return room_text_problem(*req.topic, max_topic_length, "the topic");
  return {};
}

// Whether `id` contains `lower` (lower-case ASCII) in any case: room ids are ASCII.
bool contains_folded(std::string_view id, std::string_view lower) {
  if (lower.size() > id.size()) return false;
  for (std::size_t i = 0; i + lower.size() <= id.size(); ++i) {
    std::size_t k = 0;
    while (k < lower.size() && std::tolower(static_cast<unsigned char>(id[i + k])) == lower[k]) ++k;
    if (k == lower.size()) return true;
  }
  return false;
}
}  // namespace

void Requests::on_open(net::Connection& c) {
  Shard& shard = ctx_.shard(c.loop().index());
  c.attach(std::make_unique<Client>(c, shard, ctx_.limits(), ctx_.now_ms()));
}

void Requests::tick(Shard& shard, std::int64_t now_ms) {
  const auto timeout = static_cast<std::int64_t>(ctx_.limits().hello_timeout_ms);
  std::vector<Client*> late;
  shard.for_each_client([&](Client& s) {
    if (s.user.empty() && now_ms - s.opened_ms() > timeout) late.push_back(&s);
  });
  // Closing tells on_closed, which does not remove the connection from the loop.
  for (Client* s : late) s->connection().close(protocol::CloseCode::policy_violation, "hello timeout");
}

void Requests::send_error(Client& s, errc code, std::string_view ref, std::string_view message,
                          std::string_view extra) {
  s.shard().metrics().errors_sent.add();
  s.send(error_reply(code, message, ref, extra, ErrorContext{.user = s.user_id, .conn = s.id()}));
}

void Requests::on_text(net::Connection& c, std::string_view frame) {
  Client& s = Client::of(c);
  Shard& shard = s.shard();
  shard.metrics().frames_in.add();
  if (!s.joining.empty() || s.welcoming) {
    if (s.held.size() >= max_held || s.held_bytes + frame.size() > max_held_bytes) {
      shard.metrics().rate_limited.add();
      // The refusal names the request it refuses, as every answer does.
      const auto parsed = protocol::parse_request(frame);
      const std::string& ref = std::holds_alternative<protocol::Request>(parsed)
                                   ? std::get<protocol::Request>(parsed).ref
                                   : std::get<protocol::RequestError>(parsed).ref;
      return send_error(s, errc::rate_limited, ref, "too many requests behind a pending join", retry_after(100));
    }
    s.held.emplace_back(frame);
    s.held_bytes += frame.size();
    return;
  }
  handle_frame(s, frame);
}

void Requests::handle_frame(Client& s, std::string_view frame) {
  Shard& shard = s.shard();
  // Every frame takes a request token before it is even parsed, malformed ones too: an answer
  // costs the node as much whatever the frame was. Per connection, then per client address.
  const std::int64_t now = ctx_.now_ms();
  std::int64_t wait_ms = 0;
  const bool within =
      s.request_bucket().take(now, wait_ms) &&
      ctx_.per_address.take(s.connection().peer_address(), core::KeyedLimits::Action::request, now, wait_ms);
  auto parsed = protocol::parse_request(frame);
  if (!within) {
    shard.metrics().rate_limited.add();
    const std::string& ref = std::holds_alternative<protocol::Request>(parsed)
                                 ? std::get<protocol::Request>(parsed).ref
                                 : std::get<protocol::RequestError>(parsed).ref;
    return send_error(s, errc::rate_limited, ref, "too many requests; slow down", retry_after(wait_ms));
  }
  if (auto* err = std::get_if<protocol::RequestError>(&parsed)) {
    send_error(s, err->code, err->ref, err->message);
    return;
  }
  auto& req = std::get<protocol::Request>(parsed);
  // A ping needs no hello: it is a liveness check (docs/protocol.md), and it costs a request token
  // like every other frame.
  if (req.type == RequestType::ping) return s.send(protocol::pong_event(now, req.ref));
  if (req.type != RequestType::hello && s.user.empty()) {
    send_error(s, errc::hello_required, req.ref);
    return;
  }
  // Over the node's memory budget: nothing new is taken on; what is under way goes on.
  if (ctx_.shedding.load(std::memory_order_relaxed) && req.type != RequestType::leave &&
      req.type != RequestType::hello) {
    send_error(s, errc::overloaded, req.ref, "the server is overloaded; retry later", retry_after(1000));
    return;
  }
  // A request whose answer the room's owner builds is taken only from a client that reads its
  // answers, and only so many at a time (limits.max_requests_in_flight).
  if (req.type == RequestType::join || req.type == RequestType::history || req.type == RequestType::rooms ||
      req.type == RequestType::members || req.type == RequestType::create || req.type == RequestType::invite ||
      req.type == RequestType::remove || req.type == RequestType::unban || req.type == RequestType::set_role ||
      req.type == RequestType::dm || req.type == RequestType::update_room || req.type == RequestType::delete_room ||
      req.type == RequestType::roster || req.type == RequestType::read || req.type == RequestType::search) {
    const auto& l = ctx_.limits();
    if (s.in_flight >= l.max_requests_in_flight) {
      shard.metrics().rate_limited.add();
      return send_error(s, errc::rate_limited, req.ref, "too many requests waiting for their answers",
                        retry_after(100));
    }
    if (s.connection().queued_bytes() > l.max_outbound_bytes / 2) {
      shard.metrics().rate_limited.add();
      return send_error(s, errc::rate_limited, req.ref, "read what was sent before asking for more", retry_after(100));
    }
  }
  // Room ids are checked here once for every request that names one.
  if (req.type != RequestType::hello && req.type != RequestType::rooms && req.type != RequestType::ping &&
      req.type != RequestType::dm && req.type != RequestType::admin_watch && req.type != RequestType::admin_unwatch &&
      !(req.type == RequestType::search && req.room.empty()) && !core::valid_room_id(req.room)) {
    send_error(s, errc::bad_room, req.ref);
    return;
  }
  switch (req.type) {
    case RequestType::hello: return do_hello(s, req);
    case RequestType::rooms: return do_rooms(s, req);
    case RequestType::create: return do_create(s, req);
    case RequestType::join: return do_join(s, req);
    case RequestType::leave: return do_leave(s, req);
    case RequestType::send: return do_send(s, req);
    case RequestType::edit:
    case RequestType::delete_message:
    case RequestType::react:
    case RequestType::unreact: return do_change(s, req);
    case RequestType::typing: return do_typing(s, req);
    case RequestType::history: return do_history(s, req);
    case RequestType::members: return do_members(s, req);
    case RequestType::roster: return do_roster(s, req);
    case RequestType::invite:
    case RequestType::remove:
    case RequestType::unban:
    case RequestType::set_role: return do_moderate(s, req);
    case RequestType::dm: return do_dm(s, req);
    case RequestType::update_room:
    case RequestType::delete_room: return do_configure(s, req);
    case RequestType::admin_watch:
    case RequestType::admin_unwatch: return do_admin_watch(s, req);
    case RequestType::read: return do_read(s, req);
    case RequestType::search: return do_search(s, req);
    case RequestType::ping: return;
  }
}

void Requests::do_hello(Client& s, protocol::Request& req) {
  if (!s.user.empty()) return send_error(s, errc::already_welcomed, req.ref);
  // A browser's session is the cookie its upgrade carried; a hello without a name or a token uses it.
  std::string cookie = s.connection().take_credential();
  if (req.token.empty() && req.name.empty()) req.token = std::move(cookie);
  if (!req.token.empty() && ctx_.accounts.accepts_jwt() && auth::looks_like_jwt(req.token)) {
    // The operator's JWT (two dots; a session token has none): its signature and claims are the
    // whole proof, no store. No session either: nothing can end it before its exp.
    s.welcoming = true;
    ctx_.accounts.verify_jwt(
        std::move(req.token), [this, who = ref_of(s), ref = req.ref](std::optional<auth::JwtResult> r) mutable {
          welcomed(who, [this, ref = std::move(ref), r = std::move(r)](Client& s) mutable {
            if (!r)
              return send_error(s, errc::overloaded, ref, "too many sign-ins at once; try again in a moment",
                                retry_after(1000));
            if (!r->ok()) return send_error(s, errc::unauthorized, ref, r->message());
            s.user_id = std::move(r->user.user_id);
            welcome(s, std::move(r->user.name), ref);
          });
        });
    return;
  }
  if (!req.token.empty()) {
    // Signed in: the session names the user. The answer comes from the store; requests wait.
    s.welcoming = true;
    ctx_.accounts.authenticate(req.token, [this, who = ref_of(s), ref = req.ref](std::error_code ec,
                                                                                 std::optional<SignedIn> in) mutable {
      welcomed(who, [this, ref = std::move(ref), ec, in = std::move(in)](Client& s) mutable {
        if (ec) return send_error(s, errc::store_failed, ref, "the accounts could not be reached; try again");
        if (!in)
          return send_error(s, errc::unauthorized, ref, "the session has ended or the token is wrong; sign in again");
        s.user_id = std::move(in->user.id);
        s.session = std::move(in->session.token_digest);
        welcome(s, std::move(in->user.name), ref);
      });
    });
    return;
  }
  if (!ctx_.accounts.options().guests)
    return send_error(s, errc::unauthorized, req.ref, "this server has no guests: sign in");
  if (req.name.empty()) return send_error(s, errc::bad_name, req.ref, "a guest needs a name; an account, a token");
  core::NameError why{};
  auto name = core::normalize_name(req.name, &why);
  if (!name) return send_error(s, errc::bad_name, req.ref, core::describe(why));
  // A guest may not take an account's name, nor one that looks like it.
  s.welcoming = true;
  std::string key = core::name_skeleton(*name);  // before the callback takes the name
  ctx_.store.find_user_by_name_key(
      std::move(key), [this, who = ref_of(s), ref = req.ref, name = std::move(*name)](
                          std::error_code ec, const std::optional<store::StoredUser>& user) mutable {
        welcomed(who, [this, ref = std::move(ref), name = std::move(name), ec,
                       taken = user.has_value()](Client& s) mutable {
          if (ec) return send_error(s, errc::store_failed, ref, "the accounts could not be reached; try again");
          if (taken)
            return send_error(s, errc::name_taken, ref, "this name belongs to an account: sign in, or choose another");
          welcome(s, std::move(name), ref);
        });
      });
}

void Requests::welcomed(SessionRef who, std::function<void(Client&)> finish) {
  Shard& home = ctx_.shard(who.shard);
  home.post([this, &home, who, finish = std::move(finish)] {
    Client* s = home.find_client(who.id);
    if (!s) return;
    s->welcoming = false;
    finish(*s);
    replay_held(*s);
  });
}

void Requests::welcome(Client& s, std::string name, const std::string& ref) {
  // The normalised name is the user's name from here on; `welcome` tells the client. A guest
  // gets its id now, for this connection (an account's came with its session).
  s.user = std::move(name);
  if (s.user_id.empty()) s.user_id = auth::new_guest_id();
  const auto& l = ctx_.options.limits;
  const protocol::WelcomeLimits limits{l.max_text_length,
                                       l.max_frame_bytes,
                                       static_cast<std::int64_t>(l.send_rate),
                                       static_cast<std::int64_t>(l.send_burst),
                                       l.history_limit,
                                       l.max_rooms_per_connection,
                                       l.typing_interval_ms,
                                       ctx_.options.files.max_bytes,
                                       l.max_files_per_message,
                                       l.max_reaction_emoji,
                                       l.max_reactions_per_user};
  char sid[24];
  std::snprintf(sid, sizeof sid, "s-%llx", static_cast<unsigned long long>(s.id()));
  net::log::write(spdlog::level::debug, "welcome", {{"conn", s.id()}, {"uid", s.user_id}, {"user", s.user}});
  s.send(protocol::welcome_event(s.user, s.user_id, sid, ctx_.now_ms(), limits, ref));
}

void Requests::do_rooms(Client& s, protocol::Request& req) {
  // Scatter to every shard (each knows the rooms it owns), gather on this one: no shared state.
  // A page: the ids after `after` that contain `q` (any case), the first `limit` in id order.
  struct Summary {
    std::string room;
    std::size_t members;
    std::uint64_t last_seq;
    bool private_room;
    bool direct;
    std::string with;
    std::string_view role;  // a static name (core::role_name)
    std::string title, topic;
    std::optional<store::StoredReadState> read{};
  };
  struct Gather {
    unsigned pending;
    std::vector<Summary> rooms;
    SessionRef who;
    std::string ref;
    std::shared_ptr<const std::string> user_id;
    std::string name_key;  // an account's (mentions); empty for a guest: no read state
  };
  const std::size_t page =
      std::clamp<std::uint64_t>(req.limit.value_or(ctx_.limits().rooms_page), 1, ctx_.limits().rooms_page);
  std::string query = std::move(req.query);
  std::transform(query.begin(), query.end(), query.begin(), [](unsigned char c) { return std::tolower(c); });
  auto user_id = std::make_shared<const std::string>(s.user_id);
  auto g = std::make_shared<Gather>(Gather{ctx_.shard_count(),
                                           {},
                                           ref_of(s),
                                           std::move(req.ref),
                                           user_id,
                                           core::is_account_id(s.user_id) ? core::name_skeleton(s.user) : ""});
  auto after = std::make_shared<const std::string>(std::move(req.after));
  auto q = std::make_shared<const std::string>(std::move(query));
  ++s.in_flight;
  Shard& home = s.shard();
  const auto by_id = [](const Summary& a, const Summary& b) { return a.room < b.room; };
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([this, shard, &home, g, after, q, page, by_id, user_id] {
      std::vector<Summary> mine;
      for (auto& [id, r] : shard->owned()) {
        if (r->state == OwnedRoom::State::creating || r->state == OwnedRoom::State::deleting || id <= *after) continue;
        // Listed to those who may see it: a private room to its members, a room to none who is
        // banned from it, a room whose access is not read yet to nobody.
        if (!r->access_known || !r->access.may(*user_id, core::RoomAction::see)) continue;
        if (!q->empty() && !contains_folded(id, *q)) continue;
        mine.push_back(
            Summary{id,
                    r->presence.size(),
                    r->last_seq(),
                    r->access.is_private(),
                    r->access.is_direct(),
                    r->access.is_direct() ? r->peer_of(*user_id) : std::string(),
                    // A conversation's two have no roles to show.
                    r->access.is_direct() ? std::string_view() : core::role_name(r->access.role_of(*user_id)),
                    r->title,
                    r->topic,
                    {}});
      }
      // Only a page (and one more, to know there is a next page) leaves the shard.
      if (mine.size() > page + 1) {
        std::nth_element(mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(page), mine.end(), by_id);
        mine.resize(page + 1);
      }
      home.post([this, &home, g, page, by_id, mine = std::move(mine)]() mutable {
        for (auto& m : mine) g->rooms.push_back(std::move(m));
        if (--g->pending > 0) return;
        std::sort(g->rooms.begin(), g->rooms.end(), by_id);
        std::string next;
        if (g->rooms.size() > page) {
          g->rooms.resize(page);
          next = g->rooms.back().room;
        }
        auto send_list = [&home, g, next] {
          std::vector<protocol::RoomSummary> list;
          list.reserve(g->rooms.size());
          for (const auto& r : g->rooms) {
            protocol::RoomSummary item{r.room, r.members, r.last_seq, r.private_room, r.direct,
                                       r.with, r.role,    r.title,    r.topic};
            if (r.read) {
              item.read_state = true;
              item.last_read = std::min(r.read->last_read, r.last_seq);
              item.unread = r.read->unread;
              item.mentions = r.read->mentions;
            }
            list.push_back(item);
          }
          if (Client* target = home.find_client(g->who.id)) {
            if (target->in_flight > 0) --target->in_flight;
            target->send(protocol::rooms_event(list, next, g->ref));
          }
        };
        // An account's read state in each listed room, from the store; without it (a guest, or
        // the store failing), the list goes without.
        auto answer = [this, &home, g, send_list] {
          if (g->name_key.empty() || g->rooms.empty()) return send_list();
          std::vector<std::string> ids;
          ids.reserve(g->rooms.size());
          for (const auto& r : g->rooms) ids.push_back(r.room);
          ctx_.store.read_states(*g->user_id, g->name_key, std::move(ids),
                                 [&home, g, send_list](std::error_code ec, std::vector<store::StoredReadState> st) {
                                   home.post([g, send_list, ec, st = std::move(st)]() mutable {
                                     if (!ec)
                                       for (std::size_t i = 0; i < st.size() && i < g->rooms.size(); ++i)
                                         g->rooms[i].read = std::move(st[i]);
                                     send_list();
                                   });
                                 });
        };
        if (!ctx_.broker || g->rooms.empty()) return answer();
        // Cluster: members on every node, from the broker (this node's count if it cannot answer).
        std::vector<std::string> ids;
        ids.reserve(g->rooms.size());
        for (const auto& r : g->rooms) ids.push_back(r.room);
        ctx_.broker->presence_counts(ids, [&home, g, answer](std::error_code ec, std::vector<std::size_t> counts) {
          home.post([g, answer, ec, counts = std::move(counts)] {
            if (!ec && counts.size() == g->rooms.size())
              for (std::size_t i = 0; i < counts.size(); ++i)
                g->rooms[i].members = std::max(g->rooms[i].members, counts[i]);
            answer();
          });
        });
      });
    });
  }
}

void Requests::do_create(Client& s, protocol::Request& req) {
  // A private room belongs to an account: a guest's id lasts a connection.
  const bool account = core::is_account_id(s.user_id);
  if (req.private_room && !account) return send_error(s, errc::forbidden, req.ref, "sign in to create a private room");
  if (!req.password.empty() && !req.private_room)
    return send_error(s, errc::bad_request, req.ref, "only a private room has a password");
  if (core::is_direct_room_id(req.room))
    return send_error(s, errc::bad_room, req.ref, "ids starting with dm- are direct conversations' (see dm)");
  if (auto why = title_topic_problem(req); !why.empty()) return send_error(s, errc::bad_request, req.ref, why);
  // Room creations are budgeted per address and per user (limits.room_create_rate), and rooms in
  // all (limits.max_rooms, checked by the owner): a room is a lasting cost.
  const std::int64_t now = ctx_.now_ms();
  std::int64_t wait_ms = 0;
  using A = core::KeyedLimits::Action;
  if (!ctx_.per_address.take(s.connection().peer_address(), A::create_room, now, wait_ms) ||
      !ctx_.per_user.take(budget_key(s), A::create_room, now, wait_ms)) {
    s.shard().metrics().rate_limited.add();
    return send_error(s, errc::rate_limited, req.ref, "too many rooms created; wait before creating another",
                      retry_after(wait_ms));
  }
  ++s.in_flight;
  store::StoredRoom spec{.id = std::move(req.room), .created_by = s.user};
  spec.kind = req.private_room ? core::RoomKind::private_room : core::RoomKind::public_room;
  spec.title = req.title.value_or(std::string());
  spec.topic = req.topic.value_or(std::string());
  // An account's room has an owner (who may moderate it); a guest's public room has none.
  if (account) spec.owner_id = s.user_id;
  auto create = [this, who = ref_of(s), ref = req.ref](store::StoredRoom spec) mutable {
    Shard& owner = ctx_.owner_of(spec.id);
    owner.post([this, &owner, spec = std::move(spec), who, ref = std::move(ref)]() mutable {
      rooms_.create(owner, std::move(spec), who, ref);
    });
  };
  if (req.password.empty()) return create(std::move(spec));
  // The password is hashed (argon2id, on the hash pool) before anything is stored.
  ctx_.accounts.hash_room_password(
      std::move(req.password), [this, create = std::move(create), spec = std::move(spec), who = ref_of(s),
                                ref = req.ref](std::error_code ec, std::int64_t retry_ms, std::string hash) mutable {
        if (ec == errc::bad_password)
          return delivery_.answer(who, error_reply(errc::bad_request, hash, ref, ErrorContext{.conn = who.id}));
        if (ec)
          return delivery_.answer(who, error_reply(errc::overloaded, "the server is busy; try again", ref,
                                                   retry_after(retry_ms), ErrorContext{.conn = who.id}));
        spec.password_hash = std::move(hash);
        create(std::move(spec));
      });
}

void Requests::do_join(Client& s, protocol::Request& req) {
  if (s.find_room(req.room) || s.is_joining(req.room)) return send_error(s, errc::already_joined, req.ref);
  if (s.rooms.size() + s.joining.size() >= ctx_.options.limits.max_rooms_per_connection)
    return send_error(s, errc::too_many_rooms, req.ref);
  s.joining.push_back(req.room);
  ++s.in_flight;
  Shard& owner = ctx_.owner_of(req.room);
  JoinAuth auth{s.user_id, std::move(req.password), s.connection().peer_address()};
  owner.post([this, &owner, room = std::move(req.room), user = s.user, who = ref_of(s), since = req.since,
              ref = std::move(req.ref), auth = std::move(auth)]() mutable {
    owner_.join(owner, room, std::move(user), who, since, std::move(ref), std::move(auth));
  });
}

void Requests::do_dm(Client& s, protocol::Request& req) {
  if (!core::is_account_id(s.user_id))
    return send_error(s, errc::forbidden, req.ref, "sign in to talk with someone directly");
  core::NameError why{};
  auto name = core::normalize_name(req.user, &why);
  if (!name) return send_error(s, errc::bad_name, req.ref, core::describe(why));
  // A conversation may be made: the room budget of `create` applies.
  const std::int64_t now = ctx_.now_ms();
  std::int64_t wait_ms = 0;
  using A = core::KeyedLimits::Action;
  if (!ctx_.per_address.take(s.connection().peer_address(), A::create_room, now, wait_ms) ||
      !ctx_.per_user.take(budget_key(s), A::create_room, now, wait_ms)) {
    s.shard().metrics().rate_limited.add();
    return send_error(s, errc::rate_limited, req.ref, "too many conversations started; wait", retry_after(wait_ms));
  }
  ++s.in_flight;
  ctx_.store.find_user_by_name_key(
      core::name_skeleton(*name), [this, me = s.user_id, my_name = s.user, who = ref_of(s), ref = req.ref](
                                      std::error_code ec, const std::optional<store::StoredUser>& them) {
        if (ec)
          return delivery_.answer(who,
                                  error_reply(errc::store_failed, {}, ref, ErrorContext{.user = me, .conn = who.id}));
        if (!them)
          return delivery_.answer(who, error_reply(errc::no_such_user, "no account of that name", ref,
                                                   ErrorContext{.user = me, .conn = who.id}));
        if (them->id == me)
          return delivery_.answer(
              who, error_reply(errc::bad_request, "that is you", ref, ErrorContext{.user = me, .conn = who.id}));
        store::StoredRoom spec{.id = auth::direct_room_id(me, them->id), .created_by = my_name};
        spec.kind = core::RoomKind::direct;
        spec.peers = me + '\t' + my_name + '\n' + them->id + '\t' + them->name;
        spec.members = {store::StoredMember{me, core::Role::member, 0},
                        store::StoredMember{them->id, core::Role::member, 0}};
        std::string answer = protocol::dm_event(spec.id, them->name, ref);
        Shard& owner = ctx_.owner_of(spec.id);
        owner.post([this, &owner, spec = std::move(spec), who, ref, answer = std::move(answer)]() mutable {
          rooms_.open_direct(owner, std::move(spec), who, ref, std::move(answer));
        });
      });
}

void Requests::do_moderate(Client& s, protocol::Request& req) {
  if (!core::is_account_id(s.user_id)) return send_error(s, errc::forbidden, req.ref, "sign in to manage a room");
  core::NameError why{};
  auto name = core::normalize_name(req.user, &why);
  if (!name) return send_error(s, errc::bad_name, req.ref, core::describe(why));
  ++s.in_flight;
  Actor actor{s.user_id, s.user, ref_of(s), req.ref};
  // The account is found by its name key (the look-alike folding registration uses).
  ctx_.store.find_user_by_name_key(
      core::name_skeleton(*name), [this, req = std::move(req), actor = std::move(actor)](
                                      std::error_code ec, const std::optional<store::StoredUser>& user) mutable {
        if (ec)
          return delivery_.answer(actor.who, error_reply(errc::store_failed, {}, actor.ref,
                                                         ErrorContext{.user = actor.user_id, .conn = actor.who.id}));
        if (!user)
          return delivery_.answer(actor.who, error_reply(errc::no_such_user, "no account of that name", actor.ref,
                                                         ErrorContext{.user = actor.user_id, .conn = actor.who.id}));
        Shard& owner = ctx_.owner_of(req.room);
        owner.post([this, &owner, req = std::move(req), actor = std::move(actor), id = user->id,
                    name = user->name]() mutable { moderation_.apply(owner, req, std::move(actor), id, name); });
      });
}

void Requests::do_configure(Client& s, protocol::Request& req) {
  // Only an owner may, and only accounts own rooms: a guest is refused here, without a post.
  if (!core::is_account_id(s.user_id)) return send_error(s, errc::forbidden, req.ref, "sign in to manage a room");
  if (req.type == RequestType::update_room) {
    if (!req.title && !req.topic) return send_error(s, errc::bad_request, req.ref, "give a title, a topic or both");
    if (auto why = title_topic_problem(req); !why.empty()) return send_error(s, errc::bad_request, req.ref, why);
  }
  ++s.in_flight;
  Actor actor{s.user_id, s.user, ref_of(s), req.ref};
  Shard& owner = ctx_.owner_of(req.room);
  owner.post([this, &owner, req = std::move(req), actor = std::move(actor)]() mutable {
    moderation_.configure(owner, req, std::move(actor));
  });
}

void Requests::do_leave(Client& s, protocol::Request& req) {
  auto it = std::find_if(s.rooms.begin(), s.rooms.end(), [&](const auto& r) { return r.room == req.room; });
  if (it == s.rooms.end()) return send_error(s, errc::not_joined, req.ref);
  s.shard().hub().remove(req.room, &s);
  s.rooms.erase(it);
  s.send(protocol::left_event(req.room, req.ref));
  Shard& owner = ctx_.owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), user = s.user, who = ref_of(s)]() mutable {
    owner_.leave(owner, room, user, who);
  });
}

void Requests::do_send(Client& s, protocol::Request& req) {
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  if (!core::valid_cid(req.cid)) return send_error(s, errc::bad_cid, req.ref);
  const bool with_files = !req.files.empty();
  if (with_files) {
    const std::size_t max = ctx_.options.limits.max_files_per_message;
    if (req.files.size() > max)
      return send_error(s, errc::bad_request, req.ref, "a message carries at most " + std::to_string(max) + " files");
    auto ids = req.files;
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end())
      return send_error(s, errc::bad_request, req.ref, "files names the same file twice");
    // Only accounts upload: a guest has no file to send.
    if (!core::is_account_id(s.user_id)) return send_error(s, errc::no_such_file, req.ref, "sign in to send files");
    // With files the text may be empty (""); any text there is must pass as a message's.
    if (!req.text.empty() && !check_text(s, req)) return;
  } else if (!check_text(s, req)) {
    return;
  }
  const auto now = ctx_.now_ms();
  if (!take_send_budget(s, req, now)) return;
  core::Message m{.room = std::move(req.room),
                  .from = s.user,
                  .text = std::move(req.text),
                  .ts = now,
                  .cid = std::move(req.cid),
                  .from_id = s.user_id,
                  .arrived_ns = ctx_.clock().steady_ns(),
                  .target = req.seq};  // reply_to: the owner checks the message it answers
  Shard& owner = ctx_.owner_of(m.room);
  if (!with_files) {
    owner.post([this, &owner, m = std::move(m), who = ref_of(s), ref = std::move(req.ref)]() mutable {
      if (m.target != 0) return owner_.change(owner, std::move(m), who, std::move(ref));
      owner_.send(owner, std::move(m), who, std::move(ref));
    });
    return;
  }
  // The files are taken for this message (its cid) first, in the store: each must be this
  // account's upload to this room, not taken by another message; a retry takes them again.
  std::string room = m.room, uploader = m.from_id, cid = m.cid;
  ctx_.store.claim_files(
      std::move(room), std::move(uploader), std::move(cid), std::move(req.files), now,
      [this, &owner, m = std::move(m), who = ref_of(s), ref = std::move(req.ref)](
          std::error_code ec, std::vector<store::StoredFile> files) mutable {
        owner.post([this, &owner, m = std::move(m), who, ref = std::move(ref), ec, files = std::move(files)]() mutable {
          if (ec)
            return delivery_.reply_now(
                who, error_reply(ec == errc::no_such_file ? errc::no_such_file : errc::store_failed, {}, ref,
                                 ErrorContext{.room = m.room, .conn = who.id}));
          m.files = Files::files_json(files);
          if (m.target != 0) return owner_.change(owner, std::move(m), who, std::move(ref));
          owner_.send(owner, std::move(m), who, std::move(ref));
        });
      });
}

bool Requests::check_text(Client& s, const protocol::Request& req) {
  // JSON escapes can spell lone surrogates and NUL; stored text is valid UTF-8 without NUL
  // (PostgreSQL cannot store NUL, and a refused commit would leave a hole in the room's seqs).
  if (!protocol::is_valid_utf8(req.text)) {
    send_error(s, errc::bad_request, req.ref, "text is not valid UTF-8");
  } else if (req.text.find('\0') != std::string::npos) {
    send_error(s, errc::bad_request, req.ref, "text must not contain U+0000");
  } else if (!core::visible_text(req.text)) {
    // Nothing to see (whitespace, zero-width, format and control characters only): by Unicode's
    // properties, so that U+200B or U+2060 do not make an empty message look like one.
    send_error(s, errc::empty_text, req.ref);
  } else if (protocol::utf8_length(req.text) > ctx_.options.limits.max_text_length) {
    send_error(s, errc::text_too_long, req.ref,
               "the text is longer than " + std::to_string(ctx_.options.limits.max_text_length) + " characters");
  } else {
    return true;
  }
  return false;
}

bool Requests::take_send_budget(Client& s, const protocol::Request& req, std::int64_t now) {
  std::int64_t wait_ms = 0;
  // Per connection, per client address, per user: a crowd of connections is one sender.
  using A = core::KeyedLimits::Action;
  if (s.send_bucket().take(now, wait_ms) &&
      ctx_.per_address.take(s.connection().peer_address(), A::send, now, wait_ms) &&
      ctx_.per_user.take(budget_key(s), A::send, now, wait_ms))
    return true;
  s.shard().metrics().rate_limited.add();
  send_error(s, errc::rate_limited, req.ref, {}, retry_after(wait_ms));
  return false;
}

void Requests::do_change(Client& s, protocol::Request& req) {
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  // Without a cid a retry cannot be recognised: the server makes one, and the ack carries it.
  if (req.cid.empty()) {
    req.cid = "srv-" + auth::mint_token().substr(0, 22);
  } else if (!core::valid_cid(req.cid)) {
    return send_error(s, errc::bad_cid, req.ref);
  }
  const bool edit = req.type == RequestType::edit;
  const bool reaction = req.type == RequestType::react || req.type == RequestType::unreact;
  if (edit && !check_text(s, req)) return;
  if (reaction && !core::valid_emoji(req.text))
    return send_error(s, errc::bad_emoji, req.ref,
                      "emoji must be one fully qualified Unicode emoji (RGI), at most " +
                          std::to_string(core::max_emoji_bytes) + " bytes; send the character, not a :shortcode:");
  const auto now = ctx_.now_ms();
  // An edit or a delete costs what a send does: it is one more entry of the room's sequence.
  if (!take_send_budget(s, req, now)) return;
  core::Message m{.room = std::move(req.room),
                  .from = s.user,
                  .text = edit || reaction ? std::move(req.text) : std::string(),
                  .ts = now,
                  .cid = std::move(req.cid),
                  .from_id = s.user_id,
                  .arrived_ns = ctx_.clock().steady_ns(),
                  .kind = edit ? core::MessageKind::edit
                          : reaction
                              ? (req.type == RequestType::react ? core::MessageKind::react : core::MessageKind::unreact)
                              : core::MessageKind::remove,
                  .target = req.seq};
  Shard& owner = ctx_.owner_of(m.room);
  owner.post([this, &owner, m = std::move(m), who = ref_of(s), ref = std::move(req.ref)]() mutable {
    owner_.change(owner, std::move(m), who, std::move(ref));
  });
}

void Requests::do_typing(Client& s, protocol::Request& req) {
  Client::JoinedRoom* r = s.find_room(req.room);
  if (!r) return send_error(s, errc::not_joined, req.ref);
  const auto now = ctx_.now_ms();
  // Typing is ephemeral: events closer together than the interval are dropped without an error.
  if (now - r->last_typing_ms < static_cast<std::int64_t>(ctx_.options.limits.typing_interval_ms)) return;
  r->last_typing_ms = now;
  Shard& owner = ctx_.owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), user = s.user, user_id = s.user_id, id = s.id()]() mutable {
    owner_.typing(owner, room, user, user_id, id);
  });
}

void Requests::do_history(Client& s, protocol::Request& req) {
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  const std::size_t max = ctx_.options.limits.history_limit;
  const std::size_t limit = std::clamp<std::uint64_t>(req.limit.value_or(50), 1, max);
  ++s.in_flight;
  Shard& owner = ctx_.owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), before = req.before.value_or(0), limit, who = ref_of(s),
              ref = std::move(req.ref), user_id = s.user_id]() mutable {
    owner_.history(owner, room, before, limit, who, std::move(ref), std::move(user_id));
  });
}

void Requests::do_members(Client& s, protocol::Request& req) {
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  const std::size_t max = ctx_.limits().members_page;
  const std::size_t limit = std::clamp<std::uint64_t>(req.limit.value_or(max), 1, max);
  ++s.in_flight;
  Shard& owner = ctx_.owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), after = std::move(req.after), limit, who = ref_of(s),
              ref = std::move(req.ref),
              user_id = s.user_id]() mutable { owner_.members(owner, room, after, limit, who, ref, user_id); });
}

void Requests::do_roster(Client& s, protocol::Request& req) {
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  const std::size_t max = ctx_.limits().members_page;
  const std::size_t limit = std::clamp<std::uint64_t>(req.limit.value_or(max), 1, max);
  ++s.in_flight;
  Shard& owner = ctx_.owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), after = std::move(req.after), limit, who = ref_of(s),
              ref = std::move(req.ref),
              user_id = s.user_id]() mutable { owner_.roster(owner, room, after, limit, who, ref, user_id); });
}

void Requests::do_read(Client& s, protocol::Request& req) {
  // A guest's id lasts a connection: a mark would be kept for nobody.
  if (!core::is_account_id(s.user_id))
    return send_error(s, errc::forbidden, req.ref, "sign in to keep read state; guests have none");
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  ++s.in_flight;
  Shard& owner = ctx_.owner_of(req.room);
  Reader reader{s.user_id, s.user, core::name_skeleton(s.user), ref_of(s), std::move(req.ref)};
  owner.post([this, &owner, room = std::move(req.room), seq = req.seq, reader = std::move(reader)]() mutable {
    read_marks_.read(owner, room, seq, std::move(reader));
  });
}

void Requests::do_admin_watch(Client& s, protocol::Request& req) {
  if (req.type == RequestType::admin_unwatch) {
    if (admin_watch_) admin_watch_->unwatch(s);
    return s.send(protocol::admin_unwatched_event(req.ref));
  }
  const std::error_code ec = admin_watch_ ? admin_watch_->watch(s, req.ref) : make_error_code(errc::forbidden);
  if (ec == errc::forbidden)
    return send_error(s, errc::forbidden, req.ref, "only a session of an admin account (auth.admins) may watch");
  if (ec == errc::too_many_watchers)
    return send_error(s, errc::too_many_watchers, req.ref,
                      "this node has " + std::to_string(ctx_.limits().admin_watchers) +
                          " admin watchers (limits.admin_watchers); try again later",
                      retry_after(5000));
}

void Requests::replay_held(Client& s) {
  // Stops as soon as a replayed request starts another join: the rest waits for that one.
  while (s.joining.empty() && !s.welcoming && !s.held.empty()) {
    std::string frame = std::move(s.held.front());
    s.held.erase(s.held.begin());
    s.held_bytes -= frame.size();
    handle_frame(s, frame);
  }
}

void Requests::on_closed(net::Connection& c) {
  if (!c.state()) return;
  Client& s = Client::of(c);
  for (auto& r : s.rooms) {
    s.shard().hub().remove(r.room, &s);
    Shard& owner = ctx_.owner_of(r.room);
    owner.post([this, &owner, room = r.room, user = s.user, who = ref_of(s)]() mutable {
      owner_.leave(owner, room, user, who);
    });
  }
  s.rooms.clear();
  if (admin_watch_) admin_watch_->unwatch(s);
  s.held.clear();
  s.held_bytes = 0;
  // Joins still in flight are undone when their answer finds the session gone (see joined()).
  s.joining.clear();
}

void Requests::joined(Shard& shard, ShardItem& item) {
  Client* s = shard.find_client(item.session);
  if (s && s->in_flight > 0) --s->in_flight;
  auto pending = s ? std::find(s->joining.begin(), s->joining.end(), item.room) : std::vector<std::string>::iterator{};
  if (!s || pending == s->joining.end()) {
    // The session closed while the owner was answering: undo the membership.
    Shard& owner = ctx_.owner_of(item.room);
    owner.post([this, &owner, room = std::move(item.room), user = std::move(item.user),
                who = SessionRef{shard.index(), item.session}]() mutable { owner_.leave(owner, room, user, who); });
    return;
  }
  s->joining.erase(pending);
  s->rooms.push_back(Client::JoinedRoom{item.room, 0});
  // Every delivery the owner posted before this item carried a seq ≤ the gap's last; every
  // one after it a later seq: adding the session here leaves no hole and no duplicate.
  shard.hub().add(item.room, s);
  s->send(item.text);
  for (const auto& e : item.gap) s->send(*e);
  // An account hears its read state in the room next (and, in a small room, its members' marks).
  if (core::is_account_id(s->user_id)) {
    Shard& owner = ctx_.owner_of(item.room);
    Reader reader{s->user_id, s->user, core::name_skeleton(s->user), ref_of(*s), {}};
    owner.post([this, &owner, room = item.room, reader = std::move(reader)]() mutable {
      read_marks_.joined(owner, room, std::move(reader));
    });
  }
  replay_held(*s);
}

void Requests::join_refused(Shard& shard, ShardItem& item) {
  if (Client* s = shard.find_client(item.session)) {
    if (s->in_flight > 0) --s->in_flight;
    auto pending = std::find(s->joining.begin(), s->joining.end(), item.room);
    if (pending != s->joining.end()) s->joining.erase(pending);
    shard.metrics().errors_sent.add();
    s->send(item.text);
    replay_held(*s);
  }
}

}  // namespace parley::node
