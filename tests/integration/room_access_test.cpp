// Private rooms, roles and moderation (docs/protocol.md, "Private rooms and moderation"): every
// access decision and its refusal, as members, strangers, guests and removed users try them,
// against the real binary.
#include <gtest/gtest.h>

#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

// A registered account's WebSocket client, welcomed with its token.
// The ids of the rooms `c` is shown.
std::set<std::string> listed(WsClient& c) {
  auto r = c.request({{"type", "rooms"}});
  EXPECT_EQ(type_of(r), "rooms") << dump(r);
  std::set<std::string> out;
  for (const auto& v : r.at("rooms").as_array()) out.insert(std::string(v.as_object().at("room").as_string()));
  return out;
}

json::object create_private(WsClient& c, const std::string& room, const std::string& password = {}) {
  json::object req{{"type", "create"}, {"room", room}, {"private", true}};
  if (!password.empty()) req["password"] = password;
  return c.request(std::move(req));
}

TEST(RoomAccess, APrivateRoomIsListedToAndJoinedByItsMembersOnly) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  WsClient guest(server.port());
  guest.hello("carol");

  auto created = create_private(*ada, "club", "club password");
  ASSERT_EQ(type_of(created), "created") << dump(created);
  EXPECT_TRUE(created.at("private").as_bool());
  // Nobody else is told of it, and only its members see it listed.
  EXPECT_TRUE(bob->expect_no_event(200ms));
  EXPECT_TRUE(listed(*ada).contains("club"));
  EXPECT_FALSE(listed(*bob).contains("club"));
  EXPECT_FALSE(listed(guest).contains("club"));
  auto joined = ada->join("club");
  EXPECT_EQ(str(joined, "role"), "owner") << dump(joined);
  EXPECT_TRUE(joined.at("private").as_bool());

  // A stranger: no password, a wrong one, then the right one makes a member.
  expect_error(*bob, {{"type", "join"}, {"room", "club"}}, "forbidden");
  expect_error(*bob, {{"type", "join"}, {"room", "club"}, {"password", "wrong password"}}, "bad_password");
  expect_error(*bob, {{"type", "send"}, {"room", "club"}, {"cid", "c1"}, {"text", "hi"}}, "not_joined");
  expect_error(*bob, {{"type", "history"}, {"room", "club"}}, "not_joined");
  auto in = bob->request({{"type", "join"}, {"room", "club"}, {"password", "club password"}});
  ASSERT_EQ(type_of(in), "joined") << dump(in);
  EXPECT_EQ(str(in, "role"), "member");
  bob->send_message("club", "c1", "hello club");
  ASSERT_TRUE(ada->wait_for("message", [](const json::object& m) { return str(m, "text") == "hello club"; }));

  // Membership lasts: a new session of bob's joins without the password and sees it listed.
  auto again = std::make_unique<WsClient>(server.port());
  auto tok = login(server.port(), "bob", "correct horse", true);
  auto w = again->request({{"type", "hello"}, {"token", tok.json().as_object().at("token").as_string()}});
  ASSERT_EQ(type_of(w), "welcome");
  EXPECT_TRUE(listed(*again).contains("club"));
  EXPECT_EQ(type_of(again->request({{"type", "join"}, {"room", "club"}})), "joined");

  // A guest can neither join nor create a private room, password or not.
  expect_error(guest, {{"type", "join"}, {"room", "club"}, {"password", "club password"}}, "forbidden");
  expect_error(guest, {{"type", "create"}, {"room", "mine"}, {"private", true}}, "forbidden");
  expect_error(*ada, {{"type", "create"}, {"room", "pub"}, {"password", "a password!"}}, "bad_request");
  expect_error(*ada, {{"type", "create"}, {"room", "short"}, {"private", true}, {"password", "short"}}, "bad_request");
  expect_error(*ada, {{"type", "create"}, {"room", "x"}, {"private", "yes"}}, "bad_request");
}

