// What only PostgresStore has to survive: a server that dies and comes back under load, an
// ambiguous commit, a row the server rejects, an unreachable server at start-up, migrations.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "protocol/errc.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::errc;
using store::PostgresOptions;
using store::PostgresStore;
using store::StoredRoom;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = test::PgServer::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  }
  static PostgresOptions options(const std::string& conninfo) {
    PostgresOptions o;
    o.conninfo = conninfo;
    return o;
  }
  static std::string fresh_database() {
    static int n = 0;
    const std::string name = "pg_only_" + std::to_string(++n);
    shared_pg().create_database(name);
    return name;
  }
};

TEST_F(PostgresStoreTest, ServerKilledAndRestartedUnderLoadLosesAndDuplicatesNothing) {
  test::PgServer pg;  // its own server: this test kills it
  pg.create_database("kill");
  PostgresStore store(options(pg.conninfo("kill")));
  store.create_room_now(StoredRoom{"r", 0, 1, "x"});

  constexpr std::uint64_t per_append = 5;
  struct Record {
    Clock::time_point submitted, completed;
    std::error_code ec;
    int completions = 0;
  };
  std::mutex mutex;
  std::vector<Record> records;
  std::vector<std::size_t> completion_order;
  std::atomic<bool> producing{true};

  std::thread producer([&] {
    std::uint64_t seq = 1;
    for (std::size_t i = 0; producing.load(); ++i, seq += per_append) {
      {
        std::lock_guard lock(mutex);
        records.push_back(Record{Clock::now(), {}, {}, 0});
      }
      store.append(make_batch("r", seq, per_append), [&, i](std::error_code ec) {
        std::lock_guard lock(mutex);
        auto& r = records[i];
        r.completed = Clock::now();
        r.ec = ec;
        ++r.completions;
        completion_order.push_back(i);
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  pg.kill();
  const auto down = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto up = Clock::now();
  pg.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  producing = false;
  producer.join();
  store.flush();

  std::lock_guard lock(mutex);
  const std::size_t n = records.size();
  ASSERT_GT(n, 100u);
  std::size_t queued_while_down = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& r = records[i];
    ASSERT_EQ(r.completions, 1) << "append " << i;
    EXPECT_FALSE(r.ec) << "append " << i << ": " << r.ec.message();
    if (r.submitted > down) {
      EXPECT_GE(r.completed, up) << "append " << i << " was acked while the server was down";
      if (r.submitted < up) ++queued_while_down;
    }
  }
  EXPECT_GT(queued_while_down, 50u);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(completion_order[i], i);
  EXPECT_GT(store.stats().failures, 0u);

  const std::uint64_t total = n * per_append;
  auto rows =
      pg.query("kill", "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM messages WHERE room = 'r'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], std::to_string(total));  // no duplicate
  EXPECT_EQ(rows[0][1], std::to_string(total));
  EXPECT_EQ(rows[0][2], "1");
  EXPECT_EQ(rows[0][3], std::to_string(total));  // no hole: count == max
  auto [ec, all] = read_sync(store, "r", 0, 0, total + 10);
  EXPECT_FALSE(ec);
  EXPECT_EQ(seqs(all), seq_range(1, total));
  store.stop();
}

TEST_F(PostgresStoreTest, RetryAfterAnAmbiguousCommitDoesNotDuplicateOrFail) {
  const auto db = fresh_database();
  PostgresStore store(options(shared_pg().conninfo(db)));
  // As if a commit of seqs 4..6 had reached the server just before the connection died.
  std::string values;
  for (std::uint64_t seq = 4; seq <= 6; ++seq) {
    const auto m = make_message("r", seq);
    values += (values.empty() ? "" : ",") + std::string("('r',") + std::to_string(seq) + ",'" + m.from + "','" +
              m.text + "'," + std::to_string(m.ts) + ",'" + m.cid + "')";
  }
  shared_pg().query(db, "INSERT INTO messages(room, seq, sender, text, ts, cid) VALUES " + values);

  EXPECT_FALSE(append_sync(store, make_batch("r", 1, 10)));
  auto rows = shared_pg().query(db, "SELECT count(*), max(seq) FROM messages WHERE room = 'r'");
  EXPECT_EQ(rows[0][0], "10");
  EXPECT_EQ(rows[0][1], "10");
  auto [ec, all] = read_sync(store, "r", 0, 0, 100);
  EXPECT_EQ(seqs(all), seq_range(1, 10));
}

TEST_F(PostgresStoreTest, ADifferentMessageUnderAStoredSeqFailsOnlyItsAppend) {
  const auto db = fresh_database();
  PostgresStore store(options(shared_pg().conninfo(db)));
  shared_pg().query(db, "INSERT INTO messages VALUES ('r', 2, 'eve', 'not the same', 1, 'other-cid')");

  std::mutex mutex;
  std::vector<std::error_code> results(3);
  std::vector<std::vector<core::Message>> batches = {make_batch("r", 1, 1), make_batch("r", 2, 1),
                                                     make_batch("r", 3, 1)};
  for (std::size_t i = 0; i < batches.size(); ++i)
    store.append(batches[i], [&, i](std::error_code ec) {
      std::lock_guard lock(mutex);
      results[i] = ec;
    });
  store.flush();
  EXPECT_FALSE(results[0]);
  EXPECT_EQ(results[1], make_error_code(store::store_errc::seq_taken));
  EXPECT_FALSE(results[2]);
  auto [ec, all] = read_sync(store, "r", 0, 0, 100);
  ASSERT_EQ(seqs(all), seq_range(1, 3));
  EXPECT_EQ(all[1].from, "eve");  // the stored message is kept
}

TEST_F(PostgresStoreTest, ARowTheServerRejectsFailsOnlyItsAppend) {
  const auto db = fresh_database();
  PostgresStore store(options(shared_pg().conninfo(db)));
  auto bad = make_batch("r", 2, 1);
  bad[0].text = std::string("NUL \0 inside", 12);  // PostgreSQL text cannot hold a NUL byte

  std::mutex mutex;
  std::vector<std::error_code> results(3);
  std::vector<std::vector<core::Message>> batches = {make_batch("r", 1, 1), bad, make_batch("r", 3, 2)};
  for (std::size_t i = 0; i < batches.size(); ++i)
    store.append(batches[i], [&, i](std::error_code ec) {
      std::lock_guard lock(mutex);
      results[i] = ec;
    });
  store.flush();
  EXPECT_FALSE(results[0]);
  EXPECT_EQ(results[1], make_error_code(errc::store_failed));
  EXPECT_FALSE(results[2]);
  EXPECT_FALSE(append_sync(store, make_batch("r", 5, 1)));  // and the store goes on
  auto [ec, all] = read_sync(store, "r", 0, 0, 100);
  EXPECT_EQ(seqs(all), (std::vector<std::uint64_t>{1, 3, 4, 5}));
}

TEST_F(PostgresStoreTest, UnreachableServerAtStartUpThrowsAClearErrorWithoutThePassword) {
  PostgresOptions o;
  // Port 1 (tcpmux): nothing listens there, the connection is refused at once.
  o.conninfo = "host=127.0.0.1 port=1 user=parley password=s3cret dbname=parley";
  o.connect_timeout = std::chrono::milliseconds(600);
  const auto t0 = Clock::now();
  try {
    PostgresStore store(o);
    FAIL() << "constructed a store on port 1";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot connect to PostgreSQL"), std::string::npos) << what;
    EXPECT_NE(what.find("port=1"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(PostgresStoreTest, MigrationsAreVersionedAndAppliedOnce) {
  const auto db = fresh_database();
  { PostgresStore a(options(shared_pg().conninfo(db))); }
  { PostgresStore b(options(shared_pg().conninfo(db))); }
  auto rows = shared_pg().query(db, "SELECT version FROM schema_version ORDER BY version");
  // 1: rooms and messages; 2: users and sessions; 3: room access; 4: sender ids; 5: room titles and topics;
  // 6: API keys; 7: edits and deletes; 8: read marks; 9: reactions; 10: search (in the commits); 11: files;
  // 12: files attached; 13: search out of the commits; 14: a batch's changes in one call; 15: accents folded;
  // 16: a batch's changes a statement per kind; 17: search_docs in a search's order
  ASSERT_EQ(rows.size(), 17u);
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i][0], std::to_string(i + 1));

  shared_pg().query(db, "INSERT INTO schema_version VALUES (99, 0)");
  try {
    PostgresStore c(options(shared_pg().conninfo(db)));
    FAIL() << "opened a database with a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

// Stores opening one fresh database together: one starts preparing its statements and pauses
// there (PARLEY_TEST_PG_PREPARE_PAUSE_MS, after the statements a read uses), another migrates the
// database meanwhile. The first used to prepare before migrating, skip the statements whose
// tables did not exist yet, and then fail every read for good; each must read and write.
TEST_F(PostgresStoreTest, StoresOpeningAFreshDatabaseTogetherAllServe) {
  const auto db = fresh_database();
  std::unique_ptr<PostgresStore> paused, other;
  ::setenv("PARLEY_TEST_PG_PREPARE_PAUSE_MS", "700", 1);
  std::thread opener([&] { paused = std::make_unique<PostgresStore>(options(shared_pg().conninfo(db))); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its constructor read the variable
  ::unsetenv("PARLEY_TEST_PG_PREPARE_PAUSE_MS");
  other = std::make_unique<PostgresStore>(options(shared_pg().conninfo(db)));
  opener.join();
  ASSERT_TRUE(paused && other);
  std::uint64_t next = 1;
  for (PostgresStore* store : {paused.get(), other.get()}) {
    EXPECT_FALSE(append_sync(*store, make_batch("r", next, 2)));
    next += 2;
    auto [ec, all] = read_sync(*store, "r", 0, 0, 100);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(seqs(all), seq_range(1, next - 1));
    EXPECT_EQ(store->stats().failing, 0u);
  }
}

// Two nodes committing the same (room, seq) keys at once (a message recovered by one while its
// sender's node commits it), their batches in opposite room order: rows go in (room, seq) order
// on both, so neither waits for the other while holding a key the other needs. A deadlock would
// fail one commit (retried, counted in failures).
TEST_F(PostgresStoreTest, CrossingBatchesFromTwoStoresDoNotDeadlock) {
  const auto db = fresh_database();
  PostgresStore a(options(shared_pg().conninfo(db)));
  PostgresStore b(options(shared_pg().conninfo(db)));
  for (int round = 0; round < 10; ++round) {
    const std::string x = "x" + std::to_string(round), y = "y" + std::to_string(round);
    auto xs = make_batch(x, 1, 600), ys = make_batch(y, 1, 600);
    std::vector<core::Message> forward = xs, backward = ys;
    forward.insert(forward.end(), ys.begin(), ys.end());
    backward.insert(backward.end(), xs.begin(), xs.end());
    std::mutex mutex;
    std::vector<std::error_code> results;
    auto done = [&](std::error_code ec) {
      std::lock_guard lock(mutex);
      results.push_back(ec);
    };
    a.append(std::move(forward), done);
    b.append(std::move(backward), done);
    a.flush();
    b.flush();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_FALSE(results[0]);
    EXPECT_FALSE(results[1]);
  }
  EXPECT_EQ(a.stats().failures + b.stats().failures, 0u) << "a commit failed (a deadlock?)";
  auto rows = shared_pg().query(db, "SELECT count(*) FROM messages");
  EXPECT_EQ(rows[0][0], "12000");
}

// Search in a cluster: what one node commits, another finds at once (its search catches the rooms
// up: the committing node's searcher may not have read them yet), edits and deletes included; and
// two nodes catching up the same rooms at once index each message once.
TEST_F(PostgresStoreTest, ASearchOnOneNodeFindsWhatAnotherCommitted) {
  const auto db = fresh_database();
  PostgresStore a(options(shared_pg().conninfo(db)));
  PostgresStore b(options(shared_pg().conninfo(db)));
  auto search = [](PostgresStore& s, std::vector<std::string> terms, std::vector<std::string> rooms) {
    auto p = std::make_shared<std::promise<store::SearchPage>>();
    auto fut = p->get_future();
    s.search(store::SearchQuery{.terms = std::move(terms), .rooms = std::move(rooms), .limit = 500},
             [p](std::error_code ec, store::SearchPage page) {
               EXPECT_FALSE(ec);
               p->set_value(std::move(page));
             });
    return wait_for(fut);
  };
  std::vector<std::string> rooms;
  for (int r = 0; r < 20; ++r) {
    rooms.push_back("room" + std::to_string(r));
    a.create_room_now(StoredRoom{rooms.back(), 0, 1, "x"});
  }
  for (int round = 1; round <= 5; ++round) {
    std::vector<core::Message> batch;
    for (const auto& room : rooms) {
      batch.push_back(make_message(room, static_cast<std::uint64_t>(round), "quebec " + std::to_string(round)));
      if (round == 5) {
        auto edit = make_message(room, 6, "romeo");
        edit.kind = core::MessageKind::edit;
        edit.target = 1;
        auto del = make_message(room, 7, "");
        del.kind = core::MessageKind::remove;
        del.target = 2;
        batch.push_back(edit);
        batch.push_back(del);
      }
    }
    (round % 2 ? a : b).append(std::move(batch), [](std::error_code ec) { EXPECT_FALSE(ec); });
    (round % 2 ? a : b).flush();
    // Both nodes search at once, each catching up the rooms the other may be reading.
    std::thread other([&] { search(a, {"quebec"}, rooms); });
    const auto page = search(b, {"quebec"}, rooms);
    other.join();
    const std::size_t expected = round < 5 ? rooms.size() * static_cast<std::size_t>(round) : rooms.size() * 3;
    EXPECT_EQ(page.hits.size(), expected) << "round " << round;
  }
  EXPECT_EQ(search(a, {"romeo"}, rooms).hits.size(), rooms.size());
  auto rows = shared_pg().query(db, "SELECT count(*), count(DISTINCT (room, seq)) FROM search_docs");
  EXPECT_EQ(rows[0][0], std::to_string(rooms.size() * 4));  // 5 messages a room, one deleted
  EXPECT_EQ(rows[0][1], rows[0][0]);
}

// Migration 13 removes migration 10's column and index (computed in every commit), and the
// messages stored before are found through the new index.
TEST_F(PostgresStoreTest, TheOldInCommitSearchColumnIsRemoved) {
  const auto db = fresh_database();
  {
    PostgresStore s(options(shared_pg().conninfo(db)));
    s.create_room_now(StoredRoom{"r", 0, 1, "x"});
    ASSERT_FALSE(append_sync(s, {make_message("r", 1, "sierra tango")}));
  }
  // Back to schema 12 (13, 14 and 15 undone), migration 10's column as it was.
  shared_pg().query(db, "DROP FUNCTION parley_search_catch_up(text[], bigint)");
  shared_pg().query(db, "DROP FUNCTION parley_search_words(text)");
  shared_pg().query(db, "DROP FUNCTION parley_search_query(text[])");
  shared_pg().query(db, "DROP FUNCTION parley_search_text(text)");
  shared_pg().query(db, "DROP FUNCTION parley_search_fold(text)");
  shared_pg().query(db, "DROP TABLE search_docs");
  shared_pg().query(db, "DROP TABLE search_marks");
  shared_pg().query(db,
                    "ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (CASE WHEN kind = 0 AND NOT "
                    "deleted THEN to_tsvector('simple'::regconfig, text) END) STORED");
  shared_pg().query(db, "CREATE INDEX messages_search ON messages USING gin (search)");
  shared_pg().query(db, "DROP FUNCTION parley_apply_changes");
  shared_pg().query(db, "DELETE FROM schema_version WHERE version >= 13");
  PostgresStore s(options(shared_pg().conninfo(db)));
  auto p = std::make_shared<std::promise<store::SearchPage>>();
  auto fut = p->get_future();
  s.search(store::SearchQuery{.terms = {"tango"}, .rooms = {"r"}, .limit = 5},
           [p](std::error_code, store::SearchPage page) { p->set_value(std::move(page)); });
  EXPECT_EQ(wait_for(fut).hits.size(), 1u);
  auto cols = shared_pg().query(
      db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'messages' AND column_name = 'search'");
  EXPECT_EQ(cols[0][0], "0");
}

// Migration 15 folds accents in the words and the queries, and has the index read again: a
// message indexed before (its accents as typed) is found without them after.
TEST_F(PostgresStoreTest, MigrationFifteenFoldsAccentsAndReadsTheIndexAgain) {
  const auto db = fresh_database();
  auto search = [](PostgresStore& s, std::vector<std::string> terms) {
    auto p = std::make_shared<std::promise<store::SearchPage>>();
    auto fut = p->get_future();
    s.search(store::SearchQuery{.terms = std::move(terms), .rooms = {"r"}, .limit = 5},
             [p](std::error_code, store::SearchPage page) { p->set_value(std::move(page)); });
    return wait_for(fut).hits.size();
  };
  {
    PostgresStore s(options(shared_pg().conninfo(db)));
    s.create_room_now(StoredRoom{"r", 0, 1, "x"});
    ASSERT_FALSE(append_sync(s, {make_message("r", 1, "café crème")}));
  }
  // Back to schema 14: words as typed, and the message indexed so.
  shared_pg().query(db, "DROP FUNCTION parley_search_query(text[])");
  shared_pg().query(db,
                    "CREATE OR REPLACE FUNCTION parley_search_words(t text) RETURNS tsvector LANGUAGE sql IMMUTABLE AS "
                    "$$ SELECT to_tsvector('simple'::regconfig, regexp_replace(t, '[[:punct:][:space:][:cntrl:]]+', "
                    "' ', 'g')) $$");
  shared_pg().query(db, "DROP FUNCTION parley_search_text(text)");
  shared_pg().query(db, "DROP FUNCTION parley_search_fold(text)");
  shared_pg().query(db, "DROP INDEX search_docs_time");
  shared_pg().query(db, "TRUNCATE search_docs, search_marks");
  shared_pg().query(db, "SELECT * FROM parley_search_catch_up(ARRAY['r'], 100)");
  EXPECT_EQ(shared_pg().query(db, "SELECT count(*) FROM search_docs WHERE words @@ 'creme'::tsquery")[0][0], "0");
  shared_pg().query(db, "DELETE FROM schema_version WHERE version >= 15");
  PostgresStore s(options(shared_pg().conninfo(db)));
  EXPECT_EQ(search(s, {"creme"}), 1u);
  EXPECT_EQ(search(s, {"CAFÉ"}), 1u);
  EXPECT_EQ(search(s, {"cafe", "crè"}), 1u);
}

// A database of schema 3 (before messages carried a sender id) is migrated on open, though the
// statements naming the new column cannot be prepared before: its messages read back with an
// empty from_id, and new ones store theirs.
TEST_F(PostgresStoreTest, MessagesStoredBeforeSenderIdsReadBackWithoutOne) {
  const auto db = fresh_database();
  {
    PostgresStore s(options(shared_pg().conninfo(db)));
    s.create_room_now(StoredRoom{"old", 0, 1, "system"});
  }
  // Back to schema 3: every later migration undone.
  shared_pg().query(db, "DROP FUNCTION parley_apply_changes");
  shared_pg().query(db, "DROP TRIGGER messages_files_attach ON messages");
  shared_pg().query(db, "DROP FUNCTION parley_attach_files()");
  shared_pg().query(db, "ALTER TABLE messages DROP COLUMN files");
  shared_pg().query(db, "DROP TABLE files");
  shared_pg().query(db, "DROP TABLE file_trash");
  shared_pg().query(db, "DROP FUNCTION parley_search_catch_up(text[], bigint)");
  shared_pg().query(db, "DROP FUNCTION parley_search_words(text)");
  shared_pg().query(db, "DROP FUNCTION parley_search_query(text[])");
  shared_pg().query(db, "DROP FUNCTION parley_search_text(text)");
  shared_pg().query(db, "DROP FUNCTION parley_search_fold(text)");
  shared_pg().query(db, "DROP TABLE search_docs");
  shared_pg().query(db, "DROP TABLE search_marks");
  shared_pg().query(db, "DROP TABLE reactions");
  shared_pg().query(
      db, "ALTER TABLE messages DROP COLUMN kind, DROP COLUMN target, DROP COLUMN edited, DROP COLUMN deleted");
  shared_pg().query(db, "ALTER TABLE messages DROP COLUMN sender_id");
  shared_pg().query(db, "ALTER TABLE rooms DROP COLUMN title, DROP COLUMN topic");
  shared_pg().query(db, "DROP TABLE api_keys");
  shared_pg().query(db, "DROP TABLE read_marks");
  shared_pg().query(db, "DELETE FROM schema_version WHERE version >= 4");
  shared_pg().query(db,
                    "INSERT INTO messages(room, seq, sender, text, ts, cid) VALUES ('old', 1, 'ada', 'hi', 5, 'c1')");
  PostgresStore s(options(shared_pg().conninfo(db)));
  auto m = make_message("old", 2);
  ASSERT_FALSE(append_sync(s, {m}));
  auto [ec, got] = read_sync(s, "old", 0, 0, 10);
  ASSERT_FALSE(ec);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].from, "ada");
  EXPECT_EQ(got[0].from_id, "");
  EXPECT_EQ(got[1].from_id, m.from_id);
}

TEST_F(PostgresStoreTest, StopGivesUpOnAnUnreachableServerAfterStopTimeout) {
  test::PgServer pg;
  pg.create_database("gone");
  auto o = options(pg.conninfo("gone"));
  o.stop_timeout = std::chrono::milliseconds(1000);
  PostgresStore store(o);
  ASSERT_FALSE(append_sync(store, make_batch("r", 1, 1)));
  pg.kill();
  auto result = std::make_shared<std::promise<std::error_code>>();
  auto f = result->get_future();
  store.append(make_batch("r", 2, 1), [result](std::error_code ec) { result->set_value(ec); });
  // Never acked while the server is gone.
  EXPECT_EQ(f.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout);
  const auto t0 = Clock::now();
  store.stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(f.get(), make_error_code(errc::store_failed));
}

}  // namespace
}  // namespace parley::contract
