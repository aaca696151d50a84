#include "net/admission.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace parley::net {

namespace {

// The descriptors this process may have, less what the rest of the node keeps (the store, the
// broker, the logs, HTTP requests being answered).
std::size_t default_max_sockets() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 100000;
  const auto fds = static_cast<std::size_t>(r.rlim_cur);
  return fds > 512 ? fds - 256 : fds / 2;
}

core::KeyedLimits::Options per_address_options(const core::Limits& l) {
  core::KeyedLimits::Options o;
  o.rates[static_cast<std::size_t>(core::KeyedLimits::Action::connect)] = {l.connect_rate_per_address,
                                                                           l.connect_burst_per_address};
  o.max_connections = l.max_connections_per_address;
  o.max_keys = l.max_tracked_keys;
  return o;
}

}  // namespace

Admission::Ticket& Admission::Ticket::operator=(Ticket&& o) noexcept {
  if (this != &o) {
    release();
    owner_ = std::exchange(o.owner_, nullptr);
    address_ = std::move(o.address_);
    socket_ = std::exchange(o.socket_, false);
    upgraded_ = std::exchange(o.upgraded_, false);
    proxied_ = std::exchange(o.proxied_, false);
    secure_ = std::exchange(o.secure_, false);
  }
  return *this;
}

void Admission::Ticket::release() {
  if (!owner_) return;
  if (upgraded_) owner_->per_address_.close(address_);
  if (socket_) owner_->sockets_.fetch_sub(1, std::memory_order_relaxed);
  owner_ = nullptr;
  socket_ = upgraded_ = proxied_ = false;
}

Admission::Admission(const core::Limits& limits, const core::Clock& clock)
    : clock_(clock),
      max_sockets_(limits.max_connections ? limits.max_connections : default_max_sockets()),
      per_address_(per_address_options(limits)) {}

std::string Admission::address_key(const sockaddr* addr, socklen_t len) {
  char text[INET6_ADDRSTRLEN + 8] = {};
  if (addr && addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return text;
  }
  if (addr && addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      in_addr v4{};
      std::memcpy(&v4, in6->sin6_addr.s6_addr + 12, sizeof v4);
      ::inet_ntop(AF_INET, &v4, text, sizeof text);
      return text;
    }
    in6_addr prefix = in6->sin6_addr;
    std::memset(prefix.s6_addr + 8, 0, 8);  // the /64
    ::inet_ntop(AF_INET6, &prefix, text, sizeof text);
    return std::string(text) + "/64";
  }
  return "unknown";
}

bool Admission::accept_socket(Ticket& ticket, const sockaddr* peer, socklen_t len) {
  ticket.release();
  if (sockets_.fetch_add(1, std::memory_order_relaxed) >= max_sockets_) {
    sockets_.fetch_sub(1, std::memory_order_relaxed);
    counters_.refused_full.add();
    return false;
  }
  ticket.owner_ = this;
  ticket.socket_ = true;
  ticket.address_ = address_key(peer, len);
  ticket.proxied_ = !trusted_.empty() && trusted(peer, len);
  return true;
}

namespace {
// The address bytes of a peer (IPv4-mapped IPv6 as IPv4): family, and 4 or 16 bytes.
int peer_bytes(const sockaddr* addr, socklen_t len, std::uint8_t (&out)[16]) {
  if (addr && addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, 4);
    return AF_INET;
  }
  if (addr && addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      std::memcpy(out, a6.s6_addr + 12, 4);
      return AF_INET;
    }
    std::memcpy(out, a6.s6_addr, 16);
    return AF_INET6;
  }
  return AF_UNSPEC;
}
}  // namespace

void Admission::set_trusted_proxies(std::string_view list) {
  trusted_.clear();
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    const std::string text(item);
    const auto slash = text.find('/');
    const std::string host = text.substr(0, slash);
    Block b{};
    if (::inet_pton(AF_INET, host.c_str(), b.bytes) == 1) {
      b.family = AF_INET;
      b.prefix = 32;
    } else if (::inet_pton(AF_INET6, host.c_str(), b.bytes) == 1) {
      b.family = AF_INET6;
      b.prefix = 128;
    } else {
      throw std::invalid_argument("server.trusted_proxies: not an address: '" + text + "'");
    }
    if (slash != std::string::npos) {
      const std::string bits = text.substr(slash + 1);
      char* end = nullptr;
      const unsigned long n = std::strtoul(bits.c_str(), &end, 10);
      if (bits.empty() || *end != '\0' || n > b.prefix)
        throw std::invalid_argument("server.trusted_proxies: bad prefix length in '" + text + "'");
      b.prefix = static_cast<unsigned>(n);
    }
    trusted_.push_back(b);
  }
}

bool Admission::trusted(const sockaddr* peer, socklen_t len) const noexcept {
  std::uint8_t bytes[16] = {};
  const int family = peer_bytes(peer, len, bytes);
  for (const Block& b : trusted_) {
    if (b.family != family) continue;
    unsigned left = b.prefix;
    bool same = true;
    for (unsigned i = 0; left > 0 && same; ++i, left = left >= 8 ? left - 8 : 0) {
      const auto mask = static_cast<std::uint8_t>(left >= 8 ? 0xFF : (0xFF << (8 - left)) & 0xFF);
      same = (bytes[i] & mask) == (b.bytes[i] & mask);
    }
    if (same) return true;
  }
  return false;
}

Admission::Verdict Admission::admit(Ticket& ticket) {
  if (shedding()) {
    counters_.refused_shedding.add();
    return Verdict::shedding;
  }
  if (ticket.upgraded_) return Verdict::ok;
  if (per_address_.open(ticket.address_, clock_.now_ms()) != core::KeyedLimits::Opened::ok) {
    counters_.refused_address.add();
    return Verdict::address_limit;
  }
  ticket.owner_ = this;
  ticket.upgraded_ = true;
  return Verdict::ok;
}

}  // namespace parley::net
