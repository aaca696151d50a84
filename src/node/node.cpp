#include "node/node.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "core/message.hpp"
#include "core/names.hpp"
#include "node/client.hpp"

namespace parley::node {

namespace {
core::KeyedLimits::Options per_address_options(const core::Limits& l) {
  using A = core::KeyedLimits::Action;
  core::KeyedLimits::Options o;
  o.rates[static_cast<std::size_t>(A::send)] = {l.send_rate_per_address, l.send_burst_per_address};
  o.rates[static_cast<std::size_t>(A::request)] = {l.request_rate_per_address, l.request_burst_per_address};
  o.rates[static_cast<std::size_t>(A::create_room)] = {l.room_create_rate, l.room_create_burst};
  o.max_keys = l.max_tracked_keys;
  return o;
}

core::KeyedLimits::Options per_user_options(const core::Limits& l) {
  using A = core::KeyedLimits::Action;
  core::KeyedLimits::Options o;
  o.rates[static_cast<std::size_t>(A::send)] = {l.send_rate_per_user, l.send_burst_per_user};
  o.rates[static_cast<std::size_t>(A::create_room)] = {l.room_create_rate, l.room_create_burst};
  o.max_keys = l.max_tracked_keys;
  return o;
}
}  // namespace

NodeContext::NodeContext(NodeOptions o, store::Store& s, broker::Broker* b)
    : options(std::move(o)),
      store(s),
      broker(b),
      per_address(per_address_options(options.limits)),
      per_user(per_user_options(options.limits)),
      admission(options.limits, *options.clock),
      accounts(options.auth, s, *options.clock, options.jwt) {}

Node::Node(NodeOptions options, store::Store& store, broker::Broker* broker) : ctx_(std::move(options), store, broker) {
  if (ctx_.options.threads == 0) ctx_.options.threads = 1;
  statm_fd_ = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);  // before any connection
  delivery_.set_session_side(requests_);
  ctx_.accounts.set_server_api(&server_api_);
  ctx_.accounts.set_admin_api(&admin_);
  ctx_.accounts.set_files(&files_);
  ctx_.shards.reserve(ctx_.options.threads);
  for (unsigned i = 0; i < ctx_.options.threads; ++i) {
    net::LoopOptions loop{i, ctx_.options.limits, ctx_.options.clock, ctx_.options.io_uring_writes};
    ctx_.shards.push_back(std::make_unique<Shard>(loop, static_cast<ShardWork&>(*this)));
    ctx_.shards.back()->loop().set_handler(requests_);
  }
  admin_watch_.set_shards(ctx_.options.threads);
  requests_.set_admin_watch(&admin_watch_);
  // A session that ends closes the WebSockets signed in with it, here and, in a cluster, on every
  // other node (the broker announces it; one lost in an outage is found by recheck_sessions).
  ctx_.accounts.set_on_ended([this](const std::string& user, const std::string& digest, const std::string& keep) {
    close_ended_sessions(user, digest, keep);
    if (ctx_.broker) ctx_.broker->announce_sessions_ended(user, digest, keep);
  });
  // A name just registered: guests using it (or a look-alike) are closed, here and on every
  // other node; saying hello again, they hear name_taken.
  ctx_.accounts.set_on_registered([this](const std::string& key) {
    close_guests_named(key);
    if (ctx_.broker) ctx_.broker->announce_name_registered(key);
  });
}

void Node::close_ended_sessions(const std::string& user_id, const std::string& digest, const std::string& keep) {
  close_clients("signed out", [user_id, digest, keep](const Client& s) {
    if (s.user_id != user_id || s.session.empty()) return false;
    return digest.empty() ? s.session != keep : s.session == digest;
  });
}

void Node::close_guests_named(const std::string& name_key) {
  close_clients("name registered", [name_key](const Client& s) {
    return !s.user.empty() && core::is_guest_id(s.user_id) && core::name_skeleton(s.user) == name_key;
  });
}

void Node::on_sessions_ended(std::string user_id, std::string digest, std::string keep) {
  close_ended_sessions(user_id, digest, keep);
}

void Node::on_name_registered(std::string name_key) { close_guests_named(name_key); }

void Node::on_read(broker::ReadNotice notice) { read_marks_.on_read(notice); }

void Node::close_named(const std::string& name_key) {
  close_clients("disconnected by an admin",
                [name_key](const Client& s) { return !s.user.empty() && core::name_skeleton(s.user) == name_key; });
}

void Node::on_node_stats(std::string node_id, std::string stats) { admin_.on_node_stats(node_id, stats); }

void Node::on_disconnect_requested(std::string name_key, std::string /*reason*/) { close_named(name_key); }

void Node::on_drain_requested(std::string node_id) { admin_.on_drain_requested(node_id); }

