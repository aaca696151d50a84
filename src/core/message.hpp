#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/events.hpp"

namespace parley::core {

// What an entry of a room's sequence is: a message, or a change to an earlier one (an edit or
// a delete, docs/protocol.md "edit and delete"), which names the message's seq as `target`.
enum class MessageKind : std::uint8_t { message = 0, edit = 1, remove = 2 };

// One entry of a room's sequence, identified by (room, seq). Its seq, sender and kind never change
// once assigned; a message's text changes only by the edits and deletes that name it, applied in
// seq order (`edited`, `deleted`).
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
  MessageKind kind = MessageKind::message;
  std::uint64_t target = 0;  // an edit or a delete: the seq of the message it changes
  std::int64_t edited = 0;   // a message: the ts of its latest edit (0: never edited)
  bool deleted = false;      // a message: deleted (its text is gone, "" here and in the store)
};

// The wire name of a kind: "" for a message, "edit", "delete".
inline std::string_view kind_name(MessageKind k) noexcept {
  return k == MessageKind::edit ? "edit" : k == MessageKind::remove ? "delete" : "";
}

// Why a change (an edit or a delete) of `target` may not be made, or none: the rules of
// docs/protocol.md "edit and delete". `target` is null when the room has no entry of that seq.
// Only the author edits; the author, a room moderator or owner (`moderator`), or an admin deletes;
// nothing changes a deleted message; only messages are changed (not edits or deletes).
enum class ChangeRefusal : std::uint8_t { none, no_such_message, deleted, forbidden };
ChangeRefusal may_change(MessageKind change, std::string_view sender_key_of_actor, const Message* target,
                         bool moderator);

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
  return protocol::MessageFields{m.room,   m.seq,    m.from,   m.text, m.ts, m.cid, m.from_id, kind_name(m.kind),
                                 m.target, m.edited, m.deleted};
}

// The `message` event for `m` (what members receive), and the same object without "type" (as in
// a history reply): protocol/events.hpp encodes both.
inline std::string message_event(const Message& m) { return protocol::message_event(fields(m)); }
inline std::string message_object(const Message& m) { return protocol::message_object(fields(m)); }

}  // namespace parley::core
