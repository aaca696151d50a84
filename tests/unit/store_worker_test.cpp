// StoreWorker over a fake backend (no database): how jobs are grouped and ordered, how a failing
// commit is retried, and what stop() does with one. The real stores run the Store contract suite
// (tests/contract).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "protocol/errc.hpp"
#include "store/store_worker.hpp"

namespace parley::store {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Outcome = StoreBackend::Outcome;
using protocol::errc;

std::vector<core::Message> batch(std::uint64_t first, std::uint64_t count) {
  std::vector<core::Message> out;
  for (auto seq = first; seq < first + count; ++seq)
    out.push_back(core::Message{"r", seq, "ada", "hi", 1, "c", "u_ada"});
  return out;
}

// Records every call with the thread it came on; commits succeed unless `commit_outcome` says
// otherwise. A commit is logged as "commit" and the first seq of each of its appends.
class FakeBackend final : public StoreBackend {
 public:
  std::function<Outcome(std::span<Append>, std::string&)> commit_outcome;
  std::function<Outcome(std::error_code&, std::string&)> create_outcome;
  std::function<Outcome(std::string&)> delete_outcome;

  Outcome try_commit(std::span<Append> appends, std::string& err) override {
    std::string entry = "commit";
    for (const Append& a : appends) entry += " " + std::to_string(a.messages->front().seq);
    record(entry);
    return commit_outcome ? commit_outcome(appends, err) : Outcome::ok;
  }
  Outcome try_create_room(const StoredRoom& room, std::error_code& result, std::string& err) override {
    record("create " + room.id);
    return create_outcome ? create_outcome(result, err) : Outcome::ok;
  }
  Outcome try_delete_room(const std::string& room, std::string& err) override {
    record("delete " + room);
    return delete_outcome ? delete_outcome(err) : Outcome::ok;
  }
  std::error_code read_now(const std::string& room, std::uint64_t, std::uint64_t, std::size_t,
                           std::vector<core::Message>& out) override {
    record("read " + room);
    out = batch(1, 1);
    return {};
  }
  std::error_code find_room_now(const std::string& room, std::optional<StoredRoom>& out) override {
    record("find " + room);
    out = StoredRoom{room, 7, 1, "ada"};
    return {};
  }
  std::vector<StoredRoom> load_rooms_now() override {
    record("load");
    if (load_throws) throw std::runtime_error("no rooms today");
    return {StoredRoom{"general", 3, 1, "ada"}};
  }

