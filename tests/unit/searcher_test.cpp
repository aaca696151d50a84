// store::Searcher over a scripted SearchIndex: what it reads and when, what a search waits for,
// and its stop (store/searcher.hpp). The stores' own indexes are tests/contract's.
#include "store/searcher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace parley::store {
namespace {

using namespace std::chrono_literals;

// An index whose rooms have `backlog` entries each to read; catch_up reads up to its budget of
// them. `endless` rooms never run out (written faster than read); `fail` makes every call fail.
class ScriptedIndex final : public SearchIndex {
 public:
  struct State {
    std::mutex mutex;
    std::map<std::string, std::size_t> backlog;
    std::set<std::string> endless;
    std::vector<std::vector<std::string>> calls;  // the rooms of each catch_up
    std::vector<std::string> start_rooms;
    bool fail = false;
    std::chrono::milliseconds delay{0};  // each catch_up takes this long
    std::atomic<bool> hold{false};       // catch_up waits while it is set
    std::atomic<int> entered{0};         // catch_up calls begun
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::chrono::steady_clock::time_point>> spans;
    std::atomic<int> searches{0};
    std::size_t calls_at_search = 0;  // catch_up calls before the last search ran
  };
  explicit ScriptedIndex(State& st) : st_(st) {}
  std::vector<std::string> rooms() override {
    std::lock_guard lock(st_.mutex);
    return st_.start_rooms;
  }
  bool catch_up(const std::vector<std::string>& rooms, std::size_t budget, std::vector<std::string>& unfinished,
                std::size_t& read) override {
    const auto began = std::chrono::steady_clock::now();
    ++st_.entered;
    while (st_.hold) std::this_thread::sleep_for(1ms);
    std::lock_guard lock(st_.mutex);
    if (st_.delay.count() > 0) std::this_thread::sleep_for(st_.delay);
    st_.spans.emplace_back(began, std::chrono::steady_clock::now());
    st_.calls.push_back(rooms);
    if (st_.fail) return false;
    for (const auto& room : rooms) {
      auto& left = st_.backlog[room];
      const std::size_t n = std::min(left, budget);
      left -= n;
      budget -= n;
      read += n;
      if (left > 0 || st_.endless.count(room)) unfinished.push_back(room);
    }
    return true;
  }
  std::error_code search(const SearchQuery&, SearchPage& out) override {
    {
      std::lock_guard lock(st_.mutex);
      st_.calls_at_search = st_.calls.size();
    }
    ++st_.searches;
    out = {};
    out.hits.push_back(SearchHit{.room = "r", .seq = 1, .from = "ada", .from_id = "u_ada", .text = "x", .ts = 1});
    return {};
  }

 private:
  State& st_;
};

SearchPage search_sync(Searcher& s, std::vector<std::string> rooms, std::error_code* ec = nullptr) {
  auto p = std::make_shared<std::promise<std::pair<std::error_code, SearchPage>>>();
  auto fut = p->get_future();
  s.search(SearchQuery{.terms = {"x"}, .rooms = std::move(rooms), .limit = 5}, [p](std::error_code e, SearchPage page) {
    p->set_value({e, std::move(page)});
  });
  EXPECT_EQ(fut.wait_for(10s), std::future_status::ready);
  auto [e, page] = fut.get();
  if (ec) *ec = e;
  return page;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

// At start it reads what the index says it may lack; then what commits mark, in batches.
TEST(Searcher, ReadsTheStartRoomsAndWhatCommitsMark) {
  ScriptedIndex::State st;
  st.start_rooms = {"a"};
  st.backlog["a"] = 10;
  Searcher s(std::make_unique<ScriptedIndex>(st));
  EXPECT_TRUE(eventually([&] { return s.indexed() == 10 && s.unindexed_rooms() == 0; }));
  {
    std::lock_guard lock(st.mutex);
    st.backlog["b"] = Searcher::batch_entries + 5;  // two batches
  }
  const std::string b = "b";
  const std::string* rooms[] = {&b};
  s.index_later(rooms);
  EXPECT_TRUE(eventually([&] { return s.indexed() == 10 + Searcher::batch_entries + 5; }));
  EXPECT_TRUE(eventually([&] { return s.unindexed_rooms() == 0; }));
}

// A search catches up its own rooms first (every batch they need, not those of other rooms), then
// runs.
TEST(Searcher, ASearchCatchesUpItsRoomsFirst) {
  ScriptedIndex::State st;
  Searcher s(std::make_unique<ScriptedIndex>(st), 0);
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(st.mutex);
    return st.calls.empty();
  }));
  {
    std::lock_guard lock(st.mutex);
    st.backlog["mine"] = 3 * Searcher::batch_entries;
  }
  // Marked and searched at once: the search, not the pause, reads it.
  const std::string mine = "mine";
  const std::string* rooms[] = {&mine};
  s.index_later(rooms);
  const auto page = search_sync(s, {"mine", "other"});
  EXPECT_EQ(page.hits.size(), 1u);
  std::lock_guard lock(st.mutex);
  EXPECT_EQ(st.backlog["mine"], 0u);
  for (const auto& call : st.calls) EXPECT_EQ(std::count(call.begin(), call.end(), "other"), 0);
}

