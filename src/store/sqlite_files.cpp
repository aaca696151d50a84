// SqliteStore's file rows (store.hpp states the contract). On the store thread, between the other
// jobs; one answer each, never retried. An upload, a send with files and a fetch cost one call
// each: a statement prepared per call costs a few microseconds next to their HTTP and bytes.
#include <sqlite3.h>

#include <string>

#include "protocol/errc.hpp"
#include "store/sqlite_rows.hpp"
#include "store/sqlite_store.hpp"

namespace parley::store {

namespace {

using protocol::errc;
using sqlite_rows::bind_text;
using sqlite_rows::Statement;
using sqlite_rows::text_column;

constexpr const char* file_columns = "id, room, uploader, name, type, size, width, height, thumb, claim, created_at";

StoredFile file_row(sqlite3_stmt* st) {
  StoredFile f;
  f.id = text_column(st, 0);
  f.room = text_column(st, 1);
  f.uploader_id = text_column(st, 2);
  f.name = text_column(st, 3);
  f.type = text_column(st, 4);
  f.size = static_cast<std::uint64_t>(sqlite3_column_int64(st, 5));
  f.width = static_cast<unsigned>(sqlite3_column_int64(st, 6));
  f.height = static_cast<unsigned>(sqlite3_column_int64(st, 7));
  f.thumb = sqlite3_column_int(st, 8) != 0;
  f.claim = text_column(st, 9);
  f.created_at = sqlite3_column_int64(st, 10);
  return f;
}

}  // namespace

void SqliteStore::put_file(StoredFile file, std::uint64_t quota_bytes, Done done) {
  worker_.put_file(std::move(file), quota_bytes, std::move(done));
}
void SqliteStore::find_file(std::string id, FindFileDone done) { worker_.find_file(std::move(id), std::move(done)); }
void SqliteStore::claim_files(std::string room, std::string uploader_id, std::string cid, std::vector<std::string> ids,
                              std::int64_t now_ms, FilesDone done) {
  worker_.claim_files(std::move(room), std::move(uploader_id), std::move(cid), std::move(ids), now_ms, std::move(done));
}
void SqliteStore::take_file_trash(std::int64_t unattached_before, std::size_t limit, FileIdsDone done) {
  worker_.take_file_trash(unattached_before, limit, std::move(done));
}

std::error_code SqliteStore::put_file_now(const StoredFile& file, std::uint64_t quota_bytes) {
  // One statement: the quota is checked against what the uploader has when the row goes in.
  Statement st(db_,
               "INSERT INTO files(id, room, uploader, name, type, size, width, height, thumb, claim, created_at) "
               "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '', ?10 "
               "WHERE COALESCE((SELECT SUM(size) FROM files WHERE uploader = ?3), 0) + ?6 <= ?11");
  if (!st) return failed("put_file");
  bind_text(st.get(), 1, file.id);
  bind_text(st.get(), 2, file.room);
  bind_text(st.get(), 3, file.uploader_id);
  bind_text(st.get(), 4, file.name);
  bind_text(st.get(), 5, file.type);
  sqlite3_bind_int64(st.get(), 6, static_cast<sqlite3_int64>(file.size));
  sqlite3_bind_int64(st.get(), 7, file.width);
  sqlite3_bind_int64(st.get(), 8, file.height);
  sqlite3_bind_int(st.get(), 9, file.thumb ? 1 : 0);
  sqlite3_bind_int64(st.get(), 10, file.created_at);
  sqlite3_bind_int64(st.get(), 11, static_cast<sqlite3_int64>(std::min<std::uint64_t>(quota_bytes, INT64_MAX)));
  if (sqlite3_step(st.get()) != SQLITE_DONE) return failed("put_file");
  return sqlite3_changes(db_) > 0 ? std::error_code() : make_error_code(store_errc::over_quota);
}

std::error_code SqliteStore::find_file_now(const std::string& id, std::optional<StoredFile>& out) {
  const std::string sql = std::string("SELECT ") + file_columns + " FROM files WHERE id = ?1";
  Statement st(db_, sql.c_str());
  if (!st) return failed("find_file");
  bind_text(st.get(), 1, id);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) out = file_row(st.get());
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? std::error_code() : failed("find_file");
}