  // Accounts: each call is logged ("account <what>") and answers `account_result`.
  std::error_code account_result;
  std::error_code create_user_now(const StoredUser& user) override { return account("create_user " + user.id); }
  std::error_code find_user_by_name_key_now(const std::string& key, std::optional<StoredUser>& out) override {
    if (!account_result) out = StoredUser{"u_1", "Ada", key, "h", 1, false};
    return account("find_user_by_name_key " + key);
  }
  std::error_code find_user_now(const std::string& id, std::optional<StoredUser>& out) override {
    if (!account_result) out = StoredUser{id, "Ada", "ada", "h", 1, false};
    return account("find_user " + id);
  }
  std::error_code set_password_now(const std::string& user, const std::string&, const std::string&) override {
    return account("set_password " + user);
  }
  std::error_code delete_user_now(const std::string& user) override { return account("delete_user " + user); }
  std::error_code create_session_now(const StoredSession& s, std::size_t, std::size_t& evicted) override {
    evicted = 0;
    return account("create_session " + s.user_id);
  }
  std::error_code find_session_now(const std::string&, std::int64_t,
                                   std::optional<std::pair<StoredSession, StoredUser>>&) override {
    return account("find_session");
  }
  std::error_code touch_session_now(const std::string&, std::int64_t, std::int64_t) override {
    return account("touch_session");
  }
  std::error_code list_sessions_now(const std::string& user, std::vector<StoredSession>& out) override {
    if (!account_result) out.push_back(StoredSession{"d", user, 1, 1, 2, "ua"});
    return account("list_sessions " + user);
  }
  std::error_code revoke_session_now(const std::string& user, const std::string&) override {
    return account("revoke_session " + user);
  }
  std::error_code revoke_sessions_now(const std::string& user) override { return account("revoke_sessions " + user); }
  std::error_code sweep_sessions_now(std::int64_t) override { return account("sweep_sessions"); }
  std::error_code load_access_now(const std::string& room, StoredAccess&) override {
    return account("load_access " + room);
  }
  std::error_code set_member_now(const std::string& room, const StoredMember&) override {
    return account("set_member " + room);
  }
  std::error_code remove_member_now(const std::string& room, const std::string&, bool) override {
    return account("remove_member " + room);
  }
  std::error_code unban_now(const std::string& room, const std::string&) override { return account("unban " + room); }
  std::error_code load_roster_now(const std::string& room, std::size_t, std::vector<StoredRosterEntry>&) override {
    return account("load_roster " + room);
  }
  std::error_code set_room_info_now(const std::string& room, const std::string&, const std::string&) override {
    return account("set_room_info " + room);
  }
  std::error_code set_read_now(const std::string& user_id, const std::string& room, std::uint64_t seq,
                               std::uint64_t& stored) override {
    stored = seq;
    return account("set_read " + user_id + " " + room);
  }
  std::error_code read_states_now(const std::string& user_id, const std::string&, const std::vector<std::string>&,
                                  std::vector<store::StoredReadState>&) override {
    return account("read_states " + user_id);
  }
  std::error_code room_reads_now(const std::string& room, std::size_t, std::vector<store::StoredSeen>&) override {
    return account("room_reads " + room);
  }
  std::error_code create_api_key_now(const store::StoredApiKey& key) override {
    return account("create_api_key " + key.id);
  }
  std::error_code find_api_key_now(const std::string& id, std::optional<store::StoredApiKey>&) override {
    return account("find_api_key " + id);
  }
  std::error_code list_api_keys_now(std::vector<store::StoredApiKey>&) override { return account("list_api_keys"); }
  std::error_code revoke_api_key_now(const std::string& id, std::int64_t, bool&) override {
    return account("revoke_api_key " + id);
  }
  std::error_code touch_api_key_now(const std::string& id, std::int64_t) override {
    return account("touch_api_key " + id);
  }
  std::error_code put_file_now(const store::StoredFile& file, std::uint64_t) override {
    return account("put_file " + file.id);
  }
  std::error_code find_file_now(const std::string& id, std::optional<store::StoredFile>&) override {
    return account("find_file " + id);
  }
  std::error_code claim_files_now(const std::string& room, const std::string&, const std::string&,
                                  const std::vector<std::string>&, std::int64_t,
                                  std::vector<store::StoredFile>&) override {
    return account("claim_files " + room);
  }
  std::error_code take_file_trash_now(std::int64_t, std::size_t, std::vector<std::string>&) override {
    return account("take_file_trash");
  }

  std::vector<std::string> log() {
    std::lock_guard lock(mutex_);
    return log_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }
  std::size_t calls() {
    std::lock_guard lock(mutex_);
    return log_.size();
  }

  bool load_throws = false;
  // probe_now (the idle worker's check): answers probe_ok, counts itself (not in the log).
  bool probe_now(std::string& err) override {
    probes.fetch_add(1);
    if (!probe_ok.load()) err = "down";
    return probe_ok.load();
  }
  std::atomic<bool> probe_ok{true};
  std::atomic<int> probes{0};

