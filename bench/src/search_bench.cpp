// parley-search-bench: search latency over a big room (issue 17), through the Store API, on SQLite
// and on PostgreSQL (a throwaway local server, as the contract tests start). Not a parley-bench
// scenario: no server and no clients, the store alone, which is where a search's time goes.
//
//   parley-search-bench [--backend sqlite|postgres] [--messages N] [--searches K] [--rooms R]
//
// Fills R rooms (default 1) with N messages (default 1,000,000) through Store::append in batches
// of 10,000 (seqs 1..N/R each, texts of 4 to 12 words drawn from a vocabulary: a few common words,
// many rare ones), then times K searches (default 300) of each kind, one after another, each
// waiting for its answer: a common word (in ~10% of messages), a rare word (~0.01%), two words, a
// prefix, and the second page of the common word. Prints p50/p99/max per kind and the fill rate;
// then the latency of appends of one message for 5 s alone and 5 s while the common word is
// searched back to back (what searches cost the senders).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.hpp"
#include "store/postgres_store.hpp"
#include "store/sqlite_store.hpp"

namespace {

using namespace parley;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string backend = "sqlite";
  std::size_t messages = 1'000'000;
  std::size_t searches = 300;
  std::size_t rooms = 1;
};

// The vocabulary: word i is drawn with weight 1/(i+1) (Zipf), past the few fixed common words.
std::vector<std::string> vocabulary() {
  std::vector<std::string> words = {"the", "deploy", "is", "on", "we", "build", "fix", "test", "review", "ship"};
  std::mt19937 rng(7);
  const char* syll[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qui", "dor", "fen", "gal", "hus"};
  while (words.size() < 50000) {
    std::string w;
    const int n = 2 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) w += syll[rng() % std::size(syll)];
    words.push_back(w + std::to_string(words.size()));
  }
  return words;
}

