#include "net/listener.hpp"

#include <boost/asio/socket_base.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "node/shard.hpp"

namespace parley::net {

using tcp = boost::asio::ip::tcp;

Listener::Listener(node::Shard& shard, const HttpOptions& options, const tcp::endpoint& endpoint)
    : shard_(shard), options_(options), acceptor_(shard.context()), retry_(shard.context()) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
  acceptor_.set_option(boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(4096);
}

unsigned short Listener::port() const { return acceptor_.local_endpoint().port(); }

void Listener::start() { do_accept(); }

void Listener::stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

void Listener::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors or memory: wait instead of spinning, the condition may pass.
      spdlog::warn("accept: {}", ec.message());
      self->retry_.expires_after(std::chrono::milliseconds(100));
      self->retry_.async_wait([self](boost::system::error_code e) {
        if (!e) self->do_accept();
      });
      return;
    }
    boost::system::error_code opt;
    socket.set_option(tcp::no_delay(true), opt);
    start_http_session(self->shard_, self->options_, std::move(socket));
    self->do_accept();
  });
}

}  // namespace parley::net
