// core::RoomAccess: who may see, join, invite, remove and change roles in a room.
#include "core/room_access.hpp"

#include <gtest/gtest.h>

namespace parley::core {
namespace {

using A = RoomAction;

TEST(RoomAccess, APublicRoomIsOpenToAllButTheBanned) {
  RoomAccess r(RoomKind::public_room);
  r.set_role("u_owner", Role::owner);
  for (const std::string who : {"u_anyone", "x_from_jwt", "g_0123456789abcdef", ""}) {
    EXPECT_TRUE(r.may(who, A::see)) << who;
    EXPECT_TRUE(r.may(who, A::join)) << who;
    EXPECT_FALSE(r.may(who, A::invite)) << who;
    EXPECT_FALSE(r.may(who, A::remove)) << who;
  }
  r.ban("u_anyone");
  EXPECT_FALSE(r.may("u_anyone", A::join));
  EXPECT_FALSE(r.may("u_anyone", A::see));
  r.unban("u_anyone");
  EXPECT_TRUE(r.may("u_anyone", A::join));
}

TEST(RoomAccess, APrivateRoomIsItsMembersOnly) {
  RoomAccess r(RoomKind::private_room, "$argon2id$...");
  EXPECT_TRUE(r.is_private());
  r.set_role("u_ada", Role::owner);
  r.set_role("u_bob", Role::member);
  EXPECT_TRUE(r.may("u_bob", A::see));
  EXPECT_TRUE(r.may("u_bob", A::join));
  EXPECT_TRUE(r.may("u_bob", A::invite));
  EXPECT_FALSE(r.may("u_bob", A::remove));
  for (const std::string who : {"u_eve", "g_0123456789abcdef", ""}) {
    EXPECT_FALSE(r.may(who, A::see)) << who;
    EXPECT_FALSE(r.may(who, A::join)) << who;
    EXPECT_FALSE(r.may(who, A::invite)) << who;
  }
  // A guest's id lasts a connection: it never holds a role or a ban.
  r.set_role("g_0123456789abcdef", Role::member);
  r.set_role("", Role::owner);
  EXPECT_FALSE(r.may("g_0123456789abcdef", A::join));
  EXPECT_EQ(r.member_count(), 2u);
  // Banned: no longer a member either.
  r.ban("u_bob");
  EXPECT_EQ(r.role_of("u_bob"), Role::none);
  EXPECT_FALSE(r.may("u_bob", A::join));
  r.unban("u_bob");
  EXPECT_FALSE(r.may("u_bob", A::join)) << "unbanned is not a member again";
}

TEST(RoomAccess, OnlyAHigherRoleActsOnAnother) {
  RoomAccess r(RoomKind::private_room);
  r.set_role("u_owner", Role::owner);
  r.set_role("u_mod", Role::moderator);
  r.set_role("u_mod2", Role::moderator);
  r.set_role("u_member", Role::member);
  EXPECT_TRUE(r.may_act_on("u_owner", "u_mod", A::remove));
  EXPECT_TRUE(r.may_act_on("u_owner", "u_member", A::set_role));
  EXPECT_TRUE(r.may_act_on("u_mod", "u_member", A::remove));
  EXPECT_TRUE(r.may_act_on("u_mod", "u_stranger", A::remove)) << "a ban of a non-member";
  EXPECT_FALSE(r.may_act_on("u_mod", "u_mod2", A::remove));
  EXPECT_FALSE(r.may_act_on("u_mod", "u_owner", A::remove));
  EXPECT_FALSE(r.may_act_on("u_mod", "u_member", A::set_role)) << "only the owner changes roles";
  EXPECT_FALSE(r.may_act_on("u_member", "u_stranger", A::remove));
  EXPECT_FALSE(r.may_act_on("u_owner", "u_owner", A::remove)) << "not oneself";
}

TEST(RoomAccess, ADirectConversationIsItsTwoMembersWithNoPowers) {
  RoomAccess r(RoomKind::direct);
  r.set_role("u_ada", Role::member);
  r.set_role("u_bob", Role::member);
  EXPECT_TRUE(r.is_private());
  EXPECT_TRUE(r.is_direct());
  EXPECT_TRUE(r.may("u_ada", A::join));
  EXPECT_FALSE(r.may("u_cy", A::join));
  EXPECT_FALSE(r.may("u_cy", A::see));
  EXPECT_FALSE(r.may("u_ada", A::invite));
  EXPECT_FALSE(r.may_act_on("u_ada", "u_bob", A::remove));
  EXPECT_FALSE(r.may_act_on("u_ada", "u_bob", A::set_role));
}

// The server API (an operator's key, its bots) acts as each room's owner, holding no row, and
// has no say in a direct conversation.
TEST(RoomAccess, TheServerApiHasAnOwnersRightsButNotInADirectConversation) {
  EXPECT_TRUE(is_server_id("b_news"));
  EXPECT_FALSE(is_server_id("b_"));
  EXPECT_FALSE(is_account_id("b_news"));
  RoomAccess club(RoomKind::private_room);
  club.set_role("u_ada", Role::owner);
  club.set_role("u_bob", Role::moderator);
  EXPECT_TRUE(club.may("b_news", A::join));
  EXPECT_TRUE(club.may("b_news", A::invite));
  EXPECT_TRUE(club.may_act_on("b_ops", "u_bob", A::remove));
  EXPECT_TRUE(club.may_act_on("b_ops", "u_bob", A::set_role));
  EXPECT_FALSE(club.may_act_on("b_ops", "u_ada", A::remove));  // not the owner: a peer
  club.set_role("b_news", Role::member);                       // no row for it
  club.ban("b_news");
  EXPECT_FALSE(club.banned("b_news"));
  EXPECT_EQ(club.member_count(), 2u);
  RoomAccess lobby(RoomKind::public_room);
  EXPECT_FALSE(lobby.may("b_ops", A::invite));  // a public room needs no invitation
  RoomAccess dm(RoomKind::direct);
  dm.set_role("u_ada", Role::member);
  EXPECT_FALSE(dm.may("b_news", A::see));
  EXPECT_FALSE(dm.may_act_on("b_ops", "u_ada", A::remove));
}

TEST(RoomAccess, NamesRoundTripAndUnknownOnesAreRefused) {
  for (auto k : {RoomKind::public_room, RoomKind::private_room, RoomKind::direct})
    EXPECT_EQ(parse_kind(kind_name(k)), k);
  for (auto role : {Role::member, Role::moderator, Role::owner}) EXPECT_EQ(parse_role(role_name(role)), role);
  EXPECT_FALSE(parse_kind("secret"));
  EXPECT_FALSE(parse_role("admin"));
  EXPECT_FALSE(parse_role(""));
  EXPECT_TRUE(is_account_id("u_1"));
  EXPECT_TRUE(is_account_id("x_sub"));
  EXPECT_FALSE(is_account_id("g_1"));
  EXPECT_FALSE(is_account_id("u_"));
  EXPECT_FALSE(is_account_id("ada"));
}

}  // namespace
}  // namespace parley::core
