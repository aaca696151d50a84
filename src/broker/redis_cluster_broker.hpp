#pragma once
// RedisClusterBroker: the cluster broker on Redis Cluster (broker.backend=redis-cluster). The
// contract is the RedisBroker's (broker.hpp); what changes is where each thing lives:
//
//   * A room's keys share its hash tag, "{room}", so one slot: the publish script (the
//     RedisBroker's, detail::publish_lua) and every presence call run on the room's shard, and
//     no script touches two slots.
//   * A room's messages and presence changes go out on sharded Pub/Sub (SPUBLISH from the script,
//     SSUBSCRIBE <prefix>:{room}:ch on the shard that owns the slot): they touch only that shard,
//     where classic PUBLISH would cross every node of the cluster bus.
//   * The cluster-wide things (the room index, the room announcements and the control channel,
//     the set of rooms with presence) share the hash tag "{<prefix>}", so one shard; announcements
//     and control messages are rare next to room messages (docs/architecture.md, "Redis Cluster").
//
// Keys: <prefix>:{room}:seq|log|cids|cidq (as RedisBroker), and for presence
//   <prefix>:{room}:users   hash user → number of nodes that have it
//   <prefix>:{room}:pver    counter: the room's presence changes
//   <prefix>:{room}:node:<id>  set: node <id>'s users in the room
//   <prefix>:{room}:pseq    hash node → its last applied op counter in the room
//   <prefix>:{room}:lease   sorted set node → when its entries in the room expire (ms, Redis time)
//   <prefix>:{<prefix>}:room-index  hash room → creator
//   <prefix>:{<prefix>}:presence-rooms  set: rooms that may hold presence entries (for sweeps)
// Channels: <prefix>:{room}:ch (messages, presence changes), <prefix>:{<prefix>}:rooms,
// <prefix>:{<prefix>}:control — all sharded.
//
// Presence without a cluster-wide heartbeat: every presence call renews this node's lease in the
// room, and every node_timeout_ms/5 the node renews the lease of each room where it has users
// (one script call per room, on that room's shard) and sweeps, in each such room and in a few
// random rooms of presence-rooms, the entries of nodes whose lease expired (publishing their
// leaves). A room whose every node died is swept by any live node's random picks.
//
// The slot map: CLUSTER SLOTS asked of a seed (then of any connected shard), re-read every
// refresh_ms, at once on a MOVED reply, a lost connection or a subscription the server ended; a
// MOVED command is retried on the named node, an ASK one once with ASKING first. One RedisClient
// (command and subscriber connections, reconnecting on their own) per primary. A slot whose
// primary's node id changes is a failover (or a migration): counted in primary_changes(), logged,
// and the slot's epoch() moves on, so that a room's next publish re-seeds its floor from the store
// (a promoted replica may lack the last seqs). A publish is never redirected or sent again to
// another shard: its floor was for the Redis it was meant for.
//
// Threads: owns one thread running every shard's client; every public member posts to it.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "broker/broker.hpp"
#include "broker/redis_client.hpp"

namespace parley::broker {

struct RedisClusterBrokerOptions {
  RedisOptions redis;              // each shard's connections (timeouts, backoff, budgets); host/port unused
  std::vector<std::string> seeds;  // "host:port" of some of the cluster's nodes
  std::string prefix = "parley";
  std::size_t log_capacity = 10000;
  std::uint32_t node_timeout_ms = 5000;
  std::string node_id;  // empty: random
  std::uint32_t request_timeout_ms = 2000;
  // The slot map is re-read this often: a failover is noticed within it at the latest.
  std::uint32_t refresh_ms = 1000;
  // Requests held while no slot map is known (start-up): beyond, they fail with unavailable.
  std::size_t max_waiting = 10000;
};

namespace detail {
const char* cluster_presence_lua();  // redis_cluster_presence.cpp
}

class RedisClusterBroker final : public Broker {
 public:
  explicit RedisClusterBroker(RedisClusterBrokerOptions options);
  ~RedisClusterBroker() override;
  RedisClusterBroker(const RedisClusterBroker&) = delete;
  RedisClusterBroker& operator=(const RedisClusterBroker&) = delete;

  void set_handler(Handler* handler) override { handler_ = handler; }
  void start() override;
  void stop() override;
  bool ready() const override { return ready_.load(std::memory_order_acquire); }
  void publish(const core::Message& m, PublishDone done) override;
  // Per slot: bumped when the slot's primary changes (a failover, a migration).
  std::uint64_t epoch(const std::string& room) const override;
  void publish_in_epoch(const core::Message& m, std::uint64_t epoch, PublishDone done) override;
  void announce_room(const std::string& room, const std::string& by, AnnounceDone done) override;
  void lookup_room(const std::string& room, LookupDone done) override;
  void announce_access(const std::string& room, const std::string& user_id) override;
  void announce_sessions_ended(const std::string& user_id, const std::string& digest, const std::string& keep) override;
  void announce_name_registered(const std::string& name_key) override;
  void announce_read(const ReadNotice& notice) override;
  void announce_node_stats(const std::string& stats) override;
  void announce_disconnect(const std::string& name_key, const std::string& reason) override;
  void announce_drain(const std::string& node_id) override;
  void delete_room(const std::string& room, const std::string& by, AnnounceDone done) override;
  void subscribe(const std::string& room, std::function<void(std::error_code)> done) override;
  void unsubscribe(const std::string& room) override;
  void fetch(const std::string& room, std::uint64_t after, std::size_t limit, FetchDone done) override;
  void last_seqs(const std::vector<std::string>& rooms, SeqDone done) override;
  void presence_join(const std::string& room, const std::string& user, PresenceDone done) override;
  void presence_leave(const std::string& room, const std::string& user, PresenceDone done) override;
  void presence_sync(const std::string& room, std::vector<std::string> users, PresenceDone done) override;
  void presence_members(const std::string& room, MembersDone done) override;
  void presence_counts(const std::vector<std::string>& rooms, CountsDone done) override;

