#include "broker/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <utility>

namespace parley::broker {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

class RedisCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int ev) const override {
    switch (static_cast<redis_errc>(ev)) {
      case redis_errc::connection_lost: return "connection to redis lost before the reply";
      case redis_errc::not_connected: return "not connected to redis";
      case redis_errc::queue_full: return "redis command queue full";
      case redis_errc::server_error: return "redis error reply";
      case redis_errc::protocol_error: return "redis protocol error";
      case redis_errc::stopped: return "redis client stopped";
    }
    return "unknown redis error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<redis_errc>(ev)) {
      case redis_errc::stopped: return std::errc::operation_canceled;
      case redis_errc::not_connected: return std::errc::not_connected;
      case redis_errc::connection_lost: return std::errc::connection_reset;
      default: return {ev, *this};
    }
  }
};

struct ReaderFree {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r->type == REDIS_REPLY_STRING   ? RedisReply::Type::string
                 : r->type == REDIS_REPLY_STATUS ? RedisReply::Type::status
                                                 : RedisReply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

// RESP for args, or an empty string when hiredis refuses (out of memory).
std::string format_command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* raw = nullptr;
  int n = redisFormatCommandArgv(&raw, static_cast<int>(args.size()), argv.data(), lens.data());
  if (n < 0 || raw == nullptr) return {};
  std::string out(raw, static_cast<std::size_t>(n));
  redisFreeCommand(raw);
  return out;
}

std::string sha1_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{len} * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 0xf]);
  }
  return out;
}

// A peer that vanished without a reset (a partition, a dead host) is noticed within about
// timeout_ms, idle or not: keepalive probes while idle, TCP_USER_TIMEOUT while data is unacked.
void set_dead_peer_timeout(int fd, std::uint32_t timeout_ms) {
#if defined(__linux__)
  if (timeout_ms == 0) return;
  int idle = static_cast<int>(std::max<std::uint32_t>(1, timeout_ms / 3000));
  int count = 2;
  unsigned int user_timeout = timeout_ms;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
#else
  (void)fd;
  (void)timeout_ms;
#endif
}

}  // namespace

