// The Store's file rows contract (src/store/store.hpp: put_file, find_file, claim_files,
// take_file_trash, and a file leaving with its message or room), one typed suite over every
// implementation.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "protocol/errc.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using store::Store;
using store::StoredFile;

template <class Backend>
class StoreFiles : public StoreFixture<Backend> {
 protected:
  Store& s() { return *this->store_; }

  std::error_code put(const StoredFile& f, std::uint64_t quota = 1'000'000) {
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto fut = p->get_future();
    s().put_file(f, quota, [p](std::error_code ec) { p->set_value(ec); });
    return wait_for(fut);
  }
  std::optional<StoredFile> find(const std::string& id) {
    auto p = std::make_shared<std::promise<std::optional<StoredFile>>>();
    auto fut = p->get_future();
    s().find_file(id, [p](std::error_code ec, std::optional<StoredFile> f) {
      EXPECT_FALSE(ec) << ec.message();
      p->set_value(std::move(f));
    });
    return wait_for(fut);
  }
  std::pair<std::error_code, std::vector<StoredFile>> claim(const std::string& room, const std::string& uploader,
                                                            const std::string& cid, std::vector<std::string> ids,
                                                            std::int64_t now_ms = 6000) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, std::vector<StoredFile>>>>();
    auto fut = p->get_future();
    s().claim_files(room, uploader, cid, std::move(ids), now_ms, [p](std::error_code ec, std::vector<StoredFile> f) {
      p->set_value({ec, std::move(f)});
    });
    return wait_for(fut);
  }
  std::vector<std::string> trash(std::int64_t before, std::size_t limit = 100) {
    auto p = std::make_shared<std::promise<std::vector<std::string>>>();
    auto fut = p->get_future();
    s().take_file_trash(before, limit, [p](std::error_code ec, std::vector<std::string> ids) {
      EXPECT_FALSE(ec) << ec.message();
      std::sort(ids.begin(), ids.end());
      p->set_value(std::move(ids));
    });
    return wait_for(fut);
  }
};

TYPED_TEST_SUITE(StoreFiles, Backends, BackendNames);

StoredFile file(const std::string& id, const std::string& room, const std::string& uploader, std::uint64_t size,
                std::int64_t created_at = 1000) {
  StoredFile f;
  f.id = id;
  f.room = room;
  f.uploader_id = uploader;
  f.name = "cat é.png";
  f.type = "image/png";
  f.size = size;
  f.width = 800;
  f.height = 600;
  f.thumb = true;
  f.created_at = created_at;
  return f;
}

TYPED_TEST(StoreFiles, AFileIsFoundByItsIdAndSurvivesARestart) {
  ASSERT_FALSE(this->put(file("f_a", "general", "u_ada", 100)));
  for (int round = 0; round < 2; ++round) {
    auto f = this->find("f_a");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->room, "general");
    EXPECT_EQ(f->uploader_id, "u_ada");
    EXPECT_EQ(f->name, "cat é.png");
    EXPECT_EQ(f->type, "image/png");
    EXPECT_EQ(f->size, 100u);
    EXPECT_EQ(f->width, 800u);
    EXPECT_EQ(f->height, 600u);
    EXPECT_TRUE(f->thumb);
    EXPECT_EQ(f->claim, "");
    EXPECT_EQ(f->created_at, 1000);
    EXPECT_FALSE(this->find("f_b"));
    this->reopen();
  }
}

TYPED_TEST(StoreFiles, AnAccountsFilesStayWithinItsQuota) {
  ASSERT_FALSE(this->put(file("f_1", "general", "u_ada", 600), 1000));
  EXPECT_EQ(this->put(file("f_2", "general", "u_ada", 500), 1000), store::store_errc::over_quota);
  EXPECT_FALSE(this->find("f_2"));
  ASSERT_FALSE(this->put(file("f_3", "general", "u_ada", 400), 1000));
  // Another account's files are its own.
  ASSERT_FALSE(this->put(file("f_4", "general", "u_bob", 900), 1000));
}

