#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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
  // The sender's user id (opaque, at most max_user_id_bytes): an account's "u_…", stable; a
  // guest's "g_…", made per connection. Empty for a message stored before messages carried ids.
  std::string from_id;
  // When this node got the message (steady clock, ns; 0: unknown), for the delivery latency
  // metric. Not part of the message: never stored, sent or compared.
  std::int64_t arrived_ns = 0;
};

// User ids are opaque strings of at most this many bytes (a JWT user's "x_<sub>" among them).
inline constexpr std::size_t max_user_id_bytes = 140;

// A guest's id: this prefix and 16 random hex chars, made at its welcome, one per connection. It
// tells apart two connections, not two people: a guest is its name (docs/protocol.md, hello).
inline constexpr std::string_view guest_id_prefix = "g_";
inline bool is_guest_id(std::string_view id) noexcept { return id.starts_with(guest_id_prefix); }

// Whose sends one budget and one cid space are: the user's id, or a guest's name (its id changes
// with every connection, and a retry after a reconnect must still find its first send; a guest's
// two tabs are one user). A message without an id (stored before messages carried one) counts by
// its name as a guest's does. The leading '\x01' keeps names apart from ids, which never start so.
inline std::string sender_key(std::string_view from_id, std::string_view from) {
  if (!from_id.empty() && !is_guest_id(from_id)) return std::string(from_id);
  std::string key(1, '\x01');
  key.append(from);
  return key;
}
inline std::string sender_key(const Message& m) { return sender_key(m.from_id, m.from); }

// `m` as it goes on the wire (views into m).
inline protocol::MessageFields fields(const Message& m) noexcept {
  return protocol::MessageFields{m.room, m.seq, m.from, m.text, m.ts, m.cid, m.from_id};
}

// The `message` event for `m` (what members receive), and the same object without "type" (as in
// a history reply): protocol/events.hpp encodes both.
inline std::string message_event(const Message& m) { return protocol::message_event(fields(m)); }
inline std::string message_object(const Message& m) { return protocol::message_object(fields(m)); }

}  // namespace parley::core
