// Cluster mode: the broker orders each room for every node (broker/broker.hpp). The owner shard
// of a room on this node subscribes while the node has members in it, applies the broker's
// messages in seq order, and repairs any gap (a missed Pub/Sub message, a broker restart) from
// the broker's log, then the store, before it delivers anything after the gap.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <utility>

#include "node/node.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using protocol::errc;

namespace {
// Messages published past a gap that wait for its repair; past this the room re-syncs from the log.
constexpr std::size_t max_early = 10000;
// Requests waiting for one room's lookup in the broker's room index; past this: unavailable.
constexpr std::size_t max_lookup_waiters = 1024;
// A room found in the store but not in the room index is recorded there again, unless it was
// stored less than this ago: its creator may still be on its way to the index (the store first,
// then announce_room, whose answer it waits for), and a record from here could win that race and
// have the creator told room_exists. Its creator records it; a later lookup would if it did not.
constexpr std::int64_t reannounce_after_ms = 60000;

// Hands the requests waiting for the room's lookup their answer: `missing` if the room is still
// unknown (with_room tries again if the lookup made it known).
void answer_lookup(Shard& owner, const std::string& room, errc missing) {
  auto it = owner.lookups().find(room);
  if (it == owner.lookups().end()) return;
  auto waiting = std::move(it->second);
  owner.lookups().erase(it);
  for (auto& f : waiting) f(missing);
}
}  // namespace

void Node::cluster_send(Shard& owner, OwnedRoom& r, core::Message m, SessionRef who, std::string ref) {
  if (auto hit = r.log.find_cid(m.from, m.cid)) {
    // A retry of a message this node has applied: applied means published, not committed (its
    // sender's node may have died before the commit), so the original is stored (again: a store
    // takes the same row twice as success) and acked after that commit.
    auto original = r.log.newest_before(hit->seq + 1, 1);
    if (original && !original->empty() && original->back()->seq == hit->seq) {
      m = *original->back();
    } else {
      m.seq = hit->seq;
      m.ts = hit->ts;
    }
    return owner.queue_append(Shard::PendingAppend{std::move(m), who, std::move(ref)});
  }
  if (!store_.has_capacity()) return reply_now(who, protocol::error_event(errc::overloaded, {}, ref));
  owner.metrics().messages_in.add();
  m.seq = r.log.last_committed();  // the floor: never a seq below what this node has seen
  broker_->publish(m, [this, &owner, m, who, ref](std::error_code ec, broker::Published p) mutable {
    owner.post([this, &owner, m = std::move(m), who, ref = std::move(ref), ec, p]() mutable {
      if (ec) return reply_now(who, protocol::error_event(errc::unavailable, {}, ref));
      // A retry of a message published before (perhaps through another node, perhaps one that
      // crashed before its commit): the ack must mean "durable", so store the published message
      // (from the broker's log) again and ack after that commit; a store holding it already
      // takes the same row as success.
      if (p.duplicate) return store_duplicate(owner, std::move(m), p, who, std::move(ref));
      m.seq = p.seq;
      m.ts = p.ts;
      owner.queue_append(Shard::PendingAppend{std::move(m), who, std::move(ref)});
    });
  });
}

void Node::store_duplicate(Shard& owner, core::Message m, broker::Published p, SessionRef who, std::string ref) {
  broker_->fetch(m.room, p.seq - 1, 1,
                 [this, &owner, m, p, who, ref](std::error_code ec, std::vector<core::Message> msgs) mutable {
                   owner.post([this, &owner, m = std::move(m), p, who, ref = std::move(ref), ec,
                               msgs = std::move(msgs)]() mutable {
                     if (ec) return reply_now(who, protocol::error_event(errc::unavailable, {}, ref));
                     if (msgs.empty() || msgs.front().seq != p.seq) {
                       // Trimmed from the broker's log (broker.log_capacity messages ago): committed long since.
                       return reply_now(who, protocol::ack_event(m.room, m.cid, p.seq, p.ts, ref));
                     }
                     owner.queue_append(Shard::PendingAppend{std::move(msgs.front()), who, std::move(ref)});
                   });
                 });
}

