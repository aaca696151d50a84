// SqliteStore beyond the contract: its checkpoints run on a background connection, and the WAL
// stays bounded while commits go on without a pause.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include "core/search.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-sqlite-ckpt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::uintmax_t wal_bytes() const {
    std::error_code ec;
    const auto n = std::filesystem::file_size(dir_ / "parley.db-wal", ec);
    return ec ? 0 : n;
  }
  std::filesystem::path dir_;
};

TEST_F(SqliteStoreTest, CheckpointsInTheBackgroundKeepTheWalBoundedAndLoseNothing) {
  constexpr std::size_t every = 16;  // pages; SQLite's own default is 1,000
  store::SqliteOptions options{dir_ / "parley.db"};
  options.checkpoint_pages = every;
  auto s = std::make_unique<store::SqliteStore>(options);
  ASSERT_FALSE(create_sync(*s, store::StoredRoom{"general", 0, 1, "ada"}));

  // 1,500 commits of 10 messages of ~400 bytes: some 6,000 pages of WAL without checkpoints.
  const std::string filler(400, 'x');
  constexpr std::uint64_t commits = 1500, per_commit = 10;
  std::uintmax_t largest = 0, largest_commit = 0;
  for (std::uint64_t c = 0; c < commits; ++c) {
    std::vector<core::Message> batch;
    for (std::uint64_t k = 1; k <= per_commit; ++k) {
      const std::uint64_t seq = c * per_commit + k;
      batch.push_back(make_message("general", seq, filler + std::to_string(seq)));
    }
    const std::uintmax_t before = wal_bytes();
    ASSERT_FALSE(append_sync(*s, std::move(batch)));
    const std::uintmax_t after = wal_bytes();
    if (after > before) largest_commit = std::max(largest_commit, after - before);
    largest = std::max(largest, after);
  }
  auto* sqlite = static_cast<store::SqliteStore*>(s.get());
  EXPECT_GT(sqlite->checkpoint_passes(), 0u);
  // The writer finished checkpoints, so the WAL started over from its beginning.
  EXPECT_GT(sqlite->checkpoint_finishes(), 0u);
  // The writer finishes at 4 × every pages, or at the latest at 16 × (waiting for a pass if one
  // is running); a frame is a page plus a 24-byte header. The slack: two commits' frames, the
  // largest seen (on a loaded machine the checkpointer may be behind when one comes), and as much
  // again as 16 × for the search index's reader: while it reads a room (at most 2,048 entries in
  // one read transaction, sqlite_search.cpp) the WAL cannot start over, and the commits made
  // meanwhile add to it. Under ASan with another test process on the 2 cores that went to 1.6 MB
  // against 1.2 MB for 16 ×, in 5 of 40 runs; nothing checkpointed would be some 25 MB.
  const std::uintmax_t frame = 4096 + 24;
  EXPECT_LE(largest, 2 * 16 * every * frame + 2 * largest_commit)
      << "the WAL grew to " << largest << " bytes; the largest commit wrote " << largest_commit;

  s.reset();  // closing checkpoints the rest and removes the WAL
  EXPECT_EQ(wal_bytes(), 0u);
  s = std::make_unique<store::SqliteStore>(options);
  const auto rooms = s->load_rooms();
  ASSERT_EQ(rooms.size(), 1u);
  EXPECT_EQ(rooms[0].last_seq, commits * per_commit);
  auto [ec, newest] = read_sync(*s, "general", 0, 0, 5);
  ASSERT_FALSE(ec);
  EXPECT_EQ(seqs(newest), seq_range(commits * per_commit - 4, commits * per_commit));
  EXPECT_EQ(newest.back().text, filler + std::to_string(commits * per_commit));
}

