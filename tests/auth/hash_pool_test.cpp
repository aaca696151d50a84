// HashPool: every job runs once, the queue's bound, the drain on stop, and the threads work runs on.
#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/hash_pool.hpp"
#include "auth/password.hpp"

namespace parley::auth {
namespace {

// How long a test waits for what must happen before it fails (a bound, not a timing assertion).
constexpr auto kWait = std::chrono::seconds(30);

// Counts finished jobs; a test waits for a number of them.
class Done {
 public:
  void add() {
    {
      std::lock_guard lock(mutex_);
      ++n_;
    }
    cv_.notify_all();
  }
  bool wait_for(int n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return n_ >= n; });
  }
  int count() {
    std::lock_guard lock(mutex_);
    return n_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int n_ = 0;
};

// Holds the jobs that pass it until the test opens it, so that the queue's content is known.
class Gate {
 public:
  void pass() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool wait_waiting(int n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return waiting_ >= n; });
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

TEST(HashPool, RunsEveryJobExactlyOnceOffTheCallersThread) {
  constexpr int jobs = 500;
  std::vector<std::atomic<int>> runs(jobs);
  std::atomic<int> on_caller{0};
  const auto caller = std::this_thread::get_id();
  Done done;
  HashPool pool(4, jobs);
  for (int i = 0; i < jobs; ++i) {
    ASSERT_TRUE(pool.submit([&, i] {
      runs[static_cast<std::size_t>(i)].fetch_add(1);
      if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
      done.add();
    }));
  }
  ASSERT_TRUE(done.wait_for(jobs));
  pool.stop();
  for (int i = 0; i < jobs; ++i) EXPECT_EQ(runs[static_cast<std::size_t>(i)].load(), 1) << "job " << i;
  EXPECT_EQ(on_caller.load(), 0);
  EXPECT_EQ(pool.completed(), static_cast<std::uint64_t>(jobs));
  EXPECT_EQ(pool.queued(), 0u);
  EXPECT_EQ(pool.running(), 0u);
  EXPECT_EQ(pool.rejected(), 0u);
  EXPECT_EQ(pool.failed(), 0u);
}

TEST(HashPool, RefusesBeyondMaxQueue) {
  Gate gate;
  Done done;
  HashPool pool(2, 3);
  // Two jobs hold both threads; three more fill the queue.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pool.submit([&] {
      gate.pass();
      done.add();
    }));
  }
  ASSERT_TRUE(gate.wait_waiting(2));
  EXPECT_EQ(pool.running(), 2u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.submit([&] { done.add(); })) << i;
  EXPECT_EQ(pool.queued(), 3u);

  std::atomic<bool> refused_ran{false};
  EXPECT_FALSE(pool.submit([&] { refused_ran = true; }));
  EXPECT_FALSE(pool.submit([&] { refused_ran = true; }));
  EXPECT_EQ(pool.rejected(), 2u);
  EXPECT_EQ(pool.queued(), 3u);

  gate.open();
  ASSERT_TRUE(done.wait_for(5));
  pool.stop();
  EXPECT_EQ(done.count(), 5);
  EXPECT_EQ(pool.completed(), 5u);
  EXPECT_FALSE(refused_ran.load()) << "a refused job is never run";
}

TEST(HashPool, StopRunsWhatIsQueuedThenRefuses) {
  Gate gate;
  Done done;
  HashPool pool(1, 100000);  // never full here: a refusal means stopping
  ASSERT_TRUE(pool.submit([&] {
    gate.pass();
    done.add();
  }));
  ASSERT_TRUE(gate.wait_waiting(1));
  int accepted = 1;
  for (int i = 0; i < 5; ++i, ++accepted) ASSERT_TRUE(pool.submit([&] { done.add(); }));

  // stop() cannot finish while the gate holds the thread; once it has begun, submit() refuses.
  std::thread stopper([&] { pool.stop(); });
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (pool.submit([&] { done.add(); })) {
    ++accepted;  // submitted before stop() began: it must run too
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(pool.rejected(), 0u) << "refused because stopping, not because full";
  EXPECT_LT(done.count(), accepted) << "nothing ran past the gate yet";
  gate.open();
  stopper.join();
  EXPECT_EQ(done.count(), accepted) << "stop() ran every queued job before it returned";
  EXPECT_EQ(pool.completed(), static_cast<std::uint64_t>(accepted));

  std::atomic<bool> ran{false};
  EXPECT_FALSE(pool.submit([&] { ran = true; }));
  pool.stop();  // again: nothing left to do
  EXPECT_FALSE(ran.load());
  EXPECT_EQ(pool.rejected(), 0u);
}

TEST(HashPool, TheDestructorDrainsTheQueue) {
  std::atomic<int> ran{0};
  {
    Gate gate;
    HashPool pool(1, 10);
    ASSERT_TRUE(pool.submit([&] {
      gate.pass();
      ran.fetch_add(1);
    }));
    ASSERT_TRUE(gate.wait_waiting(1));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.submit([&] { ran.fetch_add(1); }));
    gate.open();
  }  // ~HashPool, then ~Gate: the pool's jobs use the gate, so it is declared first
  EXPECT_EQ(ran.load(), 5);
}

TEST(HashPool, AThrowingJobIsCountedAndThePoolGoesOn) {
  Done done;
  HashPool pool(1, 10);
  ASSERT_TRUE(pool.submit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(pool.submit([&] { done.add(); }));
  ASSERT_TRUE(done.wait_for(1));
  pool.stop();
  EXPECT_EQ(pool.failed(), 1u);
  EXPECT_EQ(pool.completed(), 2u);
}

TEST(HashPool, BadArgumentsThrow) {
  EXPECT_THROW(HashPool(0, 10), std::invalid_argument);
  EXPECT_THROW(HashPool(1, 0), std::invalid_argument);
  HashPool pool(1, 1);
  EXPECT_THROW(pool.submit(std::function<void()>()), std::invalid_argument);
  EXPECT_EQ(pool.threads(), 1u);
  EXPECT_EQ(pool.max_queue(), 1u);
}

TEST(HashPool, VerifiesPasswordsOffTheCallersThread) {
  const PasswordParams fast{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
  const std::string encoded = hash_password("correct horse", fast);
  HashPool pool(2, 8);
  struct Answer {
    bool ok;
    std::thread::id thread;
  };
  auto verify = [&](std::string password) {
    auto promise = std::make_shared<std::promise<Answer>>();
    auto future = promise->get_future();
    // A real caller posts the answer back to its loop; a promise stands in for that here.
    EXPECT_TRUE(pool.submit([&encoded, password = std::move(password), promise] {
      promise->set_value({verify_password(encoded, password), std::this_thread::get_id()});
    }));
    EXPECT_EQ(future.wait_for(kWait), std::future_status::ready);
    return future.get();
  };
  const Answer right = verify("correct horse");
  const Answer wrong = verify("wrong horse");
  EXPECT_TRUE(right.ok);
  EXPECT_FALSE(wrong.ok);
  EXPECT_NE(right.thread, std::this_thread::get_id());
  EXPECT_NE(wrong.thread, std::this_thread::get_id());
}

}  // namespace
}  // namespace parley::auth
