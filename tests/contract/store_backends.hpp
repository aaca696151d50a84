#pragma once
// The Store implementations the contract suite runs over, and small synchronous helpers.
// A backend owns the data one store works on (a temp directory, a fresh database) so a test can
// open, destroy and reopen a store on the same data.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pg_server.hpp"
#include "store/postgres_store.hpp"
#include "store/sqlite_store.hpp"

namespace parley::contract {

struct StoreLimits {
  std::size_t max_queue = 100000;
  std::size_t max_batch = 10000;
};

class SqliteBackend {
 public:
  static std::string unavailable() { return {}; }
  SqliteBackend() {
    char tmpl[] = "/tmp/parley-sqlite-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  ~SqliteBackend() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<store::Store> open(StoreLimits limits = {}) {
    return std::make_unique<store::SqliteStore>(
        store::SqliteOptions{dir_ / "parley.db", "NORMAL", limits.max_queue, limits.max_batch});
  }

 private:
  std::filesystem::path dir_;
};

// One PostgreSQL server for the whole test program, started on first use, stopped at exit.
inline std::unique_ptr<test::PgServer>& shared_pg_slot() {
  static std::unique_ptr<test::PgServer> server;
  return server;
}
inline test::PgServer& shared_pg() {
  auto& slot = shared_pg_slot();
  if (!slot) slot = std::make_unique<test::PgServer>();
  return *slot;
}

class PostgresBackend {
 public:
  static std::string unavailable() { return test::PgServer::unavailable_reason(); }
  PostgresBackend() : database_("contract_" + std::to_string(next_id())) { shared_pg().create_database(database_); }
  std::unique_ptr<store::Store> open(StoreLimits limits = {}) {
    store::PostgresOptions o;
    o.conninfo = shared_pg().conninfo(database_);
    o.max_queue = limits.max_queue;
    o.max_batch = limits.max_batch;
    return std::make_unique<store::PostgresStore>(std::move(o));
  }

 private:
  static int next_id() {
    static std::atomic<int> id{0};
    return ++id;
  }
  std::string database_;
};

// Typed suites run over Backends, named "Sqlite" and "Postgres" (CTest filters on the names).
struct BackendNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, SqliteBackend>)
      return "Sqlite";
    else
      return "Postgres";
  }
};
using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;

inline core::Message make_message(const std::string& room, std::uint64_t seq, std::string text = {}) {
  if (text.empty()) text = "message " + std::to_string(seq) + " in " + room;
  return core::Message{room,
                       seq,
                       "ada",
                       std::move(text),
                       1'700'000'000'000 + static_cast<std::int64_t>(seq),
                       "c-" + room + "-" + std::to_string(seq),
                       "u_ada"};
}

inline std::vector<core::Message> make_batch(const std::string& room, std::uint64_t first, std::uint64_t count) {
  std::vector<core::Message> out;
  for (std::uint64_t s = first; s < first + count; ++s) out.push_back(make_message(room, s));
  return out;
}

// Waits for a completion with a generous bound, so a broken store fails the test instead of
// hanging it.
template <class T>
T wait_for(std::future<T>& f, std::chrono::seconds limit = std::chrono::seconds(60)) {
  if (f.wait_for(limit) != std::future_status::ready) throw std::runtime_error("store completion never ran");
  return f.get();
}

inline std::error_code append_sync(store::Store& s, std::vector<core::Message> batch) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  s.append(std::move(batch), [p](std::error_code ec) { p->set_value(ec); });
  return wait_for(f);
}

inline std::error_code create_sync(store::Store& s, store::StoredRoom room) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  s.create_room(std::move(room), [p](std::error_code ec) { p->set_value(ec); });
  return wait_for(f);
}

inline std::error_code delete_sync(store::Store& s, const std::string& room) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  s.delete_room(room, [p](std::error_code ec) { p->set_value(ec); });
  return wait_for(f);
}

using ReadResult = std::pair<std::error_code, std::vector<core::Message>>;

inline ReadResult read_sync(store::Store& s, const std::string& room, std::uint64_t after, std::uint64_t before,
                            std::size_t limit) {
  auto p = std::make_shared<std::promise<ReadResult>>();
  auto f = p->get_future();
  s.read(room, after, before, limit, [p](std::error_code ec, std::vector<core::Message> m) {
    p->set_value({ec, std::move(m)});
  });
  return wait_for(f);
}

inline std::vector<std::uint64_t> seqs(const std::vector<core::Message>& messages) {
  std::vector<std::uint64_t> out;
  for (const auto& m : messages) out.push_back(m.seq);
  return out;
}

inline std::vector<std::uint64_t> seq_range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// A fresh backend and a store open on it for each test (skipped where the backend is not to be
// had); reopen() closes the store and opens another on the same data (a restart).
template <class Backend>
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = Backend::unavailable(); !why.empty()) GTEST_SKIP() << why;
    backend_.emplace();
    store_ = backend_->open();
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }
  void reopen(StoreLimits limits = {}) {
    store_.reset();
    store_ = backend_->open(limits);
  }

  std::optional<Backend> backend_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace parley::contract
