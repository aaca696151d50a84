#include "broker/memory_broker.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <future>

#include "protocol/errc.hpp"

namespace parley::broker {

using protocol::errc;

MemoryCluster::MemoryCluster(std::size_t log_capacity)
    : guard_(boost::asio::make_work_guard(ctx_)), log_capacity_(log_capacity), thread_([this] { ctx_.run(); }) {}

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
      if (e->handler_) e->handler_->on_state(up);
    done.set_value();
  });
  done.get_future().wait();
}

MemoryBroker::~MemoryBroker() { stop(); }

void MemoryBroker::start() {
  std::promise<void> done;
  boost::asio::post(cluster_.ctx_, [&] {
    cluster_.endpoints_.insert(this);
    started_ = true;
    done.set_value();
  });
  done.get_future().wait();
}

void MemoryBroker::stop() {
  std::promise<void> done;
  boost::asio::post(cluster_.ctx_, [&] {
    cluster_.endpoints_.erase(this);
    started_ = false;
    done.set_value();
  });
  done.get_future().wait();
}

void MemoryBroker::publish(const core::Message& msg, PublishDone done) {
  boost::asio::post(cluster_.ctx_, [this, m = msg, done = std::move(done)]() mutable {
    if (!cluster_.up_) return done(errc::unavailable, {});
    auto& room = cluster_.rooms_[m.room];
    const std::string key = m.from + '\0' + m.cid;
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
      e->handler_->on_message(m);
    }
  });
}

void MemoryBroker::announce_room(const std::string& room, const std::string& by) {
  boost::asio::post(cluster_.ctx_, [this, room, by] {
    for (auto* e : cluster_.endpoints_)
      if (e != this && e->handler_) e->handler_->on_room_created(room, by);
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

}  // namespace parley::broker
