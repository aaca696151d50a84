// The Store contract (src/store/store.hpp), one typed suite over every implementation:
// SqliteStore on a temp directory and PostgresStore on a real PostgreSQL started for the run.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "protocol/errc.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using protocol::errc;
using store::StoredRoom;

using FindResult = std::pair<std::error_code, std::optional<StoredRoom>>;

FindResult find_sync(store::Store& s, const std::string& room) {
  auto p = std::make_shared<std::promise<FindResult>>();
  auto f = p->get_future();
  s.find_room(room, [p](std::error_code ec, std::optional<StoredRoom> r) { p->set_value({ec, std::move(r)}); });
  return wait_for(f);
}

// Stops the shared PostgreSQL server at the end of the program.
class PgEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { shared_pg_slot().reset(); }
};
[[maybe_unused]] auto* const pg_environment = ::testing::AddGlobalTestEnvironment(new PgEnvironment);

template <class Backend>
class StoreContract : public StoreFixture<Backend> {};

TYPED_TEST_SUITE(StoreContract, Backends, BackendNames);

TYPED_TEST(StoreContract, CreateRoomNowIsIdempotentAndLoadRoomsReportsLastSeq) {
  auto& s = *this->store_;
  EXPECT_TRUE(s.load_rooms().empty());
  s.create_room_now(StoredRoom{"general", 0, 1000, "system"});
  s.create_room_now(StoredRoom{"general", 0, 2000, "someone-else"});  // no-op: keeps the first
  EXPECT_FALSE(create_sync(s, StoredRoom{"ops", 0, 3000, "ada"}));
  // Another creation of a stored room is refused (in a cluster: another node's, or one whose
  // record the broker lost); the same row again is this creation retried, and succeeds.
  EXPECT_EQ(create_sync(s, StoredRoom{"ops", 0, 4000, "bob"}), errc::room_exists);
  EXPECT_EQ(create_sync(s, StoredRoom{"ops", 0, 3000, "bob"}), errc::room_exists);
  EXPECT_EQ(create_sync(s, StoredRoom{"general", 0, 1000, "someone-else"}), errc::room_exists);
  EXPECT_FALSE(create_sync(s, StoredRoom{"ops", 0, 3000, "ada"}));

  auto rooms = s.load_rooms();
  ASSERT_EQ(rooms.size(), 2u);
  EXPECT_EQ(rooms[0].id, "general");
  EXPECT_EQ(rooms[0].created_at, 1000);
  EXPECT_EQ(rooms[0].created_by, "system");
  EXPECT_EQ(rooms[0].last_seq, 0u);
  EXPECT_EQ(rooms[1].id, "ops");
  EXPECT_EQ(rooms[1].created_at, 3000);
  EXPECT_EQ(rooms[1].created_by, "ada");

  ASSERT_FALSE(append_sync(s, make_batch("general", 1, 3)));
  ASSERT_FALSE(append_sync(s, make_batch("ops", 1, 7)));
  rooms = s.load_rooms();
  ASSERT_EQ(rooms.size(), 2u);
  EXPECT_EQ(rooms[0].last_seq, 3u);
  EXPECT_EQ(rooms[1].last_seq, 7u);
}

TYPED_TEST(StoreContract, ReadReturnsNewestLimitBetweenAfterAndBeforeAscending) {
  auto& s = *this->store_;
  s.create_room_now(StoredRoom{"r", 0, 1, "x"});
  s.create_room_now(StoredRoom{"other", 0, 1, "x"});
  // Batches of different sizes, one mixing rooms.
  ASSERT_FALSE(append_sync(s, make_batch("r", 1, 1)));
  ASSERT_FALSE(append_sync(s, make_batch("r", 2, 9)));
  auto mixed = make_batch("r", 11, 10);
  for (auto& m : make_batch("other", 1, 5)) mixed.push_back(m);
  ASSERT_FALSE(append_sync(s, mixed));

  auto check = [&](std::uint64_t after, std::uint64_t before, std::size_t limit, std::vector<std::uint64_t> want) {
    auto [ec, got] = read_sync(s, "r", after, before, limit);
    EXPECT_FALSE(ec);
    EXPECT_EQ(seqs(got), want) << "after=" << after << " before=" << before << " limit=" << limit;
  };
  check(0, 0, 100, seq_range(1, 20));
  check(0, 0, 5, seq_range(16, 20));
  check(5, 0, 100, seq_range(6, 20));
  check(0, 10, 100, seq_range(1, 9));
  check(0, 10, 3, seq_range(7, 9));
  check(5, 10, 100, seq_range(6, 9));
  check(5, 10, 2, seq_range(8, 9));
  check(20, 0, 10, {});
  check(0, 1, 10, {});
  check(9, 10, 10, {});
  check(0, 0, 0, {});
  check(0, ~std::uint64_t{0}, 3, seq_range(18, 20));

  auto [ec, other] = read_sync(s, "other", 0, 0, 100);
  EXPECT_FALSE(ec);
  EXPECT_EQ(seqs(other), seq_range(1, 5));
  auto [ec2, none] = read_sync(s, "no-such-room", 0, 0, 100);
  EXPECT_FALSE(ec2);
  EXPECT_TRUE(none.empty());

  // Every field round-trips.
  auto [ec3, one] = read_sync(s, "r", 14, 16, 10);
  ASSERT_EQ(one.size(), 1u);
  const auto want = make_message("r", 15);
  EXPECT_EQ(one[0].room, want.room);
  EXPECT_EQ(one[0].seq, want.seq);
  EXPECT_EQ(one[0].from, want.from);
  EXPECT_EQ(one[0].text, want.text);
  EXPECT_EQ(one[0].ts, want.ts);
  EXPECT_EQ(one[0].cid, want.cid);
  EXPECT_EQ(one[0].from_id, want.from_id);
}

