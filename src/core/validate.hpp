#pragma once
#include <string_view>

namespace parley::core {

bool valid_room_id(std::string_view room) noexcept;  // 1-64 of [A-Za-z0-9_.-]
bool valid_cid(std::string_view cid) noexcept;       // 1-64 printable ASCII

}  // namespace parley::core
