#include "protocol/utf8.hpp"

#include <cstring>

namespace parley::protocol {

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (!ok_) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    if (need_ == 0) {
      // Fast path: eight ASCII bytes at a time (chat text is mostly ASCII).
      while (end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        if (w & 0x8080808080808080ULL) break;
        p += 8;
      }
      if (p == end) break;
      const unsigned char c = *p++;
      if (c < 0x80) continue;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_ = 2;
        if (c == 0xE0)
          lo_ = 0xA0;  // no overlong 3-byte forms
        else if (c == 0xED)
          hi_ = 0x9F;  // no UTF-16 surrogates
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_ = 3;
        if (c == 0xF0)
          lo_ = 0x90;  // no overlong 4-byte forms
        else if (c == 0xF4)
          hi_ = 0x8F;  // nothing above U+10FFFF
      } else {
        ok_ = false;
        return false;
      }
    } else {
      const unsigned char c = *p++;
      if (c < lo_ || c > hi_) {
        ok_ = false;
        return false;
      }
      lo_ = 0x80;
      hi_ = 0xBF;
      --need_;
    }
  }
  return true;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  Utf8Validator v;
  return v.feed(bytes) && v.complete();
}

std::size_t utf8_length(std::string_view bytes) noexcept {
  std::size_t n = 0;
  for (unsigned char c : bytes) n += (c & 0xC0) != 0x80;
  return n;
}

std::string_view utf8_prefix(std::string_view bytes, std::size_t max_bytes) noexcept {
  if (bytes.size() <= max_bytes) return bytes;
  std::size_t n = max_bytes;
  // Back off while the first byte left out is a continuation byte (10xxxxxx).
  while (n > 0 && (static_cast<unsigned char>(bytes[n]) & 0xC0) == 0x80) --n;
  return bytes.substr(0, n);
}

}  // namespace parley::protocol
