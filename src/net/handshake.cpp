// The first request of a connection, read and answered without Beast when it is what every chat
// client sends (see the class comment); everything else goes to the HTTP session.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/steady_timer.hpp>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "net/http_session.hpp"
#include "net/loop.hpp"
#include "net/recv_now.hpp"
#include "net/upgrade.hpp"
#include "net/ws_session.hpp"
#include "protocol/handshake.hpp"
#include "protocol/proxy_header.hpp"

namespace parley::net {

using tcp = boost::asio::ip::tcp;

namespace {

// The first request of a connection. A plain `GET /ws` upgrade — what every chat client sends —
// is answered here from one non-blocking read, a header scan and one send: no HTTP parser and no
// stream object, so a few small allocations instead of Beast's dozen. Anything else (a page, a health check, a bad
// or partial request the scan is unsure of) goes with the bytes read so far to HttpSession, which
// answers it exactly as if it had read them itself.
class Handshake : public std::enable_shared_from_this<Handshake>, private Poller::Watcher {
 public:
  Handshake(Loop& loop, const HttpOptions& options, int fd, tcp protocol, Admission::Ticket ticket)
      : loop_(loop),
        options_(options),
        fd_(fd),
        protocol_(protocol),
        ticket_(std::move(ticket)),
        timer_(loop.context()),
        deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(limits().handshake_timeout_ms)) {}

  ~Handshake() {
    if (fd_ >= 0) ::close(fd_);
  }

  // A client sends its request as soon as it is connected: the request is usually here by the
  // time the listener accepts, and then the handshake needs no timer and no registration with
  // the poller (the session registers the socket).
  void run() { on_readable(); }

 private:
  const core::Limits& limits() const { return loop_.limits(); }

