// Session side of the protocol: runs on the session's shard, checks everything that needs no
// room state, and forwards room work to the owner (room_owner.cpp).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "core/validate.hpp"
#include "node/node.hpp"
#include "protocol/events.hpp"
#include "protocol/utf8.hpp"

namespace parley::node {

using protocol::errc;
using protocol::RequestType;

namespace {
SessionRef ref_of(const Session& s) { return SessionRef{s.shard().index(), s.id()}; }

std::string retry_after(std::int64_t ms) { return "\"retry_after_ms\":" + std::to_string(ms); }

// Requests held behind a pending join, at most: a client pipelining that far ahead is refused.
constexpr std::size_t max_held = 64;
constexpr std::size_t max_held_bytes = 256 * 1024;

bool blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string_view::npos; }
}  // namespace

void Node::on_text(Session& s, std::string_view frame) {
  Shard& shard = s.shard();
  shard.metrics().frames_in.add();
  if (!s.joining.empty()) {
    if (s.held.size() >= max_held || s.held_bytes + frame.size() > max_held_bytes) {
      shard.metrics().rate_limited.add();
      return send_error(s, errc::rate_limited, {}, "too many requests behind a pending join", retry_after(100));
    }
    s.held.emplace_back(frame);
    s.held_bytes += frame.size();
    return;
  }
  handle_frame(s, frame);
}

void Node::handle_frame(Session& s, std::string_view frame) {
  Shard& shard = s.shard();
  auto parsed = protocol::parse_request(frame);
  if (auto* err = std::get_if<protocol::RequestError>(&parsed)) {
    send_error(s, err->code, err->ref, err->message);
    return;
  }
  auto& req = std::get<protocol::Request>(parsed);
  std::int64_t wait_ms = 0;
  if (!s.request_bucket().take(now_ms(), wait_ms)) {
    shard.metrics().rate_limited.add();
    send_error(s, errc::rate_limited, req.ref, "too many requests; slow down", retry_after(wait_ms));
    return;
  }
  if (req.type == RequestType::ping) return s.enqueue(protocol::pong_event(now_ms(), req.ref));
  if (req.type != RequestType::hello && s.user.empty()) {
    send_error(s, errc::hello_required, req.ref);
    return;
  }
  // Room ids are checked here once for every request that names one.
  if (req.type != RequestType::hello && req.type != RequestType::rooms && !core::valid_room_id(req.room)) {
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
    case RequestType::typing: return do_typing(s, req);
    case RequestType::history: return do_history(s, req);
    case RequestType::ping: return;
  }
}

void Node::do_hello(Session& s, protocol::Request& req) {
  if (!s.user.empty()) return send_error(s, errc::already_welcomed, req.ref);
  if (!core::valid_name(req.name)) return send_error(s, errc::bad_name, req.ref);
  s.user = req.name;
  const auto& l = options_.limits;
  const protocol::WelcomeLimits limits{l.max_text_length,
                                       l.max_frame_bytes,
                                       static_cast<std::int64_t>(l.send_rate),
                                       static_cast<std::int64_t>(l.send_burst),
                                       l.history_limit,
                                       l.max_rooms_per_connection,
                                       l.typing_interval_ms};
  char sid[24];
  std::snprintf(sid, sizeof sid, "s-%llx", static_cast<unsigned long long>(s.id()));
  s.enqueue(protocol::welcome_event(s.user, sid, now_ms(), limits, req.ref));
}