TEST(RoomAccess, InvitationsRolesAndWhoMayDoWhat) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  auto cy = account(server, "cy");
  ASSERT_EQ(type_of(create_private(*ada, "team")), "created");
  // Without a password: by invitation only.
  expect_error(*bob, {{"type", "join"}, {"room", "team"}, {"password", "anything at all"}}, "forbidden");
  expect_error(*bob, {{"type", "invite"}, {"room", "team"}, {"user", "cy"}}, "forbidden");
  expect_error(*ada, {{"type", "invite"}, {"room", "team"}, {"user", "nobody"}}, "no_such_user");
  auto invited = ada->request({{"type", "invite"}, {"room", "team"}, {"user", "Bob"}});
  ASSERT_EQ(type_of(invited), "invited") << dump(invited);
  EXPECT_EQ(str(invited, "user"), "bob");
  EXPECT_EQ(type_of(bob->join("team")), "joined");
  // A member invites too; only the owner changes roles; a moderator removes members only.
  EXPECT_EQ(type_of(bob->request({{"type", "invite"}, {"room", "team"}, {"user", "cy"}})), "invited");
  expect_error(*bob, {{"type", "set_role"}, {"room", "team"}, {"user", "cy"}, {"role", "moderator"}}, "forbidden");
  expect_error(*bob, {{"type", "remove"}, {"room", "team"}, {"user", "cy"}}, "forbidden");
  expect_error(*ada, {{"type", "set_role"}, {"room", "team"}, {"user", "bob"}, {"role", "owner"}}, "bad_request");
  auto role = ada->request({{"type", "set_role"}, {"room", "team"}, {"user", "bob"}, {"role", "moderator"}});
  ASSERT_EQ(type_of(role), "role") << dump(role);
  EXPECT_EQ(str(role, "role"), "moderator");
  expect_error(*bob, {{"type", "remove"}, {"room", "team"}, {"user", "ada"}}, "forbidden");
  EXPECT_EQ(type_of(cy->join("team")), "joined");
  auto removed = bob->request({{"type", "remove"}, {"room", "team"}, {"user", "cy"}});
  ASSERT_EQ(type_of(removed), "removed") << dump(removed);
  EXPECT_EQ(str(removed, "by"), "bob");
  // Removed without a ban: out, and back only by another invitation.
  ASSERT_TRUE(cy->wait_for("removed"));
  expect_error(*cy, {{"type", "join"}, {"room", "team"}}, "forbidden");
  // A guest cannot manage anything.
  WsClient guest(server.port());
  guest.hello("dora");
  expect_error(guest, {{"type", "invite"}, {"room", "team"}, {"user", "bob"}}, "forbidden");
}

TEST(RoomAccess, ABannedMemberIsOutAtOnceAndStaysOutUntilUnbanned) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  ASSERT_EQ(type_of(create_private(*ada, "club", "club password")), "created");
  ada->join("club");
  ASSERT_EQ(type_of(bob->request({{"type", "join"}, {"room", "club"}, {"password", "club password"}})), "joined");
  bob->clear();

  auto banned = ada->request({{"type", "remove"}, {"room", "club"}, {"user", "bob"}, {"ban", true}});
  ASSERT_EQ(type_of(banned), "removed") << dump(banned);
  EXPECT_TRUE(banned.at("banned").as_bool());
  auto told = bob->wait_for("removed");
  ASSERT_TRUE(told);
  EXPECT_EQ(str(*told, "room"), "club");
  EXPECT_EQ(str(*told, "by"), "ada");
  // No longer in it: nothing more of it reaches bob, and nothing of bob's reaches it.
  ada->send_message("club", "a1", "after the ban");
  EXPECT_FALSE(bob->wait_for("message", {}, 300ms));
  expect_error(*bob, {{"type", "send"}, {"room", "club"}, {"cid", "b1"}, {"text", "still here?"}}, "not_joined");
  expect_error(*bob, {{"type", "join"}, {"room", "club"}, {"password", "club password"}}, "forbidden");
  EXPECT_FALSE(listed(*bob).contains("club"));
  // Across a restart too.
  ada.reset();
  bob.reset();
  server.stop();
  server.restart();
  auto bob_again = std::make_unique<WsClient>(server.port());
  auto tok = login(server.port(), "bob", "correct horse", true);
  ASSERT_EQ(type_of(bob_again->request({{"type", "hello"}, {"token", tok.json().as_object().at("token").as_string()}})),
            "welcome");
  expect_error(*bob_again, {{"type", "join"}, {"room", "club"}, {"password", "club password"}}, "forbidden");
  auto ada_again = std::make_unique<WsClient>(server.port());
  auto ta = login(server.port(), "ada", "correct horse", true);
  ASSERT_EQ(type_of(ada_again->request({{"type", "hello"}, {"token", ta.json().as_object().at("token").as_string()}})),
            "welcome");
  EXPECT_EQ(type_of(ada_again->request({{"type", "unban"}, {"room", "club"}, {"user", "bob"}})), "unbanned");
  EXPECT_EQ(type_of(bob_again->request({{"type", "join"}, {"room", "club"}, {"password", "club password"}})), "joined");
}

