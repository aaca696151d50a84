// WebSocket-level behaviour over raw bytes and over Beast: framing, control frames, and the RFC
// close code for every violation.
#include "common.hpp"

namespace parley::it {
namespace {

class WebSocket : public ::testing::Test {
 protected:
  ServerProcess server{ServerOptions{{"limits.close_timeout_ms=500", "limits.max_frame_bytes=65536"}}};

  // A raw connection after a successful upgrade.
  std::unique_ptr<RawClient> raw() {
    auto c = std::make_unique<RawClient>();
    if (!c->connect(server.port())) throw std::runtime_error("connect failed");
    auto r = c->ws_upgrade();
    if (r.status != 101) throw std::runtime_error("upgrade refused: " + std::to_string(r.status));
    return c;
  }

  // Sends `bytes` on a fresh raw connection and returns the server's close code.
  std::optional<std::uint16_t> close_code_for(const std::string& bytes, bool hello_first = true) {
    auto c = raw();
    if (hello_first) c->send(ws_frame(0x1, R"({"type":"hello","name":"raw"})"));
    c->send(bytes);
    auto code = c->read_close(scaled(5s));
    // After its close frame the server ends the TCP connection (close_timeout_ms at most + a tick).
    EXPECT_TRUE(c->closed_within(scaled(4s))) << "the server kept the connection after closing";
    return code;
  }
};

// Text events in the raw client's next text frames, until one satisfies `pred` or timeout.
std::optional<json::object> raw_wait(RawClient& c, const std::string& type, Ms timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  for (;;) {
    const auto left = std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto f = c.read_frame(left);
    if (!f) return std::nullopt;
    if (f->opcode != 0x1) continue;
    std::size_t start = 0;
    while (start <= f->payload.size()) {
      const auto nl = f->payload.find('\n', start);
      auto v = json::parse(f->payload.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
      if (type_of(v.as_object()) == type) return v.as_object();
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
}

TEST_F(WebSocket, FrameOverLimitCloses1009) {
  WsClient c(server.port());
  c.hello("ada");
  c.send_text(std::string(65537, 'x'));
  EXPECT_EQ(c.expect_close(scaled(5s)), std::optional<std::uint16_t>(1009));
}

TEST_F(WebSocket, FragmentedMessageOverLimitCloses1009) {
  EXPECT_EQ(
      close_code_for(ws_frame(0x1, std::string(40000, 'x'), false) + ws_frame(0x0, std::string(40000, 'x'), true)),
      std::optional<std::uint16_t>(1009));
}

TEST_F(WebSocket, FrameAtTheLimitIsAccepted) {
  WsClient c(server.port());
  c.hello("ada");
  c.join("general");
  // Exactly max_frame_bytes of valid JSON: answered (the text is over max_text_length), not closed.
  const std::string head = R"({"type":"send","room":"general","cid":"c1","text":")";
  const std::string tail = R"("})";
  c.send_text(head + std::string(65536 - head.size() - tail.size(), 'a') + tail);
  auto e = c.wait_for("error");
  ASSERT_TRUE(e) << "no answer to a frame of exactly max_frame_bytes";
  EXPECT_EQ(str(*e, "code"), "text_too_long");
  expect_alive(c);
}

TEST_F(WebSocket, BinaryFrameCloses1003) {
  WsClient c(server.port());
  c.hello("ada");
  c.send_binary(R"({"type":"ping"})");
  EXPECT_EQ(c.expect_close(scaled(5s)), std::optional<std::uint16_t>(1003));
}

TEST_F(WebSocket, InvalidUtf8Closes1007) {
  EXPECT_EQ(close_code_for(ws_frame(0x1, "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}")),
            std::optional<std::uint16_t>(1007));
  // Overlong encoding and a surrogate encoded in UTF-8.
  EXPECT_EQ(close_code_for(ws_frame(0x1, "\xc0\xaf")), std::optional<std::uint16_t>(1007));
  EXPECT_EQ(close_code_for(ws_frame(0x1, "\xed\xa0\x80")), std::optional<std::uint16_t>(1007));
  // Truncated sequence at the end of a fragmented message.
  EXPECT_EQ(close_code_for(ws_frame(0x1, "{\"a\":\"\xe2\x82", false) + ws_frame(0x0, "", true)),
            std::optional<std::uint16_t>(1007));
  // Invalid UTF-8 in a close frame's reason.
  EXPECT_EQ(close_code_for(ws_frame(0x8, ws_close_payload(1000, "\xff"))), std::optional<std::uint16_t>(1007));
}

TEST_F(WebSocket, CodePointSplitAcrossFragmentsIsValid) {
  auto c = raw();
  c->send(ws_frame(0x1, "{\"type\":\"hello\",\"name\":\"\xe2", false));
  c->send(ws_frame(0x0, "\x82\xac\"}", true));  // "€" split in two frames
  auto w = raw_wait(*c, "welcome");
  ASSERT_TRUE(w);
  EXPECT_EQ(str(*w, "user"), "\xe2\x82\xac");
}

TEST_F(WebSocket, UnmaskedFrameCloses1002) {
  EXPECT_EQ(close_code_for(ws_frame(0x1, R"({"type":"ping"})", true, false)), std::optional<std::uint16_t>(1002));
}

TEST_F(WebSocket, RsvBitsClose1002) {
  for (int rsv : {1, 2, 4})
    EXPECT_EQ(close_code_for(ws_frame(0x1, R"({"type":"ping"})", true, true, rsv)), std::optional<std::uint16_t>(1002))
        << "rsv " << rsv;
}

TEST_F(WebSocket, BadCloseCodesClose1002) {
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1100, 2999, 5000})
    EXPECT_EQ(close_code_for(ws_frame(0x8, ws_close_payload(code))), std::optional<std::uint16_t>(1002))
        << "close code " << code;
  EXPECT_EQ(close_code_for(ws_frame(0x8, std::string(1, '\x03'))), std::optional<std::uint16_t>(1002))
      << "one-byte close payload";
}

