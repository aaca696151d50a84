#pragma once
// SentinelLocator: where the Redis primary is, as Redis Sentinel says (broker.backend=
// redis-sentinel). A RedisLocator (broker/redis_client.hpp): the RedisBroker's client asks it for
// the address before each connection attempt, checks the server with ROLE, and tells it when an
// address let it down; the broker is otherwise the standalone one, unchanged.
//
// How it learns the primary:
//   * asks a sentinel `SENTINEL get-master-addr-by-name <master>` at start, and again whenever the
//     client reports the address stale (a connection refused or lost, a server that is not a
//     primary, a READONLY reply) or a sentinel's subscriber (re)connects (a switch it may have
//     missed). One question at a time; a question asked meanwhile is asked once after it. The
//     sentinels are tried in turn, connected ones first: one that is down or does not answer
//     within ask_timeout_ms, or does not know the master, passes the question to the next.
//   * hears every sentinel's `+switch-master` (Pub/Sub: "<master> <old ip> <old port> <new ip>
//     <new port>"), the moment a failover is decided.
// A new address is logged, counted (switches()) and handed to on_change: the broker's client
// reconnects both its connections there (RedisClient::reconnect) and goes through its usual
// connection set-up (scripts loaded, the state handler told, channels subscribed again).
//
// Threads: every member may be called from any thread; the work runs on a strand of the
// io_context given (the broker's), and on_change is called there. Posted work refers to the
// locator by pointer: destroy it only once that io_context runs no more (the broker's thread
// joined), as the broker's clients.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "broker/redis_client.hpp"

namespace parley::broker {

struct SentinelOptions {
  std::vector<std::string> sentinels;   // "host:port" of each sentinel (at least one)
  std::string master = "parley";        // the name the sentinels monitor the primary by
  std::uint32_t ask_timeout_ms = 1000;  // a sentinel silent this long: the next one is asked
};

class SentinelLocator final : public RedisLocator {
 public:
  // Throws std::invalid_argument for no sentinel, a bad "host:port" or a master name that is
  // empty or holds a space or a control character. `redis`: the sentinel connections' timeouts
  // and backoff (host and port are each sentinel's).
  SentinelLocator(boost::asio::io_context& ctx, SentinelOptions options, const RedisOptions& redis);
  ~SentinelLocator() override;
  SentinelLocator(const SentinelLocator&) = delete;
  SentinelLocator& operator=(const SentinelLocator&) = delete;

  // Called (on the strand) with each new primary address. Set before start().
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
  void start();
  void stop();

  std::optional<Address> primary() override;
  void stale() override;
  // Times the primary's address changed after the first one was learnt.
  std::uint64_t switches() const noexcept { return switches_.load(std::memory_order_relaxed); }

 private:
  void ask();
  void ask_next();
  void on_answer(std::size_t which, std::error_code ec, const RedisReply& reply);
  void done_asking();
  void on_switch_message(std::string_view payload);
  void learn(Address where, const char* how);

  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  boost::asio::io_context& ctx_;
  Strand strand_;
  SentinelOptions options_;
  std::vector<std::string> addrs_;
  std::vector<std::unique_ptr<RedisClient>> sentinels_;
  std::function<void()> on_change_;
  // On the strand.
  bool asking_ = false;
  bool ask_again_ = false;
  bool stopped_ = false;
  bool said_none_ = false;   // "no sentinel answered" logged since the last answer
  std::size_t next_ = 0;     // the sentinel asked first next time
  std::vector<bool> tried_;  // the sentinels asked in this round (and failed)
  // Read by the client's strand too.
  std::mutex mutex_;
  std::optional<Address> primary_;
  std::atomic<std::uint64_t> switches_{0};
};

}  // namespace parley::broker
