#pragma once
#include <cstdint>
#include <string>

namespace parley::core {

// One chat message, identified by (room, seq). Immutable once its seq is assigned.
struct Message {
  std::string room;
  std::uint64_t seq = 0;
  std::string from;
  std::string text;
  std::int64_t ts = 0;  // server time, ms since the epoch
  std::string cid;      // the sender's client id (idempotent retries)
};

// The `message` event for `m` (what members receive), and the same object without "type" (as in
// a history reply).
std::string message_event(const Message& m);
std::string message_object(const Message& m);

}  // namespace parley::core
