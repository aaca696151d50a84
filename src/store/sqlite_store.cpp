#include "store/sqlite_store.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include "protocol/errc.hpp"
#include "store/sqlite_rows.hpp"
#include "store/sqlite_search_index.hpp"

namespace parley::store {

namespace {

using protocol::errc;

// Schema versions, applied in order; PRAGMA user_version records the last one applied.
constexpr const char* migrations[] = {
    R"sql(
    CREATE TABLE rooms (
      id TEXT PRIMARY KEY,
      created_at INTEGER NOT NULL,
      created_by TEXT NOT NULL
    );
    CREATE TABLE messages (
      room TEXT NOT NULL,
      seq INTEGER NOT NULL,
      sender TEXT NOT NULL,
      text TEXT NOT NULL,
      ts INTEGER NOT NULL,
      cid TEXT NOT NULL,
      PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    )sql",
    // 2: accounts and sign-in sessions. A deleted user keeps its row (messages refer to its id)
    // with name_key NULL, so that its name is free again (NULLs are never equal in a UNIQUE).
    R"sql(
    CREATE TABLE users (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      name_key TEXT UNIQUE,
      password_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
      token_digest TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id),
      created_at INTEGER NOT NULL,
      last_seen_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      label TEXT NOT NULL
    );
    CREATE INDEX sessions_user_id ON sessions(user_id);
    CREATE INDEX sessions_expires_at ON sessions(expires_at);
    )sql",
    // 3: room access: private rooms (a password hash, or none: by invitation), members with
    // roles, bans.
    R"sql(
    ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'public';
    ALTER TABLE rooms ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE rooms ADD COLUMN peers TEXT NOT NULL DEFAULT '';
    CREATE TABLE room_members (
      room TEXT NOT NULL,
      user_id TEXT NOT NULL,
      role TEXT NOT NULL,
      since INTEGER NOT NULL,
      PRIMARY KEY (room, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE room_bans (
      room TEXT NOT NULL,
      user_id TEXT NOT NULL,
      since INTEGER NOT NULL,
      PRIMARY KEY (room, user_id)
    ) WITHOUT ROWID;
    )sql",
    // 4: a message's sender id beside its name. Messages stored before have '' (the wire then
    // sends no "uid" for them).
    R"sql(
    ALTER TABLE messages ADD COLUMN sender_id TEXT NOT NULL DEFAULT '';
    )sql",
    // 5: room titles and topics (update_room): what members see of a room beside its id.
    R"sql(
    ALTER TABLE rooms ADD COLUMN title TEXT NOT NULL DEFAULT '';
    ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT '';
    )sql",
    // 6: API keys of the server API: the digest of each key's secret, never the secret; a
    // revoked key keeps its row (revoked_at > 0), so that its id is not given out again.
    R"sql(
    CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      secret_digest TEXT NOT NULL,
      name TEXT NOT NULL,
      scopes TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      revoked_at INTEGER NOT NULL DEFAULT 0,
      last_used_at INTEGER NOT NULL DEFAULT 0
    );
    )sql",
    // 7: edits and deletes (docs/protocol.md, "edit and delete"): an entry of the sequence that
    // changes an earlier message (kind 1: edit, 2: delete; target: its seq), and on the message
    // its current state: the time of its latest edit, and whether it is deleted (its text then
    // ''). The index finds a message's edits, whose texts a delete removes too.
    R"sql(
    ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN target INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_target ON messages(room, target) WHERE target > 0;
    )sql",
    // 8: read state (docs/protocol.md, "Read state"): each account's last-read seq per room,
    // raised only. The index finds a room's marks ("seen by") and those a room's deletion drops.
    R"sql(
    CREATE TABLE read_marks (
      user_id TEXT NOT NULL,
      room TEXT NOT NULL,
      seq INTEGER NOT NULL,
      PRIMARY KEY (user_id, room)
    ) WITHOUT ROWID;
    CREATE INDEX read_marks_room ON read_marks(room, seq);
    )sql",
    // 9: reactions (docs/protocol.md, "reactions"): a message's reactions now, one row per
    // (message, emoji, user), made and removed by the react and unreact entries of the sequence
    // (kinds 3 and 4, the emoji as their text) as they are stored, and by a delete. `made_seq`: the
    // seq of the react that made it (their order). A reply is a message whose target is the seq
    // it answers (no column of its own).
    R"sql(
    CREATE TABLE reactions (
      room TEXT NOT NULL,
      seq INTEGER NOT NULL,
      emoji TEXT NOT NULL,
      user_key TEXT NOT NULL,
      sender TEXT NOT NULL,
      sender_id TEXT NOT NULL,
      made_seq INTEGER NOT NULL,
      PRIMARY KEY (room, seq, emoji, user_key)
    ) WITHOUT ROWID;
    )sql",
    // 10: search, once an FTS5 index kept in step with the messages by triggers, in every commit.
    // It is a database of its own now, out of the commits (sqlite_search_index.hpp); 13 removes it
    // from the databases that had it.
    R"sql(
    SELECT 1;
    )sql",
    // 11: files (docs/api.md, "Files"): a message's attachments as the JSON array the wire sends;
    // each upload's row (its bytes are the node's file store's), `claim` the cid of the send that
    // took it ('' while unattached: the message is its uploader's with that cid in its room); the
    // ids of removed files whose bytes are still to be removed.
    R"sql(
    ALTER TABLE messages ADD COLUMN files TEXT NOT NULL DEFAULT '';
    CREATE TABLE files (
      id TEXT PRIMARY KEY,
      room TEXT NOT NULL,
      uploader TEXT NOT NULL,
      name TEXT NOT NULL,
      type TEXT NOT NULL,
      size INTEGER NOT NULL,
      width INTEGER NOT NULL,
      height INTEGER NOT NULL,
      thumb INTEGER NOT NULL,
      claim TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL
    );
    CREATE INDEX files_room ON files(room, uploader, claim);
    CREATE INDEX files_uploader ON files(uploader);
    CREATE INDEX files_unattached ON files(created_at) WHERE claim = '';
    CREATE TABLE file_trash (id TEXT PRIMARY KEY) WITHOUT ROWID;
    )sql",
    // 12: a taken file is attached when its message is stored (the trigger, on the files_room
    // index; only messages with files pay for it); one taken but never attached (the send was
    // refused after the take and not retried) is swept unattached_ttl_ms after `claimed_at`.
    // Files taken before this migration count as attached.
    R"sql(
    ALTER TABLE files ADD COLUMN claimed_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN attached INTEGER NOT NULL DEFAULT 0;
    UPDATE files SET attached = 1 WHERE claim <> '';
    CREATE INDEX files_unsent ON files(claimed_at) WHERE claim <> '' AND attached = 0;
    CREATE TRIGGER messages_files_attach AFTER INSERT ON messages WHEN NEW.files <> '' BEGIN
      UPDATE files SET attached = 1 WHERE room = NEW.room AND uploader = NEW.sender_id AND claim = NEW.cid;
    END;
    )sql",
    // 13: migration 10's search index out of the commits: the search index is a database of its
    // own (sqlite_search_index.hpp), which reads the messages after they are committed.
    R"sql(
    DROP TRIGGER IF EXISTS messages_search_insert;
    DROP TRIGGER IF EXISTS messages_search_update;
    DROP TRIGGER IF EXISTS messages_search_delete;
    DROP TABLE IF EXISTS message_search;
    DROP TABLE IF EXISTS search_docs;
    )sql",
    // 14: a message's edits found through the message, not through an index of every change's
    // target. That index put one more leaf page per room into each commit that carried a change
    // (its entries go where the room's newest are): 15% of the writer's throughput with every 4th
    // entry an edit or a reaction. Only a delete needed it (its message's edits lose their texts
    // too). `last_edit`: on a message, the seq of its newest edit applied; on an edit, the seq of
    // the edit of the same message before it (0: none), so that a delete walks the chain.
    R"sql(
    ALTER TABLE messages ADD COLUMN last_edit INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET last_edit = COALESCE((SELECT max(e.seq) FROM messages e WHERE e.room = messages.room
      AND e.target = messages.target AND e.target > 0 AND e.kind = 1 AND e.seq < messages.seq), 0) WHERE kind = 1;
    UPDATE messages SET last_edit = COALESCE((SELECT max(e.seq) FROM messages e WHERE e.room = messages.room
      AND e.target = messages.seq AND e.target > 0 AND e.kind = 1), 0) WHERE kind = 0 AND edited <> 0;
    DROP INDEX messages_target;
    )sql",
    // 15: a message's first reactions on its own row. A reactions row per react put one more leaf
    // page per room into each commit that carried one (the rows of a room's newest messages are
    // together): 15% of the writer's throughput with every 4th entry a change. `reactions` holds
    // the first ones as the reads give them (emoji, sender id, sender; records apart by char 30,
    // fields by 31) while they fit in inline_reactions_bytes, so that the row stays on its page;
    // past that `reactions_spill` is 1 and the later ones are rows of `reactions`, read after the
    // inline ones (all made before them). The reactions stored before this stay rows.
    R"sql(
    ALTER TABLE messages ADD COLUMN reactions TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN reactions_spill INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET reactions_spill = 1 WHERE (room, seq) IN (SELECT room, seq FROM reactions);
    )sql",
};

