// net::Admission's pure parts: a peer's address key, and which proxies are trusted.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>

#include "net/admission.hpp"

namespace parley::net {
namespace {

sockaddr_storage v4(const char* text) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in*>(&s);
  in->sin_family = AF_INET;
  ::inet_pton(AF_INET, text, &in->sin_addr);
  return s;
}

sockaddr_storage v6(const char* text) {
  sockaddr_storage s{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
  in6->sin6_family = AF_INET6;
  ::inet_pton(AF_INET6, text, &in6->sin6_addr);
  return s;
}

std::string key(const sockaddr_storage& s, socklen_t len) {
  return Admission::address_key(reinterpret_cast<const sockaddr*>(&s), len);
}

TEST(Admission, AnIpv4AddressIsItsOwnKeyAndAnIpv6OneIsItsSlash64) {
  EXPECT_EQ(key(v4("203.0.113.7"), sizeof(sockaddr_in)), "203.0.113.7");
  EXPECT_EQ(key(v6("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), sizeof(sockaddr_in6)), "2001:db8:1:2::/64");
  EXPECT_EQ(key(v6("2001:db8:1:2::1"), sizeof(sockaddr_in6)), key(v6("2001:db8:1:2:ffff::9"), sizeof(sockaddr_in6)));
  EXPECT_EQ(key(v6("::ffff:198.51.100.4"), sizeof(sockaddr_in6)), "198.51.100.4") << "IPv4-mapped as IPv4";
  EXPECT_EQ(Admission::address_key(nullptr, 0), "unknown");
}

TEST(Admission, TrustedProxiesAreAddressesAndBlocks) {
  Admission a(core::Limits{}, core::system_clock());
  a.set_trusted_proxies("127.0.0.1, 10.0.0.0/8 ,2001:db8::/32");
  auto trusted = [&](const sockaddr_storage& s, socklen_t len) {
    return a.trusted(reinterpret_cast<const sockaddr*>(&s), len);
  };
  EXPECT_TRUE(trusted(v4("127.0.0.1"), sizeof(sockaddr_in)));
  EXPECT_FALSE(trusted(v4("127.0.0.2"), sizeof(sockaddr_in)));
  EXPECT_TRUE(trusted(v4("10.200.3.4"), sizeof(sockaddr_in)));
  EXPECT_FALSE(trusted(v4("11.0.0.1"), sizeof(sockaddr_in)));
  EXPECT_TRUE(trusted(v6("2001:db8:ffff::1"), sizeof(sockaddr_in6)));
  EXPECT_FALSE(trusted(v6("2001:db9::1"), sizeof(sockaddr_in6)));
  EXPECT_TRUE(trusted(v6("::ffff:127.0.0.1"), sizeof(sockaddr_in6))) << "IPv4-mapped matches the IPv4 entry";
  a.set_trusted_proxies("");
  EXPECT_FALSE(trusted(v4("127.0.0.1"), sizeof(sockaddr_in)));
}

TEST(Admission, ABadTrustedProxyEntryIsRefusedByName) {
  Admission a(core::Limits{}, core::system_clock());
  EXPECT_THROW(a.set_trusted_proxies("haproxy"), std::invalid_argument);
  EXPECT_THROW(a.set_trusted_proxies("10.0.0.0/33"), std::invalid_argument);
  EXPECT_THROW(a.set_trusted_proxies("10.0.0.0/x"), std::invalid_argument);
}

TEST(Admission, SocketsCountAgainstMaxConnections) {
  core::Limits l;
  l.max_connections = 2;
  Admission a(l, core::system_clock());
  const auto peer = v4("203.0.113.7");
  Admission::Ticket t1, t2, t3;
  EXPECT_TRUE(a.accept_socket(t1, reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in)));
  EXPECT_TRUE(a.accept_socket(t2, reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in)));
  EXPECT_FALSE(a.accept_socket(t3, reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in)));
  t1.release();
  EXPECT_TRUE(a.accept_socket(t3, reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in)));
  EXPECT_EQ(a.sockets(), 2u);
}

TEST(Admission, UpgradesPerAddressAndSheddingAreRefused) {
  core::Limits l;
  l.max_connections_per_address = 1;
  Admission a(l, core::system_clock());
  const auto peer = v4("203.0.113.7");
  Admission::Ticket t1, t2;
  ASSERT_TRUE(a.accept_socket(t1, reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in)));
  ASSERT_TRUE(a.accept_socket(t2, reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in)));
  EXPECT_EQ(a.admit(t1), Admission::Verdict::ok);
  EXPECT_EQ(a.admit(t2), Admission::Verdict::address_limit);
  Admission::Ticket moved = std::move(t1);
  moved.release();  // gives the address's place back
  EXPECT_EQ(a.admit(t2), Admission::Verdict::ok);
  a.set_shedding(true);
  Admission::Ticket t3;
  ASSERT_TRUE(a.accept_socket(t3, reinterpret_cast<const sockaddr*>(&peer), sizeof(sockaddr_in)));
  EXPECT_EQ(a.admit(t3), Admission::Verdict::shedding);
}

}  // namespace
}  // namespace parley::net
