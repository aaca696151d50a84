#include "core/presence.hpp"

namespace parley::core {

bool Presence::add(const std::string& user) {
  auto it = users_.try_emplace(user, 0).first;
  return ++it->second == 1;
}

bool Presence::remove(const std::string& user) {
  auto it = users_.find(user);
  if (it == users_.end()) return false;
  if (--it->second > 0) return false;
  users_.erase(it);
  return true;
}

std::vector<std::string> Presence::users() const {
  std::vector<std::string> out;
  out.reserve(users_.size());
  for (const auto& [user, n] : users_) out.push_back(user);
  return out;
}

bool Presence::contains(std::string_view user) const { return users_.find(user) != users_.end(); }

}  // namespace parley::core
