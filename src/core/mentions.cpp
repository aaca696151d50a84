#include "core/mentions.hpp"

#include <string>

#include "core/names.hpp"

namespace parley::core {

namespace {

bool alnum(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool word_byte(unsigned char c) { return alnum(c) || c == '_' || c == '.'; }

// Where a name may end: before ASCII white space, a control or any ASCII punctuation. Names may
// hold some ('.', '-', '_'), so an ending is tried there and further on: "@ada." and "@a.b" both.
bool ends_name(unsigned char c) { return c < 0x80 && !alnum(c); }

}  // namespace

bool mentions(std::string_view text, std::string_view name_key) {
  if (name_key.empty()) return false;
  std::size_t marks = 0;
  for (std::size_t at = text.find('@'); at != std::string_view::npos && marks < max_mention_marks;
       at = text.find('@', at + 1)) {
    if (at > 0 && word_byte(static_cast<unsigned char>(text[at - 1]))) continue;
    ++marks;
    const std::string_view rest = text.substr(at + 1);
    // The name follows the '@' at once ("@ bob" is no mention: normalisation would trim the space).
    if (rest.empty() || static_cast<unsigned char>(rest[0]) <= 0x20) continue;
    std::size_t code_points = 0;
    std::size_t endings = 0;
    for (std::size_t i = 0; i <= rest.size() && endings < max_mention_endings; ++i) {
      const bool end = i == rest.size();
      const auto c = end ? 0 : static_cast<unsigned char>(rest[i]);
      if (!end && (c & 0xC0) == 0x80) continue;  // inside a code point
      if (i > 0 && (end || ends_name(c))) {
        ++endings;
        if (auto name = normalize_name(rest.substr(0, i)); name && name_skeleton(*name) == name_key) return true;
      }
      if (end || c == '\n' || ++code_points > max_name_length) break;
    }
  }
  return false;
}

}  // namespace parley::core
