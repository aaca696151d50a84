// SqliteStore's room access rows: members with roles, and bans (store.hpp states the contract).
// On the store thread, between the other jobs; one answer each, never retried. Rare calls (a
// room's load, an invitation, a removal): their statements are prepared per call.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/mentions.hpp"
#include "protocol/errc.hpp"
#include "store/sqlite_rows.hpp"
#include "store/sqlite_store.hpp"

namespace parley::store {

namespace {

using sqlite_rows::bind_text;
using sqlite_rows::Statement;
using sqlite_rows::text_column;

// Runs a statement whose first two placeholders are the room and the user.
bool run_pair(sqlite3* db, const char* sql, const std::string& room, const std::string& user_id) {
  Statement st(db, sql);
  if (!st) return false;
  bind_text(st.get(), 1, room);
  bind_text(st.get(), 2, user_id);
  return sqlite3_step(st.get()) == SQLITE_DONE;
}

}  // namespace

std::error_code SqliteStore::load_access_now(const std::string& room, StoredAccess& out) {
  {
    Statement st(db_, "SELECT user_id, role, since FROM room_members WHERE room = ?1 ORDER BY since, user_id LIMIT ?2");
    if (!st) return failed("load_access");
    bind_text(st.get(), 1, room);
    sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(Store::max_loaded_members));
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      // A role this version does not know reads as a plain member: never more than it was.
      const auto role = core::parse_role(text_column(st.get(), 1)).value_or(core::Role::member);
      out.members.push_back(StoredMember{text_column(st.get(), 0), role, sqlite3_column_int64(st.get(), 2)});
    }
    if (rc != SQLITE_DONE) return failed("load_access");
  }
  Statement st(db_, "SELECT user_id FROM room_bans WHERE room = ?1 ORDER BY user_id");
  if (!st) return failed("load_access");
  bind_text(st.get(), 1, room);
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.banned.push_back(text_column(st.get(), 0));
  return rc == SQLITE_DONE ? std::error_code() : failed("load_access");
}

std::error_code SqliteStore::set_member_now(const std::string& room, const StoredMember& member) {
  Statement st(db_,
               "INSERT INTO room_members(room, user_id, role, since) VALUES (?1, ?2, ?3, ?4) "
               "ON CONFLICT(room, user_id) DO UPDATE SET role = excluded.role");
  if (!st) return failed("set_member");
  const std::string role(core::role_name(member.role));
  bind_text(st.get(), 1, room);
  bind_text(st.get(), 2, member.user_id);
  bind_text(st.get(), 3, role);
  sqlite3_bind_int64(st.get(), 4, member.since);
  return sqlite3_step(st.get()) == SQLITE_DONE ? std::error_code() : failed("set_member");
}

std::error_code SqliteStore::remove_member_now(const std::string& room, const std::string& user_id, bool ban) {
  const bool ok = in_transaction({
      [&] { return run_pair(db_, "DELETE FROM room_members WHERE room = ?1 AND user_id = ?2", room, user_id); },
      [&] {
        if (!ban) return true;
        return run_pair(db_,
                        "INSERT OR IGNORE INTO room_bans(room, user_id, since) "
                        "VALUES (?1, ?2, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
                        room, user_id);
      },
  });
  return ok ? std::error_code() : make_error_code(protocol::errc::store_failed);
}

std::error_code SqliteStore::unban_now(const std::string& room, const std::string& user_id) {
  return run_pair(db_, "DELETE FROM room_bans WHERE room = ?1 AND user_id = ?2", room, user_id) ? std::error_code()
                                                                                                : failed("unban");
}

std::error_code SqliteStore::load_roster_now(const std::string& room, std::size_t limit,
                                             std::vector<StoredRosterEntry>& out) {
  Statement st(db_,
               "SELECT m.user_id, u.name, m.role FROM room_members m JOIN users u ON u.id = m.user_id "
               "WHERE m.room = ?1 AND u.deleted = 0 ORDER BY u.name, m.user_id LIMIT ?2");
  if (!st) return failed("load_roster");
  bind_text(st.get(), 1, room);
  sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(std::min<std::size_t>(limit, INT64_MAX)));
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    const auto role = core::parse_role(text_column(st.get(), 2)).value_or(core::Role::member);
    out.push_back(StoredRosterEntry{text_column(st.get(), 0), text_column(st.get(), 1), role});
  }
  if (rc == SQLITE_DONE) return {};
  out.clear();
  return failed("load_roster");
}

