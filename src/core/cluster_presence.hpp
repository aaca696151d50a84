#pragma once
// A room's members as one node shows them: the users of this node's own sessions (counted per
// user, as in Presence) together with the cluster's view of the room (every node's users, from a
// broker: a snapshot at some version, then each numbered change after it). Without a cluster view
// it is plain local presence.
//
// What members see is the union of the two: a change of the union is what a node announces to its
// local members. A user who joins here while already present elsewhere changes nothing; one who
// leaves here while still present elsewhere neither. A user's own node hears of its cluster-wide
// join or leave from the broker like every other node, and the union makes that silent (the
// local sessions already said it), except a leave, which shows once the last node has let go.
//
// Names that look alike: the union's names are also kept by their key (core::name_skeleton), so
// that a joiner whose name a reader would take for a member's (TR39 confusables, or a difference
// of case only) is found with one hash lookup, not a scan of the members. The owner refuses such a
// joiner; a second session of the same user is no conflict. Names that came in together anyway
// (two nodes admitting them at the same moment) are kept side by side.
//
// Versions: the broker numbers a room's changes 1, 2, ...; a change at or below the view's version
// is old news, the next one applies, a later one waits (bounded) and asks for a fresh snapshot.
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/presence.hpp"

namespace parley::core {

class ClusterPresence {
 public:
  struct Change {
    std::string user;
    bool joined;
    bool operator==(const Change&) const = default;
  };
  struct LocalChange {
    bool first_or_last = false;  // the user's first session here (add) or last (remove)
    bool visible = false;        // and the room's members changed: announce it
  };
  enum class View { none, loading, ready };

  // Local sessions. `key` is name_skeleton(user) if the caller has it (empty: computed here
  // when needed, i.e. when the user becomes a member).
  LocalChange add(const std::string& user, std::string_view key = {});
  LocalChange remove(const std::string& user);

  // A member whose name has this key (core::name_skeleton), if any: for a joiner who is not a
  // member, another user whose name looks like the joiner's. The pointer lives until the next
  // change.
  const std::string* confusable_with(std::string_view key) const;
  std::vector<std::string> local_users() const { return local_.users(); }
  std::size_t local_size() const noexcept { return local_.size(); }

  // The union, sorted; its size; membership.
  std::vector<std::string> users() const;
  // Calls f(const std::string&) for each user of the union, in name order, without copying.
  template <class F>
  void for_each_user(F&& f) const {
    auto r = remote_.begin();
    local_.for_each([&](const std::string& u) {
      for (; r != remote_.end() && *r < u; ++r) f(*r);
      if (r != remote_.end() && *r == u) ++r;
      f(u);
    });
    for (; r != remote_.end(); ++r) f(*r);
  }
  std::size_t size() const;
  bool contains(const std::string& user) const { return local_.contains(user) || remote_.count(user) > 0; }

  // The cluster view.
  View view() const noexcept { return view_; }
  std::uint64_t version() const noexcept { return version_; }
  // A snapshot was asked for: changes arriving meanwhile wait for it.
  void begin_snapshot() { view_ = View::loading; }
  // The snapshot's answer. Appends the changes of the union to `out`; returns true when changes
  // still wait past a gap (ask for another snapshot).
  bool apply_snapshot(std::uint64_t version, std::vector<std::string> users, std::vector<Change>& out);
  // A numbered change. Appends the changes of the union to `out`; returns true when it revealed
  // a gap and no snapshot is on its way (ask for one).
  bool apply(std::uint64_t version, const std::string& user, bool joined, std::vector<Change>& out);
  // The snapshot failed: changes are ignored until the next one (the members shown stay as
  // they were; the next snapshot corrects them).
  void abort_snapshot();
  // The view is no longer followed (unsubscribed): forget it. Nothing is announced.
  void forget_view();

  // Changes held past a gap, at most; beyond, the oldest are dropped (the snapshot has them).
  static constexpr std::size_t max_pending = 4096;

 private:
  void set_remote(const std::string& user, bool present, std::vector<Change>& out);
  void drain_pending(std::vector<Change>& out);
  // The union's names by key: on a user's arrival in the union and on its departure.
  void index_add(const std::string& user, std::string_view key);
  void index_remove(const std::string& user);

  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  Presence local_;
  std::set<std::string> remote_;
  View view_ = View::none;
  std::uint64_t version_ = 0;
  std::map<std::uint64_t, std::pair<std::string, bool>> pending_;
  // Key → the members with it: one name, but for names that came in together (see above).
  std::unordered_map<std::string, std::vector<std::string>, KeyHash, std::equal_to<>> by_key_;
};

}  // namespace parley::core