TEST(RoomAccess, APublicRoomsOwnerBansAnAccountAndGuestsStayWelcome) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  ASSERT_EQ(type_of(ada->create("agora")), "created");
  bob->join("agora");
  WsClient guest(server.port());
  guest.hello("carol");
  guest.join("agora");
  EXPECT_EQ(type_of(ada->request({{"type", "remove"}, {"room", "agora"}, {"user", "bob"}, {"ban", true}})), "removed");
  ASSERT_TRUE(bob->wait_for("removed"));
  expect_error(*bob, {{"type", "join"}, {"room", "agora"}}, "forbidden");
  EXPECT_FALSE(listed(*bob).contains("agora"));
  // Kicked without a ban from a public room: back at once if they like.
  auto dora = account(server, "dora");
  dora->join("agora");
  EXPECT_EQ(type_of(ada->request({{"type", "remove"}, {"room", "agora"}, {"user", "dora"}})), "removed");
  ASSERT_TRUE(dora->wait_for("removed"));
  EXPECT_EQ(type_of(dora->join("agora")), "joined");
  guest.send_message("agora", "g1", "guests still welcome");
}

TEST(RoomAccess, RoomPasswordGuessesSpendTheSignInBudget) {
  ServerProcess server(with_accounts({"auth.signin_burst_per_account=3", "auth.signin_rate_per_account=0.01"}));
  auto ada = account(server, "ada");
  auto eve = account(server, "eve");
  ASSERT_EQ(type_of(create_private(*ada, "vault", "vault password")), "created");
  for (int i = 0; i < 3; ++i)
    expect_error(*eve, {{"type", "join"}, {"room", "vault"}, {"password", "guess " + std::to_string(i)}},
                 "bad_password");
  auto r = eve->request({{"type", "join"}, {"room", "vault"}, {"password", "vault password"}});
  EXPECT_EQ(str(r, "code"), "rate_limited") << dump(r);
  EXPECT_GT(u64(r, "retry_after_ms"), 0u);
}

TEST(RoomAccess, ADirectConversationIsItsTwoAccountsOnly) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  auto cy = account(server, "cy");
  auto dm = ada->request({{"type", "dm"}, {"user", "Bob"}});
  ASSERT_EQ(type_of(dm), "dm") << dump(dm);
  const std::string room = str(dm, "room");
  EXPECT_TRUE(room.starts_with("dm-")) << room;
  EXPECT_EQ(str(dm, "user"), "bob");
  // bob hears of it; cy does not, and does not see it listed.
  auto told = bob->wait_for("created", [&](const json::object& e) { return str(e, "room") == room; });
  ASSERT_TRUE(told);
  EXPECT_EQ(str(*told, "by"), "ada");
  EXPECT_TRUE(told->at("direct").as_bool());
  EXPECT_FALSE(cy->wait_for("created", {}, 200ms));
  EXPECT_FALSE(listed(*cy).contains(room));
  // One per pair, whoever asks.
  auto back = bob->request({{"type", "dm"}, {"user", "ada"}});
  EXPECT_EQ(str(back, "room"), room) << dump(back);
  auto rooms = bob->request({{"type", "rooms"}});
  bool found = false;
  for (const auto& v : rooms.at("rooms").as_array()) {
    const auto& r = v.as_object();
    if (str(r, "room") != room) continue;
    found = true;
    EXPECT_TRUE(r.at("direct").as_bool());
    EXPECT_EQ(str(r, "with"), "ada");
  }
  EXPECT_TRUE(found) << dump(rooms);
  ada->join(room);
  bob->join(room);
  ada->send_message(room, "d1", "just us");
  ASSERT_TRUE(bob->wait_for("message", [](const json::object& m) { return str(m, "text") == "just us"; }));
  // A third account: no join, no invitation, no moderation; a guest: no conversation at all.
  expect_error(*cy, {{"type", "join"}, {"room", room}}, "forbidden");
  expect_error(*ada, {{"type", "invite"}, {"room", room}, {"user", "cy"}}, "forbidden");
  expect_error(*ada, {{"type", "remove"}, {"room", room}, {"user", "bob"}}, "forbidden");
  expect_error(*ada, {{"type", "dm"}, {"user", "ada"}}, "bad_request");
  expect_error(*ada, {{"type", "dm"}, {"user", "nobody"}}, "no_such_user");
  expect_error(*cy, {{"type", "create"}, {"room", room}}, "bad_room");
  WsClient guest(server.port());
  guest.hello("dora");
  expect_error(guest, {{"type", "dm"}, {"user", "ada"}}, "forbidden");
}

