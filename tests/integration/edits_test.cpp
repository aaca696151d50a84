// Editing and deleting messages (docs/protocol.md, "edit and delete") against the real binary:
// who may (the author edits; the author, a moderator or the owner deletes; an admin deletes any),
// every refusal, what live members, `history` and a resume (`join` with `since`) see, and the
// admin API's and the admin socket's delete.
#include <gtest/gtest.h>

#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

json::object edit(WsClient& c, const std::string& room, std::uint64_t seq, const std::string& text,
                  const std::string& cid) {
  return c.request({{"type", "edit"}, {"room", room}, {"seq", seq}, {"text", text}, {"cid", cid}});
}

json::object delete_message(WsClient& c, const std::string& room, std::uint64_t seq) {
  return c.request({{"type", "delete"}, {"room", room}, {"seq", seq}});
}

// The history entry of `seq` (fails the test if there is none).
json::object entry(const std::vector<json::object>& history, std::uint64_t seq) {
  for (const auto& m : history)
    if (u64(m, "seq") == seq) return m;
  ADD_FAILURE() << "no history entry of seq " << seq;
  return {};
}

// One server for the live, permission and admin cases ("root" is its admin); one with a ring of
// two messages for the resume, so that its gap and its history pages come from the store.
ServerOptions edits_server(std::vector<std::string> more = {}) {
  more.insert(more.begin(), {"auth.admins=root", "limits.request_burst=100000", "limits.request_rate=100000"});
  return with_accounts(std::move(more));
}