void Node::when_synced(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f) {
  // Bounded: a subscribe waits for Redis to come back, and a client must not wait for an outage.
  // The waiters its timer answered go now: clients retrying through an outage add one each.
  std::erase_if(r.sync_waiting, [](const auto& w) { return w->answered(); });
  auto w = std::make_shared<SyncWaiter>(owner.context(), std::move(f));
  w->timer.expires_after(std::chrono::milliseconds(options_.broker_wait_ms));
  w->timer.async_wait([w](boost::system::error_code ec) {
    if (!ec) w->answer(nullptr);
  });
  r.sync_waiting.push_back(std::move(w));
  if (r.subscribed) return repair(owner, r);
  r.subscribed = true;
  // Fetch only once the subscription is live: whatever is published after that arrives by
  // Pub/Sub, whatever before it is in the log.
  broker_->subscribe(r.id, [this, &owner, room = r.id](std::error_code ec) {
    owner.post([this, &owner, room, ec] {
      OwnedRoom* r = owner.find_owned(room);
      if (!r || !r->subscribed) return;
      if (ec) {
        finish_sync(*r, nullptr);
        return maybe_unsubscribe(*r);
      }
      repair(owner, *r);
    });
  });
}

void Node::repair(Shard& owner, OwnedRoom& r) {
  if (r.repairing) return;
  r.repairing = true;
  broker_->fetch(r.id, r.log.last_committed(), options_.limits.resume_limit,
                 [this, &owner, room = r.id](std::error_code ec, std::vector<core::Message> msgs) {
                   owner.post([this, &owner, room, ec, msgs = std::move(msgs)]() mutable {
                     OwnedRoom* r = owner.find_owned(room);
                     if (!r) return;
                     if (ec) {
                       r->repairing = false;
                       spdlog::warn("room {}: cannot fetch from the broker: {}", room, ec.message());
                       finish_sync(*r, nullptr);
                       maybe_unsubscribe(*r);
                       return;  // the periodic check (on_shard_tick) tries again
                     }
                     on_repaired(owner, room, std::move(msgs));
                   });
                 });
}

void Node::on_repaired(Shard& owner, const std::string& room, std::vector<core::Message> msgs) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r) return;
  const std::uint64_t last = r->log.last_committed();
  if (!msgs.empty() && msgs.front().seq > last + 1) {
    // The broker's log is capped and starts after our last seq: the store has the hole.
    store_.read(
        room, last, msgs.front().seq, options_.limits.resume_limit,
        [this, &owner, room, msgs = std::move(msgs)](std::error_code ec, std::vector<core::Message> older) mutable {
          owner.post([this, &owner, room, ec, older = std::move(older), msgs = std::move(msgs)]() mutable {
            OwnedRoom* r = owner.find_owned(room);
            if (!r) return;
            if (ec || older.empty() || older.front().seq != r->log.last_committed() + 1) {
              // Not persisted yet (the store lags the broker): keep what we have, retry.
              r->repairing = false;
              for (auto& m : msgs) r->early.emplace(m.seq, std::move(m));
              return;
            }
            for (auto& m : msgs) older.push_back(std::move(m));
            r->repairing = false;
            on_repaired(owner, room, std::move(older));
          });
        });
    return;
  }
  r->repairing = false;
  for (auto& m : msgs) r->early.emplace(m.seq, std::move(m));
  Outbox out(shard_count());
  drain_early(owner, *r, out);
  dispatch(out);
  if (!r->early.empty()) return repair(owner, *r);  // still a hole (published meanwhile): again
  r->synced = true;
  finish_sync(*r, r);
}

void Node::finish_sync(OwnedRoom& r, OwnedRoom* result) {
  auto waiting = std::move(r.sync_waiting);
  r.sync_waiting.clear();
  for (auto& w : waiting) w->answer(result);
}

void Node::drain_early(Shard&, OwnedRoom& r, Outbox& out) {
  auto it = r.early.begin();
  while (it != r.early.end() && it->first <= r.log.last_committed()) it = r.early.erase(it);  // seen already
  while (it != r.early.end() && it->first == r.log.last_committed() + 1) {
    broadcast_message(out, r, r.log.apply(std::move(it->second)));
    it = r.early.erase(it);
  }
}

void Node::on_message(core::Message m) {
  m.arrived_ns = steady_ns();  // this node's delivery is timed from here
  Shard& owner = owner_of(m.room);
  owner.post([this, &owner, m = std::move(m)]() mutable { cluster_receive(owner, std::move(m)); });
}

