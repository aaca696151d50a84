#include "net/ws_session.hpp"

#include <linux/sockios.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "net/loop.hpp"
#include "net/recv_now.hpp"
#include "net/send_batch.hpp"

namespace parley::net {

using protocol::CloseCode;
using protocol::Opcode;

namespace {
// Bytes the kernel holds for the peer, not yet acknowledged by it (0 if it cannot say).
int unsent_bytes(int fd) {
  int n = 0;
  return ::ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

// Past this a buffer is given back after a write: a burst must not pin memory on an idle client.
constexpr std::size_t keep_capacity = std::size_t{64} * 1024;

std::string_view reason_for(std::uint16_t code) {
  switch (code) {
    case 1002: return "protocol error";
    case 1003: return "binary frames are not accepted";
    case 1007: return "invalid UTF-8";
    case 1009: return "frame too big";
    default: return "";
  }
}
}  // namespace

WsSession::WsSession(Loop& loop, std::uint64_t id, int fd, Poller::Handle watched, std::string leftover,
                     Admission::Ticket ticket, std::unique_ptr<TlsLink> tls)
    : Connection(loop, id),
      fd_(fd),
      tls_(std::move(tls)),
      watched_(watched),
      leftover_(std::move(leftover)),
      ticket_(std::move(ticket)),
      reader_(loop.limits().max_frame_bytes),
      frames_(loop.limits().frame_rate > 0 ? loop.limits().frame_rate : 4 * loop.limits().request_rate,
              loop.limits().frame_burst > 0 ? loop.limits().frame_burst : 4 * loop.limits().request_burst),
      last_seen_ms_(loop.clock().now_ms()) {}

WsSession::~WsSession() {
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);  // a session dropped without hard_close (the server stopping)
}

void WsSession::start() {
  loop().add(shared_from_this());
  auto& poller = loop().poller();
  if (watched_ != 0) {
    poller.rebind(watched_, *this);
    // The handshake may have been told of bytes it left unread (a frame that came while it was
    // still sending its 101), or TLS may hold records it read with the request: the poller
    // reports changes only, so look once.
    loop().post([self = self()] { self->read_ready(); });
  } else if ((watched_ = poller.add(fd_, *this)) == 0) {
    spdlog::warn("epoll_ctl: {}", std::strerror(errno));
    return hard_close();
  }
  // The socket is non-blocking from accept4(); reads and writes pass MSG_DONTWAIT besides.
  // Registering reports bytes already waiting, so no read is missed.
  if (!leftover_.empty()) {
    std::string bytes = std::move(leftover_);
    on_bytes(std::span<char>(bytes.data(), bytes.size()));
  }
}

void WsSession::on_ready(std::uint32_t events) {
  auto keep = self();  // closing drops the loop's reference
  if (state_ == State::closed) return;
  if ((events & EPOLLOUT) && writing_) continue_write();
  // TLS may have had to send (a key update's answer) before it could read on.
  const bool tls_read_waits = tls_ && (events & EPOLLOUT) && tls_->read_wants_write();
  if (state_ != State::closed && (tls_read_waits || (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))))
    read_ready();
}

void WsSession::read_ready() {
  auto& buf = loop().read_buffer();
  // Read what the socket has, a few buffers at most per wake-up so that one busy client cannot
  // starve the others on this thread. The poller reports changes only: a read that stops early
  // goes on next turn; one that got less than a buffer emptied the socket (not so with TLS, which
  // reads a record at a time: it goes on until the socket would block).
  for (int i = 0; i < (tls_ ? 8 : 4); ++i) {
    if (state_ == State::closed) return;
    const Received got = tls_ ? tls_->read(buf) : recv_now(fd_, buf);
    if (got.state == Received::State::would_block) {
      if (tls_ && tls_->read_wants_write()) loop().poller().want_writable(watched_, fd_);
      return;
    }
    if (got.state == Received::State::closed) return hard_close();  // EOF or reset
    on_bytes(std::span<char>(buf.data(), got.bytes));
    if (!tls_ && got.bytes < buf.size()) return;
  }
  if (state_ != State::closed) loop().post([self = self()] { self->read_ready(); });
}

