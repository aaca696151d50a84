// SqliteStore's account rows: users and sign-in sessions (store.hpp states the contract). On the
// store thread, between the other jobs; one answer each, never retried (store_worker.hpp).
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "protocol/errc.hpp"
#include "store/sqlite_rows.hpp"
#include "store/sqlite_store.hpp"

namespace parley::store {

namespace {

using protocol::errc;
using sqlite_rows::bind_text;
using sqlite_rows::Reset;
using sqlite_rows::text_column;

constexpr const char* user_columns = "id, name, COALESCE(name_key, ''), password_hash, created_at, deleted";

StoredUser user_row(sqlite3_stmt* st, int at) {
  return StoredUser{text_column(st, at),     text_column(st, at + 1),          text_column(st, at + 2),
                    text_column(st, at + 3), sqlite3_column_int64(st, at + 4), sqlite3_column_int(st, at + 5) != 0};
}

StoredSession session_row(sqlite3_stmt* st) {
  return StoredSession{text_column(st, 0),          text_column(st, 1),          sqlite3_column_int64(st, 2),
                       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), text_column(st, 5)};
}

constexpr const char* session_columns = "token_digest, user_id, created_at, last_seen_at, expires_at, label";

}  // namespace

void SqliteStore::prepare_accounts() {
  auto prepare = [this](const std::string& sql, sqlite3_stmt** st) {
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  };
  const std::string users = user_columns;
  const std::string sessions = session_columns;
  prepare("INSERT INTO users(id, name, name_key, password_hash, created_at, deleted) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
          &insert_user_);
  prepare("SELECT " + users + " FROM users WHERE name_key = ?1 AND deleted = 0", &select_user_by_key_);
  prepare("SELECT " + users + " FROM users WHERE id = ?1", &select_user_);
  prepare("UPDATE users SET password_hash = ?2 WHERE id = ?1 AND deleted = 0", &update_password_);
  // Matches a deleted user too (changes() counts matched rows): deleting again is success.
  prepare("UPDATE users SET deleted = 1, name_key = NULL, password_hash = '' WHERE id = ?1", &mark_user_deleted_);
  prepare("DELETE FROM sessions WHERE user_id = ?1 AND token_digest <> ?2", &delete_other_sessions_);
  prepare("DELETE FROM sessions WHERE user_id = ?1", &delete_user_sessions_);
  // Only for a live user: the database checks, in the same statement.
  prepare("INSERT INTO sessions(" + sessions +
              ") SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2 AND deleted = 0)",
          &insert_session_);
  prepare(
      "SELECT s.token_digest, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.label, u.id, u.name, "
      "COALESCE(u.name_key, ''), u.password_hash, u.created_at, u.deleted FROM sessions s JOIN users u ON u.id = "
      "s.user_id WHERE s.token_digest = ?1",
      &select_session_);
  prepare("DELETE FROM sessions WHERE token_digest = ?1 AND expires_at <= ?2", &delete_expired_session_);
  prepare("UPDATE sessions SET last_seen_at = ?2, expires_at = ?3 WHERE token_digest = ?1 AND expires_at > ?2",
          &touch_session_);
  prepare("SELECT " + sessions + " FROM sessions WHERE user_id = ?1 ORDER BY created_at DESC, token_digest LIMIT " +
              std::to_string(Store::max_listed_sessions),
          &select_sessions_);
  prepare("DELETE FROM sessions WHERE user_id = ?1 AND token_digest = ?2", &delete_session_);
  prepare(
      "DELETE FROM sessions WHERE token_digest IN (SELECT token_digest FROM sessions WHERE expires_at <= ?1 LIMIT " +
          std::to_string(Store::max_swept_sessions) + ")",
      &sweep_sessions_);
  // The user's sessions but ?2 (the new one, kept), oldest first beyond the ?3 newest.
  prepare(
      "DELETE FROM sessions WHERE token_digest IN (SELECT token_digest FROM sessions WHERE user_id = ?1 AND "
      "token_digest <> ?2 ORDER BY created_at DESC, last_seen_at DESC, token_digest DESC LIMIT -1 OFFSET ?3)",
      &evict_sessions_);
}

std::vector<sqlite3_stmt*> SqliteStore::account_statements() const {
  return {insert_user_,           select_user_by_key_,   select_user_,    update_password_, mark_user_deleted_,
          delete_other_sessions_, delete_user_sessions_, insert_session_, select_session_,  delete_expired_session_,
          touch_session_,         select_sessions_,      delete_session_, sweep_sessions_,  evict_sessions_};
}

