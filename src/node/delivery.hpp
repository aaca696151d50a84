#pragma once
// Delivery: how what a room's owner decided reaches the clients. On the owner's shard it collects
// events for the shards that have members (an Outbox: one post per shard per batch, not per
// message), batches presence changes so that a crowd's arrivals cost each member one write, and
// posts. On each member shard it applies what arrived: every member of the room gets the shared
// event through the hub (appended to its queue, written at the end of the turn), a reply goes to
// its one session, and the answer to a join goes back to the session side (Requests).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/room_access.hpp"
#include "core/room_log.hpp"
#include "node/context.hpp"
#include "node/outbox.hpp"
#include "protocol/errc.hpp"

namespace parley::node {

class Requests;

class Delivery {
 public:
  explicit Delivery(NodeContext& ctx) : ctx_(ctx) {}
  // The session side, which takes the answers to joins (set once, before the node starts).
  void set_session_side(Requests& requests) noexcept { requests_ = &requests; }

  // --- On a room's owner shard ---

  // Posts each shard its items, in order.
  void dispatch(Outbox& out);
  // Posts one event to one session, wherever it lives.
  void reply_now(SessionRef who, std::string event);
  // The same for the answer to a request the session counted in flight (Client::in_flight).
  void answer(SessionRef who, std::string event);
  // The join of `who` failed: the session forgets it and hears `code`.
  void join_failed(SessionRef who, const std::string& room, protocol::errc code, const std::string& ref,
                   std::string_view message = {}, std::string_view extra = {});
  // Adds `event` for every member session of room `r` (on every shard), except one session,
  // after the room's presence events that wait for their batch (so that members see bob arrive
  // before bob's message). A chat message's event carries its arrival time
  // (core::Message::arrived_ns; 0 for others), so that each shard can time its delivery.
  void broadcast(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except = 0,
                 std::int64_t arrived_ns = 0);
  // A chat message just committed (or, in a cluster, applied) to every member.
  void broadcast_message(Outbox& out, OwnedRoom& r, const core::RoomLog::Entry& e) {
    broadcast(out, r, e.event, 0, e.message.arrived_ns);
  }
  // `created` to every welcomed session of this node but `except` (with the room's title and topic).
  void tell_created(const std::string& room, const std::string& by, std::uint64_t except, const std::string& title = {},
                    const std::string& topic = {});
  // `event` (a `created`) to every session of this node whose user is one of `user_ids`, but `except`.
  void tell_users(std::string event, std::vector<std::string> user_ids, std::uint64_t except);
  // `event` to every session of this node in `room` (each shard's hub), from any thread.
  void tell_room(const std::string& room, std::string event);
  // `room_deleted` (by its owner `by`, or the operator: empty) to every welcomed session of this
  // node but `except` (answered on its own), and, for a private room or a conversation, only to
  // those `access` lets see it (a stranger does not learn that it existed); its members are out of it.
  void tell_deleted(const std::string& room, const std::string& by, std::uint64_t except,
                    std::shared_ptr<const core::RoomAccess> access);

  // Presence batches: a change of the room's members waits, with the others of the next
  // rooms.presence_batch_ms, and goes to every member as one shared buffer (one write each).
  void announce_presence(Shard& owner, OwnedRoom& r, const std::string& user, bool joined, Outbox& out);

  // --- On a member shard ---

  // Applies what an owner sent to this shard (deliveries, replies, answers to joins).
  void apply(Shard& shard, std::vector<ShardItem>& items);

 private:
  void fan_out(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except = 0,
               std::int64_t arrived_ns = 0);
  void flush_presence(OwnedRoom& r, Outbox& out);  // the room's waiting presence events, now
  void send_presence_batches(Shard& owner);        // the timer's: every waiting room of the shard
  std::size_t deliver_run(Shard& shard, std::vector<ShardItem>& items, std::size_t first);

  NodeContext& ctx_;
  Requests* requests_ = nullptr;
};

}  // namespace parley::node
