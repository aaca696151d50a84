#pragma once
// Cluster mode: the broker orders each room for every node (broker/broker.hpp). The owner shard
// of a room on this node publishes its clients' messages through the broker, subscribes to the
// room while the node has members in it, applies the broker's messages in seq order, and repairs
// any gap (a missed Pub/Sub message, a broker restart) from the broker's log, then the store,
// before it delivers anything after the gap. How a room follows the broker is its RoomLink.
#include <cstdint>
#include <functional>
#include <string>

#include "broker/broker.hpp"
#include "node/context.hpp"
#include "node/outbox.hpp"

namespace parley::node {

class Delivery;
class PresenceSync;

class ClusterSync {
 public:
  // Messages published past a gap that wait for its repair; past this the room re-syncs from
  // the log.
  static constexpr std::size_t max_early = 10000;
  // This node's changes acked and not yet applied here that a decision takes into account (the
  // oldest go first: the broker's copy of a change acked so long ago has almost always come).
  static constexpr std::size_t max_acked_ahead = 256;

  ClusterSync(NodeContext& ctx, Delivery& delivery, PresenceSync& presence)
      : ctx_(ctx), delivery_(delivery), presence_(presence) {}

  // A client's message for room `r`: published (the broker assigns its seq and tells every
  // node), then committed here and acked after the commit (RoomOwner::on_committed).
  void send(Shard& owner, OwnedRoom& r, core::Message m, SessionRef who, std::string ref);
  // The store answered seq_taken for this append of one message: its seq was handed out twice
  // (a failover while its commit was in flight) and another message holds it. Published again
  // under a new seq (its cid re-pointed there; the room's store floor read first if its broker
  // epoch moved), then committed and acked; refused (store_failed: the client retries with its
  // cid) if that happened once already. docs/architecture.md, "Failover without seq reuse".
  void republish(Shard& owner, PendingAppend p);
  // Runs `f` once the room is subscribed and caught up with the broker, or with null if that
  // failed or has not happened within options.broker_wait_ms (the subscription goes on: a later
  // request finds the room synced).
  void when_synced(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f);
  // A change of this node's was committed and is acked: until the broker's copy of it is applied
  // here, as_acked() shows its target with it.
  void acked(OwnedRoom& r, const core::Message& change);
  // `target` (the ring's copy, or null) as this node's clients were told it is: with the changes
  // acked here and not applied yet (in `scratch`, then returned). A delete acked must refuse an
  // edit of its message sent at once, before the broker's copy of the delete has come back.
  const core::Message* as_acked(OwnedRoom& r, const core::Message* target, core::Message& scratch);
  // Unsubscribes the room if nothing here needs it any more (no member, no waiter, no fetch).
  void maybe_unsubscribe(OwnedRoom& r);

  // The broker's word (broker::Handler), posted to the room's owner shard: a published message.
  void receive(Shard& owner, core::Message m);
  // The broker is reachable again (`up`) or not: whatever was published while this node was
  // away is in the broker's log, so every subscribed room catches up.
  // The broker's connection came up or went down; `stopping`: this node's own stop closed it.
  void on_state(bool up, bool stopping = false);
  // Once a second on each shard: the durability sweep, and a check of every subscribed room's
  // last seq against the broker's (Pub/Sub may drop a message with nothing after it to show the
  // gap).
  void tick(Shard& shard);

 private:
  // The room's broker epoch moved (broker::Broker::epoch): reads the store's last seq for the
  // room as its floor, then sends `m`.
  void reseed(Shard& owner, OwnedRoom& r, core::Message m, SessionRef who, std::string ref, std::uint64_t epoch);
  void store_duplicate(Shard& owner, core::Message m, broker::Published p, SessionRef who, std::string ref,
                       bool republished = false);
  // Hands the room's sync waiters their answer: the room (synced) or null (failed).
  void finish_sync(OwnedRoom& r, OwnedRoom* result);
  void repair(Shard& owner, OwnedRoom& r);
  void on_repaired(Shard& owner, const std::string& room, std::vector<core::Message> msgs);
  // Applies every message that continues the room's sequence, from `early`, fanning out.
  void drain_early(OwnedRoom& r, Outbox& out);
  // Stores applied messages that are still missing from the store a few seconds after their
  // publication (their node died before its commit): the broker's log is the recovery log.
  void durability_sweep(Shard& shard);

  NodeContext& ctx_;
  Delivery& delivery_;
  PresenceSync& presence_;
};

}  // namespace parley::node
