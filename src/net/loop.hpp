#pragma once
// One I/O thread's network side: its io_context, the epoll set of its client sockets (Poller),
// the read buffer and write scratch its connections share, its connections by id, and the end of
// every loop turn, where each connection that queued events is written once — all of a turn's
// writes in one io_uring submission (SendBatch) where the kernel has it. Shared-nothing: other
// threads reach a loop only by post().
//
// The layer above owns one loop per thread (node::Shard) and hears from it through interfaces
// defined here: ConnectionHandler (a connection opened, sent a frame, closed) and TurnHooks (the
// end of a turn, around its writes, and the once-a-second tick).
#include <sys/uio.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/limits.hpp"
#include "core/metrics.hpp"
#include "net/connection.hpp"
#include "net/poller.hpp"

namespace parley::net {

class SendBatch;

// Counters of one loop, written by its thread.
struct LoopMetrics {
  core::Counter connections_total;
  core::Counter connections;  // gauge
  core::Counter http_requests;
  core::Counter bytes_out;
  core::Counter writes;
  core::Counter outbound_bytes;  // gauge: queued and in flight
  core::Counter slow_consumer_closes;
  core::Counter protocol_closes;  // closes for 1002/1003/1007/1009
  core::Counter flood_closes;     // of those, 1008 for a frame flood (limits.frame_rate): the rate-limit closes
  core::Counter origin_refusals;  // upgrades refused for their Origin (403)
};

struct LoopOptions {
  unsigned index = 0;  // the thread's number: part of every connection id
  core::Limits limits;
  const core::Clock* clock = &core::system_clock();
  bool io_uring_writes = true;  // server.writes: a turn's writes in one io_uring submission
};

class Loop {
 public:
  // What the layer above does at the end of each turn and once a second.
  class TurnHooks {
   public:
    // Before the turn's writes: work the turn produced that is not a write (a store batch).
    virtual void before_writes() = 0;
    // After them: the turn's writes are with the kernel.
    virtual void after_writes() = 0;
    // About once a second, after every connection's tick().
    virtual void on_tick(std::int64_t now_ms) = 0;

   protected:
    ~TurnHooks() = default;
  };

  explicit Loop(const LoopOptions& options);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  boost::asio::io_context& context() noexcept { return ctx_; }
  Poller& poller() noexcept { return poller_; }
  unsigned index() const noexcept { return options_.index; }
  const core::Limits& limits() const noexcept { return options_.limits; }
  const core::Clock& clock() const noexcept { return *options_.clock; }

  template <class F>
  void post(F&& f) {
    boost::asio::post(ctx_, std::forward<F>(f));
  }

  // Set once, before the thread runs.
  void set_handler(ConnectionHandler& handler) noexcept { handler_ = &handler; }
  void set_hooks(TurnHooks& hooks) noexcept { hooks_ = &hooks; }
  ConnectionHandler& handler() const noexcept { return *handler_; }

  // Connections of this thread. add() registers `c` and tells the handler (on_open).
  std::uint64_t next_connection_id() noexcept { return (++connection_counter_ << 8) | options_.index; }
  void add(std::shared_ptr<Connection> c);
  void remove(std::uint64_t id);
  Connection* find(std::uint64_t id);
  std::size_t size() const noexcept { return connections_.size(); }
  template <class F>
  void for_each(F&& f) {
    for (auto& [id, c] : connections_) f(*c);
  }

  // Asks for c.flush() at the end of this loop turn.
  void mark_dirty(Connection& c);
  // Asks for the end of this turn (TurnHooks) even if no connection queued.
  void schedule_turn_end();

  // 256 KiB per thread, shared by every connection of the thread: a connection keeps no read buffer.
  std::vector<char>& read_buffer() noexcept { return read_buffer_; }
  // Scratch space for one scatter-gather write at a time, shared by the connections of the thread.
  std::vector<std::string_view>& write_spans() noexcept { return write_spans_; }
  std::vector<iovec>& write_buffers() noexcept { return write_buffers_; }
  LoopMetrics& metrics() noexcept { return metrics_; }
  const LoopMetrics& metrics() const noexcept { return metrics_; }

  // The once-a-second tick (heartbeats, timeouts). Start before the thread runs; stop on it.
  void start_ticker();
  void stop_ticker();

 private:
  void on_turn_end();
  void on_tick();

  LoopOptions options_;
  boost::asio::io_context ctx_{1};  // concurrency hint 1: one thread runs it
  boost::asio::steady_timer ticker_{ctx_};
  ConnectionHandler* handler_ = nullptr;
  TurnHooks* hooks_ = nullptr;
  Poller poller_{ctx_};  // before connections_: a connection leaves it before it goes
  std::uint64_t connection_counter_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<Connection>> dirty_;
  bool turn_end_scheduled_ = false;
  std::vector<char> read_buffer_;
  std::vector<std::string_view> write_spans_;
  std::vector<iovec> write_buffers_;
  std::unique_ptr<SendBatch> send_batch_;  // null: io_uring off or unavailable
  std::vector<Connection*> batched_;       // the connections of send_batch_'s entries, in order
  LoopMetrics metrics_;
};

}  // namespace parley::net
