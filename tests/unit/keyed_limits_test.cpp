// KeyedLimits: budgets per client address and per user, shared by every thread.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/keyed_limits.hpp"

namespace parley::core {
namespace {

using A = KeyedLimits::Action;
constexpr std::int64_t kT0 = 1'700'000'000'000;

KeyedLimits::Options sends(double rate, double burst, std::size_t max_keys = 1000, std::size_t max_connections = 0) {
  KeyedLimits::Options o;
  o.rates[static_cast<std::size_t>(A::send)] = {rate, burst};
  o.max_keys = max_keys;
  o.max_connections = max_connections;
  return o;
}

TEST(KeyedLimits, EachKeyHasItsOwnBucket) {
  KeyedLimits l(sends(1, 2));
  std::int64_t wait = 0;
  EXPECT_TRUE(l.take("203.0.113.1", A::send, kT0, wait));
  EXPECT_TRUE(l.take("203.0.113.1", A::send, kT0, wait));
  EXPECT_FALSE(l.take("203.0.113.1", A::send, kT0, wait));
  EXPECT_EQ(wait, 1001);
  EXPECT_TRUE(l.take("203.0.113.2", A::send, kT0, wait)) << "another address is not charged";
  EXPECT_TRUE(l.take("203.0.113.1", A::send, kT0 + 1001, wait)) << "and the first refills";
}

TEST(KeyedLimits, AnActionWithoutARateIsNotLimited) {
  KeyedLimits l(sends(1, 1));
  std::int64_t wait = 0;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(l.take("a", A::request, kT0, wait));
}

TEST(KeyedLimits, ConnectionsPerKeyAreCountedAndGivenBack) {
  KeyedLimits l(sends(0, 0, 1000, 2));
  EXPECT_EQ(l.open("a", kT0), KeyedLimits::Opened::ok);
  EXPECT_EQ(l.open("a", kT0), KeyedLimits::Opened::ok);
  EXPECT_EQ(l.open("a", kT0), KeyedLimits::Opened::at_limit);
  EXPECT_EQ(l.connections("a"), 2u);
  l.close("a");
  EXPECT_EQ(l.open("a", kT0), KeyedLimits::Opened::ok);
  l.close("nobody");  // a key never opened: nothing to give back
}

TEST(KeyedLimits, TheConnectRateIsPerKey) {
  KeyedLimits::Options o;
  o.rates[static_cast<std::size_t>(A::connect)] = {1, 2};
  KeyedLimits l(o);
  EXPECT_EQ(l.open("a", kT0), KeyedLimits::Opened::ok);
  EXPECT_EQ(l.open("a", kT0), KeyedLimits::Opened::ok);
  EXPECT_EQ(l.open("a", kT0), KeyedLimits::Opened::too_fast);
  EXPECT_EQ(l.open("b", kT0), KeyedLimits::Opened::ok);
}

TEST(KeyedLimits, IdleKeysAreForgottenAtTheBoundAndBusyKeysAreNot) {
  // 64 stripes, one key each: the bound is reached by the second key of a stripe.
  KeyedLimits l(sends(1, 1, 64));
  std::int64_t wait = 0;
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i) keys.push_back("k" + std::to_string(i));
  for (const auto& k : keys) ASSERT_TRUE(l.take(k, A::send, kT0, wait)) << k << ": idle keys make room";
  EXPECT_LE(l.keys(), 64u);
  // Every key of a full table busy (a connection open): a new key cannot be held, and its every
  // budget counts as spent.
  KeyedLimits busy(sends(1, 1, 64));
  std::size_t opened = 0, refused = 0;
  for (const auto& k : keys) (busy.open(k, kT0) == KeyedLimits::Opened::ok ? opened : refused)++;
  EXPECT_LE(opened, 64u);
  EXPECT_GT(refused, 0u);
}

TEST(KeyedLimits, ManyThreadsShareOneBudget) {
  KeyedLimits l(sends(0.001, 1000));
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::int64_t wait = 0;
      for (int i = 0; i < 1000; ++i)
        if (l.take("one address", A::send, kT0, wait)) taken.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 1000) << "4 threads x 1000 tries, one bucket of 1000";
}

}  // namespace
}  // namespace parley::core
