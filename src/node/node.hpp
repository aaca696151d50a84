#pragma once
// The coordinator of one Parley node: owns the shards (one per I/O thread) and the store, and
// routes each client request. A request is handled on its session's shard, which forwards
// room work to the room's owner shard (hash of the room id). The owner decides the room's order:
// it assigns seqs, commits through the store, then fans out to the shards with members. Nothing
// is locked: work crosses threads by post().
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/broker.hpp"
#include "core/limits.hpp"
#include "core/room_log.hpp"
#include "node/outbox.hpp"
#include "node/shard.hpp"
#include "protocol/codec.hpp"
#include "store/store.hpp"

namespace parley::node {

// Steady-clock nanoseconds, for durations inside this process (core::Message::arrived_ns).
inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct NodeOptions {
  unsigned threads = 1;
  core::Limits limits;
  core::RoomOptions rooms;
  std::string default_room = "general";
  bool io_uring_writes = true;  // server.writes: each shard's writes of a loop turn in one io_uring submission
  // Cluster: the longest a client's join waits for the broker to catch its room up (a subscribe
  // waits for Redis to be back); then `unavailable`. broker.request_timeout_ms.
  std::uint32_t broker_wait_ms = 2000;
};

class Node final : public broker::Handler {
 public:
  // Without a broker the node is a whole chat service on its own; with one it is a member of a
  // cluster, and the broker orders every room (see broker/broker.hpp).
  Node(NodeOptions options, store::Store& store, broker::Broker* broker = nullptr);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Loads the room directory and starts one thread per shard.
  void start();
  // Stops and joins the threads; sessions must be closed already (see drain()).
  void stop();

  unsigned shard_count() const noexcept { return static_cast<unsigned>(shards_.size()); }
  Shard& shard(unsigned i) noexcept { return *shards_[i]; }
  Shard& owner_of(std::string_view room) noexcept;
  const NodeOptions& options() const noexcept { return options_; }
  store::Store& store() noexcept { return store_; }

  // Session side, on the session's shard.
  void on_text(Session& s, std::string_view frame);
  // The session is closing: leave its rooms.
  void on_closed(Session& s);
  void send_error(Session& s, protocol::errc code, std::string_view ref, std::string_view message = {},
                  std::string_view extra = {});

  // Draining: /readyz turns false; sessions are closed with 1001 by the server.
  void set_draining() noexcept { draining_.store(true); }
  bool draining() const noexcept { return draining_.load(); }
  // Accepting new clients: not draining, and the broker (if any) reachable.
  bool ready() const noexcept { return !draining() && (!broker_ || broker_->ready()); }
  bool clustered() const noexcept { return broker_ != nullptr; }

  // broker::Handler, called on the broker's thread.
  void on_message(core::Message m) override;
  void on_room_created(std::string room, std::string by) override;
  void on_state(bool up) override;
  void on_presence(std::string room, std::uint64_t version, std::string user, bool joined) override;
  void on_presence_reset() override;
  // Called by each shard about once a second.
  void on_shard_tick(Shard& shard);
  std::size_t session_count() const;

  // Prometheus text exposition of every shard's counters and the store's.
  std::string metrics_text() const;

  // Called by a shard at the end of its turn with the sends it assigned seqs to.
  void submit_appends(Shard& owner, std::vector<Shard::PendingAppend> batch);

 private:
  // Session side (commands.cpp).
  void do_hello(Session& s, protocol::Request& r);
  void do_rooms(Session& s, protocol::Request& r);
  void do_create(Session& s, protocol::Request& r);
  void do_join(Session& s, protocol::Request& r);
  void do_leave(Session& s, protocol::Request& r);
  void do_send(Session& s, protocol::Request& r);
  void do_typing(Session& s, protocol::Request& r);
  void do_history(Session& s, protocol::Request& r);
  void handle_frame(Session& s, std::string_view frame);
  // Handles the requests held behind a join that has just been answered.
  void replay_held(Session& s);
  // Applies what an owner sent to this shard (deliveries, replies, finished joins).
  void apply(Shard& shard, std::vector<ShardItem>& items);

