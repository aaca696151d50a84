#pragma once
// The server's own view of a run: Parley's latency histograms, read from GET /metrics at the
// start and end of the measured window. parley_delivery_seconds runs from a message's arrival to
// its fan-out writes handed to the kernel: its difference with the generator's latency is the
// time the generator took to read what the server had written. parley_commit_seconds runs from
// the arrival to the commit, where the fan-out starts: the store's share. Servers without the
// metrics (the baselines) answer nothing usable: the result is then empty.
#include <cstdint>
#include <optional>
#include <vector>

#include "worker.hpp"

namespace bench {

struct ServerHistogram {
  std::vector<double> bounds_s;           // each bucket's upper bound; the last is +Inf
  std::vector<std::uint64_t> cumulative;  // observations at most that bound

  std::uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
  // The q-quantile in seconds, interpolated inside its bucket as Prometheus's
  // histogram_quantile() does (the +Inf bucket answers its lower bound).
  double quantile(double q) const;
  // This histogram minus an earlier one of the same server (same buckets).
  ServerHistogram since(const ServerHistogram& earlier) const;
};

struct ServerLatency {
  ServerHistogram delivery;
  std::optional<ServerHistogram> commit;  // a server from before parley_commit_seconds has none
};

// One GET /metrics on the target (bounded: 1 s, 4 MB); nullopt if there is no
// parley_delivery_seconds histogram in the answer.
std::optional<ServerLatency> scrape_latency(const Target& target);

}  // namespace bench