void Node::cluster_receive(Shard& owner, core::Message m) {
  OwnedRoom* r = owner.find_owned(m.room);
  if (!r || !r->subscribed || r->state != OwnedRoom::State::ready) return;
  if (m.seq <= r->log.last_committed()) return;  // already applied (from a repair)
  if (r->repairing || !r->synced || m.seq != r->log.last_committed() + 1) {
    if (r->early.size() >= max_early) {
      r->early.clear();  // too far behind to buffer: re-read from the log
      r->synced = false;
    }
    r->early.emplace(m.seq, std::move(m));
    if (!r->repairing) repair(owner, *r);
    return;
  }
  Outbox out(shard_count());
  broadcast_message(out, *r, r->log.apply(std::move(m)));
  if (!r->early.empty()) drain_early(owner, *r, out);
  dispatch(out);
}

void Node::maybe_unsubscribe(OwnedRoom& r) {
  if (!r.subscribed || r.local_members() > 0 || !r.sync_waiting.empty() || r.repairing) return;
  broker_->unsubscribe(r.id);
  r.subscribed = false;
  r.synced = false;
  r.early.clear();
  r.presence.forget_view();  // presence changes are no longer followed
}

void Node::on_room_created(std::string room, std::string by) {
  Shard& owner = owner_of(room);
  owner.post([this, &owner, room = std::move(room), by = std::move(by)] { learn_room(owner, room, by); });
}

void Node::learn_room(Shard& owner, const std::string& room, const std::string& by) {
  if (OwnedRoom* known = owner.find_owned(room)) {
    // Created here at the same moment: whichever create the room index took, this one or that.
    if (known->state == OwnedRoom::State::creating) known->heard_by = by;
    if (known->untold) {
      known->untold = false;
      tell_created(room, by, 0);
    }
    return;
  }
  auto r = std::make_unique<OwnedRoom>(room, options_.rooms, shard_count(), OwnedRoom::State::unloaded);
  owner.owned().emplace(room, std::move(r));
  owner.metrics().rooms_owned.add();
  tell_created(room, by, 0);
}

void Node::find_room(Shard& owner, const std::string& room, Shard::LookupWaiter then) {
  auto& waiting = owner.lookups()[room];
  if (waiting.size() >= max_lookup_waiters) return then(errc::unavailable);
  waiting.push_back(std::move(then));
  if (waiting.size() > 1) return;  // a lookup of the room is in flight: its answer serves this one too
  owner.metrics().room_lookups.add();
  broker_->lookup_room(room, [this, &owner, room](std::error_code ec, std::optional<std::string> by) {
    owner.post([this, &owner, room, ec, by = std::move(by)] {
      if (ec) spdlog::warn("room {}: cannot look it up in the broker's room index: {}", room, ec.message());
      if (!ec && by) {
        learn_room(owner, room, *by);
        return answer_lookup(owner, room, errc::no_such_room);
      }
      // Not in the index (Redis lost its data: restarted without AOF, flushed, replaced) or no
      // answer: the store decides, which holds every room before its creator announces it. The
      // waiters stay in place meanwhile: still one lookup, one answer.
      find_room_in_store(owner, room, !ec);
    });
  });
}

void Node::find_room_in_store(Shard& owner, const std::string& room, bool index_answered) {
  auto done = [this, &owner, room, index_answered](std::error_code ec, std::optional<store::StoredRoom> found) {
    owner.post([this, &owner, room, index_answered, ec, found = std::move(found)] {
      // The store could not tell (it logged why): the room may exist.
      if (ec) return answer_lookup(owner, room, errc::unavailable);
      if (!found) return answer_lookup(owner, room, errc::no_such_room);
      // Known by now (its announcement came, or a create here began): that path tells the
      // sessions, with the index's word on who created it.
      if (!owner.find_owned(room)) {
        learn_room(owner, room, found->created_by);
        // The index answered without it: record it again, so that other nodes find it there and
        // those that have not heard of it learn it (on_room_created; a node that knows it ignores
        // that, this one included). Fire and forget: the waiters' answer is the store's.
        if (index_answered && now_ms() - found->created_at >= reannounce_after_ms) {
          spdlog::warn(
              "room {}: in the store but not in the broker's room index (did Redis lose its data?): "
              "recording it there again",
              room);
          broker_->announce_room(room, found->created_by, {});
        }
      }
      answer_lookup(owner, room, errc::no_such_room);
    });
  };
  store_.find_room(room, std::move(done));
}

