#pragma once
// RedisClient: an asynchronous Redis client driven by one Boost.Asio io_context. hiredis is used
// only to format (redisFormatCommandArgv) and parse (redisReader) RESP; every byte goes through a
// non-blocking Asio socket, so no call here ever blocks the calling thread.
//
// Two connections live inside one client:
//   * the command connection: pipelined commands, replies matched in FIFO order, every command
//     queued during one turn of the loop written with one async_write;
//   * the subscriber connection (opened on the first subscribe()): SUBSCRIBE/UNSUBSCRIBE and the
//     messages. The set of wanted channels is the truth; it is re-subscribed after a reconnect.
// Both reconnect with jittered exponential backoff (backoff_min_ms doubling to backoff_max_ms)
// until stop().
//
// Threads: every public member may be called from any thread. Work is posted to the client's
// strand on the io_context given to the constructor; every callback and handler runs there,
// never inline in the caller. (Run that io_context on one thread, or on several: the strand
// serialises the client either way.)
//
// Delivery: a command's callback runs exactly once. On connection loss the commands already
// written fail with connection_lost (they may or may not have run: the caller decides whether to
// retry); commands not yet written stay queued and go out after the reconnect. Pub/Sub is
// at-most-once: messages published while the subscriber connection is down are lost; the
// subscriber state handler tells the owner when to repair the gap.
//
// Lifetime: stop() closes both sockets, fails every pending callback with redis_errc::stopped
// (== std::errc::operation_canceled) and ends reconnection. The destructor calls stop(). Callbacks
// that were pending can still run after stop() or the destructor returns, on the io_context, until
// it has run the posted work: whatever they capture must outlive that. The io_context must outlive
// the client object. The client's internals are reference-counted, so destroying the client while
// work is still posted is memory-safe.
//
// Bounded memory: at most max_pending commands (queued + in flight) and max_pending_bytes of
// queued command bytes; one write carries at most max_write_bytes (or one larger command); a reply
// larger than max_reply_bytes on the wire is a protocol error and drops the connection.
//
// Not for blocking commands (BLPOP, XREAD BLOCK ...): a blocked command holds every later command
// of the pipeline behind it.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace parley::broker {

// The "redis" error category.
enum class redis_errc {
  connection_lost = 1,  // written, but the connection dropped before the reply: may have run
  not_connected,        // down and queue_while_disconnected is false: never sent
  queue_full,           // max_pending or max_pending_bytes reached: never sent
  server_error,         // Redis answered with an error reply; the RedisReply carries its text
  protocol_error,       // unparsable or oversized reply, or a reply nobody asked for
  stopped,              // stop() was called: never sent, or its reply will never come
  loading,              // Redis is loading its data after a restart (-LOADING): not run, retry later
};

const std::error_category& redis_category() noexcept;
inline std::error_code make_error_code(redis_errc e) noexcept { return {static_cast<int>(e), redis_category()}; }

// An owned copy of one RESP2 reply.
struct RedisReply {
  enum class Type : std::uint8_t { nil, integer, string, status, error, array };

  Type type = Type::nil;
  long long integer = 0;             // Type::integer
  std::string str;                   // Type::string, status and error
  std::vector<RedisReply> elements;  // Type::array

  bool is_nil() const noexcept { return type == Type::nil; }
  bool is_error() const noexcept { return type == Type::error; }
};

// A Lua script with its SHA1 computed once, locally. Cheap to share; immutable.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const noexcept { return source_; }
  const std::string& sha1() const noexcept { return sha1_; }  // 40 lowercase hex digits

 private:
  std::string source_;
  std::string sha1_;
};

// Where a client's connections go when the primary can move (Redis Sentinel:
// broker/redis_sentinel.hpp). With one in RedisOptions, every connection attempt asks primary()
// for the address instead of using host and port, and a new connection is used only once the
// server says it is a primary (ROLE answers "master"); the client reports an address that let it
// down with stale(): a connection refused, timed out or lost, a server that is not a primary, a
// READONLY reply (a primary demoted under the connection, which then drops). The locator calls
// RedisClient::reconnect() when it learns that the primary moved.
// Threads: primary() and stale() are called on the client's strand; they must not block.
class RedisLocator {
 public:
  struct Address {
    std::string host;
    std::uint16_t port = 0;
    bool operator==(const Address&) const = default;
  };
  virtual ~RedisLocator() = default;
  // The primary's address as last learnt; nullopt while none is known (the client retries with
  // its backoff).
  virtual std::optional<Address> primary() = 0;
  virtual void stale() = 0;
};

struct RedisOptions {
  std::string host = "127.0.0.1";  // an IP address, or a name resolved asynchronously
  std::uint16_t port = 6379;
  // Set: host and port are ignored, the locator names the primary (see RedisLocator). Not owned:
  // it must outlive the client and every run of its io_context.
  RedisLocator* locator = nullptr;
  std::uint32_t connect_timeout_ms = 2000;
  // A peer gone without a reset is detected within about this long (TCP keepalive and
  // TCP_USER_TIMEOUT); 0 leaves the kernel defaults (hours). Long-running commands are unaffected.
  std::uint32_t dead_peer_timeout_ms = 15000;
  std::uint32_t backoff_min_ms = 100;                     // first retry; doubles per failed attempt, 50-100% jitter
  std::uint32_t backoff_max_ms = 2000;                    // 2 s: a restarted Redis is found again within seconds
  std::size_t max_pending = 65536;                        // commands queued + in flight; beyond: queue_full
  std::size_t max_pending_bytes = std::size_t{64} << 20;  // formatted bytes queued, not yet sent
  std::size_t max_write_bytes = std::size_t{1} << 20;     // 1 MiB per write keeps latency flat
  std::size_t max_reply_bytes = std::size_t{64} << 20;    // one reply, on the wire
  bool queue_while_disconnected = true;                   // false: commands fail at once with not_connected
  // Redis Cluster: the subscriber uses sharded Pub/Sub (SSUBSCRIBE, one channel per command).
  bool sharded_pubsub = false;
};

