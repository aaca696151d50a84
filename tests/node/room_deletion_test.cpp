// An operator's deletion of a room (RoomDirectory::remove) on a node of its own, over a real
// SQLite store that can be told to fail the deletion: a failed deletion leaves the room as it
// was (members in it, seq going on); a successful one takes the members out, tells every session,
// and frees the id.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "forwarding_store.hpp"
#include "node/node.hpp"
#include "protocol/errc.hpp"
#include "store/sqlite_store.hpp"
#include "test_session.hpp"

namespace parley::test {
namespace {

// The SQLite store (owned: the base below is built on it first), with delete_room failing while
// `fail_delete` is set.
struct OwnedSqlite {
  explicit OwnedSqlite(const std::filesystem::path& path) : sqlite(store::SqliteOptions{path}) {}
  store::SqliteStore sqlite;
};
class FlakyDeleteStore final : private OwnedSqlite, public ForwardingStore {
 public:
  explicit FlakyDeleteStore(const std::filesystem::path& path) : OwnedSqlite(path), ForwardingStore(sqlite) {}
  std::atomic<bool> fail_delete{false};

  void delete_room(std::string room, Done done) override {
    if (fail_delete) return done(protocol::make_error_code(protocol::errc::store_failed));
    real_.delete_room(std::move(room), std::move(done));
  }
};

class RoomDeletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-deletion-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::make_unique<FlakyDeleteStore>(dir_ / "parley.db");
    node::NodeOptions o;
    o.threads = 2;  // the room's owner and a member may be on different shards
    o.rooms.presence_batch_ms = 0;
    node_ = std::make_unique<node::Node>(o, *store_);
    node_->start();
  }
  void TearDown() override {
    sessions_.clear();
    node_->stop();
    store_->flush();  // its completions post to the node's shards: they run before the node goes
    node_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<TestSession> client(const std::string& name, unsigned shard) {
    auto s = open_session(node_->shard(shard));
    say(s, R"({"type":"hello","name":")" + name + R"("})");
    EXPECT_FALSE(s->next("welcome").empty());
    sessions_.push_back(s);
    return s;
  }

  // node.delete_room, waited for: the error code's name ("" for success).
  std::string delete_room(const std::string& room) {
    std::promise<std::string> answer;
    node_->delete_room(room, [&](std::error_code ec, std::string) {
      answer.set_value(ec ? std::string(protocol::code_name(static_cast<protocol::errc>(ec.value()))) : "");
    });
    auto f = answer.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    return f.get();
  }

  static std::string send(const std::string& room, const std::string& cid) {
    return R"({"type":"send","room":")" + room + R"(","cid":")" + cid + R"(","text":"hi"})";
  }

  std::filesystem::path dir_;
  std::unique_ptr<FlakyDeleteStore> store_;
  std::unique_ptr<node::Node> node_;
  std::vector<std::shared_ptr<TestSession>> sessions_;
};

TEST_F(RoomDeletionTest, AFailedDeletionLeavesTheRoomAsItWasAndASecondTryDeletesIt) {
  auto ada = client("ada", 0);
  auto bob = client("bob", 1);
  say(ada, R"({"type":"create","room":"ops"})");
  ASSERT_FALSE(ada->next("created").empty());
  for (auto& s : {ada, bob}) {
    say(s, R"({"type":"join","room":"ops"})");
    ASSERT_FALSE(s->next("joined").empty());
  }
  say(ada, send("ops", "a1"));
  EXPECT_EQ(ada->next("ack").at("seq").to_number<std::uint64_t>(), 1u);

  store_->fail_delete = true;
  EXPECT_EQ(delete_room("ops"), "store_failed");
  // Still there, with its members and its seq.
  say(bob, send("ops", "b1"));
  EXPECT_EQ(bob->next("ack").at("seq").to_number<std::uint64_t>(), 2u);
  EXPECT_FALSE(
      ada->next_if("message", [](const boost::json::object& e) { return e.at("seq").to_number<std::uint64_t>() == 2; })
          .empty());

  store_->fail_delete = false;
  EXPECT_EQ(delete_room("ops"), "");
  for (auto& s : {ada, bob}) EXPECT_EQ(s->next("room_deleted").at("room").as_string(), "ops");
  say(bob, send("ops", "b2"));
  EXPECT_EQ(bob->next("error").at("code").as_string(), "not_joined");
  EXPECT_EQ(delete_room("ops"), "no_such_room");

  // The id is free, and a room made with it starts again at 1.
  say(bob, R"({"type":"create","room":"ops","ref":1})");
  ASSERT_FALSE(bob->next("created").empty());
  say(bob, R"({"type":"join","room":"ops"})");
  EXPECT_EQ(bob->next("joined").at("last_seq").to_number<std::uint64_t>(), 0u);
  say(bob, send("ops", "b3"));
  EXPECT_EQ(bob->next("ack").at("seq").to_number<std::uint64_t>(), 1u);
}

TEST_F(RoomDeletionTest, TheDefaultRoomAndAnUnknownRoomAreRefused) {
  EXPECT_EQ(delete_room("general"), "bad_request");
  EXPECT_EQ(delete_room("nowhere"), "no_such_room");
}

}  // namespace
}  // namespace parley::test
