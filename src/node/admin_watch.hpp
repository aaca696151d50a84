#pragma once
// The admin channel (docs/protocol.md, "Admin channel"): an admin's WebSocket session sends
// `admin_watch` and hears `admin_stats` at once and then about once a second (the admin API's
// node table, the busiest rooms, closes by reason), until `admin_unwatch` or its close. What the
// console (/admin) shows live, without polling.
//
// Who may: a session of an account that auth.admins lists (AdminApi::is_admin_session), checked
// at the watch and again at each send; a non-admin hears `forbidden`. A session whose sign-in
// ends (signed out, banned) is closed by the node, and so stops watching.
// Budget: limits.admin_watchers watchers on the node (too_many_watchers past it), the gauge
// parley_admin_watchers. Each watcher's events go through its outbound queue, so one that does
// not read is a slow consumer like any other.
// Threads: watch/unwatch/closed on the session's shard; tick() on shard 0; each shard's list of
// watchers is touched only on that shard (events are posted to it), the count is atomic.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "node/context.hpp"

namespace parley::node {

class AdminApi;
class Client;

class AdminWatch {
 public:
  AdminWatch(NodeContext& ctx, AdminApi& api) : ctx_(ctx), api_(api) {}
  AdminWatch(const AdminWatch&) = delete;
  AdminWatch& operator=(const AdminWatch&) = delete;

  // Once the shards are made (Node's constructor), before they run.
  void set_shards(unsigned count) { by_shard_.resize(count); }

  // `admin_watch` of `s`: {} and the first admin_stats (with `ref`) on its way, or the refusal
  // (forbidden, too_many_watchers). Watching already: the answer is a fresh admin_stats.
  std::error_code watch(Client& s, const std::string& ref);
  // `admin_unwatch`, or the session's close: no admin_stats after this (a no-op if not watching).
  void unwatch(Client& s);
  // Once a second, on shard 0: with anyone watching, the stats go to every shard's watchers.
  void tick(std::int64_t now_ms);

  std::size_t watchers() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  // The event, built from the node table and a gather of the busiest rooms over every shard;
  // `done` runs on the shard that answers last.
  void build(const std::string& ref, std::function<void(std::string)> done);
  // On shard `index`: `event` to each of its watchers still an admin's.
  void deliver(unsigned index, const std::shared_ptr<const std::string>& event);

  NodeContext& ctx_;
  AdminApi& api_;
  std::atomic<std::size_t> count_{0};
  std::atomic<bool> building_{false};                 // a tick's event is being gathered: the next tick skips
  std::vector<std::vector<std::uint64_t>> by_shard_;  // by_shard_[i]: connection ids, on shard i only
};

}  // namespace parley::node
