#pragma once
// One I/O thread's node side: its network loop (net::Loop: sockets, connections, the end-of-turn
// writes), its hub (rooms → local members), the rooms it owns, the messages its rooms assigned
// seqs to in this turn (handed to the store as one batch at the turn's end), and its counters.
// Shared-nothing: other threads reach a shard only by post(). A shard calls nothing of the node
// by name: at the end of a turn and once a second it calls its ShardWork (the node).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/message.hpp"
#include "core/metrics.hpp"
#include "hub/local_rooms.hpp"
#include "net/loop.hpp"
#include "node/client.hpp"
#include "node/owned_room.hpp"
#include "protocol/errc.hpp"

namespace parley::node {

class Shard;

// Counters of the node's work on one shard (net::LoopMetrics has the connections'), written by
// the shard's thread.
struct ShardMetrics {
  core::Counter frames_in;
  core::Counter messages_in;  // sends accepted (seq assigned)
  core::Counter messages_acked;
  core::Counter resume_rereads;  // a resume's store read again: it had a hole (a cluster's commit in flight)
  core::Counter deliveries;      // events queued to sessions by fan-out
  core::Counter errors_sent;
  core::Counter rate_limited;
  core::Counter rooms_owned;        // gauge
  core::Counter rooms_loaded;       // gauge: rooms with their log in memory
  core::Counter room_lookups;       // rooms looked up in the broker's room index (cluster)
  core::Counter broker_catchups;    // rooms found behind the broker's seq and caught up (cluster)
  core::Counter seq_reseeds;        // rooms whose seq floor was read from the store after a broker failover
  core::Counter seq_taken;          // sends whose seq the store held with another message (re-published)
  core::Counter access_denied;      // requests refused by a room's access (forbidden, bad_password)
  core::Counter removed_sessions;   // sessions taken out of a room (removed or banned)
  core::Counter reactions_refused;  // reacts refused by the reaction budgets (too_many_reactions)
  core::Counter handler_errors;     // exceptions a handler let out (logged; see NodeOptions::fail_fast)
  core::Counter reads_stored;       // read marks written (`read`: one store write each)
  core::Counter searches;           // searches answered with results
  core::Counter searches_refused;   // searches refused by a budget (rate_limited, overloaded)
  // From a chat message's arrival on this node (a client's send read, or its publication from
  // the broker in a cluster) to its fan-out writes on this shard handed to the kernel: one
  // observation per message per shard with members.
  core::Histogram delivery;
  // From a chat message's arrival (a client's send read on this node) to its commit reported back
  // to the room's owner thread: on one node the fan-out starts there, so this is the store's
  // share of `delivery`; in a cluster the sender's ack is sent there. One observation per message.
  core::Histogram commit;
  // From a search's request read to its results sent (the store's work, most of it).
  core::Histogram search;
};

// A message a room's owner assigned a seq to, waiting for the end of the turn to go to the store.
struct PendingAppend {
  core::Message message;
  SessionRef who;
  std::string ref;
  // Published again under a new seq after the store answered seq_taken (ClusterSync::republish):
  // a second seq_taken refuses the send instead of publishing it a third time.
  bool republished = false;
};

// What a shard asks of the node, on the shard's thread.
class ShardWork {
 public:
  // The turn's messages, for the store (one batch per turn).
  virtual void submit_appends(Shard& shard, std::vector<PendingAppend> batch) = 0;
  // About once a second, after every connection's tick.
  virtual void on_tick(Shard& shard, std::int64_t now_ms) = 0;

 protected:
  ~ShardWork() = default;
};

class Shard final : private net::Loop::TurnHooks {
 public:
  Shard(const net::LoopOptions& loop, ShardWork& work);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  net::Loop& loop() noexcept { return loop_; }
  boost::asio::io_context& context() noexcept { return loop_.context(); }
  unsigned index() const noexcept { return loop_.index(); }
  const core::Clock& clock() const noexcept { return loop_.clock(); }

  template <class F>
  void post(F&& f) {
    loop_.post(std::forward<F>(f));
  }

  // The client of connection `id` on this thread, if it is still here.
  Client* find_client(std::uint64_t id);
  template <class F>
  void for_each_client(F&& f) {
    loop_.for_each([&](net::Connection& c) {
      if (c.state()) f(Client::of(c));
    });
  }

  // Queues a message for the store; the shard submits one batch per loop turn.
  void queue_append(PendingAppend p);
  // A chat message that arrived at arrived_ns (steady clock) was queued to this shard's members:
  // its delivery is timed when this turn's writes have been handed to the kernel.
  void delivered(std::int64_t arrived_ns);

  hub::LocalRooms& hub() noexcept { return hub_; }
  std::unordered_map<std::string, std::unique_ptr<OwnedRoom>>& owned() noexcept { return owned_; }
  OwnedRoom* find_owned(const std::string& room);
  // Cluster: rooms this shard would own but has not heard of, being looked up in the broker's
  // room index, then the store (RoomDirectory::find), with the requests waiting for the answer.
  // A waiter gets the error to give if the room is still unknown: no_such_room, or unavailable
  // (no answer).
  using LookupWaiter = std::function<void(protocol::errc)>;
  std::unordered_map<std::string, std::vector<LookupWaiter>>& lookups() noexcept { return lookups_; }
  ShardMetrics& metrics() noexcept { return metrics_; }
  const ShardMetrics& metrics() const noexcept { return metrics_; }

  // Rooms owned here with presence events waiting for their batch, and the timer that sends
  // them (Delivery::announce_presence); armed while the list is not empty.
  std::vector<std::string>& presence_rooms() noexcept { return presence_rooms_; }
  boost::asio::steady_timer& presence_timer() noexcept { return presence_timer_; }

  // Server API requests (node/server_api.cpp) waiting on this shard for an owner's answer, each
  // under an id of its own in place of a session's (the high bit set: never a connection's), so
  // that owners answer them as they answer a client (Delivery), without knowing the difference.
  // How many wait is ServerApi's budget (auth.api_max_in_flight). One that has not been answered
  // by `deadline_ms` hears an `unavailable` error at the next tick.
  using Waiter = std::function<void(const std::string& event)>;
  std::uint64_t add_waiter(Waiter w, std::int64_t deadline_ms);
  // Calls and forgets the waiter `id`; false if there is none (answered already, or expired).
  bool answer_waiter(std::uint64_t id, const std::string& event);

  // The once-a-second tick; stop on the shard's thread.
  void start_ticker() { loop_.start_ticker(); }
  void stop_ticker();

 private:
  void before_writes() override;
  void after_writes() override;
  void on_tick(std::int64_t now_ms) override;

  net::Loop loop_;
  ShardWork& work_;
  boost::asio::steady_timer presence_timer_{loop_.context()};
  std::vector<std::string> presence_rooms_;
  std::vector<PendingAppend> appends_;
  std::vector<std::int64_t> arrivals_;  // of this turn's delivered messages (delivered())
  hub::LocalRooms hub_;
  std::unordered_map<std::string, std::unique_ptr<OwnedRoom>> owned_;
  std::unordered_map<std::string, std::vector<LookupWaiter>> lookups_;
  struct PendingWaiter {
    Waiter answer;
    std::int64_t deadline_ms;
  };
  std::unordered_map<std::uint64_t, PendingWaiter> waiters_;
  std::uint64_t next_waiter_ = 0;
  ShardMetrics metrics_;
};

}  // namespace parley::node