TYPED_TEST(StoreFiles, AClaimTakesOnlyTheUploadersUnattachedFilesOfTheRoom) {
  ASSERT_FALSE(this->put(file("f_1", "general", "u_ada", 10)));
  ASSERT_FALSE(this->put(file("f_2", "general", "u_ada", 20)));
  ASSERT_FALSE(this->put(file("f_3", "other", "u_ada", 30)));
  ASSERT_FALSE(this->put(file("f_4", "general", "u_bob", 40)));
  // Another's file, another room's, an unknown one: none is taken.
  EXPECT_EQ(this->claim("general", "u_ada", "c1", {"f_1", "f_4"}).first, protocol::errc::no_such_file);
  EXPECT_EQ(this->claim("general", "u_ada", "c1", {"f_1", "f_3"}).first, protocol::errc::no_such_file);
  EXPECT_EQ(this->claim("general", "u_ada", "c1", {"f_9"}).first, protocol::errc::no_such_file);
  EXPECT_EQ(this->find("f_1")->claim, "");
  auto [ec, got] = this->claim("general", "u_ada", "c1", {"f_2", "f_1"});
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "f_2");  // in the order asked
  EXPECT_EQ(got[1].id, "f_1");
  EXPECT_EQ(this->find("f_1")->claim, "c1");
  // A retry (the same cid) takes them again; another message may not.
  EXPECT_FALSE(this->claim("general", "u_ada", "c1", {"f_1"}).first);
  EXPECT_EQ(this->claim("general", "u_ada", "c2", {"f_1"}).first, protocol::errc::no_such_file);
}

TYPED_TEST(StoreFiles, FilesLeaveWithTheirMessageTheirRoomOrUnattachedAfterTheirTime) {
  auto& s = this->s();
  s.create_room_now(store::StoredRoom{"general", 0, 1, "system"});
  s.create_room_now(store::StoredRoom{"gone", 0, 1, "system"});
  ASSERT_FALSE(this->put(file("f_msg", "general", "u_ada", 10, 5000)));
  ASSERT_FALSE(this->put(file("f_other", "general", "u_ada", 10, 5000)));
  ASSERT_FALSE(this->put(file("f_room", "gone", "u_ada", 10, 5000)));
  ASSERT_FALSE(this->put(file("f_old", "general", "u_ada", 10, 1000)));
  ASSERT_FALSE(this->put(file("f_new", "general", "u_ada", 10, 9000)));
  ASSERT_FALSE(this->claim("general", "u_ada", "c-msg", {"f_msg"}).first);
  ASSERT_FALSE(this->claim("general", "u_ada", "c-other", {"f_other"}).first);
  ASSERT_FALSE(this->claim("gone", "u_ada", "c-room", {"f_room"}).first);
  core::Message m{
      .room = "general", .seq = 1, .from = "ada", .text = "look", .ts = 1, .cid = "c-msg", .from_id = "u_ada"};
  m.files = R"([{"id":"f_msg"}])";
  core::Message other{
      .room = "general", .seq = 2, .from = "ada", .text = "", .ts = 2, .cid = "c-other", .from_id = "u_ada"};
  other.files = R"([{"id":"f_other"}])";
  ASSERT_FALSE(append_sync(s, {m, other}));
  auto [ec, read] = read_sync(s, "general", 0, 0, 10);
  ASSERT_FALSE(ec);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].files, R"([{"id":"f_msg"}])");
  EXPECT_TRUE(this->trash(2000).size() == 1);  // f_old, unattached since before 2000
  EXPECT_FALSE(this->find("f_old"));
  EXPECT_TRUE(this->find("f_new"));
  // A delete entry: its message's files go to the trash; the message has none any more.
  core::Message del{.room = "general",
                    .seq = 3,
                    .from = "ada",
                    .text = "",
                    .ts = 3,
                    .cid = "c-del",
                    .from_id = "u_ada",
                    .kind = core::MessageKind::remove,
                    .target = 1};
  ASSERT_FALSE(append_sync(s, {del}));
  EXPECT_FALSE(this->find("f_msg"));
  EXPECT_TRUE(this->find("f_other"));
  auto after = read_sync(s, "general", 0, 2, 10).second;
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].files, "");
  EXPECT_TRUE(after[0].deleted);
  EXPECT_EQ(this->trash(0), std::vector<std::string>{"f_msg"});
  EXPECT_TRUE(this->trash(0).empty());  // taken once
  // A room's deletion: its files.
  ASSERT_FALSE(delete_sync(s, "gone"));
  EXPECT_FALSE(this->find("f_room"));
  EXPECT_EQ(this->trash(0), std::vector<std::string>{"f_room"});
}

