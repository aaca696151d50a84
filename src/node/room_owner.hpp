#pragma once
// The owner side of a room: runs on the shard that owns it (a hash of its id). Here a room's
// order is decided: a send is deduplicated by (user, cid), given the room's next seq, committed
// through the store with the rest of its loop turn (group commit), and only then delivered, so
// that anything a member has seen is in history and survives a restart. In a cluster the broker
// assigns the seq instead (ClusterSync), and the owner acks after the commit. Joins, leaves,
// typing and history pages are answered here too, from the room's state.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/context.hpp"
#include "node/outbox.hpp"

namespace parley::node {

class ClusterSync;
class Delivery;
class PresenceSync;
class RoomDirectory;

class RoomOwner {
 public:
  RoomOwner(NodeContext& ctx, RoomDirectory& rooms, ClusterSync& cluster, PresenceSync& presence, Delivery& delivery)
      : ctx_(ctx), rooms_(rooms), cluster_(cluster), presence_(presence), delivery_(delivery) {}

  // Each on the room's owner shard, for the session `who`; `ref` is its request's ref.
  // The session's shard is counted as a member, then sent `joined` and the gap after `since`.
  void join(Shard& owner, const std::string& room, std::string user, SessionRef who, std::optional<std::uint64_t> since,
            std::string ref);
  void leave(Shard& owner, const std::string& room, const std::string& user, SessionRef who);
  void send(Shard& owner, core::Message m, SessionRef who, std::string ref);
  void typing(Shard& owner, const std::string& room, const std::string& user, std::uint64_t from_session);
  void history(Shard& owner, const std::string& room, std::uint64_t before, std::size_t limit, SessionRef who,
               std::string ref);
  // A page of the room's members in name order, after `after`.
  void members(Shard& owner, const std::string& room, const std::string& after, std::size_t limit, SessionRef who,
               const std::string& ref);

  // The turn's sends of the shard, to the store as one batch (called at the end of the turn).
  void submit_appends(Shard& owner, std::vector<PendingAppend> batch);

 private:
  void finish_join(Shard& owner, OwnedRoom& r, std::string user, SessionRef who, const std::string& ref,
                   std::uint64_t since, std::vector<core::Message> from_store, bool truncated);
  void on_committed(Shard& owner, std::vector<PendingAppend> batch, std::error_code ec);

  NodeContext& ctx_;
  RoomDirectory& rooms_;
  ClusterSync& cluster_;
  PresenceSync& presence_;
  Delivery& delivery_;
};

}  // namespace parley::node
