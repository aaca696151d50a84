#pragma once
// RedisCluster: a throwaway Redis Cluster for tests, from the Debian package: 3 primaries and 3
// replicas (redis-server --cluster-enabled yes) on free loopback ports, in a temporary directory,
// without persistence, joined by `redis-cli --cluster create --cluster-replicas 1`. The
// destructor kills every node (by pid) and removes the directory. Start-up takes a few seconds.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::test {

// The redis-cli this build found ("" when it is not installed: skip the test).
const std::string& redis_cli_path();

class RedisCluster {
 public:
  static constexpr int kPrimaries = 3;
  static constexpr int kNodes = 6;  // each primary with one replica

  RedisCluster();
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // Starts the six nodes, creates the cluster and waits (10 s at most) until every node reports
  // cluster_state:ok and every replica has synced with its primary. False, with the nodes killed, if any step fails;
  // `error()` says which.
  bool start();
  const std::string& error() const { return error_; }

  // Every node's client port (primaries and replicas; which is which changes on a failover).
  const std::vector<std::uint16_t>& ports() const { return ports_; }
  // "127.0.0.1:<port>" of every node: seeds for the broker.
  std::vector<std::string> seeds() const;
  // The port of the primary that serves `slot` now (CLUSTER SHARDS asked of a live node).
  std::optional<std::uint16_t> primary_of(int slot) const;
  // SIGKILL of the node on `port`: its replica is promoted after cluster-node-timeout. A killed
  // node stays down.
  void kill(std::uint16_t port);
  // Waits (bounded) until every live node reports cluster_state:ok and `slot` is served by a
  // primary other than `not_port`.
  bool wait_failover(int slot, std::uint16_t not_port, int timeout_ms = 10000) const;
  // Moves `slot` with its keys to the primary on `to` (CLUSTER SETSLOT IMPORTING/MIGRATING,
  // MIGRATE, SETSLOT NODE on every primary), as redis-cli --cluster reshard does. False if a step
  // fails.
  bool migrate_slot(int slot, std::uint16_t to);
  // The keys of every live primary removed (FLUSHALL), between tests sharing one cluster.
  void flush_all() const;

  // SIGSTOP / SIGCONT of the node on `port`: a hung server, its connections open and silent.
  void pause(std::uint16_t port);
  void resume(std::uint16_t port);
  // CONFIG SET cluster-node-timeout on every live node (a paused one must not be among them):
  // whether a pause that long makes the cluster fail the node over. False if a node refused.
  bool set_node_timeout(int ms);
  // Starts one more node (a primary without slots), introduces it (CLUSTER MEET) and waits
  // (bounded) until every live node knows it. Its port, or nullopt (error() says why).
  std::optional<std::uint16_t> add_primary();

  // Node timeout: a primary silent this long is failed over to its replica.
  static constexpr int kNodeTimeoutMs = 1000;

 private:
  bool wait_ok(int timeout_ms) const;
  void stop_all();
  // Spawns node number ports_.size() (cluster-enabled, no slots yet) and waits for its PING.
  bool spawn_node();
  pid_t pid_of(std::uint16_t port) const;

  std::string dir_;
  std::string error_;
  std::vector<std::uint16_t> ports_;
  std::vector<std::uint16_t> buses_;  // each node's cluster bus port
  std::vector<pid_t> pids_;
};

}  // namespace parley::test
