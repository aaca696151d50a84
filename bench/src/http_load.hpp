#pragma once
// HTTP requests to the server's account API (/api/register, /api/login), many at once, for the
// authenticated scenarios: an epoll loop over `concurrency` connections, one request each
// (Connection: close: a sign-in costs tens of milliseconds of hashing, so a TCP handshake per
// request is noise, and every request can come from a source address of its own). Each
// connection binds a 127.0.x.y source address, so the server's per-address budgets see several
// clients, as they would in the field.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "worker.hpp"

namespace bench {

struct HttpRequest {
  std::string path;          // "/api/login"
  std::string body;          // JSON
  std::uint32_t source = 0;  // source IPv4 address, host order (127.x.y.z); 0: the kernel's choice
  std::uint64_t id = 0;      // the caller's
};

struct HttpAnswer {
  unsigned status = 0;  // 0: no answer (connection failed, closed early, or the deadline came)
  std::string body;
  std::uint64_t latency_ns = 0;  // connect → the whole answer
  std::string error;             // why status is 0
};

// Runs POST requests, `concurrency` at once: next() fills the following request (false: none
// more), done() gets each answer on this thread. Returns once next() has none more and none is in
// flight, once `stop` is set, or at `deadline_ns` (now_ns() clock); requests still in flight then
// are dropped without a done().
void run_http(const Target& target, unsigned concurrency, const std::function<bool(HttpRequest&)>& next,
              const std::function<void(const HttpRequest&, HttpAnswer&&)>& done, const std::atomic<bool>& stop,
              std::uint64_t deadline_ns);

// The string value of `"key":"…"` in a JSON body (no escapes: tokens and codes have none).
std::string json_string(const std::string& body, const std::string& key);

}  // namespace bench