// Searches have their own connection and thread: one is answered while the writer waits on
// the database's write lock (held here by another connection, as a long commit would), and it
// finds every message whose append completed before it.
TEST_F(SqliteStoreTest, ASearchIsAnsweredWhileTheWriterIsHeld) {
  store::SqliteOptions options{dir_ / "parley.db"};
  auto s = std::make_unique<store::SqliteStore>(options);
  ASSERT_FALSE(create_sync(*s, store::StoredRoom{"general", 0, 1, "ada"}));
  ASSERT_FALSE(append_sync(*s, {make_message("general", 1, "the quokka smiles")}));

  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "parley.db").c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::promise<std::error_code> appended;
  auto append_done = appended.get_future();
  s->append({make_message("general", 2, "a second quokka")},
            [&appended](std::error_code ec) { appended.set_value(ec); });

  std::promise<std::pair<std::error_code, store::SearchPage>> searched;
  auto search_done = searched.get_future();
  s->search(store::SearchQuery{.terms = core::search_terms("quokka"), .rooms = {"general"}},
            [&searched](std::error_code ec, store::SearchPage page) {
              searched.set_value({ec, std::move(page)});
            });
  // The writer's busy wait is 5 s: the search comes back long before it.
  ASSERT_EQ(search_done.wait_for(std::chrono::seconds(4)), std::future_status::ready);
  EXPECT_EQ(append_done.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  auto [ec, page] = search_done.get();
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(page.hits[0].seq, 1u);

  ASSERT_EQ(sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(holder);
  ASSERT_FALSE(wait_for(append_done));
  auto again = std::make_shared<std::promise<std::pair<std::error_code, store::SearchPage>>>();
  auto again_done = again->get_future();
  s->search(store::SearchQuery{.terms = core::search_terms("quokka"), .rooms = {"general"}},
            [again](std::error_code ec, store::SearchPage page) {
              again->set_value({ec, std::move(page)});
            });
  EXPECT_EQ(wait_for(again_done).second.hits.size(), 2u);
}

TEST_F(SqliteStoreTest, ZeroCheckpointPagesIsRefused) {
  store::SqliteOptions options{dir_ / "parley.db"};
  options.checkpoint_pages = 0;
  EXPECT_THROW(store::SqliteStore{options}, std::runtime_error);
}

// The schema version (PRAGMA user_version) is the last migration's, applied once: 1 rooms and
// messages; 2 users and sessions; 3 room access; 4 sender ids; 5 titles and topics; 6 API keys;
// 7 edits and deletes; 8 read marks; 9 reactions; 10 search (in the database); 11 files; 12 files
// attached; 13 search out of the database; 14 a message's edits found through it; 15 its first
// reactions on its row.
TEST_F(SqliteStoreTest, MigrationsAreVersionedAndAppliedOnce) {
  const auto path = dir_ / "parley.db";
  { store::SqliteStore a{store::SqliteOptions{path}}; }
  { store::SqliteStore b{store::SqliteOptions{path}}; }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 15);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// A database of schema 3 (before messages carried a sender id; every later migration undone) is migrated on open: its
// messages read back with an empty from_id, and new ones store theirs.
TEST_F(SqliteStoreTest, MessagesStoredBeforeSenderIdsReadBackWithoutOne) {
  const auto path = dir_ / "parley.db";
  {
    store::SqliteStore s{store::SqliteOptions{path}};
    s.create_room_now(store::StoredRoom{"old", 0, 1, "system"});
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db,
                   // Back to schema 3: every later migration undone.
                   "DROP TRIGGER messages_files_attach; DROP TABLE files; DROP TABLE file_trash; ALTER TABLE messages "
                   "DROP COLUMN files; "
                   "ALTER TABLE messages DROP COLUMN reactions; ALTER TABLE messages DROP COLUMN reactions_spill; "
                   "DROP TABLE reactions; DROP TABLE read_marks; ALTER TABLE messages DROP COLUMN last_edit; "
                   "ALTER TABLE messages DROP COLUMN kind; "
                   "ALTER TABLE messages DROP COLUMN target; ALTER TABLE messages DROP COLUMN edited; "
                   "ALTER TABLE messages DROP COLUMN deleted; "
                   "ALTER TABLE messages DROP COLUMN sender_id; ALTER TABLE rooms DROP COLUMN title; "
                   "ALTER TABLE rooms DROP COLUMN topic; DROP TABLE api_keys; PRAGMA user_version=3; "
                   "INSERT INTO messages(room, seq, sender, text, ts, cid) VALUES ('old', 1, 'ada', 'hi', 5, 'c1')",
                   nullptr, nullptr, nullptr),
      SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  store::SqliteStore s{store::SqliteOptions{path}};
  auto m = make_message("old", 2);
  ASSERT_FALSE(append_sync(s, {m}));
  auto [ec, got] = read_sync(s, "old", 0, 0, 10);
  ASSERT_FALSE(ec);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].from, "ada");
  EXPECT_EQ(got[0].from_id, "");
  EXPECT_EQ(got[1].from_id, m.from_id);
}

