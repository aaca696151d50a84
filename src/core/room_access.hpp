#pragma once
// Who may do what in a room: its kind (public or private), its members' roles and its bans. Pure
// rules; the room's owner shard holds one per room (node/owned_room.hpp) and decides every
// request by it, and the store keeps the rows (store::StoredAccess).
//
// Only accounts (ids with a stable prefix: "u_" registered here, "x_" from an operator's JWT) hold
// a role or a ban (the server API's ids, "b_", act as each room's owner without one; see
// is_server_id); a guest's id lasts a connection, so a guest is never a member of a private
// room and cannot be banned for longer than it stays.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace parley::core {

// direct: a conversation between two accounts, its only members; no roles, no invitations.
enum class RoomKind : std::uint8_t { public_room, private_room, direct };
// In rank order: a higher role may do all a lower one may.
enum class Role : std::uint8_t { none, member, moderator, owner };

std::string_view kind_name(RoomKind k) noexcept;  // "public", "private", "direct"
std::optional<RoomKind> parse_kind(std::string_view s) noexcept;
std::string_view role_name(Role r) noexcept;  // "", "member", "moderator", "owner"
std::optional<Role> parse_role(std::string_view s) noexcept;

// Whether `user_id` is an account's (stable) id, which may hold roles and bans.
bool is_account_id(std::string_view user_id) noexcept;
// Whether `user_id` is the server API's ("b_" and a name: a bot publishing through an operator's
// API key, or the key itself moderating). No client can say hello with one. It has the rights of
// a room's owner in every room but a direct conversation, where it has none: the operator runs
// the rooms, and two people's conversation is theirs. It holds no row (no role stored, no ban).
bool is_server_id(std::string_view user_id) noexcept;

// Ids starting "dm-" are direct conversations' only (auth::direct_room_id; `create` refuses them).
inline bool is_direct_room_id(std::string_view room) noexcept { return room.starts_with("dm-"); }

enum class RoomAction : std::uint8_t {
  see,        // listed in `rooms`, told of by `created`
  join,       // join, and so send, typing, history and members while joined
  invite,     // make an account a member (private rooms)
  remove,     // kick a member of a lower role (and ban: the same right)
  set_role,   // make a member a moderator or a moderator a member
  configure,  // rename, set the topic, delete the room: its owner's alone
};

class RoomAccess {
 public:
  RoomAccess() = default;
  explicit RoomAccess(RoomKind kind, std::string password_hash = {})
      : kind_(kind), password_hash_(std::move(password_hash)) {}

  RoomKind kind() const noexcept { return kind_; }
  // Members only: a private room or a direct conversation.
  bool is_private() const noexcept { return kind_ != RoomKind::public_room; }
  bool is_direct() const noexcept { return kind_ == RoomKind::direct; }
  // An argon2id hash: a private room with one is joined with its password; without, by invitation.
  const std::string& password_hash() const noexcept { return password_hash_; }

  Role role_of(const std::string& user_id) const;
  bool banned(const std::string& user_id) const { return banned_.contains(user_id); }
  bool may(const std::string& user_id, RoomAction action) const;
  // May `actor` remove, ban or change the role of `target`: the right to, and a higher role.
  bool may_act_on(const std::string& actor, const std::string& target, RoomAction action) const;

  // The rows as the store has them, or changes as they happen. Roles and bans of ids that are
  // not accounts' are ignored.
  void set_role(const std::string& user_id, Role role);  // Role::none: no longer a member
  void ban(const std::string& user_id);                  // and no longer a member
  void unban(const std::string& user_id) { banned_.erase(user_id); }

  std::size_t member_count() const noexcept { return roles_.size(); }
  // Rows it holds (members with a role, and bans): what limits.max_room_members bounds.
  std::size_t rows() const noexcept { return roles_.size() + banned_.size(); }
  // Whether giving `user_id` a role or a ban adds a row (it holds none yet).
  bool is_new(const std::string& user_id) const { return !roles_.contains(user_id) && !banned_.contains(user_id); }
  std::size_t ban_count() const noexcept { return banned_.size(); }
  template <class F>
  void for_each_member(F&& f) const {
    for (const auto& [id, role] : roles_) f(id, role);
  }

 private:
  RoomKind kind_ = RoomKind::public_room;
  std::string password_hash_;
  std::unordered_map<std::string, Role> roles_;
  std::unordered_set<std::string> banned_;
};

}  // namespace parley::core