using sqlite_rows::bind_text;
using sqlite_rows::text_column;

// The record of `emoji` by the user whose sender_key is `user` in a message's reactions on its
// row (migration 15, the format of core::parse_reactions), if there is one.
std::optional<core::StoredReaction> find_reaction(std::string_view list, std::string_view emoji,
                                                  std::string_view user) {
  std::optional<core::StoredReaction> found;
  core::for_each_stored_reaction(list, [&](const core::StoredReaction& r) {
    if (r.emoji == emoji && core::sender_key(r.from_id, r.from) == user) found = r;
    return !found;
  });
  return found;
}

void erase_reaction(std::string& list, const core::StoredReaction& at) {
  // With the separator after it, or (the last one) the one before it.
  if (at.end < list.size())
    list.erase(at.begin, at.end + 1 - at.begin);
  else
    list.erase(at.begin == 0 ? 0 : at.begin - 1);
}

}  // namespace

SqliteStore::SqliteStore(SqliteOptions options)
    : options_(std::move(options)),
      // stop_timeout 0: a commit failing at shutdown fails at once. The failure is the local disk's
      // (full, an I/O error), not a server's that may restart in a few seconds.
      worker_(*this, StoreWorkerOptions{.max_queue = options_.max_queue, .max_batch = options_.max_batch}) {
  if (options_.checkpoint_pages == 0) throw std::runtime_error("store: checkpoint_pages must be at least 1");
  if (options_.path.has_parent_path()) std::filesystem::create_directories(options_.path.parent_path());
  db_ = sqlite_rows::open(options_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  exec("PRAGMA journal_mode=WAL");
  if (options_.synchronous != "NORMAL" && options_.synchronous != "FULL")
    throw std::runtime_error("store.synchronous must be NORMAL or FULL");
  exec(("PRAGMA synchronous=" + options_.synchronous).c_str());
  // Every busy room's newest leaf page stays hot; the default 2 MB cache re-reads them from the WAL.
  exec("PRAGMA cache_size=-32768");
  // A statement of many rows, and each group of changes' savepoint, keeps the pages it changes in
  // a journal of its own; past 64 KB SQLite wrote it to a temporary file, a pwrite per page inside
  // the transaction (15% of the writer's samples with edits and reactions in the mix). In memory
  // it holds at most the pages one batch changes (store.max_batch).
  exec("PRAGMA temp_store=MEMORY");
  migrate();
  auto prepare = [this](const char* sql, sqlite3_stmt** st) {
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite prepare: ") + sqlite3_errmsg(db_));
  };
  // A seq stored already is never a constraint failure, which would be retried forever: the
  // skipped row is compared with the stored one (same_as_stored), and is either the same message
  // stored again (a retry acked after a cluster node crashed before its commit) or another
  // message under its seq (store_errc::seq_taken).
  // One row per statement, and insert_rows rows per statement (a batch then spends its time in
  // the B-tree, not in the statement machinery).
  auto insert_sql = [](std::size_t rows) {
    std::string sql = "INSERT INTO messages(room, seq, sender, text, ts, cid, sender_id, kind, target, files) VALUES ";
    for (std::size_t i = 0; i < rows; ++i) sql += i ? ",(?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?)";
    return sql + " ON CONFLICT(room, seq) DO NOTHING";
  };
  prepare(insert_sql(1).c_str(), &insert_message_);
  prepare(insert_sql(insert_rows).c_str(), &insert_messages_);
  // An edit changes a message that is not deleted; kind 0: never another edit or a delete.
  prepare("SELECT sender, text, ts, cid, sender_id, kind, edited, deleted FROM messages WHERE room = ?1 AND seq = ?2",
          &select_one_);
  // The edit the message's newest was, then the edit made the newest, linked to it (migration 14).
  prepare("SELECT last_edit FROM messages WHERE room = ?1 AND seq = ?2 AND kind = 0 AND deleted = 0", &edit_before_);
  prepare(
      "UPDATE messages SET text = ?3, edited = ?4, last_edit = ?5 WHERE room = ?1 AND seq = ?2 AND kind = 0 AND "
      "deleted = 0",
      &apply_edit_);
  prepare("UPDATE messages SET last_edit = ?3 WHERE room = ?1 AND seq = ?2 AND kind = 1", &link_edit_);
  // A delete: the message's text gone, then its edits' texts, newest first along the chain.
  prepare(
      "UPDATE messages SET text = '', files = '', reactions = '', deleted = 1 WHERE room = ?1 AND seq = ?2 AND kind = "
      "0 RETURNING last_edit",
      &apply_delete_);
  prepare("UPDATE messages SET text = '' WHERE room = ?1 AND seq = ?2 AND kind = 1 RETURNING last_edit", &clear_edit_);
  // A react adds its reaction to a message that is not deleted, once; an unreact removes it; a
  // delete removes them all. A message's first reactions are on its row (migration 15), the
  // rest rows of their own.
  prepare("SELECT reactions, reactions_spill FROM messages WHERE room = ?1 AND seq = ?2 AND kind = 0 AND deleted = 0",
          &reactions_of_);
  prepare("UPDATE messages SET reactions = ?3, reactions_spill = ?4 WHERE room = ?1 AND seq = ?2", &set_reactions_);
  prepare(
      "INSERT INTO reactions(room, seq, emoji, user_key, sender, sender_id, made_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
      "?7) ON CONFLICT DO NOTHING",
      &apply_react_);
  prepare("DELETE FROM reactions WHERE room = ?1 AND seq = ?2 AND emoji = ?3 AND user_key = ?4", &apply_unreact_);
  prepare("DELETE FROM reactions WHERE room = ?1 AND seq = ?2", &clear_reactions_);
  prepare("DELETE FROM reactions WHERE room = ?1", &delete_room_reactions_);
  prepare(
      "INSERT OR IGNORE INTO rooms(id, created_at, created_by, kind, password_hash, peers, title, topic) VALUES (?1, "
      "?2, ?3, ?4, ?5, ?6, ?7, ?8)",
      &insert_room_);
  prepare("INSERT OR IGNORE INTO room_members(room, user_id, role, since) VALUES (?1, ?2, ?4, ?3)", &insert_owner_);
  prepare("DELETE FROM room_members WHERE room = ?1", &delete_room_members_);
  prepare("DELETE FROM room_bans WHERE room = ?1", &delete_room_bans_);
  prepare("DELETE FROM read_marks WHERE room = ?1", &delete_read_marks_);
  prepare(
      "SELECT seq, sender, text, ts, cid, sender_id, kind, target, edited, deleted, CASE reactions_spill WHEN 0 THEN "
      "reactions ELSE reactions || COALESCE(iif(reactions = '', '', char(30)) || (SELECT group_concat(emoji || "
      "char(31) || sender_id || char(31) || sender, char(30)) FROM (SELECT emoji, sender_id, sender FROM reactions r "
      "WHERE r.room = m.room AND r.seq = m.seq ORDER BY made_seq)), '') END, files FROM messages m WHERE room = ?1 "
      "AND seq > ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4",
      &select_range_);
  prepare(
      "SELECT created_at, created_by, COALESCE((SELECT MAX(seq) FROM messages WHERE room = ?1), 0), kind, "
      "password_hash, peers, title, topic FROM rooms WHERE id = ?1",
      &select_room_);
  prepare("DELETE FROM messages WHERE room = ?1", &delete_messages_);
  prepare("DELETE FROM rooms WHERE id = ?1", &delete_room_);
  prepare_accounts();
  // SQLite's automatic checkpoint runs in the committing thread: every checkpoint_pages pages a
  // commit also copies the WAL into the database and fsyncs both, which held a commit (and every
  // message waiting on it) for up to 10 ms in the rooms benchmark. This hook replaces it.
  checkpoint_db_ = sqlite_rows::open(options_.path, SQLITE_OPEN_READWRITE, "for checkpoints");
  sqlite3_exec(checkpoint_db_, ("PRAGMA synchronous=" + options_.synchronous).c_str(), nullptr, nullptr, nullptr);
  sqlite3_wal_hook(db_, &SqliteStore::on_wal_commit, this);
  // A burst may leave a long WAL file behind; once it starts over it is cut back to 4 × the
  // checkpoint size.
  exec(("PRAGMA journal_size_limit=" + std::to_string(4 * options_.checkpoint_pages * 4096)).c_str());
  checkpointer_ = std::thread([this] { run_checkpointer(); });
  try {
    searcher_ = std::make_unique<Searcher>(std::make_unique<SqliteSearchIndex>(options_.path, options_.synchronous),
                                           options_.search_nice, options_.search_share);
  } catch (...) {
    stop();
    throw;
  }
  worker_.start();
}

SqliteStore::~SqliteStore() {
  stop();
  searcher_.reset();
  sqlite3_close(checkpoint_db_);
  sqlite3_finalize(insert_message_);
  sqlite3_finalize(insert_messages_);
  sqlite3_finalize(select_one_);
  sqlite3_finalize(apply_edit_);
  sqlite3_finalize(apply_delete_);
  sqlite3_finalize(edit_before_);
  sqlite3_finalize(link_edit_);
  sqlite3_finalize(clear_edit_);
  sqlite3_finalize(apply_react_);
  sqlite3_finalize(apply_unreact_);
  sqlite3_finalize(clear_reactions_);
  sqlite3_finalize(delete_room_reactions_);
  sqlite3_finalize(reactions_of_);
  sqlite3_finalize(set_reactions_);
  sqlite3_finalize(insert_room_);
  sqlite3_finalize(select_range_);
  sqlite3_finalize(select_room_);
  sqlite3_finalize(delete_messages_);
  sqlite3_finalize(delete_room_);
  sqlite3_finalize(insert_owner_);
  sqlite3_finalize(delete_room_members_);
  sqlite3_finalize(delete_room_bans_);
  sqlite3_finalize(delete_read_marks_);
  for (sqlite3_stmt* st : account_statements()) sqlite3_finalize(st);
  sqlite3_close(db_);
}

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(std::string("sqlite: ") + msg + " in: " + sql);
  }
}

