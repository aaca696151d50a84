#pragma once
// Counters of one shard. Written only by the shard's thread (relaxed load + store, no locked
// instruction on the hot path), read by whichever thread serves /metrics.
#include <atomic>
#include <cstdint>
#include <string>

namespace parley::node {

struct Counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) noexcept { v.store(v.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

struct ShardMetrics {
  Counter connections_total;
  Counter connections;        // gauge
  Counter http_requests;
  Counter frames_in;
  Counter messages_in;        // sends accepted (seq assigned)
  Counter messages_acked;
  Counter deliveries;         // events queued to sessions by fan-out
  Counter bytes_out;
  Counter writes;
  Counter outbound_bytes;     // gauge: queued and in flight
  Counter slow_consumer_closes;
  Counter protocol_closes;    // closes for 1002/1003/1007/1009
  Counter errors_sent;
  Counter rate_limited;
  Counter rooms_owned;        // gauge
  Counter room_lookups;       // rooms looked up in the broker's room index (cluster)
};

}  // namespace parley::node
