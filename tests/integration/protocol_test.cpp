// Protocol v1 over /ws: every request, its reply, and every error a bad request gets.
#include <algorithm>

#include "common.hpp"

namespace parley::it {
namespace {

class Protocol : public ::testing::Test {
 protected:
  explicit Protocol(std::vector<std::string> settings = {}) : server(ServerOptions{std::move(settings)}) {}
  std::unique_ptr<WsClient> user(const std::string& name) {
    auto c = std::make_unique<WsClient>(server.port());
    c->hello(name);
    return c;
  }
  ServerProcess server;
};

TEST(Hello, WelcomeCarriesUserSessionTimeAndLimits) {
  ServerProcess server(
      {{"limits.max_text_length=500", "limits.send_rate=7", "limits.send_burst=9", "limits.history_limit=33",
        "limits.max_rooms_per_connection=12", "limits.typing_interval_ms=1500", "limits.max_frame_bytes=30000",
        "files.max_bytes=123456", "limits.max_files_per_message=3", "limits.max_reaction_emoji=7",
        "limits.max_reactions_per_user=2"}});
  WsClient a(server.port()), b(server.port());
  auto w = a.hello("ada");
  EXPECT_EQ(str(w, "user"), "ada");
  EXPECT_FALSE(str(w, "session").empty());
  EXPECT_LT(std::llabs(i64(w, "server_time") - wall_ms()), 60000) << dump(w);
  ASSERT_TRUE(w.contains("limits") && w.at("limits").is_object()) << dump(w);
  const auto& l = w.at("limits").as_object();
  EXPECT_EQ(u64(l, "max_text_length"), 500u);
  EXPECT_EQ(u64(l, "max_frame_bytes"), 30000u);
  EXPECT_EQ(u64(l, "send_rate"), 7u);
  EXPECT_EQ(u64(l, "send_burst"), 9u);
  EXPECT_EQ(u64(l, "history_limit"), 33u);
  EXPECT_EQ(u64(l, "max_rooms"), 12u);
  EXPECT_EQ(u64(l, "typing_interval_ms"), 1500u);
  EXPECT_EQ(u64(l, "max_file_bytes"), 123456u);
  EXPECT_EQ(u64(l, "max_files_per_message"), 3u);
  EXPECT_EQ(u64(l, "max_reaction_emoji"), 7u);
  EXPECT_EQ(u64(l, "max_reactions_per_user"), 2u);
  auto w2 = b.hello("ada");  // the same name on a second connection: a second session
  EXPECT_NE(str(w2, "session"), str(w, "session"));
}

TEST_F(Protocol, RefIsEchoedAsStringOrInteger) {
  WsClient c(server.port());
  c.send_text(R"({"type":"hello","name":"ada","ref":"r-1"})");
  auto w = c.wait_for("welcome");
  ASSERT_TRUE(w) << "no welcome";
  EXPECT_EQ(str(*w, "ref"), "r-1");
  c.send_text(R"({"type":"ping","ref":42})");
  auto p = c.wait_for("pong");
  ASSERT_TRUE(p);
  EXPECT_EQ(i64(*p, "ref"), 42);
  c.send_text(R"({"type":"rooms","ref":"x"})");
  auto r = c.wait_for("rooms");
  ASSERT_TRUE(r);
  EXPECT_EQ(str(*r, "ref"), "x");
}

TEST_F(Protocol, BadRefIsBadRequest) {
  auto c = user("ada");
  c->send_json({{"type", "ping"}, {"ref", repeat("r", 65)}});
  auto e = c->wait_for("error");
  ASSERT_TRUE(e);
  EXPECT_EQ(str(*e, "code"), "bad_request");
  c->send_json({{"type", "ping"}, {"ref", json::object{{"a", 1}}}});
  e = c->wait_for("error");
  ASSERT_TRUE(e);
  EXPECT_EQ(str(*e, "code"), "bad_request");
  expect_alive(*c);
}

TEST_F(Protocol, BadNamesAreRefused) {
  WsClient c(server.port());
  for (const std::string& name :
       {std::string(""), repeat("a", 33), repeat("é", 33), std::string("a\x01") + "b", std::string("tab\tname"),
        std::string("del\x7f"), std::string("c1\xc2\x85x"), std::string("   "), std::string("nl\n"),
        std::string("\u200b"), std::string("\ufe0f\ufe0f"), std::string("a\u200bda"),
        std::string("\uff21") + repeat("a", 32)}) {
    expect_error(c, {{"type", "hello"}, {"name", name}}, "bad_name");
  }
  expect_error(c, {{"type", "hello"}, {"name", 42}}, "bad_request");
  // Neither a name nor a token (nor a session cookie on the upgrade): a guest without a name.
  expect_error(c, {{"type", "hello"}}, "bad_name");
  // Still not welcomed: a room request needs hello.
  expect_error(c, {{"type", "rooms"}}, "hello_required");
  expect_alive(c);
}

TEST_F(Protocol, BidiControlsInANameAreBadName) {
  // "admin" + RIGHT-TO-LEFT OVERRIDE + "txt.exe" would show as "adminexe.txt".
  WsClient c(server.port());
  c.send_json({{"type", "hello"}, {"name", "admin\u202etxt.exe"}, {"ref", "h"}});
  auto e = c.wait_for("error");
  ASSERT_TRUE(e) << "no error";
  EXPECT_EQ(str(*e, "code"), "bad_name") << dump(*e);
  EXPECT_EQ(str(*e, "ref"), "h");
  EXPECT_NE(str(*e, "message").find("bidirectional"), std::string::npos) << dump(*e);
  for (const std::string& name : {std::string("a\u2066b"), std::string("\u200fada"), std::string("ada\u061c")})
    expect_error(c, {{"type", "hello"}, {"name", name}}, "bad_name");
  c.hello("admin");
}

TEST_F(Protocol, WelcomeCarriesTheNormalisedName) {
  // Fullwidth letters, spaces around and inside (an ideographic and a no-break space among them):
  // the server's name is what everyone sees, and what `welcome` says.
  WsClient a(server.port());
  auto w = a.hello("  \uff41\uff44\uff41\u3000\u00a0 lovelace ");
  EXPECT_EQ(str(w, "user"), "ada lovelace") << dump(w);
  auto j = a.join("general");
  EXPECT_EQ(j.at("members"), json::parse(R"(["ada lovelace"])"));
  a.send_message("general", "c1", "hi");
  auto h = a.full_history("general");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(str(h[0], "from"), "ada lovelace");
  // Decomposed é is composed; case is kept.
  WsClient b(server.port());
  EXPECT_EQ(str(b.hello("E\u0301milie"), "user"), "\u00c9milie");
}

TEST_F(Protocol, GoodNamesAreWelcomed) {
  for (const std::string& name : {repeat("é", 32), repeat("a", 32), std::string("ada lovelace"), std::string("日本語"),
                                  std::string("x"), std::string("😀")}) {
    WsClient c(server.port());
    auto w = c.hello(name);
    EXPECT_EQ(str(w, "user"), name);
  }
}

TEST_F(Protocol, RequestsBeforeHelloAreRefused) {
  WsClient c(server.port());
  expect_error(c, {{"type", "rooms"}}, "hello_required");
  expect_error(c, {{"type", "join"}, {"room", "general"}}, "hello_required");
  expect_error(c, {{"type", "create"}, {"room", "x"}}, "hello_required");
  expect_error(c, {{"type", "send"}, {"room", "general"}, {"cid", "c"}, {"text", "t"}}, "hello_required");
  expect_error(c, {{"type", "history"}, {"room", "general"}}, "hello_required");
  expect_alive(c);  // ping needs no hello
  c.hello("ada");
  c.join("general");
}

TEST_F(Protocol, SecondHelloIsAlreadyWelcomed) {
  auto c = user("ada");
  expect_error(*c, {{"type", "hello"}, {"name", "bob"}}, "already_welcomed");
  expect_alive(*c);
}

TEST_F(Protocol, RoomsListsRoomsWithMembersAndLastSeq) {
  auto a = user("ada");
  auto r = a->request({{"type", "rooms"}});
  ASSERT_EQ(type_of(r), "rooms") << dump(r);
  ASSERT_EQ(r.at("rooms").as_array().size(), 1u) << dump(r);
  const auto& g = r.at("rooms").as_array()[0].as_object();
  EXPECT_EQ(str(g, "room"), "general");
  EXPECT_EQ(u64(g, "members"), 0u);
  EXPECT_EQ(u64(g, "last_seq"), 0u);

  a->join("general");
  a->send_message("general", "c1", "one");
  a->send_message("general", "c2", "two");
  a->create("zeta");
  a->create("alpha");
  r = a->request({{"type", "rooms"}});
  const auto& rooms = r.at("rooms").as_array();
  ASSERT_EQ(rooms.size(), 3u) << dump(r);
  EXPECT_EQ(str(rooms[0].as_object(), "room"), "alpha");
  EXPECT_EQ(str(rooms[1].as_object(), "room"), "general");
  EXPECT_EQ(str(rooms[2].as_object(), "room"), "zeta");
  EXPECT_EQ(u64(rooms[1].as_object(), "members"), 1u);
  EXPECT_EQ(u64(rooms[1].as_object(), "last_seq"), 2u);
}

TEST_F(Protocol, CreateAnnouncesTheRoomToOtherWelcomedSessions) {
  auto a = user("ada");
  auto b = user("bob");
  WsClient anon(server.port());  // connected, never welcomed
  auto created = a->create("ops");
  EXPECT_EQ(str(created, "room"), "ops");
  EXPECT_EQ(str(created, "by"), "ada");
  auto seen = b->wait_for("created");
  ASSERT_TRUE(seen) << "bob did not learn of the new room";
  EXPECT_EQ(str(*seen, "room"), "ops");
  EXPECT_EQ(str(*seen, "by"), "ada");
  EXPECT_FALSE(seen->contains("ref")) << dump(*seen);
  EXPECT_TRUE(anon.expect_no_event(300ms)) << dump(anon.events().front());
  EXPECT_TRUE(a->expect_no_event(200ms)) << "the creator got a second created: " << dump(a->events().front());
  b->join("ops");
}

TEST_F(Protocol, CreateExistingRoomIsRoomExists) {
  auto a = user("ada");
  a->create("ops");
  expect_error(*a, {{"type", "create"}, {"room", "ops"}}, "room_exists");
  expect_error(*a, {{"type", "create"}, {"room", "general"}}, "room_exists");
  expect_alive(*a);
}

TEST_F(Protocol, BadRoomIds) {
  auto a = user("ada");
  for (const std::string& room : {std::string(""), repeat("r", 65), std::string("a b"), std::string("ünï"),
                                  std::string("a/b"), std::string("a:b"), std::string("#general")}) {
    expect_error(*a, {{"type", "create"}, {"room", room}}, "bad_room");
    expect_error(*a, {{"type", "join"}, {"room", room}}, "bad_room");
  }
  expect_error(*a, {{"type", "create"}, {"room", 5}}, "bad_request");
  expect_error(*a, {{"type", "create"}}, "bad_request");
  auto ok = a->create(repeat("r", 64));
  EXPECT_EQ(str(ok, "room"), repeat("r", 64));
  a->create("A-z_0.9");
}

TEST_F(Protocol, JoinAnswersJoinedWithMembers) {
  auto a = user("ada");
  auto j = a->join("general");
  EXPECT_EQ(str(j, "room"), "general");
  EXPECT_EQ(u64(j, "last_seq"), 0u);
  ASSERT_TRUE(j.contains("members"));
  EXPECT_EQ(j.at("members"), json::parse(R"(["ada"])"));
  EXPECT_FALSE(j.contains("truncated")) << dump(j);
  auto b = user("bob");
  auto j2 = b->join("general");
  EXPECT_EQ(j2.at("members"), json::parse(R"(["ada","bob"])"));
}

TEST_F(Protocol, ALookAlikeNameCannotJoinTheSameNameCan) {
  auto a = user("paypal");
  a->join("general");
  // The same name on a second connection is the same user (a second tab): it joins.
  auto tab = user("paypal");
  auto j = tab->join("general");
  EXPECT_EQ(j.at("members"), json::parse(R"(["paypal"])"));
  // A Cyrillic а makes another user whose name looks the same: refused, and not in the room.
  WsClient b(server.port());
  EXPECT_EQ(str(b.hello("p\u0430ypal"), "user"), "p\u0430ypal");
  b.send_json({{"type", "join"}, {"room", "general"}, {"ref", "j"}});
  auto e = b.wait_for("error");
  ASSERT_TRUE(e) << "no error";
  EXPECT_EQ(str(*e, "code"), "confusable_name") << dump(*e);
  EXPECT_EQ(str(*e, "ref"), "j");
  EXPECT_NE(str(*e, "message").find("\"paypal\""), std::string::npos) << dump(*e);
  EXPECT_FALSE(a->wait_for("presence", {}, 300ms)) << "the refused user was announced";
  expect_error(b, {{"type", "send"}, {"room", "general"}, {"cid", "c"}, {"text", "hi"}}, "not_joined");
  // Case and TR39's own pairs (I and l) count too; unrelated names do not.
  WsClient c(server.port()), d(server.port());
  c.hello("PayPal");
  expect_error(c, {{"type", "join"}, {"room", "general"}}, "confusable_name");
  d.hello("bob");
  d.join("general");
  auto l = user("l");
  l->join("general");
  WsClient capital_i(server.port());
  capital_i.hello("I");
  expect_error(capital_i, {{"type", "join"}, {"room", "general"}}, "confusable_name");
  // Another room is fine, and so is this one once the name's last session has left.
  b.create("elsewhere");
  b.join("elsewhere");
  a->close();
  tab->close();
  bool joined = eventually(
      [&] {
        auto r = b.request({{"type", "join"}, {"room", "general"}});
        return type_of(r) == "joined";
      },
      scaled(5s));
  EXPECT_TRUE(joined) << "the look-alike could not join after paypal left";
}

TEST_F(Protocol, JoinErrors) {
  auto a = user("ada");
  expect_error(*a, {{"type", "join"}, {"room", "nope"}}, "no_such_room");
  a->join("general");
  expect_error(*a, {{"type", "join"}, {"room", "general"}}, "already_joined");
  expect_error(*a, {{"type", "join"}}, "bad_request");
  expect_error(*a, {{"type", "join"}, {"room", "general"}, {"since", -1}}, "bad_request");
  expect_error(*a, {{"type", "join"}, {"room", "general"}, {"since", "3"}}, "bad_request");
  expect_error(*a, {{"type", "join"}, {"room", "general"}, {"since", 1.5}}, "bad_request");
  expect_alive(*a);
}

TEST_F(Protocol, PipelinedDoubleJoinIsAlreadyJoined) {
  auto a = user("ada");
  a->send_json({{"type", "join"}, {"room", "general"}, {"ref", "j1"}});
  a->send_json({{"type", "join"}, {"room", "general"}, {"ref", "j2"}});
  auto first = a->wait_for("", [](const json::object& e) { return str(e, "ref") == "j1"; });
  auto second = a->wait_for("", [](const json::object& e) { return str(e, "ref") == "j2"; });
  ASSERT_TRUE(first && second);
  EXPECT_EQ(type_of(*first), "joined") << dump(*first);
  EXPECT_EQ(str(*second, "code"), "already_joined") << dump(*second);
  a->send_message("general", "c1", "once");
  EXPECT_TRUE(a->wait_for("message"));
  EXPECT_FALSE(a->wait_for("message", {}, 300ms)) << "a double join delivers twice";
}

TEST_F(Protocol, RequestsPipelinedBehindAJoinWaitForIt) {
  // join, send and history without waiting: the send and history are handled after the join
  // (not refused with not_joined). The ack waits for the commit, so the history may overtake it.
  auto a = user("ada");
  a->send_json({{"type", "join"}, {"room", "general"}, {"ref", "j"}});
  a->send_json({{"type", "send"}, {"room", "general"}, {"cid", "p1"}, {"text", "first"}, {"ref", "s"}});
  a->send_json({{"type", "history"}, {"room", "general"}, {"ref", "h"}});
  std::vector<std::string> order;
  for (int i = 0; i < 20 && order.size() < 3; ++i) {
    auto e = a->next(scaled(5s));
    ASSERT_TRUE(e);
    if (e->contains("ref")) order.push_back(str(*e, "ref") + ":" + type_of(*e));
  }
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0], "j:joined");
  std::sort(order.begin() + 1, order.end());
  EXPECT_EQ(order[1], "h:history");
  EXPECT_EQ(order[2], "s:ack");
}

