#pragma once
// Small helpers shared by the integration test files.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "harness.hpp"

namespace parley::it {

// Sends `req` (with a ref) and expects an error event with `code` carrying the same ref.
inline void expect_error(WsClient& c, json::object req, const std::string& code) {
  const std::string sent = dump(req);
  auto r = c.request(std::move(req));
  EXPECT_EQ(type_of(r), "error") << sent << " -> " << dump(r);
  EXPECT_EQ(str(r, "code"), code) << sent << " -> " << dump(r);
  EXPECT_FALSE(str(r, "message").empty()) << dump(r);
}

// The connection still answers a request.
inline void expect_alive(WsClient& c) {
  auto r = c.request({{"type", "ping"}});
  EXPECT_EQ(type_of(r), "pong") << dump(r);
  EXPECT_FALSE(c.closed());
}

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

inline std::vector<std::uint64_t> seqs_of(const std::vector<json::object>& msgs) {
  std::vector<std::uint64_t> out;
  for (const auto& m : msgs) out.push_back(u64(m, "seq"));
  return out;
}

inline std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

}  // namespace parley::it
