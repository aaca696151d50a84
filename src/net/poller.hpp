#pragma once
// Readiness of a loop's client sockets, from an epoll set of the loop's own. Each socket is
// added once, edge-triggered, and not touched again until it closes: Asio's reactor re-arms the
// descriptor with an epoll_ctl on every async_wait and sets O_NONBLOCK with an ioctl per socket,
// which was four system calls per connection and one per read. Asio watches the set's one
// descriptor; a turn of the set hands every ready socket to its watcher.
#include <sys/epoll.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <cstdint>
#include <vector>

namespace parley::net {

class Poller {
 public:
  // What a registered socket reports to. Edge-triggered: on_ready is called when the socket's
  // state changes (bytes arrived, room to write, hang-up), so a watcher reads until the socket
  // would block, or remembers that it stopped early (see WsSession::on_ready).
  class Watcher {
   public:
    virtual void on_ready(std::uint32_t events) = 0;

   protected:
    ~Watcher() = default;
  };

  // A registration; 0 is none.
  using Handle = std::uint32_t;

  explicit Poller(boost::asio::io_context& ctx);
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Starts watching fd for input (and output if `writable`); 0 with errno set if epoll refuses.
  Handle add(int fd, Watcher& watcher, bool writable = false);
  // The same socket, reported to a new watcher from now on (a handshake hands over to its session).
  void rebind(Handle h, Watcher& watcher);
  // Reports room to write as well, from now on (once a write found the socket full).
  void want_writable(Handle h, int fd);
  // Stops reporting for h. `fd_stays_open`: the socket lives on elsewhere, so it leaves the set
  // (a socket being closed leaves it by itself). Events already taken for h are dropped.
  void remove(Handle h, int fd, bool fd_stays_open = false);

  std::size_t size() const noexcept { return slots_.size() - free_.size() - 1; }

  void start();
  void stop();

 private:
  struct Slot {
    Watcher* watcher = nullptr;
    std::uint32_t generation = 0;
    bool writable = false;
  };

  void wait();
  void on_ready();
  static std::uint64_t key(Handle h, std::uint32_t generation) { return (std::uint64_t{generation} << 32) | h; }

  boost::asio::posix::stream_descriptor set_;  // the epoll descriptor, as Asio sees it
  std::vector<Slot> slots_;                    // by handle; slot 0 unused
  std::vector<Handle> free_;
  std::array<epoll_event, 256> events_{};
  bool stopped_ = false;
};

}  // namespace parley::net