struct Stats {
  std::vector<double> ms;
  std::size_t hits = 0;
  void print(const char* kind) {
    std::sort(ms.begin(), ms.end());
    auto q = [&](double p) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))]; };
    std::printf("| %-28s | %6zu | %9.2f | %9.2f | %9.2f | %8.1f |\n", kind, ms.size(), q(0.5), q(0.99), ms.back(),
                static_cast<double>(hits) / static_cast<double>(ms.size()));
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--backend")
      o.backend = v;
    else if (k == "--messages")
      o.messages = std::stoull(v);
    else if (k == "--searches")
      o.searches = std::stoull(v);
    else if (k == "--rooms")
      o.rooms = std::max<std::size_t>(1, std::stoull(v));
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::unique_ptr<test::PgServer> pg;
  std::unique_ptr<store::Store> s;
  std::filesystem::path dir;
  if (o.backend == "postgres") {
    pg = std::make_unique<test::PgServer>();
    pg->create_database("search_bench");
    store::PostgresOptions po;
    po.conninfo = pg->conninfo("search_bench");
    s = std::make_unique<store::PostgresStore>(std::move(po));
  } else {
    char tmpl[] = "/tmp/parley-search-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    dir = tmpl;
    s = std::make_unique<store::SqliteStore>(store::SqliteOptions{dir / "parley.db", "NORMAL", 100000, 10000});
  }
  std::vector<std::string> rooms;
  for (std::size_t r = 0; r < o.rooms; ++r) {
    rooms.push_back("room" + std::to_string(r));
    s->create_room_now(store::StoredRoom{rooms.back(), 0, 1, "bench"});
  }
  const auto words = vocabulary();
  std::vector<double> weights(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  // "deploy" in ~10% of the messages, "zebra" (a rare word) in ~0.01%.
  std::discrete_distribution<std::size_t> pick(weights.begin() + 10, weights.end());
  std::mt19937_64 rng(42);
  const auto fill_start = Clock::now();
  const std::int64_t t0 = 1'700'000'000'000;
  std::vector<std::uint64_t> next_seq(o.rooms, 1);
  for (std::size_t done = 0; done < o.messages;) {
    std::vector<core::Message> batch;
    const std::size_t n = std::min<std::size_t>(10000, o.messages - done);
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i, ++done) {
      const std::size_t r = done % o.rooms;
      std::string text;
      const int len = 4 + static_cast<int>(rng() % 9);
      for (int w = 0; w < len; ++w) {
        if (!text.empty()) text += ' ';
        text += words[10 + pick(rng)];
      }
      if (rng() % 10 == 0) text += " deploy failed";
      if (rng() % 10000 == 0) text += " zebra";
      if (rng() % 4 == 0) text = "the " + text;
      const std::uint64_t seq = next_seq[r]++;
      batch.push_back(core::Message{rooms[r], seq, "bench", std::move(text), t0 + static_cast<std::int64_t>(done),
                                    "c" + std::to_string(done), "u_bench"});
    }
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto f = p->get_future();
    s->append(std::move(batch), [p](std::error_code ec) { p->set_value(ec); });
    if (auto ec = f.get()) {
      std::fprintf(stderr, "append failed: %s\n", ec.message().c_str());
      return 1;
    }
  }
  const double fill_s = std::chrono::duration<double>(Clock::now() - fill_start).count();
  // The index is written after the commits (store/searcher.hpp), by then partly: a search reads
  // the rest of its rooms before it runs, up to Searcher::max_search_batches of reads (a search
  // of a room far behind runs then on what is read, and the next reads on): searched until every
  // message is read, so that the searches timed below find the index complete.
  const auto catch_up_start = Clock::now();
  for (int i = 0; i < 1000 && s->stats().search_indexed < o.messages; ++i) {
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto f = p->get_future();
    s->search(store::SearchQuery{.terms = {"zebra"}, .rooms = rooms, .limit = 1},
              [p](std::error_code ec, store::SearchPage) { p->set_value(ec); });
    if (f.get()) {
      std::fprintf(stderr, "search failed\n");
      return 1;
    }
  }
  const double catch_up_s = std::chrono::duration<double>(Clock::now() - catch_up_start).count();
  // The planner's statistics a running database has: autovacuum analyzes a table once a tenth of
  // it has changed, during a real fill; here the searches would start before it has. Without them
  // PostgreSQL ANDs the primary key's million entries of the room into every search's bitmap (a
  // rare word: 27 ms instead of 2).
  if (pg) pg->query("search_bench", "ANALYZE");
  std::printf(
      "%s: %zu messages in %zu room(s) stored in %.1f s (%.0f messages/s); the search index, written beside the "
      "commits, caught up %.1f s after the last one (%.0f messages/s from fill start to index complete; %.1f s "
      "of the searcher's time reading into it)\n\n",
      o.backend.c_str(), o.messages, o.rooms, fill_s, static_cast<double>(o.messages) / fill_s, catch_up_s,
      static_cast<double>(o.messages) / (fill_s + catch_up_s),
      static_cast<double>(s->stats().search_index_micros) / 1e6);

  auto run = [&](const std::vector<std::string>& terms, bool second_page) {
    Stats st;
    for (std::size_t i = 0; i < o.searches; ++i) {
      store::SearchQuery q{.terms = terms, .rooms = rooms, .limit = 20};
      std::optional<core::SearchCursor> before;
      if (second_page) {
        auto p = std::make_shared<std::promise<store::SearchPage>>();
        auto f = p->get_future();
        s->search(q, [p](std::error_code, store::SearchPage page) { p->set_value(std::move(page)); });
        q.before = f.get().next;
      }
      const auto start = Clock::now();
      auto p = std::make_shared<std::promise<std::pair<std::error_code, store::SearchPage>>>();
      auto f = p->get_future();
      s->search(q, [p](std::error_code ec, store::SearchPage page) { p->set_value({ec, std::move(page)}); });
      auto [ec, page] = f.get();
      st.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (ec) {
        std::fprintf(stderr, "search failed\n");
        std::exit(1);
      }
      st.hits += page.hits.size();
    }
    return st;
  };
  std::printf(
      "| search (page of 20, newest first) | n | p50 ms | p99 ms | max ms | hits |\n|---|---|---|---|---|---|\n");
  run({"deploy"}, false).print("common word (~10%)");
  run({"zebra"}, false).print("rare word (~0.01%)");
  run({"deploy", "failed"}, false).print("two common words");
  run({"the", "zebra"}, false).print("common and rare");
  run({"depl"}, false).print("prefix of a common word");
  run({"deploy"}, true).print("common word, second page");
  run({"nosuchword"}, false).print("no match");

  // What searches cost the senders: one message appended at a time (each waiting for its commit,
  // as a send's ack does) for a few seconds alone, then while another thread searches the common
  // word back to back. A search that ran on the committing thread would hold each append behind it.
  auto appends = [&](std::chrono::seconds length) {
    Stats st;
    const auto until = Clock::now() + length;
    std::uint64_t n = 0;
    while (Clock::now() < until) {
      const std::uint64_t seq = next_seq[0]++;
      std::vector<core::Message> one{core::Message{rooms[0], seq, "bench", "one more deploy",
                                                   t0 + static_cast<std::int64_t>(o.messages + n),
                                                   "a" + std::to_string(n), "u_bench"}};
      ++n;
      const auto start = Clock::now();
      auto p = std::make_shared<std::promise<std::error_code>>();
      auto f = p->get_future();
      s->append(std::move(one), [p](std::error_code ec) { p->set_value(ec); });
      if (f.get()) {
        std::fprintf(stderr, "append failed\n");
        std::exit(1);
      }
      st.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    return st;
  };
  std::printf(
      "\n| appends of one message, each waited for | n | p50 ms | p99 ms | max ms | |\n|---|---|---|---|---|---|\n");
  appends(std::chrono::seconds(5)).print("alone");
  std::atomic<bool> searching{true};
  std::atomic<std::size_t> searched{0};
  std::thread searcher([&] {
    while (searching.load()) {
      auto p = std::make_shared<std::promise<void>>();
      auto f = p->get_future();
      s->search(store::SearchQuery{.terms = {"deploy"}, .rooms = rooms, .limit = 20},
                [p](std::error_code, store::SearchPage) { p->set_value(); });
      f.get();
      searched.fetch_add(1);
    }
  });
  auto during = appends(std::chrono::seconds(5));
  searching.store(false);
  searcher.join();
  during.print("while common words are searched");
  std::printf("(%zu searches of the common word meanwhile)\n", searched.load());
  s.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