  std::string node_id() const override { return options_.node_id; }
  // Slots whose primary's node id changed since start (failovers, migrations), for metrics and
  // for the failover protection to come (a promoted replica may lack the last seqs).
  std::uint64_t primary_changes() const noexcept { return primary_changes_.load(std::memory_order_relaxed); }
  // Test hook: as RedisBroker::abandon(), a killed process: no goodbye, no more leases.
  void abandon();

 private:
  struct Shard;
  struct Request;
  struct Sub {
    std::string addr;  // the shard it is subscribed on ("" none)
    std::uint64_t gen = 0;
    // That shard confirmed the SSUBSCRIBE (since its subscriber connection last came up): a
    // refused SSUBSCRIBE there re-places the channels not confirmed (on_lost).
    bool confirmed = false;
    std::vector<std::function<void(std::error_code)>> dones;
  };

  // Everything below runs on ctx_'s thread.
  Shard& shard(const std::string& addr);
  Shard* owner(std::uint16_t slot);
  void send(std::shared_ptr<Request> r);
  void dispatch(Shard& s, const std::shared_ptr<Request>& r, bool asking);
  void on_reply(const std::shared_ptr<Request>& r, std::error_code ec, RedisReply reply);
  // Convenience: a command (args[1] the routing key) or the presence/publish script on `key`'s shard.
  void command(std::vector<std::string> args, RedisClient::Callback done);
  // Publishes one <prefix>:control announcement (detail::control_*) on the {prefix} shard.
  void control(std::string payload);
  void eval(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
            RedisClient::Callback done);

  template <class T, class Parse>
  void per_room(const std::vector<std::string>& rooms, const char* verb, const char* what, Parse parse,
                std::function<void(std::error_code, std::vector<T>)> done);
  void refresh();
  void on_slots(const std::string& from, std::error_code ec, const RedisReply& reply);
  void schedule_refresh();

  void want(const std::string& channel, std::function<void(std::error_code)> done);
  void place(const std::string& channel, Sub& sub, bool force);
  void on_subscribed(const std::string& channel, std::uint64_t gen, std::error_code ec);
  void on_lost(const std::string& addr, const std::string& channel);
  void on_shard_state();
  void on_channel_message(std::string_view channel, std::string_view payload);
  void replay_rooms();

  std::string key(const std::string& room, const char* what) const;
  std::string global(const char* what) const;
  std::string channel(const std::string& room) const { return key(room, "ch"); }

  // Presence (redis_cluster_presence.cpp).
  struct Beat;
  void presence_op(const char* op, const std::string& room, std::vector<std::string> users, PresenceDone done);
  void start_heartbeat();
  void heartbeat(const std::shared_ptr<Beat>& beat);
  void presence_goodbye();
  void stop_beat();

  RedisClusterBrokerOptions options_;
  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  RedisScript publish_script_;
  RedisScript presence_script_;
  std::map<std::string, std::unique_ptr<Shard>> shards_;  // by "host:port"; never removed while running
  // The slot map: an index into primaries_ per slot (kNone: not served).
  static constexpr std::uint16_t kNone = 0xffff;
  std::vector<std::uint16_t> slot_owner_;
  std::vector<std::string> primaries_;  // "host:port"
  std::vector<std::string> slot_node_;  // per slot, its primary's node id
  // Per slot: how many times its primary changed (epoch()); written on ctx_'s thread, read by any.
  std::unique_ptr<std::atomic<std::uint64_t>[]> slot_epoch_;
  bool map_known_ = false;
  bool refreshing_ = false, refresh_again_ = false;
  std::size_t next_seed_ = 0;
  boost::asio::steady_timer refresh_timer_;
  boost::asio::steady_timer replace_timer_;                      // re-places channels a shard refused, a moment later
  std::deque<std::shared_ptr<Request>> waiting_;                 // until the first slot map
  std::map<std::string, Sub, std::less<>> subs_;                 // wanted channels
  std::map<std::string, std::set<std::string>> local_presence_;  // room → this node's users there
  std::shared_ptr<Beat> beat_;
  std::uint64_t presence_ops_ = 0;
  bool stopped_ = false;
  bool was_ready_ = false;
  Handler* handler_ = nullptr;
  std::atomic<bool> ready_{false};
  std::atomic<std::uint64_t> primary_changes_{0};
  std::atomic<bool> started_{false};
  std::thread thread_;
};

}  // namespace parley::broker
