// PostgresStore's search (store.hpp, Store::search): the tsvector column and GIN index of
// migration 10.
#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "store/pg_rows.hpp"
#include "store/postgres_store.hpp"

namespace parley::store {

namespace {

using pg::column;
using pg::int_column;
using pg::Params;
using pg::Result;

// The terms as to_tsquery text: each a quoted lexeme, all required (&), the last one a prefix
// (:*). A term never holds a quote or a backslash (core::search_terms splits on punctuation);
// they are escaped all the same.
std::string ts_query(const std::vector<std::string>& terms) {
  std::string q;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    if (i) q += " & ";
    q += '\'';
    for (char c : terms[i]) {
      if (c == '\'' || c == '\\') q += '\\';
      q += c;
    }
    q += '\'';
    if (i + 1 == terms.size()) q += ":*";
  }
  return q;
}

// The rooms as a text[] literal: each element quoted, '"' and '\' escaped.
std::string array_literal(const std::vector<std::string>& items) {
  std::string a = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) a += ',';
    a += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') a += '\\';
      a += c;
    }
    a += '"';
  }
  return a + "}";
}

}  // namespace

std::error_code PostgresStore::search_now(const SearchQuery& query, SearchPage& out) {
  return account_call_fn("search", [&]() -> std::optional<std::error_code> {
    const std::size_t limit = std::min<std::size_t>(query.limit, 10000);
    Params p;
    const std::string tsq = ts_query(query.terms);
    const std::string rooms = array_literal(query.rooms);
    p.text(tsq);
    p.text(rooms);
    p.int8(static_cast<std::int64_t>(limit + 1));
    // Rooms compare byte by byte (COLLATE "C"), as SQLite's do: the same order on both stores.
    std::string sql =
        "SELECT room, seq, sender, sender_id, text, ts FROM messages WHERE search @@ to_tsquery('simple', $1) AND "
        "room = ANY($2::text[])";
    if (query.before) {
      p.int8(query.before->ts);
      p.text(query.before->room);
      p.int8(static_cast<std::int64_t>(std::min<std::uint64_t>(query.before->seq, INT64_MAX)));
      sql += " AND (ts, room COLLATE \"C\", seq) < ($4, $5::text COLLATE \"C\", $6)";
    }
    sql += " ORDER BY ts DESC, room COLLATE \"C\" DESC, seq DESC LIMIT $3";
    Result r(PQexecParams(conn_, sql.c_str(), p.size(), p.types(), p.values(), p.lengths(), p.formats(), 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return std::nullopt;
    out = {};
    const int rows = PQntuples(r.get());
    for (int i = 0; i < rows; ++i) {
      if (out.hits.size() == limit) {
        const SearchHit& last = out.hits.back();
        out.next = core::SearchCursor{.ts = last.ts, .room = last.room, .seq = last.seq};
        break;
      }
      out.hits.push_back(SearchHit{.room = column(r.get(), i, 0),
                                   .seq = static_cast<std::uint64_t>(int_column(r.get(), i, 1)),
                                   .from = column(r.get(), i, 2),
                                   .from_id = column(r.get(), i, 3),
                                   .text = column(r.get(), i, 4),
                                   .ts = int_column(r.get(), i, 5)});
    }
    return std::error_code();
  });
}

}  // namespace parley::store