TEST(Rooms, PipeliningTooFarBehindAJoinIsRateLimited) {
  ServerProcess server({{"limits.request_rate=100000", "limits.request_burst=100000"}});
  WsClient a(server.port());
  a.hello("ada");
  // A join and 100 pings back to back: pings that arrive while the join is pending are held
  // (at most 64; past that rate_limited). Every ping gets exactly one answer and the connection
  // stays, however many arrived before the join was answered.
  a.send_json({{"type", "join"}, {"room", "general"}});
  for (int i = 0; i < 100; ++i) a.send_json({{"type", "ping"}, {"ref", i}});
  int pongs = 0, limited = 0;
  for (int i = 0; i < 300 && pongs + limited < 100; ++i) {
    auto e = a.next(scaled(5s));
    ASSERT_TRUE(e);
    pongs += type_of(*e) == "pong";
    limited += type_of(*e) == "error" && str(*e, "code") == "rate_limited";
  }
  EXPECT_EQ(pongs + limited, 100);
  EXPECT_GE(pongs, 64);
  expect_alive(a);
}

TEST(Rooms, TooManyRoomsPerConnection) {
  ServerProcess server({{"limits.max_rooms_per_connection=3"}});
  WsClient a(server.port());
  auto w = a.hello("ada");
  EXPECT_EQ(u64(w.at("limits").as_object(), "max_rooms"), 3u);
  for (const char* r : {"r1", "r2", "r3"}) a.create(r);
  a.join("general");
  a.join("r1");
  a.join("r2");
  expect_error(a, {{"type", "join"}, {"room", "r3"}}, "too_many_rooms");
  auto left = a.request({{"type", "leave"}, {"room", "r1"}});
  EXPECT_EQ(type_of(left), "left") << dump(left);
  a.join("r3");
  // The limit is per connection: another connection of the same user may join too.
  WsClient tab2(server.port());
  tab2.hello("ada");
  tab2.join("r1");
}

