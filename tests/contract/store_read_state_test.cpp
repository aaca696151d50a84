// The Store's read-state contract (src/store/store.hpp: set_read, read_states, room_reads), one
// typed suite over every implementation.
#include <gtest/gtest.h>

#include <functional>

#include "core/names.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using store::Store;
using store::StoredReadState;
using store::StoredRoom;
using store::StoredSeen;
using store::StoredUser;

template <class Backend>
class StoreReadState : public StoreFixture<Backend> {
 protected:
  Store& s() { return *this->store_; }

  std::uint64_t set_read(const std::string& user, const std::string& room, std::uint64_t seq) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, std::uint64_t>>>();
    auto fut = p->get_future();
    s().set_read(user, room, seq, [p](std::error_code ec, std::uint64_t stored) { p->set_value({ec, stored}); });
    auto [ec, stored] = wait_for(fut);
    EXPECT_FALSE(ec) << ec.message();
    return stored;
  }
  std::vector<StoredReadState> states(const std::string& user, const std::string& name,
                                      std::vector<std::string> rooms) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, std::vector<StoredReadState>>>>();
    auto fut = p->get_future();
    s().read_states(user, core::name_skeleton(name), std::move(rooms),
                    [p](std::error_code ec, std::vector<StoredReadState> out) {
                      p->set_value({ec, std::move(out)});
                    });
    auto [ec, out] = wait_for(fut);
    EXPECT_FALSE(ec) << ec.message();
    return out;
  }
  std::vector<StoredSeen> seen(const std::string& room, std::size_t limit) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, std::vector<StoredSeen>>>>();
    auto fut = p->get_future();
    s().room_reads(room, limit, [p](std::error_code ec, std::vector<StoredSeen> out) {
      p->set_value({ec, std::move(out)});
    });
    auto [ec, out] = wait_for(fut);
    EXPECT_FALSE(ec) << ec.message();
    return out;
  }
  void user(const std::string& id, const std::string& name) {
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto fut = p->get_future();
    s().create_user(StoredUser{id, name, core::name_skeleton(name), "$argon2id$x", 1, false},
                    [p](std::error_code ec) { p->set_value(ec); });
    ASSERT_FALSE(wait_for(fut));
  }
  // A message of `room` at `seq` sent by `from_id`.
  static core::Message from(const std::string& room, std::uint64_t seq, const std::string& from_id,
                            std::string text = {}) {
    auto m = make_message(room, seq, std::move(text));
    m.from_id = from_id;
    m.cid = "c-" + room + "-" + std::to_string(seq);
    return m;
  }
};

TYPED_TEST_SUITE(StoreReadState, Backends, BackendNames);

TYPED_TEST(StoreReadState, AMarkOnlyRisesAndSurvivesARestart) {
  EXPECT_EQ(this->set_read("u_ada", "general", 5), 5u);
  EXPECT_EQ(this->set_read("u_ada", "general", 3), 5u);  // late or repeated: never lowered
  EXPECT_EQ(this->set_read("u_ada", "general", 9), 9u);
  EXPECT_EQ(this->set_read("u_bob", "general", 2), 2u);  // per user
  EXPECT_EQ(this->set_read("u_ada", "ops", 1), 1u);      // and per room
  this->reopen();
  auto got = this->states("u_ada", "ada", {"general", "ops", "none"});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].room, "general");
  EXPECT_EQ(got[0].last_read, 9u);
  EXPECT_EQ(got[1].last_read, 1u);
  EXPECT_EQ(got[2].room, "none");
  EXPECT_EQ(got[2].last_read, 0u);
  EXPECT_EQ(got[2].unread, 0u);
}