const std::error_category& redis_category() noexcept {
  static const RedisCategory category;
  return category;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

namespace detail {

struct RedisCounters {
  std::atomic<std::uint64_t> commands{0}, writes{0}, replies{0}, connects{0}, queue_full{0}, messages{0};
};

// One TCP connection to Redis that reconnects with backoff until stopped. Strand-only: every
// member runs on strand_. Each connection attempt gets a fresh Conn; handlers of an old Conn see
// conn_ != conn and return, so a late completion never touches the next connection.
class RedisLink : public std::enable_shared_from_this<RedisLink> {
 public:
  RedisLink(Strand strand, RedisOptions opts, std::shared_ptr<RedisCounters> counters)
      : strand_(std::move(strand)),
        opts_(std::move(opts)),
        counters_(std::move(counters)),
        connect_timer_(strand_),
        retry_timer_(strand_),
        resolver_(strand_),
        backoff_ms_(opts_.backoff_min_ms),
        rng_(std::random_device{}()) {}
  virtual ~RedisLink() = default;

  bool up() const noexcept { return up_.load(std::memory_order_acquire); }
  const Strand& strand() const noexcept { return strand_; }

  // Begins connecting. Idempotent.
  void start() {
    if (started_ || stopped_) return;
    started_ = true;
    do_connect();
  }

  // Closes the connection for good; on_stop() fails what is pending.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    connect_timer_.cancel();
    retry_timer_.cancel();
    resolver_.cancel();
    close_conn();
    on_stop(up_.exchange(false));
  }

 protected:
  // Strand-only hooks.
  virtual void on_up() = 0;
  virtual void on_reply(RedisReply reply) = 0;
  virtual void on_down(std::error_code why) = 0;  // an established connection was lost
  virtual void on_stop(bool was_up) = 0;
  virtual void flush() = 0;  // write what is waiting, if up and no write is in flight

  bool writing() const noexcept { return writing_; }

  // Schedules flush() after the work already posted in this turn: everything queued by then goes
  // out in one write.
  void post_flush() {
    if (flush_posted_ || !up() || writing_) return;
    flush_posted_ = true;
    asio::post(strand_, [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->flush();
    });
  }

  // Precondition: up() and !writing(). Each write owns its buffer: a write of a dropped
  // connection may complete after the next connection started.
  void do_write(std::string bytes) {
    writing_ = true;
    auto buf = std::make_shared<std::string>(std::move(bytes));
    auto conn = conn_;
    asio::async_write(conn->sock, asio::buffer(*buf),
                      [self = shared_from_this(), conn, buf](boost::system::error_code ec, std::size_t) {
                        self->on_write(conn, ec);
                      });
  }

  // Drops the current connection and schedules a reconnect.
  void lose(std::error_code why) {
    close_conn();
    if (up_.exchange(false, std::memory_order_acq_rel)) on_down(why);
    schedule_retry();
  }

  Strand strand_;
  const RedisOptions opts_;
  std::shared_ptr<RedisCounters> counters_;
  bool stopped_ = false;
  bool started_ = false;

 private:
  static constexpr std::size_t kReadSize = std::size_t{64} * 1024;  // one read per wake-up takes it all

  struct Conn {
    explicit Conn(const Strand& s) : sock(s), reader(redisReaderCreate()) {}
    tcp::socket sock;
    std::unique_ptr<redisReader, ReaderFree> reader;
    std::unique_ptr<char[]> rbuf = std::make_unique<char[]>(kReadSize);
    std::size_t partial = 0;  // wire bytes of the reply being parsed, roughly
    bool established = false;
  };
  void close_conn() {
    if (!conn_) return;
    boost::system::error_code ignored;
    conn_->sock.close(ignored);
    conn_.reset();
    writing_ = false;
  }

  void do_connect() {
    if (stopped_) return;
    auto conn = std::make_shared<Conn>(strand_);
    conn_ = conn;
    if (!conn->reader) return on_connect(conn, asio::error::no_memory);
    auto self = shared_from_this();
    connect_timer_.expires_after(std::chrono::milliseconds(opts_.connect_timeout_ms));
    connect_timer_.async_wait([self, conn](boost::system::error_code ec) {
      if (ec || self->stopped_ || self->conn_ != conn || conn->established) return;
      // Abandon this attempt: its late completions see conn_ != conn and return.
      self->resolver_.cancel();
      self->close_conn();
      self->schedule_retry();
    });
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(opts_.host, ec);
    if (!ec) {
      conn->sock.async_connect(tcp::endpoint(addr, opts_.port),
                               [self, conn](boost::system::error_code e) { self->on_connect(conn, e); });
      return;
    }
    resolver_.async_resolve(opts_.host, std::to_string(opts_.port),
                            [self, conn](boost::system::error_code e, const tcp::resolver::results_type& eps) {
                              if (e || self->conn_ != conn) return self->on_connect(conn, e);
                              asio::async_connect(conn->sock, eps,
                                                  [self, conn](boost::system::error_code e2, const tcp::endpoint&) {
                                                    self->on_connect(conn, e2);
                                                  });
                            });
  }

  void on_connect(const std::shared_ptr<Conn>& conn, boost::system::error_code ec) {
    if (stopped_ || conn_ != conn) return;
    connect_timer_.cancel();
    if (ec) {
      conn_.reset();
      return schedule_retry();
    }
    boost::system::error_code ignored;
    conn->sock.set_option(tcp::no_delay(true), ignored);
    conn->sock.set_option(asio::socket_base::keep_alive(true), ignored);
    set_dead_peer_timeout(conn->sock.native_handle(), opts_.dead_peer_timeout_ms);
    conn->established = true;
    backoff_ms_ = opts_.backoff_min_ms;
    counters_->connects.fetch_add(1, std::memory_order_relaxed);
    up_.store(true, std::memory_order_release);
    do_read(conn);
    on_up();
  }

  void schedule_retry() {
    if (stopped_) return;
    std::uniform_int_distribution<std::uint32_t> jitter(backoff_ms_ / 2, std::max(backoff_ms_, 1u));
    auto delay = std::chrono::milliseconds(jitter(rng_));
    backoff_ms_ = std::min<std::uint32_t>(std::max(backoff_ms_, 1u) * 2, opts_.backoff_max_ms);
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && !self->stopped_) self->do_connect();
    });
  }

  void on_write(const std::shared_ptr<Conn>& conn, boost::system::error_code ec) {
    if (stopped_ || conn_ != conn) return;
    writing_ = false;
    if (ec) return lose(redis_errc::connection_lost);
    flush();
  }

  void do_read(const std::shared_ptr<Conn>& conn) {
    conn->sock.async_read_some(
        asio::buffer(conn->rbuf.get(), kReadSize),
        [self = shared_from_this(), conn](boost::system::error_code ec, std::size_t n) { self->on_read(conn, ec, n); });
  }

  void on_read(const std::shared_ptr<Conn>& conn, boost::system::error_code ec, std::size_t n) {
    if (stopped_ || conn_ != conn) return;
    if (ec) return lose(redis_errc::connection_lost);
    redisReader* r = conn->reader.get();
    if (redisReaderFeed(r, conn->rbuf.get(), n) != REDIS_OK) return lose(redis_errc::protocol_error);
    bool any = false;
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(r, &raw) != REDIS_OK) return lose(redis_errc::protocol_error);
      if (raw == nullptr) break;
      any = true;
      RedisReply reply = convert(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      counters_->replies.fetch_add(1, std::memory_order_relaxed);
      on_reply(std::move(reply));
      if (stopped_ || conn_ != conn) return;  // on_reply found a protocol error
    }
    // Bounds the reader: the buffered bytes plus the part of a reply already parsed into objects.
    conn->partial = any ? r->len - r->pos : conn->partial + n;
    if (conn->partial > opts_.max_reply_bytes) return lose(redis_errc::protocol_error);
    do_read(conn);
  }

  asio::steady_timer connect_timer_;
  asio::steady_timer retry_timer_;
  tcp::resolver resolver_;
  std::shared_ptr<Conn> conn_;
  std::atomic<bool> up_{false};
  bool writing_ = false;
  bool flush_posted_ = false;
  std::uint32_t backoff_ms_;
  std::minstd_rand rng_;
};

