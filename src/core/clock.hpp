#pragma once
// Time, as the node and its connections read it. The server runs on the system's clocks; tests
// that are about time passing (rate limits, typing throttles, timeouts) run on a ManualClock and
// move it instead of sleeping. Timers that wait (Asio's) still wait in real time: only readings
// come from here.
#include <atomic>
#include <cstdint>

namespace parley::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the epoch: message timestamps, rate limits, timeouts.
  virtual std::int64_t now_ms() const noexcept = 0;
  // Steady-clock nanoseconds, for durations inside this process (latency histograms).
  virtual std::int64_t steady_ns() const noexcept = 0;
};

// The system's clocks (std::chrono::system_clock and steady_clock).
const Clock& system_clock() noexcept;

// A clock that moves only when told to. Readable from any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t now_ms = 1'700'000'000'000) : ms_(now_ms) {}
  std::int64_t now_ms() const noexcept override { return ms_.load(std::memory_order_relaxed); }
  std::int64_t steady_ns() const noexcept override { return ns_.load(std::memory_order_relaxed); }
  void advance_ms(std::int64_t ms) noexcept {
    ms_.fetch_add(ms, std::memory_order_relaxed);
    ns_.fetch_add(ms * 1'000'000, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> ms_;
  std::atomic<std::int64_t> ns_{1};
};

}  // namespace parley::core