TEST_F(Protocol, LeaveStopsDeliveryAndAnnouncesPresence) {
  auto a = user("ada");
  auto b = user("bob");
  a->join("general");
  b->join("general");
  ASSERT_TRUE(a->wait_for("presence", [](const json::object& e) { return str(e, "user") == "bob"; }));
  auto left = b->request({{"type", "leave"}, {"room", "general"}});
  EXPECT_EQ(type_of(left), "left") << dump(left);
  EXPECT_EQ(str(left, "room"), "general");
  auto p = a->wait_for("presence", [](const json::object& e) { return str(e, "state") == "left"; });
  ASSERT_TRUE(p) << "ada did not see bob leave";
  EXPECT_EQ(str(*p, "user"), "bob");
  EXPECT_EQ(str(*p, "room"), "general");
  a->send_message("general", "c1", "after bob left");
  EXPECT_FALSE(b->wait_for("message", {}, 300ms)) << "bob still gets messages after leaving";
  expect_error(*b, {{"type", "send"}, {"room", "general"}, {"cid", "b1"}, {"text", "x"}}, "not_joined");
  expect_error(*b, {{"type", "leave"}, {"room", "general"}}, "not_joined");
  expect_error(*b, {{"type", "leave"}, {"room", "bad room"}}, "bad_room");
  expect_error(*b, {{"type", "leave"}}, "bad_request");
}

