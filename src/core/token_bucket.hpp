#pragma once
// A token bucket: `rate` tokens per second, at most `burst` saved up. Time is passed in, so the
// bucket is tested with plain numbers.
#include <algorithm>
#include <cstdint>

namespace parley::core {

class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes one token at `now_ms`; on refusal returns false and sets how long until one is there.
  bool take(std::int64_t now_ms, std::int64_t& retry_after_ms) {
    refill(now_ms);
    // Tokens are summed in binary floating point: ten refills of 0.1 make 0.9999999999999999.
    // A token counts as there when it is within kEpsilon of whole.
    if (tokens_ + kEpsilon >= 1.0) {
      tokens_ = std::max(0.0, tokens_ - 1.0);
      return true;
    }
    retry_after_ms = rate_ > 0 ? static_cast<std::int64_t>((1.0 - tokens_) * 1000.0 / rate_) + 1 : 1000;
    return false;
  }

 private:
  static constexpr double kEpsilon = 1e-9;

  void refill(std::int64_t now_ms) {
    if (!started_) {  // the first call only sets the clock: the bucket starts full
      started_ = true;
      last_ms_ = now_ms;
      return;
    }
    if (now_ms <= last_ms_) return;  // a clock going backwards adds nothing
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0);
    last_ms_ = now_ms;
  }

  double rate_;
  double burst_;
  double tokens_;
  std::int64_t last_ms_ = 0;
  bool started_ = false;
};

}  // namespace parley::core
