// SqliteStore's search index (sqlite_search_index.hpp) and its searches (store.hpp,
// Store::search).
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>

#include "protocol/errc.hpp"
#include "store/sqlite_rows.hpp"
#include "store/sqlite_search_index.hpp"

namespace parley::store {

namespace {

using protocol::errc;
using sqlite_rows::bind_text;
using sqlite_rows::Reset;
using sqlite_rows::Statement;
using sqlite_rows::text_column;

// The index's schema. A file of another version is made again (it is derived from the messages).
// `docs`: each indexed message, with the text it was indexed by (FTS5 forgets a text by being
// told it again: external content); `marks`: each room's last seq read, and its creation time
// then (a room made again under the same id starts over).
//
// A document's id is its message's time in its high bits (block_bits): FTS5 reads a word's matches in
// id order, so a search reads them newest first and stops when its page is full, instead of
// reading and sorting every match of a common word (version 1 numbered them as they came).
constexpr int index_version = 2;
constexpr const char* index_schema = R"sql(
  CREATE TABLE docs (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (room, seq)
  );
  CREATE VIRTUAL TABLE docs_fts USING fts5(text, content='docs', content_rowid='id', columnsize=0,
                                           tokenize='unicode61 remove_diacritics 2');
  CREATE TABLE marks (
    room TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    seq INTEGER NOT NULL
  ) WITHOUT ROWID;
  PRAGMA user_version = 2;
)sql";

// Ids: a message's time (ms, its block) above block_bits of place within that millisecond, so
// that id order is time order and a document's time is its id's block (the time a search orders
// and pages by). A millisecond holds 1,024 documents; past that (the store appends a few hundred
// a millisecond at most) one goes to the next block with room, as if a millisecond later. More
// bits cost the index size: FTS5 keeps the gaps between a word's ids (varints): with 10 bits its
// data was 41% larger than with ids in insertion order over bench/src/search_bench.cpp's million
// messages, with 20 bits 76%.
constexpr int block_bits = 10;
constexpr std::int64_t max_block = (std::int64_t{1} << 42) - 1;  // the year 2109
std::int64_t block_of(std::int64_t ts) { return std::clamp<std::int64_t>(ts, 0, max_block); }
std::int64_t block_of_id(std::int64_t id) { return id >> block_bits; }

// The terms as an FTS5 query: each a quoted string ('"' doubled, although a term never holds one:
// core::search_terms splits on punctuation), all required, the last one a prefix.
std::string fts_query(const std::vector<std::string>& terms) {
  std::string q;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    if (i) q += ' ';
    q += '"';
    for (char c : terms[i]) {
      if (c == '"') q += '"';
      q += c;
    }
    q += '"';
    if (i + 1 == terms.size()) q += '*';
  }
  return q;
}

int user_version(sqlite3* db) {
  Statement st(db, "PRAGMA user_version");
  return st && sqlite3_step(st.get()) == SQLITE_ROW ? sqlite3_column_int(st.get(), 0) : -1;
}

}  // namespace

std::filesystem::path SqliteSearchIndex::path_for(const std::filesystem::path& messages) {
  return messages.parent_path() / (messages.stem().string() + ".search" + messages.extension().string());
}

SqliteSearchIndex::SqliteSearchIndex(const std::filesystem::path& messages, const std::string& synchronous)
    : path_(path_for(messages)), synchronous_(synchronous) {
  try {
    messages_ = sqlite_rows::open(messages, SQLITE_OPEN_READONLY, "for searches");
    // The messages' newest pages (those the index reads) stay in memory.
    exec(messages_, "PRAGMA cache_size=-16384");
    prepare(messages_, "SELECT room FROM messages WHERE room > ?1 ORDER BY room LIMIT 1", &next_room_);
    prepare(messages_,
            "SELECT COALESCE((SELECT created_at FROM rooms WHERE id = ?1), 0), COALESCE((SELECT MAX(seq) FROM "
            "messages WHERE room = ?1), 0)",
            &room_state_);
    prepare(messages_,
            "SELECT seq, kind, target, ts, text, deleted FROM messages WHERE room = ?1 AND seq > ?2 ORDER BY seq "
            "LIMIT ?3",
            &entries_);
    prepare(messages_,
            "SELECT sender, sender_id, text, ts FROM messages WHERE room = ?1 AND seq = ?2 AND kind = 0 AND "
            "deleted = 0",
            &hit_);
    try {
      open_index(false);
    } catch (const std::exception& e) {
      // Unreadable past its header (a damaged page under FTS5's own tables fails their prepare):
      // made again from the messages rather than keeping the store from opening.
      spdlog::error("store: search index {} cannot be opened ({}): made again from the messages", path_.string(),
                    e.what());
      close_index();
      open_index(true);
    }
  } catch (...) {
    close_index();
    for (sqlite3_stmt* st : statements_) sqlite3_finalize(st);
    sqlite3_close(messages_);
    throw;
  }
}

