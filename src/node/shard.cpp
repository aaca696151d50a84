#include "node/shard.hpp"

#include "node/errors.hpp"
#include "protocol/events.hpp"

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

void Shard::on_tick(std::int64_t now_ms) {
  std::vector<std::uint64_t> late;
  for (const auto& [id, w] : waiters_)
    if (w.deadline_ms <= now_ms) late.push_back(id);
  for (const std::uint64_t id : late)
    answer_waiter(id, error_reply(protocol::errc::unavailable, "no answer in time; try again", {}));
  work_.on_tick(*this, now_ms);
}

std::uint64_t Shard::add_waiter(Waiter w, std::int64_t deadline_ms) {
  const std::uint64_t id = (std::uint64_t{1} << 63) | ++next_waiter_;
  waiters_.emplace(id, PendingWaiter{std::move(w), deadline_ms});
  return id;
}

bool Shard::answer_waiter(std::uint64_t id, const std::string& event) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return false;
  Waiter answer = std::move(it->second.answer);
  waiters_.erase(it);
  answer(event);
  return true;
}

}  // namespace parley::node
