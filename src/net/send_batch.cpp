#include "net/send_batch.hpp"

#include <liburing.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <exception>

namespace parley::net {

namespace {
constexpr unsigned ring_size = 512;  // submission entries; a larger batch goes in several rounds
constexpr int send_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
}  // namespace

std::unique_ptr<SendBatch> SendBatch::create() {
  auto ring = std::make_unique<io_uring>();
  if (const int rc = io_uring_queue_init(ring_size, ring.get(), 0); rc < 0) {
    spdlog::info("io_uring unavailable ({}): one sendmsg per write", std::strerror(-rc));
    return nullptr;
  }
  return std::unique_ptr<SendBatch>(new SendBatch(std::move(ring)));
}

SendBatch::SendBatch(std::unique_ptr<io_uring> ring) : ring_(std::move(ring)), ring_entries_(ring_->sq.ring_entries) {}

SendBatch::~SendBatch() { io_uring_queue_exit(ring_.get()); }

void SendBatch::add(int fd, std::size_t first, std::size_t count) {
  std::size_t total = 0;
  for (std::size_t i = first; i < first + count; ++i) total += pieces_[i].iov_len;
  entries_.push_back(Entry{fd, first, count, total});
}

void SendBatch::clear() {
  pieces_.clear();
  entries_.clear();
}

void SendBatch::send_directly(Entry& e) {
  msghdr msg{};
  msg.msg_iov = pieces_.data() + e.first;
  msg.msg_iovlen = e.count;
  const ssize_t n = ::sendmsg(e.fd, &msg, send_flags);
  e.result = n < 0 ? -errno : n;
}

void SendBatch::run() {
  // The pieces are all appended now: their addresses hold until clear().
  headers_.assign(entries_.size(), msghdr{});
  std::size_t next = 0;
  while (next < entries_.size() && !ring_broken_) {
    const std::size_t end = std::min<std::size_t>(entries_.size(), next + ring_entries_);
    for (std::size_t i = next; i < end; ++i) {
      msghdr& h = headers_[i];
      h.msg_iov = pieces_.data() + entries_[i].first;
      h.msg_iovlen = entries_[i].count;
      io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());  // never null: the ring is empty here
      io_uring_prep_sendmsg(sqe, entries_[i].fd, &h, send_flags);
      io_uring_sqe_set_data64(sqe, i);
    }
    const auto want = static_cast<unsigned>(end - next);
    // MSG_DONTWAIT: each send completes during the submission, with -EAGAIN if it would block,
    // so waiting for all of them is no wait for a socket.
    int rc;
    do {
      rc = io_uring_submit_and_wait(ring_.get(), want);
    } while (rc == -EINTR);
    if (rc < 0) {
      // Not submitted: nothing of this round was sent. Write it, and everything after it, directly.
      spdlog::error("io_uring submission failed ({}): one sendmsg per write from now on", std::strerror(-rc));
      ring_broken_ = true;
      break;
    }
    // Only the first rc were taken (the kernel refused the rest): those complete; the others are
    // written directly, and the ring is not used again (its queue still holds them).
    const auto taken = static_cast<unsigned>(rc);
    for (unsigned seen = 0; seen < taken;) {
      io_uring_cqe* cqe = nullptr;
      const int w = io_uring_wait_cqe(ring_.get(), &cqe);
      if (w == -EINTR || w == -EAGAIN) continue;
      if (w < 0 || !cqe) {
        // Whether those bytes went out is unknown: writing them again, or not, would corrupt the
        // stream. This cannot happen with a working kernel.
        spdlog::critical("io_uring completion lost ({})", std::strerror(-w));
        std::terminate();
      }
      entries_[io_uring_cqe_get_data64(cqe)].result = cqe->res;
      io_uring_cqe_seen(ring_.get(), cqe);
      ++seen;
    }
    if (taken < want) {
      spdlog::error("io_uring took {} of {} writes: one sendmsg per write from now on", taken, want);
      ring_broken_ = true;
      next += taken;
      break;
    }
    next = end;
  }
  for (; next < entries_.size(); ++next) send_directly(entries_[next]);
}

}  // namespace parley::net