void SqliteStore::migrate() {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr);
  int version = 0;
  if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  const int latest = static_cast<int>(std::size(migrations));
  if (version > latest)
    throw std::runtime_error("database schema version " + std::to_string(version) + " is newer than this binary's " +
                             std::to_string(latest));
  for (int v = version; v < latest; ++v) {
    exec("BEGIN");
    exec(migrations[v]);
    exec(("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
    exec("COMMIT");
    spdlog::info("store: applied schema migration {}", v + 1);
  }
}

std::vector<StoredRoom> SqliteStore::load_rooms_now() {
  std::vector<StoredRoom> rooms;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_,
                     "SELECT id, created_at, created_by, "
                     "COALESCE((SELECT MAX(seq) FROM messages m WHERE m.room = r.id), 0), kind, password_hash, "
                     "peers, title, topic FROM rooms r ORDER BY id",
                     -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    StoredRoom room{.id = text_column(st, 0),
                    .last_seq = static_cast<std::uint64_t>(sqlite3_column_int64(st, 3)),
                    .created_at = sqlite3_column_int64(st, 1),
                    .created_by = text_column(st, 2),
                    .kind = core::parse_kind(text_column(st, 4)).value_or(core::RoomKind::private_room),
                    .password_hash = text_column(st, 5),
                    .peers = text_column(st, 6),
                    .title = text_column(st, 7),
                    .topic = text_column(st, 8)};
    rooms.push_back(std::move(room));
  }
  sqlite3_finalize(st);
  // Every room's access rows, two queries for all: rooms are few next to their messages.
  std::unordered_map<std::string, std::size_t> at;
  for (std::size_t i = 0; i < rooms.size(); ++i) at.emplace(rooms[i].id, i);
  sqlite3_prepare_v2(db_, "SELECT room, user_id, role, since FROM room_members ORDER BY room, since, user_id", -1, &st,
                     nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    auto it = at.find(text_column(st, 0));
    if (it == at.end() || rooms[it->second].members.size() >= max_loaded_members) continue;
    const auto role = core::parse_role(text_column(st, 2)).value_or(core::Role::member);
    rooms[it->second].members.push_back(StoredMember{text_column(st, 1), role, sqlite3_column_int64(st, 3)});
  }
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db_, "SELECT room, user_id FROM room_bans ORDER BY room, user_id", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    auto it = at.find(text_column(st, 0));
    if (it != at.end()) rooms[it->second].banned.push_back(text_column(st, 1));
  }
  sqlite3_finalize(st);
  return rooms;
}