TEST_F(WebSocket, OtherFramingViolationsClose1002) {
  EXPECT_EQ(close_code_for(ws_frame(0x3, "x")), std::optional<std::uint16_t>(1002)) << "reserved opcode 3";
  EXPECT_EQ(close_code_for(ws_frame(0xB, "x")), std::optional<std::uint16_t>(1002)) << "reserved opcode 0xB";
  EXPECT_EQ(close_code_for(ws_frame(0x0, "x")), std::optional<std::uint16_t>(1002)) << "continuation first";
  EXPECT_EQ(close_code_for(ws_frame(0x9, "x", false)), std::optional<std::uint16_t>(1002)) << "fragmented ping";
  EXPECT_EQ(close_code_for(ws_frame(0x9, std::string(126, 'p'))), std::optional<std::uint16_t>(1002)) << "ping > 125";
  EXPECT_EQ(close_code_for(ws_frame(0x1, "{", false) + ws_frame(0x1, "}")), std::optional<std::uint16_t>(1002))
      << "new text frame inside a fragmented message";
  EXPECT_GE(fetch_metric(server.port(), "parley_protocol_closes_total").value_or(0), 6.0);
}

TEST_F(WebSocket, ViolationBeforeHelloClosesToo) {
  EXPECT_EQ(close_code_for(ws_frame(0x1, "x", true, false), false), std::optional<std::uint16_t>(1002));
}

