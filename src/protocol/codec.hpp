#pragma once
// Protocol v1 requests (client → server) and the events that answer them. Pure: bytes in,
// values out. docs/protocol.md is the human contract; tests/unit/protocol_doc_test.cpp checks
// every example in it against this codec.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/errc.hpp"

namespace parley::protocol {

enum class RequestType {
  hello,
  rooms,
  create,
  join,
  leave,
  send,
  typing,
  history,
  members,
  ping,
  invite,
  remove,
  unban,
  set_role,
  dm,
  update_room,
  delete_room,
  roster,
  edit,            // edit {room, seq, text, cid?}
  delete_message,  // delete {room, seq, cid?}
  react,           // react {room, seq, emoji, cid?}
  unreact,         // unreact {room, seq, emoji, cid?}
  admin_watch,     // an admin's session: admin_stats once a second (docs/protocol.md, "Admin channel")
  admin_unwatch,   // …until this
  read,            // read {room, seq}: the user has read the room up to seq (docs/protocol.md, "Read state")
  search,  // search {q, room?, before?, limit?}: messages of the rooms one may read (docs/protocol.md, "search")
};

std::string_view type_name(RequestType t) noexcept;

struct Request {
  RequestType type{};
  std::string ref;    // the client's `ref` as JSON text, echoed verbatim; empty when absent
  std::string name;   // hello (a guest's name; none with a token)
  std::string token;  // hello: a session token (signed in)
  std::string room;   // create, join, leave, send, typing, history, members; search (optional: "" all)
  std::string cid;    // send, edit, delete
  std::string text;   // send, edit; react, unreact: the emoji
  std::uint64_t seq =
      0;  // edit, delete, react, unreact: the message's seq; send: reply_to (0: none); read: the last seq read
  std::optional<std::uint64_t> since;   // join
  std::optional<std::uint64_t> before;  // history
  std::optional<std::uint64_t> limit;   // history, rooms, members
  // rooms (a room id), members (a name), roster (its `next`): the page after it; search: the page
  // before it (`before`, a search_results' `next`)
  std::string after;
  std::string query;          // rooms: only ids that contain it (`q`); search: the words searched for
  std::string password;       // create (a private room's), join (a private room)
  bool private_room = false;  // create (`private`)
  std::string user;           // invite, remove, unban, set_role, dm: the account, by name
  std::string role;           // set_role: "moderator" or "member"
  bool ban = false;           // remove: and may not come back
  // create, update_room: the room's display title and topic; absent (nullopt) leaves it as it is,
  // "" clears it. Checked by the node (length, UTF-8, something visible).
  std::optional<std::string> title;
  std::optional<std::string> topic;
  // send: the ids of files uploaded to the room (POST /api/rooms/{room}/files) it carries; empty:
  // none. At most max_request_files here (the node's limit is limits.max_files_per_message).
  std::vector<std::string> files = {};
};

// What the parser takes of a send's `files` at most (more is bad_request before any lookup).
inline constexpr std::size_t max_request_files = 64;

struct RequestError {
  errc code;
  std::string message;
  std::string ref;  // echoed when the frame was an object with a usable ref
};

// Parses one client frame. Unknown fields are ignored (forward compatibility); missing or
// mistyped ones are an error naming the field.
std::variant<Request, RequestError> parse_request(std::string_view frame);

}  // namespace parley::protocol