SqliteSearchIndex::~SqliteSearchIndex() {
  close_index();
  for (sqlite3_stmt* st : statements_) sqlite3_finalize(st);
  sqlite3_close(messages_);
}

void SqliteSearchIndex::open_index(bool fresh) {
  auto open = [&] {
    if (fresh)
      for (const char* tail : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + tail);
    index_ = sqlite_rows::open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "(the search index)");
    if (!exec(index_, "PRAGMA journal_mode=WAL") || !exec(index_, ("PRAGMA synchronous=" + synchronous_).c_str()))
      throw std::runtime_error("cannot set up " + path_.string());
  };
  open();
  const int version = user_version(index_);
  if (version != index_version) {
    if (version != 0) {
      // Another version's (or unreadable): made again from the messages.
      spdlog::warn("store: search index {} is of version {}, not {}: made again", path_.string(), version,
                   index_version);
      close_index();
      fresh = true;
      open();
    }
    if (!exec(index_, "BEGIN") || !exec(index_, index_schema) || !exec(index_, "COMMIT"))
      throw std::runtime_error("cannot make the search index " + path_.string());
  }
  // The index's pages stay in memory.
  exec(index_, "PRAGMA cache_size=-32768");
  prepare(index_, "SELECT room FROM marks", &marked_rooms_);
  prepare(index_, "SELECT created_at, seq FROM marks WHERE room = ?1", &mark_);
  prepare(index_,
          "INSERT INTO marks(room, created_at, seq) VALUES (?1, ?2, ?3) ON CONFLICT(room) DO UPDATE SET "
          "created_at = excluded.created_at, seq = excluded.seq",
          &set_mark_);
  prepare(index_, "DELETE FROM marks WHERE room = ?1", &drop_mark_);
  prepare(index_, "INSERT INTO docs_fts(docs_fts, rowid, text) SELECT 'delete', id, text FROM docs WHERE room = ?1",
          &unindex_room_);
  prepare(index_, "DELETE FROM docs WHERE room = ?1", &drop_docs_);
  prepare(index_, "SELECT MAX(id) FROM docs WHERE id BETWEEN ?1 AND ?2", &block_end_);
  prepare(index_, "INSERT INTO docs(id, room, seq, text) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING", &insert_doc_);
  prepare(index_, "INSERT INTO docs_fts(rowid, text) VALUES (?1, ?2)", &index_text_);
  prepare(index_, "INSERT INTO docs_fts(docs_fts, rowid, text) VALUES ('delete', ?1, ?2)", &unindex_text_);
  prepare(index_, "SELECT id, text FROM docs WHERE room = ?1 AND seq = ?2", &doc_);
  prepare(index_, "DELETE FROM docs WHERE id = ?1", &delete_doc_);
  {
    Statement top(index_, "SELECT COALESCE(MAX(id), -1) FROM docs");
    if (!top || sqlite3_step(top.get()) != SQLITE_ROW) throw std::runtime_error("cannot read " + path_.string());
    top_ = sqlite3_column_int64(top.get(), 0);
  }
  if (fresh) lost_ = true;  // marks gone with the old file: every room is read again
}

void SqliteSearchIndex::close_index() noexcept {
  for (sqlite3_stmt* st : index_statements_) sqlite3_finalize(st);
  index_statements_.clear();
  sqlite3_close(index_);
  index_ = nullptr;
}

bool SqliteSearchIndex::usable() {
  if (index_) return true;
  try {
    open_index(true);
    return true;
  } catch (const std::exception& e) {
    close_index();
    spdlog::error("store: search index {} cannot be made again: {}", path_.string(), e.what());
    return false;
  }
}

