#pragma once
// RedisSentinelSet: a throwaway Redis Sentinel deployment for tests, from the Debian package: one
// primary and two replicas (redis-server --replicaof) and three sentinels (redis-server
// --sentinel, monitoring the primary as "parley" with a quorum of 2), all on free loopback ports
// in a temporary directory, without persistence. The settings are scripts/cluster's `--redis
// sentinel` ones with shorter times, so that a killed primary is replaced within seconds. The
// destructor kills every process (by pid) and removes the directory. start() returns once every
// process answers; the sentinels then find each other and the replicas through the primary (a
// hello every 2 s): wait_ready() before killing the primary.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::test {

class RedisSentinelSet {
 public:
  static constexpr int kReplicas = 2;
  static constexpr int kSentinels = 3;
  static constexpr const char* kMaster = "parley";
  // A primary silent this long is down for a sentinel (scripts/cluster: 2000).
  static constexpr int kDownAfterMs = 1000;
  // Bounds a failover's steps (scripts/cluster: 10000).
  static constexpr int kFailoverTimeoutMs = 3000;

  RedisSentinelSet();
  ~RedisSentinelSet();
  RedisSentinelSet(const RedisSentinelSet&) = delete;
  RedisSentinelSet& operator=(const RedisSentinelSet&) = delete;

  // Starts the six processes, each answering PING when it returns. False, with everything
  // killed, if a step fails; error() says which.
  bool start();
  // Waits (bounded) until both replicas are in sync and every sentinel knows both replicas and
  // the two other sentinels: a failover can be voted. About 2 s after start(); false past
  // `timeout_ms`, with error() saying so.
  bool wait_ready(int timeout_ms = 15000);
  const std::string& error() const { return error_; }

  // "127.0.0.1:<port>" of each sentinel: broker.redis_sentinels.
  std::vector<std::string> sentinels() const;
  // The data nodes' ports: the first primary, then its replicas (roles change on a failover).
  const std::vector<std::uint16_t>& redis_ports() const { return redis_ports_; }
  // The primary's port as a live sentinel names it now.
  std::optional<std::uint16_t> primary() const;
  // SIGKILL of the data node on `port` (it stays down): after kDownAfterMs the sentinels
  // promote a replica.
  void kill(std::uint16_t port);
  // Waits (bounded) until the sentinels name a primary other than `old_port` and it answers ROLE
  // as a master. Its port, or nullopt.
  std::optional<std::uint16_t> wait_failover(std::uint16_t old_port, int timeout_ms = 15000) const;

 private:
  bool spawn(std::vector<std::string> args, std::uint16_t port, const std::string& what);
  void stop_all();

  std::string dir_;
  std::string error_;
  std::vector<std::uint16_t> redis_ports_, sentinel_ports_;
  std::vector<std::pair<std::uint16_t, pid_t>> pids_;  // port → pid, every process
};

}  // namespace parley::test
