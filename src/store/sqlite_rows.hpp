#pragma once
// Small helpers for SqliteStore's statements (sqlite_store.cpp, sqlite_accounts.cpp). Store
// thread only, as the statements they touch.
#include <sqlite3.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace parley::store::sqlite_rows {

// A connection (SQLITE_OPEN_NOMUTEX: one thread uses it) that waits up to 5 s for a lock; throws
// std::runtime_error "cannot open <path> <purpose>: <why>".
inline sqlite3* open(const std::filesystem::path& path, int flags, const std::string& purpose = {}) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path.string() + (purpose.empty() ? "" : " " + purpose) + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

inline std::string text_column(sqlite3_stmt* st, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, col))) : std::string();
}

// SQLITE_STATIC: `s` must outlive the statement's next reset (a Reset below, in the same scope).
inline void bind_text(sqlite3_stmt* st, int i, const std::string& s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}

// Resets a prepared statement when the scope ends: its read transaction ends (an open one would
// hold back every checkpoint) and no binding outlives the strings it points to.
class Reset {
 public:
  explicit Reset(sqlite3_stmt* st) noexcept : st_(st) { sqlite3_reset(st_); }
  ~Reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Reset(const Reset&) = delete;
  Reset& operator=(const Reset&) = delete;

 private:
  sqlite3_stmt* st_;
};

// One statement, prepared for one call and finalized with it (rare calls: room access, API keys).
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Statement() { sqlite3_finalize(st_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const noexcept { return st_; }
  explicit operator bool() const noexcept { return st_ != nullptr; }

 private:
  sqlite3_stmt* st_ = nullptr;
};

}  // namespace parley::store::sqlite_rows