  // Owner side (room_owner.cpp), on the room's owner shard.
  // Runs f(r, missing) once room `room` is loaded (r->state ready) or failed to load (not ready);
  // r is null if there is no such room, and `missing` says why: no_such_room, or in a cluster
  // unavailable (the store could not tell whether the room exists, and the broker's room index
  // did not have it or did not answer; see find_room).
  template <class F>
  void with_room(Shard& owner, const std::string& room, F&& f);
  void load_room(Shard& owner, OwnedRoom& r);
  void owner_create(Shard& owner, std::string room, std::string user, SessionRef who, std::string ref);
  // The room is in the store (and, in a cluster, in the broker's room index): ready, and said.
  void owner_created(Shard& owner, const std::string& room, const std::string& user, SessionRef who,
                     const std::string& ref);
  // Cluster: the broker's room index had the room already, from another node's create: the
  // creator is told room_exists, and the room is a learnt one.
  void owner_create_lost(Shard& owner, const std::string& room, SessionRef who, const std::string& ref);
  // `created` to every welcomed session of this node but `except`.
  void tell_created(const std::string& room, const std::string& by, std::uint64_t except);
  void owner_join(Shard& owner, std::string room, std::string user, SessionRef who, std::optional<std::uint64_t> since,
                  std::string ref);
  void owner_finish_join(Shard& owner, OwnedRoom& r, std::string user, SessionRef who, std::string ref,
                         std::uint64_t since, std::vector<core::Message> from_store, bool truncated);
  void owner_leave(Shard& owner, std::string room, std::string user, SessionRef who);
  void owner_send(Shard& owner, core::Message m, SessionRef who, std::string ref);
  void owner_typing(Shard& owner, std::string room, std::string user, std::uint64_t from_session);
  void owner_history(Shard& owner, std::string room, std::uint64_t before, std::size_t limit, SessionRef who,
                     std::string ref);
  void on_committed(Shard& owner, std::vector<Shard::PendingAppend> batch, std::error_code ec);
  // Adds `event` for every member session of room `r` (on every shard), except one session,
  // after the room's presence events that wait for their batch (so that members see bob arrive
  // before bob's message).
  // A chat message's event carries its arrival time (core::Message::arrived_ns; 0 for others),
  // so that each shard can time its delivery (ShardMetrics::delivery).
  void broadcast(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except = 0,
                 std::int64_t arrived_ns = 0);
  void fan_out(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except = 0,
               std::int64_t arrived_ns = 0);
  // A chat message just committed (or, in a cluster, applied) to every member.
  void broadcast_message(Outbox& out, OwnedRoom& r, const core::RoomLog::Entry& e) {
    broadcast(out, r, e.event, 0, e.message.arrived_ns);
  }
  // Posts each shard its items.
  void dispatch(Outbox& out);
  // Posts one event to one session, wherever it lives.
  void reply_now(SessionRef who, std::string event);
  void join_failed(SessionRef who, const std::string& room, protocol::errc code, const std::string& ref);

  // Cluster mode (cluster.cpp), on the room's owner shard.
  void cluster_send(Shard& owner, OwnedRoom& r, core::Message m, SessionRef who, std::string ref);
  void store_duplicate(Shard& owner, core::Message m, broker::Published p, SessionRef who, std::string ref);
  // A room this node has not heard of may have been created on another node a moment ago (its
  // announcement still on the way): asks the broker's room index and, if the index does not have
  // it or does not answer, the store; learns the room if either has it, then runs `then` (see
  // Shard::LookupWaiter). One lookup per room at a time; the requests that come meanwhile wait
  // for it (up to a bound).
  void find_room(Shard& owner, const std::string& room, Shard::LookupWaiter then);
  // find_room's second step. `index_answered`: the index said it does not have the room (not an
  // error): a room the store has is then recorded in the index again.
  void find_room_in_store(Shard& owner, const std::string& room, bool index_answered);
  // A room created elsewhere in the cluster is known here from now on (its log loads on first
  // use), and every welcomed local session hears of it. Nothing if the room is known already
  // (but see OwnedRoom::heard_by).
  void learn_room(Shard& owner, const std::string& room, const std::string& by);
  // Runs `f` once the room is subscribed and caught up with the broker, or with null if that
  // failed or has not happened within options().broker_wait_ms (the subscription goes on: a later
  // request finds the room synced).
  void when_synced(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f);
  // Hands the room's sync waiters their answer: the room (synced) or null (failed).
  void finish_sync(OwnedRoom& r, OwnedRoom* result);
  void repair(Shard& owner, OwnedRoom& r);
  void on_repaired(Shard& owner, const std::string& room, std::vector<core::Message> msgs);
  void cluster_receive(Shard& owner, core::Message m);
  // Applies every message that continues the room's sequence, from `early`, fanning out.
  void drain_early(Shard& owner, OwnedRoom& r, Outbox& out);
  void maybe_unsubscribe(OwnedRoom& r);
  // Stores applied messages that are still missing from the store a few seconds after their
  // publication (their node died before its commit): the broker's log is the recovery log.
  void durability_sweep(Shard& shard);

  // Cluster presence (presence_sync.cpp), on the room's owner shard.
  // A local session of `user` joined or left: announce the change of the room's members to the
  // local members, and tell the broker of this node's first or last session of the user.
  void presence_add(Shard& owner, OwnedRoom& r, const std::string& user, Outbox& out);
  void presence_remove(Shard& owner, OwnedRoom& r, const std::string& user, Outbox& out);
  // Runs `f` once the room's cluster-wide members are known (a snapshot since subscribing).
  void when_presence_ready(Shard& owner, OwnedRoom& r, std::function<void(OwnedRoom*)> f);
  void presence_snapshot(Shard& owner, OwnedRoom& r);
  void presence_changed(Shard& owner, const std::string& room, std::uint64_t version, const std::string& user,
                        bool joined);
  // Restates this node's users of the room to the broker.
  void presence_restate(Shard& owner, OwnedRoom& r);
  // After a broker reconnect (or with `restate`, after the broker lost this node's entries):
  // re-read the member snapshot of every followed room; with `restate`, first restate every room
  // this node has users in.
  void presence_recover(Shard& shard, bool restate);
  // Once a second: restate the rooms whose last presence call failed.
  void presence_tick(Shard& shard);
  // Presence batches: a change of the room's members waits, with the others of the next
  // rooms.presence_batch_ms, and goes to every member as one shared buffer (one write each).
  void announce_presence(Shard& owner, OwnedRoom& r, const std::string& user, bool joined, Outbox& out);
  void flush_presence(OwnedRoom& r, Outbox& out);  // the room's waiting presence events, now
  void send_presence_batches(Shard& owner);        // the timer's: every waiting room of the shard

  NodeOptions options_;
  store::Store& store_;
  broker::Broker* broker_ = nullptr;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::atomic<bool> draining_{false};
};

}  // namespace parley::node
