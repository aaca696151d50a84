#pragma once
// Message search (docs/protocol.md, "search"): what a user's query is made of, and the cursor of a
// page of results. Pure computation: the stores render the terms in their own query language.
//
// A query is split into terms the way both stores' tokenizers split text: a term is a run of
// letters, digits, marks and private-use characters (Unicode categories L*, N*, M*, Co: what
// SQLite's unicode61 tokenizer keeps); spaces, punctuation, symbols (emoji too) and controls
// separate terms. So no character a user types is ever query syntax:
// `"`, `*`, `(`, `-`, `:` only separate terms, and "OR", "NEAR" or "text" are words like others.
// Every term must occur (AND); the last one may be the start of a word (a prefix match).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::core {

// A query of more terms is refused: each term is one more index lookup.
inline constexpr std::size_t max_search_terms = 16;

// The terms of `q` (valid UTF-8), in order; empty if it has none (only spaces and punctuation).
std::vector<std::string> search_terms(std::string_view q);

// Where a page of hits ended: the last hit's time, room and seq (hits are newest first: ts, then
// room, then seq, all descending). The next page holds the hits strictly before it.
struct SearchCursor {
  std::int64_t ts = 0;
  std::string room;
  std::uint64_t seq = 0;
  friend bool operator==(const SearchCursor&, const SearchCursor&) = default;
};

// The cursor as the client sees it (opaque to it): "<ts>.<seq>.<room>".
std::string encode_cursor(const SearchCursor& c);
// nullopt if `s` is not a cursor encode_cursor could have made.
std::optional<SearchCursor> parse_cursor(std::string_view s);

}  // namespace parley::core
