#include "server_metrics.hpp"

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bench {
namespace {

// The same over TLS (the server's certificate not checked): a blocking socket whose every call is
// bounded by `timeout_ms`.
std::string https_get(const Target& target, const char* path, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), sizeof target.addr) == 0 &&
      SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1) {
    const std::string req =
        std::string("GET ") + path + " HTTP/1.1\r\nHost: " + target.host_header + "\r\nConnection: close\r\n\r\n";
    std::size_t n = 0;
    if (SSL_write_ex(ssl, req.data(), req.size(), &n) == 1) {
      char buf[16384];
      while (out.size() < (4u << 20) && SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) out.append(buf, n);
    }
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return out;
}

// The whole answer to `GET path`, or empty on any failure. Blocking, bounded by `timeout_ms`
// in all.
std::string http_get(const Target& target, const char* path, int timeout_ms) {
  if (target.tls) return https_get(target, path, timeout_ms);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {};
  const auto deadline = now_ns() + static_cast<std::uint64_t>(timeout_ms) * 1'000'000;
  auto wait = [&](short events) {
    const auto now = now_ns();
    if (now >= deadline) return false;
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>((deadline - now) / 1'000'000) + 1) == 1;
  };
  std::string out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), sizeof target.addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return {};
  }
  const std::string req =
      std::string("GET ") + path + " HTTP/1.1\r\nHost: " + target.host_header + "\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < req.size()) {
    if (!wait(POLLOUT)) break;
    const auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  if (sent == req.size()) {
    char buf[16384];
    while (out.size() < (4u << 20) && wait(POLLIN)) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

double ServerHistogram::quantile(double q) const {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  const double rank = q * static_cast<double>(n);
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    if (static_cast<double>(cumulative[i]) < rank) continue;
    const double lower = i == 0 ? 0 : bounds_s[i - 1];
    if (std::isinf(bounds_s[i])) return lower;
    const double below = i == 0 ? 0 : static_cast<double>(cumulative[i - 1]);
    const double in = static_cast<double>(cumulative[i]) - below;
    return in > 0 ? lower + (bounds_s[i] - lower) * (rank - below) / in : lower;
  }
  return bounds_s.size() > 1 ? bounds_s[bounds_s.size() - 2] : 0;
}

ServerHistogram ServerHistogram::since(const ServerHistogram& earlier) const {
  ServerHistogram d = *this;
  if (earlier.cumulative.size() != cumulative.size()) return d;
  for (std::size_t i = 0; i < d.cumulative.size(); ++i)
    d.cumulative[i] = cumulative[i] >= earlier.cumulative[i] ? cumulative[i] - earlier.cumulative[i] : 0;
  return d;
}

namespace {

std::optional<ServerHistogram> parse_histogram(const std::string& body, const std::string& name) {
  const std::string prefix = name + "_bucket{le=\"";
  ServerHistogram h;
  std::size_t at = 0;
  while ((at = body.find(prefix, at)) != std::string::npos) {
    at += prefix.size();
    const auto quote = body.find('"', at);
    if (quote == std::string::npos) break;
    const std::string le = body.substr(at, quote - at);
    const auto space = body.find(' ', quote);
    if (space == std::string::npos) break;
    h.bounds_s.push_back(le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr));
    h.cumulative.push_back(std::strtoull(body.c_str() + space + 1, nullptr, 10));
    at = space;
  }
  if (h.bounds_s.empty() || !std::isinf(h.bounds_s.back())) return std::nullopt;
  return h;
}

}  // namespace

std::optional<ServerLatency> scrape_latency(const Target& target) {
  const std::string body = http_get(target, "/metrics", 1000);
  auto delivery = parse_histogram(body, "parley_delivery_seconds");
  if (!delivery) return std::nullopt;
  return ServerLatency{std::move(*delivery), parse_histogram(body, "parley_commit_seconds")};
}

}  // namespace bench
