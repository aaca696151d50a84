#include "net/ws_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "node/node.hpp"
#include "node/send_batch.hpp"
#include "node/shard.hpp"

namespace parley::net {

using protocol::CloseCode;
using protocol::Opcode;

namespace {
// Past this a buffer is given back after a write: a burst must not pin memory on an idle client.
constexpr std::size_t keep_capacity = 64 * 1024;

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

WsSession::WsSession(node::Shard& shard, std::uint64_t id, boost::asio::ip::tcp::socket socket, std::string leftover)
    : Session(shard, id, shard.node().options().limits),
      socket_(std::move(socket)),
      leftover_(std::move(leftover)),
      reader_(shard.node().options().limits.max_frame_bytes),
      opened_ms_(node::now_ms()),
      last_seen_ms_(opened_ms_) {}

WsSession::~WsSession() = default;

void WsSession::start() {
  shard().add_session(shared_from_this());
  // The socket is non-blocking from accept4(); reads and writes pass MSG_DONTWAIT besides.
  if (!leftover_.empty()) {
    std::string bytes = std::move(leftover_);
    on_bytes(std::span<char>(bytes.data(), bytes.size()));
  }
  if (state_ != State::closed) do_wait();
}

void WsSession::do_wait() {
  socket_.async_wait(boost::asio::ip::tcp::socket::wait_read,
                     [self = self()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void WsSession::on_readable(const boost::system::error_code& ec) {
  if (state_ == State::closed) return;
  if (ec) return hard_close();
  auto& buf = shard().read_buffer();
  // Read what the socket has, a few buffers at most per wake-up so that one busy client cannot
  // starve the others on this thread.
  for (int i = 0; i < 4 && state_ != State::closed; ++i) {
    const ssize_t got = ::recv(socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    if (got <= 0) return hard_close();  // EOF or reset
    const auto n = static_cast<std::size_t>(got);
    on_bytes(std::span<char>(buf.data(), n));
    if (n < buf.size()) break;
  }
  if (state_ != State::closed) do_wait();
}

void WsSession::on_bytes(std::span<char> bytes) {
  last_seen_ms_ = node::now_ms();
  using Kind = protocol::FrameReader::Kind;
  const std::uint16_t violation = reader_.consume(bytes, [this](const protocol::FrameReader::Event& e) {
    switch (e.kind) {
      case Kind::text:
        if (state_ == State::open) shard().node().on_text(*this, e.payload);
        break;
      case Kind::ping:
        if (state_ == State::open) {
          pending_.add_control(Opcode::pong, e.payload);
          want_flush();
        }
        break;
      case Kind::pong:
        break;
      case Kind::close:
        on_peer_close(e.close_code);
        return false;
    }
    return state_ != State::closed;
  });
  if (violation && state_ == State::open) {
    shard().metrics().protocol_closes.add();
    close(static_cast<CloseCode>(violation), reason_for(violation));
  }
  reader_.release_memory();
}

bool WsSession::make_room(std::size_t bytes) {
  const std::uint64_t limit = shard().node().options().limits.max_outbound_bytes;
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
  if (unsent() + events->size() > shard().node().options().limits.max_outbound_bytes &&
      events->find('\n') != std::string::npos) {
    // Near the limit: event by event, as enqueue() goes, so that the kernel takes what it can
    // between them (a client that reads survives a burst larger than the limit).
    return Session::enqueue_shared(events);
  }
  if (make_room(events->size())) pending_.add_shared(events);
  want_flush();
}

void WsSession::want_flush() {
  if (dirty_) return;
  dirty_ = true;
  shard().mark_dirty(*this);
}

bool WsSession::start_flush() {
  if (overflow_ && state_ == State::open) {
    // A slow consumer: what it has not read is dropped; it resumes from its last seq.
    shard().metrics().slow_consumer_closes.add();
    pending_.clear();
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

bool WsSession::flush_into(node::SendBatch& batch) {
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
  batch.add(socket_.native_handle(), first, iov.size() - first);
  return true;
}

void WsSession::sent(std::int64_t result, std::size_t total) {
  // An error counts as nothing sent: the async_write that follows reports it.
  wrote(result > 0 ? static_cast<std::size_t>(result) : 0, total);
  account();
}

void WsSession::do_write() {
  // The socket is non-blocking: write_some takes at once what the kernel buffer has room for
  // (usually all of it), and only the rest waits for an async_write. So `writing_` means "the
  // kernel is full", which is what max_outbound_bytes is about. A write error is left to the
  // async_write: this may run inside a fan-out over the room, where closing is not allowed.
  inflight_.swap(pending_);
  write_inflight();
}

void WsSession::write_inflight() {
  auto& iov = shard().write_buffers();
  iov.clear();
  const std::size_t total = append_pieces(iov);
  wrote(send_now(iov), total);
}

std::size_t WsSession::append_pieces(std::vector<iovec>& out) {
  // One scatter-gather write of the frame's pieces: shared events go to the kernel from the one
  // copy every member's write points at.
  auto& spans = shard().write_spans();
  spans.clear();
  inflight_.pieces(spans);
  std::size_t total = 0;
  for (const auto sv : spans) {
    out.push_back(iovec{const_cast<char*>(sv.data()), sv.size()});
    total += sv.size();
  }
  return total;
}

void WsSession::wrote(std::size_t n, std::size_t total) {
  auto& m = shard().metrics();
  m.bytes_out.add(n);
  if (n == total) {
    m.writes.add();
    inflight_.clear();
    if (inflight_.capacity() > keep_capacity) inflight_.release_memory();
    if (state_ == State::closing && peer_closed_) {
      // Our close frame is out and the peer's is in; finish outside whatever called us.
      boost::asio::post(socket_.get_executor(), [self = self()] { self->hard_close(); });
    }
    return;
  }
  // The kernel is full: the rest waits, as one contiguous buffer (shared events copied in).
  const std::string_view bytes = inflight_.seal();
  writing_ = true;
  inflight_sent_ = n;
  boost::asio::async_write(socket_, boost::asio::buffer(bytes.data() + n, bytes.size() - n),
                           [self = self()](const boost::system::error_code& e, std::size_t k) { self->on_write(e, k); });
}

std::size_t WsSession::send_now(std::span<iovec> iov) {
  // sendmsg() takes at most IOV_MAX pieces: go on while the kernel takes whole chunks. An error
  // (reset, broken pipe) counts as nothing sent; the async_write that follows reports it.
  std::size_t sent = 0;
  while (!iov.empty()) {
    const std::size_t count = std::min<std::size_t>(iov.size(), IOV_MAX);
    std::size_t chunk = 0;
    for (std::size_t i = 0; i < count; ++i) chunk += iov[i].iov_len;
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < chunk) break;
    iov = iov.subspan(count);
  }
  return sent;
}

void WsSession::on_write(const boost::system::error_code& ec, std::size_t n) {
  writing_ = false;
  if (state_ == State::closed) return;
  if (ec) return hard_close();
  auto& m = shard().metrics();
  m.bytes_out.add(n);
  m.writes.add();
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
  close_deadline_ms_ = node::now_ms() + shard().node().options().limits.close_timeout_ms;
  shard().node().on_closed(*this);
  pending_.add_control(Opcode::close, protocol::make_close_payload(code, reason));
  if (!writing_) do_write();
  account();
}

void WsSession::on_peer_close(std::uint16_t code) {
  peer_closed_ = true;
  if (state_ == State::open) {
    // Echo the peer's code (RFC 6455 5.5.1), then close the TCP connection once it is written.
    state_ = State::closing;
    close_deadline_ms_ = node::now_ms() + shard().node().options().limits.close_timeout_ms;
    shard().node().on_closed(*this);
    pending_.add_control(Opcode::close, code == 1005 ? std::string() : protocol::make_close_payload(static_cast<CloseCode>(code), {}));
    if (!writing_) do_write();
    return;
  }
  if (state_ == State::closing && !writing_ && pending_.empty()) hard_close();
}

void WsSession::tick(std::int64_t now) {
  const auto& l = shard().node().options().limits;
  if (state_ == State::closing) {
    if (now >= close_deadline_ms_) hard_close();
    return;
  }
  if (state_ != State::open) return;
  if (user.empty() && now - opened_ms_ > static_cast<std::int64_t>(l.hello_timeout_ms)) {
    return close(CloseCode::policy_violation, "hello timeout");
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
  if (state_ == State::open) shard().node().on_closed(*this);
  state_ = State::closed;
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  pending_.clear();
  pending_.release_memory();
  account();
  shard().remove_session(id());  // the last reference may be a pending handler's
}

void WsSession::account() {
  const std::uint64_t now = state_ == State::closed ? 0 : pending_.size() + inflight_.size();
  auto& gauge = shard().metrics().outbound_bytes;
  if (now > accounted_) gauge.add(now - accounted_);
  else gauge.sub(accounted_ - now);
  accounted_ = now;
}

}  // namespace parley::net
