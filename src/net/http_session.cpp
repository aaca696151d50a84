#include "net/http_session.hpp"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <cerrno>
#include <optional>
#include <utility>

#include "net/loop.hpp"
#include "net/recv_now.hpp"
#include "net/static_files.hpp"
#include "net/ws_session.hpp"
#include "protocol/events.hpp"
#include "protocol/handshake.hpp"

namespace parley::net {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr std::string_view subprotocol = "parley.v1";

// Sec-WebSocket-Accept: base64(SHA-1(key + GUID)), RFC 6455 4.2.2. Beast's SHA-1, not OpenSSL's
// EVP: EVP_Digest looks the algorithm up in its provider tables on every call, which was 12% of
// the instructions of a connection.
std::string accept_key(std::string_view key) {
  beast::websocket::detail::sec_ws_accept_type accept;
  beast::websocket::detail::make_sec_ws_accept(accept, key);
  return std::string(accept.data(), accept.size());
}

bool valid_client_key(std::string_view key) {
  // base64 of 16 random bytes: 24 characters ending in "==".
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22))
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  return true;
}

// Why a WebSocket upgrade request is refused (none: it is accepted), in the order HttpSession
// answers the reasons. The hand-scanned fast path (Handshake) accepts exactly what this accepts
// and hands every other request to HttpSession, which says why: one list, so the two paths
// cannot come to disagree.
enum class Refusal { none, not_found, draining, bad_version, bad_key };

Refusal refusal_of(std::string_view path, std::string_view version, std::string_view key, bool draining) {
  if (path != "/ws") return Refusal::not_found;
  if (draining) return Refusal::draining;
  if (version != "13") return Refusal::bad_version;
  if (!valid_client_key(key)) return Refusal::bad_key;
  return Refusal::none;
}

bool offers_subprotocol(std::string_view header) {
  return protocol::has_token(header, subprotocol, protocol::TokenCase::sensitive);
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  using Clock = std::chrono::steady_clock;

  // `initial`: bytes of the first request already read; `deadline`: when it must be complete.
  HttpSession(Loop& loop, const HttpOptions& options, tcp::socket socket, std::string_view initial,
              Clock::time_point deadline)
      : loop_(loop), options_(options), stream_(std::move(socket)), first_deadline_(deadline) {
    buffer_.commit(boost::asio::buffer_copy(buffer_.prepare(initial.size()), boost::asio::buffer(initial)));
  }

  void run() { do_read(); }

 private:
  const core::Limits& limits() const { return loop_.limits(); }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits().max_header_bytes));
    parser_->body_limit(std::uint64_t{16} * 1024);  // no endpoint takes a body yet
    // Bounds the whole request, so that a client trickling headers cannot hold the connection.
    if (first_deadline_) {
      stream_.expires_at(*first_deadline_);
      first_deadline_.reset();
    } else {
      stream_.expires_after(std::chrono::milliseconds(limits().handshake_timeout_ms));
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == boost::asio::error::operation_aborted || ec == boost::asio::error::connection_reset ||
        ec == boost::asio::error::eof) {
      return close();
    }
    if (ec == http::error::header_limit)
      return send_error(http::status::request_header_fields_too_large, "header_too_large", "request header too large",
                        false);
    if (ec == http::error::body_limit)
      return send_error(http::status::payload_too_large, "body_too_large", "request body too large", false);
    if (ec) return send_error(http::status::bad_request, "bad_request", "malformed HTTP request", false);
    loop_.metrics().http_requests.add();
    auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (beast::websocket::is_upgrade(req)) return upgrade(req, path);
    const bool keep = req.keep_alive();
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return send_error(http::status::method_not_allowed, "method_not_allowed", "only GET and HEAD", keep);
    }
    const HttpService& service = *options_.service;
    if (path == "/healthz") return send_json(http::status::ok, R"({"status":"ok"})", keep);
    if (path == "/readyz") {
      if (service.draining())
        return send_json(http::status::service_unavailable, R"({"ready":false,"reason":"draining"})", keep);
      if (!service.ready())
        return send_json(http::status::service_unavailable, R"({"ready":false,"reason":"broker unreachable"})", keep);
      return send_json(http::status::ok, R"({"ready":true})", keep);
    }
    if (path == "/metrics")
      return send_text(http::status::ok, service.metrics_text(), "text/plain; version=0.0.4", keep);
    if (path == "/ws") {
      return send_error(http::status::upgrade_required, "upgrade_required", "connect with a WebSocket client", keep);
    }
    serve_file(req, target, keep);
  }

  void serve_file(const http::request<http::string_body>& req, std::string_view target, bool keep) {
    auto file = resolve_static(options_.web_root, target);
    if (!file) return send_error(http::status::not_found, "not_found", "no such file", keep);
    http::file_body::value_type body;
    beast::error_code ec;
    body.open(file->c_str(), beast::file_mode::scan, ec);
    if (ec) return send_error(http::status::not_found, "not_found", "no such file", keep);
    const auto size = body.size();
    auto res = std::make_shared<http::response<http::file_body>>(
        std::piecewise_construct, std::make_tuple(std::move(body)), std::make_tuple(http::status::ok, req.version()));
    res->set(http::field::server, "parley");
    res->set(http::field::content_type, mime_type(*file));
    res->set(http::field::cache_control, "no-cache");
    res->set("X-Content-Type-Options", "nosniff");
    res->content_length(size);
    res->keep_alive(keep);
    if (req.method() == http::verb::head) {
      http::response<http::empty_body> head{http::status::ok, req.version()};
      head.base() = res->base();
      return write(std::make_shared<http::response<http::empty_body>>(std::move(head)), keep);
    }
    write(res, keep);
  }

  void upgrade(http::request<http::string_body>& req, std::string_view path) {
    const std::string_view key(req[http::field::sec_websocket_key]);
    switch (refusal_of(path, req[http::field::sec_websocket_version], key, options_.service->draining())) {
      case Refusal::none: break;
      case Refusal::not_found:
        return send_error(http::status::not_found, "not_found", "WebSocket endpoint is /ws", false);
      case Refusal::draining:
        return send_error(http::status::service_unavailable, "draining", "the server is shutting down; reconnect",
                          false);
      case Refusal::bad_version: {
        auto res = make_json(http::status::upgrade_required,
                             protocol::http_error_body("bad_version", "WebSocket version 13 is required"), false);
        res->set(http::field::sec_websocket_version, "13");
        return write(res, false);
      }
      case Refusal::bad_key:
        return send_error(http::status::bad_request, "bad_handshake", "missing or invalid Sec-WebSocket-Key", false);
    }

    auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols, req.version());
    res->set(http::field::server, "parley");
    res->set(http::field::upgrade, "websocket");
    res->set(http::field::connection, "Upgrade");
    res->set(http::field::sec_websocket_accept, accept_key(key));
    if (offers_subprotocol(req[http::field::sec_websocket_protocol]))
      res->set(http::field::sec_websocket_protocol, subprotocol);
    stream_.expires_after(std::chrono::milliseconds(limits().handshake_timeout_ms));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->stream_.expires_never();
      // Bytes after the request (a client may send its first frame at once) go to the session.
      auto data = self->buffer_.data();
      std::string leftover(static_cast<const char*>(data.data()), data.size());
      auto& loop = self->loop_;
      // The socket leaves Asio's reactor for the loop's poller.
      boost::system::error_code release_ec;
      const int fd = self->stream_.release_socket().release(release_ec);
      if (release_ec) return;
      auto session = std::make_shared<WsSession>(loop, loop.next_connection_id(), fd, 0, std::move(leftover));
      session->start();
    });
  }

  std::shared_ptr<http::response<http::string_body>> make_json(http::status status, std::string body, bool keep) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "parley");
    res->set(http::field::content_type, "application/json");
    res->set(http::field::cache_control, "no-store");
    res->body() = std::move(body);
    res->prepare_payload();
    res->keep_alive(keep);
    return res;
  }

  void send_json(http::status status, std::string body, bool keep) {
    write(make_json(status, std::move(body), keep), keep);
  }

  void send_error(http::status status, std::string_view code, std::string_view message, bool keep) {
    write(make_json(status, protocol::http_error_body(code, message), keep), keep);
  }

  void send_text(http::status status, std::string body, std::string_view type, bool keep) {
    auto res = make_json(status, std::move(body), keep);
    res->set(http::field::content_type, type);
    write(res, keep);
  }

  template <class Response>
  void write(std::shared_ptr<Response> res, bool keep) {
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) return self->close();
      self->do_read();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  Loop& loop_;
  const HttpOptions& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Clock::time_point> first_deadline_;
};

