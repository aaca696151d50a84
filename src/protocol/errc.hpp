#pragma once
// The stable error codes of protocol v1: the `code` of an `error` event. docs/protocol.md lists
// each with its meaning; clients switch on the code, humans read the message.
#include <string_view>
#include <system_error>

namespace parley::protocol {

enum class errc {
  bad_json = 1,    // the frame is not a JSON object
  bad_request,     // a field is missing or has the wrong type or range
  unknown_type,    // `type` names no request
  hello_required,  // the first request must be hello
  already_welcomed,
  bad_name,  // display name refused by the name profile (protocol.md, hello): empty, too long, invisible, ...
  bad_room,  // room id not 1-64 of [A-Za-z0-9_.-]
  no_such_room,
  room_exists,
  not_joined,
  already_joined,
  too_many_rooms,
  text_too_long,
  empty_text,
  bad_cid,
  rate_limited,
  overloaded,  // the store's queue is full: retry later, nothing was stored
  store_failed,
  unavailable,         // the cluster broker is unreachable: retry with the same cid
  cid_conflict,        // a send reuses a cid of this user with another text
  room_limit,          // the node holds limits.max_rooms rooms: no more can be created
  confusable_name,     // join: another user in the room has a name that looks like this one
  name_taken,          // register: another account has this name, or one that looks like it
  no_such_user,        // the account does not exist (or was deleted)
  unauthorized,        // hello: the session token names no session, or guests are off
  forbidden,           // the user may not do this in this room (not a member, banned, not its owner, ...)
  bad_password,        // join: a private room's password is wrong
  no_such_message,     // edit, delete: the room has no message of that seq (or it is an edit or a delete)
  deleted,             // edit, delete, react, unreact, send's reply_to: the message has been deleted
  bad_emoji,           // react, unreact: not one emoji (core::valid_emoji)
  too_many_reactions,  // react: the message's distinct emoji, or the user's emoji on it, at their limit
  too_many_watchers,   // admin_watch: the node has limits.admin_watchers admin watchers already
  no_such_file,        // send's files: not an upload of this account to this room, or attached to another message
  internal,
};

std::string_view code_name(errc e) noexcept;  // "rate_limited"
std::string_view default_message(errc e) noexcept;

const std::error_category& parley_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), parley_category()}; }

}  // namespace parley::protocol

template <>
struct std::is_error_code_enum<parley::protocol::errc> : std::true_type {};