 private:
  std::error_code account(std::string entry) {
    record("account " + std::move(entry));
    return account_result;
  }
  void record(std::string entry) {
    std::lock_guard lock(mutex_);
    log_.push_back(std::move(entry));
    threads_.insert(std::this_thread::get_id());
  }
  std::mutex mutex_;
  std::vector<std::string> log_;
  std::set<std::thread::id> threads_;
};

// Holds the worker's thread inside a completion, so that what the test submits next is queued
// together and taken in one swap. The completion shares the state: it may still be leaving the
// wait when the Hold is gone.
class Hold {
 public:
  explicit Hold(StoreWorker& worker) : state_(std::make_shared<State>()) {
    worker.find_room("hold", [s = state_](std::error_code, std::optional<StoredRoom>) {
      std::unique_lock lock(s->mutex);
      s->entered = true;
      s->cv.notify_all();
      s->cv.wait(lock, [&] { return s->released; });
    });
    std::unique_lock lock(state_->mutex);
    state_->cv.wait(lock, [&] { return state_->entered; });
  }
  ~Hold() {
    {
      std::lock_guard lock(state_->mutex);
      state_->released = true;
    }
    state_->cv.notify_all();
  }

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    bool entered = false, released = false;
  };
  std::shared_ptr<State> state_;
};