// The "host:port" of `addr` into o.host and o.port; false if it is not one (no host, a port that is
// not 1-65535). For configured addresses (cluster seeds, sentinels) and those Redis names.
bool parse_host_port(const std::string& addr, RedisOptions& o);

// Counters since construction; read with relaxed atomics, for metrics.
struct RedisStats {
  std::uint64_t commands = 0;    // commands written
  std::uint64_t writes = 0;      // async_writes on the command connection
  std::uint64_t replies = 0;     // replies parsed, both connections
  std::uint64_t connects = 0;    // connections established, both connections
  std::uint64_t queue_full = 0;  // commands refused with queue_full
  std::uint64_t messages = 0;    // Pub/Sub messages delivered to the handler
};

namespace detail {
class RedisCommandLink;
class RedisSubscriberLink;
struct RedisCounters;
}  // namespace detail

class RedisClient {
 public:
  using Options = RedisOptions;
  using Reply = RedisReply;
  using Script = RedisScript;
  using Callback = std::function<void(std::error_code, RedisReply)>;
  using StateHandler = std::function<void(bool up)>;
  // The views are valid only during the call.
  using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;
  using SubscribeDone = std::function<void(std::error_code)>;
  // Sharded Pub/Sub: the server ended the subscription of `channel` (its slot moved), or refused
  // one (channel empty: an error reply, e.g. MOVED).
  using LostHandler = std::function<void(std::string channel)>;

  // Does no I/O: call the set_* handlers, then start().
  RedisClient(boost::asio::io_context& ctx, RedisOptions options = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Handlers are replaced, not chained. Set them before start() to see every event.
  // Command connection: true once connected, false when an established connection is lost (and
  // once at stop() if it was up). Not called for failed connection attempts.
  void set_state_handler(StateHandler handler);
  // Subscriber connection: true once every wanted channel is confirmed subscribed after a
  // (re)connect, so the owner can now fetch what it may have missed; false when that connection
  // is lost (and once at stop() if it was up).
  void set_subscriber_state_handler(StateHandler handler);
  // Called for each message on a channel that is wanted at the time it arrives.
  void set_message_handler(MessageHandler handler);
  // Sharded Pub/Sub only: see LostHandler. The channel is no longer wanted by this client.
  void set_lost_handler(LostHandler handler);

  // Starts connecting the command connection. Idempotent.
  void start();
  // Fails every pending callback with redis_errc::stopped and closes both connections for good.
  // Idempotent. Later commands fail with stopped.
  void stop();

  // Sends args (the command and its arguments, binary-safe) and calls cb once with the reply.
  // A Redis error reply is ec == redis_errc::server_error with the message in reply.str. Empty
  // args fail with std::errc::invalid_argument.
  void command(const std::vector<std::string>& args, Callback cb);
  // Redis Cluster's ASK redirection: ASKING then args, adjacent on the connection (nothing of
  // this client's between them); cb gets the reply of args.
  void command_asking(const std::vector<std::string>& args, Callback cb);

  // Loads `script` (SCRIPT LOAD) first thing on every command connection, before anything queued:
  // a Redis that restarted or is new has an empty script cache, and eval_script's NOSCRIPT
  // fallback would put its EVAL behind the commands issued meanwhile (one client's publishes out
  // of their order).
  void load_on_connect(const RedisScript& script);
  // EVALSHA script.sha1() keys args; on NOSCRIPT (a script not loaded on connect, or a SCRIPT
  // FLUSH since), sends EVAL with the source once, transparently (queued behind commands issued
  // after this one).
  void eval_script(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
                   Callback cb);

  // Adds channel to the wanted set (starts the subscriber connection on first use). done, if
  // given, runs once the server confirmed the subscription (after a reconnect if need be), with
  // std::errc::operation_canceled if unsubscribe(channel) came first, or stopped.
  void subscribe(std::string channel, SubscribeDone done = {});
  // Removes channel from the wanted set: no message of it is delivered from now on.
  void unsubscribe(std::string channel);

  // Drops both connections and connects again at once, to the locator's address (the primary
  // moved): as after a lost connection, written commands fail with connection_lost, queued ones
  // go out on the new connection, the wanted channels are subscribed there. A connection already
  // to that address is kept. Nothing without a locator.
  void reconnect();

  bool connected() const noexcept;             // command connection up
  bool subscriber_connected() const noexcept;  // subscriber up and resubscribed
  RedisStats stats() const noexcept;

 private:
  std::shared_ptr<detail::RedisCounters> counters_;
  std::shared_ptr<detail::RedisCommandLink> cmd_;
  std::shared_ptr<detail::RedisSubscriberLink> sub_;
};

}  // namespace parley::broker

template <>
struct std::is_error_code_enum<parley::broker::redis_errc> : std::true_type {};
