#pragma once
// The Redis client's two connections (broker/redis_client.hpp): RedisLink, one TCP connection
// that reconnects with backoff; RedisCommandLink, a pipelined FIFO of commands and their
// callbacks; RedisSubscriberLink, the Pub/Sub connection that keeps the server's subscriptions
// equal to the wanted set. Strand-only; internal to the broker (only redis_client.cpp includes it).
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

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
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/redis_client.hpp"
#include "broker/redis_wire.hpp"

namespace parley::broker::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

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

  // Drops the connection and connects again at once, unless the connection is already to the
  // locator's address (RedisClient::reconnect: the primary moved).
  void restart() {
    if (stopped_ || !started_ || !opts_.locator) return;
    if (conn_ && opts_.locator->primary() == target_) return;
    connect_timer_.cancel();
    retry_timer_.cancel();
    resolver_.cancel();
    close_conn();
    if (up_.exchange(false, std::memory_order_acq_rel)) on_down(redis_errc::connection_lost);
    backoff_ms_ = opts_.backoff_min_ms;
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

  // Drops the current connection and schedules a reconnect (with a locator: to the address it
  // names then, which it is told to check).
  void lose(std::error_code why) {
    close_conn();
    if (up_.exchange(false, std::memory_order_acq_rel)) on_down(why);
    report_stale();
    schedule_retry();
  }

  void report_stale() {
    if (opts_.locator) opts_.locator->stale();
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
    bool checking_role = false;  // with a locator: ROLE sent, its reply awaited before use
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
    std::string host = opts_.host;
    std::uint16_t port = opts_.port;
    if (opts_.locator) {
      auto where = opts_.locator->primary();
      if (!where) {  // no primary known yet: asked for, tried again after the backoff
        report_stale();
        return schedule_retry();
      }
      target_ = *where;
      host = where->host;
      port = where->port;
    }
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
      self->report_stale();
      self->schedule_retry();
    });
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) {
      conn->sock.async_connect(tcp::endpoint(addr, port),
                               [self, conn](boost::system::error_code e) { self->on_connect(conn, e); });
      return;
    }
    resolver_.async_resolve(
        host, std::to_string(port), [self, conn](boost::system::error_code e, const tcp::resolver::results_type& eps) {
          if (e || self->conn_ != conn) return self->on_connect(conn, e);
          asio::async_connect(conn->sock, eps, [self, conn](boost::system::error_code e2, const tcp::endpoint&) {
            self->on_connect(conn, e2);
          });
        });
  }

  void on_connect(const std::shared_ptr<Conn>& conn, boost::system::error_code ec) {
    if (stopped_ || conn_ != conn) return;
    if (ec) {
      connect_timer_.cancel();
      conn_.reset();
      report_stale();
      return schedule_retry();
    }
    boost::system::error_code ignored;
    conn->sock.set_option(tcp::no_delay(true), ignored);
    conn->sock.set_option(asio::socket_base::keep_alive(true), ignored);
    set_dead_peer_timeout(conn->sock.native_handle(), opts_.dead_peer_timeout_ms);
    do_read(conn);
    if (opts_.locator) {
      // The address may be a primary no more (demoted, or a Sentinel's stale answer): nothing is
      // sent on this connection before ROLE says "master". The connect timer bounds the wait.
      conn->checking_role = true;
      return do_write(format_command({"ROLE"}));
    }
    establish(conn);
  }

  void establish(const std::shared_ptr<Conn>& conn) {
    connect_timer_.cancel();
    conn->established = true;
    backoff_ms_ = opts_.backoff_min_ms;
    counters_->connects.fetch_add(1, std::memory_order_relaxed);
    up_.store(true, std::memory_order_release);
    on_up();
  }

  // ROLE's reply on a new connection (with a locator): a primary's is ["master", offset, replicas].
  void on_role(const std::shared_ptr<Conn>& conn, const RedisReply& reply) {
    conn->checking_role = false;
    if (reply.type == RedisReply::Type::array && !reply.elements.empty() && reply.elements[0].str == "master")
      return establish(conn);
    spdlog::warn("redis: {}:{} is not a primary ({}): asking where the primary is", target_.host, target_.port,
                 reply.type == RedisReply::Type::array && !reply.elements.empty() ? reply.elements[0].str : reply.str);
    close_conn();
    report_stale();
    schedule_retry();
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
      if (conn->checking_role)
        on_role(conn, reply);
      else
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
  RedisLocator::Address target_;  // with a locator: the address of conn_
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
                                  if (ec && ec != redis_errc::loading)
                                    spdlog::warn("redis: SCRIPT LOAD failed: {}", reply.str);
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
    if (opts_.locator && reply.type == RedisReply::Type::error && reply.str.starts_with("READONLY")) {
      // The primary was demoted under this connection (a failover): not run here, and nothing
      // after it will be; the connection goes, and the next one goes where the locator says.
      spdlog::warn("redis: the server is a replica now (READONLY): asking where the primary is");
      cb(redis_errc::server_error, std::move(reply));
      return lose(redis_errc::connection_lost);
    }
    if (reply.type == RedisReply::Type::error && reply.str.starts_with("LOADING")) {
      // A restarted Redis answers every command so until its RDB/AOF is read: the expected end of
      // an outage, said once (each command fails as "retry later", not as an error reply).
      ec = redis_errc::loading;
      if (!loading_) spdlog::warn("redis: Redis is loading its data; commands fail until it has");
      loading_ = true;
    } else {
      if (loading_) spdlog::info("redis: Redis has loaded its data");
      loading_ = false;
      if (reply.type == RedisReply::Type::error) ec = redis_errc::server_error;
    }
    cb(ec, std::move(reply));
  }

  void on_down(std::error_code why) override {
    loading_ = false;
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
  bool loading_ = false;  // the last reply was -LOADING (logged once until another reply)
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
  void set_lost_handler(RedisClient::LostHandler h) { lost_ = std::move(h); }
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

  // Sharded Pub/Sub (opts_.sharded_pubsub) takes one channel per command: a command's channels
  // must share a hash slot.
  void append_command(std::string& out, const char* verb, std::vector<std::string>& chans) const {
    const std::size_t per = opts_.sharded_pubsub ? 1 : kChannelsPerCommand;
    for (std::size_t i = 0; i < chans.size(); i += per) {
      std::vector<std::string> args{verb};
      auto end = std::min(chans.size(), i + per);
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
    append_command(out, opts_.sharded_pubsub ? "SUNSUBSCRIBE" : "UNSUBSCRIBE", unsubs);
    append_command(out, opts_.sharded_pubsub ? "SSUBSCRIBE" : "SUBSCRIBE", subs);
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
    // A refused SSUBSCRIBE (MOVED: the slot is served elsewhere now): the owner re-routes. The
    // error does not say which channel: every one not confirmed yet is forgotten as sent (a late
    // confirmation of one is ignored), so that the owner can place it again, here or elsewhere.
    if (reply.type == RedisReply::Type::error && lost_) {
      for (const auto& [ch, n] : outstanding_) sent_.erase(ch);
      outstanding_.clear();
      return lost_({});
    }
    if (reply.type != RedisReply::Type::array || reply.elements.empty()) return;
    const auto& e = reply.elements;
    const std::string& kind = e[0].str;
    if ((kind == "message" || kind == "smessage") && e.size() == 3) {
      if (!wanted_.count(e[1].str)) return;  // unsubscribed since: stop delivery at once
      counters_->messages.fetch_add(1, std::memory_order_relaxed);
      if (handler_) handler_(e[1].str, e[2].str);
    } else if ((kind == "subscribe" || kind == "ssubscribe") && e.size() >= 2) {
      on_confirmed(e[1].str);
    } else if (kind == "sunsubscribe" && e.size() >= 2 && wanted_.count(e[1].str) && sent_.count(e[1].str)) {
      on_server_unsubscribed(e[1].str);
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

  // The server ended a wanted shard channel's subscription (its slot moved to another shard): the
  // channel is no longer this connection's; the owner subscribes it where it lives now.
  void on_server_unsubscribed(const std::string& channel) {
    sent_.erase(channel);
    outstanding_.erase(channel);
    unsubscribe(channel);
    if (lost_) lost_(channel);
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
  RedisClient::LostHandler lost_;
};

}  // namespace parley::broker::detail