// Room settings (docs/protocol.md, "Room settings"): the owner alone renames the room and sets
// its topic, which every member in the room hears and `rooms` and `joined` carry from then on.
TEST(RoomAccess, OnlyTheOwnerSetsATitleAndATopicAndTheMembersHearIt) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  auto cy = account(server, "cy");
  auto eve = account(server, "eve");
  ASSERT_EQ(type_of(create_private(*ada, "team")), "created");
  for (const char* who : {"bob", "cy"})
    ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "team"}, {"user", who}})), "invited");
  ASSERT_EQ(type_of(ada->request({{"type", "set_role"}, {"room", "team"}, {"user", "bob"}, {"role", "moderator"}})),
            "role");
  ada->join("team");
  bob->join("team");
  cy->join("team");
  bob->clear();
  cy->clear();

  auto updated = ada->request({{"type", "update_room"}, {"room", "team"}, {"title", "The Team"}, {"topic", "ship it"}});
  ASSERT_EQ(type_of(updated), "room_updated") << dump(updated);
  EXPECT_EQ(str(updated, "title"), "The Team");
  EXPECT_EQ(str(updated, "topic"), "ship it");
  EXPECT_EQ(str(updated, "by"), "ada");
  for (auto* member : {bob.get(), cy.get()}) {
    auto heard = member->wait_for("room_updated");
    ASSERT_TRUE(heard);
    EXPECT_EQ(str(*heard, "title"), "The Team");
    EXPECT_EQ(str(*heard, "topic"), "ship it");
    EXPECT_EQ(str(*heard, "by"), "ada");
    EXPECT_FALSE(heard->contains("ref"));
  }
  // The owner hears it once: its answer, not the broadcast as well.
  EXPECT_FALSE(ada->wait_for("room_updated", {}, 200ms));
  // A field left out stays; "" clears.
  auto cleared = ada->request({{"type", "update_room"}, {"room", "team"}, {"topic", ""}});
  EXPECT_EQ(str(cleared, "title"), "The Team") << dump(cleared);
  EXPECT_EQ(str(cleared, "topic"), "");

  // A moderator, a member, a stranger and a guest may not; nor may anyone in a guest's room.
  for (auto* other : {bob.get(), cy.get(), eve.get()})
    expect_error(*other, {{"type", "update_room"}, {"room", "team"}, {"title", "mine now"}}, "forbidden");
  WsClient guest(server.port());
  guest.hello("dora");
  expect_error(guest, {{"type", "update_room"}, {"room", "team"}, {"title", "mine now"}}, "forbidden");
  ASSERT_EQ(type_of(guest.create("lounge")), "created");
  expect_error(*ada, {{"type", "update_room"}, {"room", "lounge"}, {"title", "mine now"}}, "forbidden");
  expect_error(*ada, {{"type", "update_room"}, {"room", "nowhere"}, {"title", "x"}}, "no_such_room");

  // What a title and a topic may be.
  expect_error(*ada, {{"type", "update_room"}, {"room", "team"}}, "bad_request");
  expect_error(*ada, {{"type", "update_room"}, {"room", "team"}, {"title", std::string(65, 'x')}}, "bad_request");
  expect_error(*ada, {{"type", "update_room"}, {"room", "team"}, {"topic", std::string(257, 'x')}}, "bad_request");
  expect_error(*ada, {{"type", "update_room"}, {"room", "team"}, {"title", "two\nlines"}}, "bad_request");
  expect_error(*ada, {{"type", "update_room"}, {"room", "team"}, {"title", "\u200b\u2060 "}}, "bad_request");
  expect_error(*ada, {{"type", "update_room"}, {"room", "team"}, {"title", 7}}, "bad_request");
  // 64 characters that take more bytes are fine.
  std::string wide;
  for (int i = 0; i < 64; ++i) wide += "\xc3\xa9";
  EXPECT_EQ(type_of(ada->request({{"type", "update_room"}, {"room", "team"}, {"title", wide}})), "room_updated");

  // Carried by `rooms` (with the user's role) and `joined`, and kept across a restart.
  ada.reset();
  bob.reset();
  cy.reset();
  server.stop();
  server.restart();
  auto bob_again = std::make_unique<WsClient>(server.port());
  auto tok = login(server.port(), "bob", "correct horse", true);
  ASSERT_EQ(type_of(bob_again->request({{"type", "hello"}, {"token", tok.json().as_object().at("token").as_string()}})),
            "welcome");
  auto rooms = bob_again->request({{"type", "rooms"}});
  bool found = false;
  for (const auto& v : rooms.at("rooms").as_array()) {
    const auto& r = v.as_object();
    if (str(r, "room") != "team") continue;
    found = true;
    EXPECT_EQ(str(r, "title"), wide);
    EXPECT_FALSE(r.contains("topic"));
    EXPECT_EQ(str(r, "role"), "moderator");
  }
  EXPECT_TRUE(found) << dump(rooms);
  auto joined = bob_again->join("team");
  EXPECT_EQ(str(joined, "title"), wide) << dump(joined);
}

