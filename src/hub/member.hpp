#pragma once
// What the hub delivers to: a member of a room on this thread (node::Client, the session of one
// connection). The hub knows nothing else of it.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace parley::hub {

class Member {
 public:
  // Distinct among the thread's members; skip lists name members by it.
  virtual std::uint64_t member_id() const noexcept = 0;
  // Queues one event (one JSON object, no newline) for the member.
  virtual void deliver(std::string_view event) = 0;
  // Queues one or more events ('\n'-separated) that many members get: shared, not copied.
  virtual void deliver_shared(const std::shared_ptr<const std::string>& events) = 0;

 protected:
  ~Member() = default;
};

}  // namespace parley::hub
