#pragma once
// What every part of a node works with: its options, its clock, the store, the broker (null: a
// node on its own) and the shards. Node owns it; the parts (Requests, RoomOwner, RoomDirectory,
// Delivery, ClusterSync, PresenceSync) each hold a reference.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.hpp"
#include "core/clock.hpp"
#include "core/keyed_limits.hpp"
#include "core/limits.hpp"
#include "net/admission.hpp"
#include "node/accounts.hpp"
#include "node/shard.hpp"
#include "store/store.hpp"

namespace parley::node {

struct NodeOptions {
  unsigned threads = 1;
  core::Limits limits;
  core::RoomOptions rooms;
  std::string default_room = "general";
  bool io_uring_writes = true;  // server.writes: each shard's writes of a loop turn in one io_uring submission
  // Cluster: the longest a client's join waits for the broker to catch its room up (a subscribe
  // waits for Redis to be back); then `unavailable`. broker.request_timeout_ms.
  std::uint32_t broker_wait_ms = 2000;
  // Where the node reads the time (tests move a core::ManualClock instead of sleeping).
  const core::Clock* clock = &core::system_clock();
  // A handler that throws is a bug. Off (production): it is logged and counted
  // (parley_handler_errors_total) and the thread goes on serving its other clients. On (tests,
  // server.fail_fast): the process aborts, so that the bug cannot hide behind a passing test.
  bool fail_fast = false;
  auth::AuthOptions auth;   // accounts, sign-in, guests (auth.*)
  core::FileOptions files;  // uploads (files.*; node/files.hpp)
  // The operator's JWTs in hello (auth.jwt_*: app/ reads the key once and builds it); null: none.
  std::shared_ptr<const auth::JwtVerifier> jwt;
};

struct NodeContext {
  NodeContext(NodeOptions o, store::Store& s, broker::Broker* b);

  NodeOptions options;
  store::Store& store;
  broker::Broker* broker;
  // What one client may do across all its connections and every thread: per client address
  // (sends, requests, room creations) and per user (sends, room creations). The connections an
  // address may hold are net::Admission's. Before the shards: their connections give back their
  // admission tickets when they go.
  core::KeyedLimits per_address;
  core::KeyedLimits per_user;
  net::Admission admission;
  // Accounts and sign-in sessions (/api/, and the token of a hello).
  Accounts accounts;
  std::vector<std::unique_ptr<Shard>> shards;
  // Over limits.max_memory_bytes (Node's tick): new work gets `overloaded`, new connections 503.
  std::atomic<bool> shedding{false};
  // Searches sent to the store and not answered yet, from every shard (limits.max_searches_in_flight).
  std::atomic<std::size_t> searches_in_flight{0};

  unsigned shard_count() const noexcept { return static_cast<unsigned>(shards.size()); }
  Shard& shard(unsigned i) const noexcept { return *shards[i]; }
  // The shard that owns `room` (orders it, on one node; follows it, in a cluster).
  Shard& owner_of(std::string_view room) const noexcept {
    return *shards[std::hash<std::string_view>{}(room) % shards.size()];
  }
  const core::Limits& limits() const noexcept { return options.limits; }
  const core::Clock& clock() const noexcept { return *options.clock; }
  std::int64_t now_ms() const noexcept { return options.clock->now_ms(); }
};

}  // namespace parley::node
