#include "core/search.hpp"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <charconv>
#include <cstdint>

namespace parley::core {

namespace {

// What SQLite's unicode61 tokenizer separates tokens on: all but letters, digits, private-use
// characters and marks (its categories "L* N* Co", a mark folded into its letter), so spaces,
// punctuation, symbols (emoji among them) and controls; and a byte that is not UTF-8, which a
// validated query never holds.
bool separates(UChar32 c) {
  if (c < 0) return true;
  if (c < 0x80) return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
  return (U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_N_MASK | U_GC_CO_MASK | U_GC_M_MASK)) == 0;
}

}  // namespace

std::vector<std::string> search_terms(std::string_view q) {
  std::vector<std::string> terms;
  std::string term;
  const auto* s = reinterpret_cast<const std::uint8_t*>(q.data());
  const auto length = static_cast<std::int32_t>(q.size());
  std::int32_t i = 0;
  while (i < length) {
    const std::int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(s, i, length, c);
    if (separates(c)) {
      if (!term.empty()) terms.push_back(std::move(term));
      term.clear();
    } else {
      term.append(q.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(i - start)));
    }
  }
  if (!term.empty()) terms.push_back(std::move(term));
  return terms;
}

std::string encode_cursor(const SearchCursor& c) {
  return std::to_string(c.ts) + '.' + std::to_string(c.seq) + '.' + c.room;
}

std::optional<SearchCursor> parse_cursor(std::string_view s) {
  SearchCursor c;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, c.ts);
  if (ec != std::errc() || p == end || *p != '.') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, end, c.seq);
  if (ec2 != std::errc() || q == end || *q != '.' || c.seq == 0) return std::nullopt;
  c.room.assign(q + 1, end);
  if (c.room.empty()) return std::nullopt;
  return c;
}

}  // namespace parley::core
