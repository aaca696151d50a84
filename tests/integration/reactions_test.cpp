// Reactions and replies (docs/protocol.md, "reactions", "replies") against the real binary: react
// and unreact as entries of the room's sequence (idempotent per user, emoji and message), every
// refusal (bad emoji, no such message, deleted, not joined, the two budgets), what live members,
// `history` and a resume (`join` with `since`) see, and a send's reply_to.
#include <gtest/gtest.h>

#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

json::object react(WsClient& c, const std::string& room, std::uint64_t seq, const std::string& emoji,
                   const std::string& type = "react") {
  return c.request({{"type", type}, {"room", room}, {"seq", seq}, {"emoji", emoji}});
}

json::object reply(WsClient& c, const std::string& room, const std::string& cid, const std::string& text,
                   std::uint64_t to) {
  return c.request({{"type", "send"}, {"room", room}, {"cid", cid}, {"text", text}, {"reply_to", to}});
}

json::object entry(const std::vector<json::object>& history, std::uint64_t seq) {
  for (const auto& m : history)
    if (u64(m, "seq") == seq) return m;
  ADD_FAILURE() << "no history entry of seq " << seq;
  return {};
}

// A message's reactions as "emoji:who,who" strings, in order ("" for none).
std::vector<std::string> reactions_of(const json::object& m) {
  std::vector<std::string> out;
  if (!m.contains("reactions")) return out;
  for (const auto& r : m.at("reactions").as_array()) {
    const auto& o = r.as_object();
    std::string s = std::string(o.at("emoji").as_string()) + ":";
    const auto& users = o.at("users").as_array();
    EXPECT_EQ(static_cast<std::size_t>(o.at("count").as_int64()), users.size()) << dump(m);
    for (std::size_t i = 0; i < users.size(); ++i)
      s += (i ? "," : "") + std::string(users[i].as_object().at("from").as_string());
    out.push_back(s);
  }
  return out;
}

using Want = std::vector<std::string>;

ServerOptions reactions_server(std::vector<std::string> more = {}) {
  more.insert(more.begin(), {"limits.request_burst=100000", "limits.request_rate=100000", "limits.send_burst=1000",
                             "limits.max_reaction_emoji=3", "limits.max_reactions_per_user=2"});
  return with_accounts(std::move(more));
}

const std::string thumbs = "\U0001F44D";                                  // 👍
const std::string party = "\U0001F389";                                   // 🎉
const std::string heart = "\u2764\uFE0F";                                 // ❤️ (fully qualified)
const std::string rocket = "\U0001F680";                                  // 🚀
const std::string smile = "\U0001F604";                                   // 😄
const std::string family = "\U0001F469\u200D\U0001F469\u200D\U0001F467";  // 👩‍👩‍👧 (a ZWJ sequence)
const std::string flag = "\U0001F1EB\U0001F1F7";                          // 🇫🇷

