// PostgresStore's account rows: users and sign-in sessions, and room access: members with roles,
// and bans (store.hpp states the contract). On
// the store thread, between the other jobs; one answer each, not retried through an outage
// (store_worker.hpp).
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "core/mentions.hpp"
#include "protocol/errc.hpp"
#include "store/pg_rows.hpp"
#include "store/postgres_store.hpp"

namespace parley::store {

namespace {

using pg::column;
using pg::int_column;
using pg::Params;
using pg::Result;
using protocol::errc;

constexpr std::string_view unique_violation = "23505";
constexpr std::string_view name_key_constraint = "users_name_key_unique";

// Runs one prepared statement; null unless it succeeded (the connection then says why).
Result run(PGconn* conn, const char* statement, const Params& p) {
  Result r(PQexecPrepared(conn, statement, p.size(), p.values(), p.lengths(), p.formats(), 0));
  const auto status = PQresultStatus(r.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
  return nullptr;
}

// As run(), and the failed result too: its SQLSTATE and constraint tell a taken name.
Result run_keep(PGconn* conn, const char* statement, const Params& p, bool& ok) {
  Result r(PQexecPrepared(conn, statement, p.size(), p.values(), p.lengths(), p.formats(), 0));
  const auto status = PQresultStatus(r.get());
  ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  return r;
}

bool exec(PGconn* conn, const char* sql) {
  Result r(PQexec(conn, sql));
  return PQresultStatus(r.get()) == PGRES_COMMAND_OK;
}

bool changed(const Result& r) { return std::string_view(PQcmdTuples(r.get())) != "0"; }

std::string field(const PGresult* r, int field_code) {
  const char* s = PQresultErrorField(r, field_code);
  return s ? s : "";
}

constexpr const char* user_columns = "id, name, COALESCE(name_key, ''), password_hash, created_at, deleted";

StoredUser user_row(const PGresult* r, int at) {
  return StoredUser{column(r, 0, at),     column(r, 0, at + 1),     column(r, 0, at + 2),
                    column(r, 0, at + 3), int_column(r, 0, at + 4), column(r, 0, at + 5) == "t"};
}

StoredSession session_row(const PGresult* r, int row) {
  return StoredSession{column(r, row, 0),     column(r, row, 1),     int_column(r, row, 2),
                       int_column(r, row, 3), int_column(r, row, 4), column(r, row, 5)};
}

}  // namespace

std::vector<std::pair<const char*, std::string>> PostgresStore::account_statements() {
  const std::string users = user_columns;
  return {
      {"parley_insert_user",
       "INSERT INTO users(id, name, name_key, password_hash, created_at, deleted) VALUES ($1, $2, $3, $4, $5, false)"},
      {"parley_select_user_by_key", "SELECT " + users + " FROM users WHERE name_key = $1 AND NOT deleted"},
      {"parley_select_user", "SELECT " + users + " FROM users WHERE id = $1"},
      {"parley_update_password", "UPDATE users SET password_hash = $2 WHERE id = $1 AND NOT deleted"},
      // Matches a deleted user too: deleting again is success.
      {"parley_mark_user_deleted",
       "UPDATE users SET deleted = true, name_key = NULL, password_hash = '' WHERE id = $1"},
      {"parley_delete_other_sessions", "DELETE FROM sessions WHERE user_id = $1 AND token_digest <> $2"},
      {"parley_delete_user_sessions", "DELETE FROM sessions WHERE user_id = $1"},
      // Only for a live user: the database checks, in the same statement.
      {"parley_insert_session",
       "INSERT INTO sessions(token_digest, user_id, created_at, last_seen_at, expires_at, label) "
       "SELECT $1::text, $2::text, $3::bigint, $4::bigint, $5::bigint, $6::text "
       "WHERE EXISTS (SELECT 1 FROM users WHERE id = $2::text AND NOT deleted)"},
      {"parley_select_session",
       "SELECT s.token_digest, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.label, u.id, u.name, "
       "COALESCE(u.name_key, ''), u.password_hash, u.created_at, u.deleted FROM sessions s JOIN users u ON u.id = "
       "s.user_id WHERE s.token_digest = $1"},
      {"parley_delete_expired_session", "DELETE FROM sessions WHERE token_digest = $1 AND expires_at <= $2"},
      {"parley_touch_session",
       "UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE token_digest = $1 AND expires_at > $2"},
      {"parley_select_sessions",
       "SELECT token_digest, user_id, created_at, last_seen_at, expires_at, label FROM sessions WHERE user_id = $1 "
       "ORDER BY created_at DESC, token_digest LIMIT " +
           std::to_string(Store::max_listed_sessions)},
      {"parley_delete_session", "DELETE FROM sessions WHERE user_id = $1 AND token_digest = $2"},
      // The user's sessions but $2 (the new one, kept), oldest first beyond the $3 newest.
      {"parley_evict_sessions",
       "DELETE FROM sessions WHERE token_digest IN (SELECT token_digest FROM sessions WHERE user_id = $1 AND "
       "token_digest <> $2 ORDER BY created_at DESC, last_seen_at DESC, token_digest DESC OFFSET $3)"},
      {"parley_sweep_sessions",
       "DELETE FROM sessions WHERE token_digest IN (SELECT token_digest FROM sessions WHERE expires_at <= $1 LIMIT " +
           std::to_string(Store::max_swept_sessions) + ")"},
  };
}

template <class Op>
std::error_code PostgresStore::account_call(const char* what, Op&& op) {
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) break;
    if (std::optional<std::error_code> answer = op()) return *answer;
    err = pg::trimmed(PQerrorMessage(conn_));
    if (PQstatus(conn_) == CONNECTION_OK) {
      rollback();
      // A statement this connection lacks (it would fail every time): once more on a new one,
      // which prepares them all. Else a query error: no second try.
      if (!statements_missing()) break;
    }
    disconnect();
  }
  // The message names no value (PQexecPrepared's parameters are not in it): no hash, no digest.
  spdlog::error("store: {} failed: {}", what, err);
  return errc::store_failed;
}

