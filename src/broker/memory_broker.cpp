#include "broker/memory_broker.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <future>

#include "protocol/errc.hpp"

namespace parley::broker {

using protocol::errc;

MemoryCluster::MemoryCluster(std::size_t log_capacity, std::chrono::milliseconds node_timeout)
    : guard_(boost::asio::make_work_guard(ctx_)),
      log_capacity_(log_capacity),
      node_timeout_(node_timeout),
      thread_([this] { ctx_.run(); }) {}

MemoryCluster::~MemoryCluster() {
  guard_.reset();
  ctx_.stop();
  thread_.join();
}

std::unique_ptr<MemoryBroker> MemoryCluster::endpoint() { return std::make_unique<MemoryBroker>(*this); }

void MemoryCluster::drop_next(MemoryBroker* to, int n) {
  std::promise<void> done;
  boost::asio::post(ctx_, [&] {
    drops_[to] += n;
    done.set_value();
  });
  done.get_future().wait();
}

void MemoryCluster::set_up(bool up) {
  std::promise<void> done;
  boost::asio::post(ctx_, [&] {
    up_.store(up);
    for (auto* e : endpoints_)
      if (e->handler_ && !e->crashed_) e->handler_->on_state(up);
    done.set_value();
  });
  done.get_future().wait();
}

void MemoryCluster::restart_empty() {
  set_up(false);
  std::promise<void> done;
  boost::asio::post(ctx_, [&] {
    rooms_.clear();
    room_index_.clear();
    presence_.clear();
    node_users_.clear();
    heartbeats_.clear();
    epoch_.fetch_add(1);
    done.set_value();
  });
  done.get_future().wait();
  set_up(true);
}

void MemoryCluster::crash(MemoryBroker* node) {
  std::promise<void> done;
  boost::asio::post(ctx_, [&] {
    node->crashed_ = true;
    node->beat_timer_.reset();
    done.set_value();
  });
  done.get_future().wait();
}

void MemoryCluster::presence_publish(const std::string& room, const std::string& user, bool joined) {
  const std::uint64_t version = ++presence_[room].version;
  for (auto* e : endpoints_)
    if (e->handler_ && !e->crashed_ && e->rooms_.count(room)) e->handler_->on_presence(room, version, user, joined);
}

void MemoryCluster::presence_add(const std::string& id, const std::string& room, const std::string& user) {
  if (!node_users_[id][room].insert(user).second) return;
  if (++presence_[room].users[user] == 1) presence_publish(room, user, true);
}

void MemoryCluster::presence_remove(const std::string& id, const std::string& room, const std::string& user) {
  auto node = node_users_.find(id);
  if (node == node_users_.end()) return;
  auto r = node->second.find(room);
  if (r == node->second.end() || r->second.erase(user) == 0) return;
  if (r->second.empty()) node->second.erase(r);
  if (node->second.empty()) node_users_.erase(node);
  auto& users = presence_[room].users;
  if (auto it = users.find(user); it != users.end() && --it->second <= 0) {
    users.erase(it);
    presence_publish(room, user, false);
  }
}

void MemoryCluster::drop_node(const std::string& id) {
  auto node = node_users_.find(id);
  if (node == node_users_.end()) return;
  const auto rooms = node->second;  // presence_remove edits the original
  for (const auto& [room, users] : rooms)
    for (const auto& user : users) presence_remove(id, room, user);
  node_users_.erase(id);
}

void MemoryCluster::beat(MemoryBroker* e) {
  if (e->crashed_ || !e->started_) return;
  if (up_) {
    // As the Redis script does: renew our heartbeat, then remove every node whose heartbeat is
    // gone. Ours gone (we were removed while away): restate our presence.
    const auto now = std::chrono::steady_clock::now();
    auto own = heartbeats_.find(e->id_);
    const bool existed = own != heartbeats_.end() && own->second > now;
    heartbeats_[e->id_] = now + node_timeout_;
    std::vector<std::string> dead;
    for (const auto& [id, users] : node_users_) {
      auto hb = heartbeats_.find(id);
      if (hb == heartbeats_.end() || hb->second <= now) dead.push_back(id);
    }
    for (const auto& id : dead) drop_node(id);
    for (auto it = heartbeats_.begin(); it != heartbeats_.end();)
      it = it->second <= now ? heartbeats_.erase(it) : std::next(it);
    if (!existed && e->handler_) e->handler_->on_presence_reset();
  }
  e->beat_timer_->expires_after(std::max(node_timeout_ / 5, std::chrono::milliseconds(10)));
  e->beat_timer_->async_wait([this, e](const boost::system::error_code& ec) {
    if (!ec) beat(e);
  });
}

MemoryBroker::~MemoryBroker() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("broker: stopping the in-process broker failed: {}", e.what());
  }
}

