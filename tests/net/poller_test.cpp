// Poller: a loop's own epoll set for its client sockets (net/poller.hpp), over real sockets
// (UNIX stream pairs: the same readiness semantics as TCP for what is tested here) and a real
// io_context.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "net/poller.hpp"

namespace {

using parley::net::Poller;

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
  void say(std::string_view s) const {
    ASSERT_EQ(::send(theirs, s.data(), s.size(), 0), static_cast<ssize_t>(s.size()));
  }
};

struct Recorder : Poller::Watcher {
  std::vector<std::uint32_t> events;
  std::function<void(std::uint32_t)> then;
  void on_ready(std::uint32_t e) override {
    events.push_back(e);
    if (then) then(e);
  }
};

// Runs the context until `done` or `limit` passes.
void run_until(boost::asio::io_context& ctx, const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    ctx.restart();
    ctx.run_for(std::chrono::milliseconds(10));
  }
}

// Runs the context a while, for what should not happen.
void settle(boost::asio::io_context& ctx) {
  run_until(
      ctx, [] { return false; }, std::chrono::milliseconds(100));
}

TEST(Poller, ReportsBytesThatArrivedBeforeAndAfterRegistering) {
  boost::asio::io_context ctx;
  Poller poller(ctx);
  poller.start();
  Pair early, late;
  early.say("x");  // already waiting when added: registering reports it
  Recorder a, b;
  ASSERT_NE(poller.add(early.ours, a), 0u);
  ASSERT_NE(poller.add(late.ours, b), 0u);
  EXPECT_EQ(poller.size(), 2u);
  run_until(ctx, [&] { return !a.events.empty(); });
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_TRUE(a.events[0] & EPOLLIN);
  EXPECT_TRUE(b.events.empty()) << "a socket with nothing to read was reported";
  late.say("y");
  run_until(ctx, [&] { return !b.events.empty(); });
  ASSERT_EQ(b.events.size(), 1u);
  // Edge-triggered: the same unread byte is not reported again.
  settle(ctx);
  EXPECT_EQ(a.events.size(), 1u);
  EXPECT_EQ(b.events.size(), 1u);
}

TEST(Poller, EventsForASocketRemovedInTheSameBatchAreDropped) {
  boost::asio::io_context ctx;
  Poller poller(ctx);
  poller.start();
  Pair p1, p2;
  Recorder a, b;
  Poller::Handle h1 = poller.add(p1.ours, a);
  Poller::Handle h2 = poller.add(p2.ours, b);
  ASSERT_NE(h1, 0u);
  ASSERT_NE(h2, 0u);
  // Whichever is reported first removes the other (as a kick closes another session); the
  // other's event, taken in the same batch, must not reach it.
  a.then = [&](std::uint32_t) { poller.remove(h2, p2.ours); };
  b.then = [&](std::uint32_t) { poller.remove(h1, p1.ours); };
  p1.say("1");
  p2.say("2");
  run_until(ctx, [&] { return a.events.size() + b.events.size() >= 1; });
  settle(ctx);
  EXPECT_EQ(a.events.size() + b.events.size(), 1u);
  EXPECT_EQ(poller.size(), 1u);
}

TEST(Poller, AReusedSlotDoesNotGetTheOldSocketsEvents) {
  boost::asio::io_context ctx;
  Poller poller(ctx);
  poller.start();
  Pair old_pair, new_pair;
  Recorder old_watcher, new_watcher;
  const Poller::Handle h = poller.add(old_pair.ours, old_watcher);
  old_pair.say("stale");
  // Removed while its event is queued in the kernel, the socket staying open (handed to Asio):
  // it leaves the set, and its event with it.
  poller.remove(h, old_pair.ours, /*fd_stays_open=*/true);
  const Poller::Handle again = poller.add(new_pair.ours, new_watcher);
  EXPECT_EQ(again, h) << "the free slot is reused";
  settle(ctx);
  EXPECT_TRUE(old_watcher.events.empty());
  EXPECT_TRUE(new_watcher.events.empty()) << "the new socket got the old one's event";
  old_pair.say("more");  // left the set: nobody hears of it
  new_pair.say("fresh");
  run_until(ctx, [&] { return !new_watcher.events.empty(); });
  EXPECT_EQ(new_watcher.events.size(), 1u);
  EXPECT_TRUE(old_watcher.events.empty());
}

TEST(Poller, RebindSendsTheSocketsEventsToTheNewWatcher) {
  boost::asio::io_context ctx;
  Poller poller(ctx);
  poller.start();
  Pair p;
  Recorder handshake, session;
  const Poller::Handle h = poller.add(p.ours, handshake);
  poller.rebind(h, session);
  p.say("hello");
  run_until(ctx, [&] { return !session.events.empty(); });
  EXPECT_TRUE(handshake.events.empty());
  EXPECT_EQ(session.events.size(), 1u);
}

TEST(Poller, WantWritableReportsRoomOnceAFullSocketDrains) {
  boost::asio::io_context ctx;
  Poller poller(ctx);
  poller.start();
  Pair p;
  Recorder w;
  const Poller::Handle h = poller.add(p.ours, w);
  // Fill our side until the kernel refuses.
  std::string chunk(64 * 1024, 'z');
  while (::send(p.ours, chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
  }
  poller.want_writable(h, p.ours);
  settle(ctx);
  for (auto e : w.events) EXPECT_FALSE(e & EPOLLOUT) << "room reported while the socket is full";
  // The peer reads everything: room appears.
  char buf[65536];
  while (::recv(p.theirs, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
  run_until(ctx, [&] {
    for (auto e : w.events)
      if (e & EPOLLOUT) return true;
    return false;
  });
  bool room = false;
  for (auto e : w.events) room = room || (e & EPOLLOUT);
  EXPECT_TRUE(room);
}

TEST(Poller, AWatcherRemovedAndReaddedInItsOwnCallbackKeepsWorking) {
  // A slot may be freed and reused by a watcher registering during the batch (a handshake that
  // ends while another connection's session starts): the loop must not read a moved slot.
  boost::asio::io_context ctx;
  Poller poller(ctx);
  poller.start();
  std::vector<Pair> pairs(300);  // more slots than one batch of events
  std::vector<Recorder> watchers(pairs.size());
  std::vector<Poller::Handle> handles;
  for (std::size_t i = 0; i < pairs.size(); ++i) handles.push_back(poller.add(pairs[i].ours, watchers[i]));
  Pair extra;
  Recorder extra_watcher;
  Poller::Handle extra_handle = 0;
  watchers[0].then = [&](std::uint32_t) {
    if (extra_handle == 0) extra_handle = poller.add(extra.ours, extra_watcher);
  };
  for (auto& p : pairs) p.say("!");
  run_until(ctx, [&] {
    for (auto& w : watchers)
      if (w.events.empty()) return false;
    return true;
  });
  for (auto& w : watchers) EXPECT_EQ(w.events.size(), 1u);
  ASSERT_NE(extra_handle, 0u);
  extra.say("late");
  run_until(ctx, [&] { return !extra_watcher.events.empty(); });
  EXPECT_EQ(extra_watcher.events.size(), 1u);
}

}  // namespace