std::error_code PostgresStore::create_user_now(const StoredUser& user) {
  return account_call("create_user", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(user.id);
    p.text(user.name);
    p.text(user.name_key);
    p.text(user.password_hash);
    p.int8(user.created_at);
    bool ok = false;
    Result r = run_keep(conn_, "parley_insert_user", p, ok);
    if (ok) return std::error_code();
    if (pg::sqlstate(r.get()) != unique_violation) return std::nullopt;
    // The database decided (no read-then-write race). Either key may be reported first: the
    // same row is this very creation, stored by a first attempt whose answer was lost.
    const bool name_taken = field(r.get(), PG_DIAG_CONSTRAINT_NAME) == name_key_constraint;
    Params q;
    q.text(user.id);
    Result found = run(conn_, "parley_select_user", q);
    if (!found) return std::nullopt;
    std::optional<StoredUser> stored;
    if (PQntuples(found.get()) == 1) stored = user_row(found.get(), 0);
    if (stored && !stored->deleted && stored->name == user.name && stored->name_key == user.name_key &&
        stored->password_hash == user.password_hash && stored->created_at == user.created_at)
      return std::error_code();
    if (stored) {
      spdlog::error("store: create_user: id {} is taken by another user", user.id);
      return make_error_code(errc::store_failed);
    }
    return name_taken ? make_error_code(errc::name_taken) : make_error_code(errc::store_failed);
  });
}

std::error_code PostgresStore::find_user_by_name_key_now(const std::string& name_key, std::optional<StoredUser>& out) {
  return account_call("find_user_by_name_key", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(name_key);
    Result r = run(conn_, "parley_select_user_by_key", p);
    if (!r) return std::nullopt;
    if (PQntuples(r.get()) == 1) out = user_row(r.get(), 0);
    return std::error_code();
  });
}

std::error_code PostgresStore::find_user_now(const std::string& id, std::optional<StoredUser>& out) {
  return account_call("find_user", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(id);
    Result r = run(conn_, "parley_select_user", p);
    if (!r) return std::nullopt;
    if (PQntuples(r.get()) == 1) out = user_row(r.get(), 0);
    return std::error_code();
  });
}

