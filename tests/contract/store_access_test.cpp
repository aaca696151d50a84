// The Store's room access contract (src/store/store.hpp: a room's kind and password, its members
// with their roles, its bans), one typed suite over every implementation.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <tuple>

#include "protocol/errc.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using core::Role;
using core::RoomKind;
using store::Store;
using store::StoredAccess;
using store::StoredMember;
using store::StoredRoom;

template <class Backend>
class StoreAccess : public StoreFixture<Backend> {
 protected:
  Store& s() { return *this->store_; }

  std::error_code call(const std::function<void(Store::Done)>& f) {
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto fut = p->get_future();
    f([p](std::error_code ec) { p->set_value(ec); });
    return wait_for(fut);
  }
  std::error_code create(const StoredRoom& r) {
    return call([&](Store::Done d) { s().create_room(r, std::move(d)); });
  }
  StoredAccess access(const std::string& room) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, StoredAccess>>>();
    auto fut = p->get_future();
    s().load_access(room, [p](std::error_code ec, StoredAccess a) { p->set_value({ec, std::move(a)}); });
    auto [ec, a] = wait_for(fut);
    EXPECT_FALSE(ec) << ec.message();
    return a;
  }
  std::optional<StoredRoom> find(const std::string& room) {
    auto p = std::make_shared<std::promise<std::optional<StoredRoom>>>();
    auto fut = p->get_future();
    s().find_room(room, [p](std::error_code ec, std::optional<StoredRoom> r) {
      EXPECT_FALSE(ec);
      p->set_value(std::move(r));
    });
    return wait_for(fut);
  }
};

TYPED_TEST_SUITE(StoreAccess, Backends, BackendNames);

StoredRoom private_room(const std::string& id, const std::string& owner) {
  StoredRoom r{id, 0, 1'700'000'000'000, "ada"};
  r.kind = RoomKind::private_room;
  r.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$" + id;
  r.owner_id = owner;
  return r;
}

std::vector<std::pair<std::string, Role>> roles(const StoredAccess& a) {
  std::vector<std::pair<std::string, Role>> out;
  for (const auto& m : a.members) out.emplace_back(m.user_id, m.role);
  return out;
}

TYPED_TEST(StoreAccess, APrivateRoomKeepsItsKindPasswordAndOwnerAcrossARestart) {
  ASSERT_FALSE(this->create(private_room("secret", "u_ada")));
  ASSERT_FALSE(this->create(StoredRoom{"lobby", 0, 1'700'000'000'000, "bob"}));
  for (int round = 0; round < 2; ++round) {
    auto found = this->find("secret");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->kind, RoomKind::private_room);
    EXPECT_EQ(found->password_hash, "$argon2id$v=19$m=19456,t=2,p=1$secret");
    auto lobby = this->find("lobby");
    ASSERT_TRUE(lobby);
    EXPECT_EQ(lobby->kind, RoomKind::public_room);
    EXPECT_EQ(lobby->password_hash, "");
    const auto loaded = this->s().load_rooms();
    auto it = std::find_if(loaded.begin(), loaded.end(), [](const StoredRoom& r) { return r.id == "secret"; });
    ASSERT_NE(it, loaded.end());
    EXPECT_EQ(it->kind, RoomKind::private_room);
    EXPECT_EQ(it->password_hash, found->password_hash);
    // load_rooms and find_room carry the members and bans too.
    ASSERT_EQ(it->members.size(), 1u);
    EXPECT_EQ(it->members[0].user_id, "u_ada");
    ASSERT_EQ(found->members.size(), 1u);
    EXPECT_EQ(found->members[0].role, Role::owner);
    const auto a = this->access("secret");
    EXPECT_EQ(roles(a), (std::vector<std::pair<std::string, Role>>{{"u_ada", Role::owner}}));
    ASSERT_EQ(a.members.size(), 1u);
    EXPECT_EQ(a.members[0].since, 1'700'000'000'000);
    EXPECT_TRUE(this->access("lobby").members.empty());
    this->reopen();
  }
}

