#pragma once
// The coordinator of one Parley node: it owns the shards (one per I/O thread) and the parts that
// serve a request, and wires them to the store, the broker (if any) and the network:
//
//   Requests       the session side: each client's frames, on the client's shard
//   RoomDirectory  which rooms exist, their loading and creation, on each room's owner shard
//   RoomOwner      a room's order: seqs, commits, joins, history, on its owner shard
//   Delivery       what an owner decided, to the member shards and their clients
//   ClusterSync    with a broker: publishing, following and repairing each room
//   PresenceSync   who is in a room, on this node and (with a broker) on every node
//   ServerApi      the operator's backend and bots, over HTTP with API keys
//
// Nothing is locked: work crosses threads by post(). docs/architecture.md walks a `send` through
// these files in the order it happens.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/broker.hpp"
#include "net/http_session.hpp"
#include "node/admin_api.hpp"
#include "node/admin_watch.hpp"
#include "node/cluster_sync.hpp"
#include "node/context.hpp"
#include "node/delivery.hpp"
#include "node/files.hpp"
#include "node/moderation.hpp"
#include "node/presence_sync.hpp"
#include "node/read_marks.hpp"
#include "node/requests.hpp"
#include "node/room_directory.hpp"
#include "node/room_owner.hpp"
#include "node/server_api.hpp"
#include "store/store.hpp"

namespace parley::node {

class Node final : public broker::Handler, public net::HttpService, private ShardWork {
 public:
  // Without a broker the node is a whole chat service on its own; with one it is a member of a
  // cluster, and the broker orders every room (see broker/broker.hpp).
  Node(NodeOptions options, store::Store& store, broker::Broker* broker = nullptr);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Loads the room directory and starts one thread per shard.
  void start();
  // Stops and joins the threads; sessions must be closed already (see set_draining()).
  void stop();

  unsigned shard_count() const noexcept { return ctx_.shard_count(); }
  Shard& shard(unsigned i) noexcept { return ctx_.shard(i); }
  Shard& owner_of(std::string_view room) noexcept { return ctx_.owner_of(room); }
  const NodeOptions& options() const noexcept { return ctx_.options; }
  // What every connection of every shard reports to (the session side).
  net::ConnectionHandler& sessions() noexcept { return requests_; }
  // Who may connect (the listeners and HTTP sessions of every loop ask it).
  net::Admission& admission() noexcept { return ctx_.admission; }
  // Registration, sign-in and sessions: the /api/ of every loop's HTTP sessions.
  Accounts& accounts() noexcept { return ctx_.accounts; }

  // The server API (/api/server/, API keys), and the operator's commands for its keys.
  ServerApi& server_api() noexcept { return server_api_; }
  // The admin API (/api/admin/: auth.admins' sessions, admin-scoped keys).
  AdminApi& admin_api() noexcept { return admin_; }
  // What draining this node means (app/server.cpp: as on SIGTERM), for the admin API's drain.
  // Set before start().
  void set_on_drain(std::function<void()> drain) { on_drain_ = std::move(drain); }

  // An operator's command (app/admin.cpp): deletes a room (RoomDirectory::remove). `done` runs on
  // the room's owner thread.
  void delete_room(const std::string& room, std::function<void(std::error_code, std::string)> done);

  // The TLS of the node's port (server.tls_cert), for its counters in /metrics; set before start().
  void set_tls(const net::TlsContext* tls) noexcept { tls_ = tls; }

  // Draining (app/server.cpp): /readyz turns false, and new clients are still taken; closing: the
  // upgrades are refused too, while the server closes the sessions with 1012.
  void set_draining() noexcept { draining_.store(true); }
  void set_closing() noexcept {
    draining_.store(true);
    closing_.store(true);
  }
  bool clustered() const noexcept { return ctx_.broker != nullptr; }
  std::size_t session_count() const;

