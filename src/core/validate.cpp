#include "core/validate.hpp"

namespace parley::core {

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
