// Durability: restart keeps history and seq, kill -9 loses nothing acked, idempotent retries
// (also across a restart), and SIGTERM drains: 1012 to clients, queued messages committed, exit 0.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "common.hpp"

namespace parley::it {
namespace {

const std::vector<std::string> kFast = {"limits.send_rate=100000", "limits.send_burst=100000",
                                        "limits.request_rate=100000", "limits.request_burst=100000",
                                        "limits.history_limit=1000"};

std::map<std::string, json::object> by_cid(const std::vector<json::object>& history) {
  std::map<std::string, json::object> out;
  for (const auto& m : history) out[str(m, "cid")] = m;
  return out;
}

std::map<std::string, int> cid_counts(const std::vector<json::object>& history) {
  std::map<std::string, int> out;
  for (const auto& m : history) ++out[str(m, "cid")];
  return out;
}

TEST(Durability, RestartKeepsHistoryAndSeq) {
  ServerProcess server(ServerOptions{kFast});
  std::vector<json::object> before;
  {
    WsClient a(server.port());
    a.hello("ada");
    a.create("ops");
    a.join("general");
    for (int i = 1; i <= 10; ++i)
      a.send_message("general", "c" + std::to_string(i), "before restart " + std::to_string(i));
    before = a.full_history("general");
    ASSERT_EQ(before.size(), 10u);
  }
  server.stop();
  server.restart();
  WsClient a(server.port());
  a.hello("ada");
  auto j = a.join("general");
  EXPECT_EQ(u64(j, "last_seq"), 10u);
  auto rooms = a.request({{"type", "rooms"}});
  const auto& list = rooms.at("rooms").as_array();
  ASSERT_EQ(list.size(), 2u) << dump(rooms);
  EXPECT_EQ(str(list[0].as_object(), "room"), "general");
  EXPECT_EQ(u64(list[0].as_object(), "last_seq"), 10u);
  EXPECT_EQ(str(list[1].as_object(), "room"), "ops");
  auto after = a.full_history("general");
  EXPECT_EQ(after, before);
  auto ack = a.send_message("general", "c11", "after restart");
  EXPECT_EQ(u64(ack, "seq"), 11u);
  a.join("ops");
  // A second restart, with the ring cold: resume from the store.
  server.stop();
  server.restart();
  WsClient b(server.port());
  b.hello("bob");
  b.join("general", 8);
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 3; ++i) {
    auto m = b.wait_for("message");
    ASSERT_TRUE(m) << "resume after restart: message " << i;
    got.push_back(u64(*m, "seq"));
  }
  EXPECT_EQ(got, range(9, 11));
}

TEST(Durability, KillNineLosesNothingAcked) {
  ServerProcess server(ServerOptions{kFast});
  struct Sent {
    std::string text;
  };
  std::map<std::string, Sent> sent;            // cid -> what was sent
  std::map<std::string, std::uint64_t> acked;  // cid -> seq
  std::atomic<std::size_t> acked_count{0};
  std::atomic<bool> kill_now{false};
  std::string error;
  {
    WsClient s(server.port());
    s.hello("ada");
    s.join("general");
    std::thread sender([&] {
      try {
        auto drain = [&] {
          auto& q = s.events();
          while (!q.empty()) {
            auto e = std::move(q.front());
            q.pop_front();
            if (type_of(e) == "ack") {
              acked[str(e, "cid")] = u64(e, "seq");
              acked_count = acked.size();
            } else if (type_of(e) == "error") {
              error = "error while sending: " + dump(e);
            }
          }
        };
        for (int i = 0; i < 20000 && !s.closed(); ++i) {
          const std::string cid = "k" + std::to_string(i);
          const std::string text = "message " + std::to_string(i) + " " + std::string(i % 50, 'x');
          sent[cid] = Sent{text};
          s.send_json({{"type", "send"}, {"room", "general"}, {"cid", cid}, {"text", text}});
          if (acked_count >= 300 && i % 100 == 0) {
            // Enough acks: pipeline 50 more and never read their acks (they are in flight at the
            // kill, as far as this client knows), and let the main thread kill.
            for (int j = 1; j <= 50; ++j) {
              const std::string c2 = "k" + std::to_string(i) + "-" + std::to_string(j);
              sent[c2] = Sent{"burst " + std::to_string(j)};
              s.send_json({{"type", "send"}, {"room", "general"}, {"cid", c2}, {"text", sent[c2].text}});
            }
            kill_now = true;
            break;
          }
          s.pump();
          drain();
          // Keep at most 100 in flight.
          for (int w = 0; w < 500 && sent.size() - acked.size() > 100 && !s.closed(); ++w) {
            s.pump(2ms);
            drain();
          }
        }
        drain();
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
    const bool enough = eventually([&] { return kill_now.load(); }, scaled(20s));
    std::this_thread::sleep_for(20ms);  // some of the burst is committed, none of it counted acked
    server.kill9();
    sender.join();
    ASSERT_TRUE(enough) << "fewer than 300 acks before the kill";
    ASSERT_EQ(error, "");
    // Read to the end of the stream (acks read now are not counted: they stay "in flight").
    ASSERT_TRUE(eventually(
        [&] {
          s.pump(5ms);
          return s.closed();
        },
        scaled(5s)));
  }
  ASSERT_GT(sent.size(), acked.size()) << "the kill came after the last send: nothing was in flight";
  server.restart();
  WsClient c(server.port());
  c.hello("ada");
  c.join("general");
  auto history = c.full_history("general", 1000);
  const auto seqs = seqs_of(history);
  EXPECT_EQ(seqs, range(1, history.size())) << "history seqs are not gap-free from 1";
  auto stored = by_cid(history);
  std::size_t lost = 0;
  for (const auto& [cid, seq] : acked) {
    auto it = stored.find(cid);
    if (it == stored.end()) {
      if (++lost <= 5) ADD_FAILURE() << "acked message " << cid << " (seq " << seq << ") is not in history";
      continue;
    }
    EXPECT_EQ(u64(it->second, "seq"), seq) << cid;
    EXPECT_EQ(str(it->second, "text"), sent[cid].text) << cid;
    EXPECT_EQ(str(it->second, "from"), "ada");
  }
  EXPECT_EQ(lost, 0u) << "acked messages lost by kill -9 (of " << acked.size() << ")";
  for (const auto& [cid, n] : cid_counts(history)) {
    EXPECT_EQ(n, 1) << cid;
    ASSERT_TRUE(sent.count(cid)) << "history holds a message nobody sent: " << cid;
    EXPECT_EQ(str(stored[cid], "text"), sent[cid].text);
  }
  // Retry every unacked cid: each gets an ack; a stored one gets its original seq.
  std::size_t retried = 0;
  for (const auto& [cid, s] : sent) {
    if (acked.count(cid)) continue;
    auto ack = c.send_message("general", cid, s.text);
    ++retried;
    if (auto it = stored.find(cid); it != stored.end()) {
      EXPECT_EQ(u64(ack, "seq"), u64(it->second, "seq")) << "retry of stored " << cid << " got a new seq";
    }
  }
  EXPECT_GT(retried, 0u);
  auto final_history = c.full_history("general", 1000);
  EXPECT_EQ(seqs_of(final_history), range(1, final_history.size()));
  EXPECT_EQ(final_history.size(), sent.size()) << "every sent cid exactly once";
  for (const auto& [cid, n] : cid_counts(final_history)) EXPECT_EQ(n, 1) << cid;
  for (const auto& [cid, s] : sent) EXPECT_EQ(cid_counts(final_history)[cid], 1) << cid;
}

TEST(Idempotency, SameCidTwiceGivesTheOriginalAck) {
  ServerProcess server(ServerOptions{kFast});
  WsClient a(server.port()), b(server.port());
  a.hello("ada");
  b.hello("bob");
  a.join("general");
  b.join("general");
  auto ack1 = a.send_message("general", "dup", "hello");
  ASSERT_TRUE(b.wait_for("message"));
  // A retry resends the same text (another text with the same cid is a cid_conflict: budgets_test).
  auto ack2 = a.send_message("general", "dup", "hello");
  EXPECT_EQ(u64(ack2, "seq"), u64(ack1, "seq"));
  EXPECT_EQ(i64(ack2, "ts"), i64(ack1, "ts"));
  EXPECT_EQ(str(ack2, "cid"), "dup");
  EXPECT_FALSE(b.wait_for("message", {}, 300ms)) << "a retry was delivered again";
  // Back to back, the second before the first is committed.
  a.send_json({{"type", "send"}, {"room", "general"}, {"cid", "fast"}, {"text", "one"}, {"ref", "f1"}});
  a.send_json({{"type", "send"}, {"room", "general"}, {"cid", "fast"}, {"text", "one"}, {"ref", "f2"}});
  auto f1 = a.wait_for("ack", [](const json::object& e) { return str(e, "ref") == "f1"; });
  auto f2 = a.wait_for("ack", [](const json::object& e) { return str(e, "ref") == "f2"; });
  ASSERT_TRUE(f1 && f2) << "both sends of a pipelined duplicate must be acked";
  EXPECT_EQ(u64(*f1, "seq"), u64(*f2, "seq"));
  auto m = b.wait_for("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "cid"), "fast");
  EXPECT_FALSE(b.wait_for("message", {}, 300ms)) << "a pipelined duplicate was delivered twice";
  // The same cid in another room is another message.
  a.create("other");
  a.join("other");
  auto other = a.send_message("other", "dup", "elsewhere");
  EXPECT_EQ(u64(other, "seq"), 1u);
  auto h = a.full_history("general");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(str(h[0], "text"), "hello");
  EXPECT_EQ(str(h[1], "text"), "one");

  // Dedupe survives a restart.
  server.stop();
  server.restart();
  WsClient c(server.port());
  c.hello("ada");
  c.join("general");
  auto again = c.send_message("general", "dup", "hello");
  EXPECT_EQ(u64(again, "seq"), u64(ack1, "seq"));
  EXPECT_EQ(i64(again, "ts"), i64(ack1, "ts"));
  auto fast_again = c.send_message("general", "fast", "one");
  EXPECT_EQ(u64(fast_again, "seq"), u64(*f1, "seq"));
  EXPECT_EQ(c.full_history("general").size(), 2u);
  auto next = c.send_message("general", "new", "new one");
  EXPECT_EQ(u64(next, "seq"), 3u);
}

TEST(Drain, SigtermClosesClientsWith1012AndExitsZero) {
  ServerProcess server(ServerOptions{{"limits.close_timeout_ms=3000"}});
  WsClient a(server.port()), b(server.port());
  a.hello("ada");
  b.hello("bob");
  a.join("general");
  b.join("general");
  RawClient http;
  ASSERT_TRUE(http.connect(server.port()));
  http.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto ready = http.read_http_response(scaled(3s));
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  // A client that never answers the close frame holds the drain open for close_timeout_ms.
  RawClient stubborn;
  ASSERT_TRUE(stubborn.connect(server.port()));
  ASSERT_EQ(stubborn.ws_upgrade().status, 101);
  stubborn.send(ws_frame(0x1, R"({"type":"hello","name":"stubborn"})"));
  ASSERT_TRUE(stubborn.read_frame(scaled(3s)));  // welcome

  server.signal_term();
  EXPECT_EQ(a.expect_close(scaled(5s)), std::optional<std::uint16_t>(1012));
  EXPECT_EQ(b.expect_close(scaled(5s)), std::optional<std::uint16_t>(1012));
  EXPECT_EQ(stubborn.read_close(scaled(5s)), std::optional<std::uint16_t>(1012));
  // Draining: not ready, and no new connection is taken.
  http.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto draining = http.read_http_response(scaled(2s));
  ASSERT_TRUE(draining) << "no /readyz answer during the drain";
  EXPECT_EQ(draining->status, 503);
  EXPECT_FALSE(draining->json().as_object().at("ready").as_bool());
  // The metrics say why: draining by intent (the readiness alerts leave such a node alone).
  http.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  auto metrics = http.read_http_response(scaled(2s));
  ASSERT_TRUE(metrics) << "no /metrics answer during the drain";
  EXPECT_NE(metrics->body.find("\nparley_draining 1\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("\nparley_ready 0\n"), std::string::npos) << metrics->body;
  EXPECT_TRUE(eventually(
      [&] {
        RawClient n;
        if (!n.connect(server.port())) return true;
        n.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        return n.closed_within(scaled(300ms)) && n.buffer().empty();
      },
      scaled(2s)))
      << "the server still accepts connections while draining";
  EXPECT_EQ(server.wait_exit(scaled(10s)), 0);
}

// A rolling restart's drain (server.drain_notice_ms, server.drain_window_ms): /readyz fails at
// once while new clients are still served for the notice; then the sessions are closed with 1012
// a few at a time over the window, not all in the same instant.
TEST(Drain, NoticeThenClosesSpreadOverTheWindow) {
  ServerProcess server(ServerOptions{{"server.drain_notice_ms=1500", "server.drain_window_ms=2000"}});
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<WsClient>(server.port()));
    clients.back()->hello("u" + std::to_string(i));
  }
  server.signal_term();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return http_get(server.port(), "/readyz", scaled(1s)).status == 503; }, scaled(1s)))
      << "/readyz still 200 after SIGTERM";
  // The notice: the load balancer has not seen it yet, and a client it sends is served.
  auto late = std::make_unique<WsClient>(server.port());
  EXPECT_EQ(str(late->hello("late"), "type"), "welcome");
  clients.push_back(std::move(late));
  std::vector<std::chrono::steady_clock::duration> closed_at(clients.size());
  std::size_t open = clients.size();
  while (open > 0 && std::chrono::steady_clock::now() - t0 < scaled(15s)) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (closed_at[i] != std::chrono::steady_clock::duration{}) continue;
      clients[i]->pump(2ms);
      if (!clients[i]->closed()) continue;
      closed_at[i] = std::chrono::steady_clock::now() - t0;
      --open;
      EXPECT_EQ(clients[i]->close_code(), std::optional<std::uint16_t>(1012)) << "client " << i;
    }
  }
  ASSERT_EQ(open, 0u) << "sessions still open after the drain";
  const auto [first, last] = std::minmax_element(closed_at.begin(), closed_at.end());
  // Loose bounds, so that a loaded machine cannot fail them: nobody closed before most of the
  // notice, and the closes spread over more than a quarter of the window.
  EXPECT_GE(*first, 1200ms) << "a session was closed during the notice";
  EXPECT_GE(*last - *first, 500ms) << "every session was closed at once, not spread over the window";
  EXPECT_EQ(server.wait_exit(scaled(10s)), 0);
}

