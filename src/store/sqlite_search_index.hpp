#pragma once
// SqliteSearchIndex: SqliteStore's search index (docs/architecture.md, "Search"), kept out of the
// commits. It is a database of its own beside the messages' (parley.search.db beside parley.db:
// an FTS5 index, its documents, and each room's mark), read and written by one thread, the
// store's searcher; it reads the messages through a read-only connection of its own.
//
// The index follows each room's sequence: its mark is the last seq it has read, and catching a
// room up reads the entries past it in seq order (a room's entries are committed in seq order,
// each commit whole), indexing a message by its text now, an edit by its target's text now, a
// delete by taking its target out. A room deleted (no entries past its mark, or its creation
// time changed: deleted and made again) loses its documents and starts over. So the index is
// derived from the messages alone: a lost or damaged file is made again from them, and nothing
// in a commit waits for it (in the rooms benchmark the in-commit index of migration 10 cost the
// store 40% of its acked messages per second).
//
// What a search returns is the messages database's, never the index's: each hit is read from
// messages as it is now (and left out if deleted since), so an index behind the commits can miss
// a message, never show a changed one. The searcher catches up the rooms of a search first.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "store/searcher.hpp"
#include "store/store.hpp"

namespace parley::store {

class SqliteSearchIndex final : public SearchIndex {
 public:
  // The index file for a messages database: "parley.search.db" for "parley.db".
  static std::filesystem::path path_for(const std::filesystem::path& messages);

  // Opens the messages database read-only and the index (made if missing, or made again if it is
  // not this version's). Throws std::runtime_error.
  SqliteSearchIndex(const std::filesystem::path& messages, const std::string& synchronous);
  ~SqliteSearchIndex() override;
  SqliteSearchIndex(const SqliteSearchIndex&) = delete;
  SqliteSearchIndex& operator=(const SqliteSearchIndex&) = delete;

  // Every room with entries or with a mark.
  std::vector<std::string> rooms() override;
  // In one transaction of the index.
  bool catch_up(const std::vector<std::string>& rooms, std::size_t budget, std::vector<std::string>& unfinished,
                std::size_t& read) override;
  std::error_code search(const SearchQuery& query, SearchPage& out) override;
  // After a call that found the index damaged (SQLITE_CORRUPT, SQLITE_NOTADB: broken pages behind
  // a readable header), the index is made again here, empty, and every room is to be read again.
  std::vector<std::string> take_lost_rooms() override;

 private:
  struct Mark {
    bool found = false;
    std::int64_t created_at = 0;
    std::int64_t seq = 0;
  };
  // What an entry does to the index: a message added, or a message's document brought to its
  // state now (an edit's or a delete's target: its text now, or gone).
  struct Op {
    bool refresh = false;
    std::int64_t seq = 0;  // the message's
    std::int64_t ts = 0;
    std::string text{};
    bool live = false;  // refresh: the message is there, not deleted
  };
  // A room's entries past its mark, as read from the messages.
  struct RoomRead {
    std::string room;
    Mark mark{};
    std::int64_t created_at = 0;
    bool drop = false;     // its documents are stale: out, and start over
    bool empty = false;    // no entries: no mark
    bool more = false;     // entries left past `seq`
    std::int64_t seq = 0;  // the mark after these
    std::size_t entries = 0;
    std::vector<Op> ops{};
  };
  // A document to take out of the index (its row id and the text it was indexed by), and one to
  // put in.
  struct Gone {
    std::int64_t id = 0;
    std::string text{};
  };
  struct Doc {
    const std::string* room = nullptr;
    std::int64_t seq = 0;
    std::int64_t ts = 0;  // its message's (its id's block: block_bits)
    const std::string* text = nullptr;
  };
  bool read_room(RoomRead& read, std::size_t& budget);
  // The reads into the index, in one transaction (the caller's).
  bool write(const std::vector<RoomRead>& reads);
  // What a read changes: documents out (a message's refresh finds it changed or deleted) and in.
  bool plan(const RoomRead& read, std::vector<Gone>& gone, std::vector<Doc>& docs);
  bool set_mark(const RoomRead& read);
  bool drop_room(const std::string& room);
  // Under a new id, past `last_id` where it can be (the last id FTS5 took; set to this one's).
  bool add_doc(const Doc& doc, std::int64_t& last_id);
  bool remove_doc(const Gone& doc);
  // The index file opened, made if new or of another version (or, `fresh`, made again from
  // nothing), and its statements prepared. Throws std::runtime_error.
  void open_index(bool fresh);
  void close_index() noexcept;
  // Whether the index is open (opened again, new, if it was closed). False: it cannot be made now.
  bool usable();
  // After a failed statement of the index: whether the file is damaged (made again by
  // take_lost_rooms, between two calls).
  void note_failure();
  void prepare(sqlite3* db, const char* sql, sqlite3_stmt** st);
  bool exec(sqlite3* db, const char* sql);
  std::error_code failed(const char* what, sqlite3* db);

  std::filesystem::path path_;
  std::string synchronous_;
  sqlite3* messages_ = nullptr;                  // read-only
  sqlite3* index_ = nullptr;                     // null: closed, to be made again
  std::vector<sqlite3_stmt*> statements_;        // of messages_
  std::vector<sqlite3_stmt*> index_statements_;  // of index_
  bool damaged_ = false;                         // a statement of the index found it damaged
  bool lost_ = false;                            // the index was made again: its marks are gone
  // At least the highest document id (more after a rolled-back write: an id above it is still
  // free).
  std::int64_t top_ = -1;
  // messages
  sqlite3_stmt* next_room_ = nullptr;
  sqlite3_stmt* room_state_ = nullptr;  // created_at, last seq
  sqlite3_stmt* entries_ = nullptr;     // past a seq, in order
  sqlite3_stmt* hit_ = nullptr;         // a message as it is now (none if deleted): a hit, an edit's target
  // index
  sqlite3_stmt* marked_rooms_ = nullptr;
  sqlite3_stmt* mark_ = nullptr;
  sqlite3_stmt* set_mark_ = nullptr;
  sqlite3_stmt* drop_mark_ = nullptr;
  sqlite3_stmt* unindex_room_ = nullptr;
  sqlite3_stmt* drop_docs_ = nullptr;
  sqlite3_stmt* block_end_ = nullptr;  // the last id in a range
  sqlite3_stmt* insert_doc_ = nullptr;
  sqlite3_stmt* index_text_ = nullptr;
  sqlite3_stmt* unindex_text_ = nullptr;
  sqlite3_stmt* doc_ = nullptr;
  sqlite3_stmt* delete_doc_ = nullptr;
};

}  // namespace parley::store
