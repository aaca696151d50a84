#pragma once
// The hub of one thread: for each room, the members on this thread that are in it. Fan-out
// appends one shared event to each of them. Not thread-safe: one per thread.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/member.hpp"

namespace parley::hub {

class LocalRooms {
 public:
  // Adds `m` to `room`; adding a member twice is a no-op.
  void add(const std::string& room, Member* m);
  // Removes `m` from `room` in O(1): the last member takes its place. A member not in the room
  // is a no-op.
  void remove(const std::string& room, Member* m);
  // Queues `event` for every local member of `room` except the one whose id is `except`.
  // Returns the number of members it was queued for.
  std::size_t deliver(const std::string& room, std::string_view event, std::uint64_t except = 0);
  // Queues `events` (shared, not copied) for every local member of `room` whose id is not in
  // `skip` (sorted). Returns the number of members it was queued for.
  std::size_t deliver_shared(const std::string& room, const std::shared_ptr<const std::string>& events,
                             std::span<const std::uint64_t> skip = {});
  // Forgets the room; returns its members (none if there was no such room).
  std::vector<Member*> remove_room(const std::string& room);
  bool contains(const std::string& room, const Member* m) const;
  std::size_t members(const std::string& room) const;
  std::size_t rooms() const noexcept { return rooms_.size(); }

 private:
  struct Room {
    std::vector<Member*> members;                         // in no particular order: fan-out walks this
    std::unordered_map<const Member*, std::uint32_t> at;  // each member's index in `members`
  };
  std::unordered_map<std::string, Room> rooms_;
};

}  // namespace parley::hub
