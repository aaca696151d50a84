#pragma once
// Broker: the seam between the nodes of a cluster. A single node runs without one: its owner
// shards order each room and fan out in-process (see node/room_owner.cpp). With a broker, the
// broker orders each room for every node at once:
//
//   publish()  assigns the room's next seq (one atomic step for the whole cluster), appends the
//              message to the room's log (a capped stream) and publishes it to every node
//              subscribed to the room. A repeated (sender, cid) returns the original seq instead: the
//              sender as core::sender_key() names it (the user id; a guest's name).
//   delivery   at most once, in seq order per room *as published*; a node may miss messages
//              (Pub/Sub is fire-and-forget), so receivers check seqs and repair gaps with fetch().
//   fetch()    the room's logged messages with seq > after, ascending. The log is capped: it may
//              start after `after + 1`; the store has the rest.
//
// Presence across the cluster: each node tells the broker which users it has in which room
// (presence_join/leave for its first/last local session of a user, presence_sync to restate a
// room after a failure). The broker keeps every node's entries and a room's members (a user on
// two nodes is one member), publishes a change (first entry of a user: joined; last: left) to the
// nodes subscribed to the room, numbered per room (version 1, 2, ...), and removes the entries of
// a node that stops: stop() removes them at once (a drain); a node that dies without stop() stops
// renewing its heartbeat, and its entries are removed within node_timeout plus a beat.
//
// Threads: every member may be called from any thread; completions and Handler calls run on
// the broker's own thread; callers post back to their executor.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/message.hpp"

namespace parley::broker {

// A room's members on every node, and the version of its last presence change.
struct PresenceSnapshot {
  std::uint64_t version = 0;
  std::vector<std::string> users;  // sorted, distinct
};

struct Published {
  std::uint64_t seq = 0;
  std::int64_t ts = 0;
  bool duplicate = false;  // (sender, cid) was published before: seq and ts are the original's
};

// A user's read mark moved in a room (docs/protocol.md, "Read state"), told to every node so that
// the user's sessions there agree: from node `node`, the mark `seq` and what is unread after it;
// `name` (the user's name) only when the room shows "seen by", whose members hear it too.
struct ReadNotice {
  std::string node;
  std::string user_id;
  std::string room;
  std::uint64_t seq = 0, unread = 0, mentions = 0;
  std::string name;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // A message published to a room this node subscribes to.
  virtual void on_message(core::Message m) = 0;
  // A room was created somewhere in the cluster.
  virtual void on_room_created(std::string room, std::string by) = 0;
  // A node changed the access of `user_id` to `room` (a member added, removed or banned, a role
  // changed): it is in the store; read it again. Not for the node that announced it.
  virtual void on_access_changed(std::string /*room*/, std::string /*user_id*/) {}  // NOLINT
  // A node ended sessions of `user_id` (signed out, revoked, a password changed, the account
  // deleted): `digest` the one that ended, or empty for all of them but `keep`. Close the
  // WebSockets that said hello with them.
  virtual void on_sessions_ended(std::string /*user_id*/, std::string /*digest*/, std::string /*keep*/) {}  // NOLINT
  // A node registered an account of this name key: close the guests using that name.
  virtual void on_name_registered(std::string /*name_key*/) {}  // NOLINT
  // A read mark moved on another node (its `node`; a node may hear its own: ignore it).
  virtual void on_read(ReadNotice /*notice*/) {}  // NOLINT
  // The admin API (node/admin_api.hpp): a node's stats of the last second (`stats`, one line of
  // JSON), about once a second from every node, this one's own included; an admin's request that
  // every node close the sessions of a name (its name key); and that node `node_id` drain.
  virtual void on_node_stats(std::string /*node_id*/, std::string /*stats*/) {}              // NOLINT
  virtual void on_disconnect_requested(std::string /*name_key*/, std::string /*reason*/) {}  // NOLINT
  virtual void on_drain_requested(std::string /*node_id*/) {}                                // NOLINT
  // A node deleted `room` (an operator's or its owner's deletion, `by` the owner or empty): it is
  // gone from the store and the broker; every node, the deleting one too, unloads it and tells
  // its sessions. A node that misses it (its subscriber was down) finds the room gone from the
  // store when it reads its rooms again (node/room_directory.hpp, recheck_existence).
  virtual void on_room_deleted(std::string /*room*/, std::string /*by*/) {}  // NOLINT
  // The connection to the broker went down or came back; after `up`, subscribed rooms may have
  // missed messages: repair them.
  virtual void on_state(bool up) = 0;
  // A user became a member of a room this node subscribes to (first entry anywhere), or stopped
  // being one (last entry gone: left, drained or crashed). Versions count the room's changes; a
  // jump means a missed change: read presence_members() again.
  // By value: an implementation keeps them (posts them to the room's owner).
  virtual void on_presence(std::string /*room*/, std::uint64_t /*version*/, std::string /*user*/,  // NOLINT
                           bool /*joined*/) {}
  // The broker lost this node's entries (its heartbeat lapsed and another node removed them, or
  // the broker lost its data): restate every room with presence_sync().
  virtual void on_presence_reset() {}
};

class Broker {
 public:
  using PublishDone = std::function<void(std::error_code, Published)>;
  using FetchDone = std::function<void(std::error_code, std::vector<core::Message>)>;
  using SeqDone = std::function<void(std::error_code, std::vector<std::uint64_t>)>;
  using PresenceDone = std::function<void(std::error_code)>;
  using MembersDone = std::function<void(std::error_code, PresenceSnapshot)>;
  using CountsDone = std::function<void(std::error_code, std::vector<std::size_t>)>;
  using AnnounceDone = std::function<void(std::error_code)>;
  // The room's creator if the room is known to the broker, nullopt if it is not.
  using LookupDone = std::function<void(std::error_code, std::optional<std::string>)>;

