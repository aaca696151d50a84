#pragma once
// Presence: who is in a room. On one node, the owner shard counts the room's sessions per user
// (core::ClusterPresence without a cluster view). In a cluster, the owner also tells the broker
// of this node's first and last session of each user, follows the room's members on every node
// (a snapshot once subscribed, then the broker's numbered changes) and announces to its local
// members every change of the union of the two. A failed broker call leaves the room "dirty":
// the next tick restates this node's users of the room, which the broker applies after anything
// sent before. See broker/broker.hpp for the broker's side (heartbeats, crashed nodes).
// Announcements go out in batches (Delivery::announce_presence).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "node/context.hpp"
#include "node/outbox.hpp"

namespace parley::node {

class Delivery;

class PresenceSync {
 public:
  PresenceSync(NodeContext& ctx, Delivery& delivery) : ctx_(ctx), delivery_(delivery) {}

  // A local session of `user` joined or left room `r` (on its owner shard): announce the change
  // of the room's members to the local members, and tell the broker of this node's first or last
  // session of the user.
  void add(Shard& owner, OwnedRoom& r, const std::string& user, std::string_view key, Outbox& out);
  void remove(Shard& owner, OwnedRoom& r, const std::string& user, Outbox& out);
  // Runs `f` once the room's cluster-wide members are known (a snapshot since subscribing); with
  // null if the broker could not say.
  void when_ready(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f);

  // The broker's word (broker::Handler), posted to the room's owner shard: a numbered change.
  void changed(Shard& owner, const std::string& room, std::uint64_t version, const std::string& user, bool joined);
  // The broker lost this node's entries: restate every room on every shard.
  void reset();
  // After a broker reconnect (or with `restate_all`, after the broker lost this node's entries):
  // re-read the member snapshot of every followed room of the shard; with `restate_all`, first
  // restate every room this node has users in.
  void recover(Shard& shard, bool restate_all);
  // Once a second: restate the rooms whose last presence call failed, and read the members of
  // followed rooms that have none yet.
  void tick(Shard& shard);

 private:
  void snapshot(Shard& owner, OwnedRoom& r);
  // Restates this node's users of the room to the broker.
  void restate(Shard& owner, OwnedRoom& r);

  NodeContext& ctx_;
  Delivery& delivery_;
};

}  // namespace parley::node
