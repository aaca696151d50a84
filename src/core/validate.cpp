#include "core/validate.hpp"

#include "protocol/utf8.hpp"

namespace parley::core {

bool valid_name(std::string_view name) noexcept {
  if (name.empty() || !protocol::is_valid_utf8(name)) return false;
  const auto n = protocol::utf8_length(name);
  if (n > 32) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7F) return false;
    // C1 controls U+0080-U+009F are encoded as C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) < 0xA0) return false;
  }
  // A name of only spaces would look empty in every list.
  return name.find_first_not_of(' ') != std::string_view::npos;
}

bool valid_room_id(std::string_view room) noexcept {
  if (room.empty() || room.size() > 64) return false;
  for (char c : room) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_cid(std::string_view cid) noexcept {
  if (cid.empty() || cid.size() > 64) return false;
  for (char c : cid)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

}  // namespace parley::core