std::vector<StoredRoom> SqliteStore::load_rooms() { return worker_.load_rooms(); }
void SqliteStore::create_room_now(const StoredRoom& room) { worker_.create_room_now(room); }
void SqliteStore::create_room(StoredRoom room, Done done) { worker_.create_room(std::move(room), std::move(done)); }
void SqliteStore::delete_room(std::string room, Done done) { worker_.delete_room(std::move(room), std::move(done)); }
bool SqliteStore::has_capacity() const { return worker_.has_capacity(); }
void SqliteStore::append(std::vector<core::Message> batch, Done done) {
  worker_.append(std::move(batch), std::move(done));
}
void SqliteStore::read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit, ReadDone done) {
  worker_.read(std::move(room), after, before, limit, std::move(done));
}
void SqliteStore::find_room(std::string room, FindRoomDone done) {
  worker_.find_room(std::move(room), std::move(done));
}
void SqliteStore::create_user(StoredUser user, Done done) { worker_.create_user(std::move(user), std::move(done)); }
void SqliteStore::find_user_by_name_key(std::string name_key, FindUserDone done) {
  worker_.find_user_by_name_key(std::move(name_key), std::move(done));
}
void SqliteStore::find_user(std::string id, FindUserDone done) { worker_.find_user(std::move(id), std::move(done)); }
void SqliteStore::set_password(std::string user_id, std::string password_hash, std::string keep_session_digest,
                               Done done) {
  worker_.set_password(std::move(user_id), std::move(password_hash), std::move(keep_session_digest), std::move(done));
}
void SqliteStore::delete_user(std::string user_id, Done done) {
  worker_.delete_user(std::move(user_id), std::move(done));
}
void SqliteStore::create_session(StoredSession session, std::size_t max_per_user, CreateSessionDone done) {
  worker_.create_session(std::move(session), max_per_user, std::move(done));
}
void SqliteStore::find_session(std::string token_digest, std::int64_t now_ms, FindSessionDone done) {
  worker_.find_session(std::move(token_digest), now_ms, std::move(done));
}
void SqliteStore::touch_session(std::string token_digest, std::int64_t last_seen_at, std::int64_t expires_at,
                                Done done) {
  worker_.touch_session(std::move(token_digest), last_seen_at, expires_at, std::move(done));
}
void SqliteStore::list_sessions(std::string user_id, ListSessionsDone done) {
  worker_.list_sessions(std::move(user_id), std::move(done));
}
void SqliteStore::revoke_session(std::string user_id, std::string token_digest, Done done) {
  worker_.revoke_session(std::move(user_id), std::move(token_digest), std::move(done));
}
void SqliteStore::revoke_sessions(std::string user_id, Done done) {
  worker_.revoke_sessions(std::move(user_id), std::move(done));
}
void SqliteStore::sweep_sessions(std::int64_t now_ms, Done done) { worker_.sweep_sessions(now_ms, std::move(done)); }
void SqliteStore::load_access(std::string room, AccessDone done) {
  worker_.load_access(std::move(room), std::move(done));
}
void SqliteStore::set_member(std::string room, StoredMember member, Done done) {
  worker_.set_member(std::move(room), std::move(member), std::move(done));
}
void SqliteStore::remove_member(std::string room, std::string user_id, bool ban, Done done) {
  worker_.remove_member(std::move(room), std::move(user_id), ban, std::move(done));
}
void SqliteStore::unban(std::string room, std::string user_id, Done done) {
  worker_.unban(std::move(room), std::move(user_id), std::move(done));
}
void SqliteStore::load_roster(std::string room, std::size_t limit, RosterDone done) {
  worker_.load_roster(std::move(room), limit, std::move(done));
}
void SqliteStore::set_room_info(std::string room, std::string title, std::string topic, Done done) {
  worker_.set_room_info(std::move(room), std::move(title), std::move(topic), std::move(done));
}
void SqliteStore::set_read(std::string user_id, std::string room, std::uint64_t seq, SetReadDone done) {
  worker_.set_read(std::move(user_id), std::move(room), seq, std::move(done));
}
void SqliteStore::read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                              ReadStatesDone done) {
  worker_.read_states(std::move(user_id), std::move(name_key), std::move(rooms), std::move(done));
}
void SqliteStore::room_reads(std::string room, std::size_t limit, SeenDone done) {
  worker_.room_reads(std::move(room), limit, std::move(done));
}
void SqliteStore::search(SearchQuery query, SearchDone done) { searcher_->search(std::move(query), std::move(done)); }

