#include "hub/local_rooms.hpp"

#include <algorithm>

namespace parley::hub {

void LocalRooms::add(const std::string& room, node::Session* s) {
  auto& v = rooms_[room];
  if (auto* joined = s->find_room(room)) joined->hub_index = static_cast<std::uint32_t>(v.size());
  v.push_back(s);
}

void LocalRooms::remove(const std::string& room, node::Session* s) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  auto& v = it->second;
  const auto* joined = s->find_room(room);
  std::size_t i = joined && joined->hub_index < v.size() && v[joined->hub_index] == s
                      ? joined->hub_index
                      : static_cast<std::size_t>(std::find(v.begin(), v.end(), s) - v.begin());
  if (i < v.size()) {
    // Order of members does not matter: the last one takes the freed place.
    v[i] = v.back();
    v.pop_back();
    if (i < v.size())
      if (auto* moved = v[i]->find_room(room)) moved->hub_index = static_cast<std::uint32_t>(i);
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

std::size_t LocalRooms::deliver_shared(const std::string& room, const std::shared_ptr<const std::string>& events,
                                       std::span<const std::uint64_t> skip) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  std::size_t n = 0;
  for (node::Session* s : it->second) {
    if (!skip.empty() && std::binary_search(skip.begin(), skip.end(), s->id())) continue;
    s->enqueue_shared(events);
    ++n;
  }
  return n;
}

std::size_t LocalRooms::members(const std::string& room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.size();
}

}  // namespace parley::hub