// The command connection: a bounded FIFO of formatted commands and a FIFO of callbacks waiting
// for their replies.
class RedisCommandLink final : public RedisLink {
 public:
  using RedisLink::RedisLink;
  using Callback = RedisClient::Callback;

  void set_state_handler(RedisClient::StateHandler h) { state_ = std::move(h); }

  // Strand-only. cb runs exactly once, possibly inline (refusals).
  void enqueue(std::string wire, Callback cb) {
    if (stopped_) return cb(redis_errc::stopped, {});
    if (!up() && !opts_.queue_while_disconnected) return cb(redis_errc::not_connected, {});
    if (queue_.size() + inflight_.size() >= opts_.max_pending || queue_bytes_ + wire.size() > opts_.max_pending_bytes) {
      counters_->queue_full.fetch_add(1, std::memory_order_relaxed);
      return cb(redis_errc::queue_full, {});
    }
    queue_bytes_ += wire.size();
    queue_.push_back(Pending{std::move(wire), std::move(cb)});
    post_flush();
  }

  // Strand-only: sent first on every connection from now on (and now, if up).
  void load_on_connect(std::string wire) {
    if (up()) enqueue(wire, [](std::error_code, const RedisReply&) {});
    loads_.push_back(std::move(wire));
  }

 private:
  struct Pending {
    std::string wire;
    Callback cb;
  };