void WsSession::on_bytes(std::span<char> bytes) {
  if (failing_) {  // nothing more is read from a failed peer: dropped until it closes
    drained_ += bytes.size();
    if (drained_ > std::size_t{64} * 1024) hard_close();
    return;
  }
  const std::int64_t now = loop().clock().now_ms();
  last_seen_ms_ = now;
  using Kind = protocol::FrameReader::Kind;
  bool flooding = false;
  const std::uint16_t violation = reader_.consume(bytes, [&](const protocol::FrameReader::Event& e) {
    // Every frame counts, control frames too: a client that sends more than limits.frame_rate
    // is flooding, not chatting (the request bucket answers a chatty one first).
    std::int64_t wait = 0;
    if (e.kind != Kind::close && !frames_.take(now, wait)) {
      flooding = true;
      return false;
    }
    switch (e.kind) {
      case Kind::text:
        if (state_ == State::open) loop().handler().on_text(*this, e.payload);
        break;
      case Kind::ping:
        // Answered at the end of the turn; of several pings in a turn only the last (RFC 6455
        // 5.5.3): a ping flood queues one pong, not one each.
        if (state_ == State::open) {
          pong_.assign(e.payload);
          pong_due_ = true;
          want_flush();
        }
        break;
      case Kind::pong: break;
      case Kind::close: on_peer_close(e.close_code); return false;
    }
    return state_ != State::closed;
  });
  if (flooding && state_ == State::open) {
    loop().metrics().protocol_closes.add();
    loop().metrics().flood_closes.add();
    return fail(CloseCode::policy_violation, "too many frames");
  }
  if (violation && state_ == State::open) {
    loop().metrics().protocol_closes.add();
    return fail(static_cast<CloseCode>(violation), reason_for(violation));
  }
  // A frame begun must be whole within limits.frame_timeout_ms (tick()).
  if (reader_.buffered() == 0)
    partial_since_ms_ = 0;
  else if (partial_since_ms_ == 0)
    partial_since_ms_ = now;
  reader_.release_memory();
}

bool WsSession::make_room(std::size_t bytes) {
  const std::uint64_t limit = loop().limits().max_outbound_bytes;
  // The limit is on bytes the kernel has not taken. Before refusing, hand what is queued to the
  // socket: a client that reads keeps up with a burst larger than the limit.
  if (unsent() + bytes > limit && !writing_ && !pending_.empty()) do_write();
  if (unsent() + bytes > limit) {
    overflow_ = true;  // closed at flush time: we may be inside a fan-out over this room
    return false;
  }
  return true;
}

void WsSession::enqueue(std::string_view event) {
  if (state_ != State::open || overflow_) return;
  if (make_room(event.size())) pending_.add_event(event);
  want_flush();
}

void WsSession::enqueue_shared(const std::shared_ptr<const std::string>& events) {
  if (state_ != State::open || overflow_) return;
  if (unsent() + events->size() > loop().limits().max_outbound_bytes && events->find('\n') != std::string::npos) {
    // Near the limit: event by event, as enqueue() goes, so that the kernel takes what it can
    // between them (a client that reads survives a burst larger than the limit).
    return Connection::enqueue_shared(events);
  }
  if (make_room(events->size())) pending_.add_shared(events);
  want_flush();
}

void WsSession::want_flush() {
  if (dirty_) return;
  dirty_ = true;
  loop().mark_dirty(*this);
}

bool WsSession::start_flush() {
  if (pong_due_ && state_ == State::open) {
    pong_due_ = false;
    // The pong counts against max_outbound_bytes like any event: a client that pings and never
    // reads is a slow consumer.
    if (make_room(pong_.size() + 2)) pending_.add_control(Opcode::pong, pong_);
  }
  if (overflow_ && state_ == State::open) {
    // A slow consumer: what it has not read is dropped, and its 1013 goes next, ahead of it; it
    // resumes from its last seq. A frame the kernel has begun taking must be finished first.
    loop().metrics().slow_consumer_closes.add();
    pending_.clear();
    if (writing_ && inflight_sent_ == 0) {
      inflight_.clear();
      writing_ = false;
    }
    close(CloseCode::try_again_later, "slow consumer");
  }
  return !writing_ && !pending_.empty();
}

void WsSession::flush() {
  dirty_ = false;
  if (state_ == State::closed) return;
  if (start_flush()) do_write();
  account();
}

bool WsSession::flush_into(SendBatch& batch) {
  if (tls_) {  // a TLS record is written through OpenSSL, not the batch
    flush();
    return false;
  }
  dirty_ = false;
  if (state_ == State::closed) return false;
  if (!start_flush()) {
    account();
    return false;
  }
  inflight_.swap(pending_);
  auto& iov = batch.pieces();
  const std::size_t first = iov.size();
  append_pieces(iov);  // the batch counts the bytes itself
  if (iov.size() - first > IOV_MAX) {
    // More pieces than one sendmsg takes (thousands of shared events queued): written now.
    iov.resize(first);
    write_inflight();
    account();
    return false;
  }
  batch.add(fd_, first, iov.size() - first);
  return true;
}

void WsSession::sent(std::int64_t result, std::size_t total) {
  wrote(result > 0 ? static_cast<std::size_t>(result) : 0, total, result < 0 ? static_cast<int>(-result) : 0);
  account();
}

