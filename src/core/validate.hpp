#pragma once
#include <string_view>

namespace parley::core {

bool valid_name(std::string_view name) noexcept;     // 1-32 code points, valid UTF-8, no controls
bool valid_room_id(std::string_view room) noexcept;  // 1-64 of [A-Za-z0-9_.-]
bool valid_cid(std::string_view cid) noexcept;       // 1-64 printable ASCII

}  // namespace parley::core
