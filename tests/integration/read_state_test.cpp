// Read state (docs/protocol.md, "Read state") against the real binary: `read` never moves a mark
// backwards, clamps it to the room's head, is for members and accounts only, is budgeted and
// checked like every request; the user's other sessions hear it; the room list and a join carry
// the unread and mention counts; a small room's members see each other's marks ("seen by").
#include <gtest/gtest.h>

#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

std::string token_of(ServerProcess& server, const std::string& name) {
  auto reg = register_user(server.port(), name, "correct horse", true);
  EXPECT_EQ(reg.status, 201) << reg.body;
  return std::string(reg.json().as_object().at("token").as_string());
}

std::unique_ptr<WsClient> session(ServerProcess& server, const std::string& token) {
  auto c = std::make_unique<WsClient>(server.port());
  auto w = c->request({{"type", "hello"}, {"token", token}});
  EXPECT_EQ(type_of(w), "welcome") << dump(w);
  return c;
}

json::object read(WsClient& c, const std::string& room, std::uint64_t seq) {
  return c.request({{"type", "read"}, {"room", room}, {"seq", seq}});
}

// The room list's entry of `room` (fails the test if there is none).
json::object listed(WsClient& c, const std::string& room) {
  auto r = c.request({{"type", "rooms"}});
  EXPECT_EQ(type_of(r), "rooms") << dump(r);
  for (const auto& v : r.at("rooms").as_array())
    if (str(v.as_object(), "room") == room) return v.as_object();
  ADD_FAILURE() << "no " << room << " in " << dump(r);
  return {};
}

void expect_state(const json::object& e, std::uint64_t seq, std::uint64_t unread, std::uint64_t mentions,
                  const char* seq_key = "seq") {
  EXPECT_EQ(u64(e, seq_key), seq) << dump(e);
  EXPECT_EQ(u64(e, "unread"), unread) << dump(e);
  EXPECT_EQ(u64(e, "mentions"), mentions) << dump(e);
}

TEST(ReadState, MarksRiseClampAndEverySessionOfTheUserAgrees) {
  ServerProcess server(with_accounts({}));
  const auto ada_token = token_of(server, "ada");
  auto a1 = session(server, ada_token);
  auto a2 = session(server, ada_token);  // ada's second device
  auto bob = session(server, token_of(server, "bob"));
  ASSERT_EQ(type_of(a1->create("desk")), "created");
  for (auto* c : {a1.get(), a2.get(), bob.get()}) ASSERT_EQ(type_of(c->join("desk")), "joined");
  bob->send_message("desk", "b1", "hi");
  bob->send_message("desk", "b2", "@ada look at this");
  bob->send_message("desk", "b3", "plain");
  a1->send_message("desk", "a1", "mine is never unread to me, @ada");

  // The room list: nothing read yet; bob's three messages, one mentioning ada.
  expect_state(listed(*a2, "desk"), 0, 3, 1, "last_read");

  // A read: answered with the new state, and ada's other session hears it (without a ref).
  a2->clear();
  auto r = read(*a1, "desk", 2);
  ASSERT_EQ(type_of(r), "read") << dump(r);
  expect_state(r, 2, 1, 0);
  auto heard = a2->wait_for("read");
  ASSERT_TRUE(heard);
  EXPECT_FALSE(heard->contains("ref")) << dump(*heard);
  expect_state(*heard, 2, 1, 0);
  expect_state(listed(*a2, "desk"), 2, 1, 0, "last_read");

  // Never backwards: an older mark is answered with the stored one.
  expect_state(read(*a1, "desk", 1), 2, 1, 0);
  // Clamped to the room's head.
  expect_state(read(*a1, "desk", 999), 4, 0, 0);
  expect_state(listed(*a2, "desk"), 4, 0, 0, "last_read");

  // A new session's join is followed by its state there; new messages count from the mark.
  bob->send_message("desk", "b4", "hey @ADA, again");
  bob->send_message("desk", "b5", "and mail to ada@example.org");
  auto a3 = session(server, ada_token);
  ASSERT_EQ(type_of(a3->join("desk")), "joined");
  auto after_join = a3->wait_for("read");
  ASSERT_TRUE(after_join);
  expect_state(*after_join, 4, 2, 1);
  // bob has no mark: everything not his is unread to him (ada's one message), no mention of him.
  expect_state(listed(*bob, "desk"), 0, 1, 0, "last_read");
}

