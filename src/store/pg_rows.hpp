#pragma once
// Small helpers for PostgresStore's statements (postgres_store.cpp, postgres_accounts.cpp). Store
// thread only, as the connection they use.
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parley::store::pg {

inline constexpr unsigned text_oid = 25;
inline constexpr unsigned int8_oid = 20;

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Statement parameters: strings go in binary format (their exact bytes: a NUL byte is rejected by
// the server instead of silently cutting the text short), integers as decimal text.
class Params {
 public:
  void text(const std::string& s) {
    values_.push_back(s.data());
    lengths_.push_back(static_cast<int>(s.size()));
    formats_.push_back(1);
    types_.push_back(text_oid);
  }
  void int8(std::int64_t v) {
    const std::string& s = ints_.emplace_back(std::to_string(v));  // deque: stable addresses
    values_.push_back(s.c_str());
    lengths_.push_back(0);
    formats_.push_back(0);
    types_.push_back(int8_oid);
  }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }
  const unsigned* types() const { return types_.data(); }
  void reserve(std::size_t n) {
    values_.reserve(n);
    lengths_.reserve(n);
    formats_.reserve(n);
    types_.reserve(n);
  }

 private:
  std::deque<std::string> ints_;
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
  std::vector<unsigned> types_;
};

// libpq's messages span lines ("...\n\tIs the server running..."): one line per log entry.
inline std::string trimmed(const char* msg) {
  std::string s;
  for (const char* p = msg ? msg : ""; *p; ++p) {
    if (*p == '\n' || *p == '\t') {
      if (!s.empty() && s.back() != ' ') s += ' ';
    } else {
      s += *p;
    }
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.empty() ? "unknown error" : s;
}

// A connection with Parley's defaults (the operator's conninfo, expanded from "dbname",
// overrides any of them). Check PQstatus; PQfinish it either way.
inline PGconn* connect(const std::string& conninfo, const char* application_name = "parley") {
  const char* keys[] = {"connect_timeout",     "client_encoding",  "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname",           nullptr};
  const char* values[] = {"5", "UTF8", application_name, "1", "10", "5", "3", conninfo.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, 1);
  // The server's notices (a search whose words hold no lexeme: "text-search query doesn't contain
  // lexemes") go to the log at debug, not to stderr as libpq's default does; its warnings (a
  // migration's: no unaccent extension) at warn.
  if (conn)
    PQsetNoticeProcessor(
        conn,
        [](void*, const char* message) {
          if (std::string_view(message).starts_with("WARNING"))
            spdlog::warn("store: postgres: {}", trimmed(message));
          else
            spdlog::debug("store: postgres notice: {}", trimmed(message));
        },
        nullptr);
  return conn;
}

// An array literal, to travel as text ("$n::text::bigint[]"): `put(out, item)` appends each
// element.
template <class Items, class Put>
std::string array_of(const Items& items, Put put) {
  std::string a = "{";
  bool first = true;
  for (const auto& item : items) {
    if (!first) a += ',';
    first = false;
    put(a, item);
  }
  return a + "}";
}

// A text[] literal: each element quoted, '"' and '\\' escaped.
template <class Items, class Get>
std::string text_array(const Items& items, Get get) {
  return array_of(items, [&get](std::string& a, const auto& item) {
    a += '"';
    for (char c : get(item)) {
      if (c == '"' || c == '\\') a += '\\';
      a += c;
    }
    a += '"';
  });
}

// A bigint[] literal.
template <class Items, class Get>
std::string int_array(const Items& items, Get get) {
  return array_of(items, [&get](std::string& a, const auto& item) { a += std::to_string(get(item)); });
}

inline std::string sqlstate(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}

inline std::string column(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

inline std::int64_t int_column(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

}  // namespace parley::store::pg
