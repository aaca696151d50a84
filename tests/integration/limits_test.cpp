// Limits and timeouts: rate limits, slow consumers, heartbeats, handshake timeout.
#include <atomic>
#include <mutex>

#include "common.hpp"

namespace parley::it {
namespace {

TEST(RateLimit, BurstOfSendsIsPartlyRefusedThenRecovers) {
  ServerProcess server;  // send_rate 10/s, send_burst 20
  WsClient a(server.port());
  a.hello("ada");
  a.join("general");
  constexpr int kBurst = 40;
  for (int i = 0; i < kBurst; ++i)
    a.send_json(
        {{"type", "send"}, {"room", "general"}, {"cid", "r" + std::to_string(i)}, {"text", "burst"}, {"ref", i}});
  int acks = 0, limited = 0;
  std::int64_t max_retry = 0;
  std::vector<std::uint64_t> ack_seqs;
  for (int i = 0; i < kBurst; ++i) {
    auto r = a.wait_for(
        "", [&](const json::object& e) { return e.contains("ref") && i64(e, "ref") == i; }, scaled(5s));
    ASSERT_TRUE(r) << "no reply to send " << i;
    if (type_of(*r) == "ack") {
      ++acks;
      ack_seqs.push_back(u64(*r, "seq"));
    } else {
      EXPECT_EQ(str(*r, "code"), "rate_limited") << dump(*r);
      EXPECT_GT(i64(*r, "retry_after_ms"), 0) << dump(*r);
      max_retry = std::max(max_retry, i64(*r, "retry_after_ms"));
      ++limited;
    }
  }
  EXPECT_GE(acks, 20);
  EXPECT_GE(limited, 1);
  std::sort(ack_seqs.begin(), ack_seqs.end());
  EXPECT_EQ(ack_seqs, range(1, static_cast<std::uint64_t>(acks))) << "refused sends must not take a seq";
  EXPECT_FALSE(a.closed());
  expect_alive(a);
  EXPECT_GE(fetch_metric(server.port(), "parley_rate_limited_total").value_or(0), 1.0);
  std::this_thread::sleep_for(Ms(max_retry + 50));
  auto ack = a.send_message("general", "later", "after waiting");
  EXPECT_EQ(u64(ack, "seq"), static_cast<std::uint64_t>(acks) + 1);
}

TEST(RateLimit, RequestsOfAnyTypeAreLimited) {
  ServerProcess server({{"limits.request_rate=5", "limits.request_burst=10"}});
  WsClient a(server.port());
  a.hello("ada");
  for (int i = 0; i < 30; ++i) a.send_json({{"type", "ping"}, {"ref", i}});
  int pongs = 0, limited = 0;
  std::int64_t max_retry = 0;
  for (int i = 0; i < 30; ++i) {
    auto e = a.next(scaled(3s));
    ASSERT_TRUE(e) << "missing replies after " << i;
    if (type_of(*e) == "pong") {
      ++pongs;
    } else {
      EXPECT_EQ(str(*e, "code"), "rate_limited") << dump(*e);
      EXPECT_GT(i64(*e, "retry_after_ms"), 0);
      max_retry = std::max(max_retry, i64(*e, "retry_after_ms"));
      ++limited;
    }
  }
  EXPECT_GE(pongs, 9);  // the hello took one token
  EXPECT_GE(limited, 15);
  std::this_thread::sleep_for(Ms(max_retry + 50));
  expect_alive(a);
}

TEST(SlowConsumer, IsClosedWith1013AndOthersAreUnaffected) {
  ServerProcess server({{"limits.max_outbound_bytes=65536", "limits.close_timeout_ms=30000", "limits.send_rate=100000",
                         "limits.send_burst=100000", "limits.request_rate=100000", "limits.request_burst=100000"}});
  WsClient slow(server.port(), nullptr, 4096);  // small receive buffer, and never pumped below
  slow.hello("slow");
  slow.join("general");
  WsClient sender(server.port());
  sender.hello("sender");
  sender.join("general");

  std::atomic<bool> stop{false};
  // Written by the fast thread; read here only after it is joined, except the atomics.
  std::vector<std::uint64_t> fast_seqs;
  bool fast_closed = false;
  std::string fast_error;
  std::atomic<std::size_t> fast_count{0};
  std::atomic<bool> fast_done{false};
  std::atomic<bool> fast_ready{false};
  std::thread fast_thread([&] {
    try {
      WsClient fast(server.port());
      fast.hello("fast");
      fast.join("general");
      fast_ready = true;
      while (!stop.load()) {
        fast.pump(10ms);
        auto& q = fast.events();
        while (!q.empty()) {
          if (type_of(q.front()) == "message") fast_seqs.push_back(u64(q.front(), "seq"));
          q.pop_front();
        }
        fast_count = fast_seqs.size();
        if (fast.closed()) {
          fast_closed = true;
          break;
        }
      }
    } catch (const std::exception& e) {
      fast_error = e.what();
    }
    fast_done = true;
  });
  struct Joiner {
    std::thread& t;
    std::atomic<bool>& stop;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{fast_thread, stop};
  ASSERT_TRUE(eventually([&] { return fast_ready.load() || fast_done.load(); }, scaled(5s)));
  // Bursts of 10 messages of 3000 characters (~30 KB): under max_outbound_bytes for a client that
  // reads, so only the one that does not read piles up past the limit (see the test below
  // for a burst larger than the limit).
  const std::string text(3000, 'x');
  constexpr int kBatch = 10;
  std::uint64_t last_seq = 0;
  double closes = 0;
  for (int batch = 0; batch < 400 && closes < 1; ++batch) {
    for (int i = 0; i < kBatch; ++i) {
      sender.send_json(
          {{"type", "send"}, {"room", "general"}, {"cid", "s" + std::to_string(batch * kBatch + i)}, {"text", text}});
      sender.pump();
    }
    // The sender reads everything (its own messages too) and waits for the batch's acks.
    int acks = 0;
    const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
    while (acks < kBatch && std::chrono::steady_clock::now() < deadline && !sender.closed()) {
      sender.pump(2ms);
      auto& q = sender.events();
      while (!q.empty()) {
        if (type_of(q.front()) == "ack") {
          ++acks;
          last_seq = std::max(last_seq, u64(q.front(), "seq"));
        } else if (type_of(q.front()) == "error") {
          ADD_FAILURE() << dump(q.front());
        }
        q.pop_front();
      }
    }
    ASSERT_EQ(acks, kBatch) << "batch " << batch << ", sender closed " << sender.closed() << " code "
                            << sender.close_code().value_or(0);
    if (batch % 5 == 4) closes = fetch_metric(server.port(), "parley_slow_consumer_closes_total").value_or(0);
  }
  EXPECT_GE(closes, 1.0) << "the slow client was never closed (sent " << last_seq << " messages of 3000 chars)";
  // The fast client gets everything, once, in order.
  EXPECT_TRUE(eventually([&] { return fast_done.load() || fast_count.load() >= last_seq; }, scaled(10s)));
  stop = true;
  fast_thread.join();
  EXPECT_EQ(fast_error, "");
  EXPECT_FALSE(fast_closed) << "the fast client was closed too";
  EXPECT_EQ(fast_seqs, range(1, last_seq));
  // The slow one, reading now, finds a prefix of the messages, then the close frame 1013.
  auto code = slow.expect_close(scaled(15s));
  EXPECT_EQ(code, std::optional<std::uint16_t>(1013)) << "reason: " << slow.close_reason();
  std::vector<std::uint64_t> slow_seqs;
  for (const auto& e : slow.events())
    if (type_of(e) == "message") slow_seqs.push_back(u64(e, "seq"));
  EXPECT_LT(slow_seqs.size(), last_seq);
  if (!slow_seqs.empty()) {
    EXPECT_EQ(slow_seqs, range(1, slow_seqs.size())) << "the slow client's messages are not a prefix";
  }
  EXPECT_EQ(fetch_metric(server.port(), "parley_slow_consumer_closes_total"), 1.0);
  // The sender was never slowed down by it.
  EXPECT_FALSE(sender.closed());
  expect_alive(sender);
}

// max_outbound_bytes limits what the kernel has not taken, not what one committed batch fans out:
// a pipelined burst of 50 messages of 3000 characters (~150 KB) with max_outbound_bytes=65536
// reaches a reader that pumps continuously, and nobody is closed (it was, before the session
// handed queued bytes to the socket before refusing more).
TEST(SlowConsumer, FastReaderSurvivesABurstLargerThanTheLimit) {
  ServerProcess server({{"limits.max_outbound_bytes=65536", "limits.send_rate=100000", "limits.send_burst=100000",
                         "limits.request_rate=100000", "limits.request_burst=100000"}});
  WsClient reader(server.port()), sender(server.port());
  reader.hello("reader");
  reader.join("general");
  sender.hello("sender");
  sender.join("general");
  const std::string text(3000, 'x');
  for (int i = 0; i < 50; ++i)
    sender.send_json({{"type", "send"}, {"room", "general"}, {"cid", "b" + std::to_string(i)}, {"text", text}});
  int acks = 0;
  std::vector<std::uint64_t> seen;
  const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
  while ((acks < 50 || seen.size() < 50) && std::chrono::steady_clock::now() < deadline && !reader.closed() &&
         !sender.closed()) {
    sender.pump(1ms);
    reader.pump(1ms);
    for (auto& e : sender.events()) acks += type_of(e) == "ack";
    sender.events().clear();
    for (auto& e : reader.events())
      if (type_of(e) == "message") seen.push_back(u64(e, "seq"));
    reader.events().clear();
  }
  EXPECT_FALSE(reader.closed()) << "a reading client was closed with " << reader.close_code().value_or(0);
  EXPECT_FALSE(sender.closed()) << "the sender was closed with " << sender.close_code().value_or(0);
  EXPECT_EQ(acks, 50);
  EXPECT_EQ(seen, range(1, 50));
  EXPECT_EQ(fetch_metric(server.port(), "parley_slow_consumer_closes_total"), 0.0);
}

TEST(Heartbeat, SilentClientIsPingedThenClosedBeastClientStays) {
  // pong_timeout_ms above the server's 1 s tick (see the test below for a shorter one).
  ServerProcess server({{"limits.ping_interval_ms=500", "limits.pong_timeout_ms=1500", "limits.close_timeout_ms=500"}});
  RawClient mute;
  ASSERT_TRUE(mute.connect(server.port()));
  ASSERT_EQ(mute.ws_upgrade().status, 101);
  mute.send(ws_frame(0x1, R"({"type":"hello","name":"mute"})"));
  WsClient live(server.port());
  live.hello("live");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<RawClient::Frame> seen;
  std::optional<std::uint16_t> code;
  // Read the mute client's frames (never answering) while the Beast client is pumped (it
  // answers the server's pings automatically while it reads).
  while (!code && std::chrono::steady_clock::now() - t0 < scaled(8s)) {
    live.pump(20ms);
    auto f = mute.read_frame(20ms);
    if (!f) continue;
    seen.push_back(*f);
    if (f->opcode == 0x8) code = f->close_code();
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(code, std::optional<std::uint16_t>(1001));
  EXPECT_GE(took, 1900ms) << "closed before ping_interval_ms + pong_timeout_ms";
  bool pinged = false;
  for (const auto& f : seen) pinged = pinged || f.opcode == 0x9;
  EXPECT_TRUE(pinged) << "closed without a ping first";
  // The mute client's TCP goes within the close timeouts; the Beast client is pumped meanwhile
  // (an unpumped client answers no ping, and would be closed for it too).
  bool mute_closed = false;
  for (const auto until = std::chrono::steady_clock::now() + scaled(3s);
       !mute_closed && std::chrono::steady_clock::now() < until;) {
    live.pump(20ms);
    mute_closed = mute.closed_within(20ms);
  }
  EXPECT_TRUE(mute_closed);
  // The Beast client answered every ping (while pumped): still open.
  EXPECT_TRUE(live.expect_no_event(scaled(1s)));
  EXPECT_FALSE(live.closed()) << "close code " << live.close_code().value_or(0);
  expect_alive(live);
}

// A raw client that answers every ping at once, for `run`; fails the test if it is closed.
void answer_pings(RawClient& c, Ms run) {
  int pings = 0;
  const auto end = std::chrono::steady_clock::now() + run;
  while (std::chrono::steady_clock::now() < end) {
    auto f = c.read_frame(50ms);
    if (!f) continue;
    ASSERT_NE(f->opcode, 0x8) << "closed with " << f->close_code() << " (" << f->payload.substr(2)
                              << ") after answering " << pings << " pings";
    if (f->opcode == 0x9) {
      ++pings;
      c.send(ws_frame(0xA, f->payload));
    }
  }
  EXPECT_GE(pings, 1);
}

// The pong timeout runs from the ping, not from the client's last bytes: with pong_timeout_ms
// under the server's 1 s tick (ping_interval_ms=500, pong_timeout_ms=200) a client answering each
// ping at once stays open.
TEST(Heartbeat, ClientAnsweringEveryPingStaysOpenWithShortPongTimeout) {
  ServerProcess server({{"limits.ping_interval_ms=500", "limits.pong_timeout_ms=200"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  c.send(ws_frame(0x1, R"({"type":"hello","name":"polite"})"));
  answer_pings(c, 4s);
}

TEST(Heartbeat, RawClientAnsweringPingsStaysOpen) {
  ServerProcess server({{"limits.ping_interval_ms=500", "limits.pong_timeout_ms=1500"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  c.send(ws_frame(0x1, R"({"type":"hello","name":"polite"})"));
  answer_pings(c, 3500ms);
  c.send(ws_frame(0x1, R"({"type":"ping","ref":"still"})"));
  auto f = c.read_frame(scaled(2s));
  ASSERT_TRUE(f);
  EXPECT_NE(f->payload.find("pong"), std::string::npos);
}

TEST(HandshakeTimeout, HalfRequestIsDisconnected) {
  ServerProcess server({{"limits.handshake_timeout_ms=500"}});
  RawClient half;
  ASSERT_TRUE(half.connect(server.port()));
  half.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(half.closed_within(scaled(3s))) << "half a request held the connection";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 400ms);
  // Nothing at all.
  RawClient idle;
  ASSERT_TRUE(idle.connect(server.port()));
  EXPECT_TRUE(idle.closed_within(scaled(3s)));
  // A complete request still works.
  EXPECT_EQ(http_get(server.port(), "/healthz").status, 200);
}

TEST(HandshakeTimeout, TricklingHeadersAreBoundedByTheWholeRequest) {
  ServerProcess server({{"limits.handshake_timeout_ms=500"}});
  RawClient slow;
  ASSERT_TRUE(slow.connect(server.port()));
  slow.send("GET /healthz HTTP/1.1\r\n");
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    if (!slow.try_send("X"))
      closed = true;  // a header byte every 100 ms, never finishing
    else
      closed = slow.closed_within(100ms);
  }
  EXPECT_TRUE(closed) << "a client trickling header bytes kept the connection for 4 s";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, scaled(2500ms));
}

}  // namespace
}  // namespace parley::it