// The sender's id is stored beside its name, whatever its shape (an account's, a guest's, a JWT
// user's "x_<sub>" up to 140 bytes), and a message without one reads back without one.
TYPED_TEST(StoreContract, SenderIdRoundTripsAndMayBeEmpty) {
  auto& s = *this->store_;
  const std::vector<std::string> ids = {"u_0123456789abcdef0123456789abcdef", "g_0123456789abcdef", "",
                                        "x_" + std::string(138, 'z'), "x_'\"\\ \n\t|:é"};
  std::vector<core::Message> batch;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto m = make_message("ids", i + 1);
    m.from_id = ids[i];
    batch.push_back(m);
  }
  ASSERT_FALSE(append_sync(s, batch));
  for (int round = 0; round < 2; ++round) {
    auto [ec, got] = read_sync(*this->store_, "ids", 0, 0, 100);
    ASSERT_FALSE(ec);
    ASSERT_EQ(got.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(got[i].from_id, ids[i]) << i;
      EXPECT_EQ(got[i].from, "ada") << i;
    }
    this->reopen();
  }
}

// A seq handed out twice (a broker failover while a commit was in flight, docs/architecture.md,
// "Failover without seq reuse"): the append whose message finds another one under its (room, seq)
// answers seq_taken, whatever else it holds is stored, and the stored message stays. The same
// message again (a retry, another node's recovery of it) is success.
TYPED_TEST(StoreContract, AnotherMessageUnderAStoredSeqIsSeqTakenNotStored) {
  auto& s = *this->store_;
  const auto seq_taken = make_error_code(store::store_errc::seq_taken);
  auto eve = make_message("r", 2, "eve's message, which took seq 2");
  eve.from = "eve";
  eve.from_id = "u_eve";
  eve.cid = "c-eve";
  ASSERT_FALSE(append_sync(s, {eve}));
  EXPECT_EQ(append_sync(s, make_batch("r", 1, 3)), seq_taken);
  EXPECT_FALSE(append_sync(s, {eve}));                                         // its own row: a retry
  EXPECT_FALSE(append_sync(s, {make_message("r", 1), make_message("r", 3)}));  // stored with the append

  // The sender's own seq, but another cid; another sender with the same cid; each alone in its
  // append, queued in one group with appends that succeed.
  auto other_cid = make_message("r", 3);
  other_cid.cid = "c-another";
  auto other_sender = make_message("r", 3);
  other_sender.from_id = "u_mallory";
  std::mutex mutex;
  std::vector<std::error_code> results(4);
  const std::vector<std::vector<core::Message>> batches = {
      {other_cid}, make_batch("r", 4, 1), {other_sender}, make_batch("r", 5, 1)};
  for (std::size_t i = 0; i < batches.size(); ++i)
    s.append(batches[i], [&, i](std::error_code ec) {
      std::lock_guard lock(mutex);
      results[i] = ec;
    });
  s.flush();
  EXPECT_EQ(results[0], seq_taken);
  EXPECT_FALSE(results[1]);
  EXPECT_EQ(results[2], seq_taken);
  EXPECT_FALSE(results[3]);

  // In a batch of more rows than SQLite inserts with one statement (32).
  auto bob = make_message("big", 20, "bob's");
  bob.from_id = "u_bob";
  ASSERT_FALSE(append_sync(s, {bob}));
  EXPECT_EQ(append_sync(s, make_batch("big", 1, 40)), seq_taken);

  for (int round = 0; round < 2; ++round) {
    auto& now = *this->store_;  // reopen() replaces it
    auto [ec, got] = read_sync(now, "r", 0, 0, 100);
    ASSERT_FALSE(ec);
    ASSERT_EQ(seqs(got), seq_range(1, 5));
    EXPECT_EQ(got[0].from_id, "u_ada");
    EXPECT_EQ(got[1].from_id, "u_eve");
    EXPECT_EQ(got[1].text, eve.text);
    EXPECT_EQ(got[2].cid, "c-r-3");
    EXPECT_EQ(got[2].from_id, "u_ada");
    auto [ec2, big] = read_sync(now, "big", 0, 0, 100);
    ASSERT_FALSE(ec2);
    ASSERT_EQ(seqs(big), seq_range(1, 40));
    EXPECT_EQ(big[19].from_id, "u_bob");
    this->reopen();
  }
}

