#pragma once
// The bytes of RESP, on either side of the Redis client's links: a hiredis reply as a RedisReply,
// a command as RESP (hiredis's formatter), a script's SHA-1, and the socket options that notice a
// silent peer. Internal to the broker (broker/redis_client.cpp, broker/redis_link.hpp).
#include <hiredis/read.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/redis_client.hpp"

struct redisReply;

namespace parley::broker::detail {

struct ReaderFree {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};

RedisReply convert(const redisReply* r);
// RESP for args, or an empty string when hiredis refuses (out of memory).
std::string format_command(const std::vector<std::string>& args);
std::string sha1_hex(std::string_view data);
// A peer that vanished without a reset (a partition, a dead host) is noticed within about
// timeout_ms, idle or not: keepalive probes while idle, TCP_USER_TIMEOUT while data is unacked.
void set_dead_peer_timeout(int fd, std::uint32_t timeout_ms);

}  // namespace parley::broker::detail
