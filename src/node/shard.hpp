#pragma once
// One I/O thread's world: its io_context, its sessions, its hub (rooms → local sessions), the
// rooms it owns, and the end-of-turn flush that writes each session that queued events once and
// hands the store one batch. Shared-nothing: other threads reach a shard only by post().
#include <sys/uio.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/message.hpp"
#include "hub/local_rooms.hpp"
#include "node/metrics.hpp"
#include "node/owned_room.hpp"
#include "node/poller.hpp"
#include "node/send_batch.hpp"
#include "node/session.hpp"
#include "protocol/errc.hpp"

namespace parley::node {

class Node;

class Shard {
 public:
  Shard(Node& node, unsigned index);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  boost::asio::io_context& context() noexcept { return ctx_; }
  // Readiness of this thread's client sockets.
  Poller& poller() noexcept { return poller_; }
  unsigned index() const noexcept { return index_; }
  Node& node() noexcept { return node_; }

  template <class F>
  void post(F&& f) {
    boost::asio::post(ctx_, std::forward<F>(f));
  }

  // Sessions of this thread.
  std::uint64_t next_session_id() noexcept { return (++session_counter_ << 8) | index_; }
  void add_session(std::shared_ptr<Session> s);
  void remove_session(std::uint64_t id);
  Session* find_session(std::uint64_t id);
  std::size_t session_count() const noexcept { return sessions_.size(); }
  template <class F>
  void for_each_session(F&& f) {
    for (auto& [id, s] : sessions_) f(*s);
  }

  // Asks for s.flush() at the end of this loop turn.
  void mark_dirty(Session& s);
  // Queues a message for the store; the shard submits one batch per loop turn.
  struct PendingAppend {
    core::Message message;
    SessionRef who;
    std::string ref;
  };
  void queue_append(PendingAppend p);
  // A chat message that arrived at arrived_ns (steady clock) was queued to this shard's members:
  // its delivery is timed when this turn's writes have been handed to the kernel.
  void delivered(std::int64_t arrived_ns);

  hub::LocalRooms& hub() noexcept { return hub_; }
  std::unordered_map<std::string, std::unique_ptr<OwnedRoom>>& owned() noexcept { return owned_; }
  OwnedRoom* find_owned(const std::string& room);
  // Cluster: rooms this shard would own but has not heard of, being looked up in the broker's
  // room index, then the store (Node::find_room), with the requests waiting for the answer. A
  // waiter gets the error to give if the room is still unknown: no_such_room, or unavailable (no
  // answer).
  using LookupWaiter = std::function<void(protocol::errc)>;
  std::unordered_map<std::string, std::vector<LookupWaiter>>& lookups() noexcept { return lookups_; }
  // 256 KiB per thread, shared by every session of the thread: a session keeps no read buffer.
  std::vector<char>& read_buffer() noexcept { return read_buffer_; }
  // Scratch space for one scatter-gather write at a time, shared by the sessions of the thread.
  std::vector<std::string_view>& write_spans() noexcept { return write_spans_; }
  std::vector<iovec>& write_buffers() noexcept { return write_buffers_; }
  ShardMetrics& metrics() noexcept { return metrics_; }
  const ShardMetrics& metrics() const noexcept { return metrics_; }

  // Starts the once-a-second tick (heartbeats, timeouts).
  void start_ticker();
  void stop_ticker();

  // Rooms owned here with presence events waiting for their batch, and the timer that sends
  // them (Node::announce_presence); armed while the list is not empty.
  std::vector<std::string>& presence_rooms() noexcept { return presence_rooms_; }
  boost::asio::steady_timer& presence_timer() noexcept { return presence_timer_; }

 private:
  void schedule_flush();
  void on_flush();
  void on_tick();

  Node& node_;
  unsigned index_;
  boost::asio::io_context ctx_{1};  // concurrency hint 1: one thread runs it
  boost::asio::steady_timer ticker_{ctx_};
  boost::asio::steady_timer presence_timer_{ctx_};
  std::vector<std::string> presence_rooms_;
  Poller poller_{ctx_};  // before sessions_: a session leaves it before it goes
  std::uint64_t session_counter_ = 0;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  std::vector<std::shared_ptr<Session>> dirty_;
  std::vector<PendingAppend> appends_;
  std::vector<std::int64_t> arrivals_;  // of this turn's delivered messages (delivered())
  bool flush_scheduled_ = false;
  hub::LocalRooms hub_;
  std::unordered_map<std::string, std::unique_ptr<OwnedRoom>> owned_;
  std::unordered_map<std::string, std::vector<LookupWaiter>> lookups_;
  std::vector<char> read_buffer_;
  std::vector<std::string_view> write_spans_;
  std::vector<iovec> write_buffers_;
  std::unique_ptr<SendBatch> send_batch_;  // null: io_uring off or unavailable
  std::vector<Session*> batched_;          // the sessions of send_batch_'s entries, in order
  ShardMetrics metrics_;
};

}  // namespace parley::node
