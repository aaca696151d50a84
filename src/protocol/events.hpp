#pragma once
// Every event the server sends, encoded in one place. docs/protocol.md shows each one, and
// tests/unit/protocol_doc_test.cpp checks every example there byte for byte against these
// functions; tests/fuzz feeds them arbitrary strings and parses what they write. Pure: values in,
// one JSON object out, without a trailing newline (a frame may carry several, '\n'-separated).
//
// `ref` is a request's ref as JSON text (Request::ref), echoed verbatim; empty: none.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/errc.hpp"

namespace parley::protocol {

// A chat message as it goes on the wire. Views: the caller's strings outlive the call.
struct MessageFields {
  std::string_view room;
  std::uint64_t seq = 0;
  std::string_view from;
  std::string_view text;
  std::int64_t ts = 0;
  std::string_view cid;      // empty: not sent
  std::string_view from_id;  // "uid" on the wire; empty (a message stored before ids): not sent
  // "" a message (`target`: the seq it replies to, 0: none); "edit", "delete", "react" or
  // "unreact": a change of the message `target` (the event's type, and `kind` in a history reply).
  std::string_view kind = {};
  std::uint64_t target = 0;
  std::int64_t edited = 0;  // a message: the time of its latest edit, sent as `edited` (0: not sent)
  bool deleted = false;     // a message: deleted (`"deleted":true`, its text "")
  // A message: its reactions as a JSON array (core::reactions_json; empty: none, not sent).
  std::string_view reactions = {};
  // A message: its attachments as a JSON array of file objects (docs/protocol.md, "files"; empty:
  // none, not sent).
  std::string_view files = {};
};

// What `welcome` tells a client of the limits it must keep.
struct WelcomeLimits {
  std::uint64_t max_text_length = 0;
  std::uint64_t max_frame_bytes = 0;
  std::int64_t send_rate = 0;
  std::int64_t send_burst = 0;
  std::uint64_t history_limit = 0;
  std::uint64_t max_rooms = 0;
  std::uint64_t typing_interval_ms = 0;
  // Files (send's `files`; the upload's 413 past max_file_bytes) and reactions (too_many_reactions).
  std::uint64_t max_file_bytes = 0;
  std::uint64_t max_files_per_message = 0;
  std::uint64_t max_reaction_emoji = 0;
  std::uint64_t max_reactions_per_user = 0;
};

// One row of the `rooms` list.
struct RoomSummary {
  std::string_view room;
  std::uint64_t members = 0;
  std::uint64_t last_seq = 0;
  bool private_room = false;  // "private": true (listed to its members only)
  bool direct = false;        // "direct": true, "with": the other account's name (a conversation of two)
  std::string_view with{};
  std::string_view role{};   // the asking user's role in it (empty: none, not sent)
  std::string_view title{};  // empty: not sent
  std::string_view topic{};  // empty: not sent
  // The asking account's read state (docs/protocol.md, "Read state"); not sent for a guest.
  bool read_state = false;
  std::uint64_t last_read = 0, unread = 0, mentions = 0;
};

// One member's read mark, for "seen by".
struct SeenEntry {
  std::string_view user;
  std::uint64_t seq = 0;
};

// One member in a room's roster: its name, its role (empty: none, not sent) and whether it is in
// the room now (on any node).
struct RosterEntry {
  std::string_view user;
  std::string_view role{};
  bool online = false;
};

// `uid`: the user's id (an account's, stable; a guest's, this connection's).
std::string welcome_event(std::string_view user, std::string_view uid, std::string_view session,
                          std::int64_t server_time, const WelcomeLimits& limits, std::string_view ref);
std::string pong_event(std::int64_t server_time, std::string_view ref);
// One page of the room list: `next` is the cursor of the page after it (empty: the last page).
std::string rooms_event(std::span<const RoomSummary> rooms, std::string_view next, std::string_view ref);
// To the creator (with its ref) and to every other welcomed session (without).
// A private room's creation is told to its creator only ("private": true).
// A direct conversation's creation ("direct": true) is told to its two accounts only.
// `title` and `topic`, if the creator gave them (empty: not sent).
std::string created_event(std::string_view room, std::string_view by, std::string_view ref, bool private_room = false,
                          bool direct = false, std::string_view title = {}, std::string_view topic = {});
// The answer to `dm`: the direct conversation's room with `user` (made on the first request).
std::string dm_event(std::string_view room, std::string_view user, std::string_view ref);
// `members`: the room's first members, in the order given (the owner keeps them in name order);
// `member_count`: all of them (a client pages through the rest with `members`).
std::string joined_event(std::string_view room, std::uint64_t last_seq, std::span<const std::string_view> members,
                         std::uint64_t member_count, bool truncated, std::string_view ref, std::string_view role = {},
                         bool private_room = false, std::string_view title = {}, std::string_view topic = {});
// One page of a room's members, in name order; `next` as for rooms.
std::string members_event(std::string_view room, std::span<const std::string_view> members, std::string_view next,
                          std::string_view ref);
// One page of a room's roster: those in it now, then the members who are not, each in name
// order; `next` as for rooms (an opaque cursor).
std::string roster_event(std::string_view room, std::span<const RosterEntry> members, std::string_view next,
                         std::string_view ref);
std::string left_event(std::string_view room, std::string_view ref);
// Read state (docs/protocol.md, "Read state"): the user's mark in the room and what is unread
// after it; to the session that read (with its ref), to the user's other sessions on every node
// (without), and after `joined` to an account's session.
std::string read_event(std::string_view room, std::uint64_t seq, std::uint64_t unread, std::uint64_t mentions,
                       std::string_view ref);
// "Seen by" in a small room: members' read marks (after `joined`: every member's who has one; live:
// the one that moved).
std::string seen_event(std::string_view room, std::span<const SeenEntry> reads);
// Room access (docs/protocol.md, "Private rooms and moderation"). `removed` goes to the one who
// removed (with its ref) and to every session of the removed user in the room (without): they
// are out of it from then on.
std::string removed_event(std::string_view room, std::string_view user, std::string_view by, bool banned,
                          std::string_view ref);
// To the one who invited (with its ref), and to the invited user's sessions (without ref, with
// `by` when the invitation was made on their node): the room is theirs to join from now on.
std::string invited_event(std::string_view room, std::string_view user, std::string_view ref, std::string_view by = {});
std::string unbanned_event(std::string_view room, std::string_view user, std::string_view ref);
std::string role_event(std::string_view room, std::string_view user, std::string_view role, std::string_view ref);
// To every welcomed session that may see the room: it is gone (an operator deleted it, or its
// owner: `by`), and its members are out. The owner's request gets it with its ref.
std::string room_deleted_event(std::string_view room, std::string_view by = {}, std::string_view ref = {});
// The room's title and topic as they are now (both always sent, "" when unset): to the owner who
// changed them (with its ref) and to every member session in the room (`by` absent when the
// change was made on another node of a cluster).
std::string room_updated_event(std::string_view room, std::string_view title, std::string_view topic,
                               std::string_view by, std::string_view ref);
std::string ack_event(std::string_view room, std::string_view cid, std::uint64_t seq, std::int64_t ts,
                      std::string_view ref);
// The `message` event members receive, and the same object without "type" (a history entry).
std::string message_event(const MessageFields& m);
std::string message_object(const MessageFields& m);
std::string presence_event(std::string_view room, std::string_view user, bool joined);
std::string typing_event(std::string_view room, std::string_view user);
std::string history_event(std::string_view room, std::span<const MessageFields> messages, bool has_more,
                          std::string_view ref);
// One hit of a search (search_results): a message as it is now.
struct SearchHitFields {
  std::string_view room;
  std::uint64_t seq = 0;
  std::string_view from;
  std::string_view from_id;  // "uid"; empty: not sent
  std::string_view text;
  std::int64_t ts = 0;
};
// {"type":"search_results","q":…,"hits":[{room,seq,from,uid?,text,ts}…],"next"?:…,"ref":…}; `next`
// (the cursor of the next page) is left out when empty.
std::string search_results_event(std::string_view q, std::span<const SearchHitFields> hits, std::string_view next,
                                 std::string_view ref);
// {"type":"error","code":…,"message":…,"ref":…,"rid":…,…extra members}. An empty message is the
// code's default_message(); `extra_json_members` is JSON text of members without braces
// (`"retry_after_ms":500`); `rid` is the request id the node logged the error with (node/errors.hpp),
// absent when empty.
std::string error_event(errc code, std::string_view message, std::string_view ref,
                        std::string_view extra_json_members = {}, std::string_view rid = {});

// The admin channel (docs/protocol.md, "Admin channel"): what an admin's watching session hears
// about once a second. A node as the admin API's GET nodes lists it (node/admin_api.hpp), its
// stats parsed; closes are totals since that node started.
struct AdminNode {
  std::string id;
  bool up = false, self = false, draining = false;
  std::int64_t heard_ms_ago = 0;
  std::uint64_t connections = 0, rooms = 0;
  double deliveries_per_s = 0, commit_p99_ms = 0;  // written with two decimals
  std::uint64_t broker_catchups = 0, rate_limited = 0;
  std::uint64_t rate_limit_closes = 0, slow_consumer_closes = 0;
};
struct AdminRoom {
  std::string room;
  std::uint64_t members = 0, members_here = 0, last_seq = 0;
};
// {"type":"admin_stats","time":…,"nodes":[…],"rooms":[…],"closes":{"rate_limit":…,"slow_consumer":…}}:
// `closes` sums the nodes' that are up. The first after admin_watch carries its ref.
std::string admin_stats_event(std::int64_t time, std::span<const AdminNode> nodes, std::span<const AdminRoom> rooms,
                              std::string_view ref = {});
std::string admin_unwatched_event(std::string_view ref);

// The JSON body of an HTTP error answer: {"code":…,"message":…}.
std::string http_error_body(std::string_view code, std::string_view message);
// The `code` of an http_error_body() (its first member), or "" for a body of another shape.
std::string_view http_error_code(std::string_view body);
// `body` (a JSON object) with "rid":`rid` as its last member; a body that is not an object, unchanged.
std::string with_request_id(std::string body, std::string_view rid);

}  // namespace parley::protocol