void WsSession::do_write() {
  // The socket is non-blocking: the kernel takes at once what its buffer has room for (usually
  // all of it), and only the rest waits for the poller to report room. So `writing_` means "the
  // kernel is full", which is what max_outbound_bytes is about.
  inflight_.swap(pending_);
  write_inflight();
}

void WsSession::write_inflight() {
  auto& iov = loop().write_buffers();
  iov.clear();
  const std::size_t total = append_pieces(iov);
  int error = 0;
  const std::size_t n = send_now(iov, error);
  wrote(n, total, error);
}

std::size_t WsSession::append_pieces(std::vector<iovec>& out) {
  // One scatter-gather write of the frame's pieces: shared events go to the kernel from the one
  // copy every member's write points at.
  auto& spans = loop().write_spans();
  spans.clear();
  inflight_.pieces(spans);
  std::size_t total = 0;
  for (const auto sv : spans) {
    out.push_back(iovec{const_cast<char*>(sv.data()), sv.size()});
    total += sv.size();
  }
  return total;
}

void WsSession::wrote(std::size_t n, std::size_t total, int error) {
  auto& m = loop().metrics();
  m.bytes_out.add(n);
  written_ += n;
  if (n == total) {
    m.writes.add();
    inflight_.clear();
    if (inflight_.capacity() > keep_capacity) inflight_.release_memory();
    if (state_ == State::closing && peer_closed_) {
      // Our close frame is out and the peer's is in; finish outside whatever called us.
      loop().post([self = self()] { self->hard_close(); });
    }
    return;
  }
  // The rest waits, as one contiguous buffer (shared events copied in).
  inflight_.seal();
  writing_ = true;
  inflight_sent_ = n;
  if (error != 0 && error != EAGAIN && error != EWOULDBLOCK && error != EINTR) {
    // Reset or broken pipe. This may run inside a fan-out over the room, where closing is not
    // allowed: the connection ends after it.
    loop().post([self = self()] { self->hard_close(); });
    return;
  }
  // The kernel is full: the poller reports room (the first time this socket fills, it starts
  // watching for room, which also reports room that appeared since the write).
  loop().poller().want_writable(watched_, fd_);
}

void WsSession::continue_write() {
  const std::string_view bytes = inflight_.seal();  // sealed already: the same bytes
  if (tls_) {
    // The same bytes from where the last write stopped, as OpenSSL wants a retry to be.
    iovec rest{const_cast<char*>(bytes.data() + inflight_sent_), bytes.size() - inflight_sent_};
    int error = 0;
    const std::size_t n = tls_->write(std::span<const iovec>(&rest, 1), error);
    loop().metrics().bytes_out.add(n);
    inflight_sent_ += n;
    written_ += n;
    if (inflight_sent_ < bytes.size()) {
      if (error != 0) return hard_close();
      return account();  // still full: wait for more room
    }
    return on_written();
  }
  while (inflight_sent_ < bytes.size()) {
    const ssize_t n =
        ::send(fd_, bytes.data() + inflight_sent_, bytes.size() - inflight_sent_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      loop().metrics().bytes_out.add(static_cast<std::size_t>(n));
      inflight_sent_ += static_cast<std::size_t>(n);
      written_ += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return account();  // still full: wait for more room
    if (n < 0 && errno == EINTR) continue;
    return hard_close();
  }
  on_written();
}

std::size_t WsSession::send_now(std::span<iovec> iov, int& error) {
  if (tls_) return tls_->write(iov, error);
  // sendmsg() takes at most IOV_MAX pieces: go on while the kernel takes whole chunks.
  std::size_t sent = 0;
  while (!iov.empty()) {
    const std::size_t count = std::min<std::size_t>(iov.size(), IOV_MAX);
    std::size_t chunk = 0;
    for (std::size_t i = 0; i < count; ++i) chunk += iov[i].iov_len;
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) error = errno;
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < chunk) break;
    iov = iov.subspan(count);
  }
  return sent;
}

void WsSession::on_written() {
  writing_ = false;
  inflight_sent_ = 0;
  loop().metrics().writes.add();
  inflight_.clear();
  if (inflight_.capacity() > keep_capacity) inflight_.release_memory();
  if (!pending_.empty()) {
    do_write();
  } else {
    if (pending_.capacity() > keep_capacity) pending_.release_memory();
    // Our close frame is out and the peer's is in: the closing handshake is complete.
    if (state_ == State::closing && peer_closed_) return hard_close();
  }
  account();
}

void WsSession::close(CloseCode code, std::string_view reason) {
  if (state_ != State::open) return;
  state_ = State::closing;
  closing_since_ms_ = loop().clock().now_ms();
  close_deadline_ms_ = closing_since_ms_ + loop().limits().close_timeout_ms;
  written_at_deadline_ = written_;
  unsent_at_deadline_ = unsent_bytes(fd_);
  loop().handler().on_closed(*this);
  pending_.add_control(Opcode::close, protocol::make_close_payload(code, reason));
  if (!writing_) do_write();
  account();
}

