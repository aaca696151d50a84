#include "node/shard.hpp"

#include <chrono>

#include "node/node.hpp"

namespace parley::node {

Shard::Shard(Node& node, unsigned index) : node_(node), index_(index), read_buffer_(256 * 1024) {
  if (node.options().io_uring_writes) send_batch_ = SendBatch::create();
  poller_.start();
}

void Shard::add_session(std::shared_ptr<Session> s) {
  const auto id = s->id();
  sessions_.emplace(id, std::move(s));
  metrics_.connections.add();
  metrics_.connections_total.add();
}

void Shard::remove_session(std::uint64_t id) {
  if (sessions_.erase(id)) metrics_.connections.sub();
}

Session* Shard::find_session(std::uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

OwnedRoom* Shard::find_owned(const std::string& room) {
  auto it = owned_.find(room);
  return it == owned_.end() ? nullptr : it->second.get();
}

void Shard::mark_dirty(Session& s) {
  dirty_.push_back(s.shared_from_this());
  schedule_flush();
}

void Shard::queue_append(PendingAppend p) {
  appends_.push_back(std::move(p));
  schedule_flush();
}

void Shard::delivered(std::int64_t arrived_ns) {
  if (arrived_ns <= 0) return;
  arrivals_.push_back(arrived_ns);
  schedule_flush();
}

void Shard::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // Posted behind every handler already queued: everything this turn produced goes out together.
  post([this] { on_flush(); });
}

void Shard::on_flush() {
  flush_scheduled_ = false;
  if (!appends_.empty()) {
    std::vector<PendingAppend> batch;
    batch.swap(appends_);
    node_.submit_appends(*this, std::move(batch));
  }
  std::vector<std::shared_ptr<Session>> dirty;
  dirty.swap(dirty_);
  if (send_batch_ && dirty.size() > 1) {
    // One system call for every write of this turn (a message to a room is a write per member).
    batched_.clear();
    for (auto& s : dirty)
      if (s->flush_into(*send_batch_)) batched_.push_back(s.get());
    send_batch_->submit(
        [this](std::size_t i, std::int64_t result, std::size_t total) { batched_[i]->sent(result, total); });
  } else {
    for (auto& s : dirty) s->flush();
  }
  // Keep the vector's capacity for the next turn.
  dirty.clear();
  if (dirty_.empty()) dirty_.swap(dirty);
  if (!arrivals_.empty()) {
    const std::int64_t now = steady_ns();
    for (std::int64_t a : arrivals_) metrics_.delivery.observe_between(a, now);
    arrivals_.clear();
  }
}

void Shard::start_ticker() {
  ticker_.expires_after(std::chrono::seconds(1));
  ticker_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_tick();
  });
}

void Shard::stop_ticker() {
  ticker_.cancel();
  presence_timer_.cancel();
}

void Shard::on_tick() {
  const auto now = now_ms();
  // Collect first: a tick may close a session, which removes it from sessions_.
  std::vector<std::shared_ptr<Session>> all;
  all.reserve(sessions_.size());
  for (auto& [id, s] : sessions_) all.push_back(s);
  for (auto& s : all) s->tick(now);
  node_.on_shard_tick(*this);
  start_ticker();
}

}  // namespace parley::node
