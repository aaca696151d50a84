// SqliteStore's search (store.hpp, Store::search): the FTS5 index of migration 10.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
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

}  // namespace

// The worker's search (StoreBackend): on the writer's connection. SqliteStore::search never
// sends one there; the searcher runs search_on with its own connection.
std::error_code SqliteStore::search_now(const SearchQuery& query, SearchPage& out) {
  return search_on(db_, query, out);
}

std::error_code SqliteStore::search_on(sqlite3* db, const SearchQuery& query, SearchPage& out) {
  // The hits' places first, from the index and search_docs (newest first, one more than a page:
  // whether there is a next one); then their messages. The rooms are the statement's own
  // placeholders: at most max_searched_rooms.
  std::string sql =
      "SELECT m.room, m.seq, m.sender, m.sender_id, m.text, m.ts FROM (SELECT d.room, d.seq, d.ts FROM "
      "message_search f CROSS JOIN search_docs d ON d.id = f.rowid WHERE message_search MATCH ?1 AND d.room IN (";
  for (std::size_t i = 0; i < query.rooms.size(); ++i) sql += i ? ",?" : "?";
  sql += ")";
  const int first_room = 2;
  const int after_rooms = first_room + static_cast<int>(query.rooms.size());
  if (query.before) {
    sql += " AND (d.ts, d.room, d.seq) < (?" + std::to_string(after_rooms) + ", ?" + std::to_string(after_rooms + 1) +
           ", ?" + std::to_string(after_rooms + 2) + ")";
  }
  const int limit_at = after_rooms + (query.before ? 3 : 0);
  sql += " ORDER BY d.ts DESC, d.room DESC, d.seq DESC LIMIT ?" + std::to_string(limit_at) +
         ") h JOIN messages m ON m.room = h.room AND m.seq = h.seq ORDER BY h.ts DESC, h.room DESC, h.seq DESC";
  Statement st(db, sql.c_str());
  auto failed_here = [&] {
    spdlog::error("store: search failed: {}", sqlite3_errmsg(db));
    return make_error_code(errc::store_failed);
  };
  if (!st) return failed_here();
  const std::string match = fts_query(query.terms);
  bind_text(st.get(), 1, match);
  for (std::size_t i = 0; i < query.rooms.size(); ++i)
    bind_text(st.get(), first_room + static_cast<int>(i), query.rooms[i]);
  if (query.before) {
    sqlite3_bind_int64(st.get(), after_rooms, query.before->ts);
    bind_text(st.get(), after_rooms + 1, query.before->room);
    sqlite3_bind_int64(st.get(), after_rooms + 2,
                       static_cast<sqlite3_int64>(std::min<std::uint64_t>(query.before->seq, INT64_MAX)));
  }
  const std::size_t limit = std::min<std::size_t>(query.limit, 10000);
  const std::size_t wanted = limit + 1;  // one more: whether there is a next page
  sqlite3_bind_int64(st.get(), limit_at, static_cast<sqlite3_int64>(wanted));
  out = {};
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    if (out.hits.size() == limit) {
      const SearchHit& last = out.hits.back();
      out.next = core::SearchCursor{.ts = last.ts, .room = last.room, .seq = last.seq};
      break;
    }
    out.hits.push_back(SearchHit{.room = text_column(st.get(), 0),
                                 .seq = static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 1)),
                                 .from = text_column(st.get(), 2),
                                 .from_id = text_column(st.get(), 3),
                                 .text = text_column(st.get(), 4),
                                 .ts = sqlite3_column_int64(st.get(), 5)});
  }
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return {};
  out = {};
  return failed_here();
}

}  // namespace parley::store