TYPED_TEST(StoreContract, FindRoomReportsTheRoomAsStoredOrNothing) {
  auto& s = *this->store_;
  s.create_room_now(StoredRoom{"general", 0, 1000, "system"});
  EXPECT_FALSE(create_sync(s, StoredRoom{"ops", 0, 3000, "o'brien \"q\""}));
  EXPECT_EQ(create_sync(s, StoredRoom{"ops", 0, 4000, "bob"}), errc::room_exists);  // keeps the first
  EXPECT_FALSE(create_sync(s, StoredRoom{"empty", 0, 5000, "ada"}));
  ASSERT_FALSE(append_sync(s, make_batch("general", 1, 3)));
  ASSERT_FALSE(append_sync(s, make_batch("ops", 1, 7)));
  ASSERT_FALSE(append_sync(s, make_batch("orphan", 1, 2)));  // messages, but no room row

  auto check = [&](const std::string& id, std::uint64_t last_seq, std::int64_t created_at, const std::string& by) {
    auto [ec, room] = find_sync(*this->store_, id);
    EXPECT_FALSE(ec) << id;
    ASSERT_TRUE(room) << id;
    EXPECT_EQ(room->id, id);
    EXPECT_EQ(room->last_seq, last_seq) << id;
    EXPECT_EQ(room->created_at, created_at) << id;
    EXPECT_EQ(room->created_by, by) << id;
  };
  auto check_missing = [&](const std::string& id) {
    auto [ec, room] = find_sync(*this->store_, id);
    EXPECT_FALSE(ec) << id;  // not there is an answer, not a failure
    EXPECT_FALSE(room) << id;
  };
  for (int round = 0; round < 2; ++round) {
    check("general", 3, 1000, "system");
    check("ops", 7, 3000, "o'brien \"q\"");
    check("empty", 0, 5000, "ada");
    check_missing("nowhere");
    check_missing("orphan");   // the rooms table decides, not the messages
    check_missing("General");  // ids are compared exactly
    check_missing("ops' OR '1'='1");
    check_missing("");
    this->reopen();  // and the same after a restart
  }
}

TYPED_TEST(StoreContract, DeleteRoomRemovesTheRoomAndEveryMessageOfItOnly) {
  auto& s = *this->store_;
  ASSERT_FALSE(create_sync(s, StoredRoom{"doomed", 0, 1000, "ada"}));
  ASSERT_FALSE(create_sync(s, StoredRoom{"kept", 0, 1000, "ada"}));
  // Appends submitted before the deletion are committed first, and go with the room.
  s.append(make_batch("doomed", 1, 5), [](std::error_code) {});
  ASSERT_FALSE(append_sync(s, make_batch("kept", 1, 3)));
  EXPECT_FALSE(delete_sync(s, "doomed"));
  EXPECT_FALSE(delete_sync(s, "never-was")) << "deleting what is not there is done";
  for (int round = 0; round < 2; ++round) {
    auto [ec, room] = find_sync(*this->store_, "doomed");
    EXPECT_FALSE(ec);
    EXPECT_FALSE(room);
    EXPECT_TRUE(read_sync(*this->store_, "doomed", 0, 0, 100).second.empty());
    EXPECT_EQ(seqs(read_sync(*this->store_, "kept", 0, 0, 100).second), (std::vector<std::uint64_t>{1, 2, 3}));
    this->reopen();
  }
  // The id is free again: a new room of that name starts at seq 1 with no history.
  EXPECT_FALSE(create_sync(*this->store_, StoredRoom{"doomed", 0, 2000, "bob"}));
  EXPECT_TRUE(read_sync(*this->store_, "doomed", 0, 0, 100).second.empty());
}