TEST_F(Protocol, SendIsAckedAndDeliveredToEveryMember) {
  auto a = user("ada");
  auto b = user("bob");
  a->join("general");
  b->join("general");
  const std::string text = "héllo \"world\"\n\t😀 </script> \\ \u2028";
  auto ack = a->send_message("general", "cid-1", text);
  EXPECT_EQ(str(ack, "cid"), "cid-1");
  EXPECT_EQ(str(ack, "room"), "general");
  EXPECT_EQ(u64(ack, "seq"), 1u);
  EXPECT_LT(std::llabs(i64(ack, "ts") - wall_ms()), 60000);
  for (WsClient* c : {a.get(), b.get()}) {
    auto m = c->wait_for("message");
    ASSERT_TRUE(m) << "no message event";
    EXPECT_EQ(str(*m, "room"), "general");
    EXPECT_EQ(u64(*m, "seq"), 1u);
    EXPECT_EQ(str(*m, "from"), "ada");
    EXPECT_EQ(str(*m, "text"), text);
    EXPECT_EQ(i64(*m, "ts"), i64(ack, "ts"));
    EXPECT_EQ(str(*m, "cid"), "cid-1");
  }
  auto ack2 = b->send_message("general", "cid-1", "same cid, other user: a new message");
  EXPECT_EQ(u64(ack2, "seq"), 2u);
  auto m2 = a->wait_for("message");
  ASSERT_TRUE(m2);
  EXPECT_EQ(str(*m2, "from"), "bob");
}