  void flush() override {
    if (!up() || writing() || queue_.empty()) return;
    std::string out;
    std::size_t count = 0;
    while (!queue_.empty() && (out.empty() || out.size() + queue_.front().wire.size() <= opts_.max_write_bytes)) {
      Pending& p = queue_.front();
      queue_bytes_ -= p.wire.size();
      if (out.empty())
        out = std::move(p.wire);
      else
        out += p.wire;
      inflight_.push_back(std::move(p.cb));
      queue_.pop_front();
      ++count;
    }
    counters_->commands.fetch_add(count, std::memory_order_relaxed);
    counters_->writes.fetch_add(1, std::memory_order_relaxed);
    do_write(std::move(out));
  }

  void on_up() override {
    // Ahead of everything queued while down: the scripts the queued EVALSHAs need.
    for (auto it = loads_.rbegin(); it != loads_.rend(); ++it) {
      queue_bytes_ += it->size();
      queue_.push_front(Pending{*it, [](std::error_code ec, const RedisReply& reply) {
                                  if (ec) spdlog::warn("redis: SCRIPT LOAD failed: {}", reply.str);
                                }});
    }
    if (state_) state_(true);
    flush();
  }

  void on_reply(RedisReply reply) override {
    if (inflight_.empty()) return lose(redis_errc::protocol_error);
    Callback cb = std::move(inflight_.front());
    inflight_.pop_front();
    std::error_code ec;
    if (reply.type == RedisReply::Type::error) ec = redis_errc::server_error;
    cb(ec, std::move(reply));
  }

  void on_down(std::error_code why) override {
    if (state_) state_(false);
    fail(inflight_, why == redis_errc::protocol_error ? why : redis_errc::connection_lost);
  }

  void on_stop(bool was_up) override {
    if (was_up && state_) state_(false);
    fail(inflight_, redis_errc::stopped);
    std::deque<Pending> queued;
    queued.swap(queue_);
    queue_bytes_ = 0;
    for (auto& p : queued) p.cb(redis_errc::stopped, {});
  }

  static void fail(std::deque<Callback>& from, std::error_code ec) {
    std::deque<Callback> cbs;
    cbs.swap(from);
    for (auto& cb : cbs) cb(ec, {});
  }

  std::deque<Pending> queue_;
  std::size_t queue_bytes_ = 0;
  std::deque<Callback> inflight_;
  std::vector<std::string> loads_;  // SCRIPT LOAD commands, sent first on every connection
  RedisClient::StateHandler state_;
};

// The subscriber connection. wanted_ is the truth; flush() reconciles the server with it (sent_
// is what this connection has asked for), so repeated subscribe/unsubscribe calls within a turn
// cost nothing and a reconnect re-subscribes everything.
class RedisSubscriberLink final : public RedisLink {
 public:
  using RedisLink::RedisLink;
  using Done = RedisClient::SubscribeDone;

  void set_state_handler(RedisClient::StateHandler h) { state_ = std::move(h); }
  void set_message_handler(RedisClient::MessageHandler h) { handler_ = std::move(h); }
  bool resubscribed() const noexcept { return sub_up_.load(std::memory_order_acquire); }

  void subscribe(std::string channel, Done done) {
    if (stopped_) {
      if (done) done(redis_errc::stopped);
      return;
    }
    if (done) {
      waiters_[channel].push_back(std::move(done));
      force_.insert(channel);  // a fresh SUBSCRIBE gives a fresh confirmation to wait for
    }
    wanted_.insert(std::move(channel));
    if (!started_) return start();
    post_flush();
  }

  void unsubscribe(const std::string& channel) {
    if (stopped_) return;
    wanted_.erase(channel);
    force_.erase(channel);
    if (auto it = waiters_.find(channel); it != waiters_.end()) {
      auto dones = std::move(it->second);
      waiters_.erase(it);
      for (auto& d : dones) d(std::make_error_code(std::errc::operation_canceled));
    }
    post_flush();
  }

 private:
  static constexpr std::size_t kChannelsPerCommand = 512;

