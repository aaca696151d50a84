#pragma once
// MemoryBroker: the Broker contract in one process. A MemoryCluster holds what Redis holds in
// production (per-room seq counters, capped logs, cids, subscriptions) and runs every operation on
// its own thread; each node gets its own MemoryBroker endpoint. It lets the cluster path of the
// node — ordering by the broker, gap repair, cross-node delivery, presence across nodes — be
// tested with several nodes in one process, and it is the reference the RedisBroker is checked
// against (a single node runs without any broker). The room index (announce_room, lookup_room) as
// in Redis. Presence as in Redis: each endpoint renews a heartbeat every node_timeout/5; at each
// beat, the entries of endpoints whose heartbeat is older than node_timeout are removed (crash()).
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <unordered_map>

#include "broker/broker.hpp"

namespace parley::broker {

class MemoryBroker;

class MemoryCluster {
 public:
  explicit MemoryCluster(std::size_t log_capacity = 10000,
                         std::chrono::milliseconds node_timeout = std::chrono::milliseconds(5000));
  ~MemoryCluster();

  std::unique_ptr<MemoryBroker> endpoint();
  // Test hooks: the next `n` published messages are not delivered to `to` (a missed Pub/Sub
  // message); `set_up(false)` makes every endpoint see the broker as unreachable.
  void drop_next(MemoryBroker* to, int n);
  void set_up(bool up);
  // Test hook: the broker restarts without its data, as a Redis without persistence killed and
  // started again: every endpoint sees it go down and come back with no seq counters, logs,
  // cids, room index, presence or heartbeats (subscriptions are the endpoints': they stay), and
  // in a new epoch().
  void restart_empty();
  // Test hook: `node` dies as a killed process would: no more heartbeats, requests or deliveries;
  // the others remove its presence within node_timeout plus a beat.
  void crash(MemoryBroker* node);

 private:
  friend class MemoryBroker;
  struct Room {
    std::uint64_t seq = 0;
    std::deque<core::Message> log;
    std::unordered_map<std::string, std::pair<std::uint64_t, std::int64_t>> cids;
    std::deque<std::string> cid_order;
  };
  struct PresenceRoom {
    std::uint64_t version = 0;
    std::map<std::string, int> users;  // user → nodes that have it
  };
  // On ctx_'s thread: presence of node `id` (its users per room); publishes the changes.
  void presence_add(const std::string& id, const std::string& room, const std::string& user);
  void presence_remove(const std::string& id, const std::string& room, const std::string& user);
  void presence_publish(const std::string& room, const std::string& user, bool joined);
  void drop_node(const std::string& id);
  void beat(MemoryBroker* e);

  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::size_t log_capacity_;
  std::unordered_map<std::string, Room> rooms_;              // on ctx_'s thread only
  std::unordered_map<std::string, std::string> room_index_;  // room → creator, as <prefix>:room-index
  std::set<MemoryBroker*> endpoints_;
  std::map<MemoryBroker*, int> drops_;
  std::chrono::milliseconds node_timeout_;
  std::unordered_map<std::string, PresenceRoom> presence_;
  std::map<std::string, std::map<std::string, std::set<std::string>>> node_users_;  // node → room → users
  std::map<std::string, std::chrono::steady_clock::time_point> heartbeats_;         // node → expiry
  std::uint64_t next_id_ = 0;
  std::atomic<bool> up_{true};
  std::atomic<std::uint64_t> epoch_{0};  // restarts without data (restart_empty)
  std::thread thread_;
};

class MemoryBroker final : public Broker {
 public:
  explicit MemoryBroker(MemoryCluster& cluster) : cluster_(cluster) {}
  ~MemoryBroker() override;

  void set_handler(Handler* handler) override { handler_ = handler; }
  void start() override;
  void stop() override;
  bool ready() const override { return cluster_.up_.load(); }
  void publish(const core::Message& m, PublishDone done) override;
  // Moves on at each restart_empty(), as a Redis's run id does.
  std::uint64_t epoch(const std::string& /*room*/) const override { return cluster_.epoch_.load(); }
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
  std::string node_id() const override;

 private:
  friend class MemoryCluster;
  MemoryCluster& cluster_;
  Handler* handler_ = nullptr;
  std::set<std::string> rooms_;  // subscriptions, on the cluster's thread
  bool started_ = false;
  // On the cluster's thread.
  std::string id_;  // the node id (presence entries, heartbeat)
  bool crashed_ = false;
  std::unique_ptr<boost::asio::steady_timer> beat_timer_;
};

}  // namespace parley::broker