AdminApi::Sample Node::admin_sample() const {
  AdminApi::Sample s;
  for (const auto& sh : ctx_.shards) {
    const auto& lm = sh->loop().metrics();
    const auto& m = sh->metrics();
    s.connections += lm.connections.get();
    s.slow_consumer_closes += lm.slow_consumer_closes.get();
    s.rooms += m.rooms_owned.get();
    s.deliveries += m.deliveries.get();
    s.rate_limited += m.rate_limited.get();
    s.flood_closes += lm.flood_closes.get();
    s.broker_catchups += m.broker_catchups.get();
    for (std::size_t i = 0; i < s.commit.size(); ++i) s.commit[i] += m.commit.buckets[i].get();
  }
  return s;
}

Node::~Node() {
  try {
    stop();
  } catch (const std::exception& e) {  // a thread that would not join: nothing left to do but say so
    spdlog::error("node: stopping failed: {}", e.what());
  }
  if (statm_fd_ >= 0) ::close(statm_fd_);
}

void Node::start() {
  const std::size_t n = rooms_.load_all();
  spdlog::info("node: {} rooms, {} I/O threads{}", n, shard_count(), ctx_.broker ? ", clustered" : "");
  if (ctx_.broker) {
    ctx_.broker->set_handler(this);
    ctx_.broker->start();
  }
  for (auto& sh : ctx_.shards) {
    guards_.push_back(boost::asio::make_work_guard(sh->context()));
    sh->start_ticker();
  }
  for (auto& sh : ctx_.shards) {
    threads_.emplace_back([s = sh.get(), fail_fast = ctx_.options.fail_fast] {
      for (;;) {
        try {
          s->context().run();
          return;
        } catch (const std::exception& e) {
          // A handler that throws is a bug. In production the thread's other clients go on being
          // served; in tests (fail_fast) the process stops here, so that the bug is seen.
          spdlog::critical("shard {}: unhandled exception: {}", s->index(), e.what());
          s->metrics().handler_errors.add();
          if (fail_fast) {
            std::fprintf(stderr, "parley: shard %u: unhandled exception: %s (server.fail_fast: aborting)\n", s->index(),
                         e.what());
            std::abort();
          }
        }
      }
    });
  }
}

void Node::close_clients(const char* reason, std::function<bool(const Client&)> which) {
  auto shared = std::make_shared<const std::function<bool(const Client&)>>(std::move(which));
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([shard, reason, shared] {
      std::vector<net::Connection*> matched;  // closing changes the set for_each walks
      shard->loop().for_each([&](net::Connection& c) {
        if (c.state() && (*shared)(Client::of(c))) matched.push_back(&c);
      });
      for (auto* c : matched) c->close(protocol::CloseCode::policy_violation, reason);
    });
  }
}

void Node::stop() {
  // The hashing pool first: what it runs answers through the loops, which must still be there.
  ctx_.accounts.stop();
  files_.stop();
  if (threads_.empty()) return;
  stopping_.store(true);  // the broker's "down" that follows is this stop, not an outage
  if (ctx_.broker) ctx_.broker->stop();
  for (auto& sh : ctx_.shards) sh->post([s = sh.get()] { s->stop_ticker(); });
  guards_.clear();
  for (auto& sh : ctx_.shards) sh->context().stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::size_t Node::session_count() const {
  std::size_t n = 0;
  for (const auto& sh : ctx_.shards) n += sh->loop().metrics().connections.get();
  return n;
}

void Node::submit_appends(Shard& shard, std::vector<PendingAppend> batch) {
  owner_.submit_appends(shard, std::move(batch));
}

void Node::on_tick(Shard& shard, std::int64_t now_ms) {
  requests_.tick(shard, now_ms);
  rooms_.unload_idle(shard, now_ms);
  if (shard.index() == 0) {
    check_memory();
    ctx_.accounts.sweep(now_ms);
    files_.sweep(now_ms);
    admin_.tick(now_ms, admin_sample());
    admin_watch_.tick(now_ms);
  }
  if (!ctx_.broker) return;
  presence_.tick(shard);
  cluster_.tick(shard);
}

void Node::check_memory() {
  const std::size_t budget = ctx_.limits().max_memory_bytes;
  // Resident set, from the second field of /proc/self/statm (pages): one small read a second, from
  // a descriptor opened once. Opening it each time took a descriptor number for a moment, which
  // could be the one the listeners' reserve had just given up to refuse a connection (see
  // net/listener.cpp), leaving the node out of descriptors without its reserve.
  std::size_t rss = 0;
  if (statm_fd_ < 0) statm_fd_ = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  char text[128];
  const ssize_t got = statm_fd_ < 0 ? -1 : ::pread(statm_fd_, text, sizeof text - 1, 0);
  if (got > 0) {
    text[got] = '\0';
    unsigned long long size = 0, resident = 0;
    if (std::sscanf(text, "%llu %llu", &size, &resident) == 2)
      rss = static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  }
  rss_bytes_.store(rss, std::memory_order_relaxed);
  if (budget == 0 || rss == 0) return;
  const bool was = ctx_.shedding.load(std::memory_order_relaxed);
  // On past the budget, off again under 90% of it: no flapping at the edge.
  const bool now = was ? rss >= budget / 10 * 9 : rss > budget;
  if (now == was) {
    if (now) ::malloc_trim(0);  // freed memory back to the system, so that the RSS can fall
    return;
  }
  ctx_.shedding.store(now, std::memory_order_relaxed);
  ctx_.admission.set_shedding(now);
  if (now) {
    spdlog::warn("node: resident memory {} MB is over limits.max_memory_bytes ({} MB): shedding load", rss >> 20,
                 budget >> 20);
    ::malloc_trim(0);
  } else {
    spdlog::info("node: resident memory {} MB, under 90% of the budget: taking new work again", rss >> 20);
  }
}

void Node::delete_room(const std::string& room, std::function<void(std::error_code, std::string)> done) {
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, room, done = std::move(done)]() mutable { rooms_.remove(owner, room, std::move(done)); });
}