TEST(Send, ErrorsStoreNothing) {
  ServerProcess server({{"limits.max_text_length=500"}});
  WsClient a(server.port());
  a.hello("ada");
  a.create("other");
  a.join("general");
  auto send = [](std::string room, json::value cid, json::value text) {
    return json::object{{"type", "send"}, {"room", room}, {"cid", cid}, {"text", text}};
  };
  expect_error(a, send("other", "c", "not in this room"), "not_joined");
  expect_error(a, send("nope", "c", "no such room"), "not_joined");
  expect_error(a, send("bad room", "c", "x"), "bad_room");
  for (const std::string& cid : {std::string(""), repeat("c", 65), std::string("has space"), std::string("ü"),
                                 std::string("tab\t"), std::string("del\x7f")})
    expect_error(a, send("general", json::string(cid), "x"), "bad_cid");
  expect_error(a, send("general", "c", ""), "empty_text");
  expect_error(a, send("general", "c", " \t\r\n "), "empty_text");
  // Invisible is empty too: zero-width, word joiner, BOM, variation selector, no-break space.
  expect_error(a, send("general", "c", " \u200b\u2060\ufeff"), "empty_text");
  expect_error(a, send("general", "c", "\ufe0f\u00a0\u3000\u200d"), "empty_text");
  expect_error(a, send("general", "c", json::string("nul \0 inside", 13)), "bad_request");
  expect_error(a, send("general", "c", json::string(repeat("é", 501))), "text_too_long");
  expect_error(a, send("general", "c", 5), "bad_request");
  expect_error(a, send("general", 5, "x"), "bad_request");
  expect_error(a, {{"type", "send"}, {"room", "general"}, {"text", "x"}}, "bad_request");
  expect_error(a, {{"type", "send"}, {"room", "general"}, {"cid", "c"}}, "bad_request");
  // A lone surrogate spelled with a JSON escape is not valid UTF-8 text: refused (Boost.JSON 1.81
  // refuses it as bad_json before the server's own bad_request check), nothing stored.
  a.send_text(R"({"type":"send","room":"general","cid":"c","text":"bad \ud800 surrogate","ref":"s"})");
  auto e = a.wait_for("error");
  ASSERT_TRUE(e);
  EXPECT_TRUE(str(*e, "code") == "bad_request" || str(*e, "code") == "bad_json") << dump(*e);
  // Exactly the limit (in code points, not bytes) is accepted.
  auto ack = a.send_message("general", "c-ok", repeat("é", 500));
  EXPECT_EQ(u64(ack, "seq"), 1u);
  auto h = a.full_history("general");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(str(h[0], "cid"), "c-ok");
}