TEST_F(WebSocket, FragmentsWithInterleavedPingAreReassembled) {
  auto c = raw();
  c->send(ws_frame(0x1, R"({"type":"hel)", false));
  c->send(ws_frame(0x9, "mid"));  // control frames may come between fragments
  c->send(ws_frame(0x0, R"(lo","name":)", false));
  c->send(ws_frame(0x0, R"("ada"})", true));
  auto w = raw_wait(*c, "welcome");
  ASSERT_TRUE(w) << "fragmented hello not answered";
  EXPECT_EQ(str(*w, "user"), "ada");
}

TEST_F(WebSocket, PingFrameGetsPongWithSamePayload) {
  auto c = raw();
  c->send(ws_frame(0x9, "are you there"));
  auto f = c->read_frame(scaled(3s));
  ASSERT_TRUE(f) << "no pong";
  EXPECT_EQ(f->opcode, 0xA);
  EXPECT_EQ(f->payload, "are you there");
}

TEST_F(WebSocket, ClientCloseIsEchoed) {
  for (std::uint16_t code : {1000, 1001, 3000, 4999}) {
    auto c = raw();
    c->send(ws_frame(0x1, R"({"type":"hello","name":"ada"})"));
    ASSERT_TRUE(raw_wait(*c, "welcome"));
    c->send(ws_frame(0x8, ws_close_payload(code, "bye")));
    EXPECT_EQ(c->read_close(scaled(3s)), std::optional<std::uint16_t>(code));
    EXPECT_TRUE(c->closed_within(scaled(3s)));
  }
  // An empty close frame is answered with an empty one (1005 means "no code").
  auto c = raw();
  c->send(ws_frame(0x8, ""));
  EXPECT_EQ(c->read_close(scaled(3s)), std::optional<std::uint16_t>(1005));
  EXPECT_TRUE(c->closed_within(scaled(3s)));
  // Beast's closing handshake completes.
  WsClient b(server.port());
  b.hello("bob");
  b.close(1000);
  EXPECT_TRUE(b.closed());
  EXPECT_TRUE(eventually([&] { return fetch_metric(server.port(), "parley_connections") == 0.0; }, scaled(3s)));
}

TEST_F(WebSocket, PipelinedFramesAreAnsweredInOrder) {
  auto c = raw();
  std::string burst = ws_frame(0x1, R"({"type":"hello","name":"ada","ref":1})");
  for (int i = 2; i <= 20; ++i) burst += ws_frame(0x1, R"({"type":"ping","ref":)" + std::to_string(i) + "}");
  c->send(burst);
  std::vector<std::int64_t> refs;
  const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
  while (refs.size() < 20 && std::chrono::steady_clock::now() < deadline) {
    auto f = c->read_frame(scaled(1s));
    if (!f) break;
    if (f->opcode != 1) continue;
    std::size_t start = 0;
    while (start <= f->payload.size()) {
      const auto nl = f->payload.find('\n', start);
      auto v = json::parse(f->payload.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
      refs.push_back(i64(v.as_object(), "ref"));
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  std::vector<std::int64_t> want;
  for (int i = 1; i <= 20; ++i) want.push_back(i);
  EXPECT_EQ(refs, want);
}

TEST_F(WebSocket, FirstFrameInTheSameWriteAsTheUpgrade) {
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  c.send(
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
      ws_frame(0x1, R"({"type":"hello","name":"eager"})"));
  auto r = c.read_http_response(scaled(3s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->header("sec-websocket-protocol"), "") << "no subprotocol was offered";
  auto w = raw_wait(c, "welcome");
  ASSERT_TRUE(w) << "the frame sent with the upgrade request was lost";
  EXPECT_EQ(str(*w, "user"), "eager");
}

TEST_F(WebSocket, RequestInPiecesIsUpgradedWhenWhole) {
  // The request is not all there when the connection is accepted: the handshake waits in the
  // shard's poller, and hands its registration to the session.
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  const std::string req =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  c.send(req.substr(0, 20));
  std::this_thread::sleep_for(100ms);
  c.send(req.substr(20, 40));
  std::this_thread::sleep_for(100ms);
  c.send(req.substr(60));
  auto r = c.read_http_response(scaled(3s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  c.send(ws_frame(0x1, R"({"type":"hello","name":"patient"})"));
  auto w = raw_wait(c, "welcome");
  ASSERT_TRUE(w) << "the session did not hear the socket the handshake had registered";
  EXPECT_EQ(str(*w, "user"), "patient");
}

TEST_F(WebSocket, UpgradeAfterAKeepAliveRequestIsAnsweredToo) {
  // The second request of a connection is read by the HTTP session (through Asio), which hands
  // the upgraded socket over to the shard's poller.
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto health = c.read_http_response(scaled(3s));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  c.send(
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: parley.v1\r\n\r\n" +
      ws_frame(0x1, R"({"type":"hello","name":"second"})"));
  auto r = c.read_http_response(scaled(3s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->header("sec-websocket-protocol"), "parley.v1");
  auto w = raw_wait(c, "welcome");
  ASSERT_TRUE(w) << "the frame sent with the upgrade request was lost";
  EXPECT_EQ(str(*w, "user"), "second");
  // And the session goes on reading: a ping is answered.
  c.send(ws_frame(0x9, "still-here"));
  bool pong = false;
  for (int i = 0; i < 10 && !pong; ++i) {
    auto f = c.read_frame(scaled(1s));
    if (!f) break;
    pong = f->opcode == 0xA && f->payload == "still-here";
  }
  EXPECT_TRUE(pong);
}

TEST(HelloTimeout, SilentConnectionIsClosed1008) {
  ServerProcess server({{"limits.hello_timeout_ms=500"}});
  WsClient silent(server.port());
  WsClient welcomed(server.port());
  welcomed.hello("ada");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(silent.expect_close(scaled(5s)), std::optional<std::uint16_t>(1008));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 400ms);
  EXPECT_FALSE(welcomed.closed());
  expect_alive(welcomed);
}

}  // namespace
}  // namespace parley::it