// A database of schema 13 (its edits found by an index of targets, not linked) is migrated on
// open: a delete then takes the texts of every edit its message had before, and of none other.
TEST_F(SqliteStoreTest, EditsStoredBeforeTheirChainGoWithTheirMessagesDelete) {
  const auto path = dir_ / "parley.db";
  using K = core::MessageKind;
  auto change = [](std::uint64_t seq, K kind, std::uint64_t target, std::string text) {
    auto m = make_message("r", seq, std::move(text));
    m.kind = kind;
    m.target = target;
    return m;
  };
  {
    store::SqliteStore s{store::SqliteOptions{path}};
    s.create_room_now(store::StoredRoom{"r", 0, 1, "x"});
    auto batch = make_batch("r", 1, 2);
    for (const auto& m : {change(3, K::edit, 1, "secret one"), change(4, K::edit, 2, "kept"),
                          change(5, K::edit, 1, "secret two"), change(6, K::edit, 1, "secret three")})
      batch.push_back(m);
    ASSERT_FALSE(append_sync(s, batch));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(
          db,
          // Back to schema 13.
          "ALTER TABLE messages DROP COLUMN reactions; ALTER TABLE messages DROP COLUMN "
          "reactions_spill; ALTER TABLE messages DROP COLUMN last_edit; CREATE INDEX messages_target ON messages(room, "
          "target) WHERE target > 0; PRAGMA user_version=13",
          nullptr, nullptr, nullptr),
      SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  store::SqliteStore s{store::SqliteOptions{path}};
  ASSERT_FALSE(append_sync(s, {change(7, K::edit, 1, "secret four"), change(8, K::remove, 1, "")}));
  auto [ec, got] = read_sync(s, "r", 0, 0, 10);
  ASSERT_FALSE(ec);
  ASSERT_EQ(got.size(), 8u);
  EXPECT_TRUE(got[0].deleted);
  for (const auto& m : got) EXPECT_EQ(m.text.find("secret"), std::string::npos) << m.seq;
  EXPECT_EQ(got[1].text, "kept");
  EXPECT_EQ(got[3].text, "kept");
}

// A database of schema 14 (every reaction a row of `reactions`) is migrated on open: its
// reactions read back as they were, in the order they were made, with those made after (rows
// too, after them), and an unreact takes one away.
TEST_F(SqliteStoreTest, ReactionsStoredAsRowsReadBackFirstAfterTheMigration) {
  const auto path = dir_ / "parley.db";
  using K = core::MessageKind;
  auto react = [](std::uint64_t seq, K kind, const std::string& who, const std::string& emoji) {
    auto m = make_message("r", seq, emoji);
    m.kind = kind;
    m.target = 1;
    m.from = who;
    m.from_id = "id-" + who;
    return m;
  };
  {
    store::SqliteStore s{store::SqliteOptions{path}};
    s.create_room_now(store::StoredRoom{"r", 0, 1, "x"});
    ASSERT_FALSE(append_sync(s, make_batch("r", 1, 1)));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         // Back to schema 14, with two reactions as it stored them.
                         "ALTER TABLE messages DROP COLUMN reactions; ALTER TABLE messages DROP COLUMN "
                         "reactions_spill; PRAGMA user_version=14; "
                         "INSERT INTO reactions VALUES ('r', 1, 'A', 'id-ada', 'ada', 'id-ada', 2), ('r', 1, 'B', "
                         "'id-bob', 'bob', 'id-bob', 3)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  store::SqliteStore s{store::SqliteOptions{path}};
  ASSERT_FALSE(append_sync(s, {react(2, K::react, "ada", "A"), react(3, K::react, "bob", "B"),
                               react(4, K::react, "cy", "C"), react(5, K::unreact, "ada", "A")}));
  auto [ec, got] = read_sync(s, "r", 0, 0, 10);
  ASSERT_FALSE(ec);
  ASSERT_FALSE(got.empty());
  ASSERT_EQ(got[0].reactions.size(), 2u);
  EXPECT_EQ(got[0].reactions[0].emoji, "B");
  EXPECT_EQ(got[0].reactions[1].emoji, "C");
  EXPECT_EQ(got[0].reactions[1].who.at(0).from, "cy");
}

}  // namespace
}  // namespace parley::contract