std::error_code PostgresStore::set_password_now(const std::string& user_id, const std::string& password_hash,
                                                const std::string& keep_session_digest) {
  return account_call("set_password", [&]() -> std::optional<std::error_code> {
    if (!exec(conn_, "BEGIN")) return std::nullopt;
    Params p;
    p.text(user_id);
    p.text(password_hash);
    Result updated = run(conn_, "parley_update_password", p);
    if (!updated) return std::nullopt;
    if (!changed(updated)) {
      rollback();
      return make_error_code(errc::no_such_user);
    }
    Params q;
    q.text(user_id);
    q.text(keep_session_digest);
    if (!run(conn_, "parley_delete_other_sessions", q) || !exec(conn_, "COMMIT")) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::delete_user_now(const std::string& user_id) {
  return account_call("delete_user", [&]() -> std::optional<std::error_code> {
    if (!exec(conn_, "BEGIN")) return std::nullopt;
    Params p;
    p.text(user_id);
    Result marked = run(conn_, "parley_mark_user_deleted", p);
    if (!marked) return std::nullopt;
    if (!changed(marked)) {
      rollback();
      return make_error_code(errc::no_such_user);
    }
    if (!run(conn_, "parley_delete_user_sessions", p) || !exec(conn_, "COMMIT")) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::create_session_now(const StoredSession& session, std::size_t max_per_user,
                                                  std::size_t& evicted) {
  evicted = 0;
  return account_call("create_session", [&]() -> std::optional<std::error_code> {
    if (!exec(conn_, "BEGIN")) return std::nullopt;
    Params p;
    p.text(session.token_digest);
    p.text(session.user_id);
    p.int8(session.created_at);
    p.int8(session.last_seen_at);
    p.int8(session.expires_at);
    p.text(session.label);
    bool ok = false;
    Result r = run_keep(conn_, "parley_insert_session", p, ok);
    if (ok) {
      if (!changed(r)) {
        rollback();
        return make_error_code(errc::no_such_user);
      }
      Params q;
      q.text(session.user_id);
      q.text(session.token_digest);
      q.int8(static_cast<std::int64_t>(std::min<std::size_t>(max_per_user > 0 ? max_per_user - 1 : 0, INT64_MAX)));
      Result gone = run(conn_, "parley_evict_sessions", q);
      if (!gone || !exec(conn_, "COMMIT")) return std::nullopt;
      evicted = static_cast<std::size_t>(std::strtoull(PQcmdTuples(gone.get()), nullptr, 10));
      return std::error_code();
    }
    if (pg::sqlstate(r.get()) != unique_violation) return std::nullopt;
    rollback();  // the transaction is aborted: the lookup below runs on its own
    // The digest is stored: by a first attempt whose answer was lost (the same session), or a
    // bug (a digest of a fresh random token does not repeat).
    Params q;
    q.text(session.token_digest);
    Result s = run(conn_, "parley_select_session", q);
    if (!s) return std::nullopt;
    if (PQntuples(s.get()) == 1) {
      const StoredSession row = session_row(s.get(), 0);
      if (row.user_id == session.user_id && row.created_at == session.created_at) return std::error_code();
    }
    spdlog::error("store: create_session: the digest is stored for another session");
    return make_error_code(errc::store_failed);
  });
}

std::error_code PostgresStore::find_session_now(const std::string& token_digest, std::int64_t now_ms,
                                                std::optional<std::pair<StoredSession, StoredUser>>& out) {
  return account_call("find_session", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(token_digest);
    Result r = run(conn_, "parley_select_session", p);
    if (!r) return std::nullopt;
    if (PQntuples(r.get()) != 1) return std::error_code();
    std::pair<StoredSession, StoredUser> found{session_row(r.get(), 0), user_row(r.get(), 6)};
    if (found.first.expires_at <= now_ms) {
      // Expired: removed now (lazily; sweep_sessions gets the ones nobody asks for). A failure
      // here changes no answer: the sweep tries again.
      Params q;
      q.text(token_digest);
      q.int8(now_ms);
      if (!run(conn_, "parley_delete_expired_session", q))
        spdlog::warn("store: removing an expired session failed: {}", pg::trimmed(PQerrorMessage(conn_)));
      return std::error_code();
    }
    if (!found.second.deleted) out = std::move(found);
    return std::error_code();
  });
}

std::error_code PostgresStore::touch_session_now(const std::string& token_digest, std::int64_t last_seen_at,
                                                 std::int64_t expires_at) {
  return account_call("touch_session", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(token_digest);
    p.int8(last_seen_at);
    p.int8(expires_at);
    if (!run(conn_, "parley_touch_session", p)) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::list_sessions_now(const std::string& user_id, std::vector<StoredSession>& out) {
  return account_call("list_sessions", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(user_id);
    Result r = run(conn_, "parley_select_sessions", p);
    if (!r) return std::nullopt;
    out.clear();
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(session_row(r.get(), i));
    return std::error_code();
  });
}

std::error_code PostgresStore::revoke_session_now(const std::string& user_id, const std::string& token_digest) {
  return account_call("revoke_session", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(user_id);
    p.text(token_digest);
    if (!run(conn_, "parley_delete_session", p)) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::revoke_sessions_now(const std::string& user_id) {
  return account_call("revoke_sessions", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(user_id);
    if (!run(conn_, "parley_delete_user_sessions", p)) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::sweep_sessions_now(std::int64_t now_ms) {
  return account_call("sweep_sessions", [&]() -> std::optional<std::error_code> {
    Params p;
    p.int8(now_ms);
    if (!run(conn_, "parley_sweep_sessions", p)) return std::nullopt;
    return std::error_code();
  });
}

namespace {
// A one-off statement (room access calls are rare): null unless it succeeded.
Result run_sql(PGconn* conn, const char* sql, const Params& p) {
  Result r(PQexecParams(conn, sql, p.size(), p.types(), p.values(), p.lengths(), p.formats(), 0));
  const auto status = PQresultStatus(r.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
  return nullptr;
}
}  // namespace

std::error_code PostgresStore::load_access_now(const std::string& room, StoredAccess& out) {
  return account_call("load_access", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(room);
    p.int8(static_cast<std::int64_t>(Store::max_loaded_members));
    Result members = run_sql(
        conn_, "SELECT user_id, role, since FROM room_members WHERE room = $1 ORDER BY since, user_id LIMIT $2", p);
    if (!members) return std::nullopt;
    Params q;
    q.text(room);
    Result bans = run_sql(conn_, "SELECT user_id FROM room_bans WHERE room = $1 ORDER BY user_id", q);
    if (!bans) return std::nullopt;
    out = StoredAccess{};
    for (int i = 0; i < PQntuples(members.get()); ++i) {
      // A role this version does not know reads as a plain member: never more than it was.
      const auto role = core::parse_role(column(members.get(), i, 1)).value_or(core::Role::member);
      out.members.push_back(StoredMember{column(members.get(), i, 0), role, int_column(members.get(), i, 2)});
    }
    for (int i = 0; i < PQntuples(bans.get()); ++i) out.banned.push_back(column(bans.get(), i, 0));
    return std::error_code();
  });
}

std::error_code PostgresStore::set_member_now(const std::string& room, const StoredMember& member) {
  return account_call("set_member", [&]() -> std::optional<std::error_code> {
    const std::string role(core::role_name(member.role));
    Params p;
    p.text(room);
    p.text(member.user_id);
    p.text(role);
    p.int8(member.since);
    if (!run_sql(conn_,
                 "INSERT INTO room_members(room, user_id, role, since) VALUES ($1, $2, $3, $4) "
                 "ON CONFLICT (room, user_id) DO UPDATE SET role = excluded.role",
                 p))
      return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::remove_member_now(const std::string& room, const std::string& user_id, bool ban) {
  return account_call("remove_member", [&]() -> std::optional<std::error_code> {
    const std::string banned = ban ? "t" : "f";
    Params p;
    p.text(room);
    p.text(user_id);
    p.text(banned);
    // One statement: the removal and the ban commit together.
    if (!run_sql(
            conn_,
            "WITH d AS (DELETE FROM room_members WHERE room = $1 AND user_id = $2) "
            "INSERT INTO room_bans(room, user_id, since) SELECT $1, $2, (extract(epoch from now()) * 1000)::bigint "
            "WHERE $3::text = 't' ON CONFLICT DO NOTHING",
            p))
      return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::unban_now(const std::string& room, const std::string& user_id) {
  return account_call("unban", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(room);
    p.text(user_id);
    if (!run_sql(conn_, "DELETE FROM room_bans WHERE room = $1 AND user_id = $2", p)) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::load_roster_now(const std::string& room, std::size_t limit,
                                               std::vector<StoredRosterEntry>& out) {
  return account_call("load_roster", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(room);
    p.int8(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    // COLLATE "C": name order by bytes, as SQLite's and the node's (std::string) are.
    Result rows = run_sql(conn_,
                          "SELECT m.user_id, u.name, m.role FROM room_members m JOIN users u ON u.id = m.user_id "
                          "WHERE m.room = $1 AND NOT u.deleted ORDER BY u.name COLLATE \"C\", m.user_id LIMIT $2",
                          p);
    if (!rows) return std::nullopt;
    out.clear();
    for (int i = 0; i < PQntuples(rows.get()); ++i) {
      const auto role = core::parse_role(column(rows.get(), i, 2)).value_or(core::Role::member);
      out.push_back(StoredRosterEntry{column(rows.get(), i, 0), column(rows.get(), i, 1), role});
    }
    return std::error_code();
  });
}

namespace {
constexpr const char* key_columns = "id, secret_digest, name, scopes, created_at, revoked_at, last_used_at";

StoredApiKey key_row(const PGresult* r, int row) {
  return StoredApiKey{column(r, row, 0),     column(r, row, 1),     column(r, row, 2),    column(r, row, 3),
                      int_column(r, row, 4), int_column(r, row, 5), int_column(r, row, 6)};
}
}  // namespace

// Server API keys: one-off statements, like room access (a key is looked up once per request of
// the server API, which is the operator's backend, not every client).
std::error_code PostgresStore::create_api_key_now(const StoredApiKey& key) {
  return account_call("create_api_key", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(key.id);
    p.text(key.secret_digest);
    p.text(key.name);
    p.text(key.scopes);
    p.int8(key.created_at);
    if (!run_sql(conn_,
                 "INSERT INTO api_keys(id, secret_digest, name, scopes, created_at, revoked_at, last_used_at) "
                 "VALUES ($1, $2, $3, $4, $5, 0, 0)",
                 p))
      return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::find_api_key_now(const std::string& id, std::optional<StoredApiKey>& out) {
  return account_call("find_api_key", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(id);
    const std::string sql = std::string("SELECT ") + key_columns + " FROM api_keys WHERE id = $1";
    Result r = run_sql(conn_, sql.c_str(), p);
    if (!r) return std::nullopt;
    out.reset();
    if (PQntuples(r.get()) == 1) out = key_row(r.get(), 0);
    return std::error_code();
  });
}

std::error_code PostgresStore::list_api_keys_now(std::vector<StoredApiKey>& out) {
  return account_call("list_api_keys", [&]() -> std::optional<std::error_code> {
    Params p;
    p.int8(static_cast<std::int64_t>(Store::max_listed_api_keys));
    const std::string sql =
        std::string("SELECT ") + key_columns + " FROM api_keys ORDER BY created_at DESC, id LIMIT $1";
    Result r = run_sql(conn_, sql.c_str(), p);
    if (!r) return std::nullopt;
    out.clear();
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(key_row(r.get(), i));
    return std::error_code();
  });
}

std::error_code PostgresStore::set_room_info_now(const std::string& room, const std::string& title,
                                                 const std::string& topic) {
  return account_call("set_room_info", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(room);
    p.text(title);
    p.text(topic);
    if (!run_sql(conn_, "UPDATE rooms SET title = $2, topic = $3 WHERE id = $1", p)) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::revoke_api_key_now(const std::string& id, std::int64_t now_ms, bool& revoked) {
  return account_call("revoke_api_key", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(id);
    p.int8(now_ms > 0 ? now_ms : 1);  // 0 means live
    Result r = run_sql(conn_, "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at = 0", p);
    if (!r) return std::nullopt;
    revoked = std::strtol(PQcmdTuples(r.get()), nullptr, 10) > 0;
    return std::error_code();
  });
}

std::error_code PostgresStore::touch_api_key_now(const std::string& id, std::int64_t now_ms) {
  return account_call("touch_api_key", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(id);
    p.int8(now_ms);
    if (!run_sql(conn_, "UPDATE api_keys SET last_used_at = $2 WHERE id = $1", p)) return std::nullopt;
    return std::error_code();
  });
}

// Read state: one-off statements, like room access.
std::error_code PostgresStore::set_read_now(const std::string& user_id, const std::string& room, std::uint64_t seq,
                                            std::uint64_t& stored) {
  return account_call("set_read", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(user_id);
    p.text(room);
    p.int8(static_cast<std::int64_t>(std::min<std::uint64_t>(seq, INT64_MAX)));
    Result r = run_sql(conn_,
                       "INSERT INTO read_marks(user_id, room, seq) VALUES ($1, $2, $3) ON CONFLICT (user_id, room) DO "
                       "UPDATE SET seq = GREATEST(read_marks.seq, excluded.seq) RETURNING seq",
                       p);
    if (!r || PQntuples(r.get()) != 1) return std::nullopt;
    stored = static_cast<std::uint64_t>(int_column(r.get(), 0, 0));
    return std::error_code();
  });
}

std::error_code PostgresStore::read_states_now(const std::string& user_id, const std::string& name_key,
                                               const std::vector<std::string>& rooms,
                                               std::vector<StoredReadState>& out) {
  return account_call("read_states", [&]() -> std::optional<std::error_code> {
    out.clear();
    for (const auto& room : rooms) {
      StoredReadState state{.room = room};
      Params p;
      p.text(user_id);
      p.text(room);
      p.int8(static_cast<std::int64_t>(Store::max_counted_unread));
      // The mark, then the newest unread messages by others; the text only of those that may
      // mention someone.
      Result r = run_sql(
          conn_,
          "WITH m AS (SELECT COALESCE((SELECT seq FROM read_marks WHERE user_id = $1 AND room = $2), 0) AS seq) "
          "SELECT m.seq, x.t FROM m LEFT JOIN LATERAL (SELECT CASE WHEN strpos(text, '@') > 0 THEN text ELSE '' END "
          "AS t FROM messages WHERE room = $2 AND seq > m.seq AND kind = 0 AND NOT deleted AND sender_id <> $1 "
          "ORDER BY seq DESC LIMIT $3) x ON true",
          p);
      if (!r) return std::nullopt;
      const int n = PQntuples(r.get());
      if (n > 0) state.last_read = static_cast<std::uint64_t>(int_column(r.get(), 0, 0));
      for (int i = 0; i < n; ++i) {
        if (PQgetisnull(r.get(), i, 1)) continue;  // no unread message: the LEFT JOIN's one empty row
        ++state.unread;
        const std::string text = column(r.get(), i, 1);
        if (!text.empty() && core::mentions(text, name_key)) ++state.mentions;
      }
      out.push_back(std::move(state));
    }
    return std::error_code();
  });
}

std::error_code PostgresStore::room_reads_now(const std::string& room, std::size_t limit,
                                              std::vector<StoredSeen>& out) {
  return account_call("room_reads", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(room);
    p.int8(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    Result r = run_sql(conn_,
                       "SELECT r.user_id, u.name, r.seq FROM read_marks r JOIN users u ON u.id = r.user_id "
                       "WHERE r.room = $1 AND NOT u.deleted ORDER BY r.seq DESC, r.user_id COLLATE \"C\" LIMIT $2",
                       p);
    if (!r) return std::nullopt;
    out.clear();
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back(StoredSeen{column(r.get(), i, 0), column(r.get(), i, 1),
                               static_cast<std::uint64_t>(int_column(r.get(), i, 2))});
    return std::error_code();
  });
}

// Files (store.hpp): rows only.

namespace {
constexpr const char* file_columns = "id, room, uploader, name, type, size, width, height, thumb, claim, created_at";

StoredFile file_row(const PGresult* r, int i) {
  StoredFile f;
  f.id = column(r, i, 0);
  f.room = column(r, i, 1);
  f.uploader_id = column(r, i, 2);
  f.name = column(r, i, 3);
  f.type = column(r, i, 4);
  f.size = static_cast<std::uint64_t>(int_column(r, i, 5));
  f.width = static_cast<unsigned>(int_column(r, i, 6));
  f.height = static_cast<unsigned>(int_column(r, i, 7));
  f.thumb = column(r, i, 8) == "t";
  f.claim = column(r, i, 9);
  f.created_at = int_column(r, i, 10);
  return f;
}
}  // namespace

std::error_code PostgresStore::put_file_now(const StoredFile& file, std::uint64_t quota_bytes) {
  return account_call("put_file", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(file.id);
    p.text(file.room);
    p.text(file.uploader_id);
    p.text(file.name);
    p.text(file.type);
    p.int8(static_cast<std::int64_t>(std::min<std::uint64_t>(file.size, INT64_MAX)));
    p.int8(file.width);
    p.int8(file.height);
    p.int8(file.thumb ? 1 : 0);
    p.int8(file.created_at);
    p.int8(static_cast<std::int64_t>(std::min<std::uint64_t>(quota_bytes, INT64_MAX)));
    // The uploader's rows are locked first, so that two uploads at once cannot both pass the quota.
    if (!exec(conn_, "BEGIN")) return std::nullopt;
    Params q;
    q.text(file.uploader_id);
    if (!run_sql(conn_, "SELECT pg_advisory_xact_lock(hashtext($1))", q)) return std::nullopt;
    Result r = run_sql(conn_,
                       "INSERT INTO files(id, room, uploader, name, type, size, width, height, thumb, claim, "
                       "created_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 <> 0, '', $10 WHERE COALESCE((SELECT "
                       "SUM(size) FROM files WHERE uploader = $3), 0) + $6 <= $11",
                       p);
    if (!r) return std::nullopt;
    const bool stored = changed(r);
    if (!exec(conn_, "COMMIT")) return std::nullopt;
    return stored ? std::error_code() : make_error_code(store_errc::over_quota);
  });
}

std::error_code PostgresStore::find_file_now(const std::string& id, std::optional<StoredFile>& out) {
  return account_call("find_file", [&]() -> std::optional<std::error_code> {
    Params p;
    p.text(id);
    const std::string sql = std::string("SELECT ") + file_columns + " FROM files WHERE id = $1";
    Result r = run_sql(conn_, sql.c_str(), p);
    if (!r) return std::nullopt;
    out.reset();
    if (PQntuples(r.get()) == 1) out = file_row(r.get(), 0);
    return std::error_code();
  });
}

std::error_code PostgresStore::claim_files_now(const std::string& room, const std::string& uploader_id,
                                               const std::string& cid, const std::vector<std::string>& ids,
                                               std::int64_t now_ms, std::vector<StoredFile>& out) {
  return account_call("claim_files", [&]() -> std::optional<std::error_code> {
    out.clear();
    if (!exec(conn_, "BEGIN")) return std::nullopt;
    const std::string sql =
        std::string(
            "UPDATE files SET claim = $4, claimed_at = $5 WHERE id = $1 AND room = $2 AND uploader = $3 "
            "AND (claim = '' OR claim = $4) RETURNING ") +
        file_columns;
    for (const std::string& id : ids) {
      Params p;
      p.text(id);
      p.text(room);
      p.text(uploader_id);
      p.text(cid);
      p.int8(now_ms);
      Result r = run_sql(conn_, sql.c_str(), p);
      if (!r) return std::nullopt;
      if (PQntuples(r.get()) != 1) {
        rollback();
        out.clear();
        return make_error_code(errc::no_such_file);
      }
      out.push_back(file_row(r.get(), 0));
    }
    if (!exec(conn_, "COMMIT")) return std::nullopt;
    return std::error_code();
  });
}

std::error_code PostgresStore::take_file_trash_now(std::int64_t unattached_before, std::size_t limit,
                                                   std::vector<std::string>& out) {
  return account_call("take_file_trash", [&]() -> std::optional<std::error_code> {
    out.clear();
    if (!exec(conn_, "BEGIN")) return std::nullopt;
    Params p;
    p.int8(unattached_before);
    if (!run_sql(conn_,
                 "WITH gone AS (DELETE FROM files WHERE (claim = '' AND created_at < $1) OR (claim <> '' AND NOT "
                 "attached AND claimed_at > 0 AND claimed_at < $1) RETURNING id) "
                 "INSERT INTO file_trash(id) SELECT id FROM gone ON CONFLICT DO NOTHING",
                 p))
      return std::nullopt;
    Params q;
    q.int8(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    Result r = run_sql(conn_,
                       "DELETE FROM file_trash WHERE id IN (SELECT id FROM file_trash LIMIT $1 FOR UPDATE SKIP "
                       "LOCKED) RETURNING id",
                       q);
    if (!r) return std::nullopt;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(column(r.get(), i, 0));
    if (!exec(conn_, "COMMIT")) return std::nullopt;
    return std::error_code();
  });
}

void PostgresStore::put_file(StoredFile file, std::uint64_t quota_bytes, Done done) {
  worker_.put_file(std::move(file), quota_bytes, std::move(done));
}
void PostgresStore::find_file(std::string id, FindFileDone done) { worker_.find_file(std::move(id), std::move(done)); }
void PostgresStore::claim_files(std::string room, std::string uploader_id, std::string cid,
                                std::vector<std::string> ids, std::int64_t now_ms, FilesDone done) {
  worker_.claim_files(std::move(room), std::move(uploader_id), std::move(cid), std::move(ids), now_ms, std::move(done));
}
void PostgresStore::take_file_trash(std::int64_t unattached_before, std::size_t limit, FileIdsDone done) {
  worker_.take_file_trash(unattached_before, limit, std::move(done));
}

}  // namespace parley::store
