#pragma once
// A log-linear histogram of nanosecond values: 32 sub-buckets per power of two (~3% precision),
// fixed size, cheap to record and to merge across processes.
#include <array>
#include <bit>
#include <cstdint>
#include <string>

namespace bench {

class Histogram {
 public:
  static constexpr int kSub = 5;  // log2 of sub-buckets per octave
  static constexpr int kBuckets = (64 - kSub + 1) << kSub;

  static int index(std::uint64_t v) noexcept {
    if (v < (1u << kSub)) return static_cast<int>(v);
    const int e = 63 - std::countl_zero(v);
    return ((e - kSub + 1) << kSub) + static_cast<int>((v >> (e - kSub)) & ((1u << kSub) - 1));
  }
  // The middle of a bucket's range.
  static double value(int idx) noexcept {
    if (idx < (1 << kSub)) return idx;
    const int e = (idx >> kSub) + kSub - 1;
    const std::uint64_t m = static_cast<std::uint64_t>(idx & ((1 << kSub) - 1));
    const double lower = static_cast<double>(((1ull << kSub) + m) << (e - kSub));
    return lower + static_cast<double>(1ull << (e - kSub)) / 2.0;
  }

  void record(std::uint64_t v) noexcept {
    ++counts_[static_cast<std::size_t>(index(v))];
    ++total_;
    if (v > max_) max_ = v;
  }
  void reset() noexcept {
    counts_.fill(0);
    total_ = 0;
    max_ = 0;
  }
  void add(int idx, std::uint64_t n) noexcept {
    if (idx < 0 || idx >= kBuckets) return;
    counts_[static_cast<std::size_t>(idx)] += n;
    total_ += n;
    const auto v = static_cast<std::uint64_t>(value(idx));
    if (v > max_) max_ = v;
  }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  // q in [0, 1]; 0 when empty.
  double quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[static_cast<std::size_t>(i)];
      if (seen >= rank) return value(i);
    }
    return static_cast<double>(max_);
  }

  // "idx:count,idx:count" of the non-empty buckets ("-" when empty).
  std::string serialize() const {
    std::string out;
    for (int i = 0; i < kBuckets; ++i) {
      const auto c = counts_[static_cast<std::size_t>(i)];
      if (!c) continue;
      if (!out.empty()) out.push_back(',');
      out += std::to_string(i) + ":" + std::to_string(c);
    }
    return out.empty() ? "-" : out;
  }
  void merge_serialized(const std::string& s) {
    if (s == "-") return;
    std::size_t pos = 0;
    while (pos < s.size()) {
      const auto colon = s.find(':', pos);
      if (colon == std::string::npos) break;
      auto comma = s.find(',', colon);
      if (comma == std::string::npos) comma = s.size();
      add(std::stoi(s.substr(pos, colon - pos)), std::stoull(s.substr(colon + 1, comma - colon - 1)));
      pos = comma + 1;
    }
  }

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace bench
