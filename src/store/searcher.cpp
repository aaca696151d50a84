#include "store/searcher.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <utility>

#include "core/thread_priority.hpp"
#include "protocol/errc.hpp"

namespace parley::store {

Searcher::Searcher(std::unique_ptr<SearchIndex> index, int nice, int share)
    : index_(std::move(index)), nice_(nice), share_(share) {
  if (nice < 0 || nice > 19) throw std::invalid_argument("Searcher: nice must be 0 to 19");
  if (share < 1 || share > 100) throw std::invalid_argument("Searcher: share must be 1 to 100");
  thread_ = std::thread([this] { run(); });
}

std::uint64_t Searcher::unindexed_rooms() const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = unindexed_.size();
  for (const std::string& room : reading_) n += unindexed_.count(room) == 0 ? 1 : 0;
  return n;
}

Searcher::~Searcher() { stop(); }

void Searcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Searcher::search(SearchQuery query, Store::SearchDone done) {
  if (query.rooms.size() > Store::max_searched_rooms) query.rooms.resize(Store::max_searched_rooms);
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      jobs_.push_back(Job{std::move(query), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(make_error_code(protocol::errc::store_failed), SearchPage{});
}

void Searcher::index_later(std::span<const std::string* const> rooms) {
  if (rooms.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (const std::string* room : rooms) unindexed_.insert(*room);
  }
  cv_.notify_one();
}

void Searcher::mark_unindexed(std::vector<std::string> rooms) {
  std::lock_guard lock(mutex_);
  unindexed_.insert(std::make_move_iterator(rooms.begin()), std::make_move_iterator(rooms.end()));
  reading_.clear();
}

void Searcher::run() {
  core::raise_thread_niceness(nice_);
  mark_unindexed(index_->rooms());
  // Caught up, the searcher reads new entries every index_pause (a batch of them, not a read after
  // each commit: a SQLite reader holds back the WAL's checkpoints); behind, after a pause in
  // proportion to the batch (share_), at once at 100; after a failure (a full disk, a lost
  // server), in a second or at the next search.
  auto next_batch = std::chrono::steady_clock::now();
  for (;;) {
    std::optional<Job> job;
    std::vector<std::string> rooms;
    {
      std::unique_lock lock(mutex_);
      for (;;) {
        if (stopping_ || !jobs_.empty()) break;
        if (unindexed_.empty()) {
          cv_.wait(lock);
        } else if (std::chrono::steady_clock::now() < next_batch) {
          cv_.wait_until(lock, next_batch);
        } else {
          break;
        }
      }
      if (!jobs_.empty()) {
        job = std::move(jobs_.front());
        jobs_.pop_front();
        // Stopping: the searches queued are still answered, from the index as it is.
        if (!stopping_) {
          for (const std::string& room : job->query.rooms) {
            const bool taken = unindexed_.erase(room) > 0;
            if (taken) reading_.push_back(room);
            if (taken || index_->shared()) rooms.push_back(room);
          }
          if (index_->shared()) {
            std::sort(rooms.begin(), rooms.end());
            rooms.erase(std::unique(rooms.begin(), rooms.end()), rooms.end());
          }
        }
      } else if (stopping_) {
        return;
      } else {
        for (auto it = unindexed_.begin(); it != unindexed_.end() && rooms.size() < batch_rooms;)
          rooms.push_back(std::move(unindexed_.extract(it++).value()));
        reading_ = rooms;
      }
    }
    // A search's rooms are read to their ends (or max_search_batches); between searches, a batch.
    bool failing = false, behind = rooms.size() == batch_rooms;
    const auto started = std::chrono::steady_clock::now();
    for (int batch = 0; !rooms.empty(); ++batch) {
      std::vector<std::string> unfinished;
      std::size_t read = 0;
      const bool ok = index_->catch_up(rooms, batch_entries, unfinished, read);
      indexed_.fetch_add(read, std::memory_order_relaxed);
      if (ok)
        rooms = std::move(unfinished);
      else
        failing = true;  // every room is left
      if (failing || !job || batch + 1 == max_search_batches) {
        behind = behind || !rooms.empty();
        break;
      }
    }
    mark_unindexed(std::move(rooms));  // what is left (a search read its rooms to their ends: nothing)
    const auto now = std::chrono::steady_clock::now();
    index_micros_.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - started).count()),
        std::memory_order_relaxed);
    if (failing)
      next_batch = now + std::chrono::seconds(1);
    else if (!job)
      next_batch = behind ? now + (now - started) * (100 - share_) / share_ : now + index_pause;
    if (job) {
      SearchPage page;
      std::error_code ec;
      if (!job->query.terms.empty() && !job->query.rooms.empty() && job->query.limit > 0)
        ec = index_->search(job->query, page);
      if (ec) page = {};
      job->done(ec, std::move(page));
    }
    // An index made again (it was damaged) is read again from the start, beginning now.
    if (auto lost = index_->take_lost_rooms(); !lost.empty()) {
      mark_unindexed(std::move(lost));
      next_batch = now;
    }
  }
}

}  // namespace parley::store
