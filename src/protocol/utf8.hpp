#pragma once
// UTF-8 validation (RFC 3629), incremental so that a text message split over several WebSocket
// frames is rejected at the first bad byte rather than after it has been buffered whole.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parley::protocol {

class Utf8Validator {
 public:
  // Feeds the next bytes; returns false once the input can no longer be valid UTF-8.
  bool feed(std::string_view bytes) noexcept;
  // True when everything fed so far is valid and ends on a code point boundary.
  bool complete() const noexcept { return ok_ && need_ == 0; }
  void reset() noexcept { *this = Utf8Validator{}; }

 private:
  bool ok_ = true;
  std::uint8_t need_ = 0;   // continuation bytes still expected
  std::uint8_t lo_ = 0x80;  // allowed range of the next continuation byte
  std::uint8_t hi_ = 0xBF;
};

bool is_valid_utf8(std::string_view bytes) noexcept;

// Number of code points in valid UTF-8 (what a user calls the length of a text).
std::size_t utf8_length(std::string_view bytes) noexcept;

// The longest prefix of valid UTF-8 `bytes` of at most `max_bytes` bytes that ends on a code
// point boundary (never half a character: a cut reason or message stays valid UTF-8).
std::string_view utf8_prefix(std::string_view bytes, std::size_t max_bytes) noexcept;

}  // namespace parley::protocol
