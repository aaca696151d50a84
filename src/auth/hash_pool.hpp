#pragma once
// HashPool: a few threads of their own for password hashing and verification, with a bounded
// queue. argon2id takes tens of milliseconds and 64 MiB per call (auth/password.hpp): on an I/O
// thread one sign-in would stall every connection of that thread, and a burst of sign-ins with an
// unbounded queue would hold memory and answer late. So the pool runs at most `threads` hashes at
// once (memory: threads × memlimit) and holds at most `max_queue` more waiting; past that submit()
// refuses at once and the caller answers "busy, retry later" (503 or 429 with Retry-After).
//
// Threads: submit(), stop() and the counters may be called from any thread. `work` runs on a pool
// thread: it must not touch its caller's state directly but post its result back to the caller's
// executor itself (the shard's loop), and must not call stop() (it would wait for itself). Jobs
// start in submission order; with several threads they finish in any order.
// Ownership: the pool owns the jobs it accepted until they have run; a job owns what it captured.
// Failures: a job that throws is caught and counted (failed()); nothing is logged (the layer stays
// light, and a password must never reach a log), so work should catch what it expects itself.
// Stop: stop() refuses new jobs, runs every job already queued, then joins the threads; the
// destructor calls it.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/metrics.hpp"

namespace parley::auth {

class HashPool {
 public:
  // Starts `threads` threads (at least 1) and accepts up to `max_queue` (at least 1) jobs waiting
  // for one. Throws std::invalid_argument for 0, std::system_error if a thread cannot start.
  // `nice`: the threads' niceness above the process's (0-19; auth.hash_nice), so that on a machine
  // short of cores the scheduler prefers the I/O threads: a burst of sign-ins then slows sign-ins,
  // not message delivery.
  HashPool(unsigned threads, std::size_t max_queue, int nice = 0);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Queues `work` to run once on a pool thread. False, without running it, if max_queue jobs are
  // already waiting (counted in rejected()) or stop() has begun (not counted: that is no overload).
  // Throws std::invalid_argument for an empty function (a bug).
  bool submit(std::function<void()> work);

  // Refuses further jobs, runs those queued, then joins the threads. Idempotent; a second caller
  // waits for the first to finish.
  void stop();

  // Gauges and counters, read without a lock (each may be a moment behind the others).
  std::size_t queued() const noexcept { return queued_.load(std::memory_order_relaxed); }    // waiting
  std::size_t running() const noexcept { return running_.load(std::memory_order_relaxed); }  // on a thread now
  std::uint64_t completed() const noexcept { return completed_.get(); }  // ran, whether or not it threw
  std::uint64_t failed() const noexcept { return failed_.get(); }        // of those, threw
  std::uint64_t rejected() const noexcept { return rejected_.get(); }    // refused: the queue was full

  unsigned threads() const noexcept { return static_cast<unsigned>(threads_.size()); }
  std::size_t max_queue() const noexcept { return max_queue_; }

 private:
  void run();

  const std::size_t max_queue_;
  std::mutex mutex_;  // guards jobs_ and stopping_; never held while a job runs
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::mutex join_mutex_;  // one stop() joins; a concurrent one waits for it
  std::vector<std::thread> threads_;

  std::atomic<std::size_t> queued_{0};  // jobs_.size(), written under mutex_
  std::atomic<std::size_t> running_{0};
  core::SharedCounter completed_;
  core::SharedCounter failed_;
  core::SharedCounter rejected_;
};

}  // namespace parley::auth
