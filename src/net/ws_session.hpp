#pragma once
// One WebSocket connection after the upgrade. From the handshake on Parley owns the bytes
// (protocol/ws_frame.hpp): the session is told by its loop's poller when the socket is ready
// instead of keeping a read pending, reads into its loop's shared buffer, keeps only a partial
// frame, and writes every event queued in a loop turn as one frame with one write. Text frames go
// to the loop's ConnectionHandler; pings, pongs, close frames and every limit of the WebSocket
// layer are handled here. Lives on one loop thread; no locks.
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/token_bucket.hpp"
#include "net/admission.hpp"
#include "net/connection.hpp"
#include "net/poller.hpp"
#include "net/tls.hpp"
#include "protocol/frame_buffer.hpp"
#include "protocol/ws_frame.hpp"

namespace parley::net {

class WsSession final : public Connection, private Poller::Watcher {
 public:
  // Takes the connected, non-blocking socket `fd`; `watched`: its registration with the loop's
  // poller if the handshake made one (0: none yet); `tls`: its TLS state, if it speaks TLS (then
  // every byte goes through it, and writes are not batched).
  WsSession(Loop& loop, std::uint64_t id, int fd, Poller::Handle watched, std::string leftover,
            Admission::Ticket ticket, std::unique_ptr<TlsLink> tls = nullptr);
  ~WsSession() override;

  // Registers with the loop and its poller, handles bytes that arrived with the handshake.
  void start();

  void enqueue(std::string_view event) override;
  void enqueue_shared(const std::shared_ptr<const std::string>& events) override;
  void flush() override;
  bool flush_into(SendBatch& batch) override;
  void sent(std::int64_t result, std::size_t total) override;
  void close(protocol::CloseCode code, std::string_view reason) override;
  void tick(std::int64_t now_ms) override;
  std::size_t queued_bytes() const noexcept override { return unsent(); }
  const std::string& peer_address() const noexcept override { return ticket_.address(); }

 private:
  enum class State : std::uint8_t { open, closing, closed };

  std::shared_ptr<WsSession> self() { return std::static_pointer_cast<WsSession>(shared_from_this()); }
  void on_ready(std::uint32_t events) override;
  void read_ready();      // reads what the socket has (a few buffers at most, then again next turn)
  void continue_write();  // the socket has room again: the rest of inflight_
  void on_bytes(std::span<char> bytes);
  void want_flush();      // asks the loop for flush() at the end of this turn (once)
  bool start_flush();     // a flush's checks (not closed); true if pending_ is to be written now
  void do_write();        // hands pending_ to the kernel now (non-blocking), the rest when there is room
  void write_inflight();  // the same for inflight_, which holds the write
  std::size_t append_pieces(std::vector<iovec>& out);      // inflight_'s pieces as iovecs; their bytes
  std::size_t send_now(std::span<iovec> iov, int& error);  // bytes the kernel took at once; errno if it refused
  // n of inflight_'s total bytes are out; the rest waits for room, or `error` (an errno) ends the connection.
  void wrote(std::size_t n, std::size_t total, int error);
  bool make_room(std::size_t bytes);  // false: over max_outbound_bytes (a slow consumer)
  // Bytes queued that the kernel has not taken (what max_outbound_bytes limits).
  std::uint64_t unsent() const noexcept { return pending_.size() + (writing_ ? inflight_.size() - inflight_sent_ : 0); }
  void on_written();  // inflight_ is out
  void on_peer_close(std::uint16_t code);
  // Fails the connection (RFC 6455 7.1.7): the close frame goes out if the socket takes it now,
  // then the TCP connection is closed at once, without waiting for the peer's close frame. For a
  // peer that broke the protocol or a budget: it gets no more of the node's time.
  void fail(protocol::CloseCode code, std::string_view reason);
  void hard_close();  // closes the socket now and forgets the session
  void account();     // keeps the loop's outbound-bytes gauge true

  int fd_;
  std::unique_ptr<TlsLink> tls_;
  Poller::Handle watched_;
  std::string leftover_;
  Admission::Ticket ticket_;  // its place in the node's connection budgets, given back at the end
  protocol::FrameReader reader_;
  core::TokenBucket frames_;        // every frame it sends takes a token (limits.frame_rate)
  std::string pong_;                // the payload of the last ping not answered yet (one pong per turn)
  protocol::FrameBuffer pending_;   // events queued since the last write started
  protocol::FrameBuffer inflight_;  // the write in progress
  std::int64_t last_seen_ms_;
  std::int64_t ping_sent_ms_ = 0;
  std::int64_t close_deadline_ms_ = 0;
  std::int64_t partial_since_ms_ = 0;  // when the frame being read began (0: none)
  std::int64_t closing_since_ms_ = 0;
  std::uint64_t written_ = 0;  // bytes the kernel took, all told (a closing peer's progress)
  std::uint64_t written_at_deadline_ = 0;
  int unsent_at_deadline_ = 0;  // bytes in the kernel's send queue then (unsent_bytes())
  std::uint64_t accounted_ = 0;
  std::size_t inflight_sent_ = 0;  // bytes of inflight_ the kernel has taken, while writing_
  State state_ = State::open;
  bool writing_ = false;  // the kernel is full: inflight_'s rest waits for room
  bool dirty_ = false;
  bool overflow_ = false;
  bool peer_closed_ = false;
  bool pong_due_ = false;
  bool failing_ = false;     // fail(): only the end of the peer's input is awaited
  std::size_t drained_ = 0;  // bytes dropped from a failed peer
};

}  // namespace parley::net
