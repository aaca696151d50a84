#include "net/poller.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace parley::net {

namespace {
int make_set() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}

constexpr std::uint32_t input_events = EPOLLIN | EPOLLRDHUP | EPOLLET;
}  // namespace

Poller::Poller(boost::asio::io_context& ctx) : set_(ctx, make_set()), slots_(1) {}

Poller::Handle Poller::add(int fd, Watcher& watcher, bool writable) {
  Handle h;
  if (!free_.empty()) {
    h = free_.back();
    free_.pop_back();
  } else {
    h = static_cast<Handle>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[h];
  epoll_event ev{};
  ev.events = input_events | (writable ? EPOLLOUT : 0u);
  ev.data.u64 = key(h, s.generation);
  if (::epoll_ctl(set_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    free_.push_back(h);
    errno = err;
    return 0;
  }
  s.watcher = &watcher;
  s.writable = writable;
  return h;
}

void Poller::rebind(Handle h, Watcher& watcher) { slots_[h].watcher = &watcher; }

void Poller::want_writable(Handle h, int fd) {
  Slot& s = slots_[h];
  if (s.writable) return;
  epoll_event ev{};
  ev.events = input_events | EPOLLOUT;
  ev.data.u64 = key(h, s.generation);
  // Edge-triggered: the modification reports the socket's state now, so room that appeared
  // before it is not missed.
  if (::epoll_ctl(set_.native_handle(), EPOLL_CTL_MOD, fd, &ev) == 0) s.writable = true;
}

void Poller::remove(Handle h, int fd, bool fd_stays_open) {
  if (h == 0) return;
  Slot& s = slots_[h];
  if (fd_stays_open) {
    epoll_event ev{};
    ::epoll_ctl(set_.native_handle(), EPOLL_CTL_DEL, fd, &ev);
  }
  s.watcher = nullptr;
  s.writable = false;
  ++s.generation;
  free_.push_back(h);
}

void Poller::start() {
  stopped_ = false;
  wait();
}

void Poller::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  set_.cancel(ec);
}

void Poller::wait() {
  set_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    on_ready();
  });
}

void Poller::on_ready() {
  // One batch per turn: if more are ready, Asio sees the set readable again and this runs next
  // turn, after the handlers queued meanwhile.
  const int n = ::epoll_wait(set_.native_handle(), events_.data(), static_cast<int>(events_.size()), 0);
  if (n < 0 && errno != EINTR) spdlog::error("epoll_wait: {}", std::strerror(errno));
  for (int i = 0; i < n; ++i) {
    const std::uint64_t k = events_[static_cast<std::size_t>(i)].data.u64;
    const auto h = static_cast<Handle>(k & 0xffffffffu);
    const auto generation = static_cast<std::uint32_t>(k >> 32);
    // A watcher may remove others (a kick closes another session): their events are stale.
    const Slot& s = slots_[h];
    if (s.generation != generation || s.watcher == nullptr) continue;
    s.watcher->on_ready(events_[static_cast<std::size_t>(i)].events);
  }
  wait();
}

}  // namespace parley::net