  // Waits for the rest of the request, or for room to send the rest of the 101.
  void watch(bool writable) {
    auto& poller = loop_.poller();
    if (watched_ == 0) {
      watched_ = poller.add(fd_, *this, writable);
      if (watched_ == 0) return close();
      // The poller holds a plain pointer: the timer's pending handler keeps this alive until
      // finish() (or the deadline) ends the wait, and goes with the io_context at shutdown.
      waiting_ = true;
      timer_.expires_at(deadline_);
      timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec && !self->done_) self->close();
      });
    } else if (writable) {
      poller.want_writable(watched_, fd_);
    }
  }

  void on_ready(std::uint32_t events) override {
    auto keep = shared_from_this();
    if (sending_) {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) send_response();
      return;
    }
    on_readable();
  }

  void on_readable() {
    auto& buf = loop_.read_buffer();
    const Received got = recv_now(fd_, buf);
    if (got.state == Received::State::would_block) return watch(false);
    if (got.state == Received::State::closed) return close();  // reset, or closed before a request
    std::string_view bytes(buf.data(), got.bytes);
    if (!partial_.empty()) {
      partial_.append(bytes);
      bytes = partial_;
    }
    if (ticket_.from_trusted_proxy() && !proxy_read_) {
      // A trusted proxy's connection starts with a PROXY v2 header naming the client: budgets
      // are the client's from here on. One of the proxy's own (a health check) has none.
      protocol::ProxyHeader header;
      switch (protocol::parse_proxy_header(bytes, header)) {
        case protocol::ProxyParse::incomplete:
          if (partial_.empty()) partial_.assign(bytes);
          return watch(false);
        case protocol::ProxyParse::invalid:
          if (bytes.front() == '\r') return close();  // a header that breaks off
          proxy_read_ = true;
          break;
        case protocol::ProxyParse::complete: {
          proxy_read_ = true;
          sockaddr_storage source{};
          if (const socklen_t len = protocol::proxy_source_sockaddr(header, source))
            options_.admission->set_address(ticket_, Admission::address_key(reinterpret_cast<sockaddr*>(&source), len));
          partial_.assign(bytes.substr(header.length));
          if (partial_.empty()) return watch(false);
          bytes = partial_;
          break;
        }
      }
    }
    protocol::UpgradeRequest req;
    switch (protocol::scan_upgrade_request(bytes, limits().max_header_bytes, req)) {
      case protocol::Scan::incomplete:
        if (partial_.empty()) partial_.assign(bytes);
        return watch(false);
      case protocol::Scan::other: return to_http(bytes);
      case protocol::Scan::complete:
        if (!upgrade(bytes, req)) to_http(bytes);
        return;
    }
  }

  // False when the request is one HttpSession should answer (an error, or not /ws).
  bool upgrade(std::string_view bytes, const protocol::UpgradeRequest& req) {
    const std::string_view path = req.target.substr(0, req.target.find('?'));
    const bool origin_ok = options_.origins.allows(req.has_origin ? std::optional(req.origin) : std::nullopt, req.host);
    if (refusal_of(path, req.version, req.key, options_.service->draining(), origin_ok) != Refusal::none) return false;
    // Over a budget (the address's, the node's memory): HttpSession says which, with its status.
    if (options_.admission->admit(ticket_) != Admission::Verdict::ok) return false;
    loop_.metrics().http_requests.add();
    response_ = protocol::make_upgrade_response(accept_key(req.key),
                                                offers_subprotocol(req.protocols) ? subprotocol : std::string_view());
    // Bytes after the request (a client may send its first frame at once) go to the session.
    leftover_.assign(bytes.substr(req.length));
    credential_ = upgrade_credential(req.cookie);
    sending_ = true;
    send_response();
    return true;
  }

  void send_response() {
    while (sent_ < response_.size()) {
      const ssize_t n = ::send(fd_, response_.data() + sent_, response_.size() - sent_, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      // A fresh socket's buffer is empty, so this is rare: the rest goes when there is room.
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch(true);
      return close();
    }
    open_session();
  }

  void open_session() {
    finish();
    auto session = std::make_shared<WsSession>(loop_, loop_.next_connection_id(), std::exchange(fd_, -1),
                                               std::exchange(watched_, 0), std::move(leftover_), std::move(ticket_));
    session->set_credential(std::move(credential_));
    session->start();
  }

  void to_http(std::string_view bytes) {
    finish();
    // HttpSession reads through Asio: the socket leaves the poller's set for Asio's.
    loop_.poller().remove(std::exchange(watched_, 0), fd_, true);
    boost::system::error_code ec;
    tcp::socket socket(loop_.context());
    socket.assign(protocol_, fd_, ec);
    if (ec) return close();  // not taken: still ours
    fd_ = -1;
    serve_http(loop_, options_, std::move(socket), bytes, deadline_, std::move(ticket_));
  }

  void close() {
    finish();
    loop_.poller().remove(std::exchange(watched_, 0), fd_);
    ::shutdown(fd_, SHUT_WR);
    ::close(std::exchange(fd_, -1));
  }

  // Done with the poller's and the timer's help.
  void finish() {
    done_ = true;
    if (waiting_) timer_.cancel();
    waiting_ = false;
  }

  Loop& loop_;
  std::string credential_;  // the session cookie of the upgrade, for the WsSession
  const HttpOptions& options_;
  int fd_;
  tcp protocol_;
  Admission::Ticket ticket_;
  bool proxy_read_ = false;  // the PROXY header of a trusted proxy's connection is read (or absent)
  Poller::Handle watched_ = 0;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_;
  std::string partial_;   // a request that came in pieces, until it is whole
  std::string response_;  // the 101
  std::size_t sent_ = 0;  // of response_
  std::string leftover_;
  bool sending_ = false;
  bool waiting_ = false;  // the timer is armed
  bool done_ = false;
};

}  // namespace

void start_http_session(Loop& loop, const HttpOptions& options, int fd, tcp protocol, Admission::Ticket ticket) {
  std::make_shared<Handshake>(loop, options, fd, protocol, std::move(ticket))->run();
}

}  // namespace parley::net