void SqliteStore::create_api_key(StoredApiKey key, Done done) {
  worker_.create_api_key(std::move(key), std::move(done));
}
void SqliteStore::find_api_key(std::string id, FindApiKeyDone done) {
  worker_.find_api_key(std::move(id), std::move(done));
}
void SqliteStore::list_api_keys(ListApiKeysDone done) { worker_.list_api_keys(std::move(done)); }
void SqliteStore::revoke_api_key(std::string id, std::int64_t now_ms, RevokeApiKeyDone done) {
  worker_.revoke_api_key(std::move(id), now_ms, std::move(done));
}
void SqliteStore::touch_api_key(std::string id, std::int64_t now_ms, Done done) {
  worker_.touch_api_key(std::move(id), now_ms, std::move(done));
}
void SqliteStore::flush() { worker_.flush(); }
StoreStats SqliteStore::stats() const { return searcher_->with_stats(worker_.stats()); }

void SqliteStore::stop() {
  if (searcher_) searcher_->stop();
  worker_.stop();
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  // The writer's connection, closed last, checkpoints what is left and removes the WAL.
  if (checkpointer_.joinable()) checkpointer_.join();
}

int SqliteStore::on_wal_commit(void* arg, sqlite3* db, const char*, int pages) {
  auto* self = static_cast<SqliteStore*>(arg);
  const std::size_t n = static_cast<std::size_t>(std::max(pages, 0));
  const std::size_t every = self->options_.checkpoint_pages;
  // The WAL is written from its start again only once all of it is in the database; a pass of
  // the checkpointer never gets there while commits go on. So every 4 × checkpoint_pages the
  // writer copies the last few frames itself, between transactions (two fsyncs of little data,
  // about 2 ms here), and the WAL stays under that size. At 16 × the checkpointer has fallen
  // behind: the writer checkpoints whatever is left, however long it takes.
  const bool must = n >= 16 * every;
  if (must || (n >= 4 * every && self->finish_wanted_.load(std::memory_order_relaxed))) {
    {
      // One checkpointer at a time (SQLite would refuse the second, busy). A finish waits for no
      // pass: it is tried again after the next commit. At 16 × the writer waits for the pass.
      std::unique_lock lock(self->checkpoint_mutex_);
      if (self->checkpoint_running_ && !must) return SQLITE_OK;
      self->checkpoint_cv_.wait(lock, [&] { return !self->checkpoint_running_; });
      self->checkpoint_running_ = true;
    }
    self->finish_wanted_.store(false, std::memory_order_relaxed);
    int log = 0, copied = 0;
    if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK) {
      self->checkpoint_finishes_.fetch_add(1, std::memory_order_relaxed);
      self->backfilled_.store(copied == log ? 0 : static_cast<std::size_t>(copied), std::memory_order_relaxed);
    }
    {
      std::lock_guard lock(self->checkpoint_mutex_);
      self->checkpoint_running_ = false;
    }
    self->checkpoint_cv_.notify_all();
    return SQLITE_OK;
  }
  std::size_t done = self->backfilled_.load(std::memory_order_relaxed);
  if (done > n) done = 0;  // the WAL started over
  if (n >= done + every) {
    {
      std::lock_guard lock(self->checkpoint_mutex_);
      self->checkpoint_wanted_ = true;
    }
    self->checkpoint_cv_.notify_all();
  }
  return SQLITE_OK;
}

