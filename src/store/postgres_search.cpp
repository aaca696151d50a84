// PostgresStore's search index (searcher.hpp, SearchIndex): the search_docs table of migration 13,
// written by parley_search_catch_up, on a connection of its own (the searcher's thread).
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "protocol/errc.hpp"
#include "store/pg_rows.hpp"
#include "store/postgres_store.hpp"

namespace parley::store {

namespace {

using pg::column;
using pg::int_column;
using pg::Params;
using pg::Result;
using pg::trimmed;

std::string array_literal(const std::vector<std::string>& items) {
  return pg::text_array(items, [](const std::string& s) -> const std::string& { return s; });
}

class PostgresSearchIndex final : public SearchIndex {
 public:
  explicit PostgresSearchIndex(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~PostgresSearchIndex() override {
    if (conn_) PQfinish(conn_);
  }
  PostgresSearchIndex(const PostgresSearchIndex&) = delete;
  PostgresSearchIndex& operator=(const PostgresSearchIndex&) = delete;

  // Every room, and every room with a mark (a room deleted while no searcher read it).
  std::vector<std::string> rooms() override {
    std::vector<std::string> out;
    Result r = exec("SELECT id FROM rooms UNION SELECT room FROM search_marks", Params{});
    if (!r) return out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(column(r.get(), i, 0));
    return out;
  }

  // One statement, one transaction: parley_search_catch_up.
  bool catch_up(const std::vector<std::string>& rooms, std::size_t budget, std::vector<std::string>& unfinished,
                std::size_t& read) override {
    Params p;
    const std::string wanted = array_literal(rooms);
    p.text(wanted);
    p.int8(static_cast<std::int64_t>(budget));
    Result r = exec("SELECT left_room, indexed FROM parley_search_catch_up($1::text[], $2)", p);
    if (!r) return false;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      if (PQgetisnull(r.get(), i, 0)) {
        read = static_cast<std::size_t>(int_column(r.get(), i, 1));  // the last row: the count
      } else {
        unfinished.push_back(column(r.get(), i, 0));
      }
    }
    return true;
  }

  // Every node writes to every room's sequence, and any may have left a room unread.
  bool shared() const override { return true; }

  std::error_code search(const SearchQuery& query, SearchPage& out) override {
    out = {};
    const std::size_t limit = std::min<std::size_t>(query.limit, 10000);
    const std::string terms = array_literal(query.terms);
    const std::string rooms = array_literal(query.rooms);
    // The page's places first, then each looked up in messages as it is now: one deleted since
    // it was indexed is left out (LEFT: its place still comes, with no message). The places are
    // taken from search_docs_time (migration 17: newest back, stopping once a page is found) or,
    // for a word too rare for that, from the words' index and sorted: the planner's choice, by
    // the word's frequency in the table's statistics. Rooms compare byte by byte (COLLATE "C"), as SQLite's do: the
    // same order on both stores. The order again outside: a join may not keep its input's (the nested loop does, and no
    // sort is added).
    std::string sql =
        "SELECT d.room, d.seq, d.ts, m.sender, m.sender_id, m.text, m.ts FROM (SELECT d.room, d.seq, d.ts FROM "
        "search_docs d WHERE d.words @@ parley_search_query($1::text[]) AND d.room = ANY($2::text[])";
    if (query.before) sql += " AND (d.ts, d.room COLLATE \"C\", d.seq) < ($4, $5::text COLLATE \"C\", $6)";
    sql +=
        " ORDER BY d.ts DESC, d.room COLLATE \"C\" DESC, d.seq DESC LIMIT $3) d LEFT JOIN LATERAL (SELECT * FROM "
        "messages m WHERE m.room = d.room AND m.seq = d.seq AND m.kind = 0 AND NOT m.deleted) m ON true ORDER BY "
        "d.ts DESC, d.room COLLATE \"C\" DESC, d.seq DESC";
    // One more place than a page: whether there is a next one. A place whose message is gone
    // keeps its place in the page (as SQLite's does): the page is short, the cursor past it.
    Params p;
    p.text(terms);
    p.text(rooms);
    p.int8(static_cast<std::int64_t>(limit + 1));
    if (query.before) {
      p.int8(query.before->ts);
      p.text(query.before->room);
      p.int8(static_cast<std::int64_t>(std::min<std::uint64_t>(query.before->seq, INT64_MAX)));
    }
    Result r = exec(sql.c_str(), p);
    if (!r) return make_error_code(protocol::errc::store_failed);
    const auto rows = static_cast<std::size_t>(PQntuples(r.get()));
    for (std::size_t i = 0; i < std::min(rows, limit); ++i) {
      const int row = static_cast<int>(i);
      if (!PQgetisnull(r.get(), row, 3)) {
        out.hits.push_back(SearchHit{.room = column(r.get(), row, 0),
                                     .seq = static_cast<std::uint64_t>(int_column(r.get(), row, 1)),
                                     .from = column(r.get(), row, 3),
                                     .from_id = column(r.get(), row, 4),
                                     .text = column(r.get(), row, 5),
                                     .ts = int_column(r.get(), row, 6)});
      }
      if (i + 1 == limit && rows > limit)
        out.next = core::SearchCursor{.ts = int_column(r.get(), row, 2),
                                      .room = column(r.get(), row, 0),
                                      .seq = static_cast<std::uint64_t>(int_column(r.get(), row, 1))};
    }
    return {};
  }

 private:
  // A statement's rows (or its success), or null after logging the failure. A lost connection is
  // made again at the next call.
  Result exec(const char* sql, const Params& p) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      if (conn_) PQfinish(conn_);
      conn_ = pg::connect(conninfo_, "parley-search");
      if (PQstatus(conn_) != CONNECTION_OK) {
        spdlog::error("store: search cannot reach PostgreSQL: {}", trimmed(PQerrorMessage(conn_)));
        PQfinish(conn_);
        conn_ = nullptr;
        return nullptr;
      }
    }
    Result r(PQexecParams(conn_, sql, p.size(), p.types(), p.values(), p.lengths(), p.formats(), 0));
    const auto st = PQresultStatus(r.get());
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return r;
    spdlog::error("store: search failed: {}", trimmed(PQerrorMessage(conn_)));
    return nullptr;
  }

  std::string conninfo_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<SearchIndex> postgres_search_index(const std::string& conninfo) {
  return std::make_unique<PostgresSearchIndex>(conninfo);
}

}  // namespace parley::store
