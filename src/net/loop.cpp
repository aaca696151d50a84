#include "net/loop.hpp"

#include <chrono>

#include "net/send_batch.hpp"

namespace parley::net {

Loop::Loop(const LoopOptions& options) : options_(options), read_buffer_(std::size_t{256} * 1024) {
  if (options_.io_uring_writes) send_batch_ = SendBatch::create();
  poller_.start();
}

Loop::~Loop() = default;

void Loop::add(std::shared_ptr<Connection> c) {
  Connection& conn = *c;
  connections_.emplace(conn.id(), std::move(c));
  metrics_.connections.add();
  metrics_.connections_total.add();
  handler_->on_open(conn);
}

void Loop::remove(std::uint64_t id) {
  if (connections_.erase(id)) metrics_.connections.sub();
}

Connection* Loop::find(std::uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void Loop::mark_dirty(Connection& c) {
  dirty_.push_back(c.shared_from_this());
  schedule_turn_end();
}

void Loop::schedule_turn_end() {
  if (turn_end_scheduled_) return;
  turn_end_scheduled_ = true;
  // Posted behind every handler already queued: everything this turn produced goes out together.
  post([this] { on_turn_end(); });
}

void Loop::on_turn_end() {
  turn_end_scheduled_ = false;
  if (hooks_) hooks_->before_writes();
  std::vector<std::shared_ptr<Connection>> dirty;
  dirty.swap(dirty_);
  if (send_batch_ && dirty.size() > 1) {
    // One system call for every write of this turn (a message to a room is a write per member).
    batched_.clear();
    for (auto& c : dirty)
      if (c->flush_into(*send_batch_)) batched_.push_back(c.get());
    send_batch_->submit(
        [this](std::size_t i, std::int64_t result, std::size_t total) { batched_[i]->sent(result, total); });
  } else {
    for (auto& c : dirty) c->flush();
  }
  // Keep the vector's capacity for the next turn.
  dirty.clear();
  if (dirty_.empty()) dirty_.swap(dirty);
  if (hooks_) hooks_->after_writes();
}

void Loop::start_ticker() {
  ticker_.expires_after(std::chrono::seconds(1));
  ticker_.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_tick();
  });
}

void Loop::stop_ticker() { ticker_.cancel(); }

void Loop::on_tick() {
  const auto now = clock().now_ms();
  // Collect first: a tick may close a connection, which removes it from connections_.
  std::vector<std::shared_ptr<Connection>> all;
  all.reserve(connections_.size());
  for (auto& [id, c] : connections_) all.push_back(c);
  for (auto& c : all) c->tick(now);
  if (hooks_) hooks_->on_tick(now);
  start_ticker();
}

}  // namespace parley::net