TYPED_TEST(StoreContract, CompletionsRunInSubmissionOrder) {
  auto& s = *this->store_;
  std::mutex mutex;
  std::vector<int> order;
  auto record = [&](int i) {
    std::lock_guard lock(mutex);
    order.push_back(i);
  };
  std::uint64_t seq = 1;
  constexpr int jobs = 300;
  for (int i = 0; i < jobs; ++i) {
    if (i % 50 == 25) {
      s.create_room(StoredRoom{"room-" + std::to_string(i), 0, 1, "x"}, [&, i](std::error_code ec) {
        EXPECT_FALSE(ec);
        record(i);
      });
    } else if (i % 50 == 40) {
      s.read("r", 0, 0, 10, [&, i](std::error_code ec, std::vector<core::Message>) {
        EXPECT_FALSE(ec);
        record(i);
      });
    } else if (i % 50 == 45) {
      // The room created at i - 20 is found: it was submitted before.
      s.find_room("room-" + std::to_string(i - 20), [&, i](std::error_code ec, std::optional<StoredRoom> room) {
        EXPECT_FALSE(ec);
        EXPECT_TRUE(room);
        record(i);
      });
    } else {
      const std::uint64_t n = 1 + static_cast<std::uint64_t>(i % 5);
      s.append(make_batch("r", seq, n), [&, i](std::error_code ec) {
        EXPECT_FALSE(ec);
        record(i);
      });
      seq += n;
    }
  }
  s.flush();
  std::lock_guard lock(mutex);
  ASSERT_EQ(order.size(), static_cast<std::size_t>(jobs));
  for (int i = 0; i < jobs; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TYPED_TEST(StoreContract, FlushWaitsForEveryQueuedAppend) {
  auto& s = *this->store_;
  std::atomic<int> done{0};
  for (std::uint64_t i = 0; i < 200; ++i)
    s.append(make_batch("r", i * 10 + 1, 10), [&](std::error_code ec) {
      EXPECT_FALSE(ec);
      done.fetch_add(1);
    });
  s.flush();
  EXPECT_EQ(done.load(), 200);
  EXPECT_EQ(s.stats().queued, 0u);
  EXPECT_EQ(s.stats().messages, 2000u);
  s.flush();  // nothing queued: returns
}

TYPED_TEST(StoreContract, ReadsSeeEveryAppendWhoseCompletionRan) {
  auto& s = *this->store_;
  std::mutex mutex;
  std::vector<std::uint64_t> seen;
  int reads = 0;
  for (std::uint64_t seq = 1; seq <= 100; ++seq) {
    s.append({make_message("r", seq)}, [&, seq](std::error_code ec) {
      ASSERT_FALSE(ec);
      // Issued from the completion itself: the committed message must be visible.
      s.read("r", seq - 1, seq + 1, 10, [&](std::error_code rec, std::vector<core::Message> m) {
        std::lock_guard lock(mutex);
        ++reads;
        EXPECT_FALSE(rec);
        for (auto& x : m) seen.push_back(x.seq);
      });
    });
  }
  s.flush();  // the appends
  s.flush();  // the reads their completions queued
  std::lock_guard lock(mutex);
  EXPECT_EQ(reads, 100);
  EXPECT_EQ(seen, seq_range(1, 100));
  auto [ec, all] = read_sync(s, "r", 0, 0, 1000);
  EXPECT_EQ(seqs(all), seq_range(1, 100));
}

TYPED_TEST(StoreContract, FiftyThousandMessagesCommitWithEveryCompletion) {
  auto& s = *this->store_;
  constexpr int rooms = 5, appends = 1000, per_append = 50;  // 50,000 messages
  std::vector<std::uint64_t> next(rooms, 1);
  std::atomic<int> ok{0}, failed{0};
  for (int i = 0; i < appends; ++i) {
    std::vector<core::Message> batch;
    for (int k = 0; k < per_append; ++k) {
      const int r = (i + k) % rooms;
      batch.push_back(make_message("room" + std::to_string(r), next[static_cast<std::size_t>(r)]++));
    }
    s.append(std::move(batch), [&](std::error_code ec) { (ec ? failed : ok).fetch_add(1); });
  }
  s.flush();
  EXPECT_EQ(ok.load(), appends);
  EXPECT_EQ(failed.load(), 0);
  const auto st = s.stats();
  EXPECT_EQ(st.messages, static_cast<std::uint64_t>(appends * per_append));
  EXPECT_LE(st.batches, static_cast<std::uint64_t>(appends));
  EXPECT_EQ(st.queued, 0u);

  for (int r = 0; r < rooms; ++r) s.create_room_now(StoredRoom{"room" + std::to_string(r), 0, 1, "x"});
  for (const auto& room : s.load_rooms()) EXPECT_EQ(room.last_seq, 10000u) << room.id;
  auto [ec, newest] = read_sync(s, "room3", 0, 0, 100);
  EXPECT_FALSE(ec);
  EXPECT_EQ(seqs(newest), seq_range(9901, 10000));
  auto [ec2, all] = read_sync(s, "room0", 0, 0, 20000);
  EXPECT_EQ(seqs(all), seq_range(1, 10000));
}

TYPED_TEST(StoreContract, HasCapacityIsFalseWhileTheQueueHoldsMaxQueue) {
  this->reopen(StoreLimits{10, 10000});
  auto& s = *this->store_;
  EXPECT_TRUE(s.has_capacity());

  // Hold the store thread inside a completion so later appends stay queued.
  std::mutex mutex;
  std::condition_variable cv;
  bool entered = false, release = false;
  s.append({make_message("r", 1)}, [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    std::unique_lock lock(mutex);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return entered; }));
  }
  EXPECT_TRUE(s.has_capacity());
  std::atomic<int> done{0};
  for (std::uint64_t seq = 2; seq <= 10; ++seq) {
    s.append({make_message("r", seq)}, [&](std::error_code ec) {
      EXPECT_FALSE(ec);
      done.fetch_add(1);
    });
    EXPECT_TRUE(s.has_capacity()) << "after " << seq - 1 << " queued";
  }
  s.append({make_message("r", 11)}, [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    done.fetch_add(1);
  });
  EXPECT_FALSE(s.has_capacity());
  EXPECT_EQ(s.stats().queued, 10u);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  s.flush();
  EXPECT_EQ(done.load(), 10);
  EXPECT_TRUE(s.has_capacity());
  auto [ec, all] = read_sync(s, "r", 0, 0, 100);
  EXPECT_EQ(seqs(all), seq_range(1, 11));
}

