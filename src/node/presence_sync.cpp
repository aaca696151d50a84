// Presence: who is in a room. On one node, the owner shard counts the room's sessions per user
// (core::ClusterPresence without a cluster view). In a cluster, the owner also tells the broker
// of this node's first and last session of each user, follows the room's members on every node
// (a snapshot once subscribed, then the broker's numbered changes) and announces to its local
// members every change of the union of the two. A failed broker call leaves the room "dirty":
// the next tick restates this node's users of the room, which the broker applies after anything
// sent before. See broker/broker.hpp for the broker's side (heartbeats, crashed nodes).
//
// Announcements are batched: a change waits up to rooms.presence_batch_ms with the room's other
// changes, and the batch goes to the members as one shared buffer, so that 5,000 users arriving
// within a second cost each member a handful of writes, not one per arrival. A batch goes early,
// ahead of any other event of the room, so the order of a room's events is kept. A session that
// joined while a batch waited is skipped by it and gets only the lines after its join: its
// `members` shows the earlier ones, its own arrival among them.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "node/node.hpp"
#include "protocol/events.hpp"

namespace parley::node {

namespace {
using View = core::ClusterPresence::View;
}  // namespace

void Node::presence_add(Shard& owner, OwnedRoom& r, const std::string& user, Outbox& out) {
  const auto c = r.presence.add(user);
  if (c.visible) announce_presence(owner, r, user, true, out);
  if (!broker_ || !c.first_or_last) return;
  broker_->presence_join(r.id, user, [&owner, room = r.id](std::error_code ec) {
    if (!ec) return;
    owner.post([&owner, room] {
      if (OwnedRoom* r = owner.find_owned(room)) r->presence_dirty = true;
    });
  });
}

void Node::presence_remove(Shard& owner, OwnedRoom& r, const std::string& user, Outbox& out) {
  const auto c = r.presence.remove(user);
  if (c.visible) announce_presence(owner, r, user, false, out);
  if (!broker_ || !c.first_or_last) return;
  broker_->presence_leave(r.id, user, [&owner, room = r.id](std::error_code ec) {
    if (!ec) return;
    owner.post([&owner, room] {
      if (OwnedRoom* r = owner.find_owned(room)) r->presence_dirty = true;
    });
  });
}

void Node::announce_presence(Shard& owner, OwnedRoom& r, const std::string& user, bool joined, Outbox& out) {
  const std::size_t delay_ms = options_.rooms.presence_batch_ms;
  if (delay_ms == 0)
    return fan_out(out, r, std::make_shared<const std::string>(protocol::presence_event(r.id, user, joined)));
  if (!r.presence_batch.empty()) r.presence_batch.push_back('\n');
  r.presence_lines.push_back(r.presence_batch.size());
  r.presence_batch += protocol::presence_event(r.id, user, joined);
  if (r.presence_queued) return;  // its batch is due already
  r.presence_queued = true;
  auto& rooms = owner.presence_rooms();
  rooms.push_back(r.id);
  if (rooms.size() > 1) return;  // the timer is armed
  owner.presence_timer().expires_after(std::chrono::milliseconds(delay_ms));
  owner.presence_timer().async_wait([this, &owner](boost::system::error_code ec) {
    if (!ec) send_presence_batches(owner);
  });
}

void Node::flush_presence(OwnedRoom& r, Outbox& out) {
  // The room stays queued: what it announces from now until the timer goes waits for it.
  if (r.presence_batch.empty()) return;
  auto batch = std::make_shared<const std::string>(std::exchange(r.presence_batch, {}));
  const auto lines = std::exchange(r.presence_lines, {});
  const auto late = std::exchange(r.presence_late, {});
  std::vector<std::vector<std::uint64_t>> skip(shard_count());
  for (const auto& [id, j] : late) skip[j.who.shard].push_back(id);
  for (unsigned i = 0; i < r.shard_members.size(); ++i) {
    if (r.shard_members[i] == 0) continue;
    std::sort(skip[i].begin(), skip[i].end());
    out.add(i, ShardItem{ShardItem::Kind::batch, r.id, batch, {}, 0, {}, {}, std::move(skip[i])});
  }
  // After the batch, on the same shard: a late joiner's lines come after the events it was
  // skipped for.
  for (const auto& [id, j] : late)
    if (j.first_line < lines.size()) out.reply(j.who, batch->substr(lines[j.first_line]));
}

void Node::send_presence_batches(Shard& owner) {
  auto rooms = std::exchange(owner.presence_rooms(), {});
  Outbox out(shard_count());
  for (const auto& id : rooms) {
    OwnedRoom* r = owner.find_owned(id);
    if (!r) continue;  // gone meanwhile, and its events with it
    r->presence_queued = false;
    flush_presence(*r, out);
  }
  dispatch(out);
}

void Node::when_presence_ready(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f) {
  if (r.presence.view() == View::ready) return f(&r);
  r.presence_waiting.push_back(std::move(f));
  if (r.presence.view() == View::none) presence_snapshot(owner, r);
}

void Node::presence_snapshot(Shard& owner, OwnedRoom& r) {
  r.presence.begin_snapshot();
  broker_->presence_members(r.id, [this, &owner, room = r.id](std::error_code ec, broker::PresenceSnapshot snap) {
    owner.post([this, &owner, room, ec, snap = std::move(snap)]() mutable {
      OwnedRoom* r = owner.find_owned(room);
      if (!r) return;
      auto waiting = std::move(r->presence_waiting);
      r->presence_waiting.clear();
      if (!r->subscribed) {
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
      Outbox out(shard_count());
      for (const auto& c : changes) announce_presence(owner, *r, c.user, c.joined, out);
      dispatch(out);
      for (auto& f : waiting) f(r);
      if (gap && r->subscribed && r->presence.view() == View::ready) presence_snapshot(owner, *r);
    });
  });
}

void Node::on_presence(std::string room, std::uint64_t version, std::string user, bool joined) {
  Shard& owner = owner_of(room);
  owner.post([this, &owner, room = std::move(room), version, user = std::move(user), joined] {
    presence_changed(owner, room, version, user, joined);
  });
}

void Node::presence_changed(Shard& owner, const std::string& room, std::uint64_t version, const std::string& user,
                            bool joined) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || !r->subscribed) return;
  std::vector<core::ClusterPresence::Change> changes;
  const bool gap = r->presence.apply(version, user, joined, changes);
  if (!changes.empty()) {
    Outbox out(shard_count());
    for (const auto& c : changes) announce_presence(owner, *r, c.user, c.joined, out);
    dispatch(out);
  }
  if (gap) presence_snapshot(owner, *r);  // a change was missed: read the members again
}

