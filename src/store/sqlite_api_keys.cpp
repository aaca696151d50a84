// SqliteStore's server API keys (store.hpp states the contract). On the store thread, between
// the other jobs; one answer each, never retried. A lookup per server API request: a prepared
// statement per call costs a few microseconds, next to the request's HTTP and JSON.
#include <sqlite3.h>

#include <string>

#include "protocol/errc.hpp"
#include "store/sqlite_rows.hpp"
#include "store/sqlite_store.hpp"

namespace parley::store {

namespace {

using sqlite_rows::bind_text;
using sqlite_rows::Statement;
using sqlite_rows::text_column;

constexpr const char* key_columns = "id, secret_digest, name, scopes, created_at, revoked_at, last_used_at";

StoredApiKey key_row(sqlite3_stmt* st) {
  return StoredApiKey{text_column(st, 0),         text_column(st, 1),          text_column(st, 2),
                      text_column(st, 3),         sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5),
                      sqlite3_column_int64(st, 6)};
}

}  // namespace

std::error_code SqliteStore::create_api_key_now(const StoredApiKey& key) {
  Statement st(db_,
               "INSERT INTO api_keys(id, secret_digest, name, scopes, created_at, revoked_at, last_used_at) "
               "VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)");
  if (!st) return failed("create_api_key");
  bind_text(st.get(), 1, key.id);
  bind_text(st.get(), 2, key.secret_digest);
  bind_text(st.get(), 3, key.name);
  bind_text(st.get(), 4, key.scopes);
  sqlite3_bind_int64(st.get(), 5, key.created_at);
  return sqlite3_step(st.get()) == SQLITE_DONE ? std::error_code() : failed("create_api_key");
}

std::error_code SqliteStore::find_api_key_now(const std::string& id, std::optional<StoredApiKey>& out) {
  const std::string sql = std::string("SELECT ") + key_columns + " FROM api_keys WHERE id = ?1";
  Statement st(db_, sql.c_str());
  if (!st) return failed("find_api_key");
  bind_text(st.get(), 1, id);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) out = key_row(st.get());
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? std::error_code() : failed("find_api_key");
}

std::error_code SqliteStore::list_api_keys_now(std::vector<StoredApiKey>& out) {
  const std::string sql = std::string("SELECT ") + key_columns + " FROM api_keys ORDER BY created_at DESC, id LIMIT ?1";
  Statement st(db_, sql.c_str());
  if (!st) return failed("list_api_keys");
  sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(Store::max_listed_api_keys));
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(key_row(st.get()));
  return rc == SQLITE_DONE ? std::error_code() : failed("list_api_keys");
}

std::error_code SqliteStore::revoke_api_key_now(const std::string& id, std::int64_t now_ms, bool& revoked) {
  Statement st(db_, "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at = 0");
  if (!st) return failed("revoke_api_key");
  bind_text(st.get(), 1, id);
  sqlite3_bind_int64(st.get(), 2, now_ms > 0 ? now_ms : 1);  // 0 means live
  if (sqlite3_step(st.get()) != SQLITE_DONE) return failed("revoke_api_key");
  revoked = sqlite3_changes(db_) > 0;
  return {};
}

std::error_code SqliteStore::touch_api_key_now(const std::string& id, std::int64_t now_ms) {
  Statement st(db_, "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1");
  if (!st) return failed("touch_api_key");
  bind_text(st.get(), 1, id);
  sqlite3_bind_int64(st.get(), 2, now_ms);
  return sqlite3_step(st.get()) == SQLITE_DONE ? std::error_code() : failed("touch_api_key");
}

}  // namespace parley::store
