// The latency histogram behind parley_delivery_seconds and parley_commit_seconds: which bucket an
// observation lands in.
#include <gtest/gtest.h>

#include "core/metrics.hpp"

namespace parley::core {
namespace {

std::size_t bucket_of(std::uint64_t ns) {
  Histogram h;
  h.observe_ns(ns);
  for (std::size_t i = 0; i < h.buckets.size(); ++i)
    if (h.buckets[i].get() == 1) return i;
  return h.buckets.size();
}

TEST(Histogram, BoundsAreAscendingFrom20MicrosecondsTo5Seconds) {
  EXPECT_EQ(Histogram::bounds_ns.front(), 20'000u);
  EXPECT_EQ(Histogram::bounds_ns.back(), 5'000'000'000u);
  for (std::size_t i = 1; i < Histogram::bounded; ++i) {
    EXPECT_LT(Histogram::bounds_ns[i - 1], Histogram::bounds_ns[i]);
    // Steps of at most 5/3: an interpolated quantile is never far off.
    EXPECT_LE(Histogram::bounds_ns[i] * 3, Histogram::bounds_ns[i - 1] * 5) << i;
  }
}

TEST(Histogram, AnObservationGoesToTheFirstBucketThatHoldsIt) {
  EXPECT_EQ(bucket_of(0), 0u);
  EXPECT_EQ(bucket_of(20'000), 0u);  // a bound is "at most"
  EXPECT_EQ(bucket_of(20'001), 1u);
  EXPECT_EQ(bucket_of(100'000), 4u);
  EXPECT_EQ(bucket_of(100'001), 5u);
  EXPECT_EQ(bucket_of(1'000'000), 10u);
  EXPECT_EQ(bucket_of(1'000'001), 11u);
  EXPECT_EQ(bucket_of(4'200'000), 14u);  // (3 ms, 5 ms]
  EXPECT_EQ(bucket_of(5'000'000'000), Histogram::bounded - 1);
  EXPECT_EQ(bucket_of(5'000'000'001), Histogram::bounded);  // +Inf
  EXPECT_EQ(bucket_of(~std::uint64_t{0}), Histogram::bounded);
}

TEST(Histogram, SumsWhatItObserves) {
  Histogram h;
  h.observe_ns(250'000);
  h.observe_ns(2'750'000);
  EXPECT_EQ(h.sum_ns.get(), 3'000'000u);
  EXPECT_EQ(h.buckets[7].get(), 1u);   // (200 µs, 300 µs]
  EXPECT_EQ(h.buckets[13].get(), 1u);  // (2 ms, 3 ms]
}

}  // namespace
}  // namespace parley::core