void SqliteStore::run_checkpointer() {
  const std::size_t every = options_.checkpoint_pages;
  // Frames a pass may leave for the writer to finish.
  const std::size_t finish_frames = std::min<std::size_t>(64, every);
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_cv_.wait(lock, [&] { return (checkpoint_wanted_ && !checkpoint_running_) || checkpoint_stopping_; });
      if (checkpoint_stopping_) return;
      checkpoint_wanted_ = false;
      checkpoint_running_ = true;
    }
    // PASSIVE never blocks the writer: a pass copies the frames committed before it began.
    // When the writer is due to finish, a few passes bring what is left down to finish_frames.
    for (int pass = 0; pass < 4; ++pass) {
      int log = 0, copied = 0;
      const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
      checkpoint_passes_.fetch_add(1, std::memory_order_relaxed);
      if (rc != SQLITE_OK) {
        // An I/O error (the writer never checkpoints during a pass). The next commit past the
        // threshold asks again, and at 16 × the writer checkpoints itself.
        spdlog::warn("store: checkpoint failed: {}", sqlite3_errmsg(checkpoint_db_));
        break;
      }
      const auto total = static_cast<std::size_t>(std::max(log, 0));
      const auto ahead = static_cast<std::size_t>(std::max(copied, 0));
      backfilled_.store(ahead, std::memory_order_relaxed);
      if (total < 4 * every) break;
      if (total - ahead <= finish_frames) {
        finish_wanted_.store(true, std::memory_order_relaxed);
        break;
      }
    }
    {
      std::lock_guard lock(checkpoint_mutex_);
      checkpoint_running_ = false;
    }
    checkpoint_cv_.notify_all();
  }
}

