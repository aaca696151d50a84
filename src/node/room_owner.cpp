// Owner side of the protocol: runs on the shard that owns a room. Here a room's order is
// decided: seqs are assigned, messages committed through the store, and only then delivered,
// so that anything a member has seen is in history and survives a restart.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "node/node.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using protocol::errc;

namespace {
std::string error_text(errc code, const std::string& ref) { return protocol::error_event(code, {}, ref); }

}  // namespace

template <class F>
void Node::with_room(Shard& owner, const std::string& room, F&& f) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r && broker_) {
    // Cluster: perhaps created on another node a moment ago. Once the lookup has answered (the
    // broker's room index, or else the store), the room is known here if it exists anywhere: then
    // this starts again.
    return find_room(owner, room, [this, &owner, room, f = std::forward<F>(f)](errc missing) mutable {
      if (owner.find_owned(room)) return with_room(owner, room, std::move(f));
      f(nullptr, missing);
    });
  }
  if (!r || r->state == OwnedRoom::State::ready) return f(r, errc::no_such_room);
  r->waiting.emplace_back([f = std::forward<F>(f)](OwnedRoom* loaded) mutable { f(loaded, errc::no_such_room); });
  if (r->state == OwnedRoom::State::unloaded) load_room(owner, *r);
}

void Node::load_room(Shard& owner, OwnedRoom& r) {
  r.state = OwnedRoom::State::loading;
  const std::size_t n = std::max(options_.rooms.recent_messages, options_.rooms.dedupe_window);
  store_.read(r.id, 0, 0, n, [this, &owner, room = r.id](std::error_code ec, std::vector<core::Message> msgs) {
    owner.post([this, &owner, room, ec, msgs = std::move(msgs)]() mutable {
      OwnedRoom* r = owner.find_owned(room);
      if (!r) return;
      if (ec) {
        spdlog::error("room {}: cannot load from the store: {}", room, ec.message());
        r->state = OwnedRoom::State::unloaded;  // the next request tries again
      } else {
        const std::uint64_t last = std::max(r->stored_last_seq, msgs.empty() ? 0 : msgs.back().seq);
        r->log.restore(last, msgs);
        r->state = OwnedRoom::State::ready;
      }
      auto waiting = std::move(r->waiting);
      r->waiting.clear();
      for (auto& f : waiting) f(r);
    });
  });
}

void Node::broadcast(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except,
                     std::int64_t arrived_ns) {
  flush_presence(r, out);
  fan_out(out, r, event, except, arrived_ns);
}

void Node::fan_out(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except,
                   std::int64_t arrived_ns) {
  for (unsigned i = 0; i < r.shard_members.size(); ++i)
    if (r.shard_members[i] > 0) out.deliver(i, r.id, event, except, arrived_ns);
}

void Node::join_failed(SessionRef who, const std::string& room, errc code, const std::string& ref) {
  Outbox out(shard_count());
  out.add(who.shard, ShardItem{ShardItem::Kind::join_failed, room, nullptr, error_text(code, ref), who.id, {}, {}, {}});
  dispatch(out);
}

void Node::owner_create(Shard& owner, std::string room, std::string user, SessionRef who, std::string ref) {
  if (owner.find_owned(room)) return reply_now(who, error_text(errc::room_exists, ref));
  auto r = std::make_unique<OwnedRoom>(room, options_.rooms, shard_count(), OwnedRoom::State::creating);
  owner.owned().emplace(room, std::move(r));
  owner.metrics().rooms_owned.add();
  store::StoredRoom stored{room, 0, now_ms(), user};
  store_.create_room(stored, [this, &owner, room, user, who, ref](std::error_code ec) {
    owner.post([this, &owner, room, user, who, ref, ec] {
      OwnedRoom* r = owner.find_owned(room);
      if (!r) return;
      // The store has the room already: another node's creation (in a cluster; its announcement
      // is on its way, or Redis lost its record). One node on its own knows every stored room.
      if (ec == errc::room_exists) return owner_create_lost(owner, room, who, ref);
      if (ec) {
        auto waiting = std::move(r->waiting);
        owner.owned().erase(room);
        owner.metrics().rooms_owned.sub();
        for (auto& f : waiting) f(nullptr);
        return reply_now(who, error_text(errc::store_failed, ref));
      }
      if (!broker_) return owner_created(owner, room, user, who, ref);
      // Cluster: `created` once the broker's room index has the room, so that a join anywhere
      // after it finds the room even before the announcement reaches that node. Without the
      // broker's word (an outage) the room is created all the same: the record goes out later.
      broker_->announce_room(room, user, [this, &owner, room, user, who, ref](std::error_code ec) {
        owner.post([this, &owner, room, user, who, ref, ec] {
          if (ec == errc::room_exists) return owner_create_lost(owner, room, who, ref);
          owner_created(owner, room, user, who, ref);
        });
      });
    });
  });
}