TEST(Send, OverloadedStoreRefusesAndStoresNothing) {
  ServerProcess server({{"store.max_queue=0"}});
  WsClient a(server.port());
  a.hello("ada");
  a.join("general");
  expect_error(a, {{"type", "send"}, {"room", "general"}, {"cid", "c1"}, {"text", "x"}}, "overloaded");
  EXPECT_FALSE(a.wait_for("message", {}, 200ms));
  auto h = a.request({{"type", "history"}, {"room", "general"}});
  EXPECT_TRUE(h.at("messages").as_array().empty()) << dump(h);
  expect_alive(a);
}

TEST(Typing, ReachesOthersThrottledAndNeverStored) {
  ServerProcess server({{"limits.typing_interval_ms=600"}});
  WsClient a(server.port()), b(server.port());
  a.hello("ada");
  b.hello("bob");
  a.join("general");
  b.join("general");
  a.clear();
  b.clear();
  a.send_json({{"type", "typing"}, {"room", "general"}});
  auto t = b.wait_for("typing");
  ASSERT_TRUE(t) << "bob did not see ada typing";
  EXPECT_EQ(str(*t, "room"), "general");
  EXPECT_EQ(str(*t, "user"), "ada");
  EXPECT_FALSE(a.wait_for("typing", {}, 200ms)) << "the typist got its own typing event";
  // Within the interval: dropped silently (no error either).
  a.send_json({{"type", "typing"}, {"room", "general"}});
  EXPECT_FALSE(b.wait_for("typing", {}, 300ms)) << "typing was not throttled";
  EXPECT_FALSE(a.wait_for("error", {}, 50ms));
  std::this_thread::sleep_for(400ms);
  a.send_json({{"type", "typing"}, {"room", "general"}});
  EXPECT_TRUE(b.wait_for("typing")) << "typing after the interval did not arrive";
  expect_error(a, {{"type", "typing"}, {"room", "other"}}, "not_joined");
  expect_error(a, {{"type", "typing"}}, "bad_request");
  // Typing takes no seq and is not history.
  auto ack = a.send_message("general", "c1", "hi");
  EXPECT_EQ(u64(ack, "seq"), 1u);
  auto h = a.full_history("general");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(str(h[0], "text"), "hi");
}