  virtual ~Broker() = default;

  // Set once, before start().
  virtual void set_handler(Handler* handler) = 0;
  virtual void start() = 0;
  virtual void stop() = 0;
  // True while the broker is reachable: /readyz is false otherwise.
  virtual bool ready() const = 0;

  // m.seq: the highest seq the caller has seen in the room; the broker never assigns a seq at or
  // below it (a broker that lost its data must not reuse seqs). m.ts: the sender's node time.
  virtual void publish(const core::Message& m, PublishDone done) = 0;
  // The room's epoch: changes whenever the broker's counter for the room may have gone back (the
  // Redis that holds it was replaced: a replica promoted by a failover may lag its primary, a
  // Redis restarted empty, a slot moved). A caller that publishes in a new epoch first raises its
  // floor to every seq that may have been acknowledged (the store's last seq for the room:
  // docs/architecture.md, "Failover without seq reuse"). 0 for a broker whose counters never go
  // back. Any thread.
  virtual std::uint64_t epoch(const std::string& /*room*/) const { return 0; }  // NOLINT
  // publish() with a floor (m.seq) computed in `epoch`: refused with unavailable, not sent, if
  // the room's epoch is another by the time the script would be sent; and never sent again to
  // another Redis (a MOVED reply, a failed-over shard): the client retries with the same cid.
  virtual void publish_in_epoch(const core::Message& m, std::uint64_t /*epoch*/, PublishDone done) {  // NOLINT
    publish(m, std::move(done));
  }
  // Records the room in the broker's room index, then tells every other node (on_room_created).
  // `done` (may be empty) runs once the index holds the room, so that from then on lookup_room()
  // finds it on every node; with errc::room_exists if the index held it already (another node
  // created it a moment ago and announced it: this call announces nothing); or with another
  // error, within a bounded time, if the broker does not confirm it (the record is still sent
  // when the broker is back).
  virtual void announce_room(const std::string& room, const std::string& by, AnnounceDone done) = 0;
  // Whether the room index holds `room` (announced by any node, at any time): for a room this
  // node has not heard of, whose announcement may still be on its way. `done` runs once, within
  // a bounded time: an unreachable or silent broker is an error, never a wait for a reconnect.
  virtual void lookup_room(const std::string& room, LookupDone done) = 0;
  // Tells every other node that the access of `user_id` to `room` changed (on_access_changed).
  // Fire and forget, at most once: a node that misses it (its subscriber was down) reads every
  // room's access again when it is back (on_state up).
  virtual void announce_access(const std::string& room, const std::string& user_id) = 0;
  // Tells every other node of ended sessions (on_sessions_ended) or a registered name
  // (on_name_registered). Fire and forget, at most once, as announce_access; a node that misses
  // one (its subscriber was down) leaves those WebSockets open until they close (operations.md).
  virtual void announce_sessions_ended(const std::string& user_id, const std::string& digest,
                                       const std::string& keep) = 0;
  virtual void announce_name_registered(const std::string& name_key) = 0;
  // Tells every other node of a moved read mark (on_read); fire and forget, at most once, as
  // announce_access: a session that misses one shows the old counts until its next room list.
  // No field holds a newline (ids, room ids and names never do).
  virtual void announce_read(const ReadNotice& notice) = 0;
  // The admin API's announcements (Handler::on_node_stats and the two after it), to every node,
  // this one included; fire and forget, at most once, as announce_access. None holds a newline.
  virtual void announce_node_stats(const std::string& stats) = 0;
  virtual void announce_disconnect(const std::string& name_key, const std::string& reason) = 0;
  virtual void announce_drain(const std::string& node_id) = 0;
  // Deletes `room` from the broker: its record in the room index (lookup_room no longer finds it),
  // its seq counter, log and cids (a room created again under this id starts at seq 1, and a gap
  // repair finds none of the old entries), then tells every node, this one included
  // (Handler::on_room_deleted). `done` runs once, within a bounded time: {} once the broker has
  // deleted the room (the announcement then goes out, at most once, as announce_access's), or
  // unavailable (nothing announced; what the broker ran before it failed may stand). Refused at
  // once, nothing sent, while the broker is unreachable.
  virtual void delete_room(const std::string& room, const std::string& by, AnnounceDone done) = 0;
  // This node's id in the cluster (its heartbeat's, its presence entries').
  virtual std::string node_id() const = 0;
  // `done` runs once the subscription is live (after a reconnect if need be): from then on no
  // published message is missed unless the connection drops, so a fetch() then finds the rest.
  virtual void subscribe(const std::string& room, std::function<void(std::error_code)> done) = 0;
  virtual void unsubscribe(const std::string& room) = 0;
  virtual void fetch(const std::string& room, std::uint64_t after, std::size_t limit, FetchDone done) = 0;
  // The last assigned seq of each room (0 for none), for periodic gap checks.
  virtual void last_seqs(const std::vector<std::string>& rooms, SeqDone done) = 0;

  // Presence of this node's users (see above). Calls about one room must come from one thread
  // (its owner shard): they apply in call order. An error means "may or may not have applied":
  // restate the room with presence_sync() later. `done` may be empty.
  virtual void presence_join(const std::string& room, const std::string& user, PresenceDone done) = 0;
  virtual void presence_leave(const std::string& room, const std::string& user, PresenceDone done) = 0;
  // This node's users in `room` are exactly `users` (joined and left events for the difference).
  virtual void presence_sync(const std::string& room, std::vector<std::string> users, PresenceDone done) = 0;
  // The room's members on every node. Ask once subscribed: every later change then arrives by
  // on_presence() with a version above the snapshot's.
  virtual void presence_members(const std::string& room, MembersDone done) = 0;
  // The number of members of each room, on every node (for the room list).
  virtual void presence_counts(const std::vector<std::string>& rooms, CountsDone done) = 0;
};

}  // namespace parley::broker