// A room's title and topic (update_room): stored with the room when created, changed by
// set_room_info (both at once; "" clears), carried by find_room and load_rooms, kept across a
// restart; setting them for a room that is gone is no error and makes no room.
TYPED_TEST(StoreAccess, ARoomsTitleAndTopicAreStoredChangedAndSurviveARestart) {
  StoredRoom ops{"ops", 0, 1'700'000'000'000, "ada"};
  ops.title = "Operations";
  ops.topic = "deploys at 14:00 \u00b7 \xe2\x9c\x93";
  ASSERT_FALSE(this->create(ops));
  ASSERT_FALSE(this->create(StoredRoom{"plain", 0, 1'700'000'000'000, "bob"}));
  auto found = this->find("ops");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->title, "Operations");
  EXPECT_EQ(found->topic, ops.topic);
  auto plain = this->find("plain");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->title, "");
  EXPECT_EQ(plain->topic, "");

  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().set_room_info("ops", "Ops \xe2\x80\x94 EU", "", d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().set_room_info("plain", "", "just a topic", d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().set_room_info("gone", "a title", "a topic", d); }));
  EXPECT_FALSE(this->find("gone"));
  for (int round = 0; round < 2; ++round) {
    found = this->find("ops");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->title, "Ops \xe2\x80\x94 EU");
    EXPECT_EQ(found->topic, "");
    plain = this->find("plain");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->title, "");
    EXPECT_EQ(plain->topic, "just a topic");
    const auto loaded = this->s().load_rooms();
    auto it = std::find_if(loaded.begin(), loaded.end(), [](const StoredRoom& r) { return r.id == "ops"; });
    ASSERT_NE(it, loaded.end());
    EXPECT_EQ(it->title, "Ops \xe2\x80\x94 EU");
    EXPECT_EQ(it->topic, "");
    this->reopen();
  }
  // A deleted room takes its title with it: a new room of the id starts without one.
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().delete_room("ops", d); }));
  ASSERT_FALSE(this->create(StoredRoom{"ops", 0, 1'700'000'005'000, "cy"}));
  found = this->find("ops");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->title, "");
}