TEST(History, PagesClampAndOrder) {
  ServerProcess server({{"limits.history_limit=10", "limits.send_rate=1000", "limits.send_burst=1000"}});
  WsClient a(server.port());
  a.hello("ada");
  a.join("general");
  auto empty = a.request({{"type", "history"}, {"room", "general"}});
  EXPECT_EQ(type_of(empty), "history");
  EXPECT_TRUE(empty.at("messages").as_array().empty());
  EXPECT_FALSE(empty.at("has_more").as_bool());
  for (int i = 1; i <= 15; ++i) a.send_message("general", "c" + std::to_string(i), "text " + std::to_string(i));
  auto page = [&](json::object req) {
    req["type"] = "history";
    req["room"] = "general";
    auto r = a.request(std::move(req));
    EXPECT_EQ(type_of(r), "history") << dump(r);
    EXPECT_EQ(str(r, "room"), "general");
    std::vector<json::object> msgs;
    for (const auto& m : r.at("messages").as_array()) msgs.push_back(m.as_object());
    return std::make_pair(seqs_of(msgs), r.at("has_more").as_bool());
  };
  auto [latest, more] = page({});  // default limit, clamped to history_limit
  EXPECT_EQ(latest, range(6, 15));
  EXPECT_TRUE(more);
  EXPECT_EQ(page({{"before", 6}, {"limit", 3}}).first, range(3, 5));
  auto [first, more_first] = page({{"before", 3}, {"limit", 10}});
  EXPECT_EQ(first, range(1, 2));
  EXPECT_FALSE(more_first);
  EXPECT_EQ(page({{"limit", 0}}).first, range(15, 15));
  EXPECT_EQ(page({{"limit", 1000}}).first, range(6, 15));
  EXPECT_EQ(page({{"before", 1000}, {"limit", 2}}).first, range(14, 15));
  EXPECT_TRUE(page({{"before", 1}}).first.empty());
  // Messages are history objects: no "type", every field of the message event.
  auto r = a.request({{"type", "history"}, {"room", "general"}, {"limit", 1}});
  const auto& m = r.at("messages").as_array()[0].as_object();
  EXPECT_FALSE(m.contains("type")) << dump(m);
  EXPECT_EQ(str(m, "room"), "general");
  EXPECT_EQ(u64(m, "seq"), 15u);
  EXPECT_EQ(str(m, "from"), "ada");
  EXPECT_EQ(str(m, "text"), "text 15");
  EXPECT_EQ(str(m, "cid"), "c15");
  EXPECT_TRUE(m.contains("ts"));
  a.create("other");
  expect_error(a, {{"type", "history"}, {"room", "other"}}, "not_joined");
  expect_error(a, {{"type", "history"}, {"room", "general"}, {"limit", "x"}}, "bad_request");
  expect_error(a, {{"type", "history"}, {"room", "general"}, {"before", -5}}, "bad_request");
  expect_error(a, {{"type", "history"}}, "bad_request");
}

