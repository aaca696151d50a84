#include "net/byte_range.hpp"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

namespace parley::net {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only, no sign, no overflow.
std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

ByteRange parse_byte_range(std::string_view header, std::uint64_t size) {
  ByteRange whole;
  header = trim(header);
  constexpr std::string_view unit = "bytes=";
  if (header.size() <= unit.size()) return whole;
  for (std::size_t i = 0; i < unit.size(); ++i)  // the unit is case-insensitive (RFC 9110 14.1)
    if (std::tolower(static_cast<unsigned char>(header[i])) != unit[i]) return whole;
  const std::string_view spec = trim(header.substr(unit.size()));
  if (spec.find(',') != std::string_view::npos) return whole;  // several ranges: the whole file
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  ByteRange r{ByteRange::Kind::part};
  if (a.empty()) {  // a suffix: the last n bytes
    const auto n = number(b);
    if (!n) return whole;
    if (*n == 0 || size == 0) return ByteRange{ByteRange::Kind::unsatisfiable};
    r.first = size - std::min(*n, size);
    r.last = size - 1;
    return r;
  }
  const auto first = number(a);
  if (!first) return whole;
  std::optional<std::uint64_t> last;
  if (!b.empty()) {
    last = number(b);
    if (!last || *last < *first) return whole;  // not a valid range-spec: ignored
  }
  if (*first >= size) return ByteRange{ByteRange::Kind::unsatisfiable};
  r.first = *first;
  r.last = std::min(last.value_or(size - 1), size - 1);
  return r;
}

std::string content_range(const ByteRange& range, std::uint64_t size) {
  if (range.kind == ByteRange::Kind::part)
    return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(size);
  return "bytes */" + std::to_string(size);
}

boost::optional<std::pair<FileRangeBody::writer::const_buffers_type, bool>> FileRangeBody::writer::get(
    boost::beast::error_code& ec) {
  const auto amount = static_cast<std::size_t>(std::min<std::uint64_t>(remain_, sizeof(buf_)));
  if (amount == 0) {
    ec = {};
    return boost::none;
  }
  const std::size_t n = body_.file.read(buf_, amount, ec);
  if (ec) return boost::none;
  if (n == 0) {  // the file is shorter than it was when the answer began
    ec = boost::beast::http::error::short_read;
    return boost::none;
  }
  remain_ -= n;
  return {{const_buffers_type(buf_, n), remain_ > 0}};
}

}  // namespace parley::net
