#pragma once
// One WebSocket connection after the upgrade. Beast parsed the HTTP handshake; from here Parley
// owns the bytes (protocol/ws_frame.hpp): the session waits for readability instead of keeping a
// read pending, reads into its shard's shared buffer, keeps only a partial frame, and writes every
// event queued in a loop turn as one frame with one write. Lives on one shard thread; no locks.
#include <boost/asio/ip/tcp.hpp>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "node/session.hpp"
#include "protocol/frame_buffer.hpp"
#include "protocol/ws_frame.hpp"

namespace parley::net {

class WsSession final : public node::Session {
 public:
  WsSession(node::Shard& shard, std::uint64_t id, boost::asio::ip::tcp::socket socket, std::string leftover);
  ~WsSession() override;

  // Registers with the shard, handles bytes that arrived with the handshake, starts reading.
  void start();

  void enqueue(std::string_view event) override;
  void enqueue_shared(const std::shared_ptr<const std::string>& events) override;
  void flush() override;
  bool flush_into(node::SendBatch& batch) override;
  void sent(std::int64_t result, std::size_t total) override;
  void close(protocol::CloseCode code, std::string_view reason) override;
  void tick(std::int64_t now_ms) override;

 private:
  enum class State : std::uint8_t { open, closing, closed };

  std::shared_ptr<WsSession> self() { return std::static_pointer_cast<WsSession>(shared_from_this()); }
  void do_wait();
  void on_readable(const boost::system::error_code& ec);
  void on_bytes(std::span<char> bytes);
  void want_flush();  // asks the shard for flush() at the end of this loop turn (once)
  bool start_flush();  // a flush's checks (not closed); true if pending_ is to be written now
  void do_write();  // hands pending_ to the kernel now (non-blocking), the rest by async_write
  void write_inflight();  // the same for inflight_, which holds the write
  std::size_t append_pieces(std::vector<iovec>& out);  // inflight_'s pieces as iovecs; their bytes
  std::size_t send_now(std::span<iovec> iov);  // bytes the kernel took at once
  void wrote(std::size_t n, std::size_t total);  // n of inflight_'s total bytes are out: the rest by async_write
  bool make_room(std::size_t bytes);  // false: over max_outbound_bytes (a slow consumer)
  // Bytes queued that the kernel has not taken (what max_outbound_bytes limits).
  std::uint64_t unsent() const noexcept { return pending_.size() + (writing_ ? inflight_.size() - inflight_sent_ : 0); }
  void on_write(const boost::system::error_code& ec, std::size_t n);
  void on_peer_close(std::uint16_t code);
  void hard_close();  // closes the socket now and forgets the session
  void account();     // keeps the shard's outbound-bytes gauge true

  boost::asio::ip::tcp::socket socket_;
  std::string leftover_;
  protocol::FrameReader reader_;
  protocol::FrameBuffer pending_;   // events queued since the last write started
  protocol::FrameBuffer inflight_;  // the write in progress
  std::int64_t opened_ms_;
  std::int64_t last_seen_ms_;
  std::int64_t ping_sent_ms_ = 0;
  std::int64_t close_deadline_ms_ = 0;
  std::uint64_t accounted_ = 0;
  std::size_t inflight_sent_ = 0;  // bytes of inflight_ the kernel took before its async_write
  State state_ = State::open;
  bool writing_ = false;
  bool dirty_ = false;
  bool overflow_ = false;
  bool peer_closed_ = false;
};

}  // namespace parley::net