std::error_code SqliteStore::set_room_info_now(const std::string& room, const std::string& title,
                                               const std::string& topic) {
  Statement st(db_, "UPDATE rooms SET title = ?2, topic = ?3 WHERE id = ?1");
  if (!st) return failed("set_room_info");
  bind_text(st.get(), 1, room);
  bind_text(st.get(), 2, title);
  bind_text(st.get(), 3, topic);
  return sqlite3_step(st.get()) == SQLITE_DONE ? std::error_code() : failed("set_room_info");
}

// Read state: one-off statements as the access calls are (a mark is written when a member reads,
// the states read with a page of the room list).
std::error_code SqliteStore::set_read_now(const std::string& user_id, const std::string& room, std::uint64_t seq,
                                          std::uint64_t& stored) {
  Statement st(db_,
               "INSERT INTO read_marks(user_id, room, seq) VALUES (?1, ?2, ?3) ON CONFLICT(user_id, room) DO UPDATE "
               "SET seq = MAX(seq, excluded.seq) RETURNING seq");
  if (!st) return failed("set_read");
  bind_text(st.get(), 1, user_id);
  bind_text(st.get(), 2, room);
  sqlite3_bind_int64(st.get(), 3, static_cast<sqlite3_int64>(std::min<std::uint64_t>(seq, INT64_MAX)));
  if (sqlite3_step(st.get()) != SQLITE_ROW) return failed("set_read");
  stored = static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 0));
  return sqlite3_step(st.get()) == SQLITE_DONE ? std::error_code() : failed("set_read");
}

std::error_code SqliteStore::read_states_now(const std::string& user_id, const std::string& name_key,
                                             const std::vector<std::string>& rooms, std::vector<StoredReadState>& out) {
  Statement mark(db_, "SELECT seq FROM read_marks WHERE user_id = ?1 AND room = ?2");
  // The newest unread messages by others; the text only of those that may mention someone.
  Statement after(db_,
                  "SELECT CASE WHEN instr(text, '@') > 0 THEN text ELSE '' END FROM messages WHERE room = ?1 AND "
                  "seq > ?2 AND kind = 0 AND deleted = 0 AND sender_id <> ?3 ORDER BY seq DESC LIMIT ?4");
  if (!mark || !after) return failed("read_states");
  out.clear();
  for (const auto& room : rooms) {
    StoredReadState state{.room = room};
    sqlite3_reset(mark.get());
    bind_text(mark.get(), 1, user_id);
    bind_text(mark.get(), 2, room);
    int rc = sqlite3_step(mark.get());
    if (rc == SQLITE_ROW) {
      state.last_read = static_cast<std::uint64_t>(sqlite3_column_int64(mark.get(), 0));
    } else if (rc != SQLITE_DONE) {
      return failed("read_states");
    }
    sqlite3_reset(after.get());
    bind_text(after.get(), 1, room);
    sqlite3_bind_int64(after.get(), 2, static_cast<sqlite3_int64>(state.last_read));
    bind_text(after.get(), 3, user_id);
    sqlite3_bind_int64(after.get(), 4, static_cast<sqlite3_int64>(Store::max_counted_unread));
    while ((rc = sqlite3_step(after.get())) == SQLITE_ROW) {
      ++state.unread;
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(after.get(), 0));
      const auto size = static_cast<std::size_t>(sqlite3_column_bytes(after.get(), 0));
      if (size > 0 && core::mentions(std::string_view(text, size), name_key)) ++state.mentions;
    }
    if (rc != SQLITE_DONE) return failed("read_states");
    out.push_back(std::move(state));
  }
  return {};
}

std::error_code SqliteStore::room_reads_now(const std::string& room, std::size_t limit, std::vector<StoredSeen>& out) {
  Statement st(db_,
               "SELECT r.user_id, u.name, r.seq FROM read_marks r JOIN users u ON u.id = r.user_id "
               "WHERE r.room = ?1 AND u.deleted = 0 ORDER BY r.seq DESC, r.user_id LIMIT ?2");
  if (!st) return failed("room_reads");
  bind_text(st.get(), 1, room);
  sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(std::min<std::size_t>(limit, INT64_MAX)));
  out.clear();
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW)
    out.push_back(StoredSeen{text_column(st.get(), 0), text_column(st.get(), 1),
                             static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 2))});
  if (rc == SQLITE_DONE) return {};
  out.clear();
  return failed("room_reads");
}

}  // namespace parley::store
