#pragma once
#include <cstdint>
#include <string>

#include "protocol/events.hpp"

namespace parley::core {

// One chat message, identified by (room, seq). Immutable once its seq is assigned.
struct Message {
  std::string room;
  std::uint64_t seq = 0;
  std::string from;
  std::string text;
  std::int64_t ts = 0;  // server time, ms since the epoch
  std::string cid;      // the sender's client id (idempotent retries)
  // When this node got the message (steady clock, ns; 0: unknown), for the delivery latency
  // metric. Not part of the message: never stored, sent or compared.
  std::int64_t arrived_ns = 0;
};

// `m` as it goes on the wire (views into m).
inline protocol::MessageFields fields(const Message& m) noexcept {
  return protocol::MessageFields{m.room, m.seq, m.from, m.text, m.ts, m.cid};
}

// The `message` event for `m` (what members receive), and the same object without "type" (as in
// a history reply): protocol/events.hpp encodes both.
inline std::string message_event(const Message& m) { return protocol::message_event(fields(m)); }
inline std::string message_object(const Message& m) { return protocol::message_object(fields(m)); }

}  // namespace parley::core