  // net::HttpService, on any thread.
  bool draining() const override { return draining_.load(); }
  bool closing() const override { return closing_.load(); }
  // Accepting new clients: not draining, not over the memory budget, the broker (if any)
  // reachable, and the store able to serve reads and commits (store::store_serving: its last
  // operation or idle probe reached the database, and none has been stuck for 5 s).
  bool ready() const override {
    return !draining() && !ctx_.shedding.load(std::memory_order_relaxed) && (!ctx_.broker || ctx_.broker->ready()) &&
           store::store_serving(ctx_.store.stats());
  }
  std::string_view unready_reason() const override {
    if (ctx_.shedding.load(std::memory_order_relaxed)) return "overloaded";
    if (ctx_.broker && !ctx_.broker->ready()) return "broker unreachable";
    return "store unavailable";
  }
  // Prometheus text exposition of every shard's counters and the store's (node/metrics.cpp).
  std::string metrics_text() const override;

  // broker::Handler, called on the broker's thread: each is posted to the room's owner shard.
  void on_message(core::Message m) override;
  void on_room_created(std::string room, std::string by) override;
  void on_access_changed(std::string room, std::string user_id) override;
  void on_sessions_ended(std::string user_id, std::string digest, std::string keep) override;
  void on_name_registered(std::string name_key) override;
  void on_read(broker::ReadNotice notice) override;
  void on_node_stats(std::string node_id, std::string stats) override;
  void on_disconnect_requested(std::string name_key, std::string reason) override;
  void on_drain_requested(std::string node_id) override;
  void on_room_deleted(std::string room, std::string by) override;
  void on_state(bool up) override;
  void on_presence(std::string room, std::uint64_t version, std::string user, bool joined) override;
  void on_presence_reset() override;

 private:
  // ShardWork, on the shard's thread.
  void submit_appends(Shard& shard, std::vector<PendingAppend> batch) override;
  void on_tick(Shard& shard, std::int64_t now_ms) override;
  // Once a second (shard 0): the resident set against limits.max_memory_bytes; sheds load past it.
  void check_memory();
  // On every shard: closes (1008, `reason`) the clients `which` picks. From any thread.
  void close_clients(const char* reason, std::function<bool(const Client&)> which);
  // After a broker outage: the sessions this shard's clients signed in with are looked up in the
  // store, one after another; a client whose session has ended meanwhile (its announcement lost)
  // is closed as on a sign-out.
  void recheck_sessions(Shard& shard);
  void check_session(Shard& shard, std::shared_ptr<std::vector<std::string>> digests, std::size_t i);
  // The WebSockets of ended sessions, and the guests of a registered name, on this node.
  void close_ended_sessions(const std::string& user_id, const std::string& digest, const std::string& keep);
  void close_guests_named(const std::string& name_key);
  // The sessions, accounts' and guests', whose name has the key `name_key` (an admin's disconnect).
  void close_named(const std::string& name_key);
  // This second's counters, for the admin API's node stats.
  AdminApi::Sample admin_sample() const;

  NodeContext ctx_;
  std::atomic<bool> stopping_{false};  // stop() has begun
  Delivery delivery_{ctx_};
  PresenceSync presence_{ctx_, delivery_};
  RoomDirectory rooms_{ctx_, delivery_};
  ClusterSync cluster_{ctx_, delivery_, presence_};
  RoomOwner owner_{ctx_, rooms_, cluster_, presence_, delivery_};
  Moderation moderation_{ctx_, rooms_, owner_, delivery_};
  ServerApi server_api_{ctx_, rooms_, owner_, moderation_};
  ReadMarks read_marks_{ctx_, rooms_, delivery_};
  Files files_{ctx_, rooms_};
  Requests requests_{ctx_, owner_, rooms_, delivery_, moderation_, read_marks_};
  std::function<void()> on_drain_;
  AdminApi admin_{ctx_, rooms_, server_api_,
                  AdminApi::Hooks{[this] { return draining(); },
                                  [this] {
                                    if (on_drain_) on_drain_();
                                  },
                                  [this](const std::string& key, const std::string&) { close_named(key); },
                                  [this](const std::string& user_id) {
                                    close_ended_sessions(user_id, {}, {});
                                    if (ctx_.broker) ctx_.broker->announce_sessions_ended(user_id, {}, {});
                                  }}};
  AdminWatch admin_watch_{ctx_, admin_};
  std::vector<std::thread> threads_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> closing_{false};
  const net::TlsContext* tls_ = nullptr;
  std::atomic<std::size_t> rss_bytes_{0};  // the last check_memory() reading
  int statm_fd_ = -1;                      // /proc/self/statm, read by check_memory() alone
};

}  // namespace parley::node