void Node::owner_created(Shard& owner, const std::string& room, const std::string& user, SessionRef who,
                         const std::string& ref) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r) return;
  r->log.restore(0, {});
  r->state = OwnedRoom::State::ready;
  auto waiting = std::move(r->waiting);
  r->waiting.clear();
  for (auto& f : waiting) f(r);
  // The creator gets it with its ref; every other welcomed session learns of the room.
  reply_now(who, protocol::created_event(room, user, ref));
  tell_created(room, user, who.id);
}

void Node::tell_created(const std::string& room, const std::string& by, std::uint64_t except) {
  auto event = std::make_shared<const std::string>(protocol::created_event(room, by, {}));
  for (auto& sh : shards_) {
    Shard* shard = sh.get();
    shard->post([shard, event, except] {
      shard->for_each_session([&](Session& s) {
        if (!s.user.empty() && s.id() != except) s.enqueue(*event);
      });
    });
  }
}

void Node::owner_create_lost(Shard& owner, const std::string& room, SessionRef who, const std::string& ref) {
  // Another node created the room first (this node had not heard of it yet): the store had it
  // already, or the broker's room index did. It is a room like any learnt one, loaded on first
  // use. Its creator's announcement tells this node's sessions of it: now, if it came during the
  // create, or when it comes (never, if Redis lost it: the room is still listed and joinable).
  OwnedRoom* r = owner.find_owned(room);
  if (!r) return;
  r->state = OwnedRoom::State::unloaded;
  if (!r->waiting.empty()) load_room(owner, *r);
  reply_now(who, error_text(errc::room_exists, ref));
  if (!r->heard_by.empty()) return tell_created(room, std::exchange(r->heard_by, {}), 0);
  r->untold = true;
}

void Node::owner_join(Shard& owner, std::string room, std::string user, SessionRef who,
                      std::optional<std::uint64_t> since, std::string ref) {
  with_room(
      owner, room,
      [this, &owner, room, user = std::move(user), who, since, ref = std::move(ref)](OwnedRoom* r,
                                                                                     errc missing) mutable {
        if (!r) return join_failed(who, room, missing, ref);
        if (r->state != OwnedRoom::State::ready) return join_failed(who, room, errc::store_failed, ref);
        if (broker_ && !r->synced) {
          // Cluster: the ring must be caught up with the broker before a gap can be computed.
          return when_synced(owner, *r, [this, &owner, room, user, who, since, ref](OwnedRoom* synced) mutable {
            if (!synced) return join_failed(who, room, errc::unavailable, ref);
            owner_join(owner, room, std::move(user), who, since, std::move(ref));
          });
        }
        if (broker_ && r->presence.view() != core::ClusterPresence::View::ready) {
          // Cluster: `members` lists every node's users; read them once subscribed.
          return when_presence_ready(owner, *r, [this, &owner, room, user, who, since, ref](OwnedRoom* ready) mutable {
            if (!ready) return join_failed(who, room, errc::unavailable, ref);
            owner_join(owner, room, std::move(user), who, since, std::move(ref));
          });
        }
        Outbox out(shard_count());
        // Announced before the joiner is added on its shard: it learns of itself from `members`.
        presence_add(owner, *r, user, out);
        r->shard_members[who.shard]++;
        dispatch(out);
        const std::uint64_t committed = r->log.last_committed();
        const std::uint64_t from = std::min(since.value_or(committed), committed);
        const std::size_t limit = options_.limits.resume_limit;
        if (committed - from <= limit && r->log.covers_after(from)) {
          return owner_finish_join(owner, *r, std::move(user), who, std::move(ref), from, {}, false);
        }
        // The gap reaches past the ring: read it from the store, then add what committed meanwhile.
        store_.read(r->id, from, 0, limit,
                    [this, &owner, room, user, who, ref, from](std::error_code ec, std::vector<core::Message> msgs) {
                      owner.post([this, &owner, room, user, who, ref, from, ec, msgs = std::move(msgs)]() mutable {
                        OwnedRoom* r = owner.find_owned(room);
                        if (!r) return;
                        if (ec) {
                          owner_leave(owner, room, user, who);
                          return join_failed(who, room, errc::store_failed, ref);
                        }
                        const bool truncated = !msgs.empty() && msgs.front().seq > from + 1;
                        owner_finish_join(owner, *r, user, who, ref, from, std::move(msgs), truncated);
                      });
                    });
      });
}