std::error_code SqliteStore::claim_files_now(const std::string& room, const std::string& uploader_id,
                                             const std::string& cid, const std::vector<std::string>& ids,
                                             std::int64_t now_ms, std::vector<StoredFile>& out) {
  const std::string sql = std::string("SELECT ") + file_columns +
                          " FROM files WHERE id = ?1 AND room = ?2 AND uploader = ?3 AND (claim = '' OR claim = ?4)";
  bool missing = false;
  const bool ok = in_transaction({
      [&] {
        Statement find(db_, sql.c_str());
        // claimed_at: when the messages_files_attach trigger has not marked it attached by
        // unattached_ttl_ms after this, its send was refused (take_file_trash_now).
        Statement take(db_, "UPDATE files SET claim = ?2, claimed_at = ?3 WHERE id = ?1");
        if (!find || !take) return false;
        for (const std::string& id : ids) {
          sqlite3_reset(find.get());
          bind_text(find.get(), 1, id);
          bind_text(find.get(), 2, room);
          bind_text(find.get(), 3, uploader_id);
          bind_text(find.get(), 4, cid);
          const int rc = sqlite3_step(find.get());
          if (rc == SQLITE_DONE) {
            missing = true;
            return false;  // rolled back: none is taken
          }
          if (rc != SQLITE_ROW) return false;
          out.push_back(file_row(find.get()));
          out.back().claim = cid;
          sqlite3_reset(take.get());
          bind_text(take.get(), 1, id);
          bind_text(take.get(), 2, cid);
          sqlite3_bind_int64(take.get(), 3, now_ms);
          if (sqlite3_step(take.get()) != SQLITE_DONE) return false;
        }
        return true;
      },
  });
  if (missing) {
    out.clear();
    return errc::no_such_file;
  }
  return ok ? std::error_code() : make_error_code(errc::store_failed);
}

std::error_code SqliteStore::take_file_trash_now(std::int64_t unattached_before, std::size_t limit,
                                                 std::vector<std::string>& out) {
  const bool ok = in_transaction({
      [&] {
        // Unattached uploads, and files taken by a send whose message never came (each by its
        // partial index). A take without a time (claimed_at 0) was made by a node older than
        // migration 12 during a rolling upgrade, its message perhaps still on the way: not swept.
        constexpr const char* which =
            "FROM files WHERE (claim = '' AND created_at < ?1) OR (claim <> '' AND attached = 0 AND claimed_at > 0 AND "
            "claimed_at < ?1)";
        Statement move(db_, (std::string("INSERT OR IGNORE INTO file_trash(id) SELECT id ") + which).c_str());
        Statement drop(db_, (std::string("DELETE ") + which).c_str());
        if (!move || !drop) return false;
        sqlite3_bind_int64(move.get(), 1, unattached_before);
        sqlite3_bind_int64(drop.get(), 1, unattached_before);
        return sqlite3_step(move.get()) == SQLITE_DONE && sqlite3_step(drop.get()) == SQLITE_DONE;
      },
      [&] {
        Statement list(db_, "SELECT id FROM file_trash LIMIT ?1");
        Statement drop(db_, "DELETE FROM file_trash WHERE id = ?1");
        if (!list || !drop) return false;
        sqlite3_bind_int64(list.get(), 1, static_cast<sqlite3_int64>(std::min<std::size_t>(limit, INT64_MAX)));
        int rc;
        while ((rc = sqlite3_step(list.get())) == SQLITE_ROW) out.push_back(text_column(list.get(), 0));
        if (rc != SQLITE_DONE) return false;
        for (const std::string& id : out) {
          sqlite3_reset(drop.get());
          bind_text(drop.get(), 1, id);
          if (sqlite3_step(drop.get()) != SQLITE_DONE) return false;
        }
        return true;
      },
  });
  if (!ok) out.clear();
  return ok ? std::error_code() : make_error_code(errc::store_failed);
}

bool SqliteStore::trash_message_files(const std::string& room, std::int64_t seq) {
  // The message's files: its uploader's in its room, taken by its cid.
  constexpr const char* which =
      "FROM files WHERE room = ?1 AND claim <> '' AND (uploader, claim) IN (SELECT sender_id, cid FROM messages "
      "WHERE room = ?1 AND seq = ?2 AND kind = 0)";
  Statement move(db_, (std::string("INSERT OR IGNORE INTO file_trash(id) SELECT id ") + which).c_str());
  Statement drop(db_, (std::string("DELETE ") + which).c_str());
  if (!move || !drop) return false;
  for (sqlite3_stmt* st : {move.get(), drop.get()}) {
    bind_text(st, 1, room);
    sqlite3_bind_int64(st, 2, seq);
    if (sqlite3_step(st) != SQLITE_DONE) return false;
  }
  return true;
}

bool SqliteStore::trash_room_files(const std::string& room) {
  Statement move(db_, "INSERT OR IGNORE INTO file_trash(id) SELECT id FROM files WHERE room = ?1");
  Statement drop(db_, "DELETE FROM files WHERE room = ?1");
  if (!move || !drop) return false;
  for (sqlite3_stmt* st : {move.get(), drop.get()}) {
    bind_text(st, 1, room);
    if (sqlite3_step(st) != SQLITE_DONE) return false;
  }
  return true;
}

}  // namespace parley::store
