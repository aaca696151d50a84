// What one client may make the node hold or do (docs/security.md): each budget's answer, over a
// real socket. The harness turns the per-address and per-user budgets off by default (all test
// clients come from 127.0.0.1); the tests here turn on the one they are about.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "common.hpp"

namespace parley::it {
namespace {

std::string upgrade_request() {
  return "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

// The status of an upgrade on a new connection that first sends `prefix` (a PROXY header).
int upgrade_status(unsigned short port, const std::string& prefix, RawClient& c) {
  if (!c.connect(port)) return -1;
  c.send(prefix + upgrade_request());
  auto r = c.read_http_response(scaled(3s));
  return r ? r->status : 0;
}

TEST(Budgets, ConnectionsPerAddressAre429PastTheLimitAndComeBackWhenOneCloses) {
  ServerProcess server({{"limits.max_connections_per_address=2"}});
  RawClient a, b, c;
  EXPECT_EQ(upgrade_status(server.port(), "", a), 101);
  EXPECT_EQ(upgrade_status(server.port(), "", b), 101);
  RawClient refused;
  ASSERT_TRUE(refused.connect(server.port()));
  refused.send(upgrade_request());
  auto r = refused.read_http_response(scaled(3s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_EQ(str(r->json().as_object(), "code"), "too_many_connections");
  EXPECT_TRUE(refused.closed_within(scaled(3s)));
  // Plain HTTP is not a WebSocket connection: still served.
  EXPECT_EQ(http_get(server.port(), "/healthz").status, 200);
  a.close();
  EXPECT_TRUE(eventually([&] { return upgrade_status(server.port(), "", c) == 101; }, scaled(3s)));
  EXPECT_GE(fetch_metric(server.port(), "parley_refused_address_total").value_or(0), 1);
}

TEST(Budgets, BehindATrustedProxyTheClientsAddressIsTheOneCounted) {
  ServerProcess server({{"limits.max_connections_per_address=1", "server.trusted_proxies=127.0.0.1"}});
  RawClient a, b, c, d;
  EXPECT_EQ(upgrade_status(server.port(), proxy_v2(203, 0, 113, 1), a), 101);
  EXPECT_EQ(upgrade_status(server.port(), proxy_v2(203, 0, 113, 2), b), 101) << "another client";
  EXPECT_EQ(upgrade_status(server.port(), proxy_v2(203, 0, 113, 1), c), 429) << "the first client again";
  // The proxy's own connection (a health check) has no header: the proxy's address.
  EXPECT_EQ(http_get(server.port(), "/readyz").status, 200);
  EXPECT_EQ(upgrade_status(server.port(), "", d), 101);
}

TEST(Budgets, FromAnUntrustedPeerAProxyHeaderIsJustABadRequest) {
  ServerProcess server({{"limits.max_connections_per_address=1"}});
  RawClient a;
  ASSERT_TRUE(a.connect(server.port()));
  a.send(proxy_v2(203, 0, 113, 1) + upgrade_request());
  auto r = a.read_http_response(scaled(3s));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST(Budgets, ATrustedProxysHeaderThatBreaksOffIsDropped) {
  ServerProcess server({{"server.trusted_proxies=127.0.0.1"}});
  RawClient a;
  ASSERT_TRUE(a.connect(server.port()));
  a.send(std::string("\r\n\r\n\0\r\nQUIT\n", 12) + std::string("\x99\x11\x00\x0c", 4));  // bad version
  EXPECT_TRUE(a.closed_within(scaled(3s)));
}

TEST(Budgets, PastMaxConnectionsANewConnectionIs503AtOnce) {
  ServerProcess server({{"limits.max_connections=3"}});
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>());
    ASSERT_EQ(held.back()->connect(server.port()) ? held.back()->ws_upgrade().status : 0, 101);
  }
  RawClient extra;
  ASSERT_TRUE(extra.connect(server.port()));
  auto r = extra.read_http_response(scaled(2s));  // answered before it says anything
  ASSERT_TRUE(r) << "not answered: left in the backlog?";
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(str(r->json().as_object(), "code"), "overloaded");
  EXPECT_EQ(fetch_metric(server.port(), "parley_refused_full_total"), std::nullopt)
      << "the node is full: even /metrics waits";  // a fourth socket is refused too
  held.pop_back();
  EXPECT_TRUE(eventually([&] { return fetch_metric(server.port(), "parley_refused_full_total").value_or(0) >= 1; },
                         scaled(3s)));
}

TEST(Budgets, SendsAreCountedPerUserAcrossConnections) {
  ServerProcess server({{"limits.send_rate_per_user=1", "limits.send_burst_per_user=3", "limits.send_rate=1000",
                         "limits.send_burst=1000"}});
  WsClient a(server.port()), b(server.port());
  a.hello("ada");
  b.hello("ada");  // a second tab of the same user
  a.join("general");
  b.join("general");
  int acked = 0, limited = 0;
  for (int i = 0; i < 6; ++i) {
    WsClient& c = i % 2 ? b : a;
    auto r = c.request({{"type", "send"}, {"room", "general"}, {"cid", "c" + std::to_string(i)}, {"text", "hi"}});
    (type_of(r) == "ack" ? acked : limited)++;
    if (type_of(r) == "error") {
      EXPECT_EQ(str(r, "code"), "rate_limited");
    }
  }
  EXPECT_EQ(acked, 3) << "one burst for the user, whichever tab sends";
  EXPECT_EQ(limited, 3);
  WsClient other(server.port());
  other.hello("bob");
  other.join("general");
  other.send_message("general", "b1", "another user is not charged");
}

TEST(Budgets, SendsAreCountedPerAddressAcrossUsers) {
  ServerProcess server({{"limits.send_rate_per_address=1", "limits.send_burst_per_address=2"}});
  std::vector<std::unique_ptr<WsClient>> users;
  int acked = 0, limited = 0;
  for (int i = 0; i < 4; ++i) {
    users.push_back(std::make_unique<WsClient>(server.port()));
    users.back()->hello("user" + std::to_string(i));
    users.back()->join("general");
    auto r = users.back()->request({{"type", "send"}, {"room", "general"}, {"cid", "c"}, {"text", "from one address"}});
    (type_of(r) == "ack" ? acked : limited)++;
  }
  EXPECT_EQ(acked, 2);
  EXPECT_EQ(limited, 2);
}

TEST(Budgets, RoomCreationsAreRateLimitedAndCappedInAll) {
  ServerProcess server({{"limits.room_create_rate=0.001", "limits.room_create_burst=2", "limits.max_rooms=100"}});
  auto c = std::make_unique<WsClient>(server.port());
  c->hello("ada");
  c->create("one");
  c->create("two");
  auto r = c->request({{"type", "create"}, {"room", "three"}});
  EXPECT_EQ(str(r, "code"), "rate_limited") << dump(r);
  EXPECT_GT(i64(r, "retry_after_ms"), 0);

  ServerProcess capped({{"limits.max_rooms=3"}});  // general and two more
  WsClient d(capped.port());
  d.hello("bob");
  d.create("a");
  d.create("b");
  auto full = d.request({{"type", "create"}, {"room", "c"}});
  EXPECT_EQ(str(full, "code"), "room_limit") << dump(full);
}

TEST(Budgets, TheRoomListComesInPagesAndCanBeSearched) {
  ServerProcess server({{"limits.rooms_page=3"}});
  WsClient c(server.port());
  c.hello("ada");
  for (const char* r : {"ops", "devops", "ops-eu", "sales", "zeta"}) c.create(r);
  std::vector<std::string> seen;
  std::string after;
  for (int page = 0; page < 5; ++page) {
    json::object req{{"type", "rooms"}};
    if (!after.empty()) req["after"] = after;
    auto r = c.request(req);
    ASSERT_EQ(type_of(r), "rooms") << dump(r);
    const auto& rooms = r.at("rooms").as_array();
    EXPECT_LE(rooms.size(), 3u);
    for (const auto& room : rooms) seen.push_back(std::string(room.at("room").as_string()));
    if (!has(r, "next")) break;
    after = str(r, "next");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"devops", "general", "ops", "ops-eu", "sales", "zeta"}));
  auto found = c.request({{"type", "rooms"}, {"q", "OPS"}, {"limit", 2}});
  ASSERT_EQ(found.at("rooms").as_array().size(), 2u);
  EXPECT_EQ(str(found, "next"), "ops");
  auto rest = c.request({{"type", "rooms"}, {"q", "ops"}, {"after", "ops"}});
  ASSERT_EQ(rest.at("rooms").as_array().size(), 1u);
  EXPECT_FALSE(has(rest, "next"));
}

TEST(Budgets, JoinedListsTheFirstMembersAndMembersPagesThroughTheRest) {
  ServerProcess server({{"limits.members_page=2", "rooms.presence_batch_ms=0"}});
  std::vector<std::unique_ptr<WsClient>> users;
  for (const char* name : {"cy", "ada", "di", "bob", "eve"}) {
    users.push_back(std::make_unique<WsClient>(server.port()));
    users.back()->hello(name);
    users.back()->join("general");
  }
  WsClient last(server.port());
  last.hello("fay");
  auto joined = last.join("general");
  EXPECT_EQ(u64(joined, "member_count"), 6u);
  ASSERT_EQ(joined.at("members").as_array().size(), 2u);
  EXPECT_EQ(joined.at("members").as_array()[0].as_string(), "ada");
  std::vector<std::string> all;
  std::string after;
  for (int i = 0; i < 5; ++i) {
    json::object req{{"type", "members"}, {"room", "general"}};
    if (!after.empty()) req["after"] = after;
    auto page = last.request(req);
    ASSERT_EQ(type_of(page), "members") << dump(page);
    for (const auto& m : page.at("members").as_array()) all.push_back(std::string(m.as_string()));
    if (!has(page, "next")) break;
    after = str(page, "next");
  }
  EXPECT_EQ(all, (std::vector<std::string>{"ada", "bob", "cy", "di", "eve", "fay"}));
  expect_error(last, {{"type", "members"}, {"room", "elsewhere"}}, "not_joined");
}

TEST(Budgets, ACidReusedForAnotherTextIsACidConflict) {
  ServerProcess server;
  WsClient c(server.port());
  c.hello("ada");
  c.join("general");
  auto ack = c.send_message("general", "c-1", "first");
  auto again = c.request({{"type", "send"}, {"room", "general"}, {"cid", "c-1"}, {"text", "first"}});
  EXPECT_EQ(type_of(again), "ack") << "a retry of the same text is the original ack";
  EXPECT_EQ(u64(again, "seq"), u64(ack, "seq"));
  auto conflict = c.request({{"type", "send"}, {"room", "general"}, {"cid", "c-1"}, {"text", "second"}});
  EXPECT_EQ(str(conflict, "code"), "cid_conflict") << dump(conflict);
  // Across a restart too (the cids come back from the store).
  server.stop();
  server.restart();
  WsClient d(server.port());
  d.hello("ada");
  d.join("general");
  auto after = d.request({{"type", "send"}, {"room", "general"}, {"cid", "c-1"}, {"text", "third"}});
  EXPECT_EQ(str(after, "code"), "cid_conflict") << dump(after);
}

TEST(Budgets, RepliesAreBuiltOnlyForAClientThatReads) {
  ServerProcess server({{"limits.max_requests_in_flight=2", "limits.request_rate=1000", "limits.request_burst=1000"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  c.send(ws_frame(0x1, R"({"type":"hello","name":"ada"})"));
  ASSERT_TRUE(c.read_frame(scaled(3s)));  // welcome
  c.send(ws_frame(0x1, R"({"type":"join","room":"general","ref":"j"})"));
  std::string seen;
  for (;;) {  // the joined event (and whatever presence comes with it)
    auto f = c.read_frame(scaled(3s));
    ASSERT_TRUE(f) << seen;
    seen += f->payload + "\n";
    if (f->payload.find("\"joined\"") != std::string::npos) break;
  }
  // Ten history requests in one write, so the server reads them all before any answer comes
  // back from the room's owner: two in flight at most; the rest are refused, each by its ref.
  std::string burst;
  for (int i = 0; i < 10; ++i) {
    burst += ws_frame(0x1, R"({"type":"history","room":"general","ref":"h-)" + std::to_string(i) + R"("})");
  }
  c.send(burst);
  int pages = 0, refused = 0;
  while (pages + refused < 10) {
    auto f = c.read_frame(scaled(3s));
    ASSERT_TRUE(f) << "after " << pages << " pages and " << refused << " refusals";
    std::size_t at = 0;
    while (at < f->payload.size()) {  // a frame may carry several events, one per line
      auto end = f->payload.find('\n', at);
      if (end == std::string::npos) end = f->payload.size();
      auto e = json::parse(std::string_view(f->payload).substr(at, end - at)).as_object();
      at = end + 1;
      if (type_of(e) == "history") {
        ++pages;
      } else if (type_of(e) == "error") {
        EXPECT_EQ(str(e, "code"), "rate_limited") << dump(e);
        EXPECT_TRUE(str(e, "ref").starts_with("h-")) << dump(e);
        ++refused;
      }
    }
  }
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(refused, 8);
  // The connection is still good: one more request is answered.
  c.send(ws_frame(0x1, R"({"type":"history","room":"general","ref":"last"})"));
  bool answered = false;
  while (auto f = c.read_frame(scaled(3s))) {
    if (f->payload.find("\"last\"") != std::string::npos) {
      answered = f->payload.find("\"history\"") != std::string::npos;
      break;
    }
  }
  EXPECT_TRUE(answered);
}

TEST(Budgets, HeldBehindAJoinARefusalNamesItsRequest) {
  ServerProcess server({{"limits.request_rate=1000", "limits.request_burst=1000"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  c.send(ws_frame(0x1, R"({"type":"hello","name":"ada"})"));
  ASSERT_TRUE(c.read_frame(scaled(3s)));  // welcome
  // One write: the join and 100 pings reach the server in one read, all before the join's answer.
  std::string burst = ws_frame(0x1, R"({"type":"join","room":"general"})");
  for (int i = 0; i < 100; ++i) burst += ws_frame(0x1, R"({"type":"ping","ref":"held-)" + std::to_string(i) + R"("})");
  c.send(burst);
  int refused_with_ref = 0, refused_without = 0;
  std::string text;
  while (auto f = c.read_frame(scaled(2s))) text += f->payload + "\n";
  for (std::size_t at = 0; (at = text.find("\"rate_limited\"", at)) != std::string::npos; ++at) {
    const auto line_end = text.find('\n', at);
    const auto line = text.substr(0, line_end).substr(text.rfind('\n', at) + 1);
    (line.find("\"ref\":\"held-") != std::string::npos ? refused_with_ref : refused_without)++;
  }
  EXPECT_GT(refused_with_ref, 0) << text.substr(0, 2000);
  EXPECT_EQ(refused_without, 0);
}

TEST(Budgets, PingsBeforeHelloAndMalformedFramesTakeRequestTokens) {
  ServerProcess server({{"limits.request_rate=1", "limits.request_burst=5"}});
  WsClient c(server.port());
  for (int i = 0; i < 20; ++i) c.send_text("not json");
  int bad_json = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    auto e = c.next(scaled(3s));
    ASSERT_TRUE(e) << "missing answer " << i;
    (str(*e, "code") == "bad_json" ? bad_json : limited)++;
  }
  EXPECT_EQ(bad_json, 5);
  EXPECT_EQ(limited, 15);
}

TEST(Budgets, AFrameFloodFailsTheConnectionWith1008) {
  ServerProcess server({{"limits.frame_rate=10", "limits.frame_burst=20"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  std::string pings;
  for (int i = 0; i < 100; ++i) pings += ws_frame(0x9, "x");
  c.send(pings);
  EXPECT_EQ(c.read_close(scaled(3s)), std::optional<std::uint16_t>(1008));
  EXPECT_TRUE(c.closed_within(scaled(1s))) << "failed: the server does not wait for the peer's close";
}

TEST(Budgets, APingFloodIsAnsweredWithAFewPongs) {
  ServerProcess server({{"limits.request_rate=1000", "limits.request_burst=1000"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  std::string pings;
  for (int i = 0; i < 500; ++i) pings += ws_frame(0x9, "p" + std::to_string(i));
  c.send(pings);
  int pongs = 0;
  std::string last;
  while (auto f = c.read_frame(scaled(1s))) {
    if (f->opcode == 0xA) {
      ++pongs;
      last = f->payload;
    }
  }
  EXPECT_GE(pongs, 1);
  EXPECT_LT(pongs, 100) << "one pong per turn, not one per ping";
  EXPECT_EQ(last, "p499") << "the last ping is the one answered";
}

TEST(Budgets, AFrameBegunMustBeWholeWithinTheFrameTimeout) {
  ServerProcess server({{"limits.frame_timeout_ms=1000"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  const std::string frame = ws_frame(0x1, R"({"type":"hello","name":"slow"})");
  c.send(frame.substr(0, 8));  // a header and a little: then nothing
  EXPECT_EQ(c.read_close(scaled(5s)), std::optional<std::uint16_t>(1008));
}

TEST(Budgets, AProtocolViolationClosesTheConnectionWithoutWaitingForThePeer) {
  ServerProcess server({{"limits.close_timeout_ms=30000"}});
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  ASSERT_EQ(c.ws_upgrade().status, 101);
  c.send(ws_frame(0x2, "binary"));
  EXPECT_EQ(c.read_close(scaled(3s)), std::optional<std::uint16_t>(1003));
  EXPECT_TRUE(c.closed_within(scaled(3s))) << "the server waited for our close frame (close_timeout_ms 30 s)";
}

TEST(Budgets, OverTheMemoryBudgetTheNodeShedsLoad) {
  ServerProcess server({{"limits.max_memory_bytes=1048576"}});  // 1 MiB: any real node is over it
  EXPECT_TRUE(eventually([&] { return fetch_metric(server.port(), "parley_shedding").value_or(0) == 1; }, scaled(5s)));
  auto ready = http_get(server.port(), "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(str(ready.json().as_object(), "reason"), "overloaded");
  RawClient c;
  ASSERT_TRUE(c.connect(server.port()));
  auto r = c.ws_upgrade();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(str(r.json().as_object(), "code"), "overloaded");
}

}  // namespace
}  // namespace parley::it

namespace parley::it {
namespace {

TEST(Budgets, AnIdleRoomLeavesMemoryAndComesBackWhole) {
  ServerProcess server({{"rooms.idle_unload_ms=1000"}});
  {
    WsClient c(server.port());
    c.hello("ada");
    c.create("quiet");
    c.join("quiet");
    for (int i = 1; i <= 5; ++i) c.send_message("quiet", "q" + std::to_string(i), "m" + std::to_string(i));
    c.close();
  }
  const auto loaded = [&] { return fetch_metric(server.port(), "parley_rooms_loaded").value_or(-1); };
  EXPECT_TRUE(eventually([&] { return loaded() == 0; }, scaled(5s))) << "rooms still loaded: " << loaded();
  WsClient d(server.port());
  d.hello("bob");
  auto rooms = d.request({{"type", "rooms"}, {"q", "quiet"}});
  EXPECT_EQ(u64(rooms.at("rooms").as_array()[0].as_object(), "last_seq"), 5u) << "listed from what was stored";
  auto joined = d.join("quiet", 2);
  EXPECT_EQ(u64(joined, "last_seq"), 5u);
  for (std::uint64_t seq = 3; seq <= 5; ++seq) {
    auto m = d.wait_for("message");
    ASSERT_TRUE(m);
    EXPECT_EQ(u64(*m, "seq"), seq);
  }
  // Its dedupe window came back with it: ada's retry is her original ack.
  WsClient ada(server.port());
  ada.hello("ada");
  ada.join("quiet");
  auto retry = ada.request({{"type", "send"}, {"room", "quiet"}, {"cid", "q1"}, {"text", "m1"}});
  EXPECT_EQ(type_of(retry), "ack") << dump(retry);
  EXPECT_EQ(u64(retry, "seq"), 1u);
  auto next = d.send_message("quiet", "b1", "after the reload");
  EXPECT_EQ(u64(next, "seq"), 6u);
}

}  // namespace
}  // namespace parley::it