// The owner deletes the room: everyone in it is out and told, a stranger to a private room hears
// nothing of it, the id is free again; nobody else may, and the default room stays.
TEST(RoomAccess, OnlyTheOwnerDeletesTheRoom) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  auto cy = account(server, "cy");
  auto eve = account(server, "eve");
  ASSERT_EQ(type_of(create_private(*ada, "team")), "created");
  for (const char* who : {"bob", "cy"})
    ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "team"}, {"user", who}})), "invited");
  ASSERT_EQ(type_of(ada->request({{"type", "set_role"}, {"room", "team"}, {"user", "bob"}, {"role", "moderator"}})),
            "role");
  ada->join("team");
  bob->join("team");
  ada->send_message("team", "a1", "soon gone");
  for (auto* other : {bob.get(), cy.get(), eve.get()})
    expect_error(*other, {{"type", "delete_room"}, {"room", "team"}}, "forbidden");
  WsClient guest(server.port());
  guest.hello("dora");
  expect_error(guest, {{"type", "delete_room"}, {"room", "team"}}, "forbidden");
  expect_error(*ada, {{"type", "delete_room"}, {"room", "general"}}, "forbidden");  // the operator's, no owner
  expect_error(*ada, {{"type", "delete_room"}, {"room", "nowhere"}}, "no_such_room");
  bob->clear();
  cy->clear();
  eve->clear();

  auto deleted = ada->request({{"type", "delete_room"}, {"room", "team"}});
  ASSERT_EQ(type_of(deleted), "room_deleted") << dump(deleted);
  EXPECT_EQ(str(deleted, "by"), "ada");
  // The member in it and the member who was not both hear it; the stranger does not.
  for (auto* member : {bob.get(), cy.get()}) {
    auto told = member->wait_for("room_deleted");
    ASSERT_TRUE(told);
    EXPECT_EQ(str(*told, "room"), "team");
    EXPECT_EQ(str(*told, "by"), "ada");
  }
  EXPECT_FALSE(eve->wait_for("room_deleted", {}, 300ms));
  EXPECT_FALSE(ada->wait_for("room_deleted", {}, 100ms)) << "the owner heard it twice";
  expect_error(*bob, {{"type", "send"}, {"room", "team"}, {"cid", "b1"}, {"text", "hello?"}}, "not_joined");
  expect_error(*bob, {{"type", "join"}, {"room", "team"}}, "no_such_room");
  EXPECT_FALSE(listed(*bob).contains("team"));
  // The id is free: a new room, without the old one's messages.
  ASSERT_EQ(type_of(eve->create("team")), "created");
  auto fresh = eve->join("team");
  EXPECT_EQ(u64(fresh, "last_seq"), 0u) << dump(fresh);
}