void MemoryBroker::start() {
  std::promise<void> done;
  boost::asio::post(cluster_.ctx_, [&] {
    if (started_) return done.set_value();
    cluster_.endpoints_.insert(this);
    started_ = true;
    if (id_.empty()) id_ = std::to_string(++cluster_.next_id_).insert(0, 1, 'm');
    cluster_.heartbeats_[id_] = std::chrono::steady_clock::now() + cluster_.node_timeout_;
    beat_timer_ = std::make_unique<boost::asio::steady_timer>(cluster_.ctx_);
    cluster_.beat(this);
    done.set_value();
  });
  done.get_future().wait();
}

void MemoryBroker::stop() {
  std::promise<void> done;
  boost::asio::post(cluster_.ctx_, [&] {
    if (started_ && !crashed_) {
      // A drain: this node's members leave now, not after the timeout.
      cluster_.drop_node(id_);
      cluster_.heartbeats_.erase(id_);
    }
    cluster_.endpoints_.erase(this);
    started_ = false;
    beat_timer_.reset();
    done.set_value();
  });
  done.get_future().wait();
}

void MemoryBroker::publish(const core::Message& msg, PublishDone done) {
  publish_in_epoch(msg, epoch(msg.room), std::move(done));
}

void MemoryBroker::publish_in_epoch(const core::Message& msg, std::uint64_t epoch, PublishDone done) {
  boost::asio::post(cluster_.ctx_, [this, m = msg, epoch, done = std::move(done)]() mutable {
    if (!cluster_.up_ || epoch != cluster_.epoch_.load()) return done(errc::unavailable, {});
    auto& room = cluster_.rooms_[m.room];
    const std::string key = core::sender_key(m) + '\0' + m.cid;
    if (auto it = room.cids.find(key); it != room.cids.end())
      return done({}, Published{it->second.first, it->second.second, true});
    room.seq = std::max(room.seq, m.seq);  // the caller's floor
    m.seq = ++room.seq;
    room.cids.emplace(key, std::make_pair(m.seq, m.ts));
    room.cid_order.push_back(key);
    if (room.cid_order.size() > cluster_.log_capacity_) {
      room.cids.erase(room.cid_order.front());
      room.cid_order.pop_front();
    }
    room.log.push_back(m);
    if (room.log.size() > cluster_.log_capacity_) room.log.pop_front();
    done({}, Published{m.seq, m.ts, false});
    for (auto* e : cluster_.endpoints_) {
      if (!e->rooms_.count(m.room) || !e->handler_) continue;
      if (auto d = cluster_.drops_.find(e); d != cluster_.drops_.end() && d->second > 0) {
        --d->second;  // the test hook: this node misses the message
        continue;
      }
      if (!e->crashed_) e->handler_->on_message(m);
    }
  });
}

void MemoryBroker::announce_room(const std::string& room, const std::string& by, AnnounceDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, by, done = std::move(done)] {
    // While "down" the record still lands (Redis would send it after the reconnect); `done`
    // reports that it could not be confirmed.
    // The first creator stays, as with HSETNX, and only its announcement goes out.
    if (!cluster_.room_index_.emplace(room, by).second) {
      if (done) done(cluster_.up_ ? std::error_code(errc::room_exists) : std::error_code(errc::unavailable));
      return;
    }
    if (done) done(cluster_.up_ ? std::error_code() : std::error_code(errc::unavailable));
    for (auto* e : cluster_.endpoints_)
      if (e != this && e->handler_ && !e->crashed_) e->handler_->on_room_created(room, by);
  });
}

