#pragma once
// Redis Cluster's key space, computed locally: a key's hash slot (CRC16/XMODEM of the key, or of
// its hash tag, mod 16384), and the slot map (which primary serves which slots) read from a
// CLUSTER SLOTS reply. Pure: no I/O (the RedisClusterBroker asks, this reads the answer).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/redis_client.hpp"

namespace parley::broker {

inline constexpr std::uint16_t kClusterSlots = 16384;

std::uint16_t crc16(std::string_view data) noexcept;
// The slot of `key`: of its hash tag when it has one ("{room}" in "p:{room}:seq": the part
// between the first '{' and the next '}', if not empty), as Redis computes it (CLUSTER KEYSLOT).
std::uint16_t key_slot(std::string_view key) noexcept;

struct SlotRange {
  std::uint16_t first = 0, last = 0;  // inclusive
  std::string primary;                // "host:port"
  std::string node_id;                // the primary's cluster node id (a failover changes it)
};

// The ranges of a CLUSTER SLOTS reply ([[first, last, [host, port, id], replicas...], ...]), or
// nullopt if it is not one. An empty host (a node that does not know its own address) is `seed_host`.
std::optional<std::vector<SlotRange>> parse_cluster_slots(const RedisReply& reply, const std::string& seed_host);

// A MOVED or ASK error reply ("MOVED 3999 127.0.0.1:6381"): its kind, slot and target.
struct Redirect {
  bool ask = false;
  std::uint16_t slot = 0;
  std::string target;  // "host:port"
};
std::optional<Redirect> parse_redirect(std::string_view error);

}  // namespace parley::broker
