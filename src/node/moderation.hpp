#pragma once
// Moderation: the requests that change who may be in a room (invite, remove and ban, unban,
// set_role) and its owner's settings (update_room: title and topic; delete_room), decided on the
// room's owner shard by its core::RoomAccess, stored (Store::set_member, remove_member, unban,
// set_room_info) and only then applied. A removed or banned member is out at once: every
// session of theirs in the room on this node leaves it and hears `removed`; in a cluster the
// broker tells the other nodes (Broker::announce_access), which read the room's access from the
// store again and do the same for their sessions (on_access_changed).
#include <cstdint>
#include <functional>
#include <string>

#include "core/room_access.hpp"
#include "node/context.hpp"
#include "protocol/codec.hpp"

namespace parley::node {

class Delivery;
class RoomDirectory;
class RoomOwner;

// Who asks: an account's id and display name.
struct Actor {
  std::string user_id;
  std::string name;
  SessionRef who;
  std::string ref;
  Shard* owner = nullptr;  // the room's owner shard, once there
};

class Moderation {
 public:
  Moderation(NodeContext& ctx, RoomDirectory& rooms, RoomOwner& owner, Delivery& delivery)
      : ctx_(ctx), rooms_(rooms), owner_(owner), delivery_(delivery) {}

  // On the room's owner shard, once the target account is known (its id and display name).
  // `req` is the request (its type, role, ban). Answered to actor.who with actor.ref.
  void apply(Shard& owner, const protocol::Request& req, Actor actor, std::string target_id, std::string target_name);

  // update_room and delete_room, for the room's owner only (RoomAction::configure). The title and
  // topic were checked by the session side. On the room's owner shard; answered to actor.who.
  void configure(Shard& owner, const protocol::Request& req, Actor actor);

  // A node of the cluster changed the access of `user_id` in `room`: read it again, and take out
  // this node's sessions of users who may no longer be there; a user who has just become a member
  // of a private room hears `invited`. An empty `user_id`: the room's title or topic changed, which
  // this node's members in the room hear (`room_updated`). On the room's owner shard.
  void on_access_changed(Shard& owner, const std::string& room, const std::string& user_id);

  // The broker is back after an outage, in which announcements may have been lost: every room
  // with sessions here reads its access again, and sessions that may no longer be in it leave.
  // On each owner shard, for its rooms.
  void recheck_all(Shard& owner);

  // Every session of `user_id` in `room` on this node leaves it, hearing `event`. From the
  // room's owner shard.
  void take_out(const std::string& room, const std::string& user_id, std::string event);
  // The same for every session whose user `access` does not let join.
  void take_out_unwelcome(const std::string& room, const core::RoomAccess& access);

 private:
  void answer(const Actor& a, std::string event);
  void refuse(const Actor& a, protocol::errc code, std::string_view message = {});
  // Every session of `user_id` on this node (in the room or not) hears `invited` to `room`, with
  // its own name as the user, so that the room shows up in its list.
  void tell_invited(const std::string& room, const std::string& user_id, const std::string& by);
  // Takes the sessions `which` picks out of `room`, each hearing its `event`.
  void take_out_where(const std::string& room, std::function<bool(const Client&)> which,
                      std::function<std::string(const Client&)> event);

  NodeContext& ctx_;
  RoomDirectory& rooms_;
  RoomOwner& owner_;
  Delivery& delivery_;
};

}  // namespace parley::node