TEST(Reactions, MembersReactAndUnreactOnceEachWithinTheBudgetsAndBadInputIsRefused) {
  ServerProcess server(reactions_server());
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  auto cy = account(server, "cy");
  WsClient stranger(server.port());
  stranger.hello("eve");
  ASSERT_EQ(type_of(ada->create("desk")), "created");
  for (WsClient* c : {ada.get(), bob.get(), cy.get()}) ASSERT_EQ(type_of(c->join("desk")), "joined");
  ASSERT_EQ(u64(bob->send_message("desk", "b1", "ship it?"), "seq"), 1u);
  bob->clear();

  // A reaction is an entry of the sequence: acked with its seq, heard by every member.
  auto ack = react(*ada, "desk", 1, thumbs);
  ASSERT_EQ(type_of(ack), "ack") << dump(ack);
  EXPECT_EQ(u64(ack, "seq"), 2u);
  auto heard = bob->wait_for("react");
  ASSERT_TRUE(heard);
  EXPECT_EQ(u64(*heard, "target"), 1u);
  EXPECT_EQ(str(*heard, "emoji"), thumbs);
  EXPECT_EQ(str(*heard, "from"), "ada");
  EXPECT_FALSE(heard->contains("text")) << dump(*heard);
  // Again: idempotent (an entry that changes nothing), so still one 👍 of ada's.
  EXPECT_EQ(type_of(react(*ada, "desk", 1, thumbs)), "ack");
  EXPECT_EQ(type_of(react(*bob, "desk", 1, thumbs)), "ack");
  EXPECT_EQ(reactions_of(entry(cy->full_history("desk"), 1)), (Want{thumbs + ":ada,bob"}));

  // Anything but one emoji is refused, as are other requests' mistakes.
  for (const std::string& bad : {std::string("x"), std::string(":smile:"), thumbs + thumbs, std::string(""),
                                 std::string("\u2764"), std::string("\U0001F44D "), repeat(family, 4)})
    expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 1}, {"emoji", bad}}, "bad_emoji");
  expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 1}}, "bad_request");
  expect_error(*ada, {{"type", "unreact"}, {"room", "desk"}, {"seq", 0}, {"emoji", thumbs}}, "bad_request");
  expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 1}, {"emoji", 7}}, "bad_request");
  expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 99}, {"emoji", thumbs}}, "no_such_message");
  // Only messages have reactions (seq 2 is a react).
  expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 2}, {"emoji", thumbs}}, "no_such_message");
  expect_error(stranger, {{"type", "react"}, {"room", "desk"}, {"seq", 1}, {"emoji", thumbs}}, "not_joined");
  expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 1}, {"emoji", thumbs}, {"cid", "no spaces"}},
               "bad_cid");

  // Budgets: two emoji per user per message, three distinct emoji per message.
  EXPECT_EQ(type_of(react(*ada, "desk", 1, family)), "ack");
  expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 1}, {"emoji", heart}}, "too_many_reactions");
  EXPECT_EQ(type_of(react(*ada, "desk", 1, thumbs)), "ack");  // one already there: not one more
  EXPECT_EQ(type_of(react(*cy, "desk", 1, flag)), "ack");
  expect_error(*cy, {{"type", "react"}, {"room", "desk"}, {"seq", 1}, {"emoji", rocket}}, "too_many_reactions");
  EXPECT_EQ(type_of(react(*cy, "desk", 1, family)), "ack");  // an emoji the message has
  EXPECT_GE(fetch_metric(server.port(), "parley_reactions_refused_total").value_or(0), 2.0);

  // Unreact: one's own only, once; the emoji goes when its last user does.
  cy->clear();
  ASSERT_EQ(type_of(react(*ada, "desk", 1, thumbs, "unreact")), "ack");
  auto off = cy->wait_for("unreact");
  ASSERT_TRUE(off);
  EXPECT_EQ(u64(*off, "target"), 1u);
  EXPECT_EQ(str(*off, "emoji"), thumbs);
  EXPECT_EQ(type_of(react(*ada, "desk", 1, thumbs, "unreact")), "ack");
  EXPECT_EQ(type_of(react(*ada, "desk", 1, heart, "unreact")), "ack");
  EXPECT_EQ(type_of(react(*cy, "desk", 1, flag, "unreact")), "ack");
  auto history = stranger.join("desk");
  ASSERT_EQ(type_of(history), "joined");
  auto now = entry(stranger.full_history("desk"), 1);
  EXPECT_EQ(reactions_of(now), (Want{thumbs + ":bob", family + ":ada,cy"})) << dump(now);
  EXPECT_EQ(str(entry(stranger.full_history("desk"), 2), "kind"), "react");

  // Replies: reply_to names a message of the room; it is stored and sent with the message.
  ada->clear();
  auto answer = reply(*cy, "desk", "c1", "yes, ship it", 1);
  ASSERT_EQ(type_of(answer), "ack") << dump(answer);
  const std::uint64_t answer_seq = u64(answer, "seq");
  auto got = ada->wait_for("message", [&](const json::object& m) { return u64(m, "seq") == answer_seq; });
  ASSERT_TRUE(got);
  EXPECT_EQ(u64(*got, "reply_to"), 1u);
  EXPECT_EQ(u64(entry(ada->full_history("desk"), answer_seq), "reply_to"), 1u);
  expect_error(*cy, {{"type", "send"}, {"room", "desk"}, {"cid", "c2"}, {"text", "x"}, {"reply_to", 999}},
               "no_such_message");
  expect_error(*cy, {{"type", "send"}, {"room", "desk"}, {"cid", "c3"}, {"text", "x"}, {"reply_to", 2}},
               "no_such_message");
  expect_error(*cy, {{"type", "send"}, {"room", "desk"}, {"cid", "c4"}, {"text", "x"}, {"reply_to", 0}}, "bad_request");
  expect_error(*cy, {{"type", "send"}, {"room", "desk"}, {"cid", "c5"}, {"text", "x"}, {"reply_to", "1"}},
               "bad_request");
  // A retry of a reply is the same message; its cid with another reply_to is not a retry.
  EXPECT_EQ(u64(reply(*cy, "desk", "c1", "yes, ship it", 1), "seq"), answer_seq);
  expect_error(*cy, {{"type", "send"}, {"room", "desk"}, {"cid", "c1"}, {"text", "yes, ship it"}}, "cid_conflict");

  // A deleted message loses its reactions; nothing reacts to or answers it after.
  ASSERT_EQ(type_of(bob->request({{"type", "delete"}, {"room", "desk"}, {"seq", 1}})), "ack");
  auto deleted = entry(ada->full_history("desk"), 1);
  EXPECT_TRUE(deleted.at("deleted").as_bool());
  EXPECT_FALSE(deleted.contains("reactions")) << dump(deleted);
  expect_error(*ada, {{"type", "react"}, {"room", "desk"}, {"seq", 1}, {"emoji", smile}}, "deleted");
  expect_error(*ada, {{"type", "send"}, {"room", "desk"}, {"cid", "a9"}, {"text", "x"}, {"reply_to", 1}}, "deleted");
}

