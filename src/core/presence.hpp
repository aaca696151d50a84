#pragma once
// Who is in a room, by user name, counting each user's sessions: a user with two tabs open is
// one member, and leaves when the last tab does. Kept in name order: a join's member list is a
// walk over it, not a copy and a sort of every name (which made a crowd's joins quadratic in
// name comparisons).
#include <functional>
#include <map>
#include <string>
#include <string_view>
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
  // Calls f(const std::string&) for each user, in name order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [user, n] : users_) f(user);
  }
  bool contains(std::string_view user) const;

 private:
  std::map<std::string, int, std::less<>> users_;
};

}  // namespace parley::core