void SqliteSearchIndex::note_failure() {
  const int code = sqlite3_extended_errcode(index_) & 0xff;
  damaged_ = damaged_ || code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

std::vector<std::string> SqliteSearchIndex::take_lost_rooms() {
  if (damaged_) {
    // Made again from the messages, here between two calls (no statement of the index is open).
    damaged_ = false;
    spdlog::error("store: search index {} is damaged: made again from the messages", path_.string());
    close_index();
    usable();  // else at the next call, each a second apart
  }
  if (!lost_ || !index_) return {};
  lost_ = false;
  return rooms();
}

void SqliteSearchIndex::prepare(sqlite3* db, const char* sql, sqlite3_stmt** st) {
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("sqlite prepare (search index): ") + sqlite3_errmsg(db));
  (db == index_ ? index_statements_ : statements_).push_back(*st);
}

bool SqliteSearchIndex::exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::error_code SqliteSearchIndex::failed(const char* what, sqlite3* db) {
  spdlog::error("store: {} failed: {}", what, sqlite3_errmsg(db));
  return make_error_code(errc::store_failed);
}

std::vector<std::string> SqliteSearchIndex::rooms() {
  std::vector<std::string> out;
  // The rooms with entries, one index seek each (messages' key starts with the room).
  std::string after;
  for (;;) {
    Reset r(next_room_);
    bind_text(next_room_, 1, after);
    if (sqlite3_step(next_room_) != SQLITE_ROW) break;
    after = text_column(next_room_, 0);
    out.push_back(after);
  }
  if (index_) {
    Reset r(marked_rooms_);
    while (sqlite3_step(marked_rooms_) == SQLITE_ROW) out.push_back(text_column(marked_rooms_, 0));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool SqliteSearchIndex::catch_up(const std::vector<std::string>& rooms, std::size_t budget,
                                 std::vector<std::string>& unfinished, std::size_t& read) {
  // First what to index: a read of the messages for each room (its state and entries as of one
  // commit), of at most read_entries of them: a reader of the WAL holds back its checkpoints, so
  // none is long. Then the index, in one transaction.
  constexpr std::size_t read_entries = 2048;
  if (!usable()) return false;
  std::vector<RoomRead> reads;
  for (const std::string& room : rooms) {
    if (budget == 0) {
      unfinished.push_back(room);  // not looked at
      continue;
    }
    reads.push_back(RoomRead{.room = room});
    std::size_t allowed = std::min(budget, read_entries);
    budget -= allowed;
    const bool ok = exec(messages_, "BEGIN") && read_room(reads.back(), allowed);
    exec(messages_, "COMMIT");  // a read: ends the snapshot
    if (!ok) {
      failed("search index: read", messages_);
      return false;
    }
    budget += allowed;  // what the room left
  }
  if (!exec(index_, "BEGIN IMMEDIATE")) {
    failed("search index: write", index_);
    note_failure();
    return false;
  }
  std::size_t entries = 0;
  for (const RoomRead& read : reads) entries += read.entries;
  if (write(reads) && exec(index_, "COMMIT")) {
    read = entries;
    for (const RoomRead& read : reads)
      if (read.more) unfinished.push_back(read.room);
    return true;
  }
  failed("search index: write", index_);
  note_failure();
  exec(index_, "ROLLBACK");
  return false;
}

bool SqliteSearchIndex::read_room(RoomRead& read, std::size_t& budget) {
  {
    Reset r(mark_);
    bind_text(mark_, 1, read.room);
    const int rc = sqlite3_step(mark_);
    if (rc == SQLITE_ROW) {
      read.mark = Mark{true, sqlite3_column_int64(mark_, 0), sqlite3_column_int64(mark_, 1)};
    } else if (rc != SQLITE_DONE) {
      spdlog::error("store: search index: read of a mark failed: {}", sqlite3_errmsg(index_));
      note_failure();
      return false;
    }
  }
  std::int64_t last = 0;
  {
    Reset r(room_state_);
    bind_text(room_state_, 1, read.room);
    if (sqlite3_step(room_state_) != SQLITE_ROW) return false;
    read.created_at = sqlite3_column_int64(room_state_, 0);
    last = sqlite3_column_int64(room_state_, 1);
  }
  // Deleted (its entries gone), perhaps made again since: what the index holds of it is stale.
  read.drop = read.mark.found && (read.mark.created_at != read.created_at || last < read.mark.seq);
  read.seq = read.drop ? 0 : read.mark.seq;
  read.empty = last == 0;
  if (read.empty) return true;  // no entries: a room deleted, or one nothing was said in yet
  {
    Reset r(entries_);
    bind_text(entries_, 1, read.room);
    sqlite3_bind_int64(entries_, 2, read.seq);
    sqlite3_bind_int64(entries_, 3, static_cast<sqlite3_int64>(budget));
    int rc;
    while ((rc = sqlite3_step(entries_)) == SQLITE_ROW) {
      read.seq = sqlite3_column_int64(entries_, 0);
      ++read.entries;
      --budget;
      switch (static_cast<core::MessageKind>(sqlite3_column_int(entries_, 1) & 7)) {
        case core::MessageKind::message:
          if (sqlite3_column_int(entries_, 5) == 0)
            read.ops.push_back(Op{.refresh = false,
                                  .seq = read.seq,
                                  .ts = sqlite3_column_int64(entries_, 3),
                                  .text = text_column(entries_, 4)});
          break;
        case core::MessageKind::edit:
        case core::MessageKind::remove:
          // Its target as it is now (its text, or gone), read below.
          read.ops.push_back(Op{.refresh = true, .seq = sqlite3_column_int64(entries_, 2)});
          break;
        case core::MessageKind::react:
        case core::MessageKind::unreact: break;
      }
    }
    if (rc != SQLITE_DONE) return false;
  }
  for (Op& op : read.ops) {
    if (!op.refresh) continue;
    Reset r(hit_);
    bind_text(hit_, 1, read.room);
    sqlite3_bind_int64(hit_, 2, op.seq);
    const int rc = sqlite3_step(hit_);
    if (rc == SQLITE_ROW) {
      op.live = true;
      op.text = text_column(hit_, 2);
    } else if (rc != SQLITE_DONE) {
      return false;
    }
  }
  read.more = read.seq < last;
  return true;
}

bool SqliteSearchIndex::write(const std::vector<RoomRead>& reads) {
  // FTS5 buffers a transaction's postings in memory and writes them out as a new segment (to be
  // merged later) whenever a row id comes below the last one it took (or equal to it, after an
  // insert; sqlite3Fts5IndexBeginWrite): an edit's delete of its older id among the inserts of
  // new ones made a segment per edit. So the ids go to FTS5 ascending: a millisecond's documents
  // out (by id), then its new ones in (each above the millisecond's last id), then the next
  // millisecond's; a catch-up writes one or two segments.
  std::vector<Gone> gone;
  std::vector<Doc> docs;
  for (const RoomRead& read : reads)
    if ((read.drop && !drop_room(read.room)) || !plan(read, gone, docs)) return false;
  std::sort(gone.begin(), gone.end(), [](const Gone& a, const Gone& b) { return a.id < b.id; });
  std::sort(docs.begin(), docs.end(), [](const Doc& a, const Doc& b) {
    const std::int64_t x = block_of(a.ts), y = block_of(b.ts);
    return x != y ? x < y : std::tie(*a.room, a.seq) < std::tie(*b.room, b.seq);
  });
  auto g = gone.begin();
  std::int64_t last = -1;  // the last id FTS5 was given
  for (const Doc& d : docs) {
    for (; g != gone.end() && block_of_id(g->id) <= block_of(d.ts); ++g) {
      if (!remove_doc(*g)) return false;
      last = std::max(last, g->id);
    }
    if (!add_doc(d, last)) return false;
  }
  for (; g != gone.end(); ++g)
    if (!remove_doc(*g)) return false;
  for (const RoomRead& read : reads)
    if (!set_mark(read)) return false;
  return true;
}

bool SqliteSearchIndex::plan(const RoomRead& read, std::vector<Gone>& gone, std::vector<Doc>& docs) {
  std::vector<std::int64_t> refreshed;  // a message edited twice in the read is brought up to date once
  for (const Op& op : read.ops) {
    if (!op.refresh) {
      docs.push_back(Doc{&read.room, op.seq, op.ts, &op.text});
      continue;
    }
    if (std::find(refreshed.begin(), refreshed.end(), op.seq) != refreshed.end()) continue;
    refreshed.push_back(op.seq);
    // Its document as indexed. None: its message is read in this catch-up (as it is now) or was
    // deleted before it was ever read.
    Reset r(doc_);
    bind_text(doc_, 1, read.room);
    sqlite3_bind_int64(doc_, 2, op.seq);
    const int rc = sqlite3_step(doc_);
    if (rc == SQLITE_DONE) continue;
    if (rc != SQLITE_ROW) return false;
    std::string indexed = text_column(doc_, 1);
    if (op.live && op.text == indexed) continue;
    gone.push_back(Gone{sqlite3_column_int64(doc_, 0), std::move(indexed)});
    if (op.live) docs.push_back(Doc{&read.room, op.seq, block_of_id(sqlite3_column_int64(doc_, 0)), &op.text});
  }
  return true;
}

bool SqliteSearchIndex::set_mark(const RoomRead& read) {
  if (read.empty) {
    if (!read.mark.found) return true;
    Reset r(drop_mark_);
    bind_text(drop_mark_, 1, read.room);
    return sqlite3_step(drop_mark_) == SQLITE_DONE;
  }
  Reset r(set_mark_);
  bind_text(set_mark_, 1, read.room);
  sqlite3_bind_int64(set_mark_, 2, read.created_at);
  sqlite3_bind_int64(set_mark_, 3, read.seq);
  return sqlite3_step(set_mark_) == SQLITE_DONE;
}

bool SqliteSearchIndex::drop_room(const std::string& room) {
  for (sqlite3_stmt* st : {unindex_room_, drop_docs_}) {
    Reset r(st);
    bind_text(st, 1, room);
    if (sqlite3_step(st) != SQLITE_DONE) return false;
  }
  return true;
}

bool SqliteSearchIndex::add_doc(const Doc& doc, std::int64_t& last_id) {
  // Its id: above the last of its millisecond's block (the next block with room if it is full),
  // and above the last id FTS5 took where the block has room for that (an edited message's
  // document, out and in again, does not come back below it: no segment of its own).
  // A block at or past top_'s (the newest, where new messages go) needs no look: nothing is above
  // top_.
  std::int64_t id = 0;
  for (std::int64_t block = block_of(doc.ts);; ++block) {
    if (block > max_block) return false;
    const std::int64_t first = block << block_bits, last = first | ((std::int64_t{1} << block_bits) - 1);
    std::int64_t end = first - 1;  // the block's last id
    if (top_ >= first) {
      Reset r(block_end_);
      sqlite3_bind_int64(block_end_, 1, first);
      sqlite3_bind_int64(block_end_, 2, last);
      if (sqlite3_step(block_end_) != SQLITE_ROW) return false;
      if (sqlite3_column_type(block_end_, 0) != SQLITE_NULL) end = sqlite3_column_int64(block_end_, 0);
    }
    if (end < last) {
      id = last_id >= end && last_id < last ? last_id + 1 : end + 1;
      break;
    }
  }
  last_id = std::max(last_id, id);
  top_ = std::max(top_, id);
  {
    Reset r(insert_doc_);
    sqlite3_bind_int64(insert_doc_, 1, id);
    bind_text(insert_doc_, 2, *doc.room);
    sqlite3_bind_int64(insert_doc_, 3, doc.seq);
    bind_text(insert_doc_, 4, *doc.text);
    if (sqlite3_step(insert_doc_) != SQLITE_DONE) return false;
    if (sqlite3_changes(index_) == 0) return true;  // indexed already (the id was free)
  }
  Reset r(index_text_);
  sqlite3_bind_int64(index_text_, 1, id);
  bind_text(index_text_, 2, *doc.text);
  return sqlite3_step(index_text_) == SQLITE_DONE;
}

bool SqliteSearchIndex::remove_doc(const Gone& doc) {
  {
    Reset r(unindex_text_);
    sqlite3_bind_int64(unindex_text_, 1, doc.id);
    bind_text(unindex_text_, 2, doc.text);
    if (sqlite3_step(unindex_text_) != SQLITE_DONE) return false;
  }
  Reset r(delete_doc_);
  sqlite3_bind_int64(delete_doc_, 1, doc.id);
  return sqlite3_step(delete_doc_) == SQLITE_DONE;
}

std::error_code SqliteSearchIndex::search(const SearchQuery& query, SearchPage& out) {
  out = {};
  if (!usable()) return make_error_code(errc::store_failed);
  // The hits' places from the index, newest first: FTS5 reads the matches in id order, which is
  // time order (block_bits), one millisecond's block after another, and stops at the first block
  // past a full page (one more than a page: whether there is a next one). Within a block, by room
  // and seq (the page's order, as PostgreSQL's). The rooms are the statement's own placeholders:
  // at most max_searched_rooms.
  std::string sql =
      "SELECT f.rowid, d.room, d.seq FROM docs_fts f CROSS JOIN docs d ON d.id = f.rowid WHERE docs_fts MATCH ?1 "
      "AND d.room IN (";
  for (std::size_t i = 0; i < query.rooms.size(); ++i) sql += i ? ",?" : "?";
  sql += ")";
  const int first_room = 2;
  const int after_rooms = first_room + static_cast<int>(query.rooms.size());
  // A cursor's millisecond and those before it; its own block's places past it are left out below.
  if (query.before) {
    if (query.before->ts < 0) return {};
    if (query.before->ts < max_block) sql += " AND f.rowid < ?" + std::to_string(after_rooms);
  }
  sql += " ORDER BY f.rowid DESC";
  const std::string match = fts_query(query.terms);  // bound, not copied: outlives the statement
  Statement st(index_, sql.c_str());
  if (!st) return failed("search", index_);
  bind_text(st.get(), 1, match);
  for (std::size_t i = 0; i < query.rooms.size(); ++i)
    bind_text(st.get(), first_room + static_cast<int>(i), query.rooms[i]);
  if (query.before && query.before->ts < max_block)
    sqlite3_bind_int64(st.get(), after_rooms, (query.before->ts + 1) << block_bits);
  const std::size_t limit = std::min<std::size_t>(query.limit, 10000);
  struct Place {
    std::string room;
    std::int64_t seq = 0;
  };
  std::vector<core::SearchCursor> places;  // the page's, in order
  std::vector<Place> block;                // the block being read
  std::int64_t block_ts = -1;
  auto end_block = [&] {
    std::sort(block.begin(), block.end(),
              [](const Place& a, const Place& b) { return std::tie(a.room, a.seq) > std::tie(b.room, b.seq); });
    for (Place& p : block) {
      core::SearchCursor c{.ts = block_ts, .room = std::move(p.room), .seq = static_cast<std::uint64_t>(p.seq)};
      const core::SearchCursor* before = query.before ? &*query.before : nullptr;
      if (before && block_ts == before->ts && std::tie(c.room, c.seq) >= std::tie(before->room, before->seq)) continue;
      places.push_back(std::move(c));
    }
    block.clear();
  };
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    const std::int64_t ts = block_of_id(sqlite3_column_int64(st.get(), 0));
    if (ts != block_ts) {
      end_block();
      if (places.size() > limit) break;
      block_ts = ts;
    }
    block.push_back(Place{text_column(st.get(), 1), sqlite3_column_int64(st.get(), 2)});
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    const auto ec = failed("search", index_);
    note_failure();
    return ec;
  }
  end_block();
  // Each place's message now: one deleted since it was indexed is left out, the page's place kept.
  if (!exec(messages_, "BEGIN")) return failed("search", messages_);
  std::size_t rows = 0;
  for (const core::SearchCursor& place : places) {
    if (++rows > limit) break;
    Reset r(hit_);
    bind_text(hit_, 1, place.room);
    sqlite3_bind_int64(hit_, 2, static_cast<sqlite3_int64>(place.seq));
    const int hrc = sqlite3_step(hit_);
    if (hrc == SQLITE_ROW) {
      out.hits.push_back(SearchHit{.room = place.room,
                                   .seq = place.seq,
                                   .from = text_column(hit_, 0),
                                   .from_id = text_column(hit_, 1),
                                   .text = text_column(hit_, 2),
                                   .ts = sqlite3_column_int64(hit_, 3)});
    } else if (hrc != SQLITE_DONE) {
      out = {};
      const auto ec = failed("search", messages_);
      exec(messages_, "COMMIT");
      return ec;
    }
    if (rows == limit) out.next = place;
  }
  exec(messages_, "COMMIT");
  if (rows <= limit) out.next.reset();  // no place past the page: no next one
  return {};
}

}  // namespace parley::store
