#pragma once
// One acceptor per loop on the same address (SO_REUSEPORT): the kernel spreads connections over
// the I/O threads, and a connection lives and dies on the thread that accepted it.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

#include "net/http_session.hpp"

namespace parley::net {

class Loop;

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds now (throws on failure); port 0 picks a free port, see port().
  Listener(Loop& loop, const HttpOptions& options, const boost::asio::ip::tcp::endpoint& endpoint);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  void start();
  // Stops accepting; call on the loop's thread.
  void stop();
  unsigned short port() const;

 private:
  void do_accept();
  void accept_pending();
  // Answers a socket 503 and closes it.
  static void refuse(int fd);
  // Out of descriptors: refuses one waiting connection with the help of the reserve; false if
  // there was none to take.
  bool refuse_with_reserve();

  Loop& loop_;
  const HttpOptions& options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  boost::asio::ip::tcp protocol_;
};

}  // namespace parley::net