TEST(ReadState, BadReadsGetErrorsGuestsAndStrangersNone) {
  ServerProcess server(with_accounts({}));
  auto ada = session(server, token_of(server, "ada"));
  auto bob = session(server, token_of(server, "bob"));
  WsClient guest(server.port());
  guest.hello("dora");
  ASSERT_EQ(type_of(ada->create("desk")), "created");
  ASSERT_EQ(type_of(ada->join("desk")), "joined");
  ASSERT_EQ(type_of(guest.join("desk")), "joined");
  ada->send_message("desk", "a1", "hello");

  expect_error(guest, {{"type", "read"}, {"room", "desk"}, {"seq", 1}}, "forbidden");
  // A guest's room list carries no read state.
  auto rooms = guest.request({{"type", "rooms"}});
  for (const auto& v : rooms.at("rooms").as_array()) EXPECT_FALSE(v.as_object().contains("unread")) << dump(rooms);

  expect_error(*bob, {{"type", "read"}, {"room", "desk"}, {"seq", 1}}, "not_joined");
  expect_error(*ada, {{"type", "read"}, {"room", "desk"}, {"seq", 0}}, "bad_request");
  expect_error(*ada, {{"type", "read"}, {"room", "desk"}}, "bad_request");
  expect_error(*ada, {{"type", "read"}, {"room", "desk"}, {"seq", "1"}}, "bad_request");
  expect_error(*ada, {{"type", "read"}, {"room", "desk"}, {"seq", -1}}, "bad_request");
  expect_error(*ada, {{"type", "read"}, {"seq", 1}}, "bad_request");
  expect_error(*ada, {{"type", "read"}, {"room", "no spaces"}, {"seq", 1}}, "bad_room");

  // Members only: a private room's stranger cannot join, so cannot mark it; removed, no longer.
  ASSERT_EQ(type_of(ada->request({{"type", "create"}, {"room", "priv"}, {"private", true}})), "created");
  ASSERT_EQ(type_of(ada->join("priv")), "joined");
  expect_error(*bob, {{"type", "read"}, {"room", "priv"}, {"seq", 1}}, "not_joined");
  ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "priv"}, {"user", "bob"}})), "invited");
  ASSERT_EQ(type_of(bob->join("priv")), "joined");
  ada->send_message("priv", "p1", "for members");
  EXPECT_EQ(type_of(read(*bob, "priv", 1)), "read");
  ASSERT_EQ(type_of(ada->request({{"type", "remove"}, {"room", "priv"}, {"user", "bob"}})), "removed");
  ASSERT_TRUE(bob->wait_for("removed"));
  expect_error(*bob, {{"type", "read"}, {"room", "priv"}, {"seq", 1}}, "not_joined");

  // Budget: reads are requests; a client that does not wait for its answers is refused, and
  // stays connected.
  bool limited = false;
  for (int i = 0; i < 200; ++i) ada->send_json(json::object{{"type", "read"}, {"room", "desk"}, {"seq", 1}});
  for (int i = 0; i < 200 && !limited; ++i) {
    auto e = ada->next();
    if (!e) break;
    limited = type_of(*e) == "error" && str(*e, "code") == "rate_limited";
  }
  EXPECT_TRUE(limited);
  ada->clear();
  // Still connected: once the budget has refilled (its retry_after_ms), a request is answered.
  bool answered = false;
  for (int i = 0; i < 50 && !answered; ++i) {
    auto r = ada->request({{"type", "ping"}});
    answered = type_of(r) == "pong";
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(1 + u64(r, "retry_after_ms")));
  }
  EXPECT_TRUE(answered);
  EXPECT_FALSE(ada->closed());
}

TEST(ReadState, ADirectConversationShowsSeenBy) {
  ServerProcess server(with_accounts({}));
  auto ada = session(server, token_of(server, "ada"));
  const auto bob_token = token_of(server, "bob");
  auto bob = session(server, bob_token);
  auto dm = ada->request({{"type", "dm"}, {"user", "bob"}});
  ASSERT_EQ(type_of(dm), "dm") << dump(dm);
  const std::string room(dm.at("room").as_string());
  ASSERT_EQ(type_of(ada->join(room)), "joined");
  ASSERT_EQ(type_of(bob->join(room)), "joined");
  ada->send_message(room, "a1", "are you there?");
  bob->clear();
  ada->clear();

  // bob reads: ada (in the room) sees it.
  ASSERT_EQ(type_of(read(*bob, room, 1)), "read");
  // (ada's join was followed by the marks so far: none.)
  const auto some = [](const json::object& e) { return !e.at("reads").as_array().empty(); };
  auto seen = ada->wait_for("seen", some);
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->at("reads").as_array().size(), 1u) << dump(*seen);
  EXPECT_EQ(str(seen->at("reads").as_array()[0].as_object(), "user"), "bob");
  EXPECT_EQ(u64(seen->at("reads").as_array()[0].as_object(), "seq"), 1u);

  // A session joining later hears the marks so far.
  auto again = session(server, bob_token);
  ASSERT_EQ(type_of(again->join(room)), "joined");
  auto marks = again->wait_for("seen", some);
  ASSERT_TRUE(marks);
  ASSERT_EQ(marks->at("reads").as_array().size(), 1u) << dump(*marks);
  EXPECT_EQ(str(marks->at("reads").as_array()[0].as_object(), "user"), "bob");

  // A public room shows no "seen by".
  ASSERT_EQ(type_of(ada->create("open")), "created");
  ASSERT_EQ(type_of(ada->join("open")), "joined");
  ASSERT_EQ(type_of(bob->join("open")), "joined");
  ada->send_message("open", "o1", "hi");
  ASSERT_EQ(type_of(read(*bob, "open", 1)), "read");
  auto no_seen = ada->wait_for(
      "seen", [](const json::object& e) { return str(e, "room") == "open"; }, 300ms);
  EXPECT_FALSE(no_seen);
}

}  // namespace
}  // namespace parley::it
