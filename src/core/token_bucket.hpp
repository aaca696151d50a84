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
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return true;
    }
    retry_after_ms = rate_ > 0 ? static_cast<std::int64_t>((1.0 - tokens_) * 1000.0 / rate_) + 1 : 1000;
    return false;
  }

 private:
  void refill(std::int64_t now_ms) {
    if (last_ms_ != 0 && now_ms > last_ms_) tokens_ = std::min(burst_, tokens_ + (now_ms - last_ms_) * rate_ / 1000.0);
    if (now_ms > last_ms_) last_ms_ = now_ms;
  }

  double rate_;
  double burst_;
  double tokens_;
  std::int64_t last_ms_ = 0;
};

}  // namespace parley::core
