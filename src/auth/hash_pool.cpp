#include "auth/hash_pool.hpp"

#include <stdexcept>
#include <utility>

#include "core/thread_priority.hpp"

namespace parley::auth {

HashPool::HashPool(unsigned threads, std::size_t max_queue, int nice) : max_queue_(max_queue) {
  if (threads == 0) throw std::invalid_argument("HashPool needs at least one thread");
  if (max_queue == 0) throw std::invalid_argument("HashPool needs a queue of at least one job");
  if (nice < 0 || nice > 19) throw std::invalid_argument("HashPool: nice must be 0 to 19");
  threads_.reserve(threads);
  try {
    for (unsigned i = 0; i < threads; ++i)
      threads_.emplace_back([this, nice] {
        core::raise_thread_niceness(nice);
        run();
      });
  } catch (...) {
    stop();  // join those that started
    throw;
  }
}

HashPool::~HashPool() { stop(); }

bool HashPool::submit(std::function<void()> work) {
  if (!work) throw std::invalid_argument("HashPool::submit: empty work");
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    if (jobs_.size() >= max_queue_) {
      rejected_.add();
      return false;
    }
    jobs_.push_back(std::move(work));
    queued_.store(jobs_.size(), std::memory_order_relaxed);
  }
  wake_.notify_one();
  return true;
}

void HashPool::stop() {
  std::lock_guard join_lock(join_mutex_);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void HashPool::run() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and everything queued has been taken
      work = std::move(jobs_.front());
      jobs_.pop_front();
      queued_.store(jobs_.size(), std::memory_order_relaxed);
      running_.fetch_add(1, std::memory_order_relaxed);
    }
    try {
      work();
    } catch (...) {
      failed_.add();  // counted, not logged: see the header
    }
    work = nullptr;  // what the job captured goes before it counts as completed
    running_.fetch_sub(1, std::memory_order_relaxed);
    completed_.add();
  }
}

}  // namespace parley::auth
