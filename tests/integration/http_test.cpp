// HTTP side of the server: health, readiness, metrics, static files and every refused request.
#include <gtest/gtest.h>

#include <thread>

#include "harness.hpp"

namespace parley::it {
namespace {

class Http : public ::testing::Test {
 protected:
  ServerProcess server{ServerOptions{{"limits.max_header_bytes=8192"}}};
  unsigned short port() const { return server.port(); }
};

std::string json_code(const HttpResponse& r) { return std::string(r.json().as_object().at("code").as_string()); }

TEST(Cli, VersionAndConfigKeys) {
  auto v = run_parley({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.output.find("parley "), std::string::npos) << v.output;
  auto k = run_parley({"config-keys"});
  EXPECT_EQ(k.exit_code, 0);
  for (const char* key :
       {"limits.max_frame_bytes = 65536", "limits.max_text_length = 4000", "limits.send_rate = 10",
        "limits.send_burst = 20", "limits.max_outbound_bytes = 4194304", "limits.ping_interval_ms = 20000",
        "rooms.recent_messages = 1024", "rooms.dedupe_window = 10000", "limits.max_header_bytes = 8192"})
    EXPECT_NE(k.output.find(key), std::string::npos) << key << "\n" << k.output;
}

// The background threads' niceness (auth.hash_nice, store.search_nice) is 0 to 19 above the I/O
// threads: anything else refuses to start, naming the key (a negative one would raise them above
// message delivery, which an unprivileged process cannot, and a privileged one should not). The
// searcher's share of its time (store.search_share) is 1 to 100 percent.
TEST(Cli, BackgroundPrioritiesOutOfRangeAreRefused) {
  for (const char* setting : {"auth.hash_nice=20", "auth.hash_nice=-1", "store.search_nice=20", "store.search_nice=-1",
                              "store.search_share=0", "store.search_share=101"}) {
    auto r = run_parley({"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", setting});
    EXPECT_EQ(r.exit_code, 2) << setting << ": " << r.output;
    const std::string key = std::string(setting).substr(0, std::string(setting).find('='));
    EXPECT_NE(r.output.find(key), std::string::npos) << setting << ": " << r.output;
  }
  auto ok = run_parley({"serve", "--print-config", "--set", "auth.hash_nice=19", "--set", "store.search_nice=0",
                        "--set", "store.search_share=100"});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST(Cli, UnknownSettingIsRefused) {
  auto r = run_parley({"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", "limits.nope=1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("limits.nope"), std::string::npos) << r.output;
  auto bad = run_parley(
      {"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", "limits.send_rate=-1"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  auto writes = run_parley(
      {"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", "server.writes=epoll"});
  EXPECT_EQ(writes.exit_code, 2) << writes.output;
  EXPECT_NE(writes.output.find("server.writes"), std::string::npos) << writes.output;
  auto pages = run_parley(
      {"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", "store.checkpoint_pages=0"});
  EXPECT_EQ(pages.exit_code, 2) << pages.output;
  EXPECT_NE(pages.output.find("store.checkpoint_pages"), std::string::npos) << pages.output;
  auto timeout = run_parley(
      {"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", "broker.request_timeout_ms=5"});
  EXPECT_EQ(timeout.exit_code, 2) << timeout.output;
  EXPECT_NE(timeout.output.find("broker.request_timeout_ms"), std::string::npos) << timeout.output;
}

// broker.backend=redis-sentinel's settings are read at start-up: a bad one is a configuration
// error then (exit 2, naming the setting), never a broker that asks nothing or the wrong name.
TEST(Cli, SentinelSettingsAreChecked) {
  const std::vector<std::vector<std::string>> bad{
      {"broker.redis_sentinels="},
      {"broker.redis_sentinels=127.0.0.1"},
      {"broker.redis_sentinels=127.0.0.1:26379,127.0.0.1:0"},
      {"broker.redis_sentinel_master="},
      {"broker.redis_sentinel_master=my master"},
  };
  for (const auto& settings : bad) {
    std::vector<std::string> args{
        "serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", "broker.backend=redis-sentinel"};
    for (const auto& s : settings) {
      args.emplace_back("--set");
      args.push_back(s);
    }
    auto r = run_parley(args);
    EXPECT_EQ(r.exit_code, 2) << settings[0] << ": " << r.output;
    const std::string key = settings[0].substr(0, settings[0].find('='));
    EXPECT_NE(r.output.find(key), std::string::npos) << settings[0] << ": " << r.output;
  }
  auto backend = run_parley(
      {"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set", "broker.backend=sentinel"});
  EXPECT_EQ(backend.exit_code, 2) << backend.output;
  EXPECT_NE(backend.output.find("redis-sentinel"), std::string::npos) << backend.output;
}

TEST_F(Http, Healthz) {
  auto r = http_get(port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.json(), json::parse(R"({"status":"ok"})"));
}

TEST_F(Http, Readyz) {
  auto r = http_get(port(), "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.json().as_object().at("ready").as_bool());
}

TEST_F(Http, MetricsArePrometheusText) {
  {
    WsClient c(port());
    c.hello("ada");
    c.join("general");
    c.send_message("general", "m1", "hello");
    auto r = http_get(port(), "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
    for (const char* name : {"parley_connections", "parley_messages_acked_total", "parley_slow_consumer_closes_total",
                             "parley_connections_total", "parley_rooms", "parley_ready", "parley_draining"})
      EXPECT_TRUE(metric(r.body, name).has_value()) << name << " missing in\n" << r.body;
    EXPECT_EQ(metric(r.body, "parley_connections"), 1.0);
    EXPECT_EQ(metric(r.body, "parley_messages_acked_total"), 1.0);
    EXPECT_EQ(metric(r.body, "parley_slow_consumer_closes_total"), 0.0);
    EXPECT_EQ(metric(r.body, "parley_draining"), 0.0);
    EXPECT_NE(r.body.find("# TYPE parley_connections gauge"), std::string::npos);
  }
  // The connection gauge goes back down once the client is gone.
  EXPECT_TRUE(eventually([&] { return fetch_metric(port(), "parley_connections") == 0.0; }, scaled(3s)));
}

// parley_delivery_seconds: a histogram of chat messages only, one observation per message per I/O
// thread with members (two clients may sit on one thread or on two), cumulative buckets.
TEST_F(Http, DeliveryAndCommitHistogramsCountChatMessages) {
  WsClient ada(port()), bob(port());
  ada.hello("ada");
  bob.hello("bob");
  ada.join("general");
  bob.join("general");
  for (const char* cid : {"m1", "m2", "m3"}) {
    ada.send_message("general", cid, "hello");
    ASSERT_TRUE(bob.wait_for("message", [&](const json::object& e) { return str(e, "cid") == cid; }));
  }
  const std::string count = "parley_delivery_seconds_count";
  ASSERT_TRUE(eventually([&] { return fetch_metric(port(), count).value_or(0) >= 3; }, scaled(3s)));
  // Typing (not a chat message) is delivered but not counted.
  bob.send_json(json::object{{"type", "typing"}, {"room", "general"}});
  ASSERT_TRUE(ada.wait_for("typing"));
  const auto r = http_get(port(), "/metrics");
  EXPECT_NE(r.body.find("# TYPE parley_delivery_seconds histogram"), std::string::npos) << r.body;
  const double n = metric(r.body, count).value_or(-1);
  EXPECT_GE(n, 3.0);
  EXPECT_LE(n, 6.0);
  // Buckets are cumulative and end with +Inf at the count; the sum is a positive time.
  auto check_buckets = [&](const std::string& name, double expected) {
    double previous = 0;
    std::size_t buckets = 0;
    const std::string prefix = name + "_bucket{le=\"";
    for (std::size_t at = 0; (at = r.body.find(prefix, at)) != std::string::npos; ++at) {
      const auto line_end = r.body.find('\n', at);
      const std::string line = r.body.substr(at, line_end - at);
      const double v = std::stod(line.substr(line.rfind(' ') + 1));
      EXPECT_GE(v, previous) << line;
      previous = v;
      ++buckets;
    }
    EXPECT_EQ(buckets, 34u) << name;
    EXPECT_EQ(metric(r.body, prefix + "+Inf\"}"), expected) << name;
    EXPECT_EQ(metric(r.body, prefix + "5\"}"), expected) << name;  // all well under 5 s
    const double sum = metric(r.body, name + "_sum").value_or(-1);
    EXPECT_GT(sum, 0.0) << name;
    EXPECT_LT(sum, 5.0 * expected) << name;
    return sum;
  };
  const double delivery_sum = check_buckets("parley_delivery_seconds", n);
  // The commit of each of the 3 messages, once each: a message's fan-out starts after its commit,
  // so no delivery took less time than its commit.
  EXPECT_NE(r.body.find("# TYPE parley_commit_seconds histogram"), std::string::npos);
  EXPECT_EQ(metric(r.body, "parley_commit_seconds_count"), 3.0);
  EXPECT_LE(check_buckets("parley_commit_seconds", 3.0), delivery_sum);
}

TEST_F(Http, WsWithoutUpgradeIs426) {
  auto r = http_get(port(), "/ws");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(json_code(r), "upgrade_required");
  EXPECT_TRUE(r.json().as_object().contains("message"));
}

TEST_F(Http, UnknownPathIs404Json) {
  auto r = http_get(port(), "/no/such/thing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(json_code(r), "not_found");
}

TEST_F(Http, PostIs405Json) {
  auto r = http_raw(port(), "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(json_code(r), "method_not_allowed");
}

TEST_F(Http, BodyOverLimitIs413) {
  const std::string body(20000, 'x');
  auto r = http_raw(port(), "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                                "\r\nConnection: close\r\n\r\n" + body);
  EXPECT_EQ(r.status, 413);
}

TEST_F(Http, MalformedRequestIs400) {
  auto r = http_raw(port(), "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(r.status, 400);
}

TEST_F(Http, BadWebSocketVersionIs426WithVersionHeader) {
  auto r = http_raw(port(),
                    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(r.header("sec-websocket-version"), "13");
  EXPECT_EQ(json_code(r), "bad_version");
}

TEST_F(Http, MissingWebSocketKeyIs400) {
  auto r = http_raw(port(),
                    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_code(r), "bad_handshake");
}

// Cross-site WebSocket hijacking: a page on another site may not open a socket here, through
// either path to the upgrade (the fast path hands a refused request to the HTTP session).
std::string upgrade_from(const std::string& host, const std::string& origin_lines) {
  return "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + origin_lines +
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

TEST_F(Http, UpgradeFromAnotherOriginIs403) {
  const std::string host = "127.0.0.1:" + std::to_string(port());
  auto evil = http_raw(port(), upgrade_from(host, "Origin: https://evil.example\r\n"));
  EXPECT_EQ(evil.status, 403);
  EXPECT_EQ(json_code(evil), "forbidden_origin");
  auto null_origin = http_raw(port(), upgrade_from(host, "Origin: null\r\n"));
  EXPECT_EQ(null_origin.status, 403);
  auto two = http_raw(port(), upgrade_from(host, "Origin: http://" + host + "\r\nOrigin: https://evil.example\r\n"));
  EXPECT_EQ(two.status, 403) << "two Origins: refused, whichever comes first";
  auto other_port = http_raw(port(), upgrade_from(host, "Origin: http://127.0.0.1:1\r\n"));
  EXPECT_EQ(other_port.status, 403);
  EXPECT_EQ(fetch_metric(port(), "parley_origin_refusals_total"), 4.0);

  // The page's own origin, and a client that is not a browser page (no Origin), are let in.
  RawClient same;
  ASSERT_TRUE(same.connect(port()));
  same.send(upgrade_from(host, "Origin: http://" + host + "\r\n"));
  auto ok = same.read_http_response(5s);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 101);
  RawClient bot;
  ASSERT_TRUE(bot.connect(port()));
  bot.send(upgrade_from(host, ""));
  auto bot_ok = bot.read_http_response(5s);
  ASSERT_TRUE(bot_ok);
  EXPECT_EQ(bot_ok->status, 101);
}

TEST(HttpOrigins, AllowedOriginsListReplacesSameOrigin) {
  ServerProcess server({{"server.allowed_origins=https://chat.example.com"}});
  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  RawClient listed;
  ASSERT_TRUE(listed.connect(server.port()));
  listed.send(upgrade_from(host, "Origin: https://chat.example.com\r\n"));
  auto ok = listed.read_http_response(5s);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 101);
  auto same = http_raw(server.port(), upgrade_from(host, "Origin: http://" + host + "\r\n"));
  EXPECT_EQ(same.status, 403) << "a list replaces the same-origin rule";
  auto bad = run_parley({"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never", "--set",
                         "server.allowed_origins=chat.example.com"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("server.allowed_origins"), std::string::npos) << bad.output;
}

TEST_F(Http, UpgradeOnOtherPathIs404) {
  auto r = http_raw(port(),
                    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(r.status, 404);
}

TEST_F(Http, UpgradeAnswersAcceptKeyAndSubprotocol) {
  RawClient c;
  ASSERT_TRUE(c.connect(port()));
  auto r = c.ws_upgrade();
  EXPECT_EQ(r.status, 101);
  // RFC 6455 1.3: the accept value for the sample key.
  EXPECT_EQ(r.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(r.header("sec-websocket-protocol"), "parley.v1");
  WsClient beast_client(port());
  EXPECT_EQ(beast_client.subprotocol(), "parley.v1");
}

TEST_F(Http, HeaderOverLimitIs431) {
  const std::string big(10000, 'a');
  auto r = http_raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 431);
}

TEST_F(Http, StaticFiles) {
  auto index = http_get(port(), "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_NE(index.header("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(index.body.find("<"), std::string::npos);
  auto same = http_get(port(), "/index.html");
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(same.body, index.body);
  // HEAD: headers only.
  auto head = http_raw(port(), "HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.status, 200);
}

TEST_F(Http, PathTraversalAndHiddenFilesAreRefused) {
  for (const char* path : {"/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/js/../../CMakeLists.txt", "/.git/config",
                           "/%2E%2E%2FCMakeLists.txt"}) {
    auto r = http_get(port(), path);
    EXPECT_EQ(r.status, 404) << path;
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 9112 framing: what the server refuses, and that it then closes the connection without
// reading anything after the refused request as a request of its own (request smuggling).

// The answer to `request` on a fresh keep-alive connection, and every byte the server sent after
// it before closing (fails the test if it does not close).
struct Answer {
  HttpResponse response;
  std::string after;
};
Answer answer_then_close(unsigned short port, const std::string& request) {
  RawClient c;
  EXPECT_TRUE(c.connect(port));
  c.send(request);
  auto r = c.read_http_response(scaled(3s));
  if (!r) {
    ADD_FAILURE() << "no answer to\n" << request << "\ngot: " << c.buffer();
    return {};
  }
  bool eof = false;
  std::string after = c.read_until_eof(scaled(3s), &eof);
  EXPECT_TRUE(eof) << "the connection stayed open after\n" << request;
  return {*r, after};
}

// A second request hidden where the first one's body would be, if its framing were misread.
const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(Http, UnknownTransferCodingIs501AndWhatFollowsIsNeverARequest) {
  // RFC 9112 6.1: a transfer coding the server does not understand is 501. Beast 1.81 took all
  // of these as "no body" (or, for "gzip, chunked", as chunked, ignoring the gzip) and answered
  // the hidden request as a second one.
  for (const char* coding : {"xchunked", "gzip", "chunked, gzip", "gzip, chunked", "chunked;ext=1"}) {
    SCOPED_TRACE(coding);
    const auto a =
        answer_then_close(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + std::string(coding) +
                                      "\r\n\r\n" + smuggled);
    EXPECT_EQ(a.response.status, 501);
    EXPECT_EQ(json_code(a.response), "unsupported_transfer_coding");
    EXPECT_EQ(a.response.header("connection"), "close");
    EXPECT_EQ(a.after, "");  // the hidden request got no answer
  }
  // Two Transfer-Encoding lines are one list: "gzip" then "chunked" is "gzip, chunked".
  const auto two = answer_then_close(port(),
                                     "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
                                         smuggled);
  EXPECT_EQ(two.response.status, 501);
  EXPECT_EQ(two.after, "");
}

TEST_F(Http, TransferEncodingThatIsNotChunkedOnceIs400) {
  for (const char* coding : {"chunked, chunked", "chunked,", ", chunked", ""}) {
    SCOPED_TRACE(coding);
    const auto a =
        answer_then_close(port(), "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + std::string(coding) +
                                      "\r\n\r\n" + smuggled);
    EXPECT_EQ(a.response.status, 400);
    EXPECT_EQ(json_code(a.response), "bad_framing");
    EXPECT_EQ(a.response.header("connection"), "close");
    EXPECT_EQ(a.after, "");
  }
}

TEST_F(Http, TransferEncodingWithContentLengthIs400AndCloses) {
  // RFC 9112 6.1 and 6.3: both framings at once is a smuggling shape; refuse and close. Beast
  // refused chunked with Content-Length (as a generic bad request) but read an unknown coding
  // followed by Content-Length by the length.
  const std::string body = smuggled;
  const std::string length = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  for (const std::string& headers :
       {"Transfer-Encoding: chunked\r\n" + length, length + "Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding: xchunked\r\n" + length, length + "Transfer-Encoding: xchunked\r\n"}) {
    SCOPED_TRACE(headers);
    const auto a =
        answer_then_close(port(), "POST /healthz HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + body + smuggled);
    EXPECT_EQ(a.response.status, 400);
    EXPECT_EQ(json_code(a.response), "bad_framing");
    EXPECT_EQ(a.response.header("connection"), "close");
    EXPECT_EQ(a.after, "");
  }
}

TEST_F(Http, TransferEncodingInHttp10Is400) {
  // RFC 9112 6.1: HTTP/1.0 has no Transfer-Encoding; its framing is faulty.
  const auto a = answer_then_close(port(), "POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(a.response.status, 400);
  EXPECT_EQ(json_code(a.response), "bad_framing");
}

TEST_F(Http, ChunkedBodiesStillWork) {
  // The one coding the server understands: the body is read, the request answered (405: no
  // endpoint takes a body) and the connection kept for the next request.
  RawClient c;
  ASSERT_TRUE(c.connect(port()));
  c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" + smuggled);
  auto first = c.read_http_response(scaled(3s));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 405);
  auto second = c.read_http_response(scaled(3s));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200);
}

TEST_F(Http, Http11WithoutExactlyOneValidHostIs400) {
  // RFC 9112 3.2. Beast checks none of this.
  for (const std::string& hosts : {std::string(), std::string("Host: a\r\nHost: a\r\n"), std::string("Host: a b\r\n"),
                                   std::string("Host: a/b\r\n"), std::string("Host: x:80x\r\n")}) {
    SCOPED_TRACE(hosts);
    const auto a = answer_then_close(port(), "GET /healthz HTTP/1.1\r\n" + hosts + "\r\n" + smuggled);
    EXPECT_EQ(a.response.status, 400);
    EXPECT_EQ(json_code(a.response), "bad_host");
    EXPECT_EQ(a.after, "");
  }
  // The same for an upgrade: the fast path hands it to the HTTP session, which refuses it.
  RawClient c;
  ASSERT_TRUE(c.connect(port()));
  c.send(
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  auto r = c.read_http_response(scaled(3s));
  ASSERT_TRUE(r.has_value()) << c.buffer();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json_code(*r), "bad_host");
}

TEST_F(Http, ValidHostsAreServed) {
  for (const char* host : {"127.0.0.1:8080", "example.com", "[::1]:80", "", "xn--bcher-kva.example"}) {
    SCOPED_TRACE(host);
    auto r = http_raw(port(), "GET /healthz HTTP/1.1\r\nHost: " + std::string(host) + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.status, 200);
  }
}

TEST_F(Http, Http10WithoutHostIsServed) {
  // Host is required of HTTP/1.1 only: HAProxy's `option httpchk GET /readyz` sends HTTP/1.0
  // without one.
  auto r = http_raw(port(), "GET /readyz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.json().as_object().at("ready").as_bool());
}

TEST_F(Http, ObsoleteLineFoldingIs400) {
  // RFC 9112 5.2: a server rejects a folded field line (or replaces the fold; we reject). Beast
  // joined the lines silently: "Host:\r\n x" was Host "x".
  for (const std::string& fold :
       {std::string("X-A: a\r\n b\r\n"), std::string("X-A: a\r\n\tb\r\n"), std::string("X-A:\r\n b\r\n")}) {
    SCOPED_TRACE(fold);
    const auto a = answer_then_close(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n" + fold + "\r\n" + smuggled);
    EXPECT_EQ(a.response.status, 400);
    EXPECT_EQ(json_code(a.response), "folded_header");
    EXPECT_EQ(a.after, "");
  }
  const auto host = answer_then_close(port(), "GET /healthz HTTP/1.1\r\nHost:\r\n x\r\n\r\n");
  EXPECT_EQ(host.response.status, 400);
  // A folded line in an upgrade: the fast path hands it over, and it is refused there too.
  RawClient c;
  ASSERT_TRUE(c.connect(port()));
  auto r = c.ws_upgrade("/ws", "X-A: a\r\n folded\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json_code(r), "folded_header");
}

TEST_F(Http, RefusalsOnAKeptConnectionClose) {
  // The refusal of the second request of a connection also closes it.
  RawClient c;
  ASSERT_TRUE(c.connect(port()));
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto first = c.read_http_response(scaled(3s));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n" + smuggled);
  auto second = c.read_http_response(scaled(3s));
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 501);
  bool eof = false;
  EXPECT_EQ(c.read_until_eof(scaled(3s), &eof), "");
  EXPECT_TRUE(eof);
}

TEST_F(Http, AfterARefusalWhatTheClientStillSendsIsDroppedNotReset) {
  // The server shuts its side after a refusal but keeps reading for a while: had it closed the
  // socket with bytes unread, the kernel would answer them with a reset, which can destroy the
  // answer before the client has read it.
  RawClient c;
  ASSERT_TRUE(c.connect(port()));
  c.send("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n");
  auto r = c.read_http_response(scaled(3s));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 501);
  const std::string more(4096, 'x');
  EXPECT_TRUE(c.try_send(more));
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(c.try_send(more)) << "the server reset the connection";
  bool eof = false;
  EXPECT_EQ(c.read_until_eof(200ms, &eof), "");
  EXPECT_TRUE(eof);  // the answer was the last thing it sent
  // ...but not for ever: past 64 KiB (or 2 s) it closes, and what comes after is refused.
  bool reset = false;
  for (int i = 0; i < 200 && !reset; ++i) {
    reset = !c.try_send(more);
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(reset);
}

// ---------------------------------------------------------------------------------------------
// Security headers.

// The policy of the page, as web/index.html states it in its <meta> (which cannot carry
// frame-ancestors: a <meta> policy ignores it).
std::string meta_policy(const std::string& html) {
  const std::string tag = "http-equiv=\"Content-Security-Policy\"";
  const auto at = html.find(tag);
  if (at == std::string::npos) return {};
  const auto open = html.find("content=\"", at);
  const auto close = html.find('"', open + 9);
  return html.substr(open + 9, close - open - 9);
}

void expect_security_headers(const HttpResponse& r, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.header("x-frame-options"), "DENY");
  EXPECT_EQ(r.header("referrer-policy"), "no-referrer");
  const std::string csp = r.header("content-security-policy");
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
}

TEST_F(Http, EveryAnswerCarriesTheSecurityHeaders) {
  const auto index = http_get(port(), "/");
  expect_security_headers(index, "/");
  const std::string csp = index.header("content-security-policy");
  EXPECT_EQ(csp,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  // The page's own <meta> says the same, less what only a header can say.
  EXPECT_EQ(meta_policy(index.body) + "; frame-ancestors 'none'", csp);
  EXPECT_EQ(index.header("cache-control"), "no-cache");

  const auto js = http_get(port(), "/js/app.js");
  EXPECT_EQ(js.status, 200);
  expect_security_headers(js, "/js/app.js");
  EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
  const auto head = http_raw(port(), "HEAD /js/app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  expect_security_headers(head, "HEAD /js/app.js");

  // What is not the page (JSON, metrics, errors) may load nothing and be framed by no one.
  for (const char* path : {"/healthz", "/readyz", "/metrics", "/no/such/thing", "/ws"}) {
    const auto r = http_get(port(), path);
    expect_security_headers(r, path);
    EXPECT_EQ(r.header("content-security-policy"), "default-src 'none'; frame-ancestors 'none'") << path;
    EXPECT_EQ(r.header("cache-control"), "no-store") << path;
  }
  expect_security_headers(http_raw(port(), "THIS IS NOT HTTP\r\n\r\n"), "a malformed request");
  expect_security_headers(http_raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"),
                          "a refusal");
}

TEST_F(Http, AnswersToHeadCarryNoBody) {
  // RFC 9110 9.3.2: the answer to HEAD has the GET answer's header and no body; a client reads the
  // next answer right after the header, so a body there would be read as the next answer.
  for (const char* path : {"/healthz", "/readyz", "/metrics", "/no/such/thing", "/ws", "/index.html"}) {
    SCOPED_TRACE(path);
    RawClient c;
    ASSERT_TRUE(c.connect(port()));
    c.send("HEAD " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    std::optional<HttpResponse> second;
    for (int i = 0; i < 100 && !second; ++i) {
      got += c.read_some(scaled(30ms));
      std::size_t used = 0;
      if (!parse_http_response(got, &used, true)) continue;
      const std::string rest = got.substr(used);
      if (rest.size() >= 5 && rest.rfind("HTTP/", 0) != 0) break;  // a body where the next answer belongs
      std::size_t used2 = 0;
      if (auto r = parse_http_response(rest, &used2)) second = r;  // whole, by its Content-Length
    }
    ASSERT_TRUE(second.has_value()) << got;
    EXPECT_EQ(second->status, 200);
    EXPECT_EQ(second->body, R"({"status":"ok"})");
  }
}

TEST_F(Http, KeepAliveServesSeveralRequests) {
  RawClient c;
  ASSERT_TRUE(c.connect(port()));
  for (int i = 0; i < 3; ++i) {
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.read_http_response(scaled(3s));
    ASSERT_TRUE(r.has_value()) << "request " << i;
    EXPECT_EQ(r->status, 200);
  }
}

}  // namespace
}  // namespace parley::it
