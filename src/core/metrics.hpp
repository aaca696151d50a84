#pragma once
// Counters and latency histograms, each written by one thread (relaxed load + store, no locked
// instruction on the hot path) and read by whichever thread serves /metrics. The sets of them are
// each layer's own (net::LoopMetrics, node::ShardMetrics); node/metrics.cpp renders them.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace parley::core {

struct Counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) noexcept { v.store(v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

// A counter several threads add to (a locked add: for what is not on the hot path).
struct SharedCounter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

// A latency histogram: bucket i counts observations of at most bounds_ns[i] (20 µs to 5 s in
// steps of 1.3x to 1.7x, so that a quantile interpolated inside a bucket is never far off), the
// last bucket everything above. Written by one thread, like Counter; the Prometheus text
// (cumulative buckets, sum, count) is summed over shards.
struct Histogram {
  static constexpr std::array<std::uint64_t, 33> bounds_ns = {
      20'000,        30'000,        50'000,        70'000,        100'000,      150'000,     200'000,
      300'000,       500'000,       700'000,       1'000'000,     1'500'000,    2'000'000,   3'000'000,
      5'000'000,     7'000'000,     10'000'000,    15'000'000,    20'000'000,   30'000'000,  50'000'000,
      70'000'000,    100'000'000,   150'000'000,   200'000'000,   300'000'000,  500'000'000, 700'000'000,
      1'000'000'000, 1'500'000'000, 2'000'000'000, 3'000'000'000, 5'000'000'000};
  static constexpr std::size_t bounded = bounds_ns.size();

  std::array<Counter, bounded + 1> buckets;
  Counter sum_ns;

  void observe_ns(std::uint64_t ns) noexcept {
    const auto i =
        static_cast<std::size_t>(std::lower_bound(bounds_ns.begin(), bounds_ns.end(), ns) - bounds_ns.begin());
    buckets[i].add();
    sum_ns.add(ns);
  }
  // The time from `start_ns` to `now_ns` (steady clock readings); a start after now counts as 0.
  void observe_between(std::int64_t start_ns, std::int64_t now_ns) noexcept {
    observe_ns(now_ns > start_ns ? static_cast<std::uint64_t>(now_ns - start_ns) : 0);
  }
};

}  // namespace parley::core