void Node::on_state(bool up) {
  spdlog::log(up ? spdlog::level::info : spdlog::level::warn, "broker {}", up ? "reachable" : "unreachable");
  if (!up) return;
  // Whatever was published while we were away is in the broker's log: catch every room up.
  for (auto& sh : shards_) {
    Shard* shard = sh.get();
    shard->post([this, shard] {
      for (auto& [id, r] : shard->owned())
        if (r->subscribed && r->state == OwnedRoom::State::ready) repair(*shard, *r);
      presence_recover(*shard, false);  // presence changes were missed too
    });
  }
}

namespace {
// A message published this long ago and not in the store lost its sender's node before the commit.
constexpr std::int64_t sweep_age_ms = 3000;
constexpr unsigned sweep_every_ticks = 3;
}  // namespace

void Node::durability_sweep(Shard& shard) {
  const std::int64_t cutoff = now_ms() - sweep_age_ms;
  for (auto& [id, rp] : shard.owned()) {
    OwnedRoom& r = *rp;
    if (!r.subscribed || r.state != OwnedRoom::State::ready || r.sweeping) continue;
    if (++r.sweep_ticks < sweep_every_ticks) continue;
    r.sweep_ticks = 0;
    const std::uint64_t last = r.log.last_committed();
    const std::uint64_t from = std::max(r.durable_checked, r.log.ring_first_seq() - 1);
    if (last <= from) continue;
    auto ring = r.log.newest_before(last + 1, static_cast<std::size_t>(last - from));
    if (!ring) continue;
    // The old enough ones, from `from` on without a break (seqs ascend; clocks may disagree).
    std::vector<core::Message> candidates;
    for (const core::Message* m : *ring) {
      if (m->seq <= from) continue;
      if (m->ts >= cutoff) break;
      candidates.push_back(*m);
    }
    if (candidates.empty()) continue;
    r.sweeping = true;
    const std::uint64_t hi = candidates.back().seq;
    const std::size_t n = candidates.size();
    store_.read(id, from, hi + 1, n,
                [this, &shard, room = id, hi, candidates = std::move(candidates)](
                    std::error_code ec, std::vector<core::Message> stored) mutable {
                  shard.post([this, &shard, room, hi, ec, candidates = std::move(candidates),
                              stored = std::move(stored)]() mutable {
                    auto finish = [&shard, room, hi](bool ok) {
                      OwnedRoom* r = shard.find_owned(room);
                      if (!r) return;
                      r->sweeping = false;
                      if (ok) r->durable_checked = std::max(r->durable_checked, hi);
                    };
                    if (ec) return finish(false);
                    std::vector<core::Message> missing;
                    std::size_t i = 0;
                    for (auto& m : candidates) {
                      while (i < stored.size() && stored[i].seq < m.seq) ++i;
                      if (i == stored.size() || stored[i].seq != m.seq) missing.push_back(std::move(m));
                    }
                    if (missing.empty()) return finish(true);
                    spdlog::warn(
                        "room {}: {} published message(s) up to seq {} are not in the store (their node "
                        "stopped before its commit): storing them from the log",
                        room, missing.size(), hi);
                    store_.append(std::move(missing), [&shard, finish](std::error_code aec) {
                      shard.post([finish, ok = !aec] { finish(ok); });
                    });
                  });
                });
  }
}

void Node::on_shard_tick(Shard& shard) {
  if (!broker_) return;
  presence_tick(shard);
  durability_sweep(shard);
  // Pub/Sub may drop a message with nothing after it to reveal the gap: compare each subscribed
  // room's last seq with the broker's once a second.
  std::vector<std::string> rooms;
  for (auto& [id, r] : shard.owned())
    if (r->subscribed && r->state == OwnedRoom::State::ready && !r->repairing) rooms.push_back(id);
  if (rooms.empty()) return;
  broker_->last_seqs(rooms, [this, &shard, rooms](std::error_code ec, std::vector<std::uint64_t> seqs) {
    if (ec) return;
    shard.post([this, &shard, rooms, seqs = std::move(seqs)] {
      for (std::size_t i = 0; i < rooms.size() && i < seqs.size(); ++i) {
        OwnedRoom* r = shard.find_owned(rooms[i]);
        if (r && r->subscribed && seqs[i] > r->log.last_committed()) repair(shard, *r);
      }
    });
  });
}

}  // namespace parley::node
