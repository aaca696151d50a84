#pragma once
// A client connection as the layers above see it: a transport that queues events and writes all
// of a loop turn's events at once, and the three things it tells the layer above (its
// ConnectionHandler): it opened, a text frame arrived, it is closing. The layer above keeps its
// own state for the connection (its session: who the client is, its rooms) attached to it
// (attach()), so that a connection is one lookup from both sides and the state goes with it.
//
// net::WsSession is the transport on a socket; tests use an in-memory one. Everything here is
// touched only on the connection's own loop thread.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/ws_frame.hpp"

namespace parley::net {

class Loop;
class SendBatch;

// The layer above's state for one connection; destroyed with the connection.
class ConnectionState {
 public:
  virtual ~ConnectionState() = default;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Loop& loop, std::uint64_t id) : loop_(loop), id_(id) {}
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues one event (one JSON object, no newline). It is written at the end of the loop turn,
  // with every other event queued for this client meanwhile, as one frame.
  virtual void enqueue(std::string_view event) = 0;
  // The same for one or more events ('\n'-separated) that many connections get: a transport may
  // keep the reference instead of a copy. By default, each event is queued on its own.
  virtual void enqueue_shared(const std::shared_ptr<const std::string>& events);
  // Writes what is queued (called once per loop turn by the loop for each connection that queued).
  virtual void flush() = 0;
  // The same, batched: the transport may add its write to `batch` instead of writing it now,
  // and return true; the loop then submits one batch for all its connections and hands each its
  // outcome with sent() (see SendBatch::submit). By default it writes itself.
  virtual bool flush_into(SendBatch& batch);
  virtual void sent(std::int64_t result, std::size_t total);
  // Starts the closing handshake with `code`; the handler hears on_closed() at once.
  virtual void close(protocol::CloseCode code, std::string_view reason) = 0;
  // Called about once a second by the loop: heartbeats and timeouts.
  virtual void tick(std::int64_t now_ms) = 0;
  // Bytes queued for this client that the kernel has not taken yet: a client far behind gets no
  // new reply built for it (see limits.max_requests_in_flight).
  virtual std::size_t queued_bytes() const noexcept { return 0; }
  // The key of the client's address (net::Admission::address_key): per-address budgets use it.
  virtual const std::string& peer_address() const noexcept;

  Loop& loop() const noexcept { return loop_; }
  std::uint64_t id() const noexcept { return id_; }

  // The session token of the upgrade's cookie (net::session_cookie), for the layer above to check
  // at hello; taken once.
  void set_credential(std::string token) { credential_ = std::move(token); }
  std::string take_credential() noexcept { return std::exchange(credential_, {}); }

  ConnectionState* state() const noexcept { return state_.get(); }
  void attach(std::unique_ptr<ConnectionState> state) noexcept { state_ = std::move(state); }

 private:
  Loop& loop_;
  std::uint64_t id_;
  std::unique_ptr<ConnectionState> state_;
  std::string credential_;
};

// What a connection tells the layer above (node's session side). Called on the connection's loop
// thread, never re-entrantly for one connection.
class ConnectionHandler {
 public:
  // The connection is registered with its loop (Loop::add): attach its state.
  virtual void on_open(Connection& c) = 0;
  // One complete text frame (valid UTF-8, within the frame limit).
  virtual void on_text(Connection& c, std::string_view frame) = 0;
  // The connection is closing or gone: no on_text follows. Once per connection; the connection
  // and its state live on until the loop lets go of them (after this returns, at the earliest).
  virtual void on_closed(Connection& c) = 0;

 protected:
  ~ConnectionHandler() = default;
};

}  // namespace parley::net
