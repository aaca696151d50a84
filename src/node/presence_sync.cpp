// Presence across the cluster (see presence_sync.hpp). Announcements are batched (Delivery): a
// change waits up to rooms.presence_batch_ms with the room's other changes, and the batch goes to
// the members as one shared buffer, so that 5,000 users arriving within a second cost each member
// a handful of writes, not one per arrival. A batch goes early, ahead of any other event of the
// room, so the order of a room's events is kept. A session that joined while a batch waited is
// skipped by it and gets only the lines after its join: its `members` shows the earlier ones, its
// own arrival among them.
#include "node/presence_sync.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "node/delivery.hpp"

namespace parley::node {

namespace {
using View = core::ClusterPresence::View;
}  // namespace

void PresenceSync::add(Shard& owner, OwnedRoom& r, const std::string& user, std::string_view key, Outbox& out) {
  const auto c = r.presence.add(user, key);
  if (c.visible) delivery_.announce_presence(owner, r, user, true, out);
  if (!ctx_.broker || !c.first_or_last) return;
  ctx_.broker->presence_join(r.id, user, [&owner, room = r.id](std::error_code ec) {
    if (!ec) return;
    owner.post([&owner, room] {
      if (OwnedRoom* r = owner.find_owned(room)) r->cluster.presence_dirty = true;
    });
  });
}

void PresenceSync::remove(Shard& owner, OwnedRoom& r, const std::string& user, Outbox& out) {
  const auto c = r.presence.remove(user);
  if (c.visible) delivery_.announce_presence(owner, r, user, false, out);
  if (!ctx_.broker || !c.first_or_last) return;
  ctx_.broker->presence_leave(r.id, user, [&owner, room = r.id](std::error_code ec) {
    if (!ec) return;
    owner.post([&owner, room] {
      if (OwnedRoom* r = owner.find_owned(room)) r->cluster.presence_dirty = true;
    });
  });
}

void PresenceSync::when_ready(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f) {
  if (r.presence.view() == View::ready) return f(&r);
  r.cluster.presence_waiting.push_back(std::move(f));
  if (r.presence.view() == View::none) snapshot(owner, r);
}

void PresenceSync::snapshot(Shard& owner, OwnedRoom& r) {
  r.presence.begin_snapshot();
  ctx_.broker->presence_members(r.id, [this, &owner, room = r.id](std::error_code ec, broker::PresenceSnapshot snap) {
    owner.post([this, &owner, room, ec, snap = std::move(snap)]() mutable {
      OwnedRoom* r = owner.find_owned(room);
      if (!r) return;
      auto waiting = std::move(r->cluster.presence_waiting);
      r->cluster.presence_waiting.clear();
      if (!r->cluster.link.subscribed()) {
        // Unsubscribed meanwhile: changes are not followed, the snapshot would go stale. The
        // joins waiting for it start over (and subscribe again).
        r->presence.forget_view();
        for (auto& f : waiting) f(r);
        return;
      }
      if (ec) {
        spdlog::warn("room {}: cannot read its members from the broker: {}", room, ec.message());
        r->presence.abort_snapshot();  // the tick asks again
        for (auto& f : waiting) f(nullptr);
        return;
      }
      std::vector<core::ClusterPresence::Change> changes;
      const bool gap = r->presence.apply_snapshot(snap.version, std::move(snap.users), changes);
      Outbox out(ctx_.shard_count());
      for (const auto& c : changes) delivery_.announce_presence(owner, *r, c.user, c.joined, out);
      delivery_.dispatch(out);
      for (auto& f : waiting) f(r);
      if (gap && r->cluster.link.subscribed() && r->presence.view() == View::ready) snapshot(owner, *r);
    });
  });
}

void PresenceSync::changed(Shard& owner, const std::string& room, std::uint64_t version, const std::string& user,
                           bool joined) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || !r->cluster.link.subscribed()) return;
  std::vector<core::ClusterPresence::Change> changes;
  const bool gap = r->presence.apply(version, user, joined, changes);
  if (!changes.empty()) {
    Outbox out(ctx_.shard_count());
    for (const auto& c : changes) delivery_.announce_presence(owner, *r, c.user, c.joined, out);
    delivery_.dispatch(out);
  }
  if (gap) snapshot(owner, *r);  // a change was missed: read the members again
}

void PresenceSync::restate(Shard& owner, OwnedRoom& r) {
  r.cluster.presence_dirty = false;
  ctx_.broker->presence_sync(r.id, r.presence.local_users(), [&owner, room = r.id](std::error_code ec) {
    if (!ec) return;
    owner.post([&owner, room] {
      if (OwnedRoom* r = owner.find_owned(room)) r->cluster.presence_dirty = true;
    });
  });
}

void PresenceSync::reset() {
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([this, shard] { recover(*shard, true); });
  }
}

void PresenceSync::recover(Shard& shard, bool restate_all) {
  if (!ctx_.broker) return;
  for (auto& [id, r] : shard.owned()) {
    if (restate_all && (r->presence.local_size() > 0 || r->cluster.presence_dirty)) restate(shard, *r);
    // Changes were missed (we were away), or the broker lost its data and numbers the room's
    // changes from 1 again: compare with a fresh snapshot, which also resets the version. Asked
    // after the restatement, it includes it.
    if (r->cluster.link.subscribed() && r->presence.view() == View::ready) snapshot(shard, *r);
  }
}

void PresenceSync::tick(Shard& shard) {
  for (auto& [id, r] : shard.owned()) {
    if (r->cluster.presence_dirty) restate(shard, *r);
    if (r->cluster.link.subscribed() && r->presence.view() == View::none && r->local_members() > 0) snapshot(shard, *r);
  }
}

}  // namespace parley::node
