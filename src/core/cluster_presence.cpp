#include "core/cluster_presence.hpp"

#include <algorithm>
#include <iterator>

#include "core/names.hpp"

namespace parley::core {

ClusterPresence::LocalChange ClusterPresence::add(const std::string& user, std::string_view key) {
  LocalChange c;
  c.first_or_last = local_.add(user);
  c.visible = c.first_or_last && remote_.count(user) == 0;
  if (c.visible) index_add(user, key);
  return c;
}

ClusterPresence::LocalChange ClusterPresence::remove(const std::string& user) {
  LocalChange c;
  c.first_or_last = local_.remove(user);
  c.visible = c.first_or_last && remote_.count(user) == 0;
  if (c.visible) index_remove(user);
  return c;
}

const std::string* ClusterPresence::confusable_with(std::string_view key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() || it->second.empty() ? nullptr : &it->second.front();
}

void ClusterPresence::index_add(const std::string& user, std::string_view key) {
  auto& names = key.empty() ? by_key_[name_skeleton(user)] : by_key_[std::string(key)];
  names.push_back(user);
}

void ClusterPresence::index_remove(const std::string& user) {
  // The key again (a microsecond of ICU) rather than a second copy of every member's key.
  auto it = by_key_.find(name_skeleton(user));
  if (it == by_key_.end()) return;
  auto& names = it->second;
  names.erase(std::remove(names.begin(), names.end(), user), names.end());
  if (names.empty()) by_key_.erase(it);
}

std::vector<std::string> ClusterPresence::users() const {
  std::vector<std::string> all;
  all.reserve(local_.size() + remote_.size());
  for_each_user([&all](const std::string& u) { all.push_back(u); });
  return all;
}

std::size_t ClusterPresence::size() const {
  if (remote_.empty()) return local_.size();
  std::size_t n = remote_.size();
  local_.for_each([&](const std::string& u) { n += remote_.count(u) == 0 ? 1 : 0; });
  return n;
}

void ClusterPresence::set_remote(const std::string& user, bool present, std::vector<Change>& out) {
  const bool before = contains(user);
  if (present)
    remote_.insert(user);
  else
    remote_.erase(user);
  const bool after = contains(user);
  if (before == after) return;
  if (after)
    index_add(user, {});
  else
    index_remove(user);
  out.push_back(Change{user, after});
}

bool ClusterPresence::apply_snapshot(std::uint64_t version, std::vector<std::string> users, std::vector<Change>& out) {
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  // Leaves first, then joins, each in name order.
  std::vector<std::string> gone;
  std::set_difference(remote_.begin(), remote_.end(), users.begin(), users.end(), std::back_inserter(gone));
  for (const auto& u : gone) set_remote(u, false, out);
  for (const auto& u : users)
    if (remote_.count(u) == 0) set_remote(u, true, out);
  version_ = version;
  view_ = View::ready;
  pending_.erase(pending_.begin(), pending_.upper_bound(version));
  drain_pending(out);
  return !pending_.empty();
}

bool ClusterPresence::apply(std::uint64_t version, const std::string& user, bool joined, std::vector<Change>& out) {
  if (view_ == View::none || version <= version_) return false;
  if (view_ == View::ready && version == version_ + 1 && pending_.empty()) {
    version_ = version;
    set_remote(user, joined, out);
    return false;
  }
  pending_[version] = {user, joined};
  if (pending_.size() > max_pending) pending_.erase(pending_.begin());
  if (view_ == View::loading) return false;
  drain_pending(out);
  return !pending_.empty();
}

void ClusterPresence::drain_pending(std::vector<Change>& out) {
  auto it = pending_.begin();
  while (it != pending_.end() && it->first <= version_) it = pending_.erase(it);
  while (it != pending_.end() && it->first == version_ + 1) {
    version_ = it->first;
    set_remote(it->second.first, it->second.second, out);
    it = pending_.erase(it);
  }
}

void ClusterPresence::abort_snapshot() {
  pending_.clear();
  view_ = View::none;
}

void ClusterPresence::forget_view() {
  for (const auto& u : remote_)
    if (!local_.contains(u)) index_remove(u);
  remote_.clear();
  pending_.clear();
  view_ = View::none;
  version_ = 0;
}

}  // namespace parley::core
