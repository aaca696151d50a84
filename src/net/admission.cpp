#include "net/admission.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>
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
  }
  return *this;
}

void Admission::Ticket::release() {
  if (!owner_) return;
  if (upgraded_) owner_->per_address_.close(address_);
  if (socket_) owner_->sockets_.fetch_sub(1, std::memory_order_relaxed);
  owner_ = nullptr;
  socket_ = upgraded_ = false;
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

bool Admission::accept_socket(Ticket& ticket, std::string address) {
  ticket.release();
  if (sockets_.fetch_add(1, std::memory_order_relaxed) >= max_sockets_) {
    sockets_.fetch_sub(1, std::memory_order_relaxed);
    counters_.refused_full.add();
    return false;
  }
  ticket.owner_ = this;
  ticket.socket_ = true;
  ticket.address_ = std::move(address);
  return true;
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