// Completions, in the order they ran, with the thread they ran on.
class Completions {
 public:
  Store::Done done(int id) {
    return [this, id](std::error_code ec) { record(id, ec); };
  }
  Store::ReadDone read_done(int id) {
    return [this, id](std::error_code ec, std::vector<core::Message>) { record(id, ec); };
  }
  Store::FindRoomDone find_done(int id) {
    return [this, id](std::error_code ec, std::optional<StoredRoom>) { record(id, ec); };
  }
  std::vector<int> order() {
    std::lock_guard lock(mutex_);
    return order_;
  }
  std::vector<std::error_code> results() {
    std::lock_guard lock(mutex_);
    return results_;
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  void record(int id, std::error_code ec) {
    std::lock_guard lock(mutex_);
    order_.push_back(id);
    results_.push_back(ec);
    threads_.insert(std::this_thread::get_id());
  }
  std::mutex mutex_;
  std::vector<int> order_;
  std::vector<std::error_code> results_;
  std::set<std::thread::id> threads_;
};

const std::error_code store_failed = make_error_code(errc::store_failed);

// Retries without waiting, and the waits they asked for.
struct Backoffs {
  std::mutex mutex;
  std::vector<std::chrono::milliseconds> asked;
  std::function<void(std::chrono::milliseconds)> hook() {
    return [this](std::chrono::milliseconds d) {
      std::lock_guard lock(mutex);
      asked.push_back(d);
    };
  }
};

TEST(StoreWorker, ConsecutiveAppendsShareOneCommitOfAtMostMaxBatchMessages) {
  FakeBackend backend;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{.max_batch = 10});
  worker.start();
  {
    Hold hold(worker);
    worker.append(batch(1, 4), c.done(1));
    worker.append(batch(5, 4), c.done(2));
    worker.append(batch(9, 4), c.done(3));    // 12 > 10: a new commit
    worker.append(batch(13, 12), c.done(4));  // larger than max_batch: alone
    worker.append(batch(25, 3), c.done(5));
    worker.append(batch(28, 3), c.done(6));
  }
  worker.flush();
  EXPECT_EQ(backend.log(),
            (std::vector<std::string>{"find hold", "commit 1 5", "commit 9", "commit 13", "commit 25 28"}));
  EXPECT_EQ(c.order(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  for (auto ec : c.results()) EXPECT_FALSE(ec);
  const auto st = worker.stats();
  EXPECT_EQ(st.batches, 4u);
  EXPECT_EQ(st.messages, 30u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.failures, 0u);
}

TEST(StoreWorker, OtherJobsRunInSubmissionOrderBetweenCommitsOnTheWorkerThread) {
  FakeBackend backend;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  {
    Hold hold(worker);
    worker.append(batch(1, 1), c.done(1));
    worker.append(batch(2, 1), c.done(2));
    worker.read("r", 0, 0, 10, c.read_done(3));
    worker.append(batch(3, 1), c.done(4));
    worker.create_room(StoredRoom{"new", 0, 1, "ada"}, c.done(5));
    worker.find_room("new", c.find_done(6));
    worker.append(batch(4, 1), c.done(7));
  }
  worker.flush();
  EXPECT_EQ(backend.log(), (std::vector<std::string>{"find hold", "commit 1 2", "read r", "commit 3", "create new",
                                                     "find new", "commit 4"}));
  EXPECT_EQ(c.order(), (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
  // One thread did the work and ran the completions, and it is not the caller's.
  ASSERT_EQ(backend.threads().size(), 1u);
  EXPECT_EQ(c.threads(), backend.threads());
  EXPECT_EQ(backend.threads().count(std::this_thread::get_id()), 0u);
}

TEST(StoreWorker, AccountCallsRunInOrderBetweenCommitsAnswerOnceAndFailAtOnceAfterStop) {
  FakeBackend backend;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  std::optional<StoredUser> found;
  std::vector<StoredSession> listed;
  {
    Hold hold(worker);
    worker.append(batch(1, 1), c.done(1));
    worker.create_user(StoredUser{"u_1", "Ada", "ada", "h", 1, false}, c.done(2));
    worker.append(batch(2, 1), c.done(3));
    auto found_done = c.done(4);
    worker.find_user_by_name_key("ada", [&, found_done](std::error_code ec, std::optional<StoredUser> u) {
      found = std::move(u);
      found_done(ec);
    });
    auto listed_done = c.done(5);
    worker.list_sessions("u_1", [&, listed_done](std::error_code ec, std::vector<StoredSession> s) {
      listed = std::move(s);
      listed_done(ec);
    });
    worker.sweep_sessions(10, c.done(6));
  }
  worker.flush();
  EXPECT_EQ(backend.log(), (std::vector<std::string>{"find hold", "commit 1", "account create_user u_1", "commit 2",
                                                     "account find_user_by_name_key ada", "account list_sessions u_1",
                                                     "account sweep_sessions"}));
  EXPECT_EQ(c.order(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name_key, "ada");
  EXPECT_EQ(listed.size(), 1u);
  ASSERT_EQ(backend.threads().size(), 1u);
  EXPECT_EQ(c.threads(), backend.threads());

  // A failure is answered at once: one attempt, no backoff, and no value with it.
  backend.account_result = store_failed;
  Completions failing;
  const auto calls = backend.calls();
  worker.set_password("u_1", "h2", "", failing.done(1));
  auto list_done = failing.done(2);
  worker.list_sessions("u_1", [&, list_done](std::error_code ec, std::vector<StoredSession> s) {
    EXPECT_TRUE(s.empty());
    list_done(ec);
  });
  worker.flush();
  EXPECT_EQ(backend.calls(), calls + 2);
  EXPECT_EQ(failing.results(), std::vector<std::error_code>(2, store_failed));

  worker.stop();
  Completions late;
  worker.delete_user("u_1", late.done(1));
  auto session_done = late.done(2);
  worker.find_session("d", 1,
                      [&, session_done](std::error_code ec, std::optional<std::pair<StoredSession, StoredUser>> s) {
                        EXPECT_FALSE(s);
                        session_done(ec);
                      });
  EXPECT_EQ(late.order(), (std::vector<int>{1, 2}));  // ran before the calls returned
  EXPECT_EQ(late.results(), std::vector<std::error_code>(2, store_failed));
  EXPECT_EQ(late.threads(), std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(backend.calls(), calls + 2);
}

// Health (/readyz): an operation that cannot reach the database makes the store not serving; an
// idle worker's probe, or any later operation that succeeds, makes it serving again; a failing
// probe alone (no traffic) makes it not serving.
TEST(StoreWorker, HealthFollowsOperationsAndIdleProbes) {
  FakeBackend backend;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  EXPECT_TRUE(store::store_serving(worker.stats()));
  backend.probe_ok = false;
  backend.account_result = make_error_code(errc::store_failed);
  std::error_code got;
  worker.create_user(StoredUser{"u1", "ada", "ada", "h", 1, false}, [&](std::error_code ec) { got = ec; });
  worker.flush();
  EXPECT_EQ(got, make_error_code(errc::store_failed));
  EXPECT_GE(worker.stats().failing, 1u);
  EXPECT_FALSE(store::store_serving(worker.stats()));
  // Idle, probing a database that is still down: still not serving.
  const int before = backend.probes.load();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (backend.probes.load() == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GT(backend.probes.load(), before) << "no probe while idle";
  EXPECT_FALSE(store::store_serving(worker.stats()));
  // The database is back: the next probe says so, with no traffic.
  backend.probe_ok = true;
  while (!store::store_serving(worker.stats()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(store::store_serving(worker.stats()));
  EXPECT_EQ(worker.stats().failing, 0u);
  // A successful operation counts too.
  backend.account_result = {};
  worker.create_user(StoredUser{"u2", "bob", "bob", "h", 1, false}, [&](std::error_code ec) { got = ec; });
  worker.flush();
  EXPECT_FALSE(got);
  EXPECT_TRUE(store::store_serving(worker.stats()));
  worker.stop();
}

TEST(StoreWorker, AFailedCommitIsRetriedWithTheSameRowsAfterABackoffThatDoublesTo2s) {
  FakeBackend backend;
  int attempts = 0;
  backend.commit_outcome = [&](std::span<StoreBackend::Append>, std::string& err) {
    err = "disk I/O error";
    return ++attempts <= 8 ? Outcome::retry : Outcome::ok;
  };
  Backoffs backoffs;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{.wait = backoffs.hook()});
  worker.start();
  {
    Hold hold(worker);
    worker.append(batch(1, 2), c.done(1));
    worker.append(batch(3, 2), c.done(2));
  }
  worker.flush();
  EXPECT_EQ(backoffs.asked,
            (std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms, 400ms, 800ms, 1600ms, 2000ms, 2000ms}));
  std::vector<std::string> attempts_logged(10, "commit 1 3");
  attempts_logged.front() = "find hold";
  EXPECT_EQ(backend.log(), attempts_logged);
  EXPECT_EQ(c.order(), (std::vector<int>{1, 2}));
  for (auto ec : c.results()) EXPECT_FALSE(ec);
  const auto st = worker.stats();
  EXPECT_EQ(st.failures, 8u);
  EXPECT_EQ(st.batches, 1u);
  EXPECT_EQ(st.messages, 4u);
  EXPECT_EQ(st.queued, 0u);
}

TEST(StoreWorker, AnAppendTheBackendRefusesInACommitFailsAlone) {
  FakeBackend backend;
  backend.commit_outcome = [](std::span<StoreBackend::Append> appends, std::string&) {
    for (auto& a : appends)
      if (a.messages->front().seq == 2) a.result = errc::store_failed;  // another message under seq 2
    return Outcome::ok;
  };
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  {
    Hold hold(worker);
    for (int i = 1; i <= 3; ++i) worker.append(batch(static_cast<std::uint64_t>(i), 1), c.done(i));
  }
  worker.flush();
  EXPECT_EQ(c.results(), (std::vector<std::error_code>{{}, store_failed, {}}));
  EXPECT_EQ(worker.stats().batches, 1u);
}

TEST(StoreWorker, ABatchRejectedAsDataIsCommittedAppendByAppendAndOnlyTheBadOneFails) {
  FakeBackend backend;
  backend.commit_outcome = [](std::span<StoreBackend::Append> appends, std::string& err) {
    for (auto& a : appends)
      for (const auto& m : *a.messages)
        if (m.seq == 4) {
          err = "invalid byte sequence";
          return Outcome::rejected;
        }
    return Outcome::ok;
  };
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  {
    Hold hold(worker);
    worker.append(batch(1, 2), c.done(1));
    worker.append(batch(3, 2), c.done(2));  // holds seq 4
    worker.append(batch(5, 1), c.done(3));
  }
  worker.flush();
  EXPECT_EQ(backend.log(), (std::vector<std::string>{"find hold", "commit 1 3 5", "commit 1", "commit 3", "commit 5"}));
  EXPECT_EQ(c.order(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(c.results(), (std::vector<std::error_code>{{}, store_failed, {}}));
  const auto st = worker.stats();
  EXPECT_EQ(st.messages, 3u);
  EXPECT_EQ(st.failures, 2u);  // the batch, then the bad append alone
  EXPECT_EQ(st.queued, 0u);
}

TEST(StoreWorker, ACreationIsRetriedThroughAnOutageButNotWhenRejected) {
  FakeBackend backend;
  int attempts = 0;
  backend.create_outcome = [&](std::error_code& result, std::string& err) {
    err = "connection lost";
    if (++attempts <= 2) return Outcome::retry;
    result = errc::room_exists;
    return Outcome::ok;
  };
  Backoffs backoffs;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{.wait = backoffs.hook()});
  worker.start();
  worker.create_room(StoredRoom{"a", 0, 1, "ada"}, c.done(1));
  worker.flush();
  EXPECT_EQ(c.results(), (std::vector<std::error_code>{make_error_code(errc::room_exists)}));
  EXPECT_EQ(backoffs.asked, (std::vector<std::chrono::milliseconds>{50ms, 100ms}));
  EXPECT_EQ(worker.stats().failures, 2u);

  backend.create_outcome = [](std::error_code&, std::string& err) {
    err = "invalid byte sequence";
    return Outcome::rejected;
  };
  worker.create_room(StoredRoom{"b", 0, 1, "ada"}, c.done(2));
  worker.flush();
  EXPECT_EQ(c.results().back(), store_failed);
  EXPECT_EQ(backoffs.asked.size(), 2u);
  EXPECT_EQ(backend.log().back(), "create b");
  EXPECT_EQ(backend.log().size(), 4u);
}

TEST(StoreWorker, ADeletionFollowsTheAppendsBeforeItAndIsRetriedThroughAnOutage) {
  FakeBackend backend;
  int attempts = 0;
  backend.delete_outcome = [&](std::string& err) {
    err = "database is locked";
    return ++attempts <= 1 ? Outcome::retry : Outcome::ok;
  };
  Backoffs backoffs;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{.wait = backoffs.hook()});
  worker.start();
  worker.append(batch(1, 2), c.done(1));
  worker.delete_room("r", c.done(2));
  worker.flush();
  EXPECT_EQ(c.results(), (std::vector<std::error_code>{{}, {}}));
  ASSERT_GE(backend.log().size(), 3u);
  EXPECT_EQ(backend.log()[0].rfind("commit", 0), 0u) << "the append is committed before the room goes";
  EXPECT_EQ(backend.log().back(), "delete r");
  EXPECT_EQ(backoffs.asked, (std::vector<std::chrono::milliseconds>{50ms}));
}

TEST(StoreWorker, HasCapacityIsFalseWhileMaxQueueMessagesWaitForCommit) {
  FakeBackend backend;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{.max_queue = 10});
  worker.start();
  EXPECT_TRUE(worker.has_capacity());
  {
    Hold hold(worker);
    worker.append(batch(1, 6), c.done(1));
    EXPECT_TRUE(worker.has_capacity());
    worker.append(batch(7, 3), c.done(2));
    EXPECT_TRUE(worker.has_capacity());
    worker.append(batch(10, 1), c.done(3));
    EXPECT_FALSE(worker.has_capacity());
    worker.append(batch(11, 2), c.done(4));  // checked, not reserved: callers may overshoot
    EXPECT_FALSE(worker.has_capacity());
    EXPECT_EQ(worker.stats().queued, 12u);
  }
  worker.flush();
  EXPECT_TRUE(worker.has_capacity());
  EXPECT_EQ(worker.stats().queued, 0u);
}

TEST(StoreWorker, FlushReturnsOnceEverythingQueuedBeforeItHasCompleted) {
  FakeBackend backend;
  Completions c;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  std::atomic<bool> flushed{false};
  std::thread flusher;
  {
    Hold hold(worker);
    for (int i = 1; i <= 50; ++i) worker.append(batch(static_cast<std::uint64_t>(i), 1), c.done(i));
    worker.read("r", 0, 0, 10, c.read_done(51));
    flusher = std::thread([&] {
      worker.flush();
      flushed = true;
    });
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(flushed.load());  // the worker is held: nothing has committed
  }
  flusher.join();
  EXPECT_EQ(c.order().size(), 51u);
  EXPECT_EQ(worker.stats().queued, 0u);
}

TEST(StoreWorker, LoadRoomsRunsOnTheWorkerThreadAndPassesItsErrorOn) {
  FakeBackend backend;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  auto rooms = worker.load_rooms();
  ASSERT_EQ(rooms.size(), 1u);
  EXPECT_EQ(rooms[0].last_seq, 3u);
  backend.load_throws = true;
  EXPECT_THROW(worker.load_rooms(), std::runtime_error);
  EXPECT_EQ(backend.threads().count(std::this_thread::get_id()), 0u);
}

TEST(StoreWorker, StopDrainsTheQueueThenEveryCallFailsAtOnceOnTheCallersThread) {
  FakeBackend backend;
  Completions drained;
  StoreWorker worker(backend, StoreWorkerOptions{});
  worker.start();
  std::thread stopper, flusher;
  std::size_t drained_at_flush = 0;
  bool flushed_from_completion = false;
  {
    Hold hold(worker);
    for (int i = 1; i <= 5; ++i) worker.append(batch(static_cast<std::uint64_t>(i), 1), drained.done(i));
    // A completion that flushes during the drain is not left waiting for itself.
    worker.append(batch(6, 1), [&](std::error_code) {
      worker.flush();
      flushed_from_completion = true;
    });
    stopper = std::thread([&] { worker.stop(); });
    // Held until stop() has begun: a probe is refused on this thread, not queued.
    const auto caller = std::this_thread::get_id();
    for (;;) {
      auto refused = std::make_shared<std::atomic<bool>>(false);
      worker.create_room(StoredRoom{"probe", 0, 1, "x"}, [refused, caller](std::error_code) {
        if (std::this_thread::get_id() == caller) *refused = true;
      });
      if (*refused) break;
      std::this_thread::sleep_for(1ms);
    }
    // A flush now still waits for the drain.
    flusher = std::thread([&] {
      worker.flush();
      drained_at_flush = drained.order().size();
    });
  }
  stopper.join();
  flusher.join();
  EXPECT_EQ(drained_at_flush, 5u);
  EXPECT_TRUE(flushed_from_completion);
  EXPECT_EQ(drained.order(), (std::vector<int>{1, 2, 3, 4, 5}));
  for (auto ec : drained.results()) EXPECT_FALSE(ec);

  const auto calls = backend.calls();
  Completions late;
  worker.append(batch(7, 3), late.done(1));
  worker.create_room(StoredRoom{"late", 0, 1, "x"}, late.done(2));
  worker.read("r", 0, 0, 10, late.read_done(3));
  worker.find_room("general", late.find_done(4));
  // Every completion ran before its call returned, here, with store_failed.
  EXPECT_EQ(late.order(), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(late.results(), std::vector<std::error_code>(4, store_failed));
  EXPECT_EQ(late.threads(), std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(worker.stats().queued, 0u);
  EXPECT_TRUE(worker.has_capacity());
  worker.flush();                     // returns
  worker.stop();                      // again: returns
  EXPECT_EQ(backend.calls(), calls);  // nothing reached the backend after stop()
}

// A backend whose commits fail until `heal_after` has passed since the test marked stop().
struct HealingBackend {
  FakeBackend backend;
  std::atomic<bool> stop_marked{false};
  std::atomic<Clock::rep> stop_at{0};
  std::atomic<int> attempts{0}, attempts_after_stop{0};
  explicit HealingBackend(std::chrono::milliseconds heal_after) {
    backend.commit_outcome = [this, heal_after](std::span<StoreBackend::Append>, std::string& err) {
      ++attempts;
      if (!stop_marked) {
        err = "server closed the connection";
        return Outcome::retry;
      }
      ++attempts_after_stop;
      const Clock::time_point at{Clock::duration(stop_at.load())};
      if (Clock::now() - at < heal_after) {
        err = "server closed the connection";
        return Outcome::retry;
      }
      return Outcome::ok;
    };
  }
  void mark_stop() {
    stop_at = Clock::now().time_since_epoch().count();
    stop_marked = true;
  }
  void wait_for_attempts(int n) {
    while (attempts.load() < n) std::this_thread::sleep_for(1ms);
  }
};

const auto quick_retry = [](std::chrono::milliseconds) { std::this_thread::sleep_for(1ms); };

TEST(StoreWorker, WithNoStopTimeoutACommitFailingAtStopFailsAtOnce) {
  HealingBackend healing(2s);  // would succeed, had it been retried that long
  Completions c;
  StoreWorker worker(healing.backend, StoreWorkerOptions{.wait = quick_retry});
  worker.start();
  worker.append(batch(1, 1), c.done(1));
  healing.wait_for_attempts(3);
  const auto t0 = Clock::now();
  healing.mark_stop();
  worker.stop();
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(c.results(), std::vector<std::error_code>{store_failed});
  EXPECT_EQ(worker.stats().queued, 0u);
  EXPECT_EQ(worker.stats().batches, 0u);
}

TEST(StoreWorker, WithAStopTimeoutACommitFailingAtStopIsRetriedUntilItSucceeds) {
  HealingBackend healing(50ms);
  Completions c;
  StoreWorker worker(healing.backend, StoreWorkerOptions{.stop_timeout = 10s, .wait = quick_retry});
  worker.start();
  worker.append(batch(1, 1), c.done(1));
  healing.wait_for_attempts(3);
  const auto t0 = Clock::now();
  healing.mark_stop();
  worker.stop();
  EXPECT_EQ(c.results(), std::vector<std::error_code>{std::error_code()});
  EXPECT_GT(healing.attempts_after_stop.load(), 1);
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_EQ(worker.stats().batches, 1u);
}

TEST(StoreWorker, WithAStopTimeoutACommitStillFailingThenFails) {
  HealingBackend healing(1h);
  Completions c;
  StoreWorker worker(healing.backend, StoreWorkerOptions{.stop_timeout = 200ms, .wait = quick_retry});
  worker.start();
  worker.append(batch(1, 1), c.done(1));
  healing.wait_for_attempts(3);
  const auto t0 = Clock::now();
  healing.mark_stop();
  worker.stop();
  const auto took = Clock::now() - t0;
  EXPECT_EQ(c.results(), std::vector<std::error_code>{store_failed});
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
  EXPECT_GT(healing.attempts_after_stop.load(), 1);
  EXPECT_EQ(worker.stats().queued, 0u);
}

// The real wait between retries (no hook): stop() ends it instead of letting it run out.
TEST(StoreWorker, StopCutsABackoffWaitShort) {
  for (auto stop_timeout : {0ms, 150ms}) {
    SCOPED_TRACE(stop_timeout.count());
    HealingBackend healing(1h);
    Completions c;
    StoreWorker worker(healing.backend, StoreWorkerOptions{.stop_timeout = stop_timeout});
    worker.start();
    worker.append(batch(1, 1), c.done(1));
    healing.wait_for_attempts(4);  // after 50 + 100 + 200 ms: the next wait is 400 ms
    const auto t0 = Clock::now();
    healing.mark_stop();
    worker.stop();
    const auto took = Clock::now() - t0;
    EXPECT_EQ(c.results(), std::vector<std::error_code>{store_failed});
    EXPECT_GE(took, stop_timeout);
    EXPECT_LT(took, stop_timeout + 200ms) << "stop() waited out the backoff";
  }
}

}  // namespace
}  // namespace parley::store
