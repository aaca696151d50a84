// Connection floods: from one address, from many until the node is full, and until the process
// is out of descriptors. Each against a node with its default budgets, while an honest client
// (from its own address) chats and newcomers keep arriving.
#include <algorithm>

#include "hostile.hpp"

namespace parley::hostile {
namespace {

using namespace std::chrono_literals;

std::string refusals_of(Swarm& swarm) {
  std::map<std::string, std::size_t> m;
  for (std::size_t i = 0; i < swarm.size(); ++i) {
    const auto& c = swarm[i];
    if (c.status == 0) {
      // Connected and asked, no answer (waiting in a listen backlog); a connect not completed;
      // not begun (the attacker's window of connections in progress was full).
      if (c.state == Swarm::State::upgrading || c.state == Swarm::State::open) ++m["unanswered"];
      if (c.state == Swarm::State::connecting) ++m["connecting"];
      if (c.state == Swarm::State::waiting) ++m["not_started"];
      if (c.state == Swarm::State::closed) ++m["closed_unanswered"];
    } else if (c.status != 101) {
      ++m[std::to_string(c.status) + (c.refusal.empty() ? "" : "_" + c.refusal)];
    } else {
      ++m["101"];
    }
  }
  return counts(m);
}

// 15,000 connections from one address, held open. Before: every one upgraded and held. Now: an
// address opens limits.connect_rate_per_address (50/s, a burst of 200) and holds at most
// limits.max_connections_per_address (1,000; reached only after some 16 s at that rate); past
// either it is answered 429 at once.
TEST_F(HostileTest, ConnectionFloodFromOneAddress) {
  constexpr std::size_t kConnections = 15000;
  start_node();
  start_honest();
  Swarm swarm(port(), 2000);
  swarm.add(attacker_address(0), kConnections);
  const auto t0 = Clock::now();
  std::string stopped = "answered";
  swarm.run_for(8s, [&] {
    if (over_safety_cap()) {
      stopped = "safety_cap";
      return true;
    }
    return swarm.unanswered() == 0 && swarm.count(Swarm::State::waiting) == 0;
  });
  if (swarm.unanswered() > 0 && stopped == "answered") stopped = "time";
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::size_t upgraded = swarm.with_status(101);
  const std::size_t refused = swarm.with_status(429);
  const std::size_t unanswered = swarm.unanswered();
  // The attacker holds what it got for a moment more while the honest client chats.
  swarm.run_for(1s);
  const std::string seen = refusals_of(swarm);
  for (std::size_t i = 0; i < swarm.size(); ++i) swarm.drop(i);
  finish("connection_flood_one_address", "limits.connect_rate_per_address+max_connections_per_address",
         seen + ",server_fds_peak:" + std::to_string(rss_->peak_fds()) + ",stopped:" + stopped);
  expect_node_held(200, 2000ms);
  if (!asserting()) return;
  EXPECT_EQ(unanswered, 0U) << "every connection is answered at once";
  EXPECT_LE(static_cast<double>(upgraded), 200 + 50 * (seconds + 1)) << "the connect burst and rate";
  EXPECT_GT(refused, kConnections / 2) << "the rest are answered 429";
  for (std::size_t i = 0; i < swarm.size(); ++i)
    if (swarm[i].status == 429) {
      EXPECT_EQ(swarm[i].refusal, "too_many_connections");
      break;
    }
}

// One address holds at most limits.max_connections_per_address: 200 connections at once (its
// connect burst), then 4 more every 100 ms (under its connect rate) for two seconds, all held.
// (max_connections_per_address=100, not the default 1,000, which takes some 16 s of connecting at
// the default rate to reach.)
TEST_F(HostileTest, ConnectionsHeldPerAddress) {
  constexpr std::size_t kCap = 100;
  start_node({"limits.max_connections_per_address=" + std::to_string(kCap)});
  start_honest();
  Swarm swarm(port());
  swarm.add(attacker_address(0), 200);
  swarm.run_for(2500ms, {}, 100ms, [&] { swarm.add(attacker_address(0), 4); });
  swarm.run_for(1s, [&] { return swarm.unanswered() == 0 && swarm.count(Swarm::State::waiting) == 0; });
  const std::size_t upgraded = swarm.with_status(101);
  const std::size_t refused = swarm.with_status(429);
  const std::size_t attempts = swarm.size();
  const std::string seen = refusals_of(swarm);
  for (std::size_t i = 0; i < swarm.size(); ++i) swarm.drop(i);
  finish("connections_held_per_address", "limits.max_connections_per_address",
         seen + ",server_fds_peak:" + std::to_string(rss_->peak_fds()));
  expect_node_held(100, 2000ms);
  if (!asserting()) return;
  EXPECT_EQ(upgraded, kCap);
  EXPECT_EQ(refused, attempts - kCap);
}

// Connections from many addresses (each within its own budgets) until the node is full. Before:
// accepted until the process ran out of descriptors. Now: past limits.max_connections a new
// connection is answered 503 at once (Retry-After: 1), newcomers too, until some go; the
// connections already open keep working. (max_connections=2000, not the default of the descriptor
// limit less 256 (19,744 here), which would take more descriptors than this process may hold
// besides.)
TEST_F(HostileTest, NodeFull) {
  constexpr std::size_t kAddresses = 30, kPerAddress = 100, kMax = 2000;
  start_node({"limits.max_connections=" + std::to_string(kMax)});
  start_honest();
  Swarm swarm(port());
  for (std::size_t a = 0; a < kAddresses; ++a) swarm.add(attacker_address(a), kPerAddress);
  swarm.run_for(
      6s, [&] { return over_safety_cap() || (swarm.unanswered() == 0 && swarm.count(Swarm::State::waiting) == 0); });
  const std::size_t upgraded = swarm.with_status(101);
  const std::size_t refused = swarm.with_status(503);
  const std::size_t unanswered = swarm.unanswered();
  swarm.run_for(1500ms);  // full for a while: newcomers meet it
  const std::string seen = refusals_of(swarm);
  for (std::size_t i = 0; i < swarm.size(); ++i) swarm.drop(i);
  // Once the attacker lets go, newcomers get in again.
  std::this_thread::sleep_for(1500ms);
  finish("node_full", "limits.max_connections", seen + ",server_fds_peak:" + std::to_string(rss_->peak_fds()));
  expect_node_held(300, 2000ms, {503});
  if (!asserting()) return;
  EXPECT_EQ(unanswered, 0U) << "every connection is answered at once";
  EXPECT_LE(upgraded, kMax);
  EXPECT_GE(refused, kAddresses * kPerAddress - kMax) << "past max_connections: 503";
  for (std::size_t i = 0; i < swarm.size(); ++i)
    if (swarm[i].status == 503) {
      EXPECT_EQ(swarm[i].refusal, "overloaded");
      break;
    }
  EXPECT_GT(honest_->refusals().count(503) ? honest_->refusals().at(503) : 0, 0U)
      << "newcomers meet the full node too (the attacker holds every place)";
}

// 4,000 connections from 40 addresses (each within its own budgets, at most 1,000 under way at
// once) while the process runs out of descriptors before limits.max_connections (raised past the
// descriptor limit here: by default 256 are kept spare so that this does not happen; the
// server's RLIMIT_NOFILE is 1024 for this test). Before: the listener waited, and connections
// piled up unanswered in the listen backlog. Now: a reserve descriptor answers each 503 at once.
//
// Found by this test (fixed): each I/O thread's listener had a reserve of its own, and they raced
// for descriptor numbers; a listener whose reserve another thread's accept took had none from then
// on and left its backlog unanswered. Now one reserve serves the process, every accept4() takes
// one lock, and a lost reserve is opened again at the next chance (net/listener.cpp).
TEST_F(HostileTest, OutOfDescriptors) {
  constexpr std::size_t kAddresses = 40, kPerAddress = 100;
  start_node({"limits.max_connections=100000"}, 1024);
  start_honest();
  Swarm swarm(port());
  for (std::size_t a = 0; a < kAddresses; ++a) swarm.add(attacker_address(a), kPerAddress);
  swarm.run_for(
      4s, [&] { return over_safety_cap() || (swarm.unanswered() == 0 && swarm.count(Swarm::State::waiting) == 0); });
  const std::size_t refused = swarm.with_status(503);
  const std::size_t unanswered = swarm.unanswered();
  swarm.run_for(1s);
  const std::string seen = refusals_of(swarm);
  for (std::size_t i = 0; i < swarm.size(); ++i) swarm.drop(i);
  std::this_thread::sleep_for(1500ms);
  finish("out_of_descriptors", "reserve_descriptor(503)",
         seen + ",server_fds_peak:" + std::to_string(rss_->peak_fds()));
  expect_node_held(200, 2000ms, {503});
  if (!asserting()) return;
  EXPECT_EQ(unanswered, 0U) << "no connection is left waiting in the backlog";
  EXPECT_GT(refused, 0U);
  for (std::size_t i = 0; i < swarm.size(); ++i)
    if (swarm[i].status == 503) {
      EXPECT_EQ(swarm[i].refusal, "overloaded");
      break;
    }
}

}  // namespace
}  // namespace parley::hostile
