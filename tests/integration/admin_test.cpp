// The operator's socket: `parley admin delete-room` against a running node. The room's members
// are told and are out of it, every other session is told, the room leaves the directory and
// its messages the store (a restart does not bring them back), and the id can be taken again as
// a new room. What cannot be deleted is refused with a reason.
#include <sys/stat.h>

#include "common.hpp"

namespace parley::it {
namespace {

const std::vector<std::string> kFast = {"limits.send_rate=100000", "limits.send_burst=100000",
                                        "limits.request_rate=100000", "limits.request_burst=100000"};

RunResult admin(const ServerProcess& server, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"admin"};
  args.insert(args.end(), command.begin(), command.end());
  args.insert(args.end(), {"--data", server.data_dir()});
  return run_parley(args);
}

std::vector<std::string> room_ids(WsClient& c) {
  auto r = c.request({{"type", "rooms"}});
  std::vector<std::string> out;
  for (const auto& v : r.at("rooms").as_array()) out.push_back(str(v.as_object(), "room"));
  return out;
}

bool listed(WsClient& c, const std::string& room) {
  const auto ids = room_ids(c);
  return std::find(ids.begin(), ids.end(), room) != ids.end();
}

TEST(Admin, SocketIsTheOwnersOnly) {
  ServerProcess server(ServerOptions{kFast});
  struct stat st {};
  ASSERT_EQ(::stat((server.data_dir() + "/parley.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Admin, DeleteRoomTellsEveryoneAndForgetsItsMessages) {
  ServerProcess server(ServerOptions{kFast});
  WsClient ada(server.port());
  ada.hello("ada");
  ada.create("ops");
  ada.join("ops");
  for (int i = 1; i <= 5; ++i) ada.send_message("ops", "c" + std::to_string(i), "secret " + std::to_string(i));
  WsClient bob(server.port());  // not in the room: told too, so that room lists stay current
  bob.hello("bob");
  ASSERT_TRUE(listed(bob, "ops"));
  ada.clear();
  bob.clear();

  auto r = admin(server, {"delete-room", "ops"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ok"), std::string::npos) << r.output;

  for (WsClient* c : {&ada, &bob}) {
    auto e = c->wait_for("room_deleted");
    ASSERT_TRUE(e);
    EXPECT_EQ(str(*e, "room"), "ops");
  }
  EXPECT_FALSE(listed(bob, "ops"));
  // Ada is out of the room: nothing can be sent there, nor read; and it cannot be joined.
  expect_error(ada, {{"type", "send"}, {"room", "ops"}, {"cid", "c6"}, {"text", "still here?"}}, "not_joined");
  expect_error(ada, {{"type", "history"}, {"room", "ops"}}, "not_joined");
  expect_error(ada, {{"type", "join"}, {"room", "ops"}}, "no_such_room");
  expect_error(bob, {{"type", "join"}, {"room", "ops"}}, "no_such_room");
  expect_alive(ada);

  // The id is free: created again, it is a new room with no past.
  bob.create("ops");
  auto j = bob.join("ops");
  EXPECT_EQ(u64(j, "last_seq"), 0u) << dump(j);
  EXPECT_TRUE(bob.full_history("ops").empty());
  auto ack = bob.send_message("ops", "b1", "fresh start");
  EXPECT_EQ(u64(ack, "seq"), 1u);

  // The store forgot the old messages: a restart does not bring them back.
  server.stop();
  server.restart();
  WsClient cy(server.port());
  cy.hello("cy");
  cy.join("ops");
  const auto history = cy.full_history("ops");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(str(history[0], "text"), "fresh start");
}

TEST(Admin, DeleteRoomOfAnUnloadedRoomAfterRestart) {
  ServerProcess server(ServerOptions{kFast});
  {
    WsClient ada(server.port());
    ada.hello("ada");
    ada.create("archive");
    ada.join("archive");
    ada.send_message("archive", "a1", "old");
  }
  server.stop();
  server.restart();  // the room is known but not loaded
  auto r = admin(server, {"delete-room", "archive"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  WsClient bob(server.port());
  bob.hello("bob");
  EXPECT_FALSE(listed(bob, "archive"));
  server.stop();
  server.restart();
  WsClient cy(server.port());
  cy.hello("cy");
  EXPECT_FALSE(listed(cy, "archive"));
}

TEST(Admin, RefusalsSayWhy) {
  ServerProcess server(ServerOptions{kFast});
  auto missing = admin(server, {"delete-room", "nowhere"});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("no_such_room"), std::string::npos) << missing.output;

  auto general = admin(server, {"delete-room", "general"});
  EXPECT_EQ(general.exit_code, 1) << general.output;
  EXPECT_NE(general.output.find("bad_request"), std::string::npos) << general.output;

  auto unknown = admin(server, {"rename-room", "general"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_NE(unknown.output.find("unknown command"), std::string::npos) << unknown.output;

  // A long line is not read without end: refused, and the node stays up.
  RunResult flood = admin(server, {"delete-room", std::string(4000, 'x')});
  EXPECT_EQ(flood.exit_code, 1) << flood.output;
  EXPECT_NE(flood.output.find("too long"), std::string::npos) << flood.output;
  WsClient ada(server.port());
  ada.hello("ada");
  expect_alive(ada);

  server.stop();  // the socket goes with the node
  auto down = admin(server, {"delete-room", "ops"});
  EXPECT_EQ(down.exit_code, 2) << down.output;
  EXPECT_NE(down.output.find("cannot reach"), std::string::npos) << down.output;
}

}  // namespace
}  // namespace parley::it
