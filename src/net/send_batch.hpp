#pragma once
// The writes of one loop turn, handed to the kernel in one io_uring submission instead of one
// sendmsg() per session. On this 2-core VM a system call costs more than the TCP work of a small
// write (sendmsg to 500 loopback sockets: 7 µs each; as one io_uring submission: 2 µs each),
// and a message to a room of N members is N writes. Where io_uring is not available (an old
// kernel, a seccomp profile that forbids it) create() returns null and the loop writes each
// session itself.
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

struct io_uring;

namespace parley::net {

class SendBatch {
 public:
  // Null if io_uring cannot be set up here.
  static std::unique_ptr<SendBatch> create();
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Where a session appends the pieces of its write before add(); they, and the bytes they point
  // at, must stay valid until submit() returns.
  std::vector<iovec>& pieces() noexcept { return pieces_; }
  // Queues a non-blocking sendmsg on `fd` of pieces()[first, first + count), count <= IOV_MAX.
  void add(int fd, std::size_t first, std::size_t count);
  std::size_t size() const noexcept { return entries_.size(); }

  // Sends everything queued, then calls done(i, result, total) for each add(), in their order:
  // result is the bytes the kernel took (0..total) or -errno (-EAGAIN: the socket's buffer is
  // full). No write waits for its socket (MSG_DONTWAIT). Leaves the batch empty.
  template <class F>
  void submit(F&& done) {
    run();
    for (std::size_t i = 0; i < entries_.size(); ++i) done(i, entries_[i].result, entries_[i].total);
    clear();
  }

 private:
  struct Entry {
    int fd;
    std::size_t first, count, total;
    std::int64_t result = 0;
  };
  explicit SendBatch(std::unique_ptr<io_uring> ring);
  void run();
  void clear();
  void send_directly(Entry& e);

  std::unique_ptr<io_uring> ring_;
  unsigned ring_entries_;
  bool ring_broken_ = false;
  std::vector<iovec> pieces_;
  std::vector<Entry> entries_;
  std::vector<msghdr> headers_;
};

}  // namespace parley::net