std::error_code SqliteStore::failed(const char* what) {
  spdlog::error("store: {} failed: {}", what, sqlite3_errmsg(db_));
  return errc::store_failed;
}

bool SqliteStore::in_transaction(std::initializer_list<std::function<bool()>> steps) {
  bool ok = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  for (const auto& step : steps) {
    if (!ok) break;
    ok = step();
  }
  if (ok) ok = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    const std::string err = sqlite3_errmsg(db_);  // ROLLBACK would overwrite it
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    spdlog::error("store: account transaction failed: {}", err);
  }
  return ok;
}

std::error_code SqliteStore::create_user_now(const StoredUser& user) {
  int extended = SQLITE_OK;
  {
    Reset reset(insert_user_);
    bind_text(insert_user_, 1, user.id);
    bind_text(insert_user_, 2, user.name);
    bind_text(insert_user_, 3, user.name_key);
    bind_text(insert_user_, 4, user.password_hash);
    sqlite3_bind_int64(insert_user_, 5, user.created_at);
    if (sqlite3_step(insert_user_) == SQLITE_DONE) return {};
    extended = sqlite3_extended_errcode(db_);
    if (extended != SQLITE_CONSTRAINT_UNIQUE && extended != SQLITE_CONSTRAINT_PRIMARYKEY) return failed("create_user");
  }
  // The database decided, in the insert: no read-then-write race between two registrations.
  // Either key may be reported: the same row is this very creation stored already (the store's
  // contract; a lost answer is a PostgreSQL matter), another user of the id is a bug (ids are
  // never reused), and else the name is taken (the only UNIQUE besides the id: name_key).
  std::optional<StoredUser> stored;
  if (auto ec = find_user_now(user.id, stored)) return ec;
  if (stored && !stored->deleted && stored->name == user.name && stored->name_key == user.name_key &&
      stored->password_hash == user.password_hash && stored->created_at == user.created_at)
    return {};
  if (!stored && extended == SQLITE_CONSTRAINT_UNIQUE) return errc::name_taken;
  spdlog::error("store: create_user: id {} is taken by another user", user.id);
  return errc::store_failed;
}

std::error_code SqliteStore::select_one_user(sqlite3_stmt* stmt, const std::string& key, const char* what,
                                             std::optional<StoredUser>& out) {
  Reset reset(stmt);
  bind_text(stmt, 1, key);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) out = user_row(stmt, 0);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? std::error_code() : failed(what);
}

std::error_code SqliteStore::find_user_by_name_key_now(const std::string& name_key, std::optional<StoredUser>& out) {
  return select_one_user(select_user_by_key_, name_key, "find_user_by_name_key", out);
}

std::error_code SqliteStore::find_user_now(const std::string& id, std::optional<StoredUser>& out) {
  return select_one_user(select_user_, id, "find_user", out);
}

std::error_code SqliteStore::set_password_now(const std::string& user_id, const std::string& password_hash,
                                              const std::string& keep_session_digest) {
  bool live = false;
  const bool ok = in_transaction({
      [&] {
        Reset reset(update_password_);
        bind_text(update_password_, 1, user_id);
        bind_text(update_password_, 2, password_hash);
        if (sqlite3_step(update_password_) != SQLITE_DONE) return false;
        live = sqlite3_changes(db_) > 0;
        return true;
      },
      [&] {
        if (!live) return true;  // nothing to sign out; the empty transaction commits
        Reset reset(delete_other_sessions_);
        bind_text(delete_other_sessions_, 1, user_id);
        bind_text(delete_other_sessions_, 2, keep_session_digest);
        return sqlite3_step(delete_other_sessions_) == SQLITE_DONE;
      },
  });
  if (!ok) return errc::store_failed;
  return live ? std::error_code() : make_error_code(errc::no_such_user);
}

std::error_code SqliteStore::delete_user_now(const std::string& user_id) {
  bool known = false;
  const bool ok = in_transaction({
      [&] {
        Reset reset(mark_user_deleted_);
        bind_text(mark_user_deleted_, 1, user_id);
        if (sqlite3_step(mark_user_deleted_) != SQLITE_DONE) return false;
        known = sqlite3_changes(db_) > 0;
        return true;
      },
      [&] {
        Reset reset(delete_user_sessions_);
        bind_text(delete_user_sessions_, 1, user_id);
        return sqlite3_step(delete_user_sessions_) == SQLITE_DONE;
      },
  });
  if (!ok) return errc::store_failed;
  return known ? std::error_code() : make_error_code(errc::no_such_user);
}