TEST(Reactions, AMemberAwayDuringReactionsAndAReplyGetsThemOnResumeInOrderOnce) {
  // A ring of two messages: the checks of seq 1, the gap and the history come from the store.
  ServerProcess server(reactions_server({"rooms.recent_messages=2"}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  ASSERT_EQ(type_of(ada->create("away")), "created");
  ASSERT_EQ(type_of(ada->join("away")), "joined");
  ASSERT_EQ(type_of(bob->join("away")), "joined");
  for (int i = 1; i <= 4; ++i) ada->send_message("away", "a" + std::to_string(i), "message " + std::to_string(i));
  ASSERT_TRUE(bob->wait_for("message", [](const json::object& m) { return u64(m, "seq") == 4; }));
  bob->close();

  // While bob is away: reactions to a message older than the ring, one taken back, and a reply.
  ASSERT_EQ(type_of(react(*ada, "away", 1, thumbs)), "ack");  // 5
  ASSERT_EQ(type_of(react(*ada, "away", 1, party)), "ack");   // 6
  // The budget counts reactions stored with the message (read from the store here).
  expect_error(*ada, {{"type", "react"}, {"room", "away"}, {"seq", 1}, {"emoji", heart}}, "too_many_reactions");
  ASSERT_EQ(type_of(react(*ada, "away", 1, thumbs, "unreact")), "ack");        // 7
  ASSERT_EQ(type_of(reply(*ada, "away", "a5", "about message 1", 1)), "ack");  // 8
  EXPECT_EQ(reactions_of(entry(ada->full_history("away"), 1)), (Want{party + ":ada"}));

  // Back with since = 4: react, react, unreact, the reply, in seq order, each once.
  WsClient again(server.port());
  auto tok = login(server.port(), "bob", "correct horse", true);
  ASSERT_EQ(type_of(again.request({{"type", "hello"}, {"token", tok.json().as_object().at("token").as_string()}})),
            "welcome");
  ASSERT_EQ(type_of(again.join("away", 4)), "joined");
  std::vector<std::pair<std::string, std::uint64_t>> got;
  std::uint64_t reply_to = 0;
  bool read_state = false;  // an account's join is followed by its read state (docs/protocol.md, "read")
  for (int events = 0; got.size() < 4 && events < 20; ++events) {
    auto e = again.next(5s);
    ASSERT_TRUE(e) << "only " << got.size() << " events of the gap";
    if (type_of(*e) == "presence") continue;
    if (type_of(*e) == "read") {
      read_state = true;
      continue;
    }
    got.emplace_back(type_of(*e), u64(*e, "seq"));
    if (type_of(*e) == "message") reply_to = u64(*e, "reply_to");
  }
  const std::vector<std::pair<std::string, std::uint64_t>> want{
      {"react", 5}, {"react", 6}, {"unreact", 7}, {"message", 8}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(reply_to, 1u);
  if (!read_state) {
    ASSERT_TRUE(again.wait_for("read"));
  }
  EXPECT_TRUE(again.expect_no_event(200ms));

  // A resume from the start (from the store) shows message 1 with its reactions as they are now.
  WsClient third(server.port());
  third.hello("eve");
  ASSERT_EQ(type_of(third.join("away", 0)), "joined");
  for (int events = 0; events < 20; ++events) {
    auto e = third.next(5s);
    ASSERT_TRUE(e);
    if (type_of(*e) != "message" || u64(*e, "seq") != 1) continue;
    EXPECT_EQ(reactions_of(*e), (Want{party + ":ada"})) << dump(*e);
    break;
  }
}

}  // namespace
}  // namespace parley::it
