#include "core/room_access.hpp"

namespace parley::core {

std::string_view kind_name(RoomKind k) noexcept {
  switch (k) {
    case RoomKind::public_room: return "public";
    case RoomKind::private_room: return "private";
    case RoomKind::direct: return "direct";
  }
  return "private";
}

std::optional<RoomKind> parse_kind(std::string_view s) noexcept {
  if (s == "public") return RoomKind::public_room;
  if (s == "private") return RoomKind::private_room;
  if (s == "direct") return RoomKind::direct;
  return std::nullopt;
}

std::string_view role_name(Role r) noexcept {
  switch (r) {
    case Role::none: return "";
    case Role::member: return "member";
    case Role::moderator: return "moderator";
    case Role::owner: return "owner";
  }
  return "";
}

std::optional<Role> parse_role(std::string_view s) noexcept {
  if (s == "member") return Role::member;
  if (s == "moderator") return Role::moderator;
  if (s == "owner") return Role::owner;
  return std::nullopt;
}

bool is_account_id(std::string_view user_id) noexcept {
  return user_id.size() > 2 && (user_id.starts_with("u_") || user_id.starts_with("x_"));
}

bool is_server_id(std::string_view user_id) noexcept { return user_id.size() > 2 && user_id.starts_with("b_"); }

Role RoomAccess::role_of(const std::string& user_id) const {
  if (is_server_id(user_id)) return is_direct() ? Role::none : Role::owner;
  auto it = roles_.find(user_id);
  return it == roles_.end() ? Role::none : it->second;
}

bool RoomAccess::may(const std::string& user_id, RoomAction action) const {
  if (banned(user_id)) return false;
  const Role role = role_of(user_id);
  switch (action) {
    case RoomAction::see:
    case RoomAction::join: return !is_private() || role >= Role::member;
    case RoomAction::invite: return kind_ == RoomKind::private_room && role >= Role::member;
    case RoomAction::remove: return role >= Role::moderator;
    case RoomAction::set_role:
    case RoomAction::configure: return role == Role::owner;
  }
  return false;
}

bool RoomAccess::may_act_on(const std::string& actor, const std::string& target, RoomAction action) const {
  if (actor == target || !may(actor, action)) return false;
  return role_of(actor) > role_of(target);
}

void RoomAccess::set_role(const std::string& user_id, Role role) {
  if (!is_account_id(user_id)) return;
  if (role == Role::none) {
    roles_.erase(user_id);
  } else {
    roles_[user_id] = role;
  }
}

void RoomAccess::ban(const std::string& user_id) {
  if (!is_account_id(user_id)) return;
  roles_.erase(user_id);
  banned_.insert(user_id);
}

}  // namespace parley::core