  static void append_command(std::string& out, const char* verb, std::vector<std::string>& chans) {
    for (std::size_t i = 0; i < chans.size(); i += kChannelsPerCommand) {
      std::vector<std::string> args{verb};
      auto end = std::min(chans.size(), i + kChannelsPerCommand);
      args.insert(args.end(), std::make_move_iterator(chans.begin() + static_cast<std::ptrdiff_t>(i)),
                  std::make_move_iterator(chans.begin() + static_cast<std::ptrdiff_t>(end)));
      out += format_command(args);
    }
  }

  void flush() override {
    if (!up() || writing()) return;
    std::vector<std::string> unsubs, subs;
    std::set_difference(sent_.begin(), sent_.end(), wanted_.begin(), wanted_.end(), std::back_inserter(unsubs));
    for (const auto& ch : wanted_)
      if (!sent_.count(ch) || force_.count(ch)) subs.push_back(ch);
    force_.clear();
    sent_ = wanted_;
    for (const auto& ch : subs) ++outstanding_[ch];
    std::string out;
    append_command(out, "UNSUBSCRIBE", unsubs);
    append_command(out, "SUBSCRIBE", subs);
    if (resync_) {  // its PONG comes after every confirmation above
      resync_ = false;
      awaiting_pong_ = true;
      out += format_command({"PING"});
    }
    if (!out.empty()) do_write(std::move(out));
  }

  void on_up() override {
    sent_.clear();
    outstanding_.clear();
    resync_ = true;
    flush();
  }

  void on_reply(RedisReply reply) override {
    if (reply.type == RedisReply::Type::status && reply.str == "PONG") return on_pong();
    if (reply.type != RedisReply::Type::array || reply.elements.empty()) return;
    const auto& e = reply.elements;
    const std::string& kind = e[0].str;
    if (kind == "message" && e.size() == 3) {
      if (!wanted_.count(e[1].str)) return;  // unsubscribed since: stop delivery at once
      counters_->messages.fetch_add(1, std::memory_order_relaxed);
      if (handler_) handler_(e[1].str, e[2].str);
    } else if (kind == "subscribe" && e.size() >= 2) {
      on_confirmed(e[1].str);
    } else if (kind == "pong") {
      on_pong();
    }
  }

  void on_confirmed(const std::string& channel) {
    auto it = outstanding_.find(channel);
    if (it == outstanding_.end() || --it->second > 0) return;
    outstanding_.erase(it);
    if (!wanted_.count(channel)) return;
    auto w = waiters_.find(channel);
    if (w == waiters_.end()) return;
    auto dones = std::move(w->second);
    waiters_.erase(w);
    for (auto& d : dones) d({});
  }

  void on_pong() {
    if (!awaiting_pong_) return;
    awaiting_pong_ = false;
    sub_up_.store(true, std::memory_order_release);
    if (state_) state_(true);
  }

  void on_down(std::error_code) override {
    sent_.clear();
    outstanding_.clear();
    awaiting_pong_ = false;
    if (sub_up_.exchange(false, std::memory_order_acq_rel) && state_) state_(false);
  }

  void on_stop(bool) override {
    if (sub_up_.exchange(false, std::memory_order_acq_rel) && state_) state_(false);
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& [ch, dones] : waiters)
      for (auto& d : dones) d(redis_errc::stopped);
  }

  std::set<std::string, std::less<>> wanted_, sent_, force_;
  std::map<std::string, int, std::less<>> outstanding_;  // SUBSCRIBEs awaiting confirmation
  std::map<std::string, std::vector<Done>, std::less<>> waiters_;
  bool resync_ = false;
  bool awaiting_pong_ = false;
  std::atomic<bool> sub_up_{false};
  RedisClient::StateHandler state_;
  RedisClient::MessageHandler handler_;
};

}  // namespace detail

RedisClient::RedisClient(asio::io_context& ctx, RedisOptions options)
    : counters_(std::make_shared<detail::RedisCounters>()) {
  Strand strand = asio::make_strand(ctx);
  cmd_ = std::make_shared<detail::RedisCommandLink>(strand, options, counters_);
  sub_ = std::make_shared<detail::RedisSubscriberLink>(strand, std::move(options), counters_);
}

