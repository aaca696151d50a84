// SendBatch: the writes of a loop turn in io_uring submissions (net/send_batch.hpp), over real
// sockets (UNIX stream pairs: the same sendmsg semantics as TCP for what is tested here).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "net/send_batch.hpp"

namespace {

using parley::net::SendBatch;

struct Pair {
  int ours = -1, theirs = -1;
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0) {
      ours = fds[0];
      theirs = fds[1];
    }
  }
  ~Pair() {
    if (ours >= 0) ::close(ours);
    if (theirs >= 0) ::close(theirs);
  }
  std::string drain() const {
    std::string got;
    char buf[65536];
    for (ssize_t n; (n = ::recv(theirs, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
      got.append(buf, static_cast<std::size_t>(n));
    return got;
  }
};

std::unique_ptr<SendBatch> make_batch() { return SendBatch::create(); }

TEST(SendBatch, MoreWritesThanTheRingHoldsArriveWholeAndInOrder) {
  auto batch = make_batch();
  if (!batch) GTEST_SKIP() << "io_uring is not available here";
  std::vector<Pair> pairs(8);
  for (const auto& p : pairs) ASSERT_GE(p.ours, 0);
  // 1,300 writes, each a header and a body piece: three rounds of the 512-entry ring.
  constexpr std::size_t writes = 1300;
  std::vector<std::string> headers, bodies;
  headers.reserve(writes);
  bodies.reserve(writes);
  std::vector<std::string> expected(pairs.size());
  for (std::size_t i = 0; i < writes; ++i) {
    headers.push_back("[" + std::to_string(i) + ":");
    bodies.push_back(std::string(i % 7 + 1, 'a' + static_cast<char>(i % 26)) + "]");
    auto& pieces = batch->pieces();
    const std::size_t first = pieces.size();
    pieces.push_back(iovec{headers.back().data(), headers.back().size()});
    pieces.push_back(iovec{bodies.back().data(), bodies.back().size()});
    batch->add(pairs[i % pairs.size()].ours, first, 2);
    expected[i % pairs.size()] += headers.back() + bodies.back();
  }
  ASSERT_EQ(batch->size(), writes);
  std::vector<std::int64_t> results(writes, -1);
  std::vector<std::size_t> totals(writes, 0);
  std::size_t calls = 0;
  batch->submit([&](std::size_t i, std::int64_t result, std::size_t total) {
    ASSERT_LT(i, writes);
    EXPECT_EQ(i, calls) << "results out of order";
    ++calls;
    results[i] = result;
    totals[i] = total;
  });
  EXPECT_EQ(calls, writes);
  for (std::size_t i = 0; i < writes; ++i) {
    EXPECT_EQ(totals[i], headers[i].size() + bodies[i].size()) << i;
    EXPECT_EQ(results[i], static_cast<std::int64_t>(totals[i])) << i;
  }
  for (std::size_t p = 0; p < pairs.size(); ++p) EXPECT_EQ(pairs[p].drain(), expected[p]) << "socket " << p;
  // The batch is empty again, and usable.
  EXPECT_EQ(batch->size(), 0u);
  EXPECT_TRUE(batch->pieces().empty());
  std::string again = "again";
  batch->pieces().push_back(iovec{again.data(), again.size()});
  batch->add(pairs[0].ours, 0, 1);
  batch->submit([&](std::size_t, std::int64_t result, std::size_t) { EXPECT_EQ(result, 5); });
  EXPECT_EQ(pairs[0].drain(), "again");
}

TEST(SendBatch, AFullSocketNeverWaitsAndAClosedOneIsAnError) {
  auto batch = make_batch();
  if (!batch) GTEST_SKIP() << "io_uring is not available here";
  Pair full, fine, gone;
  ASSERT_GE(full.ours, 0);
  ASSERT_GE(fine.ours, 0);
  ASSERT_GE(gone.ours, 0);
  // Fill `full` until the kernel takes nothing more.
  const std::string chunk(4096, 'x');
  while (::send(full.ours, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
  }
  ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
  ::close(gone.theirs);
  gone.theirs = -1;
  std::string payload(1000, 'y');
  for (int fd : {full.ours, fine.ours, gone.ours}) {
    const std::size_t first = batch->pieces().size();
    batch->pieces().push_back(iovec{payload.data(), payload.size()});
    batch->add(fd, first, 1);
  }
  std::vector<std::int64_t> results;
  batch->submit([&](std::size_t, std::int64_t result, std::size_t) { results.push_back(result); });
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0], -EAGAIN) << "a full socket: nothing taken, nothing waited for";
  EXPECT_EQ(results[1], 1000);
  EXPECT_LT(results[2], 0) << "the peer is gone";
  EXPECT_NE(results[2], -EAGAIN);
  EXPECT_EQ(fine.drain(), payload);
}

}  // namespace