std::error_code SqliteStore::create_session_now(const StoredSession& session, std::size_t max_per_user,
                                                std::size_t& evicted) {
  bool live = false;
  const bool ok = in_transaction({
      [&] {
        Reset reset(insert_session_);
        bind_text(insert_session_, 1, session.token_digest);
        bind_text(insert_session_, 2, session.user_id);
        sqlite3_bind_int64(insert_session_, 3, session.created_at);
        sqlite3_bind_int64(insert_session_, 4, session.last_seen_at);
        sqlite3_bind_int64(insert_session_, 5, session.expires_at);
        bind_text(insert_session_, 6, session.label);
        if (sqlite3_step(insert_session_) != SQLITE_DONE) return false;
        live = sqlite3_changes(db_) > 0;
        return true;
      },
      [&] {
        if (!live) return true;  // nothing stored, nothing to make room for
        Reset reset(evict_sessions_);
        bind_text(evict_sessions_, 1, session.user_id);
        bind_text(evict_sessions_, 2, session.token_digest);
        const std::size_t others = max_per_user > 0 ? max_per_user - 1 : 0;
        sqlite3_bind_int64(evict_sessions_, 3, static_cast<sqlite3_int64>(std::min<std::size_t>(others, INT64_MAX)));
        if (sqlite3_step(evict_sessions_) != SQLITE_DONE) return false;
        evicted = static_cast<std::size_t>(sqlite3_changes(db_));
        return true;
      },
  });
  if (!ok) {
    evicted = 0;
    return errc::store_failed;  // in_transaction said why
  }
  return live ? std::error_code() : make_error_code(errc::no_such_user);
}

std::error_code SqliteStore::find_session_now(const std::string& token_digest, std::int64_t now_ms,
                                              std::optional<std::pair<StoredSession, StoredUser>>& out) {
  std::optional<std::pair<StoredSession, StoredUser>> found;
  {
    Reset reset(select_session_);
    bind_text(select_session_, 1, token_digest);
    const int rc = sqlite3_step(select_session_);
    if (rc == SQLITE_ROW)
      found.emplace(session_row(select_session_), user_row(select_session_, 6));
    else if (rc != SQLITE_DONE)
      return failed("find_session");
  }
  if (!found) return {};
  if (found->first.expires_at <= now_ms) {
    // Expired: removed now (lazily; sweep_sessions gets the ones nobody asks for). A failure here
    // changes no answer: the sweep tries again.
    Reset reset(delete_expired_session_);
    bind_text(delete_expired_session_, 1, token_digest);
    sqlite3_bind_int64(delete_expired_session_, 2, now_ms);
    if (sqlite3_step(delete_expired_session_) != SQLITE_DONE) failed("removing an expired session");
    return {};
  }
  if (!found->second.deleted) out = std::move(found);
  return {};
}

std::error_code SqliteStore::touch_session_now(const std::string& token_digest, std::int64_t last_seen_at,
                                               std::int64_t expires_at) {
  Reset reset(touch_session_);
  bind_text(touch_session_, 1, token_digest);
  sqlite3_bind_int64(touch_session_, 2, last_seen_at);
  sqlite3_bind_int64(touch_session_, 3, expires_at);
  return sqlite3_step(touch_session_) == SQLITE_DONE ? std::error_code() : failed("touch_session");
}

std::error_code SqliteStore::list_sessions_now(const std::string& user_id, std::vector<StoredSession>& out) {
  Reset reset(select_sessions_);
  bind_text(select_sessions_, 1, user_id);
  int rc;
  while ((rc = sqlite3_step(select_sessions_)) == SQLITE_ROW) out.push_back(session_row(select_sessions_));
  return rc == SQLITE_DONE ? std::error_code() : failed("list_sessions");
}

std::error_code SqliteStore::revoke_session_now(const std::string& user_id, const std::string& token_digest) {
  Reset reset(delete_session_);
  bind_text(delete_session_, 1, user_id);
  bind_text(delete_session_, 2, token_digest);
  return sqlite3_step(delete_session_) == SQLITE_DONE ? std::error_code() : failed("revoke_session");
}

std::error_code SqliteStore::revoke_sessions_now(const std::string& user_id) {
  Reset reset(delete_user_sessions_);
  bind_text(delete_user_sessions_, 1, user_id);
  return sqlite3_step(delete_user_sessions_) == SQLITE_DONE ? std::error_code() : failed("revoke_sessions");
}

std::error_code SqliteStore::sweep_sessions_now(std::int64_t now_ms) {
  Reset reset(sweep_sessions_);
  sqlite3_bind_int64(sweep_sessions_, 1, now_ms);
  return sqlite3_step(sweep_sessions_) == SQLITE_DONE ? std::error_code() : failed("sweep_sessions");
}

}  // namespace parley::store