void Node::presence_restate(Shard& owner, OwnedRoom& r) {
  r.presence_dirty = false;
  broker_->presence_sync(r.id, r.presence.local_users(), [&owner, room = r.id](std::error_code ec) {
    if (!ec) return;
    owner.post([&owner, room] {
      if (OwnedRoom* r = owner.find_owned(room)) r->presence_dirty = true;
    });
  });
}

void Node::on_presence_reset() {
  for (auto& sh : shards_) {
    Shard* shard = sh.get();
    shard->post([this, shard] { presence_recover(*shard, true); });
  }
}

void Node::presence_recover(Shard& shard, bool restate) {
  if (!broker_) return;
  for (auto& [id, r] : shard.owned()) {
    if (restate && (r->presence.local_size() > 0 || r->presence_dirty)) presence_restate(shard, *r);
    // Changes were missed (we were away), or the broker lost its data and numbers the room's
    // changes from 1 again: compare with a fresh snapshot, which also resets the version. Asked
    // after the restatement, it includes it.
    if (r->subscribed && r->presence.view() == View::ready) presence_snapshot(shard, *r);
  }
}

void Node::presence_tick(Shard& shard) {
  for (auto& [id, r] : shard.owned()) {
    if (r->presence_dirty) presence_restate(shard, *r);
    if (r->subscribed && r->presence.view() == View::none && r->local_members() > 0) presence_snapshot(shard, *r);
  }
}

}  // namespace parley::node
