#include "node/cluster_sync.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <utility>

#include "node/delivery.hpp"
#include "node/errors.hpp"
#include "node/presence_sync.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using protocol::errc;

void ClusterSync::send(Shard& owner, OwnedRoom& r, core::Message m, SessionRef who, std::string ref) {
  if (auto hit = r.log.find_cid(m)) {
    if (hit->text_hash != core::RoomLog::content_hash(m))
      return delivery_.reply_now(
          who, error_reply(errc::cid_conflict, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
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
    return owner.queue_append(PendingAppend{std::move(m), who, std::move(ref)});
  }
  if (!ctx_.store.has_capacity())
    return delivery_.reply_now(who,
                               error_reply(errc::overloaded, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
  // The room's Redis changed (a failover, a restart): it may lack seqs that were acked. Read the
  // store's last seq before the first publish there (docs/architecture.md, "Failover without seq
  // reuse").
  const std::uint64_t epoch = ctx_.broker->epoch(m.room);
  if (epoch != r.cluster.epoch) return reseed(owner, r, std::move(m), who, std::move(ref), epoch);
  owner.metrics().messages_in.add();
  // The floor: never a seq below what this node has seen, nor below what the store held when the
  // room's Redis last changed.
  m.seq = std::max(r.log.last_committed(), r.cluster.store_floor);
  ctx_.broker->publish_in_epoch(m, epoch, [this, &owner, m, who, ref](std::error_code ec, broker::Published p) mutable {
    owner.post([this, &owner, m = std::move(m), who, ref = std::move(ref), ec, p]() mutable {
      if (ec)
        return delivery_.reply_now(
            who, error_reply(errc::unavailable, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
      // Deleted meanwhile (here, or on another node whose announcement came first): not stored,
      // not acked. Its store deletion may have been handed over already, and an append after it
      // would outlive the room; the broker's part deletes what the publish left there.
      const OwnedRoom* r = owner.find_owned(m.room);
      if (!r || r->state == OwnedRoom::State::deleting)
        return delivery_.reply_now(
            who, error_reply(errc::no_such_room, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
      // A retry of a message published before (perhaps through another node, perhaps one that
      // crashed before its commit): the ack must mean "durable", so store the published message
      // (from the broker's log) again and ack after that commit; a store holding it already
      // takes the same row as success.
      if (p.duplicate) return store_duplicate(owner, std::move(m), p, who, std::move(ref));
      m.seq = p.seq;
      m.ts = p.ts;
      owner.queue_append(PendingAppend{std::move(m), who, std::move(ref)});
    });
  });
}

namespace {

// The room's acked changes whose broker copies are applied by now: gone (the ring shows them).
void forget_applied(OwnedRoom& r) {
  auto& ahead = r.cluster.acked_ahead;  // in seq order: those applied are a prefix
  const std::uint64_t applied = r.log.last_committed();
  ahead.erase(ahead.begin(),
              std::find_if(ahead.begin(), ahead.end(), [applied](const core::Message& c) { return c.seq > applied; }));
}

}  // namespace

void ClusterSync::acked(OwnedRoom& r, const core::Message& change) {
  forget_applied(r);
  if (change.seq <= r.log.last_committed()) return;
  auto& ahead = r.cluster.acked_ahead;
  if (ahead.size() >= max_acked_ahead) ahead.erase(ahead.begin());
  // Kept in seq order: one room's commits are acked in order, except a batch split after
  // seq_taken, whose appends are acked one by one as each commits.
  ahead.insert(std::upper_bound(ahead.begin(), ahead.end(), change.seq,
                                [](std::uint64_t seq, const core::Message& c) { return seq < c.seq; }),
               change);
}

const core::Message* ClusterSync::as_acked(OwnedRoom& r, const core::Message* target, core::Message& scratch) {
  if (r.cluster.acked_ahead.empty() || !target) return target;
  forget_applied(r);
  const core::Message* seen = target;
  for (const core::Message& c : r.cluster.acked_ahead) {
    if (c.target != target->seq) continue;
    if (seen == target) seen = &(scratch = *target);
    core::apply_change(scratch, c);
  }
  return seen;
}

void ClusterSync::reseed(Shard& owner, OwnedRoom& r, core::Message m, SessionRef who, std::string ref,
                         std::uint64_t epoch) {
  // One read per room at a time; a send meanwhile is refused (the client retries, same cid).
  if (r.cluster.reseeding)
    return delivery_.reply_now(who,
                               error_reply(errc::unavailable, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
  r.cluster.reseeding = true;
  owner.metrics().seq_reseeds.add();
  ctx_.store.find_room(r.id, [this, &owner, m = std::move(m), who, ref = std::move(ref), epoch](
                                 std::error_code ec, std::optional<store::StoredRoom> stored) mutable {
    owner.post([this, &owner, m = std::move(m), who, ref = std::move(ref), epoch, ec,
                last = stored ? stored->last_seq : 0]() mutable {
      OwnedRoom* r = owner.find_owned(m.room);
      if (!r)
        return delivery_.reply_now(
            who, error_reply(errc::unavailable, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
      r->cluster.reseeding = false;
      if (ec) {
        spdlog::warn("room {}: cannot read its last stored seq after a broker failover: {}", m.room, ec.message());
        return delivery_.reply_now(
            who, error_reply(errc::unavailable, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
      }
      // Read after the epoch moved: every seq acked before then is in the store (an ack follows
      // its commit), so no publish in this epoch goes at or below it.
      r->cluster.store_floor = std::max(r->cluster.store_floor, last);
      r->cluster.epoch = epoch;
      spdlog::info("room {}: broker epoch {}: seq floor {} (store), {} (seen here)", m.room, epoch, last,
                   r->log.last_committed());
      send(owner, *r, std::move(m), who, std::move(ref));
    });
  });
}

void ClusterSync::republish(Shard& owner, PendingAppend p) {
  core::Message& m = p.message;
  auto refuse = [&](errc code, std::string_view why) {
    delivery_.reply_now(p.who, error_reply(code, why, p.ref, ErrorContext{.room = m.room, .conn = p.who.id}));
  };
  OwnedRoom* r = owner.find_owned(m.room);
  if (!r || r->state != OwnedRoom::State::ready) return refuse(errc::unavailable, {});
  if (p.republished) {
    owner.metrics().seq_taken.add();
    spdlog::warn("room {}: seq {} is stored with another message again after a re-publish: send refused", m.room,
                 m.seq);
    return refuse(errc::store_failed, "the message could not be stored; send it again with the same cid");
  }
  // Its floor as send's: the new seq comes after every seq this node has seen and the store's
  // floor, read again first if the room's epoch moved since this node last read it (as the
  // commit that failed was in flight across a failover, it usually has). The client's retry of
  // the cid would not do it: it is answered from the cid table, under the taken seq.
  const std::uint64_t epoch = ctx_.broker->epoch(m.room);
  if (epoch != r->cluster.epoch) {
    if (r->cluster.reseeding) return refuse(errc::unavailable, {});
    r->cluster.reseeding = true;
    owner.metrics().seq_reseeds.add();
    std::string room = m.room;  // before the callback takes p
    ctx_.store.find_room(std::move(room), [this, &owner, p = std::move(p), epoch](
                                              std::error_code ec, std::optional<store::StoredRoom> stored) mutable {
      owner.post([this, &owner, p = std::move(p), epoch, ec, last = stored ? stored->last_seq : 0]() mutable {
        OwnedRoom* r = owner.find_owned(p.message.room);
        if (r) r->cluster.reseeding = false;
        if (!r || ec)
          return delivery_.reply_now(
              p.who, error_reply(errc::unavailable, {}, p.ref, ErrorContext{.room = p.message.room, .conn = p.who.id}));
        r->cluster.store_floor = std::max(r->cluster.store_floor, last);
        r->cluster.epoch = epoch;
        republish(owner, std::move(p));
      });
    });
    return;
  }
  owner.metrics().seq_taken.add();
  spdlog::warn(
      "room {}: seq {} is stored with another message (handed out twice across a broker failover): "
      "publishing the message again",
      m.room, m.seq);
  m.seq = std::max({r->log.last_committed(), r->cluster.store_floor, m.seq});
  ctx_.broker->publish_in_epoch(
      m, epoch, [this, &owner, m, who = p.who, ref = p.ref](std::error_code ec, broker::Published got) mutable {
        owner.post([this, &owner, m = std::move(m), who, ref = std::move(ref), ec, got]() mutable {
          if (ec)
            return delivery_.reply_now(
                who, error_reply(errc::unavailable, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
          // The broker has this cid already (this message re-published through another node):
          // stored as published there, as any retry is.
          if (got.duplicate) return store_duplicate(owner, std::move(m), got, who, std::move(ref), true);
          m.seq = got.seq;
          m.ts = got.ts;
          // A retry of the cid here now finds its new seq, not the one another message holds.
          if (OwnedRoom* r = owner.find_owned(m.room)) r->log.move_cid(m);
          owner.queue_append(PendingAppend{std::move(m), who, std::move(ref), true});
        });
      });
}

void ClusterSync::store_duplicate(Shard& owner, core::Message m, broker::Published p, SessionRef who, std::string ref,
                                  bool republished) {
  ctx_.broker->fetch(
      m.room, p.seq - 1, 1,
      [this, &owner, m, p, who, ref, republished](std::error_code ec, std::vector<core::Message> msgs) mutable {
        owner.post([this, &owner, m = std::move(m), p, who, ref = std::move(ref), ec, msgs = std::move(msgs),
                    republished]() mutable {
          if (ec)
            return delivery_.reply_now(
                who, error_reply(errc::unavailable, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
          if (msgs.empty() || msgs.front().seq != p.seq) {
            // Trimmed from the broker's log (broker.log_capacity messages ago): committed long since.
            return delivery_.reply_now(who, protocol::ack_event(m.room, m.cid, p.seq, p.ts, ref));
          }
          // The cid was published with another text: not a retry.
          if (msgs.front().text != m.text)
            return delivery_.reply_now(
                who, error_reply(errc::cid_conflict, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
          if (republished)
            if (OwnedRoom* r = owner.find_owned(m.room)) r->log.move_cid(msgs.front());
          owner.queue_append(PendingAppend{std::move(msgs.front()), who, std::move(ref), republished});
        });
      });
}

void ClusterSync::when_synced(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f) {
  // Bounded: a subscribe waits for Redis to come back, and a client must not wait for an outage.
  // The waiters its timer answered go now: clients retrying through an outage add one each.
  std::erase_if(r.cluster.sync_waiting, [](const auto& w) { return w->answered(); });
  auto w = std::make_shared<SyncWaiter>(owner.context(), std::move(f));
  w->timer.expires_after(std::chrono::milliseconds(ctx_.options.broker_wait_ms));
  w->timer.async_wait([w](boost::system::error_code ec) {
    if (!ec) w->answer(nullptr);
  });
  r.cluster.sync_waiting.push_back(std::move(w));
  if (r.cluster.link.subscribed()) return repair(owner, r);
  r.cluster.link.subscribe();
  // Fetch only once the subscription is live: whatever is published after that arrives by
  // Pub/Sub, whatever before it is in the log.
  ctx_.broker->subscribe(r.id, [this, &owner, room = r.id](std::error_code ec) {
    owner.post([this, &owner, room, ec] {
      OwnedRoom* r = owner.find_owned(room);
      if (!r || !r->cluster.link.subscribed()) return;
      if (ec) {
        finish_sync(*r, nullptr);
        return maybe_unsubscribe(*r);
      }
      repair(owner, *r);
    });
  });
}

void ClusterSync::repair(Shard& owner, OwnedRoom& r) {
  if (!r.cluster.link.start_fetch()) return;  // one fetch at a time
  ctx_.broker->fetch(r.id, r.log.last_committed(), ctx_.options.limits.resume_limit,
                     [this, &owner, room = r.id](std::error_code ec, std::vector<core::Message> msgs) {
                       owner.post([this, &owner, room, ec, msgs = std::move(msgs)]() mutable {
                         OwnedRoom* r = owner.find_owned(room);
                         if (!r) return;
                         if (ec) {
                           r->cluster.link.fetch_ended();
                           spdlog::warn("room {}: cannot fetch from the broker: {}", room, ec.message());
                           finish_sync(*r, nullptr);
                           maybe_unsubscribe(*r);
                           return;  // the periodic check (on_shard_tick) tries again
                         }
                         on_repaired(owner, room, std::move(msgs));
                       });
                     });
}

void ClusterSync::on_repaired(Shard& owner, const std::string& room, std::vector<core::Message> msgs) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r) return;
  const std::uint64_t last = r->log.last_committed();
  if (!msgs.empty() && msgs.front().seq > last + 1) {
    // The broker's log is capped and starts after our last seq: the store has the hole. (Read
    // before the call: its arguments are evaluated in no set order, and the lambda takes msgs.)
    const std::uint64_t first = msgs.front().seq;
    ctx_.store.read(
        room, last, first, ctx_.options.limits.resume_limit,
        [this, &owner, room, msgs = std::move(msgs)](std::error_code ec, std::vector<core::Message> older) mutable {
          owner.post([this, &owner, room, ec, older = std::move(older), msgs = std::move(msgs)]() mutable {
            OwnedRoom* r = owner.find_owned(room);
            if (!r) return;
            if (ec || older.empty() || older.front().seq != r->log.last_committed() + 1) {
              // Not persisted yet (the store lags the broker): keep what we have, retry.
              r->cluster.link.fetch_ended();
              for (auto& m : msgs) r->cluster.early.emplace(m.seq, std::move(m));
              return;
            }
            for (auto& m : msgs) older.push_back(std::move(m));
            on_repaired(owner, room, std::move(older));  // the fetch goes on: still one at a time
          });
        });
    return;
  }
  r->cluster.link.fetch_ended();
  for (auto& m : msgs) r->cluster.early.emplace(m.seq, std::move(m));
  Outbox out(ctx_.shard_count());
  drain_early(*r, out);
  delivery_.dispatch(out);
  if (!r->cluster.early.empty()) return repair(owner, *r);  // still a hole (published meanwhile): again
  r->cluster.link.mark_synced();
  finish_sync(*r, r);
}

void ClusterSync::finish_sync(OwnedRoom& r, OwnedRoom* result) {
  auto waiting = std::move(r.cluster.sync_waiting);
  r.cluster.sync_waiting.clear();
  for (auto& w : waiting) w->answer(result);
}

void ClusterSync::drain_early(OwnedRoom& r, Outbox& out) {
  auto& early = r.cluster.early;
  auto it = early.begin();
  while (it != early.end() && it->first <= r.log.last_committed()) it = early.erase(it);  // seen already
  while (it != early.end() && it->first == r.log.last_committed() + 1) {
    delivery_.broadcast_message(out, r, r.log.apply(std::move(it->second)));
    it = early.erase(it);
  }
}

void ClusterSync::receive(Shard& owner, core::Message m) {
  OwnedRoom* r = owner.find_owned(m.room);
  if (!r || !r->cluster.link.subscribed() || r->state != OwnedRoom::State::ready) return;
  if (m.seq <= r->log.last_committed()) return;  // already applied (from a repair)
  auto& link = r->cluster.link;
  if (link.fetching() || !link.synced() || m.seq != r->log.last_committed() + 1) {
    if (!link.fetching() && link.synced()) owner.metrics().broker_catchups.add();  // a gap: behind
    if (r->cluster.early.size() >= max_early) {
      r->cluster.early.clear();  // too far behind to buffer: re-read from the log
      link.lost_track();
    }
    r->cluster.early.emplace(m.seq, std::move(m));
    if (!link.fetching()) repair(owner, *r);
    return;
  }
  Outbox out(ctx_.shard_count());
  delivery_.broadcast_message(out, *r, r->log.apply(std::move(m)));
  if (!r->cluster.early.empty()) drain_early(*r, out);
  delivery_.dispatch(out);
}

void ClusterSync::maybe_unsubscribe(OwnedRoom& r) {
  auto& c = r.cluster;
  if (!c.link.subscribed() || r.local_members() > 0 || !c.sync_waiting.empty() || c.link.fetching()) return;
  ctx_.broker->unsubscribe(r.id);
  c.link.unsubscribe();
  c.early.clear();
  r.presence.forget_view();  // presence changes are no longer followed
}

void ClusterSync::on_state(bool up, bool stopping) {
  if (stopping) {
    // This node closed the connection itself: the expected end, not an outage.
    if (!up) spdlog::debug("broker connection closed: this node is stopping");
    return;
  }
  spdlog::log(up ? spdlog::level::info : spdlog::level::warn, "broker {}", up ? "reachable" : "unreachable");
  if (!up) return;
  // Whatever was published while we were away is in the broker's log: catch every room up.
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([this, shard] {
      for (auto& [id, r] : shard->owned())
        if (r->cluster.link.subscribed() && r->state == OwnedRoom::State::ready) repair(*shard, *r);
      presence_.recover(*shard, false);  // presence changes were missed too
    });
  }
}

namespace {
// A message published this long ago and not in the store lost its sender's node before the commit.
constexpr std::int64_t sweep_age_ms = 3000;
constexpr unsigned sweep_every_ticks = 3;
}  // namespace

void ClusterSync::durability_sweep(Shard& shard) {
  const std::int64_t cutoff = ctx_.now_ms() - sweep_age_ms;
  for (auto& [id, rp] : shard.owned()) {
    OwnedRoom& r = *rp;
    if (!r.cluster.link.subscribed() || r.state != OwnedRoom::State::ready || r.cluster.sweeping) continue;
    if (++r.cluster.sweep_ticks < sweep_every_ticks) continue;
    r.cluster.sweep_ticks = 0;
    const std::uint64_t last = r.log.last_committed();
    const std::uint64_t from = std::max(r.cluster.durable_checked, r.log.ring_first_seq() - 1);
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
    r.cluster.sweeping = true;
    const std::uint64_t hi = candidates.back().seq;
    const std::size_t n = candidates.size();
    ctx_.store.read(id, from, hi + 1, n,
                    [this, &shard, room = id, hi, candidates = std::move(candidates)](
                        std::error_code ec, std::vector<core::Message> stored) mutable {
                      shard.post([this, &shard, room, hi, ec, candidates = std::move(candidates),
                                  stored = std::move(stored)]() mutable {
                        auto finish = [&shard, room, hi](bool ok) {
                          OwnedRoom* r = shard.find_owned(room);
                          if (!r) return;
                          r->cluster.sweeping = false;
                          if (ok) r->cluster.durable_checked = std::max(r->cluster.durable_checked, hi);
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
                        ctx_.store.append(std::move(missing), [&shard, finish](std::error_code aec) {
                          shard.post([finish, ok = !aec] { finish(ok); });
                        });
                      });
                    });
  }
}

void ClusterSync::tick(Shard& shard) {
  durability_sweep(shard);
  // Pub/Sub may drop a message with nothing after it to reveal the gap: compare each subscribed
  // room's last seq with the broker's once a second.
  std::vector<std::string> rooms;
  for (auto& [id, r] : shard.owned())
    if (r->cluster.link.subscribed() && r->state == OwnedRoom::State::ready && !r->cluster.link.fetching())
      rooms.push_back(id);
  if (rooms.empty()) return;
  ctx_.broker->last_seqs(rooms, [this, &shard, rooms](std::error_code ec, std::vector<std::uint64_t> seqs) {
    if (ec) return;
    shard.post([this, &shard, rooms, seqs = std::move(seqs)] {
      for (std::size_t i = 0; i < rooms.size() && i < seqs.size(); ++i) {
        OwnedRoom* r = shard.find_owned(rooms[i]);
        if (r && r->cluster.link.subscribed() && seqs[i] > r->log.last_committed()) {
          shard.metrics().broker_catchups.add();  // behind the broker's last seq
          repair(shard, *r);
        }
      }
    });
  });
}

}  // namespace parley::node