void MemoryBroker::announce_access(const std::string& room, const std::string& user_id) {
  boost::asio::post(cluster_.ctx_, [this, room, user_id] {
    if (!cluster_.up_) return;  // Pub/Sub while down: lost (the nodes read every room again once up)
    for (auto* e : cluster_.endpoints_)
      if (e != this && e->handler_ && !e->crashed_) e->handler_->on_access_changed(room, user_id);
  });
}

void MemoryBroker::announce_sessions_ended(const std::string& user_id, const std::string& digest,
                                           const std::string& keep) {
  boost::asio::post(cluster_.ctx_, [this, user_id, digest, keep] {
    if (!cluster_.up_) return;
    for (auto* e : cluster_.endpoints_)
      if (e != this && e->handler_ && !e->crashed_) e->handler_->on_sessions_ended(user_id, digest, keep);
  });
}

// The admin API's announcements reach every endpoint, this one too (as Redis Pub/Sub does).
void MemoryBroker::announce_node_stats(const std::string& stats) {
  boost::asio::post(cluster_.ctx_, [this, stats] {
    if (!cluster_.up_ || crashed_) return;
    for (auto* e : cluster_.endpoints_)
      if (e->handler_ && !e->crashed_) e->handler_->on_node_stats(id_, stats);
  });
}

void MemoryBroker::announce_disconnect(const std::string& name_key, const std::string& reason) {
  boost::asio::post(cluster_.ctx_, [this, name_key, reason] {
    if (!cluster_.up_) return;
    for (auto* e : cluster_.endpoints_)
      if (e->handler_ && !e->crashed_) e->handler_->on_disconnect_requested(name_key, reason);
  });
}

void MemoryBroker::announce_drain(const std::string& node_id) {
  boost::asio::post(cluster_.ctx_, [this, node_id] {
    if (!cluster_.up_) return;
    for (auto* e : cluster_.endpoints_)
      if (e->handler_ && !e->crashed_) e->handler_->on_drain_requested(node_id);
  });
}

void MemoryBroker::delete_room(const std::string& room, const std::string& by, AnnounceDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, by, done = std::move(done)] {
    if (!cluster_.up_ || crashed_) return done(errc::unavailable);
    // As Redis: the room's counter, log and cids, and its record in the index; then announced to
    // every endpoint, this one too.
    cluster_.rooms_.erase(room);
    cluster_.room_index_.erase(room);
    done({});
    for (auto* e : cluster_.endpoints_)
      if (e->handler_ && !e->crashed_) e->handler_->on_room_deleted(room, by);
  });
}

std::string MemoryBroker::node_id() const { return id_; }

void MemoryBroker::announce_read(const ReadNotice& notice) {
  boost::asio::post(cluster_.ctx_, [this, notice] {
    if (!cluster_.up_) return;
    for (auto* e : cluster_.endpoints_)
      if (e != this && e->handler_ && !e->crashed_) e->handler_->on_read(notice);
  });
}

void MemoryBroker::announce_name_registered(const std::string& name_key) {
  boost::asio::post(cluster_.ctx_, [this, name_key] {
    if (!cluster_.up_) return;
    for (auto* e : cluster_.endpoints_)
      if (e != this && e->handler_ && !e->crashed_) e->handler_->on_name_registered(name_key);
  });
}

void MemoryBroker::lookup_room(const std::string& room, LookupDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, done = std::move(done)] {
    if (!cluster_.up_) return done(errc::unavailable, std::nullopt);
    auto it = cluster_.room_index_.find(room);
    if (it == cluster_.room_index_.end()) return done({}, std::nullopt);
    done({}, it->second);
  });
}