TYPED_TEST(StoreReadState, UnreadCountsOthersMessagesAfterTheMarkAndTheirMentions) {
  auto& s = this->s();
  s.create_room_now(StoredRoom{"general", 0, 1, "system"});
  std::vector<core::Message> batch{
      this->from("general", 1, "u_bob", "hello @ada"),  // read
      this->from("general", 2, "u_bob", "plain"),
      this->from("general", 3, "u_ada", "mine, @ada myself"),  // one's own: not unread
      this->from("general", 4, "u_bob", "hey @ADA, look"),     // a mention, in any case
      this->from("general", 5, "u_bob", "@adam is someone else"),
      this->from("general", 6, "u_bob", "mail ada@example.org"),
  };
  ASSERT_FALSE(append_sync(s, batch));
  // An edit and a delete are entries of the sequence, not unread messages; a deleted message is
  // not unread either.
  auto edit = this->from("general", 7, "u_bob", "plain, edited @ada");
  edit.kind = core::MessageKind::edit;
  edit.target = 2;
  auto del = this->from("general", 8, "u_bob");
  del.text.clear();
  del.kind = core::MessageKind::remove;
  del.target = 5;
  ASSERT_FALSE(append_sync(s, {edit, del}));
  this->set_read("u_ada", "general", 1);
  auto got = this->states("u_ada", "ada", {"general"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].last_read, 1u);
  EXPECT_EQ(got[0].unread, 3u);    // 2, 4, 6
  EXPECT_EQ(got[0].mentions, 2u);  // 4, and 2 as edited ("@ada" in its text now)
  // bob: ada's one message is unread (he has no mark), and it does not mention him.
  got = this->states("u_bob", "bob", {"general"});
  EXPECT_EQ(got[0].unread, 1u);
  EXPECT_EQ(got[0].mentions, 0u);
  this->set_read("u_ada", "general", 8);
  got = this->states("u_ada", "ada", {"general"});
  EXPECT_EQ(got[0].unread, 0u);
  EXPECT_EQ(got[0].mentions, 0u);
}

TYPED_TEST(StoreReadState, UnreadIsCountedUpToItsBound) {
  auto& s = this->s();
  s.create_room_now(StoredRoom{"busy", 0, 1, "system"});
  std::vector<core::Message> batch;
  for (std::uint64_t seq = 1; seq <= Store::max_counted_unread + 20; ++seq)
    batch.push_back(this->from("busy", seq, "u_bob", seq % 2 ? "@ada" : "x"));
  ASSERT_FALSE(append_sync(s, batch));
  auto got = this->states("u_ada", "ada", {"busy"});
  EXPECT_EQ(got[0].unread, Store::max_counted_unread);
  EXPECT_EQ(got[0].mentions, Store::max_counted_unread / 2);
}

TYPED_TEST(StoreReadState, RoomReadsNameTheAccountsHighestFirstAndADeletedRoomForgetsThem) {
  this->user("u_ada", "Ada");
  this->user("u_bob", "bob");
  this->set_read("u_ada", "dm", 3);
  this->set_read("u_bob", "dm", 7);
  this->set_read("u_guest", "dm", 9);  // no account row: not shown
  this->set_read("u_ada", "other", 1);
  auto got = this->seen("dm", 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].user_id, "u_bob");
  EXPECT_EQ(got[0].name, "bob");
  EXPECT_EQ(got[0].seq, 7u);
  EXPECT_EQ(got[1].name, "Ada");
  EXPECT_EQ(this->seen("dm", 1).size(), 1u);

  auto& s = this->s();
  s.create_room_now(StoredRoom{"dm", 0, 1, "system"});
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto fut = p->get_future();
  s.delete_room("dm", [p](std::error_code ec) { p->set_value(ec); });
  ASSERT_FALSE(wait_for(fut));
  EXPECT_TRUE(this->seen("dm", 10).empty());
  EXPECT_EQ(this->states("u_ada", "ada", {"dm"})[0].last_read, 0u);
  EXPECT_EQ(this->states("u_ada", "ada", {"other"})[0].last_read, 1u);
}

}  // namespace
}  // namespace parley::contract