// A send takes its files, then the room's owner refuses the message (rate, access, overload) and
// the client never retries: the files are swept as an unattached upload would be, counted from the
// take. A message stored with them attaches them for good, and a retry's take restarts the count.
TYPED_TEST(StoreFiles, FilesTakenByASendWhoseMessageNeverCameAreSweptAfterTheirTime) {
  auto& s = this->s();
  s.create_room_now(store::StoredRoom{"general", 0, 1, "system"});
  for (const char* id : {"f_sent", "f_refused", "f_retried", "f_late"})
    ASSERT_FALSE(this->put(file(id, "general", "u_ada", 10, 1000)));
  ASSERT_FALSE(this->claim("general", "u_ada", "c-sent", {"f_sent"}, 2000).first);
  ASSERT_FALSE(this->claim("general", "u_ada", "c-refused", {"f_refused"}, 2000).first);
  ASSERT_FALSE(this->claim("general", "u_ada", "c-retried", {"f_retried"}, 2000).first);
  ASSERT_FALSE(this->claim("general", "u_ada", "c-late", {"f_late"}, 9000).first);
  // A take without a time: a node older than migration 12 made it (a rolling upgrade), its
  // message perhaps still on the way. It is never swept this way.
  ASSERT_FALSE(this->put(file("f_legacy", "general", "u_ada", 10, 1000)));
  ASSERT_FALSE(this->claim("general", "u_ada", "c-legacy", {"f_legacy"}, 0).first);
  core::Message m{.room = "general", .seq = 1, .from = "ada", .text = "", .ts = 3, .cid = "c-sent", .from_id = "u_ada"};
  m.files = R"([{"id":"f_sent"}])";
  ASSERT_FALSE(append_sync(s, {m}));
  // A message of another sender with the same cid attaches nothing of ada's.
  core::Message other{
      .room = "general", .seq = 2, .from = "bob", .text = "", .ts = 4, .cid = "c-refused", .from_id = "u_bob"};
  other.files = R"([{"id":"f_refused"}])";
  ASSERT_FALSE(append_sync(s, {other}));
  // The retry takes f_retried again, later: its time starts again.
  ASSERT_FALSE(this->claim("general", "u_ada", "c-retried", {"f_retried"}, 8000).first);
  EXPECT_TRUE(this->trash(1500).empty());  // nothing taken before 1500
  EXPECT_EQ(this->trash(5000), std::vector<std::string>{"f_refused"});
  EXPECT_FALSE(this->find("f_refused"));
  EXPECT_TRUE(this->find("f_sent"));
  EXPECT_TRUE(this->find("f_retried"));
  EXPECT_TRUE(this->find("f_late"));
  // Its message stored at last, the late one is attached: no time sweeps it.
  core::Message late{
      .room = "general", .seq = 3, .from = "ada", .text = "", .ts = 10, .cid = "c-late", .from_id = "u_ada"};
  late.files = R"([{"id":"f_late"}])";
  ASSERT_FALSE(append_sync(s, {late}));
  EXPECT_EQ(this->trash(100'000), std::vector<std::string>{"f_retried"});
  EXPECT_TRUE(this->find("f_sent"));
  EXPECT_TRUE(this->find("f_late"));
  EXPECT_TRUE(this->find("f_legacy"));
  // The store's restart keeps what is attached.
  this->reopen();
  EXPECT_TRUE(this->trash(100'000).empty());
  EXPECT_TRUE(this->find("f_sent"));
}

}  // namespace
}  // namespace parley::contract
