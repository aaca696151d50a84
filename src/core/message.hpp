#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/events.hpp"

namespace parley::core {

// What an entry of a room's sequence is: a message, or a change to an earlier one (an edit, a
// delete, a reaction added or removed: docs/protocol.md "edit and delete", "reactions"), which
// names the message's seq as `target`.
enum class MessageKind : std::uint8_t { message = 0, edit = 1, remove = 2, react = 3, unreact = 4 };
inline constexpr int max_message_kind = 4;

// Who reacted (a message's reactions, in the order they were made).
struct Reactor {
  std::string from;
  std::string from_id;  // "" for a guest stored without one
};
struct Reaction {
  std::string emoji;
  std::vector<Reactor> who;
};

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
  // A change: the seq of the message it changes. A message: the seq of the message it replies
  // to (`reply_to` on the wire; 0: none).
  std::uint64_t target = 0;
  std::int64_t edited = 0;  // a message: the ts of its latest edit (0: never edited)
  bool deleted = false;     // a message: deleted (its text is gone, "" here and in the store)
  // A message: its reactions now (emoji in the order first used, each with who, in order). A
  // react or an unreact carries its emoji as `text`.
  std::vector<Reaction> reactions = {};
  // A message: its attachments, the JSON array the wire sends as `files` (docs/protocol.md,
  // "files"; "": none). Made once, when the send's files are taken (store::Store::claim_files);
  // "" again once the message is deleted.
  std::string files = {};
};

// The wire name of a kind: "" for a message, "edit", "delete", "react", "unreact".
inline std::string_view kind_name(MessageKind k) noexcept {
  switch (k) {
    case MessageKind::message: return "";
    case MessageKind::edit: return "edit";
    case MessageKind::remove: return "delete";
    case MessageKind::react: return "react";
    case MessageKind::unreact: return "unreact";
  }
  return "";
}

// A react or an unreact applied to `target` (a message): adds or removes (from, from_id)'s
// reaction `emoji`, idempotently (one per user, emoji and message; a user is sender_key).
// Answers whether the reactions changed.
bool apply_reaction(Message& target, const Message& change);

// A committed change (an edit, a delete, a react or an unreact) applied to its target, a message
// not deleted: its text and edit time, its deletion (text, reactions and files gone) or its
// reactions. Answers whether the target changed (its event is to be encoded again).
bool apply_change(Message& target, const Message& change);

// Reactions as the stores keep them in one column: records "emoji\x1Fuid\x1Fname" joined by
// \x1E, in order (names and emoji never hold those control characters), and back.
void parse_reactions(std::string_view stored, std::vector<Reaction>& out);

// One record of such a column: its fields, and where it stands ([begin, end), without the
// separators).
struct StoredReaction {
  std::string_view emoji, from_id, from;
  std::size_t begin = 0, end = 0;
};

// Each record of `stored`, in order, until `fn` returns false. A record without its three
// fields was not written by a store: skipped.
template <class Fn>
void for_each_stored_reaction(std::string_view stored, Fn&& fn) {
  for (std::size_t begin = 0; begin < stored.size();) {
    const std::size_t end = std::min(stored.find('\x1e', begin), stored.size());
    const std::string_view record = stored.substr(begin, end - begin);
    const auto a = record.find('\x1f');
    const auto b = a == std::string_view::npos ? a : record.find('\x1f', a + 1);
    if (b != std::string_view::npos &&
        !fn(StoredReaction{record.substr(0, a), record.substr(a + 1, b - a - 1), record.substr(b + 1), begin, end}))
      return;
    begin = end + 1;
  }
}

// `react` (its text the emoji) as the column's last record.
void append_stored_reaction(std::string& stored, const Message& react);

// The `reactions` array of the wire: [{"emoji","count","users":[{"from","uid"?}]}].
std::string reactions_json(const std::vector<Reaction>& reactions);

// Why a change (an edit or a delete) of `target` may not be made, or none: the rules of
// docs/protocol.md "edit and delete". `target` is null when the room has no entry of that seq.
// Only the author edits; the author, a room moderator or owner (`moderator`), or an admin deletes;
// any member reacts, unreacts and replies (kind message: a reply, `target` what it answers);
// nothing changes or answers a deleted message; only messages are changed (not edits or deletes).
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
// `reactions`: reactions_json(m.reactions) when m has any, kept alive by the caller.
inline protocol::MessageFields fields(const Message& m, std::string_view reactions = {}) noexcept {
  return protocol::MessageFields{m.room,   m.seq,    m.from,    m.text,    m.ts,   m.cid, m.from_id, kind_name(m.kind),
                                 m.target, m.edited, m.deleted, reactions, m.files};
}

// The `message` event for `m` (what members receive), and the same object without "type" (as in
// a history reply): protocol/events.hpp encodes both.
inline std::string message_event(const Message& m) {
  if (m.reactions.empty()) return protocol::message_event(fields(m));
  const std::string r = reactions_json(m.reactions);
  return protocol::message_event(fields(m, r));
}
inline std::string message_object(const Message& m) {
  if (m.reactions.empty()) return protocol::message_object(fields(m));
  const std::string r = reactions_json(m.reactions);
  return protocol::message_object(fields(m, r));
}

}  // namespace parley::core