void WsSession::fail(CloseCode code, std::string_view reason) {
  close(code, reason);  // the close frame, written now if the socket takes it
  if (state_ != State::closing) return;
  // FIN right after the close frame: the server ends the connection, and waits for nothing from
  // the peer. What the peer still sends is read and dropped (up to 64 KiB, for 2 s at most):
  // closing a socket with unread bytes resets it, and a reset can destroy the close frame
  // before the peer has read it.
  ::shutdown(fd_, SHUT_WR);
  failing_ = true;
  close_deadline_ms_ = loop().clock().now_ms() + std::min<std::int64_t>(2000, loop().limits().close_timeout_ms);
}

void WsSession::on_peer_close(std::uint16_t code) {
  peer_closed_ = true;
  if (state_ == State::open) {
    // Echo the peer's code (RFC 6455 5.5.1), then close the TCP connection once it is written.
    state_ = State::closing;
    closing_since_ms_ = loop().clock().now_ms();
    close_deadline_ms_ = closing_since_ms_ + loop().limits().close_timeout_ms;
    written_at_deadline_ = written_;
    unsent_at_deadline_ = unsent_bytes(fd_);
    loop().handler().on_closed(*this);
    pending_.add_control(Opcode::close,
                         code == 1005 ? std::string() : protocol::make_close_payload(static_cast<CloseCode>(code), {}));
    if (!writing_) do_write();
    return;
  }
  if (state_ == State::closing && !writing_ && pending_.empty()) hard_close();
}

void WsSession::tick(std::int64_t now) {
  const auto& l = loop().limits();
  if (state_ == State::closing) {
    if (now < close_deadline_ms_) return;
    if (failing_) return hard_close();
    // A peer still reading what was queued before the close frame (a slow consumer's 1013 comes
    // after the rest of the frame it was reading) gets more time, up to five close timeouts in
    // all; one that took nothing since the last deadline does not. Taking counts from the
    // kernel's send queue too: a reader draining megabytes the kernel holds makes no room for
    // our writes for a while, yet it is reading.
    const int unsent = unsent_bytes(fd_);
    const bool progress = written_ > written_at_deadline_ || unsent < unsent_at_deadline_;
    if (progress && now - closing_since_ms_ < 5 * static_cast<std::int64_t>(l.close_timeout_ms)) {
      written_at_deadline_ = written_;
      unsent_at_deadline_ = unsent;
      close_deadline_ms_ = now + l.close_timeout_ms;
      return;
    }
    return hard_close();
  }
  if (state_ != State::open) return;
  if (partial_since_ms_ != 0 && now - partial_since_ms_ > static_cast<std::int64_t>(l.frame_timeout_ms)) {
    loop().metrics().protocol_closes.add();
    return fail(CloseCode::policy_violation, "frame timeout");
  }
  // An idle client keeps no write buffer: the capacity its last writes left behind (a few hundred
  // bytes after the welcome) goes back, about a tenth of what an idle connection costs.
  if (!writing_ && pending_.empty()) {
    pending_.release_memory();
    inflight_.release_memory();
  }
  // Any bytes from the client answer a ping. A ping is outstanding when nothing arrived since it
  // was sent; the pong timeout runs from the ping, not from the client's last bytes.
  const bool ping_outstanding = ping_sent_ms_ > last_seen_ms_;
  if (ping_outstanding && now - ping_sent_ms_ > static_cast<std::int64_t>(l.pong_timeout_ms)) {
    return close(CloseCode::going_away, "ping timeout");
  }
  if (!ping_outstanding && now - last_seen_ms_ > static_cast<std::int64_t>(l.ping_interval_ms)) {
    ping_sent_ms_ = now;
    pending_.add_control(Opcode::ping, {});
    want_flush();
  }
}

void WsSession::hard_close() {
  if (state_ == State::closed) return;
  if (state_ == State::open) loop().handler().on_closed(*this);
  state_ = State::closed;
  loop().poller().remove(watched_, fd_);
  watched_ = 0;
  tls_.reset();
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
  pending_.clear();
  pending_.release_memory();
  account();
  loop().remove(id());  // the last reference may be a pending handler's
}

void WsSession::account() {
  const std::uint64_t now = state_ == State::closed ? 0 : pending_.size() + inflight_.size();
  auto& gauge = loop().metrics().outbound_bytes;
  if (now > accounted_)
    gauge.add(now - accounted_);
  else
    gauge.sub(accounted_ - now);
  accounted_ = now;
}

}  // namespace parley::net