StoreBackend::Outcome SqliteStore::try_commit(std::span<Append> appends, std::string& err) {
  // Rows in (room, seq) order: consecutive inserts land on the same leaf page. A room's messages
  // are in seq order within an append and across appends (one owner submits them in order); the
  // sort is stable.
  // Edits and deletes go one by one after the messages (their targets, of lower seqs, are stored
  // by then), each applied to its target only if it was stored now: a row stored again (a
  // retry) changes nothing twice, and an older edit never overwrites a newer one.
  // A row that was not inserted (its (room, seq) stored already) is compared with the stored one:
  // another message there fails the append that carried it (seq_taken), the rest commits.
  using Row = std::pair<const core::Message*, Append*>;
  std::vector<Row> rows, changes;
  for (Append& a : appends)
    for (const core::Message& m : *a.messages)
      (m.kind == core::MessageKind::message ? rows : changes).emplace_back(&m, &a);
  auto by_room = [](const Row& a, const Row& b) { return a.first->room < b.first->room; };
  std::stable_sort(rows.begin(), rows.end(), by_room);
  std::stable_sort(changes.begin(), changes.end(), by_room);
  const std::size_t n = rows.size();
  constexpr std::size_t columns = 10;
  auto bind_row = [](sqlite3_stmt* st, int at, const core::Message& m) {
    bind_text(st, at + 1, m.room);
    sqlite3_bind_int64(st, at + 2, static_cast<sqlite3_int64>(m.seq));
    bind_text(st, at + 3, m.from);
    bind_text(st, at + 4, m.text);
    sqlite3_bind_int64(st, at + 5, m.ts);
    bind_text(st, at + 6, m.cid);
    bind_text(st, at + 7, m.from_id);
    sqlite3_bind_int(st, at + 8, static_cast<int>(m.kind));
    sqlite3_bind_int64(st, at + 9, static_cast<sqlite3_int64>(m.target));
    bind_text(st, at + 10, m.files);
  };
  auto apply_change = [this](const core::Message& m) {
    const auto target = static_cast<sqlite3_int64>(m.target);
    const auto seq = static_cast<sqlite3_int64>(m.seq);
    const std::string user = core::sender_key(m);  // bound SQLITE_STATIC: outlives the steps
    // One statement on the entry (room, at). `row`: whether it gave one (a SELECT, or what a
    // RETURNING changed), its first column then in `value`. False on an error.
    bool row = false;
    sqlite3_int64 value = 0;
    auto step_at = [&](sqlite3_stmt* st, sqlite3_int64 at, sqlite3_int64 extra = 0) {
      sqlite3_reset(st);
      bind_text(st, 1, m.room);
      sqlite3_bind_int64(st, 2, at);
      if (st == apply_edit_) {
        bind_text(st, 3, m.text);
        sqlite3_bind_int64(st, 4, m.ts);
        sqlite3_bind_int64(st, 5, seq);
      } else if (st == link_edit_) {
        sqlite3_bind_int64(st, 3, extra);
      } else if (st == apply_react_ || st == apply_unreact_) {
        bind_text(st, 3, m.text);
        bind_text(st, 4, user);
        if (st == apply_react_) {
          bind_text(st, 5, m.from);
          bind_text(st, 6, m.from_id);
          sqlite3_bind_int64(st, 7, seq);
        }
      }
      int rc = sqlite3_step(st);
      row = rc == SQLITE_ROW;
      value = row ? sqlite3_column_int64(st, 0) : 0;
      if (row) rc = sqlite3_step(st);  // the rest of the statement (a RETURNING one's change)
      return rc == SQLITE_DONE;
    };
    auto step = [&](sqlite3_stmt* st) { return step_at(st, target); };
    switch (m.kind) {
      case core::MessageKind::edit: {
        // Its message (there and not deleted) takes its text, and the edit names the one before.
        if (!step(edit_before_)) return false;
        if (!row) return true;  // gone or deleted: the edit changes nothing
        const sqlite3_int64 before = value;
        return step(apply_edit_) && (before == 0 || step_at(link_edit_, seq, before));
      }
      case core::MessageKind::react:
      case core::MessageKind::unreact: {
        // The message's reactions on its row, and whether later ones are rows of their own.
        sqlite3_reset(reactions_of_);
        bind_text(reactions_of_, 1, m.room);
        sqlite3_bind_int64(reactions_of_, 2, target);
        const int rc = sqlite3_step(reactions_of_);
        if (rc != SQLITE_ROW) return rc == SQLITE_DONE;  // gone or deleted: nothing to change
        std::string inline_list = text_column(reactions_of_, 0);
        const bool spill = sqlite3_column_int(reactions_of_, 1) != 0;
        sqlite3_reset(reactions_of_);
        const auto at = find_reaction(inline_list, m.text, user);
        auto keep = [&](bool spilled) {
          sqlite3_reset(set_reactions_);
          bind_text(set_reactions_, 1, m.room);
          sqlite3_bind_int64(set_reactions_, 2, target);
          bind_text(set_reactions_, 3, inline_list);
          sqlite3_bind_int(set_reactions_, 4, spilled ? 1 : 0);
          return sqlite3_step(set_reactions_) == SQLITE_DONE;
        };
        if (m.kind == core::MessageKind::unreact) {
          if (at) {
            erase_reaction(inline_list, *at);
            return keep(spill);
          }
          return !spill || step(apply_unreact_);
        }
        if (at) return true;  // made already
        if (spill) return step(apply_react_);
        const std::size_t size_before = inline_list.size();
        core::append_stored_reaction(inline_list, m);
        if (inline_list.size() <= inline_reactions_bytes) return keep(false);
        inline_list.resize(size_before);  // too long for the row: this one and later ones are rows
        return keep(true) && step(apply_react_);
      }
      case core::MessageKind::remove:
        // Its files go (before the row loses them): to the trash, whose bytes the node removes.
        if (!trash_message_files(m.room, target) || !step(apply_delete_)) return false;
        // Then its edits' texts, newest first, each naming the one before it: as many steps as
        // the edits its sender made. A chain only goes down, between the message and this delete.
        for (sqlite3_int64 at = row ? value : 0; at > target && at < seq;) {
          if (!step_at(clear_edit_, at)) return false;
          at = row && value < at ? value : 0;
        }
        return step(clear_reactions_);
      case core::MessageKind::message: return true;
    }
    return true;
  };
  // Some of rows [from, to) were not inserted: each is compared with the row stored under its
  // seq (this very message for those inserted now).
  auto check_skipped = [this, &rows](std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to; ++k) {
      const auto [m, owner] = rows[k];
      const Stored was = stored_as(*m);
      if (was == Stored::failed) return false;
      if (was == Stored::taken) owner->result = store_errc::seq_taken;
    }
    return true;
  };
  // Rows [from, from + count) of `list` in one statement (count: insert_rows or 1): how many went
  // in (the others are stored already), or nothing on a failure.
  auto insert = [this, &bind_row](const std::vector<Row>& list, std::size_t from,
                                  std::size_t count) -> std::optional<std::size_t> {
    sqlite3_stmt* st = count == 1 ? insert_message_ : insert_messages_;
    sqlite3_reset(st);
    for (std::size_t k = 0; k < count; ++k) bind_row(st, static_cast<int>(columns * k), *list[from + k].first);
    if (sqlite3_step(st) != SQLITE_DONE) return std::nullopt;
    return static_cast<std::size_t>(sqlite3_changes(db_));
  };
  bool ok = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  for (std::size_t i = 0; ok && i < n;) {
    const std::size_t count = i + insert_rows <= n ? insert_rows : 1;
    const auto inserted = insert(rows, i, count);
    ok = inserted && (*inserted == count || check_skipped(i, i + count));
    i += count;
  }
  auto one_change = [&](std::size_t c) {
    const auto [m, owner] = changes[c];
    const auto inserted = insert(changes, c, 1);
    if (!inserted) return false;
    if (*inserted > 0) return apply_change(*m);
    // Stored already (a retry): applied then, not again; another entry under its seq fails the
    // append, as a message's does.
    const Stored was = stored_as(*m);
    if (was == Stored::taken) owner->result = store_errc::seq_taken;
    return was != Stored::failed;
  };
  // The changes go in insert_rows at a time, then each is applied in order. A group of which some
  // row was stored already (a retry, rare) is undone to its savepoint and goes again one by one:
  // only a change stored now is applied.
  const std::size_t nc = changes.size();
  std::size_t c = 0;
  for (; ok && c + insert_rows <= nc; c += insert_rows) {
    ok = sqlite3_exec(db_, "SAVEPOINT changes", nullptr, nullptr, nullptr) == SQLITE_OK;
    if (!ok) break;
    const auto inserted = insert(changes, c, insert_rows);
    ok = inserted.has_value();
    const bool all = ok && *inserted == insert_rows;
    if (ok && !all) ok = sqlite3_exec(db_, "ROLLBACK TO changes", nullptr, nullptr, nullptr) == SQLITE_OK;
    for (std::size_t k = 0; ok && k < insert_rows; ++k)
      ok = all ? apply_change(*changes[c + k].first) : one_change(c + k);
    if (ok) ok = sqlite3_exec(db_, "RELEASE changes", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  for (; ok && c < nc; ++c) ok = one_change(c);
  if (ok) ok = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (ok) {
    searcher_->index_later_of(rows, changes);  // each in room order
    return Outcome::ok;
  }
  // Busy, full or an I/O error: SQLite stores any text and integer as given and skips a stored
  // seq, so nothing is refused as data, and the same rows are tried again.
  err = sqlite3_errmsg(db_);
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return Outcome::retry;
}

SqliteStore::Stored SqliteStore::stored_as(const core::Message& m) {
  sqlite3_reset(select_one_);
  bind_text(select_one_, 1, m.room);
  sqlite3_bind_int64(select_one_, 2, static_cast<sqlite3_int64>(m.seq));
  if (sqlite3_step(select_one_) != SQLITE_ROW) return Stored::failed;  // an error (the row is there)
  // A message edited or deleted since (or an edit whose text a delete removed) has another text
  // now: the rest says whether it is the same entry.
  const bool changed = sqlite3_column_int(select_one_, 5) != 0 || sqlite3_column_int64(select_one_, 6) != 0 ||
                       sqlite3_column_int(select_one_, 7) != 0;
  const std::string stored_from_id = text_column(select_one_, 4);
  const bool same = text_column(select_one_, 0) == m.from && (changed || text_column(select_one_, 1) == m.text) &&
                    sqlite3_column_int64(select_one_, 2) == m.ts && text_column(select_one_, 3) == m.cid &&
                    // '': stored before messages carried ids (the same message, retried since)
                    (stored_from_id == m.from_id || stored_from_id.empty());
  sqlite3_reset(select_one_);
  if (!same)
    spdlog::warn("store: {} seq {} is already stored with another message; append answered seq_taken", m.room, m.seq);
  return same ? Stored::same : Stored::taken;
}

StoreBackend::Outcome SqliteStore::try_create_room(const StoredRoom& room, std::error_code& result, std::string& err) {
  // The room and its owner in one transaction: a private room never exists without its owner.
  bool inserted = false;
  const std::string kind(core::kind_name(room.kind));  // bound SQLITE_STATIC: outlives the step
  const bool stored_ok = in_transaction({
      [&] {
        sqlite3_reset(insert_room_);
        bind_text(insert_room_, 1, room.id);
        sqlite3_bind_int64(insert_room_, 2, room.created_at);
        bind_text(insert_room_, 3, room.created_by);
        bind_text(insert_room_, 4, kind);
        bind_text(insert_room_, 5, room.password_hash);
        bind_text(insert_room_, 6, room.peers);
        bind_text(insert_room_, 7, room.title);
        bind_text(insert_room_, 8, room.topic);
        if (sqlite3_step(insert_room_) != SQLITE_DONE) return false;
        inserted = sqlite3_changes(db_) > 0;
        return true;
      },
      [&] {
        if (!inserted) return true;
        auto add = [&](const std::string& user_id, const std::string& role) {
          sqlite3_reset(insert_owner_);
          bind_text(insert_owner_, 1, room.id);
          bind_text(insert_owner_, 2, user_id);
          sqlite3_bind_int64(insert_owner_, 3, room.created_at);
          bind_text(insert_owner_, 4, role);
          return sqlite3_step(insert_owner_) == SQLITE_DONE;
        };
        const std::string owner = "owner", member = "member";
        if (!room.owner_id.empty() && !add(room.owner_id, owner)) return false;
        for (const auto& m : room.members)
          if (!add(m.user_id, member)) return false;
        return true;
      },
  });
  if (!stored_ok) {
    // Not retried: unlike an append's seq, a refused creation leaves no hole; its client hears
    // store_failed and may ask again.
    err = sqlite3_errmsg(db_);
    return Outcome::rejected;
  }
  if (inserted) return Outcome::ok;
  // INSERT OR IGNORE changed nothing: the room is there. The same row is this creation (the
  // store's contract, which PostgreSQL needs for a retry after a lost answer); another is not.
  std::optional<StoredRoom> stored;
  if (auto ec = find_room_now(room.id, stored)) {
    result = ec;
    return Outcome::ok;
  }
  const bool same = stored && stored->created_at == room.created_at && stored->created_by == room.created_by;
  if (!same) result = errc::room_exists;
  return Outcome::ok;
}

StoreBackend::Outcome SqliteStore::try_delete_room(const std::string& room, std::string& err) {
  // One transaction: the room never loses its messages without itself, or the reverse.
  bool ok = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (ok) ok = trash_room_files(room);  // its files go with it
  for (sqlite3_stmt* st : {delete_room_reactions_, delete_messages_, delete_room_members_, delete_room_bans_,
                           delete_read_marks_, delete_room_}) {
    if (!ok) break;
    sqlite3_reset(st);
    bind_text(st, 1, room);
    ok = sqlite3_step(st) == SQLITE_DONE;
  }
  if (ok) ok = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (ok) {
    const std::string* gone[] = {&room};  // its documents leave the index
    searcher_->index_later(gone);
    return Outcome::ok;
  }
  err = sqlite3_errmsg(db_);
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return Outcome::retry;
}

std::error_code SqliteStore::read_now(const std::string& room, std::uint64_t after, std::uint64_t before,
                                      std::size_t limit, std::vector<core::Message>& out) {
  sqlite3_stmt* st = select_range_;
  sqlite3_reset(st);
  bind_text(st, 1, room);
  sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(std::min<std::uint64_t>(after, INT64_MAX)));
  sqlite3_bind_int64(st, 3,
                     before == 0 ? std::numeric_limits<sqlite3_int64>::max()
                                 : static_cast<sqlite3_int64>(std::min<std::uint64_t>(before, INT64_MAX)));
  sqlite3_bind_int64(st, 4, static_cast<sqlite3_int64>(std::min<std::size_t>(limit, INT64_MAX)));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::vector<core::Reaction> reactions;
    core::parse_reactions(text_column(st, 10), reactions);
    out.push_back(core::Message{.room = room,
                                .seq = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)),
                                .from = text_column(st, 1),
                                .text = text_column(st, 2),
                                .ts = sqlite3_column_int64(st, 3),
                                .cid = text_column(st, 4),
                                .from_id = text_column(st, 5),
                                .kind = static_cast<core::MessageKind>(sqlite3_column_int(st, 6) & 7),
                                .target = static_cast<std::uint64_t>(sqlite3_column_int64(st, 7)),
                                .edited = sqlite3_column_int64(st, 8),
                                .deleted = sqlite3_column_int(st, 9) != 0,
                                .reactions = std::move(reactions),
                                .files = text_column(st, 11)});
  }
  if (rc != SQLITE_DONE) {
    spdlog::error("store: read of {} failed: {}", room, sqlite3_errmsg(db_));
    out.clear();
    return errc::store_failed;
  }
  std::reverse(out.begin(), out.end());
  return {};
}

std::error_code SqliteStore::find_room_now(const std::string& room, std::optional<StoredRoom>& out) {
  sqlite3_stmt* st = select_room_;
  sqlite3_reset(st);
  bind_text(st, 1, room);
  const int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out = StoredRoom{.id = room,
                     .last_seq = static_cast<std::uint64_t>(sqlite3_column_int64(st, 2)),
                     .created_at = sqlite3_column_int64(st, 0),
                     .created_by = text_column(st, 1),
                     .kind = core::parse_kind(text_column(st, 3)).value_or(core::RoomKind::private_room),
                     .password_hash = text_column(st, 4),
                     .peers = text_column(st, 5),
                     .title = text_column(st, 6),
                     .topic = text_column(st, 7)};
    sqlite3_reset(st);  // ends its read transaction: an open one would hold back every checkpoint
    StoredAccess access;
    if (auto ec = load_access_now(room, access)) {
      out.reset();
      return ec;
    }
    out->members = std::move(access.members);
    out->banned = std::move(access.banned);
    return {};
  }
  if (rc != SQLITE_DONE) {
    spdlog::error("store: lookup of room {} failed: {}", room, sqlite3_errmsg(db_));
    return errc::store_failed;
  }
  return {};
}

}  // namespace parley::store