TYPED_TEST(StoreContract, StopFlushesThenLaterCallsFailWithStoreFailed) {
  auto& s = *this->store_;
  std::atomic<int> ok{0};
  for (std::uint64_t i = 0; i < 20; ++i)
    s.append(make_batch("r", i * 5 + 1, 5), [&](std::error_code ec) {
      if (!ec) ok.fetch_add(1);
    });
  s.stop();
  EXPECT_EQ(ok.load(), 20);  // stop flushed them

  std::optional<std::error_code> append_ec, create_ec, read_ec, find_ec;
  bool found = true;
  s.append(make_batch("r", 101, 1), [&](std::error_code ec) { append_ec = ec; });
  s.create_room(StoredRoom{"late", 0, 1, "x"}, [&](std::error_code ec) { create_ec = ec; });
  s.read("r", 0, 0, 10, [&](std::error_code ec, std::vector<core::Message>) { read_ec = ec; });
  s.find_room("general", [&](std::error_code ec, std::optional<StoredRoom> room) {
    find_ec = ec;
    found = room.has_value();
  });
  ASSERT_TRUE(append_ec && create_ec && read_ec && find_ec);  // failed at once, on the caller's thread
  EXPECT_EQ(*append_ec, make_error_code(errc::store_failed));
  EXPECT_EQ(*create_ec, make_error_code(errc::store_failed));
  EXPECT_EQ(*read_ec, make_error_code(errc::store_failed));
  EXPECT_EQ(*find_ec, make_error_code(errc::store_failed));
  EXPECT_FALSE(found);
  EXPECT_EQ(s.stats().queued, 0u);
  s.flush();  // returns
  s.stop();   // idempotent

  this->reopen();
  auto [ec, all] = read_sync(*this->store_, "r", 0, 0, 1000);
  EXPECT_EQ(seqs(all), seq_range(1, 100));
}

TYPED_TEST(StoreContract, RestartKeepsRoomsMessagesAndLastSeq) {
  this->store_->create_room_now(StoredRoom{"general", 0, 42, "system"});
  EXPECT_FALSE(create_sync(*this->store_, StoredRoom{"ops", 0, 43, "ada"}));
  ASSERT_FALSE(append_sync(*this->store_, make_batch("general", 1, 30)));
  ASSERT_FALSE(append_sync(*this->store_, make_batch("ops", 1, 4)));

  for (int round = 0; round < 2; ++round) {
    this->reopen();
    auto& s = *this->store_;
    auto rooms = s.load_rooms();
    ASSERT_EQ(rooms.size(), 2u);
    EXPECT_EQ(rooms[0].id, "general");
    EXPECT_EQ(rooms[0].created_at, 42);
    EXPECT_EQ(rooms[0].created_by, "system");
    EXPECT_EQ(rooms[0].last_seq, 30u + static_cast<unsigned>(round) * 5);
    EXPECT_EQ(rooms[1].id, "ops");
    EXPECT_EQ(rooms[1].last_seq, 4u);
    auto [ec, all] = read_sync(s, "general", 0, 0, 1000);
    EXPECT_FALSE(ec);
    EXPECT_EQ(seqs(all), seq_range(1, 30 + static_cast<unsigned>(round) * 5));
    EXPECT_EQ(all.back().text, make_message("general", all.back().seq).text);
    // The sequence goes on where it stopped.
    ASSERT_FALSE(append_sync(s, make_batch("general", rooms[0].last_seq + 1, 5)));
  }
}

TYPED_TEST(StoreContract, UnicodeQuotesAndControlCharactersRoundTrip) {
  auto& s = *this->store_;
  const std::vector<std::string> texts = {
      "héllo wörld — ça va?",
      "日本語のテキスト、中文、한국어",
      "emoji 😀🎉👩‍👩‍👧 and combining e\xCC\x81",
      "quotes ' \" ` and backslashes \\ \\\\ \\n",
      "'); DROP TABLE messages; --",
      "$1 $$ %s %d {} ${x} \\x00 E'\\\\'",
      "tab\there\nnew line\r\ncarriage \x01\x02\x1b[31m\x1f\x7f",
      std::string(1, ' '),
      "",
      std::string(65536, 'x') + "ü",
  };
  std::vector<core::Message> batch;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto m = make_message("uni", i + 1, "placeholder");
    m.text = texts[i];
    m.from = i % 2 ? "Zoë 👋" : "o'brien \"q\"";
    m.cid = "c'\"\\-" + std::to_string(i);
    m.from_id = i % 2 ? "x_'\"\\" + texts[i].substr(0, 100) : "";
    batch.push_back(m);
  }
  ASSERT_FALSE(append_sync(s, batch));
  auto check = [&] {
    auto [ec, got] = read_sync(*this->store_, "uni", 0, 0, 100);
    ASSERT_FALSE(ec);
    ASSERT_EQ(got.size(), batch.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].text, batch[i].text) << i;
      EXPECT_EQ(got[i].from, batch[i].from) << i;
      EXPECT_EQ(got[i].cid, batch[i].cid) << i;
      EXPECT_EQ(got[i].from_id, batch[i].from_id) << i;
      EXPECT_EQ(got[i].ts, batch[i].ts) << i;
    }
  };
  check();
  this->reopen();
  check();
}

