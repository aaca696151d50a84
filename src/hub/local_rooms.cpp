#include "hub/local_rooms.hpp"

#include <algorithm>

namespace parley::hub {

void LocalRooms::add(const std::string& room, node::Session* s) { rooms_[room].push_back(s); }

void LocalRooms::remove(const std::string& room, node::Session* s) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  auto& v = it->second;
  auto pos = std::find(v.begin(), v.end(), s);
  if (pos != v.end()) {
    *pos = v.back();  // order of members does not matter
    v.pop_back();
  }
  if (v.empty()) rooms_.erase(it);
}

std::size_t LocalRooms::deliver(const std::string& room, std::string_view event, std::uint64_t except) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  std::size_t n = 0;
  for (node::Session* s : it->second) {
    if (s->id() == except) continue;
    s->enqueue(event);
    ++n;
  }
  return n;
}

std::size_t LocalRooms::members(const std::string& room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.size();
}

}  // namespace parley::hub
