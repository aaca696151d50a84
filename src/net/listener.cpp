#include "net/listener.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/socket_base.hpp>

#include <cerrno>
#include <cstring>

#include "net/loop.hpp"

namespace parley::net {

using tcp = boost::asio::ip::tcp;

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
}

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
    const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;  // that one is gone
      // Out of descriptors or memory: wait instead of spinning, the condition may pass.
      spdlog::warn("accept: {}", std::strerror(err));
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e) self->do_accept();
      });
      return;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    start_http_session(loop_, options_, fd, protocol_);
  }
  do_accept();
}

}  // namespace parley::net