// Edits and deletes (docs/protocol.md, "edit and delete"): stored as entries of their own, and
// applied to their message in seq order, once: a message and its change in one batch, an edit
// after a delete (nothing), a retried change (not applied twice: an older edit stored again does not
// overwrite a newer one), and the text of a deleted message gone, its edits' too, after a restart.
TYPED_TEST(StoreContract, EditsAndDeletesChangeTheirMessageOnceAndADeleteLeavesNoText) {
  auto& s = *this->store_;
  s.create_room_now(StoredRoom{"r", 0, 1, "x"});
  auto change = [](std::uint64_t seq, core::MessageKind kind, std::uint64_t target, std::string text) {
    auto m = make_message("r", seq, std::move(text));
    m.kind = kind;
    m.target = target;
    return m;
  };
  using K = core::MessageKind;
  auto batch = make_batch("r", 1, 3);
  batch.push_back(change(4, K::edit, 1, "first edit"));  // its message in the same batch
  ASSERT_FALSE(append_sync(s, batch));
  const auto edit5 = change(5, K::edit, 1, "second edit");
  ASSERT_FALSE(append_sync(s, {edit5, change(6, K::edit, 2, "secret edit")}));
  // Message 2 edited twice more (an append of its own, then one with an edit of another message
  // between), then deleted: none of its three edits keeps its text.
  ASSERT_FALSE(append_sync(s, {change(7, K::edit, 2, "secret edit two")}));
  ASSERT_FALSE(append_sync(s, {change(8, K::edit, 3, "third's edit"), change(9, K::edit, 2, "secret edit three")}));
  ASSERT_FALSE(append_sync(s, {change(10, K::remove, 2, ""), change(11, K::edit, 2, "after the delete")}));
  // The first edit stored again (a retry): the newer edit stays.
  ASSERT_FALSE(append_sync(s, {change(4, K::edit, 1, "first edit")}));

  // The store is read through the fixture: reopen() replaces it (`s` names the first one).
  auto check = [&] {
    auto [ec, got] = read_sync(*this->store_, "r", 0, 0, 100);
    ASSERT_FALSE(ec);
    ASSERT_EQ(seqs(got), seq_range(1, 11));
    EXPECT_EQ(got[0].text, "second edit");
    EXPECT_EQ(got[0].edited, edit5.ts);
    EXPECT_FALSE(got[0].deleted);
    EXPECT_EQ(got[1].text, "");
    EXPECT_TRUE(got[1].deleted);
    EXPECT_EQ(got[2].text, "third's edit");
    EXPECT_NE(got[2].edited, 0);
    EXPECT_EQ(got[3].kind, K::edit);
    EXPECT_EQ(got[3].target, 1u);
    EXPECT_EQ(got[3].text, "first edit");
    EXPECT_EQ(got[4].text, "second edit");
    for (const std::size_t i : {5, 6, 8})
      EXPECT_EQ(got[i].text, "") << "the deleted message's edit keeps no text of it";
    EXPECT_EQ(got[7].text, "third's edit") << "another message's edit between them keeps its text";
    EXPECT_EQ(got[9].kind, K::remove);
    EXPECT_EQ(got[9].target, 2u);
    EXPECT_EQ(got[10].kind, K::edit);
    for (const auto& m : got) EXPECT_EQ(m.text.find("secret"), std::string::npos) << m.seq;
  };
  check();
  this->reopen();
  check();
}

// Many changes in one append (SQLite stores them insert_rows at a time, PostgreSQL in one call):
// each applied once; a retried group is not applied again, and a group that mixes retried and new
// changes applies only the new ones.
TYPED_TEST(StoreContract, ManyChangesInOneAppendEachAppliedOnceAndRetriesNotAgain) {
  auto& s = *this->store_;
  s.create_room_now(StoredRoom{"r", 0, 1, "x"});
  using K = core::MessageKind;
  auto edit = [](std::uint64_t seq, std::uint64_t target, const std::string& text) {
    auto m = make_message("r", seq, text + " " + std::to_string(target));
    m.kind = K::edit;
    m.target = target;
    return m;
  };
  ASSERT_FALSE(append_sync(s, make_batch("r", 1, 40)));
  std::vector<core::Message> first, second, mixed;
  for (std::uint64_t i = 1; i <= 40; ++i) first.push_back(edit(40 + i, i, "first"));    // seqs 41-80
  for (std::uint64_t i = 1; i <= 40; ++i) second.push_back(edit(80 + i, i, "second"));  // seqs 81-120
  ASSERT_FALSE(append_sync(s, first));
  ASSERT_FALSE(append_sync(s, second));
  ASSERT_FALSE(append_sync(s, first)) << "a retry of stored changes";
  // Seqs 61-80 again, then 121-132 new: one group of both.
  mixed.assign(first.begin() + 20, first.end());
  for (std::uint64_t i = 1; i <= 12; ++i) mixed.push_back(edit(120 + i, i, "third"));
  ASSERT_FALSE(append_sync(s, mixed));
  auto [ec, got] = read_sync(s, "r", 0, 0, 200);
  ASSERT_FALSE(ec);
  ASSERT_EQ(seqs(got), seq_range(1, 132));
  for (std::uint64_t i = 1; i <= 40; ++i)
    EXPECT_EQ(got[i - 1].text, (i <= 12 ? "third " : "second ") + std::to_string(i)) << i;
}

