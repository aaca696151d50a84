#include "hub/local_rooms.hpp"

#include <algorithm>

namespace parley::hub {

void LocalRooms::add(const std::string& room, Member* m) {
  auto& r = rooms_[room];
  if (!r.at.emplace(m, static_cast<std::uint32_t>(r.members.size())).second) return;
  r.members.push_back(m);
}

void LocalRooms::remove(const std::string& room, Member* m) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  Room& r = it->second;
  auto pos = r.at.find(m);
  if (pos == r.at.end()) return;
  const std::uint32_t i = pos->second;
  r.at.erase(pos);
  // Order of members does not matter: the last one takes the freed place.
  if (i + 1 < r.members.size()) {
    r.members[i] = r.members.back();
    r.at[r.members[i]] = i;
  }
  r.members.pop_back();
  if (r.members.empty()) rooms_.erase(it);
}

std::size_t LocalRooms::deliver(const std::string& room, std::string_view event, std::uint64_t except) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  std::size_t n = 0;
  for (Member* m : it->second.members) {
    if (m->member_id() == except) continue;
    m->deliver(event);
    ++n;
  }
  return n;
}

std::size_t LocalRooms::deliver_shared(const std::string& room, const std::shared_ptr<const std::string>& events,
                                       std::span<const std::uint64_t> skip) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  std::size_t n = 0;
  for (Member* m : it->second.members) {
    if (!skip.empty() && std::binary_search(skip.begin(), skip.end(), m->member_id())) continue;
    m->deliver_shared(events);
    ++n;
  }
  return n;
}

std::vector<Member*> LocalRooms::remove_room(const std::string& room) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return {};
  std::vector<Member*> members = std::move(it->second.members);
  rooms_.erase(it);
  return members;
}

bool LocalRooms::contains(const std::string& room, const Member* m) const {
  auto it = rooms_.find(room);
  return it != rooms_.end() && it->second.at.count(m) > 0;
}

std::size_t LocalRooms::members(const std::string& room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.members.size();
}

}  // namespace parley::hub
