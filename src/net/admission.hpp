#pragma once
// Who may connect, for every loop of a node, so that no one address and no crowd can take the
// node's descriptors or memory:
//  - sockets: every accepted socket counts against max_connections (checked at accept; past it
//    the socket is answered 503 and closed at once instead of waiting in the listen backlog);
//  - addresses: each client address's open WebSocket connections and connection rate (checked at
//    the upgrade, when the address is known: after a trusted proxy's PROXY header; 429 past
//    either);
//  - shedding: while the node is over its memory budget, upgrades are refused with 503.
// Thread-safe: the loops of a node share one. A Ticket gives back what it took when it goes.
#include <sys/socket.h>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/keyed_limits.hpp"
#include "core/limits.hpp"
#include "core/metrics.hpp"

namespace parley::net {

class Admission {
 public:
  // What one connection holds: a socket, and once upgraded a place in its address's budget.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& o) noexcept { *this = std::move(o); }
    Ticket& operator=(Ticket&& o) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }
    void release();
    const std::string& address() const noexcept { return address_; }
    // Accepted from a trusted proxy: its first bytes may be a PROXY v2 header naming the client.
    bool from_trusted_proxy() const noexcept { return proxied_; }
    // The client's connection is encrypted: TLS to this node, or to the trusted proxy that says
    // so in its PROXY header (HAProxy's send-proxy-v2-ssl). Cookies are then Secure.
    bool secure() const noexcept { return secure_; }
    void set_secure() noexcept { secure_ = true; }

   private:
    friend class Admission;
    Admission* owner_ = nullptr;
    std::string address_;  // the budget's key: "203.0.113.7", "2001:db8:1:2::/64"
    bool socket_ = false;
    bool upgraded_ = false;
    bool proxied_ = false;
    bool secure_ = false;
  };

  struct Counters {
    core::SharedCounter refused_full;      // sockets answered 503: the node at max_connections
    core::SharedCounter refused_address;   // upgrades answered 429: an address over its budget
    core::SharedCounter refused_shedding;  // upgrades answered 503 while over the memory budget
  };

  Admission(const core::Limits& limits, const core::Clock& clock);

  // The key of a peer's address: an IPv4 address, or an IPv6 address's /64 (one host has a /64
  // to itself, and picks addresses in it at will); IPv4-mapped IPv6 as IPv4.
  static std::string address_key(const sockaddr* addr, socklen_t len);

  // A socket was accepted from `peer`: the ticket holds it, or is empty if the node is full.
  bool accept_socket(Ticket& ticket, const sockaddr* peer, socklen_t len);
  enum class Verdict { ok, address_limit, shedding };
  // The ticket's connection asks to upgrade (its address may have changed: a PROXY header).
  Verdict admit(Ticket& ticket);
  void set_address(Ticket& ticket, std::string address) { ticket.address_ = std::move(address); }

  // The proxies whose PROXY v2 header is believed (server.trusted_proxies): addresses or CIDR
  // blocks, "127.0.0.1, 10.0.0.0/8, ::1". Throws std::invalid_argument naming a bad entry. Set
  // once, before the loops run.
  void set_trusted_proxies(std::string_view list);
  bool trusted(const sockaddr* peer, socklen_t len) const noexcept;

  // A connection answered 503 because the process was out of descriptors.
  void refused_for_descriptors() noexcept { counters_.refused_full.add(); }

  void set_shedding(bool on) noexcept { shedding_.store(on, std::memory_order_relaxed); }
  bool shedding() const noexcept { return shedding_.load(std::memory_order_relaxed); }
  std::size_t sockets() const noexcept { return sockets_.load(std::memory_order_relaxed); }
  std::size_t max_sockets() const noexcept { return max_sockets_; }
  std::size_t addresses() const { return per_address_.keys(); }
  const Counters& counters() const noexcept { return counters_; }

 private:
  struct Block {
    int family;  // AF_INET or AF_INET6
    std::uint8_t bytes[16];
    unsigned prefix;
  };
  const core::Clock& clock_;
  std::vector<Block> trusted_;
  std::size_t max_sockets_;
  std::atomic<std::size_t> sockets_{0};
  std::atomic<bool> shedding_{false};
  core::KeyedLimits per_address_;
  Counters counters_;
};

}  // namespace parley::net