// Reactions and replies (docs/protocol.md, "reactions", "replies"): a react or an unreact is stored
// as an entry of its own and changes its message's reactions once (a retried react does not bring
// back a reaction taken back since), per user and emoji; a delete takes them all; a reply keeps
// the seq it answers; reactions read back in the order they were made, after a restart too, and
// go with their room.
TYPED_TEST(StoreContract, ReactionsChangeTheirMessageOnceAndGoWithItsDeleteAndRepliesKeepTheirTarget) {
  auto& s = *this->store_;
  s.create_room_now(StoredRoom{"r", 0, 1, "x"});
  using K = core::MessageKind;
  auto change = [](std::uint64_t seq, K kind, std::uint64_t target, std::string text, std::string from,
                   std::string from_id) {
    auto m = make_message("r", seq, std::move(text));
    m.kind = kind;
    m.target = target;
    m.from = std::move(from);
    m.from_id = std::move(from_id);
    return m;
  };
  const std::string thumbs = "\U0001F44D", party = "\U0001F389";
  auto batch = make_batch("r", 1, 2);
  batch[1].target = 1;  // a reply to 1
  const auto react3 = change(3, K::react, 1, thumbs, "ada", "u_ada");
  batch.push_back(react3);  // its message in the same batch
  ASSERT_FALSE(append_sync(s, batch));
  ASSERT_FALSE(
      append_sync(s, {change(4, K::react, 1, thumbs, "bob", "u_bob"), change(5, K::react, 1, party, "ada", "u_ada"),
                      change(6, K::react, 1, party, "ada", "u_ada"),  // again: no second
                      change(7, K::react, 2, thumbs, "dora", "g_0123456789abcdef")}));
  ASSERT_FALSE(append_sync(s, {change(8, K::unreact, 1, thumbs, "ada", "u_ada"),
                               change(9, K::unreact, 1, party, "bob", "u_bob")}));  // not bob's: nothing
  // The first react stored again (a retry): ada's thumbs stays taken back.
  ASSERT_FALSE(append_sync(s, {react3}));
  ASSERT_FALSE(append_sync(s, {change(10, K::remove, 2, "", "ada", "u_ada"),
                               change(11, K::react, 2, party, "bob", "u_bob")}));  // after the delete: nothing

  auto check = [&] {  // through the fixture: reopen() replaces the store `s` names
    auto [ec, got] = read_sync(*this->store_, "r", 0, 0, 100);
    ASSERT_FALSE(ec);
    ASSERT_EQ(seqs(got), seq_range(1, 11));
    ASSERT_EQ(got[0].reactions.size(), 2u);
    EXPECT_EQ(got[0].reactions[0].emoji, thumbs);
    ASSERT_EQ(got[0].reactions[0].who.size(), 1u);
    EXPECT_EQ(got[0].reactions[0].who[0].from, "bob");
    EXPECT_EQ(got[0].reactions[0].who[0].from_id, "u_bob");
    EXPECT_EQ(got[0].reactions[1].emoji, party);
    ASSERT_EQ(got[0].reactions[1].who.size(), 1u);
    EXPECT_EQ(got[0].reactions[1].who[0].from, "ada");
    EXPECT_EQ(got[1].kind, K::message);
    EXPECT_EQ(got[1].target, 1u) << "a reply keeps what it answers";
    EXPECT_TRUE(got[1].deleted);
    EXPECT_TRUE(got[1].reactions.empty()) << "a deleted message has no reactions";
    EXPECT_EQ(got[2].kind, K::react);
    EXPECT_EQ(got[2].target, 1u);
    EXPECT_EQ(got[2].text, thumbs);
    EXPECT_EQ(got[7].kind, K::unreact);
    EXPECT_EQ(got[7].from, "ada");
    for (std::size_t i = 2; i < got.size(); ++i) EXPECT_TRUE(got[i].reactions.empty()) << got[i].seq;
  };
  check();
  this->reopen();
  check();

  // A room deleted takes its reactions: a new room of that name starts without them.
  ASSERT_FALSE(delete_sync(*this->store_, "r"));
  this->store_->create_room_now(StoredRoom{"r", 0, 1, "x"});
  ASSERT_FALSE(append_sync(*this->store_, make_batch("r", 1, 1)));
  auto [ec, got] = read_sync(*this->store_, "r", 0, 0, 100);
  ASSERT_FALSE(ec);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].reactions.empty());
}

