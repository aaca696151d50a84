#pragma once
// Who is in a room, by user name, counting each user's sessions: a user with two tabs open is
// one member, and leaves when the last tab does.
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace parley::core {

class Presence {
 public:
  // Returns true when `user` was not present before (announce "joined").
  bool add(const std::string& user);
  // Returns true when this was the user's last session (announce "left").
  bool remove(const std::string& user);
  std::size_t size() const noexcept { return users_.size(); }
  std::vector<std::string> users() const;  // sorted
  bool contains(std::string_view user) const;

 private:
  std::unordered_map<std::string, int> users_;
};

}  // namespace parley::core
