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
#include "net/log.hpp"
#include "net/loop.hpp"
#include "net/recv_now.hpp"
#include "net/tls.hpp"
#include "net/upgrade.hpp"
#include "net/ws_session.hpp"
#include "protocol/events.hpp"
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
    tls_.reset();
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
    if (options_.tls != nullptr) return tls_readable();
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
          if (header.client_tls) ticket_.set_secure();
          partial_.assign(bytes.substr(header.length));
          if (partial_.empty()) return watch(false);
          bytes = partial_;
          break;
        }
      }
    }
    scan(bytes);
  }

  // The request so far (`bytes`: the whole of it that has come) is looked at.
  void scan(std::string_view bytes) {
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
    if (refusal_of(path, req.version, req.key, options_.service->closing(), origin_ok) != Refusal::none) return false;
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

  // A TLS connection: a trusted proxy's PROXY header (in the clear, before TLS), the TLS
  // handshake, then the request, read through TLS until the socket would block (a read takes one
  // record, so less than a buffer does not mean there is no more).
  void tls_readable() {
    if (!handshaken_ && !tls_handshake()) return;
    auto& buf = loop_.read_buffer();
    bool got_any = false;
    while (partial_.size() <= limits().max_header_bytes) {
      const Received got = tls_->read(buf);
      if (got.state == Received::State::closed) return close();
      if (got.state == Received::State::would_block) break;
      partial_.append(buf.data(), got.bytes);
      got_any = true;
    }
    if (!got_any) return watch(tls_->read_wants_write());
    scan(partial_);  // kept as it is if incomplete (scan() appends nothing to a partial_ in use)
  }

  // True once the TLS handshake is done; false while it waits (watching) or after it failed.
  bool tls_handshake() {
    if (!tls_) {
      if (ticket_.from_trusted_proxy() && !proxy_read_ && !proxy_before_tls()) return false;
      if (!speaks_tls()) return false;
      SSL* ssl = options_.tls->accept(fd_);
      if (ssl == nullptr) {
        close();
        return false;
      }
      tls_ = std::make_unique<TlsLink>(ssl, *options_.tls);
      ticket_.set_secure();
    }
    switch (tls_->handshake()) {
      case TlsLink::Step::done: handshaken_ = true; return true;
      case TlsLink::Step::want_read: watch(false); return false;
      case TlsLink::Step::want_write: watch(true); return false;
      case TlsLink::Step::failed: close(); return false;
    }
    return false;
  }

  // A TLS connection starts with a handshake record (content type 22). A client that speaks plain
  // HTTP to the TLS port (http:// for https://) is told so in plain HTTP, as nginx does, rather
  // than left with a reset. False while waiting for the first byte, or after the answer.
  bool speaks_tls() {
    char first = 0;
    const ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      watch(false);
      return false;
    }
    if (n == 1 && first == 0x16) return true;
    if (n == 1 && first >= 'A' && first <= 'Z') {
      const std::string rid = log::new_request_id();
      log::write(spdlog::level::debug, "http error", {{"code", "tls_required"}, {"rid", rid}, {"status", 400}});
      const std::string body = protocol::with_request_id(
          protocol::http_error_body("tls_required", "this port speaks https and wss only: use https:// or wss://"),
          rid);
      const std::string answer =
          "HTTP/1.1 400 Bad Request\r\nServer: parley\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\nX-Request-Id: " + rid + "\r\nConnection: close\r\n\r\n" + body;
      (void)::send(fd_, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      // The request read and dropped: closing on unread bytes would reset the connection, and a
      // reset can destroy the answer before the client has read it.
      auto& buf = loop_.read_buffer();
      (void)::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    }
    close();
    return false;
  }

  // A trusted proxy's PROXY header before TLS: peeked at until whole, then taken off the socket
  // exactly, so that the TLS handshake starts at the next byte. False while it waits or failed.
  bool proxy_before_tls() {
    auto& buf = loop_.read_buffer();
    const std::size_t want = std::min(buf.size(), protocol::proxy_header_default_limit);
    const ssize_t n = ::recv(fd_, buf.data(), want, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      watch(false);
      return false;
    }
    if (n <= 0) {
      close();
      return false;
    }
    protocol::ProxyHeader header;
    switch (protocol::parse_proxy_header(std::string_view(buf.data(), static_cast<std::size_t>(n)), header)) {
      case protocol::ProxyParse::incomplete: watch(false); return false;  // the bytes stay: peeked again
      case protocol::ProxyParse::invalid:
        if (buf[0] == '\r') {  // a header that breaks off
          close();
          return false;
        }
        proxy_read_ = true;  // one of the proxy's own (a health check) has none
        return true;
      case protocol::ProxyParse::complete: break;
    }
    if (::recv(fd_, buf.data(), header.length, MSG_DONTWAIT) != static_cast<ssize_t>(header.length)) {
      close();
      return false;
    }
    proxy_read_ = true;
    sockaddr_storage source{};
    if (const socklen_t len = protocol::proxy_source_sockaddr(header, source))
      options_.admission->set_address(ticket_, Admission::address_key(reinterpret_cast<sockaddr*>(&source), len));
    return true;
  }

  void send_response() {
    while (sent_ < response_.size()) {
      ssize_t n = 0;
      if (tls_) {
        int error = 0;
        const iovec rest{response_.data() + sent_, response_.size() - sent_};
        n = static_cast<ssize_t>(tls_->write(std::span<const iovec>(&rest, 1), error));
        if (n == 0) errno = error == 0 ? EAGAIN : error;
        if (n == 0) n = -1;
      } else {
        n = ::send(fd_, response_.data() + sent_, response_.size() - sent_, MSG_DONTWAIT | MSG_NOSIGNAL);
      }
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
                                               std::exchange(watched_, 0), std::move(leftover_), std::move(ticket_),
                                               std::move(tls_));
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
    if (tls_)
      return serve_https(loop_, options_, std::move(socket), tls_->release(), bytes, deadline_, std::move(ticket_));
    serve_http(loop_, options_, std::move(socket), bytes, deadline_, std::move(ticket_));
  }

  void close() {
    finish();
    loop_.poller().remove(std::exchange(watched_, 0), fd_);
    tls_.reset();
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
  bool proxy_read_ = false;       // the PROXY header of a trusted proxy's connection is read (or absent)
  std::unique_ptr<TlsLink> tls_;  // with server.tls_cert: the connection's TLS, handed on with it
  bool handshaken_ = false;       // its TLS handshake is done
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