void Node::on_message(core::Message m) {
  m.arrived_ns = ctx_.clock().steady_ns();  // this node's delivery is timed from here
  Shard& owner = ctx_.owner_of(m.room);
  owner.post([this, &owner, m = std::move(m)]() mutable { cluster_.receive(owner, std::move(m)); });
}

void Node::on_room_created(std::string room, std::string by) {
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, room = std::move(room), by = std::move(by)] { rooms_.learn(owner, room, by); });
}

void Node::on_access_changed(std::string room, std::string user_id) {
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, room = std::move(room), user_id = std::move(user_id)] {
    moderation_.on_access_changed(owner, room, user_id);
  });
}

void Node::on_room_deleted(std::string room, std::string by) {
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, room = std::move(room), by = std::move(by)] { rooms_.deleted_elsewhere(owner, room, by); });
}

void Node::on_state(bool up) {
  const bool stopping = stopping_.load();
  cluster_.on_state(up, stopping);
  if (stopping) return;
  // Access changes announced while the broker was away are lost: every owner reads its rooms'
  // access again and takes out whoever may no longer be in one.
  // So are sessions that ended meanwhile: each shard asks the store about its clients' sessions.
  // And rooms deleted meanwhile: each shard asks the store about its rooms.
  if (up) {
    for (auto& sh : ctx_.shards) {
      Shard* shard = sh.get();
      shard->post([this, shard] {
        moderation_.recheck_all(*shard);
        recheck_sessions(*shard);
        rooms_.recheck_existence(*shard);
      });
    }
  }
}

void Node::recheck_sessions(Shard& shard) {
  std::set<std::string> seen;
  auto digests = std::make_shared<std::vector<std::string>>();
  shard.for_each_client([&](Client& s) {
    if (!s.session.empty() && seen.insert(s.session).second) digests->push_back(s.session);
  });
  if (!digests->empty())
    spdlog::info("shard {}: the broker is back: checking {} sessions", shard.index(), digests->size());
  check_session(shard, std::move(digests), 0);
}

void Node::check_session(Shard& shard, std::shared_ptr<std::vector<std::string>> digests, std::size_t i) {
  // One at a time: thousands of sessions must not flood the store's queue at once, and the
  // answer comes back to the shard, so that a node stopping ends the walk.
  if (i >= digests->size()) return;
  std::string digest = (*digests)[i];
  ctx_.store.find_session(
      digest, ctx_.now_ms(),
      [this, &shard, digests = std::move(digests), i, digest](
          std::error_code ec, const std::optional<std::pair<store::StoredSession, store::StoredUser>>& found) mutable {
        const bool ended = !ec && !found;  // a store error proves nothing: the session stays
        shard.post([this, &shard, digests = std::move(digests), i, digest = std::move(digest), ended]() mutable {
          if (ended) {
            std::vector<net::Connection*> matched;
            shard.loop().for_each([&](net::Connection& c) {
              if (c.state() && Client::of(c).session == digest) matched.push_back(&c);
            });
            for (auto* c : matched) c->close(protocol::CloseCode::policy_violation, "signed out");
          }
          check_session(shard, std::move(digests), i + 1);
        });
      });
}

void Node::on_presence(std::string room, std::uint64_t version, std::string user, bool joined) {
  Shard& owner = ctx_.owner_of(room);
  owner.post([this, &owner, room = std::move(room), version, user = std::move(user), joined] {
    presence_.changed(owner, room, version, user, joined);
  });
}

void Node::on_presence_reset() { presence_.reset(); }

}  // namespace parley::node