RedisClient::~RedisClient() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("redis: stopping the client failed: {}", e.what());
  }
}

// Every public member posts to the strand: the links are strand-only.
namespace {
template <class Link, class F>
void post_to(const std::shared_ptr<Link>& link, F&& f) {
  asio::post(link->strand(), [link, f = std::forward<F>(f)]() mutable { f(*link); });
}
}  // namespace

void RedisClient::set_state_handler(StateHandler handler) {
  post_to(cmd_, [h = std::move(handler)](auto& l) mutable { l.set_state_handler(std::move(h)); });
}

void RedisClient::set_subscriber_state_handler(StateHandler handler) {
  post_to(sub_, [h = std::move(handler)](auto& l) mutable { l.set_state_handler(std::move(h)); });
}

void RedisClient::set_message_handler(MessageHandler handler) {
  post_to(sub_, [h = std::move(handler)](auto& l) mutable { l.set_message_handler(std::move(h)); });
}

void RedisClient::start() {
  post_to(cmd_, [](auto& l) { l.start(); });
}

void RedisClient::stop() {
  post_to(cmd_, [](auto& l) { l.stop(); });
  post_to(sub_, [](auto& l) { l.stop(); });
}

void RedisClient::command(const std::vector<std::string>& args, Callback cb) {
  // Formatting happens on the caller's thread: it spreads the work and keeps the strand short.
  std::string wire = args.empty() ? std::string{} : format_command(args);
  post_to(cmd_, [wire = std::move(wire), cb = std::move(cb)](auto& l) mutable {
    if (wire.empty()) return cb(std::make_error_code(std::errc::invalid_argument), {});
    l.enqueue(std::move(wire), std::move(cb));
  });
}

void RedisClient::load_on_connect(const RedisScript& script) {
  std::string wire = format_command({"SCRIPT", "LOAD", script.source()});
  post_to(cmd_, [wire = std::move(wire)](auto& l) mutable { l.load_on_connect(std::move(wire)); });
}

void RedisClient::eval_script(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
                              Callback cb) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  std::string wire = format_command(argv);
  argv[0] = "EVAL";
  argv[1] = script.source();
  std::weak_ptr<detail::RedisCommandLink> weak = cmd_;
  // On NOSCRIPT the same callback is handed to an EVAL: the caller sees one completion.
  auto on_reply = [weak, argv = std::move(argv), cb = std::move(cb)](std::error_code ec, RedisReply reply) mutable {
    bool noscript = ec == redis_errc::server_error && reply.str.starts_with("NOSCRIPT");
    auto link = weak.lock();
    if (!noscript || !link) return cb(ec, std::move(reply));
    link->enqueue(format_command(argv), std::move(cb));  // runs on the strand already
  };
  post_to(cmd_, [wire = std::move(wire), f = std::move(on_reply)](auto& l) mutable {
    if (wire.empty()) return f(std::make_error_code(std::errc::not_enough_memory), {});
    l.enqueue(std::move(wire), std::move(f));
  });
}

void RedisClient::subscribe(std::string channel, SubscribeDone done) {
  post_to(sub_, [ch = std::move(channel), d = std::move(done)](auto& l) mutable {
    l.subscribe(std::move(ch), std::move(d));
  });
}

void RedisClient::unsubscribe(std::string channel) {
  post_to(sub_, [ch = std::move(channel)](auto& l) { l.unsubscribe(ch); });
}

bool RedisClient::connected() const noexcept { return cmd_->up(); }

bool RedisClient::subscriber_connected() const noexcept { return sub_->resubscribed(); }

RedisStats RedisClient::stats() const noexcept {
  const auto& c = *counters_;
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return RedisStats{get(c.commands), get(c.writes),     get(c.replies),
                    get(c.connects), get(c.queue_full), get(c.messages)};
}

}  // namespace parley::broker
