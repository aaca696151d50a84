#include "protocol/errc.hpp"

#include <string>

namespace parley::protocol {

std::string_view code_name(errc e) noexcept {
  switch (e) {
    case errc::bad_json: return "bad_json";
    case errc::bad_request: return "bad_request";
    case errc::unknown_type: return "unknown_type";
    case errc::hello_required: return "hello_required";
    case errc::already_welcomed: return "already_welcomed";
    case errc::bad_name: return "bad_name";
    case errc::bad_room: return "bad_room";
    case errc::no_such_room: return "no_such_room";
    case errc::room_exists: return "room_exists";
    case errc::not_joined: return "not_joined";
    case errc::already_joined: return "already_joined";
    case errc::too_many_rooms: return "too_many_rooms";
    case errc::text_too_long: return "text_too_long";
    case errc::empty_text: return "empty_text";
    case errc::bad_cid: return "bad_cid";
    case errc::rate_limited: return "rate_limited";
    case errc::overloaded: return "overloaded";
    case errc::store_failed: return "store_failed";
    case errc::unavailable: return "unavailable";
    case errc::cid_conflict: return "cid_conflict";
    case errc::room_limit: return "room_limit";
    case errc::confusable_name: return "confusable_name";
    case errc::name_taken: return "name_taken";
    case errc::no_such_user: return "no_such_user";
    case errc::unauthorized: return "unauthorized";
    case errc::forbidden: return "forbidden";
    case errc::bad_password: return "bad_password";
    case errc::no_such_message: return "no_such_message";
    case errc::deleted: return "deleted";
    case errc::bad_emoji: return "bad_emoji";
    case errc::too_many_reactions: return "too_many_reactions";
    case errc::too_many_watchers: return "too_many_watchers";
    case errc::no_such_file: return "no_such_file";
    case errc::internal: return "internal";
  }
  return "internal";
}

std::string_view default_message(errc e) noexcept {
  switch (e) {
    case errc::bad_json: return "the frame is not a JSON object";
    case errc::bad_request: return "a field is missing or invalid";
    case errc::unknown_type: return "unknown request type";
    case errc::hello_required: return "send hello first";
    case errc::already_welcomed: return "hello was already accepted on this connection";
    case errc::bad_name: return "a name is 1 to 32 visible characters, without control or invisible characters";
    case errc::bad_room: return "a room id is 1 to 64 characters of A-Z a-z 0-9 _ . -";
    case errc::no_such_room: return "no such room";
    case errc::room_exists: return "a room with this id exists";
    case errc::not_joined: return "join the room first";
    case errc::already_joined: return "already in this room";
    case errc::too_many_rooms: return "too many rooms on one connection";
    case errc::text_too_long: return "the text is too long";
    case errc::empty_text: return "the text is empty or has nothing visible";
    case errc::bad_cid: return "a cid is 1 to 64 printable ASCII characters";
    case errc::rate_limited: return "too many messages; slow down";
    case errc::overloaded: return "the server is busy; nothing was stored, retry later";
    case errc::store_failed: return "the store could not be reached; try again";
    case errc::unavailable: return "the cluster is unreachable; nothing was sent, retry later";
    case errc::cid_conflict: return "this cid was used for another text; send it with a new cid";
    case errc::room_limit: return "the server has as many rooms as it may hold";
    case errc::confusable_name: return "someone in this room has a name that looks like yours; choose another name";
    case errc::name_taken: return "another account has this name, or one that looks like it; choose another name";
    case errc::no_such_user: return "no such account";
    case errc::unauthorized: return "sign in first";
    case errc::forbidden: return "not allowed in this room";
    case errc::bad_password: return "wrong password for this room";
    case errc::no_such_message: return "this room has no message of that seq";
    case errc::deleted: return "the message has been deleted";
    case errc::bad_emoji: return "not one emoji (a fully qualified Unicode emoji, not a shortcode)";
    case errc::too_many_reactions: return "the message has as many reactions as it may";
    case errc::too_many_watchers: return "this server has as many admin watchers as it may hold; try again later";
    case errc::no_such_file: return "no such file: upload it to this room first (each upload goes with one message)";
    case errc::internal: return "internal error";
  }
  return "internal error";
}

namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "parley"; }
  std::string message(int ev) const override { return std::string(default_message(static_cast<errc>(ev))); }
};
}  // namespace

const std::error_category& parley_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace parley::protocol