void MemoryBroker::subscribe(const std::string& room, std::function<void(std::error_code)> done) {
  boost::asio::post(cluster_.ctx_, [this, room, done = std::move(done)] {
    rooms_.insert(room);
    if (done) done(cluster_.up_ ? std::error_code() : std::error_code(errc::unavailable));
  });
}

void MemoryBroker::unsubscribe(const std::string& room) {
  boost::asio::post(cluster_.ctx_, [this, room] { rooms_.erase(room); });
}

void MemoryBroker::fetch(const std::string& room, std::uint64_t after, std::size_t limit, FetchDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, after, limit, done = std::move(done)] {
    if (!cluster_.up_) return done(errc::unavailable, {});
    std::vector<core::Message> out;
    auto it = cluster_.rooms_.find(room);
    if (it != cluster_.rooms_.end())
      for (const auto& m : it->second.log)
        if (m.seq > after && out.size() < limit) out.push_back(m);
    done({}, std::move(out));
  });
}

void MemoryBroker::last_seqs(const std::vector<std::string>& rooms, SeqDone done) {
  boost::asio::post(cluster_.ctx_, [this, rooms, done = std::move(done)] {
    if (!cluster_.up_) return done(errc::unavailable, {});
    std::vector<std::uint64_t> out;
    for (const auto& r : rooms) {
      auto it = cluster_.rooms_.find(r);
      out.push_back(it == cluster_.rooms_.end() ? 0 : it->second.seq);
    }
    done({}, std::move(out));
  });
}

void MemoryBroker::presence_join(const std::string& room, const std::string& user, PresenceDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, user, done = std::move(done)] {
    if (crashed_) return;
    if (!cluster_.up_) return done ? done(errc::unavailable) : void();
    cluster_.presence_add(id_, room, user);
    if (done) done({});
  });
}

void MemoryBroker::presence_leave(const std::string& room, const std::string& user, PresenceDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, user, done = std::move(done)] {
    if (crashed_) return;
    if (!cluster_.up_) return done ? done(errc::unavailable) : void();
    cluster_.presence_remove(id_, room, user);
    if (done) done({});
  });
}

void MemoryBroker::presence_sync(const std::string& room, std::vector<std::string> users, PresenceDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, users = std::move(users), done = std::move(done)] {
    if (crashed_) return;
    if (!cluster_.up_) return done ? done(errc::unavailable) : void();
    const std::set<std::string> want(users.begin(), users.end());
    std::set<std::string> have;
    if (auto node = cluster_.node_users_.find(id_); node != cluster_.node_users_.end())
      if (auto r = node->second.find(room); r != node->second.end()) have = r->second;
    for (const auto& u : have)
      if (!want.count(u)) cluster_.presence_remove(id_, room, u);
    for (const auto& u : want)
      if (!have.count(u)) cluster_.presence_add(id_, room, u);
    if (done) done({});
  });
}

void MemoryBroker::presence_members(const std::string& room, MembersDone done) {
  boost::asio::post(cluster_.ctx_, [this, room, done = std::move(done)] {
    if (crashed_) return;
    if (!cluster_.up_) return done(errc::unavailable, {});
    PresenceSnapshot snap;
    if (auto it = cluster_.presence_.find(room); it != cluster_.presence_.end()) {
      snap.version = it->second.version;
      for (const auto& [user, n] : it->second.users) snap.users.push_back(user);
    }
    done({}, std::move(snap));
  });
}

void MemoryBroker::presence_counts(const std::vector<std::string>& rooms, CountsDone done) {
  boost::asio::post(cluster_.ctx_, [this, rooms, done = std::move(done)] {
    if (crashed_) return;
    if (!cluster_.up_) return done(errc::unavailable, {});
    std::vector<std::size_t> out;
    out.reserve(rooms.size());
    for (const auto& r : rooms) {
      auto it = cluster_.presence_.find(r);
      out.push_back(it == cluster_.presence_.end() ? 0 : it->second.users.size());
    }
    done({}, std::move(out));
  });
}

}  // namespace parley::broker
