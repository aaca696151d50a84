#include "node/shard.hpp"

namespace parley::node {

Shard::Shard(const net::LoopOptions& loop, ShardWork& work) : loop_(loop), work_(work) { loop_.set_hooks(*this); }

Client* Shard::find_client(std::uint64_t id) {
  net::Connection* c = loop_.find(id);
  return c && c->state() ? &Client::of(*c) : nullptr;
}

OwnedRoom* Shard::find_owned(const std::string& room) {
  auto it = owned_.find(room);
  return it == owned_.end() ? nullptr : it->second.get();
}

void Shard::queue_append(PendingAppend p) {
  appends_.push_back(std::move(p));
  loop_.schedule_turn_end();
}

void Shard::delivered(std::int64_t arrived_ns) {
  if (arrived_ns <= 0) return;
  arrivals_.push_back(arrived_ns);
  loop_.schedule_turn_end();
}

void Shard::stop_ticker() {
  loop_.stop_ticker();
  presence_timer_.cancel();
}

void Shard::before_writes() {
  if (appends_.empty()) return;
  std::vector<PendingAppend> batch;
  batch.swap(appends_);
  work_.submit_appends(*this, std::move(batch));
}

void Shard::after_writes() {
  if (arrivals_.empty()) return;
  const std::int64_t now = clock().steady_ns();
  for (std::int64_t a : arrivals_) metrics_.delivery.observe_between(a, now);
  arrivals_.clear();
}

void Shard::on_tick(std::int64_t now_ms) { work_.on_tick(*this, now_ms); }

}  // namespace parley::node
