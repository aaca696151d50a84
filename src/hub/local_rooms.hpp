#pragma once
// The hub of one shard: for each room, the sessions on this thread that are in it. Fan-out
// appends one shared event to each of them. Not thread-safe: one per shard.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node/session.hpp"

namespace parley::hub {

class LocalRooms {
 public:
  // Adds `s` to `room` and records its position in s's JoinedRoom for the room (O(1) removal).
  void add(const std::string& room, node::Session* s);
  // Removes `s` from `room` in O(1): the last member takes its place.
  void remove(const std::string& room, node::Session* s);
  // Queues `event` for every local member of `room` except the session with id `except`.
  // Returns the number of sessions it was queued for.
  std::size_t deliver(const std::string& room, std::string_view event, std::uint64_t except = 0);
  // Queues `events` (shared, not copied) for every local member of `room` whose id is not in
  // `skip` (sorted). Returns the number of sessions it was queued for.
  std::size_t deliver_shared(const std::string& room, const std::shared_ptr<const std::string>& events,
                             std::span<const std::uint64_t> skip = {});
  std::size_t members(const std::string& room) const;
  std::size_t rooms() const noexcept { return rooms_.size(); }

 private:
  std::unordered_map<std::string, std::vector<node::Session*>> rooms_;
};

}  // namespace parley::hub