TEST(History, OlderPagesComeFromTheStore) {
  ServerProcess server({{"rooms.recent_messages=16", "limits.send_rate=1000", "limits.send_burst=1000"}});
  WsClient a(server.port());
  a.hello("ada");
  a.join("general");
  for (int i = 1; i <= 40; ++i) a.send_message("general", "c" + std::to_string(i), "t" + std::to_string(i));
  auto r = a.request({{"type", "history"}, {"room", "general"}, {"before", 10}, {"limit", 5}});
  std::vector<json::object> msgs;
  for (const auto& m : r.at("messages").as_array()) msgs.push_back(m.as_object());
  EXPECT_EQ(seqs_of(msgs), range(5, 9));
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(str(msgs[0], "text"), "t5");
  EXPECT_EQ(str(msgs[0], "cid"), "c5");
  EXPECT_TRUE(r.at("has_more").as_bool());
  // A page straddling the ring and the store.
  r = a.request({{"type", "history"}, {"room", "general"}, {"before", 30}, {"limit", 20}});
  msgs.clear();
  for (const auto& m : r.at("messages").as_array()) msgs.push_back(m.as_object());
  EXPECT_EQ(seqs_of(msgs), range(10, 29));
  EXPECT_EQ(seqs_of(a.full_history("general", 7)), range(1, 40));
}

TEST_F(Protocol, PingAnswersPong) {
  auto c = user("ada");
  c->send_text(R"({"type":"ping","ref":"p1"})");
  auto p = c->wait_for("pong");
  ASSERT_TRUE(p);
  EXPECT_EQ(str(*p, "ref"), "p1");
  EXPECT_LT(std::llabs(i64(*p, "server_time") - wall_ms()), 60000);
}

TEST_F(Protocol, NonJsonFramesAreBadJson) {
  auto c = user("ada");
  const std::string deep = repeat("[", 40) + repeat("]", 40);
  for (const std::string& frame :
       {std::string("not json"), std::string("[1,2]"), std::string("42"), std::string("\"text\""), std::string("{"),
        std::string("null"), std::string("{\"type\":\"ping\"} trailing"), deep}) {
    c->send_text(frame);
    auto e = c->wait_for("error");
    ASSERT_TRUE(e) << "no error for " << frame;
    EXPECT_EQ(str(*e, "code"), "bad_json") << frame;
    EXPECT_FALSE(c->closed());
  }
  expect_alive(*c);
}

TEST_F(Protocol, MalformedRequestsAreBadRequestOrUnknownType) {
  auto c = user("ada");
  c->send_text("{}");
  auto e = c->wait_for("error");
  ASSERT_TRUE(e);
  EXPECT_EQ(str(*e, "code"), "bad_request");
  c->send_text(R"({"type":5,"ref":"t"})");
  e = c->wait_for("error");
  ASSERT_TRUE(e);
  EXPECT_EQ(str(*e, "code"), "bad_request");
  EXPECT_EQ(str(*e, "ref"), "t");
  expect_error(*c, {{"type", "dance"}}, "unknown_type");
  expect_error(*c, {{"type", "HELLO"}, {"name", "x"}}, "unknown_type");
  expect_error(*c, {{"type", "join"}, {"room", 1}}, "bad_request");
  expect_error(*c, {{"type", "history"}, {"room", "general"}, {"limit", -1}}, "bad_request");
  expect_alive(*c);
}

}  // namespace
}  // namespace parley::it