// A message with more reactions than SQLite keeps on its row (the rest are rows of their own):
// all read back in the order they were made, whichever side each is on; an unreact takes one
// from either side, and a react made again counts from then; a delete takes them all.
TYPED_TEST(StoreContract, ManyReactionsOnOneMessageReadBackInTheOrderTheyWereMade) {
  auto& s = *this->store_;
  s.create_room_now(StoredRoom{"r", 0, 1, "x"});
  using K = core::MessageKind;
  std::uint64_t seq = 2;
  auto change = [&seq](K kind, std::uint64_t target, const std::string& emoji, int user) {
    auto m = make_message("r", seq++, emoji);
    m.kind = kind;
    m.target = target;
    m.from = "user" + std::to_string(user);
    m.from_id = "u_" + std::to_string(user);
    return m;
  };
  const std::string thumbs = "\U0001F44D", party = "\U0001F389";
  ASSERT_FALSE(append_sync(s, make_batch("r", 1, 1)));
  std::vector<int> expected;  // thumbs, by user, in order
  for (int u = 0; u < 30; ++u) {
    std::vector<core::Message> batch{change(K::react, 1, thumbs, u)};
    if (u == 12) batch.push_back(change(K::react, 1, party, u));      // party first made by 12
    if (u % 3 == 0) batch.push_back(change(K::react, 1, thumbs, u));  // again: no second
    ASSERT_FALSE(append_sync(s, batch));
    expected.push_back(u);
  }
  ASSERT_FALSE(append_sync(s, {change(K::unreact, 1, thumbs, 1), change(K::unreact, 1, thumbs, 25),
                               change(K::unreact, 1, thumbs, 40)}));  // 40's: none
  ASSERT_FALSE(append_sync(s, {change(K::react, 1, thumbs, 1)}));
  std::erase(expected, 1);
  std::erase(expected, 25);
  expected.push_back(1);
  auto check = [&] {
    auto [ec, got] = read_sync(*this->store_, "r", 0, 2, 1);
    ASSERT_FALSE(ec);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].reactions.size(), 2u);
    EXPECT_EQ(got[0].reactions[0].emoji, thumbs);
    std::vector<std::string> who, want;
    for (const auto& r : got[0].reactions[0].who) who.push_back(r.from_id);
    for (int u : expected) want.push_back("u_" + std::to_string(u));
    EXPECT_EQ(who, want);
    EXPECT_EQ(got[0].reactions[1].emoji, party);
    ASSERT_EQ(got[0].reactions[1].who.size(), 1u);
    EXPECT_EQ(got[0].reactions[1].who[0].from, "user12");
  };
  check();
  this->reopen();
  check();
  ASSERT_FALSE(append_sync(*this->store_, {change(K::remove, 1, "", 0), change(K::react, 1, party, 3)}));
  auto [ec, got] = read_sync(*this->store_, "r", 0, 2, 1);
  ASSERT_FALSE(ec);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].deleted);
  EXPECT_TRUE(got[0].reactions.empty());
}

// Several changes of one message in one append end as applying them one after another does
// (PostgreSQL applies a batch a statement per kind, migration 16): the latest edit wins; per user
// and emoji the react after the last unreact makes the reaction, which then counts from that
// react (reactions read back in the order they were made); a delete takes the message's text,
// reactions and its edits' texts, whatever came before it in the batch. Stored again, nothing
// changes.
TYPED_TEST(StoreContract, ChangesOfOneMessageInOneAppendEndAsAppliedInTurn) {
  auto& s = *this->store_;
  s.create_room_now(StoredRoom{"r", 0, 1, "x"});
  using K = core::MessageKind;
  auto change = [](std::uint64_t seq, K kind, std::uint64_t target, std::string text, std::string from) {
    auto m = make_message("r", seq, std::move(text));
    m.kind = kind;
    m.target = target;
    m.from_id = "u_" + from;
    m.from = std::move(from);
    return m;
  };
  const std::string thumbs = "\U0001F44D", party = "\U0001F389";
  ASSERT_FALSE(append_sync(s, make_batch("r", 1, 3)));
  const std::vector<core::Message> changes = {
      change(4, K::edit, 1, "first edit", "ada"), change(5, K::react, 1, thumbs, "ada"),
      change(6, K::react, 1, party, "bob"),       change(7, K::unreact, 1, thumbs, "ada"),
      change(8, K::react, 1, thumbs, "ada"),      change(9, K::react, 1, thumbs, "carol"),
      change(10, K::react, 1, thumbs, "carol"),   change(11, K::edit, 1, "second edit", "ada"),
      change(12, K::react, 2, party, "ada"),      change(13, K::edit, 2, "gone soon", "ada"),
      change(14, K::remove, 2, "", "ada"),        change(15, K::unreact, 3, party, "dora"),
      change(16, K::react, 3, party, "dora"),
  };
  ASSERT_FALSE(append_sync(s, changes));
  auto check = [&] {
    auto [ec, got] = read_sync(s, "r", 0, 0, 100);
    ASSERT_FALSE(ec);
    ASSERT_EQ(seqs(got), seq_range(1, 16));
    EXPECT_EQ(got[0].text, "second edit");
    EXPECT_EQ(got[0].edited, changes[7].ts);
    ASSERT_EQ(got[0].reactions.size(), 2u);
    EXPECT_EQ(got[0].reactions[0].emoji, party) << "ada's thumbs counts from her react after the unreact";
    ASSERT_EQ(got[0].reactions[0].who.size(), 1u);
    EXPECT_EQ(got[0].reactions[0].who[0].from, "bob");
    EXPECT_EQ(got[0].reactions[1].emoji, thumbs);
    ASSERT_EQ(got[0].reactions[1].who.size(), 2u);
    EXPECT_EQ(got[0].reactions[1].who[0].from, "ada");
    EXPECT_EQ(got[0].reactions[1].who[1].from, "carol");
    EXPECT_TRUE(got[1].deleted);
    EXPECT_EQ(got[1].text, "");
    EXPECT_TRUE(got[1].reactions.empty());
    EXPECT_EQ(got[12].text, "") << "a deleted message's edit keeps no text";
    ASSERT_EQ(got[2].reactions.size(), 1u);
    EXPECT_EQ(got[2].reactions[0].who.at(0).from, "dora");
  };
  check();
  ASSERT_FALSE(append_sync(s, changes)) << "stored again";
  check();
}

}  // namespace
}  // namespace parley::contract