void Node::owner_finish_join(Shard& owner, OwnedRoom& r, std::string user, SessionRef who, std::string ref,
                             std::uint64_t since, std::vector<core::Message> from_store, bool truncated) {
  std::vector<core::EventPtr> gap;
  std::uint64_t last = since;
  for (const auto& m : from_store) {
    gap.push_back(std::make_shared<const std::string>(core::message_event(m)));
    last = m.seq;
  }
  if (!r.log.covers_after(last)) {
    // Rare: the ring moved past the store's answer while it was read. Read the rest.
    store_.read(r.id, last, 0, options_.limits.resume_limit,
                [this, &owner, room = r.id, user, who, ref, since, truncated, from_store = std::move(from_store)](
                    std::error_code ec, std::vector<core::Message> more) mutable {
                  owner.post([this, &owner, room, user, who, ref, since, truncated, ec,
                              from_store = std::move(from_store), more = std::move(more)]() mutable {
                    OwnedRoom* r = owner.find_owned(room);
                    if (!r) return;
                    if (ec) {
                      owner_leave(owner, room, user, who);
                      return join_failed(who, room, errc::store_failed, ref);
                    }
                    for (auto& m : more) from_store.push_back(std::move(m));
                    owner_finish_join(owner, *r, user, who, ref, since, std::move(from_store), truncated);
                  });
                });
    return;
  }
  for (auto& e : r.log.events_after(last)) gap.push_back(std::move(e));

  std::vector<std::string_view> members;
  members.reserve(r.presence.size());
  r.presence.for_each_user([&members](const std::string& u) { members.push_back(u); });
  std::string joined = protocol::joined_event(r.id, r.log.last_committed(), members, truncated, ref);
  // `members` shows every presence change so far: the session gets only the later ones of the
  // batch that is waiting (Node::flush_presence).
  if (!r.presence_batch.empty()) r.presence_late[who.id] = OwnedRoom::LateJoiner{who, r.presence_lines.size()};
  Outbox out(shard_count());
  out.add(
      who.shard,
      ShardItem{ShardItem::Kind::join, r.id, nullptr, std::move(joined), who.id, std::move(gap), std::move(user), {}});
  dispatch(out);
}

void Node::owner_leave(Shard& owner, std::string room, std::string user, SessionRef who) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || r->state != OwnedRoom::State::ready) return;
  if (r->shard_members[who.shard] > 0) r->shard_members[who.shard]--;
  r->presence_late.erase(who.id);  // nothing more of the waiting batch for it
  Outbox out(shard_count());
  presence_remove(owner, *r, user, out);
  dispatch(out);
  if (broker_) maybe_unsubscribe(*r);
}

void Node::owner_send(Shard& owner, core::Message m, SessionRef who, std::string ref) {
  const std::string room = m.room;
  with_room(owner, room,
            [this, &owner, m = std::move(m), who, ref = std::move(ref)](OwnedRoom* r, errc missing) mutable {
              if (!r) return reply_now(who, error_text(missing, ref));
              if (r->state != OwnedRoom::State::ready) return reply_now(who, error_text(errc::store_failed, ref));
              if (broker_) return cluster_send(owner, *r, std::move(m), who, std::move(ref));
              if (auto hit = r->log.find_cid(m.from, m.cid)) {
                // An idempotent retry: the original ack, nothing stored twice.
                if (hit->seq <= r->log.last_committed())
                  return reply_now(who, protocol::ack_event(r->id, m.cid, hit->seq, hit->ts, ref));
                r->dup_acks.push_back(OwnedRoom::DupAck{hit->seq, hit->ts, who, m.cid, ref});
                return;
              }
              if (!store_.has_capacity()) return reply_now(who, error_text(errc::overloaded, ref));
              r->log.assign(m);
              owner.metrics().messages_in.add();
              owner.queue_append(Shard::PendingAppend{std::move(m), who, std::move(ref)});
            });
}