// A second SIGTERM cuts the notice and the window short: an operator in a hurry.
TEST(Drain, SecondSigtermClosesEveryoneAtOnce) {
  ServerProcess server(ServerOptions{{"server.drain_notice_ms=60000", "server.drain_window_ms=60000"}});
  WsClient a(server.port());
  a.hello("ada");
  server.signal_term();
  EXPECT_TRUE(eventually([&] { return http_get(server.port(), "/readyz", scaled(1s)).status == 503; }, scaled(1s)));
  server.signal_term();
  EXPECT_EQ(a.expect_close(scaled(5s)), std::optional<std::uint16_t>(1012));
  EXPECT_EQ(server.wait_exit(scaled(10s)), 0);
}

TEST(Drain, AcceptedMessagesAreCommittedOnSigterm) {
  ServerProcess server(ServerOptions{kFast});
  std::map<std::string, std::uint64_t> acked;
  {
    WsClient a(server.port());
    a.hello("ada");
    a.join("general");
    for (int i = 0; i < 300; ++i)
      a.send_json({{"type", "send"}, {"room", "general"}, {"cid", "q" + std::to_string(i)}, {"text", "queued"}});
    server.signal_term();
    EXPECT_EQ(a.expect_close(scaled(5s)), std::optional<std::uint16_t>(1012));
    for (const auto& e : a.events())
      if (type_of(e) == "ack") acked[str(e, "cid")] = u64(e, "seq");
  }
  ASSERT_EQ(server.wait_exit(scaled(10s)), 0);
  server.restart();
  WsClient c(server.port());
  c.hello("ada");
  c.join("general");
  auto h = c.full_history("general", 1000);
  EXPECT_EQ(seqs_of(h), range(1, h.size()));
  auto stored = by_cid(h);
  for (const auto& [cid, seq] : acked) {
    ASSERT_TRUE(stored.count(cid)) << "acked " << cid << " lost by SIGTERM";
    EXPECT_EQ(u64(stored[cid], "seq"), seq);
  }
  for (const auto& [cid, n] : cid_counts(h)) EXPECT_EQ(n, 1) << cid;
  // Everything stored can be retried without a duplicate.
  auto r = c.send_message("general", "q0", "queued");
  if (stored.count("q0")) {
    EXPECT_EQ(u64(r, "seq"), u64(stored["q0"], "seq"));
  }
}

}  // namespace
}  // namespace parley::it
