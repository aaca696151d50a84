#pragma once
// Budgets per key — a client address, a user — shared by every thread of a node: how many
// connections a key holds, and a token bucket per action it may take at a rate. One client with
// many connections (spread over the I/O threads by the kernel) meets one budget, not one per
// connection.
//
// Bounded: at most `max_keys` keys. A key with no connection open is idle; at the bound the least
// recently used idle key is forgotten to make room (its buckets start full again: a little
// lenient, never unbounded). With every key busy (each has a connection open), a new key is
// refused: every budget of it counts as spent. Size max_keys above the connection limit.
//
// Thread-safe: the keys are spread over stripes, each with its own mutex, held only for the
// bucket arithmetic (no I/O, no allocation but a new key's).
#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/token_bucket.hpp"

namespace parley::core {

class KeyedLimits {
 public:
  enum class Action : std::uint8_t { connect, send, request, create_room };
  static constexpr std::size_t action_count = 4;
  struct Rate {
    double rate = 0;   // tokens per second; 0 with burst 0: the action is not limited
    double burst = 0;  // tokens saved up
  };
  struct Options {
    std::array<Rate, action_count> rates{};
    std::size_t max_connections = 0;  // per key; 0: not limited
    std::size_t max_keys = 100000;
  };

  explicit KeyedLimits(const Options& options);

  // Takes a token of `action` for `key` at now_ms. False, with the wait until the next token, if
  // there is none (or the key cannot be held: retry_after_ms is then 1000).
  bool take(std::string_view key, Action action, std::int64_t now_ms, std::int64_t& retry_after_ms);
  // Counts a connection of `key` (and takes a connect token); anything but `ok` counts nothing.
  enum class Opened { ok, at_limit, too_fast, full };
  Opened open(std::string_view key, std::int64_t now_ms);
  // A connection of `key` that open() counted has closed.
  void close(std::string_view key);

  std::size_t keys() const;
  std::size_t connections(std::string_view key) const;

 private:
  struct Entry {
    std::string key;
    std::size_t connections = 0;
    std::vector<TokenBucket> buckets;
    std::list<Entry*>::iterator idle;  // its place in the stripe's idle list, if connections == 0
  };
  struct Stripe {
    mutable std::mutex mutex;
    std::unordered_map<std::string_view, std::unique_ptr<Entry>> entries;  // views into Entry::key
    std::list<Entry*> idle;                                                // idle entries, least recently used first
  };

  Stripe& stripe_of(std::string_view key) const;
  // The key's entry, made if need be; null if the stripe is full of busy keys.
  Entry* find_or_make_locked(Stripe& s, std::string_view key);
  void touch_locked(Stripe& s, Entry& e);

  Options options_;
  std::size_t per_stripe_;
  std::unique_ptr<Stripe[]> stripes_;
  static constexpr std::size_t stripe_count = 64;
};

}  // namespace parley::core