// The roster: a room's members with their accounts' names and roles, in name order, bounded;
// a deleted account and a member without an account row (an operator's JWT id) are left out.
TYPED_TEST(StoreAccess, TheRosterNamesTheMembersInNameOrder) {
  for (const auto& [id, name] :
       {std::pair<std::string, std::string>{"u_ada", "ada"}, {"u_bob", "Bob"}, {"u_cy", "cy"}, {"u_dee", "dee"}}) {
    ASSERT_FALSE(this->call([&](Store::Done d) {
      this->s().create_user(store::StoredUser{id, name, name + "-key", "$argon2id$hash", 1, false}, d);
    }));
  }
  ASSERT_FALSE(this->create(private_room("club", "u_ada")));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().set_member("club", {"u_cy", Role::moderator, 2}, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().set_member("club", {"u_bob", Role::member, 3}, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().set_member("club", {"u_dee", Role::member, 4}, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().set_member("club", {"x_jwt", Role::member, 5}, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().delete_user("u_dee", d); }));
  auto roster = [&](std::size_t limit) {
    auto p = std::make_shared<std::promise<std::vector<store::StoredRosterEntry>>>();
    auto fut = p->get_future();
    this->s().load_roster("club", limit, [p](std::error_code ec, std::vector<store::StoredRosterEntry> rows) {
      EXPECT_FALSE(ec) << ec.message();
      p->set_value(std::move(rows));
    });
    std::vector<std::tuple<std::string, std::string, Role>> out;
    for (const auto& r : wait_for(fut)) out.emplace_back(r.user_id, r.name, r.role);
    return out;
  };
  // Byte order: "Bob" before "ada".
  using Row = std::tuple<std::string, std::string, Role>;
  EXPECT_EQ(roster(100),
            (std::vector<Row>{
                {"u_bob", "Bob", Role::member}, {"u_ada", "ada", Role::owner}, {"u_cy", "cy", Role::moderator}}));
  EXPECT_EQ(roster(2).size(), 2u);
}

TYPED_TEST(StoreAccess, MembersRolesAndBansChangeAsAskedAndSurviveARestart) {
  ASSERT_FALSE(this->create(private_room("club", "u_ada")));
  ASSERT_FALSE(this->call([&](Store::Done d) {
    this->s().set_member("club", {"u_bob", Role::member, 1'700'000'002'000}, d);
  }));
  ASSERT_FALSE(this->call([&](Store::Done d) {
    this->s().set_member("club", {"u_cy", Role::member, 1'700'000'003'000}, d);
  }));
  // A member again: the role changes, the date stays.
  ASSERT_FALSE(this->call([&](Store::Done d) {
    this->s().set_member("club", {"u_bob", Role::moderator, 1'700'000'009'000}, d);
  }));
  auto a = this->access("club");
  EXPECT_EQ(roles(a), (std::vector<std::pair<std::string, Role>>{
                          {"u_ada", Role::owner}, {"u_bob", Role::moderator}, {"u_cy", Role::member}}));
  EXPECT_EQ(a.members[1].since, 1'700'000'002'000);
  // Removed, and removed with a ban; removing a non-member is no error.
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().remove_member("club", "u_bob", false, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().remove_member("club", "u_cy", true, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().remove_member("club", "u_nobody", false, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().remove_member("club", "u_eve", true, d); }));
  this->reopen();
  a = this->access("club");
  EXPECT_EQ(roles(a), (std::vector<std::pair<std::string, Role>>{{"u_ada", Role::owner}}));
  EXPECT_EQ(a.banned, (std::vector<std::string>{"u_cy", "u_eve"}));
  const auto loaded = this->s().load_rooms();
  auto club = std::find_if(loaded.begin(), loaded.end(), [](const StoredRoom& r) { return r.id == "club"; });
  ASSERT_NE(club, loaded.end());
  EXPECT_EQ(club->banned, a.banned);
  EXPECT_EQ(club->members.size(), 1u);
  // A ban twice is one ban; unban lifts it, and unbanning again is no error.
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().remove_member("club", "u_cy", true, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().unban("club", "u_cy", d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().unban("club", "u_cy", d); }));
  EXPECT_EQ(this->access("club").banned, (std::vector<std::string>{"u_eve"}));
  // Another room's rows are its own.
  EXPECT_TRUE(this->access("other").members.empty());
  EXPECT_TRUE(this->access("other").banned.empty());
}

TYPED_TEST(StoreAccess, ADeletedRoomTakesItsMembersAndBansWithIt) {
  ASSERT_FALSE(this->create(private_room("gone", "u_ada")));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().remove_member("gone", "u_eve", true, d); }));
  ASSERT_FALSE(this->call([&](Store::Done d) { this->s().delete_room("gone", d); }));
  const auto a = this->access("gone");
  EXPECT_TRUE(a.members.empty());
  EXPECT_TRUE(a.banned.empty());
  // A public room of the same id later starts without them; a creation without an owner has none.
  ASSERT_FALSE(this->create(StoredRoom{"gone", 0, 1'700'000'000'001, "bob"}));
  EXPECT_TRUE(this->access("gone").members.empty());
}

TYPED_TEST(StoreAccess, ADirectConversationIsCreatedWithItsTwoMembersAndPeers) {
  StoredRoom dm{"dm-0123456789abcdef01234567", 0, 1'700'000'000'000, "ada"};
  dm.kind = RoomKind::direct;
  dm.peers = "u_ada\tada\nu_bob\tbob";
  dm.members = {{"u_ada", Role::member, 0}, {"u_bob", Role::member, 0}};
  ASSERT_FALSE(this->create(dm));
  this->reopen();
  auto found = this->find(dm.id);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->kind, RoomKind::direct);
  EXPECT_EQ(found->peers, dm.peers);
  EXPECT_EQ(roles(this->access(dm.id)),
            (std::vector<std::pair<std::string, Role>>{{"u_ada", Role::member}, {"u_bob", Role::member}}));
  // The same creation again (a retry after a lost answer) is that creation.
  EXPECT_FALSE(this->create(dm));
}

}  // namespace
}  // namespace parley::contract
