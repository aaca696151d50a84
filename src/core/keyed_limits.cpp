#include "core/keyed_limits.hpp"

#include <algorithm>
#include <functional>

namespace parley::core {

KeyedLimits::KeyedLimits(const Options& options)
    : options_(options),
      per_stripe_(std::max<std::size_t>(1, (options.max_keys + stripe_count - 1) / stripe_count)),
      stripes_(std::make_unique<Stripe[]>(stripe_count)) {}

KeyedLimits::Stripe& KeyedLimits::stripe_of(std::string_view key) const {
  return stripes_[std::hash<std::string_view>{}(key) % stripe_count];
}

void KeyedLimits::touch_locked(Stripe& s, Entry& e) {
  if (e.connections > 0) return;
  s.idle.splice(s.idle.end(), s.idle, e.idle);  // most recently used last
}

KeyedLimits::Entry* KeyedLimits::find_or_make_locked(Stripe& s, std::string_view key) {
  if (auto it = s.entries.find(key); it != s.entries.end()) {
    touch_locked(s, *it->second);
    return it->second.get();
  }
  if (s.entries.size() >= per_stripe_) {
    if (s.idle.empty()) return nullptr;  // every key here has a connection open
    Entry* oldest = s.idle.front();
    s.idle.pop_front();
    s.entries.erase(oldest->key);
  }
  auto e = std::make_unique<Entry>();
  e->key.assign(key);
  e->buckets.reserve(action_count);
  for (const Rate& r : options_.rates) e->buckets.emplace_back(r.rate, r.burst);
  e->idle = s.idle.insert(s.idle.end(), e.get());
  Entry* raw = e.get();
  s.entries.emplace(raw->key, std::move(e));
  return raw;
}

bool KeyedLimits::take(std::string_view key, Action action, std::int64_t now_ms, std::int64_t& retry_after_ms) {
  const auto i = static_cast<std::size_t>(action);
  if (options_.rates[i].rate <= 0) return true;  // not limited
  Stripe& s = stripe_of(key);
  std::lock_guard lock(s.mutex);
  Entry* e = find_or_make_locked(s, key);
  if (!e) {
    retry_after_ms = 1000;
    return false;
  }
  return e->buckets[i].take(now_ms, retry_after_ms);
}

KeyedLimits::Opened KeyedLimits::open(std::string_view key, std::int64_t now_ms) {
  Stripe& s = stripe_of(key);
  std::lock_guard lock(s.mutex);
  Entry* e = find_or_make_locked(s, key);
  if (!e) return Opened::full;
  if (options_.max_connections > 0 && e->connections >= options_.max_connections) return Opened::at_limit;
  const auto connect = static_cast<std::size_t>(Action::connect);
  std::int64_t wait = 0;
  if (options_.rates[connect].rate > 0 && !e->buckets[connect].take(now_ms, wait)) return Opened::too_fast;
  if (e->connections++ == 0) s.idle.erase(e->idle);
  return Opened::ok;
}

void KeyedLimits::close(std::string_view key) {
  Stripe& s = stripe_of(key);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end() || it->second->connections == 0) return;
  Entry& e = *it->second;
  if (--e.connections == 0) e.idle = s.idle.insert(s.idle.end(), &e);
}

std::size_t KeyedLimits::keys() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < stripe_count; ++i) {
    std::lock_guard lock(stripes_[i].mutex);
    n += stripes_[i].entries.size();
  }
  return n;
}

std::size_t KeyedLimits::connections(std::string_view key) const {
  Stripe& s = stripe_of(key);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  return it == s.entries.end() ? 0 : it->second->connections;
}

}  // namespace parley::core
