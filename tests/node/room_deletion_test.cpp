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

#include "node/node.hpp"
#include "protocol/errc.hpp"
#include "store/sqlite_store.hpp"
#include "test_session.hpp"

namespace parley::test {
namespace {

// The SQLite store, with delete_room failing while `fail_delete` is set.
class FlakyDeleteStore final : public store::Store {
 public:
  explicit FlakyDeleteStore(const std::filesystem::path& path) : real_(store::SqliteOptions{path}) {}
  std::atomic<bool> fail_delete{false};

  std::vector<store::StoredRoom> load_rooms() override { return real_.load_rooms(); }
  void create_room_now(const store::StoredRoom& room) override { real_.create_room_now(room); }
  void create_room(store::StoredRoom room, Done done) override { real_.create_room(std::move(room), std::move(done)); }
  void delete_room(std::string room, Done done) override {
    if (fail_delete) return done(protocol::make_error_code(protocol::errc::store_failed));
    real_.delete_room(std::move(room), std::move(done));
  }
  bool has_capacity() const override { return real_.has_capacity(); }
  void append(std::vector<core::Message> batch, Done done) override { real_.append(std::move(batch), std::move(done)); }
  void read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit, ReadDone done) override {
    real_.read(std::move(room), after, before, limit, std::move(done));
  }
  void find_room(std::string room, FindRoomDone done) override { real_.find_room(std::move(room), std::move(done)); }
  void create_user(store::StoredUser user, Done done) override { real_.create_user(std::move(user), std::move(done)); }
  void find_user_by_name_key(std::string key, FindUserDone done) override {
    real_.find_user_by_name_key(std::move(key), std::move(done));
  }
  void find_user(std::string id, FindUserDone done) override { real_.find_user(std::move(id), std::move(done)); }
  void set_password(std::string user, std::string hash, std::string keep, Done done) override {
    real_.set_password(std::move(user), std::move(hash), std::move(keep), std::move(done));
  }
  void delete_user(std::string user, Done done) override { real_.delete_user(std::move(user), std::move(done)); }
  void create_session(store::StoredSession session, std::size_t max_per_user, CreateSessionDone done) override {
    real_.create_session(std::move(session), max_per_user, std::move(done));
  }
  void find_session(std::string digest, std::int64_t now_ms, FindSessionDone done) override {
    real_.find_session(std::move(digest), now_ms, std::move(done));
  }
  void touch_session(std::string digest, std::int64_t seen, std::int64_t expires, Done done) override {
    real_.touch_session(std::move(digest), seen, expires, std::move(done));
  }
  void list_sessions(std::string user, ListSessionsDone done) override {
    real_.list_sessions(std::move(user), std::move(done));
  }
  void load_access(std::string room, AccessDone done) override { real_.load_access(std::move(room), std::move(done)); }
  void set_member(std::string room, store::StoredMember m, Done done) override {
    real_.set_member(std::move(room), std::move(m), std::move(done));
  }
  void remove_member(std::string room, std::string user, bool ban, Done done) override {
    real_.remove_member(std::move(room), std::move(user), ban, std::move(done));
  }
  void unban(std::string room, std::string user, Done done) override {
    real_.unban(std::move(room), std::move(user), std::move(done));
  }
  void load_roster(std::string room, std::size_t limit, RosterDone done) override {
    real_.load_roster(std::move(room), limit, std::move(done));
  }
  void set_room_info(std::string room, std::string title, std::string topic, Done done) override {
    real_.set_room_info(std::move(room), std::move(title), std::move(topic), std::move(done));
  }
  void revoke_session(std::string user, std::string digest, Done done) override {
    real_.revoke_session(std::move(user), std::move(digest), std::move(done));
  }
  void revoke_sessions(std::string user, Done done) override {
    real_.revoke_sessions(std::move(user), std::move(done));
  }
  void sweep_sessions(std::int64_t now_ms, Done done) override { real_.sweep_sessions(now_ms, std::move(done)); }
  void set_read(std::string user_id, std::string room, std::uint64_t seq, SetReadDone done) override {
    real_.set_read(std::move(user_id), std::move(room), seq, std::move(done));
  }
  void read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                   ReadStatesDone done) override {
    real_.read_states(std::move(user_id), std::move(name_key), std::move(rooms), std::move(done));
  }
  void room_reads(std::string room, std::size_t limit, SeenDone done) override {
    real_.room_reads(std::move(room), limit, std::move(done));
  }
  void search(parley::store::SearchQuery query, SearchDone done) override {
    real_.search(std::move(query), std::move(done));
  }
  void create_api_key(store::StoredApiKey key, Done done) override {
    real_.create_api_key(std::move(key), std::move(done));
  }
  void find_api_key(std::string id, FindApiKeyDone done) override {
    real_.find_api_key(std::move(id), std::move(done));
  }
  void list_api_keys(ListApiKeysDone done) override { real_.list_api_keys(std::move(done)); }
  void revoke_api_key(std::string id, std::int64_t now_ms, RevokeApiKeyDone done) override {
    real_.revoke_api_key(std::move(id), now_ms, std::move(done));
  }
  void touch_api_key(std::string id, std::int64_t now_ms, Done done) override {
    real_.touch_api_key(std::move(id), now_ms, std::move(done));
  }
  void put_file(store::StoredFile file, std::uint64_t quota, Done done) override {
    real_.put_file(std::move(file), quota, std::move(done));
  }
  void find_file(std::string id, FindFileDone done) override { real_.find_file(std::move(id), std::move(done)); }
  void claim_files(std::string room, std::string uploader, std::string cid, std::vector<std::string> ids,
                   std::int64_t now_ms, FilesDone done) override {
    real_.claim_files(std::move(room), std::move(uploader), std::move(cid), std::move(ids), now_ms, std::move(done));
  }
  void take_file_trash(std::int64_t before, std::size_t limit, FileIdsDone done) override {
    real_.take_file_trash(before, limit, std::move(done));
  }
  void flush() override { real_.flush(); }
  void stop() override { real_.stop(); }
  store::StoreStats stats() const override { return real_.stats(); }

 private:
  store::SqliteStore real_;
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
