#include "core/token_bucket.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace {

using parley::core::TokenBucket;

// Takes tokens at `now` until refused; returns how many were given.
int drain(TokenBucket& b, std::int64_t now, std::int64_t& retry) {
  int n = 0;
  while (b.take(now, retry)) {
    if (++n > 1000000) break;
  }
  return n;
}

constexpr std::int64_t kT0 = 1'700'000'000'000;  // a wall-clock time in ms, like node::now_ms()

TEST(TokenBucket, BurstThenRefusal) {
  TokenBucket b(10, 20);
  std::int64_t retry = -1;
  EXPECT_EQ(drain(b, kT0, retry), 20);
  EXPECT_FALSE(b.take(kT0, retry));
}

TEST(TokenBucket, RetryAfterIsTheTimeToTheNextToken) {
  TokenBucket b(10, 20);  // one token per 100 ms
  std::int64_t retry = -1;
  drain(b, kT0, retry);
  EXPECT_GE(retry, 100);
  EXPECT_LE(retry, 102);
  EXPECT_FALSE(b.take(kT0 + 50, retry));  // half a token saved up
  EXPECT_GE(retry, 50);
  EXPECT_LE(retry, 52);
  EXPECT_FALSE(b.take(kT0 + 99, retry));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 3);
  EXPECT_TRUE(b.take(kT0 + 100, retry));
}

TEST(TokenBucket, RetryAfterWaitingThatLongSucceeds) {
  for (double rate : {0.5, 1.0, 3.0, 10.0, 50.0, 1000.0}) {
    SCOPED_TRACE(rate);
    TokenBucket b(rate, 2);
    std::int64_t retry = -1;
    drain(b, kT0, retry);
    ASSERT_GT(retry, 0);
    EXPECT_TRUE(b.take(kT0 + retry, retry));
  }
}

TEST(TokenBucket, RefillsOverTime) {
  TokenBucket b(10, 20);
  std::int64_t retry = 0;
  drain(b, kT0, retry);
  EXPECT_EQ(drain(b, kT0 + 1000, retry), 10);  // one second: ten tokens
  EXPECT_EQ(drain(b, kT0 + 1500, retry), 5);
}

TEST(TokenBucket, SteadyRateIsSustained) {
  TokenBucket b(10, 1);
  std::int64_t retry = 0;
  int given = 0;
  for (std::int64_t t = 0; t < 10'000; t += 100) given += b.take(kT0 + t, retry) ? 1 : 0;
  EXPECT_EQ(given, 100);  // one every 100 ms for ten seconds
}

TEST(TokenBucket, FrequentCallsDoNotLoseTokens) {
  // Refusals refill too: a bucket asked every 10 ms must still give ten tokens a second.
  TokenBucket b(10, 1);
  std::int64_t retry = 0;
  int given = 0;
  for (std::int64_t t = 0; t < 10'000; t += 10) given += b.take(kT0 + t, retry) ? 1 : 0;
  EXPECT_GE(given, 99);
  EXPECT_LE(given, 101);
}

TEST(TokenBucket, NeverExceedsBurst) {
  TokenBucket b(10, 20);
  std::int64_t retry = 0;
  drain(b, kT0, retry);
  EXPECT_EQ(drain(b, kT0 + 3'600'000, retry), 20);
  TokenBucket fast(1000, 3);
  drain(fast, kT0, retry);
  EXPECT_EQ(drain(fast, kT0 + 10'000, retry), 3);
}

TEST(TokenBucket, ClockGoingBackwardsAddsNoTokens) {
  TokenBucket b(10, 20);
  std::int64_t retry = 0;
  drain(b, kT0 + 10'000, retry);
  EXPECT_FALSE(b.take(kT0, retry));           // ten seconds back
  EXPECT_FALSE(b.take(kT0 + 5'000, retry));   // still behind the last time seen
  EXPECT_FALSE(b.take(kT0 + 10'050, retry));  // half a token since the last time seen
  EXPECT_TRUE(b.take(kT0 + 10'100, retry));
  EXPECT_FALSE(b.take(kT0 + 10'100, retry));
}

TEST(TokenBucket, BackwardsAndForwardAgainDoesNotDoubleCount) {
  TokenBucket b(10, 20);
  std::int64_t retry = 0;
  drain(b, kT0 + 1'000, retry);
  EXPECT_FALSE(b.take(kT0, retry));
  EXPECT_EQ(drain(b, kT0 + 2'000, retry), 10);  // one second after the newest time, not two
}

TEST(TokenBucket, ZeroRateNeverRefills) {
  TokenBucket b(0, 3);
  std::int64_t retry = 0;
  EXPECT_EQ(drain(b, kT0, retry), 3);
  EXPECT_EQ(retry, 1000);
  EXPECT_EQ(drain(b, kT0 + 1'000'000, retry), 0);
}

TEST(TokenBucket, FractionalBurst) {
  TokenBucket b(1, 1.5);
  std::int64_t retry = 0;
  EXPECT_EQ(drain(b, kT0, retry), 1);
  EXPECT_EQ(drain(b, kT0 + 500, retry), 1);  // 0.5 + 0.5
}

TEST(TokenBucket, RefillsWhenTimeStartsAtZero) {
  // The header promises "tested with plain numbers": a clock that starts at 0 must behave like any other.
  TokenBucket b(10, 20);
  std::int64_t retry = 0;
  EXPECT_EQ(drain(b, 0, retry), 20);
  const int after_one_second = drain(b, 1000, retry);
  EXPECT_EQ(after_one_second, 10);
}

}  // namespace
