#include "net/listener.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/socket_base.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "net/loop.hpp"

namespace parley::net {

using tcp = boost::asio::ip::tcp;

namespace {
// One reserve descriptor for all the listeners of the process, and one lock around every
// accept: a listener that gives the reserve up to accept a connection it must refuse gets that
// very descriptor number (no other listener's accept can take it meanwhile and keep it for a
// connection, leaving the first without a reserve for good), and a reserve lost to another part
// of the process (a file being served) is opened again at the next chance.
std::mutex accept_mutex;
int reserve_fd = -1;  // guarded by accept_mutex

int open_reserve() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
}  // namespace

Listener::Listener(Loop& loop, const HttpOptions& options, const tcp::endpoint& endpoint)
    : loop_(loop),
      options_(options),
      acceptor_(loop.context()),
      retry_(loop.context()),
      protocol_(endpoint.protocol()) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
  acceptor_.set_option(boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(4096);
  acceptor_.non_blocking(true);  // accept_pending() drains it until EAGAIN
  std::lock_guard lock(accept_mutex);
  if (reserve_fd < 0) reserve_fd = open_reserve();
}

Listener::~Listener() = default;

unsigned short Listener::port() const { return acceptor_.local_endpoint().port(); }

void Listener::start() { do_accept(); }

void Listener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

void Listener::do_accept() {
  // Wait for readability, then take every pending connection with accept4(): the new socket is
  // non-blocking from birth (no ioctl per connection, which Asio's accept would cost), and a burst
  // of connects costs one wake-up, not one handler each.
  acceptor_.async_wait(tcp::acceptor::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    if (ec == boost::asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    self->accept_pending();
  });
}

void Listener::accept_pending() {
  // Bounded per wake-up so that a connect storm cannot starve the connections of this thread.
  for (int i = 0; i < 256; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    int fd = -1;
    int err = 0;
    bool refused = false;
    {
      std::lock_guard lock(accept_mutex);
      // A reserve lost (its number taken by another open while it was given up) is taken back
      // before any connection can have the next free descriptor: else each descriptor freed would
      // go to a connection first, and the reserve would never be had again while they last.
      if (reserve_fd < 0) reserve_fd = open_reserve();
      fd = ::accept4(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) err = errno;
      if (err == EMFILE || err == ENFILE) refused = refuse_with_reserve();
    }
    if (fd < 0) {
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;  // that one is gone
      if (refused) continue;
      // Out of memory, or no reserve descriptor: wait instead of spinning, the condition may pass.
      spdlog::warn("accept: {}", std::strerror(err));
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e) self->do_accept();
      });
      return;
    }
    Admission::Ticket ticket;
    if (!options_.admission->accept_socket(ticket, reinterpret_cast<sockaddr*>(&peer), peer_len)) {
      refuse(fd);  // the node is at max_connections
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    start_http_session(loop_, options_, fd, protocol_, std::move(ticket));
  }
  do_accept();
}

void Listener::refuse(int fd) {
  // One non-blocking send into a fresh socket's empty buffer: the client reads why, not a reset.
  static const std::string answer = [] {
    const std::string body = R"({"code":"overloaded","message":"the server is full; try again later"})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
           "X-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
           "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\nRetry-After: 1\r\nConnection: "
           "close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  [[maybe_unused]] const auto sent = ::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

bool Listener::refuse_with_reserve() {
  // Out of descriptors (accept_mutex held): the reserve gives one back for as long as it takes to
  // accept a waiting connection and answer it 503, so that clients are refused at once, not left
  // in the backlog (and the listener is not woken for them again and again).
  if (reserve_fd < 0) return false;
  ::close(reserve_fd);
  const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) refuse(fd);
  reserve_fd = open_reserve();
  if (fd >= 0) options_.admission->refused_for_descriptors();
  return fd >= 0;
}

}  // namespace parley::net