TEST(Edits, TheAuthorEditsAndDeletesAModeratorDeletesAndEveryoneElseIsRefused) {
  ServerProcess server(edits_server());
  auto ada = account(server, "ada");  // the room's owner
  auto bob = account(server, "bob");  // an author
  auto cy = account(server, "cy");    // a member, then a moderator
  WsClient guest(server.port());
  guest.hello("dora");
  ASSERT_EQ(type_of(ada->create("desk")), "created");
  for (WsClient* c : {ada.get(), bob.get(), cy.get(), &guest}) ASSERT_EQ(type_of(c->join("desk")), "joined");

  EXPECT_EQ(u64(bob->send_message("desk", "b1", "helo"), "seq"), 1u);
  EXPECT_EQ(u64(bob->send_message("desk", "b2", "a secret"), "seq"), 2u);
  ada->clear();

  // The author's edit: acked like a send, a new seq; every member hears it, naming the message.
  auto ack = edit(*bob, "desk", 1, "hello", "e1");
  ASSERT_EQ(type_of(ack), "ack") << dump(ack);
  EXPECT_EQ(u64(ack, "seq"), 3u);
  auto heard = ada->wait_for("edit");
  ASSERT_TRUE(heard);
  EXPECT_EQ(u64(*heard, "seq"), 3u);
  EXPECT_EQ(u64(*heard, "target"), 1u);
  EXPECT_EQ(str(*heard, "text"), "hello");
  EXPECT_EQ(str(*heard, "from"), "bob");
  // A retry is the same edit; the same cid for another text is not a retry.
  EXPECT_EQ(u64(edit(*bob, "desk", 1, "hello", "e1"), "seq"), 3u);
  expect_error(*bob, {{"type", "edit"}, {"room", "desk"}, {"seq", 1}, {"text", "other"}, {"cid", "e1"}},
               "cid_conflict");

  // Nobody else edits it, not the owner either; a member deletes only their own.
  expect_error(*cy, {{"type", "edit"}, {"room", "desk"}, {"seq", 1}, {"text", "mine now"}}, "forbidden");
  expect_error(*ada, {{"type", "edit"}, {"room", "desk"}, {"seq", 1}, {"text", "owner's"}}, "forbidden");
  expect_error(guest, {{"type", "delete"}, {"room", "desk"}, {"seq", 1}}, "forbidden");
  expect_error(*cy, {{"type", "delete"}, {"room", "desk"}, {"seq", 1}}, "forbidden");

  // The author deletes: then nothing changes it again.
  auto del = delete_message(*bob, "desk", 2);
  ASSERT_EQ(type_of(del), "ack") << dump(del);
  EXPECT_EQ(u64(del, "seq"), 4u);
  auto gone = cy->wait_for("delete");
  ASSERT_TRUE(gone);
  EXPECT_EQ(u64(*gone, "target"), 2u);
  EXPECT_FALSE(gone->contains("text")) << dump(*gone);
  expect_error(*bob, {{"type", "edit"}, {"room", "desk"}, {"seq", 2}, {"text", "back"}}, "deleted");
  expect_error(*bob, {{"type", "delete"}, {"room", "desk"}, {"seq", 2}}, "deleted");

  // Only messages are changed, only ones that exist; the request is checked as a send is.
  expect_error(*bob, {{"type", "edit"}, {"room", "desk"}, {"seq", 3}, {"text", "x"}}, "no_such_message");
  expect_error(*bob, {{"type", "delete"}, {"room", "desk"}, {"seq", 99}}, "no_such_message");
  expect_error(*bob, {{"type", "edit"}, {"room", "desk"}, {"seq", 1}, {"text", " \u200b "}}, "empty_text");
  expect_error(*bob, {{"type", "edit"}, {"room", "desk"}, {"seq", 1}, {"text", repeat("x", 4001)}}, "text_too_long");
  expect_error(*bob, {{"type", "edit"}, {"room", "desk"}, {"seq", 1}}, "bad_request");
  expect_error(*bob, {{"type", "edit"}, {"room", "desk"}, {"seq", 0}, {"text", "x"}}, "bad_request");
  expect_error(*bob, {{"type", "delete"}, {"room", "desk"}}, "bad_request");
  expect_error(*bob, {{"type", "delete"}, {"room", "desk"}, {"seq", 1}, {"cid", "no spaces"}}, "bad_cid");
  expect_error(*bob, {{"type", "delete"}, {"room", "elsewhere"}, {"seq", 1}}, "not_joined");

  // The owner deletes anyone's; so does a moderator, once made one.
  EXPECT_EQ(u64(cy->send_message("desk", "c1", "spam"), "seq"), 5u);
  EXPECT_EQ(type_of(delete_message(*ada, "desk", 5)), "ack");
  EXPECT_EQ(u64(bob->send_message("desk", "b3", "off topic"), "seq"), 7u);
  auto role = ada->request({{"type", "set_role"}, {"room", "desk"}, {"user", "cy"}, {"role", "moderator"}});
  ASSERT_EQ(type_of(role), "role") << dump(role);
  EXPECT_EQ(type_of(delete_message(*cy, "desk", 7)), "ack");

  // History: each message as it is now, then the changes themselves (kind, target).
  auto history = guest.full_history("desk");
  ASSERT_EQ(seqs_of(history), range(1, 8));
  auto first = entry(history, 1);
  EXPECT_EQ(str(first, "text"), "hello");
  EXPECT_GT(u64(first, "edited"), 0u);
  auto second = entry(history, 2);
  EXPECT_EQ(str(second, "text"), "");
  EXPECT_TRUE(second.at("deleted").as_bool());
  EXPECT_EQ(str(entry(history, 3), "kind"), "edit");
  EXPECT_EQ(u64(entry(history, 3), "target"), 1u);
  EXPECT_EQ(str(entry(history, 4), "kind"), "delete");
  EXPECT_EQ(str(entry(history, 8), "from"), "cy");
  for (const auto& m : history) EXPECT_EQ(dump(m).find("a secret"), std::string::npos) << dump(m);

  // The admin API deletes any message, as the admin; anyone else is refused.
  EXPECT_EQ(u64(bob->send_message("desk", "b4", "admin bait"), "seq"), 9u);
  auto reg = register_user(server.port(), "root", "correct horse");
  const std::string root = cookie_header(session_cookie(reg));
  const std::string bob_cookie = cookie_header(session_cookie(login(server.port(), "bob", "correct horse")));
  EXPECT_EQ(api(server.port(), "DELETE", "/api/admin/rooms/desk/messages/9", {}, bob_cookie).status, 403);
  auto by_admin = api(server.port(), "DELETE", "/api/admin/rooms/desk/messages/9", {}, root);
  ASSERT_EQ(by_admin.status, 200) << by_admin.body;
  EXPECT_EQ(by_admin.json().as_object().at("target").as_int64(), 9);
  auto told = bob->wait_for("delete", [](const json::object& e) { return u64(e, "target") == 9; });
  ASSERT_TRUE(told);
  EXPECT_EQ(str(*told, "from"), "root");
  auto again = api(server.port(), "DELETE", "/api/admin/rooms/desk/messages/9", {}, root);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(code(again), "deleted");
  EXPECT_EQ(code(api(server.port(), "DELETE", "/api/admin/rooms/desk/messages/999", {}, root)), "no_such_message");
  EXPECT_EQ(api(server.port(), "DELETE", "/api/admin/rooms/desk/messages/x1", {}, root).status, 400);
  EXPECT_EQ(code(api(server.port(), "DELETE", "/api/admin/rooms/nowhere/messages/1", {}, root)), "no_such_room");

  // `parley admin delete-message` on the node's socket.
  auto seq = u64(bob->send_message("desk", "b5", "socket bait"), "seq");
  auto cli = run_parley({"admin", "delete-message", "desk", std::to_string(seq), "--data", server.data_dir()});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_TRUE(bob->wait_for("delete", [seq](const json::object& e) { return u64(e, "target") == seq; }));
  auto twice = run_parley({"admin", "delete-message", "desk", std::to_string(seq), "--data", server.data_dir()});
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_NE(twice.output.find("deleted"), std::string::npos) << twice.output;
}