void Node::submit_appends(Shard& owner, std::vector<Shard::PendingAppend> batch) {
  std::vector<core::Message> messages;
  messages.reserve(batch.size());
  for (const auto& p : batch) messages.push_back(p.message);
  auto held = std::make_shared<std::vector<Shard::PendingAppend>>(std::move(batch));
  store_.append(std::move(messages), [this, &owner, held](std::error_code ec) {
    owner.post([this, &owner, held, ec] { on_committed(owner, std::move(*held), ec); });
  });
}

void Node::on_committed(Shard& owner, std::vector<Shard::PendingAppend> batch, std::error_code ec) {
  Outbox out(shard_count());
  if (ec) {
    // Only at shutdown: never acked, never delivered; the client retries with the same cid.
    for (auto& p : batch) out.reply(p.who, error_text(errc::store_failed, p.ref));
    return dispatch(out);
  }
  const std::int64_t now = steady_ns();
  for (const auto& p : batch)
    if (p.message.arrived_ns > 0) owner.metrics().commit.observe_between(p.message.arrived_ns, now);
  if (broker_) {
    // Cluster: members got the message from the broker; the ack says it is durable.
    for (auto& p : batch) {
      out.reply(p.who, protocol::ack_event(p.message.room, p.message.cid, p.message.seq, p.message.ts, p.ref));
      owner.metrics().messages_acked.add();
    }
    return dispatch(out);
  }
  std::vector<OwnedRoom*> touched;
  for (auto& p : batch) {
    OwnedRoom* r = owner.find_owned(p.message.room);
    if (!r) continue;
    const std::string ack = protocol::ack_event(r->id, p.message.cid, p.message.seq, p.message.ts, p.ref);
    broadcast_message(out, *r, r->log.commit(std::move(p.message)));
    out.reply(p.who, ack);
    owner.metrics().messages_acked.add();
    if (!r->dup_acks.empty() && std::find(touched.begin(), touched.end(), r) == touched.end()) touched.push_back(r);
  }
  for (OwnedRoom* r : touched) {
    auto& dups = r->dup_acks;
    const auto committed = r->log.last_committed();
    for (auto& d : dups)
      if (d.seq <= committed) out.reply(d.who, protocol::ack_event(r->id, d.cid, d.seq, d.ts, d.ref));
    dups.erase(std::remove_if(dups.begin(), dups.end(), [&](const auto& d) { return d.seq <= committed; }), dups.end());
  }
  dispatch(out);
}

void Node::owner_typing(Shard& owner, std::string room, std::string user, std::uint64_t from_session) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || r->state != OwnedRoom::State::ready) return;
  Outbox out(shard_count());
  broadcast(out, *r, std::make_shared<const std::string>(protocol::typing_event(room, user)), from_session);
  dispatch(out);
}

void Node::owner_history(Shard& owner, std::string room, std::uint64_t before, std::size_t limit, SessionRef who,
                         std::string ref) {
  with_room(owner, room,
            [this, &owner, room, before, limit, who, ref = std::move(ref)](OwnedRoom* r, errc missing) mutable {
              if (!r) return reply_now(who, error_text(missing, ref));
              if (r->state != OwnedRoom::State::ready) return reply_now(who, error_text(errc::store_failed, ref));
              auto respond = [this, who, room, ref](const std::vector<const core::Message*>& msgs) {
                std::vector<protocol::MessageFields> list;
                list.reserve(msgs.size());
                for (const auto* m : msgs) list.push_back(core::fields(*m));
                reply_now(who, protocol::history_event(room, list, !msgs.empty() && msgs.front()->seq > 1, ref));
              };
              // Only committed messages are history; the ring answers most pages without the store.
              const std::uint64_t upper =
                  before == 0 || before > r->log.last_committed() ? r->log.last_committed() + 1 : before;
              if (auto hit = r->log.newest_before(upper, limit)) return respond(*hit);
              store_.read(room, 0, upper, limit,
                          [&owner, respond, who, ref, this](std::error_code ec, std::vector<core::Message> msgs) {
                            owner.post([respond, ec, msgs = std::move(msgs), who, ref, this] {
                              if (ec) return reply_now(who, error_text(errc::store_failed, ref));
                              std::vector<const core::Message*> ptrs;
                              for (const auto& m : msgs) ptrs.push_back(&m);
                              respond(ptrs);
                            });
                          });
            });
}

}  // namespace parley::node