// The first request of a connection. A plain `GET /ws` upgrade — what every chat client sends —
// is answered here from one non-blocking read, a header scan and one send: no HTTP parser and no
// stream object, so a few small allocations instead of Beast's dozen. Anything else (a page, a health check, a bad
// or partial request the scan is unsure of) goes with the bytes read so far to HttpSession, which
// answers it exactly as if it had read them itself.
class Handshake : public std::enable_shared_from_this<Handshake>, private Poller::Watcher {
 public:
  Handshake(Loop& loop, const HttpOptions& options, int fd, tcp protocol)
      : loop_(loop),
        options_(options),
        fd_(fd),
        protocol_(protocol),
        timer_(loop.context()),
        deadline_(HttpSession::Clock::now() + std::chrono::milliseconds(limits().handshake_timeout_ms)) {}

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
    if (refusal_of(path, req.version, req.key, options_.service->draining()) != Refusal::none) return false;
    loop_.metrics().http_requests.add();
    response_ = protocol::make_upgrade_response(accept_key(req.key),
                                                offers_subprotocol(req.protocols) ? subprotocol : std::string_view());
    // Bytes after the request (a client may send its first frame at once) go to the session.
    leftover_.assign(bytes.substr(req.length));
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
                                               std::exchange(watched_, 0), std::move(leftover_));
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
    std::make_shared<HttpSession>(loop_, options_, std::move(socket), bytes, deadline_)->run();
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
  const HttpOptions& options_;
  int fd_;
  tcp protocol_;
  Poller::Handle watched_ = 0;
  boost::asio::steady_timer timer_;
  HttpSession::Clock::time_point deadline_;
  std::string partial_;   // a request that came in pieces, until it is whole
  std::string response_;  // the 101
  std::size_t sent_ = 0;  // of response_
  std::string leftover_;
  bool sending_ = false;
  bool waiting_ = false;  // the timer is armed
  bool done_ = false;
};

}  // namespace

void start_http_session(Loop& loop, const HttpOptions& options, int fd, tcp protocol) {
  std::make_shared<Handshake>(loop, options, fd, protocol)->run();
}

}  // namespace parley::net