// A room written faster than it is read has no end: a search reads max_search_batches batches of
// it, then runs; the room stays marked.
TEST(Searcher, ASearchWaitsForAtMostMaxSearchBatches) {
  ScriptedIndex::State st;
  st.endless.insert("busy");
  st.backlog["busy"] = 1;
  Searcher s(std::make_unique<ScriptedIndex>(st));
  const std::string busy = "busy";
  const std::string* rooms[] = {&busy};
  s.index_later(rooms);
  const auto page = search_sync(s, {"busy"});
  EXPECT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(st.searches.load(), 1);
  std::lock_guard lock(st.mutex);
  // Before the search took it, the searcher may have read one batch of it in the background.
  EXPECT_LE(st.calls_at_search, static_cast<std::size_t>(Searcher::max_search_batches) + 1);
  EXPECT_GE(st.calls_at_search, static_cast<std::size_t>(Searcher::max_search_batches));
}

// Behind, the searcher reads for its share of the time: after a batch that took t, it waits
// t × (100 − share) / share (share 25: 3 t) before the next, whatever wakes it meanwhile.
TEST(Searcher, BehindItReadsForItsShareOfTheTime) {
  ScriptedIndex::State st;
  st.delay = 20ms;
  st.endless.insert("busy");
  st.backlog["busy"] = 1;
  Searcher s(std::make_unique<ScriptedIndex>(st), 0, 25);
  const std::string busy = "busy";
  const std::string* rooms[] = {&busy};
  for (int i = 0; i < 5; ++i) s.index_later(rooms);  // commits: wake-ups, not batches
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(st.mutex);
    for (int i = 0; i < 20; ++i) s.index_later(rooms);
    return st.spans.size() >= 4;
  }));
  s.stop();
  std::lock_guard lock(st.mutex);
  for (std::size_t i = 0; i + 1 < st.spans.size(); ++i) {
    const auto took = st.spans[i].second - st.spans[i].first;
    const auto pause = st.spans[i + 1].first - st.spans[i].second;
    EXPECT_GE(pause, 3 * took) << "after batch " << i;
  }
  EXPECT_GE(s.index_micros(), 4u * 20000u);
}

// The backlog gauge counts the rooms being read: a batch that took every room does not read 0.
TEST(Searcher, RoomsBeingReadStillCountAsUnindexed) {
  ScriptedIndex::State st;
  st.backlog["a"] = 1;
  st.backlog["b"] = 1;
  st.hold = true;
  Searcher s(std::make_unique<ScriptedIndex>(st));
  const std::string a = "a", b = "b";
  const std::string* rooms[] = {&a, &b};
  s.index_later(rooms);
  ASSERT_TRUE(eventually([&] { return st.entered.load() >= 1; }));
  EXPECT_EQ(s.unindexed_rooms(), 2u);
  s.index_later(rooms);  // marked again meanwhile: still two rooms, not four
  EXPECT_EQ(s.unindexed_rooms(), 2u);
  st.hold = false;
  EXPECT_TRUE(eventually([&] { return s.unindexed_rooms() == 0; }));
}

// A failing index (a full disk, a lost server) is tried again a second later, not in a loop; a
// search still answers from the index as it is.
TEST(Searcher, AFailingIndexIsRetriedAfterASecond) {
  ScriptedIndex::State st;
  st.fail = true;
  st.start_rooms = {"a"};
  Searcher s(std::make_unique<ScriptedIndex>(st));
  std::this_thread::sleep_for(1500ms);
  std::size_t calls = 0;
  {
    std::lock_guard lock(st.mutex);
    calls = st.calls.size();
  }
  EXPECT_GE(calls, 1u);
  EXPECT_LE(calls, 3u);  // at start, then about once a second
  EXPECT_EQ(s.unindexed_rooms(), 1u);
  std::error_code ec;
  EXPECT_EQ(search_sync(s, {"a"}, &ec).hits.size(), 1u);
  EXPECT_FALSE(ec);
  {
    std::lock_guard lock(st.mutex);
    st.fail = false;
  }
  EXPECT_TRUE(eventually([&] { return s.unindexed_rooms() == 0; }, 3000ms));
}

// Stopped, it answers store_failed at once; a bad niceness or share is refused.
TEST(Searcher, AfterStopSearchesFailAndNicenessIsChecked) {
  ScriptedIndex::State st;
  Searcher s(std::make_unique<ScriptedIndex>(st), 19);
  s.stop();
  s.stop();  // idempotent
  std::error_code ec;
  search_sync(s, {"a"}, &ec);
  EXPECT_TRUE(ec);
  EXPECT_THROW(Searcher(std::make_unique<ScriptedIndex>(st), 20), std::invalid_argument);
  EXPECT_THROW(Searcher(std::make_unique<ScriptedIndex>(st), -1), std::invalid_argument);
  EXPECT_THROW(Searcher(std::make_unique<ScriptedIndex>(st), 0, 0), std::invalid_argument);
  EXPECT_THROW(Searcher(std::make_unique<ScriptedIndex>(st), 0, 101), std::invalid_argument);
}

}  // namespace
}  // namespace parley::store