void Node::do_rooms(Session& s, protocol::Request& req) {
  // Scatter to every shard (each knows the rooms it owns), gather on this one: no shared state.
  struct Summary {
    std::string room;
    std::size_t members;
    std::uint64_t last_seq;
  };
  struct Gather {
    unsigned pending;
    std::vector<Summary> rooms;
    SessionRef who;
    std::string ref;
  };
  auto g = std::make_shared<Gather>(Gather{shard_count(), {}, ref_of(s), std::move(req.ref)});
  Shard& home = s.shard();
  for (auto& sh : shards_) {
    Shard* shard = sh.get();
    shard->post([this, shard, &home, g] {
      std::vector<Summary> mine;
      for (auto& [id, r] : shard->owned())
        if (r->state != OwnedRoom::State::creating) mine.push_back(Summary{id, r->presence.size(), r->last_seq()});
      home.post([this, &home, g, mine = std::move(mine)]() mutable {
        for (auto& m : mine) g->rooms.push_back(std::move(m));
        if (--g->pending > 0) return;
        std::sort(g->rooms.begin(), g->rooms.end(), [](const auto& a, const auto& b) { return a.room < b.room; });
        auto answer = [&home, g] {
          std::vector<protocol::RoomSummary> list;
          list.reserve(g->rooms.size());
          for (const auto& r : g->rooms) list.push_back(protocol::RoomSummary{r.room, r.members, r.last_seq});
          if (Session* target = home.find_session(g->who.id)) target->enqueue(protocol::rooms_event(list, g->ref));
        };
        if (!broker_ || g->rooms.empty()) return answer();
        // Cluster: members on every node, from the broker (this node's count if it cannot answer).
        std::vector<std::string> ids;
        ids.reserve(g->rooms.size());
        for (const auto& r : g->rooms) ids.push_back(r.room);
        broker_->presence_counts(ids, [&home, g, answer](std::error_code ec, std::vector<std::size_t> counts) {
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

void Node::do_create(Session& s, protocol::Request& req) {
  Shard& owner = owner_of(req.room);
  owner.post(
      [this, &owner, room = std::move(req.room), user = s.user, who = ref_of(s), ref = std::move(req.ref)]() mutable {
        owner_create(owner, std::move(room), std::move(user), who, std::move(ref));
      });
}

void Node::do_join(Session& s, protocol::Request& req) {
  if (s.find_room(req.room) || s.is_joining(req.room)) return send_error(s, errc::already_joined, req.ref);
  if (s.rooms.size() + s.joining.size() >= options_.limits.max_rooms_per_connection)
    return send_error(s, errc::too_many_rooms, req.ref);
  s.joining.push_back(req.room);
  Shard& owner = owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), user = s.user, who = ref_of(s), since = req.since,
              ref = std::move(req.ref)]() mutable {
    owner_join(owner, std::move(room), std::move(user), who, since, std::move(ref));
  });
}

void Node::do_leave(Session& s, protocol::Request& req) {
  auto it = std::find_if(s.rooms.begin(), s.rooms.end(), [&](const auto& r) { return r.room == req.room; });
  if (it == s.rooms.end()) return send_error(s, errc::not_joined, req.ref);
  s.shard().hub().remove(req.room, &s);  // before the erase: the hub reads the entry's index
  s.rooms.erase(it);
  s.enqueue(protocol::left_event(req.room, req.ref));
  Shard& owner = owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), user = s.user, who = ref_of(s)]() mutable {
    owner_leave(owner, std::move(room), std::move(user), who);
  });
}

void Node::do_send(Session& s, protocol::Request& req) {
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  if (!core::valid_cid(req.cid)) return send_error(s, errc::bad_cid, req.ref);
  if (blank(req.text)) return send_error(s, errc::empty_text, req.ref);
  // JSON escapes can spell lone surrogates and NUL; stored text is valid UTF-8 without NUL
  // (PostgreSQL cannot store NUL, and a refused commit would leave a hole in the room's seqs).
  if (!protocol::is_valid_utf8(req.text)) return send_error(s, errc::bad_request, req.ref, "text is not valid UTF-8");
  if (req.text.find('\0') != std::string::npos)
    return send_error(s, errc::bad_request, req.ref, "text must not contain U+0000");
  if (protocol::utf8_length(req.text) > options_.limits.max_text_length) {
    return send_error(s, errc::text_too_long, req.ref,
                      "the text is longer than " + std::to_string(options_.limits.max_text_length) + " characters");
  }
  std::int64_t wait_ms = 0;
  const auto now = now_ms();
  if (!s.send_bucket().take(now, wait_ms)) {
    s.shard().metrics().rate_limited.add();
    return send_error(s, errc::rate_limited, req.ref, {}, retry_after(wait_ms));
  }
  core::Message m{std::move(req.room), 0, s.user, std::move(req.text), now, std::move(req.cid), steady_ns()};
  Shard& owner = owner_of(m.room);
  owner.post([this, &owner, m = std::move(m), who = ref_of(s), ref = std::move(req.ref)]() mutable {
    owner_send(owner, std::move(m), who, std::move(ref));
  });
}

void Node::do_typing(Session& s, protocol::Request& req) {
  Session::JoinedRoom* r = s.find_room(req.room);
  if (!r) return send_error(s, errc::not_joined, req.ref);
  const auto now = now_ms();
  // Typing is ephemeral: events closer together than the interval are dropped without an error.
  if (now - r->last_typing_ms < static_cast<std::int64_t>(options_.limits.typing_interval_ms)) return;
  r->last_typing_ms = now;
  Shard& owner = owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), user = s.user, id = s.id()]() mutable {
    owner_typing(owner, std::move(room), std::move(user), id);
  });
}

