#pragma once
// Protocol v1 requests (client → server) and the events that answer them. Pure: bytes in,
// values out. docs/protocol.md is the human contract; tests/unit/protocol_doc_test.cpp checks
// every example in it against this codec.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

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
  admin_watch,     // an admin's session: admin_stats once a second (docs/protocol.md, "Admin channel")
  admin_unwatch,   // …until this
};

std::string_view type_name(RequestType t) noexcept;

struct Request {
  RequestType type{};
  std::string ref;                      // the client's `ref` as JSON text, echoed verbatim; empty when absent
  std::string name;                     // hello (a guest's name; none with a token)
  std::string token;                    // hello: a session token (signed in)
  std::string room;                     // create, join, leave, send, typing, history, members
  std::string cid;                      // send, edit, delete
  std::string text;                     // send, edit
  std::uint64_t seq = 0;                // edit, delete: the message's seq
  std::optional<std::uint64_t> since;   // join
  std::optional<std::uint64_t> before;  // history
  std::optional<std::uint64_t> limit;   // history, rooms, members
  std::string after;                    // rooms (a room id), members (a name), roster (its `next`): the page after it
  std::string query;                    // rooms: only ids that contain it (`q`)
  std::string password;                 // create (a private room's), join (a private room)
  bool private_room = false;            // create (`private`)
  std::string user;                     // invite, remove, unban, set_role, dm: the account, by name
  std::string role;                     // set_role: "moderator" or "member"
  bool ban = false;                     // remove: and may not come back
  // create, update_room: the room's display title and topic; absent (nullopt) leaves it as it is,
  // "" clears it. Checked by the node (length, UTF-8, something visible).
  std::optional<std::string> title;
  std::optional<std::string> topic;
};

struct RequestError {
  errc code;
  std::string message;
  std::string ref;  // echoed when the frame was an object with a usable ref
};

// Parses one client frame. Unknown fields are ignored (forward compatibility); missing or
// mistyped ones are an error naming the field.
std::variant<Request, RequestError> parse_request(std::string_view frame);

}  // namespace parley::protocol
