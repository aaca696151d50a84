#pragma once
// Searcher: a store's searches and search index, on a thread of their own (SqliteStore,
// PostgresStore). The index (a SearchIndex) is kept out of the commits: each commit marks its
// rooms unindexed (index_later), and between searches the searcher reads their new entries into
// the index, a batch per transaction, every index_pause while it keeps up and, while it is
// behind, for `share` of the time (Searcher's constructor). A search first catches up the rooms
// it searches, so a message is found as soon as its send is acked. A search of a common word
// reads many index entries (some 100 ms in a room of a million messages): on the committing
// thread it held every commit queued behind it. The node bounds the searches in flight
// (limits.max_searches_in_flight), and so the queue; the unindexed rooms are at most the rooms
// there are.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include "store/store.hpp"

namespace parley::store {

// What a store's index does; its calls come from the searcher's thread only.
class SearchIndex {
 public:
  virtual ~SearchIndex() = default;
  // At start: rooms the index may lack entries of (a stop leaves some unread).
  virtual std::vector<std::string> rooms() = 0;
  // Reads up to about `budget` entries of `rooms` past their marks into the index. The rooms with
  // entries left go to `unfinished`; `read` counts the entries read. False on a failure (nothing
  // changed).
  virtual bool catch_up(const std::vector<std::string>& rooms, std::size_t budget, std::vector<std::string>& unfinished,
                        std::size_t& read) = 0;
  // Store::search's answer, from the index as it is (never a message deleted since).
  virtual std::error_code search(const SearchQuery& query, SearchPage& out) = 0;
  // Whether other stores (the other nodes of a cluster) write the rooms too: a search then catches
  // up every room it searches (catch_up finds which lack entries), not only those this one wrote.
  virtual bool shared() const { return false; }
  // Asked after each catch_up and search: rooms whose documents the index lost since (it found
  // itself damaged and was made again), to be read again from their start.
  virtual std::vector<std::string> take_lost_rooms() { return {}; }
};

class Searcher {
 public:
  // Entries read per transaction between searches (a search waits for at most one batch), and
  // the pause between batches while the index keeps up.
  static constexpr std::size_t batch_entries = 16384;
  static constexpr std::size_t batch_rooms = 256;
  static constexpr auto index_pause = std::chrono::milliseconds(50);
  // Batches a search reads its rooms in before it runs (a room written faster than it is read has
  // no end).
  static constexpr int max_search_batches = 64;

  // `nice`: the thread's niceness above the process's (0-19). Indexing is background work: where
  // cores are short it waits rather than message delivery, and falls behind (a search still
  // catches up its own rooms first). `share`: while it is behind, the percentage of its time
  // the searcher spends reading into the index (1-100); after a batch that took t it waits
  // t × (100 − share) / share. Niceness cannot reach a PostgreSQL backend, whose CPU the index's
  // writes use (and the commits' too); the share does, on either store.
  explicit Searcher(std::unique_ptr<SearchIndex> index, int nice = 0, int share = 100);
  ~Searcher();
  Searcher(const Searcher&) = delete;
  Searcher& operator=(const Searcher&) = delete;

  // Store::search: query.rooms cut to Store::max_searched_rooms; store_failed once stopped.
  void search(SearchQuery query, Store::SearchDone done);
  // After a commit (any thread): these rooms have entries the index has not read.
  void index_later(std::span<const std::string* const> rooms);
  // index_later for the rooms of a commit's entries: lists of (const core::Message*, any), each
  // in room order.
  template <class... Lists>
  void index_later_of(const Lists&... lists) {
    std::vector<const std::string*> rooms;
    auto add = [&rooms](const auto& list) {
      for (const auto& entry : list)
        if (rooms.empty() || *rooms.back() != entry.first->room) rooms.push_back(&entry.first->room);
    };
    (add(lists), ...);
    index_later(rooms);
  }
  // Answers the searches queued (from the index as it is) and ends the thread. Idempotent.
  void stop();

  // Rooms with entries the index has not read (its backlog, with those being read now), and
  // entries read into it so far.
  std::uint64_t unindexed_rooms() const;
  std::uint64_t indexed() const noexcept { return indexed_.load(std::memory_order_relaxed); }
  // Time spent reading into the index (between searches and for them), in microseconds.
  std::uint64_t index_micros() const noexcept { return index_micros_.load(std::memory_order_relaxed); }
  // A store's stats (its worker's) with these three (Store::stats).
  StoreStats with_stats(StoreStats st) const {
    st.search_unindexed_rooms = unindexed_rooms();
    st.search_indexed = indexed();
    st.search_index_micros = index_micros();
    return st;
  }

 private:
  struct Job {
    SearchQuery query;
    Store::SearchDone done;
  };
  void run();
  // The searcher's own rooms back into the backlog (no wake-up: it is the thread that reads it);
  // the batch it was reading, if any, is over.
  void mark_unindexed(std::vector<std::string> rooms);

  std::unique_ptr<SearchIndex> index_;  // the thread's
  int nice_;
  int share_;
  std::atomic<std::uint64_t> indexed_{0};
  std::atomic<std::uint64_t> index_micros_{0};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;                       // guarded by mutex_
  std::unordered_set<std::string> unindexed_;  // guarded by mutex_
  // The rooms the thread took from unindexed_ and is reading (guarded by mutex_): still unindexed
  // for unindexed_rooms() until the batch ends.
  std::vector<std::string> reading_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace parley::store