void Node::do_history(Session& s, protocol::Request& req) {
  if (!s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  const std::size_t max = options_.limits.history_limit;
  const std::size_t limit = std::clamp<std::uint64_t>(req.limit.value_or(50), 1, max);
  Shard& owner = owner_of(req.room);
  owner.post([this, &owner, room = std::move(req.room), before = req.before.value_or(0), limit, who = ref_of(s),
              ref = std::move(req.ref)]() mutable {
    owner_history(owner, std::move(room), before, limit, who, std::move(ref));
  });
}

void Node::replay_held(Session& s) {
  // Stops as soon as a replayed request starts another join: the rest waits for that one.
  while (s.joining.empty() && !s.held.empty()) {
    std::string frame = std::move(s.held.front());
    s.held.erase(s.held.begin());
    s.held_bytes -= frame.size();
    handle_frame(s, frame);
  }
}

void Node::on_closed(Session& s) {
  for (auto& r : s.rooms) {
    s.shard().hub().remove(r.room, &s);
    Shard& owner = owner_of(r.room);
    owner.post([this, &owner, room = r.room, user = s.user, who = ref_of(s)]() mutable {
      owner_leave(owner, std::move(room), std::move(user), who);
    });
  }
  s.rooms.clear();
  s.held.clear();
  s.held_bytes = 0;
  // Joins still in flight are undone when their answer finds the session gone (see apply()).
  s.joining.clear();
}

namespace {
// Applies the run of items from `first` that are deliveries to one room (for every member) or
// replies, as a committed batch makes them (message, ack, message, ack, ...); returns where the
// run ends. Each member gets the run's events as one shared buffer, queued once, not copied; the
// few sessions that replies go to get every item of the run in order, one by one. What each
// session receives, and in which order, is what applying the items one by one gives.
std::size_t deliver_run(Shard& shard, std::vector<ShardItem>& items, std::size_t first) {
  const std::string& room = items[first].room;
  std::size_t end = first, events = 0, bytes = 0;
  std::vector<std::uint64_t> targets;
  for (; end < items.size(); ++end) {
    const ShardItem& it = items[end];
    if (it.kind == ShardItem::Kind::deliver && it.session == 0 && it.room == room) {
      ++events;
      bytes += it.event->size() + 1;
      shard.delivered(it.arrived_ns);
    } else if (it.kind == ShardItem::Kind::reply) {
      targets.push_back(it.session);
    } else {
      break;
    }
  }
  std::shared_ptr<const std::string> joined = items[first].event;
  if (events > 1) {
    auto all = std::make_shared<std::string>();
    all->reserve(bytes);
    for (std::size_t k = first; k < end; ++k) {
      if (items[k].kind != ShardItem::Kind::deliver) continue;
      if (!all->empty()) all->push_back('\n');
      all->append(*items[k].event);
    }
    joined = std::move(all);
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  std::size_t delivered = events * shard.hub().deliver_shared(room, joined, targets);
  // The sessions replies go to: every item in order. A member of the room is one the hub holds,
  // which is a session with the room in its list.
  std::vector<Session*> members;
  for (std::uint64_t id : targets)
    if (Session* s = shard.find_session(id); s && s->find_room(room)) members.push_back(s);
  for (std::size_t k = first; k < end; ++k) {
    ShardItem& it = items[k];
    if (it.kind == ShardItem::Kind::deliver) {
      for (Session* s : members) s->enqueue(*it.event);
      delivered += members.size();
    } else if (Session* s = shard.find_session(it.session)) {
      s->enqueue(it.text);
    }
  }
  shard.metrics().deliveries.add(delivered);
  return end;
}
}  // namespace

void Node::apply(Shard& shard, std::vector<ShardItem>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    ShardItem& item = items[i];
    switch (item.kind) {
      case ShardItem::Kind::deliver:
        if (item.session == 0) {
          i = deliver_run(shard, items, i) - 1;
          break;
        }
        shard.metrics().deliveries.add(shard.hub().deliver(item.room, *item.event, item.session));
        shard.delivered(item.arrived_ns);
        break;
      case ShardItem::Kind::reply:
        if (Session* s = shard.find_session(item.session)) s->enqueue(item.text);
        break;
      case ShardItem::Kind::batch: {
        const auto events = static_cast<std::size_t>(std::count(item.event->begin(), item.event->end(), '\n')) + 1;
        shard.metrics().deliveries.add(events * shard.hub().deliver_shared(item.room, item.event, item.skip));
        break;
      }
      case ShardItem::Kind::join: {
        Session* s = shard.find_session(item.session);
        auto pending =
            s ? std::find(s->joining.begin(), s->joining.end(), item.room) : std::vector<std::string>::iterator{};
        if (!s || pending == s->joining.end()) {
          // The session closed while the owner was answering: undo the membership.
          Shard& owner = owner_of(item.room);
          owner.post([this, &owner, room = std::move(item.room), user = std::move(item.user),
                      who = SessionRef{shard.index(), item.session}]() mutable {
            owner_leave(owner, std::move(room), std::move(user), who);
          });
          break;
        }
        s->joining.erase(pending);
        s->rooms.push_back(Session::JoinedRoom{item.room, 0, 0});
        // Every delivery the owner posted before this item carried a seq ≤ the gap's last; every
        // one after it a later seq: adding the session here leaves no hole and no duplicate.
        shard.hub().add(item.room, s);
        s->enqueue(item.text);
        for (const auto& e : item.gap) s->enqueue(*e);
        replay_held(*s);
        break;
      }
      case ShardItem::Kind::join_failed:
        if (Session* s = shard.find_session(item.session)) {
          auto pending = std::find(s->joining.begin(), s->joining.end(), item.room);
          if (pending != s->joining.end()) s->joining.erase(pending);
          shard.metrics().errors_sent.add();
          s->enqueue(item.text);
          replay_held(*s);
        }
        break;
    }
  }
}

}  // namespace parley::node