// The roster: who is in the room (with roles; a guest without one), then the members who are not,
// each in name order, in pages; only for those in the room.
TEST(RoomAccess, TheRosterListsWhoIsInTheRoomThenTheOtherMembers) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  auto cy = account(server, "cy");
  auto eve = account(server, "eve");
  ASSERT_EQ(type_of(create_private(*ada, "team")), "created");
  for (const char* who : {"bob", "cy"})
    ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "team"}, {"user", who}})), "invited");
  ASSERT_EQ(type_of(ada->request({{"type", "set_role"}, {"room", "team"}, {"user", "bob"}, {"role", "moderator"}})),
            "role");
  ada->join("team");
  cy->join("team");
  auto rows = [](const json::object& r) {
    std::vector<std::string> out;
    for (const auto& v : r.at("members").as_array()) {
      const auto& m = v.as_object();
      out.push_back(std::string(m.at("user").as_string()) + ":" +
                    (m.contains("role") ? std::string(m.at("role").as_string()) : std::string("-")) + ":" +
                    (m.at("online").as_bool() ? "online" : "offline"));
    }
    return out;
  };
  auto all = ada->request({{"type", "roster"}, {"room", "team"}});
  ASSERT_EQ(type_of(all), "roster") << dump(all);
  EXPECT_EQ(rows(all), (std::vector<std::string>{"ada:owner:online", "cy:member:online", "bob:moderator:offline"}));
  EXPECT_FALSE(all.contains("next"));
  // In pages: the cursor crosses from those in the room to the others.
  auto first = cy->request({{"type", "roster"}, {"room", "team"}, {"limit", 2}});
  EXPECT_EQ(rows(first), (std::vector<std::string>{"ada:owner:online", "cy:member:online"}));
  auto second = cy->request({{"type", "roster"}, {"room", "team"}, {"limit", 2}, {"after", str(first, "next")}});
  EXPECT_EQ(rows(second), (std::vector<std::string>{"bob:moderator:offline"})) << dump(second);
  EXPECT_FALSE(second.contains("next"));
  // bob arrives: online now, in name order among those in the room.
  bob->join("team");
  EXPECT_EQ(rows(ada->request({{"type", "roster"}, {"room", "team"}})),
            (std::vector<std::string>{"ada:owner:online", "bob:moderator:online", "cy:member:online"}));
  // Only from within the room.
  expect_error(*eve, {{"type", "roster"}, {"room", "team"}}, "not_joined");
  // A public room: a guest in it is listed without a role.
  ASSERT_EQ(type_of(ada->create("agora")), "created");
  ada->join("agora");
  WsClient guest(server.port());
  guest.hello("dora");
  guest.join("agora");
  EXPECT_EQ(rows(guest.request({{"type", "roster"}, {"room", "agora"}})),
            (std::vector<std::string>{"ada:owner:online", "dora:-:online"}));
}

// Leaving for good: a member removes themselves (every session of theirs is out, and only an
// invitation brings them back); the owner cannot, nor can anyone ban themselves.
TEST(RoomAccess, AMemberLeavesForGoodButTheOwnerCannot) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  ASSERT_EQ(type_of(create_private(*ada, "team")), "created");
  ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "team"}, {"user", "bob"}})), "invited");
  ada->join("team");
  bob->join("team");
  expect_error(*ada, {{"type", "remove"}, {"room", "team"}, {"user", "ada"}}, "forbidden");
  expect_error(*bob, {{"type", "remove"}, {"room", "team"}, {"user", "bob"}, {"ban", true}}, "forbidden");
  bob->clear();
  auto left = bob->request({{"type", "remove"}, {"room", "team"}, {"user", "bob"}});
  ASSERT_EQ(type_of(left), "removed") << dump(left);
  EXPECT_EQ(str(left, "by"), "bob");
  ASSERT_TRUE(bob->wait_for("removed", [](const json::object& e) { return !e.contains("ref"); }));
  expect_error(*bob, {{"type", "send"}, {"room", "team"}, {"cid", "b1"}, {"text", "still here?"}}, "not_joined");
  expect_error(*bob, {{"type", "join"}, {"room", "team"}}, "forbidden");
  EXPECT_FALSE(listed(*bob).contains("team"));
  // Not a member any more: nothing left to give up.
  expect_error(*bob, {{"type", "remove"}, {"room", "team"}, {"user", "bob"}}, "forbidden");
  ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "team"}, {"user", "bob"}})), "invited");
  EXPECT_EQ(type_of(bob->join("team")), "joined");
}

// An invited user's open sessions hear of it at once, so that their room list shows the room.
TEST(RoomAccess, AnInvitedUsersSessionsHearOfIt) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  auto cy = account(server, "cy");
  ASSERT_EQ(type_of(create_private(*ada, "team")), "created");
  ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "team"}, {"user", "bob"}})), "invited");
  auto told = bob->wait_for("invited");
  ASSERT_TRUE(told);
  EXPECT_EQ(str(*told, "room"), "team");
  EXPECT_EQ(str(*told, "user"), "bob");
  EXPECT_EQ(str(*told, "by"), "ada");
  EXPECT_FALSE(told->contains("ref"));
  EXPECT_FALSE(cy->wait_for("invited", {}, 200ms));
  // Invited again: already a member, nothing new to hear.
  ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "team"}, {"user", "bob"}})), "invited");
  EXPECT_FALSE(bob->wait_for("invited", {}, 200ms));
}

}  // namespace
}  // namespace parley::it
