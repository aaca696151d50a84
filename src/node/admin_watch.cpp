#include "node/admin_watch.hpp"

#include <algorithm>
#include <utility>

#include "node/admin_api.hpp"
#include "node/client.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using protocol::errc;

std::error_code AdminWatch::watch(Client& s, const std::string& ref) {
  if (!api_.is_admin_session(s.user_id, s.user)) return errc::forbidden;
  const unsigned index = s.shard().index();
  if (!s.admin_watching) {
    const std::size_t limit = ctx_.limits().admin_watchers;
    std::size_t n = count_.load(std::memory_order_relaxed);
    do {
      if (n >= limit) return errc::too_many_watchers;
    } while (!count_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    s.admin_watching = true;
    by_shard_[index].push_back(s.id());
  }
  build(ref, [this, index, id = s.id()](std::string event) {
    Shard& home = ctx_.shard(index);
    home.post([&home, id, event = std::move(event)] {
      // Not if it has unwatched (or gone) meanwhile: nothing follows admin_unwatched.
      if (Client* c = home.find_client(id); c && c->admin_watching) c->send(event);
    });
  });
  return {};
}

void AdminWatch::unwatch(Client& s) {
  if (!s.admin_watching) return;
  s.admin_watching = false;
  auto& ids = by_shard_[s.shard().index()];
  ids.erase(std::remove(ids.begin(), ids.end(), s.id()), ids.end());
  count_.fetch_sub(1, std::memory_order_relaxed);
}

void AdminWatch::tick(std::int64_t /*now_ms*/) {
  if (watchers() == 0) return;
  // A gather still under way (a shard slow to answer): this second is skipped, not queued.
  if (building_.exchange(true)) return;
  build({}, [this](std::string event) {
    auto shared = std::make_shared<const std::string>(std::move(event));
    for (unsigned i = 0; i < ctx_.shard_count(); ++i) ctx_.shard(i).post([this, i, shared] { deliver(i, shared); });
    building_.store(false);
  });
}

void AdminWatch::build(const std::string& ref, std::function<void(std::string)> done) {
  api_.busiest_rooms(AdminApi::default_rooms,
                     [this, ref, done = std::move(done)](std::vector<protocol::AdminRoom> rooms) {
                       const auto nodes = api_.nodes_snapshot();
                       done(protocol::admin_stats_event(ctx_.now_ms(), nodes, rooms, ref));
                     });
}

void AdminWatch::deliver(unsigned index, const std::shared_ptr<const std::string>& event) {
  Shard& shard = ctx_.shard(index);
  std::vector<Client*> watching;
  for (const std::uint64_t id : by_shard_[index])
    if (Client* c = shard.find_client(id)) watching.push_back(c);
  for (Client* c : watching) {
    // Checked at each send, as the admin API checks each request.
    if (!api_.is_admin_session(c->user_id, c->user)) {
      unwatch(*c);
      continue;
    }
    c->deliver_shared(event);
  }
}

}  // namespace parley::node