TEST(Edits, AMemberAwayDuringAnEditAndADeleteGetsBothOnResumeInOrderOnce) {
  // A ring of two messages: the edit's check, the gap and the history come from the store.
  ServerProcess server(edits_server({"rooms.recent_messages=2"}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  ASSERT_EQ(type_of(ada->create("away")), "created");
  ASSERT_EQ(type_of(ada->join("away")), "joined");
  ASSERT_EQ(type_of(bob->join("away")), "joined");
  for (int i = 1; i <= 4; ++i) ada->send_message("away", "a" + std::to_string(i), "message " + std::to_string(i));
  ASSERT_TRUE(bob->wait_for("message", [](const json::object& m) { return u64(m, "seq") == 4; }));
  bob->close();

  // While bob is away: an edit and a delete of messages older than the ring, and one more message.
  ASSERT_EQ(type_of(edit(*ada, "away", 1, "message 1, edited", "e1")), "ack");
  ASSERT_EQ(type_of(delete_message(*ada, "away", 2)), "ack");
  ada->send_message("away", "a5", "message 5");
  auto history = ada->full_history("away");
  ASSERT_EQ(seqs_of(history), range(1, 7));
  EXPECT_EQ(str(entry(history, 1), "text"), "message 1, edited");
  EXPECT_TRUE(entry(history, 2).at("deleted").as_bool());

  // Back with since = 4: the edit, the delete and the message, in seq order, each once.
  WsClient again(server.port());
  auto tok = login(server.port(), "bob", "correct horse", true);
  ASSERT_EQ(type_of(again.request({{"type", "hello"}, {"token", tok.json().as_object().at("token").as_string()}})),
            "welcome");
  ASSERT_EQ(type_of(again.join("away", 4)), "joined");
  std::vector<std::pair<std::string, std::uint64_t>> got;
  bool read_state = false;  // an account's join is followed by its read state (protocol.md, "Read state")
  while (got.size() < 3) {
    auto e = again.next(5s);
    ASSERT_TRUE(e) << "only " << got.size() << " events of the gap";
    if (type_of(*e) == "presence") continue;
    if (type_of(*e) == "read") {
      read_state = true;
      continue;
    }
    got.emplace_back(type_of(*e), u64(*e, "seq"));
  }
  const std::vector<std::pair<std::string, std::uint64_t>> want{{"edit", 5}, {"delete", 6}, {"message", 7}};
  EXPECT_EQ(got, want);
  if (!read_state) {
    ASSERT_TRUE(again.wait_for("read"));
  }
  EXPECT_TRUE(again.expect_no_event(200ms));
  // A resume from before the deleted message shows it as it is now: no text.
  WsClient third(server.port());
  third.hello("eve");
  ASSERT_EQ(type_of(third.join("away", 0)), "joined");
  for (int i = 0; i < 7; ++i) {
    auto e = third.next(5s);
    ASSERT_TRUE(e);
    if (type_of(*e) == "presence") {
      --i;
      continue;
    }
    EXPECT_EQ(dump(*e).find("message 2"), std::string::npos) << dump(*e);
  }
}

}  // namespace
}  // namespace parley::it
