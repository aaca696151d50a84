#include "protocol/proxy_header.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace {

using parley::protocol::parse_proxy_header;
using parley::protocol::proxy_header_max_possible;
using parley::protocol::proxy_source_sockaddr;
using parley::protocol::ProxyCommand;
using parley::protocol::ProxyFamily;
using parley::protocol::ProxyHeader;
using parley::protocol::ProxyParse;

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

// "\r\n\r\n\0\r\nQUIT\n"
const std::string sig = bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});

// What HAProxy's `send-proxy-v2` sends for a client at 172.19.0.1:42578 that connected to
// 172.19.0.3:80: PROXY, TCP over IPv4, 12 bytes of addresses.
const std::string tcp4 = sig + bytes({0x21, 0x11, 0x00, 0x0C,  // v2 PROXY, TCP4, length 12
                                      172, 19, 0, 1,           // source address
                                      172, 19, 0, 3,           // destination address
                                      0xA6, 0x52,              // source port 42578
                                      0x00, 0x50});            // destination port 80

// A client at [2001:db8::1]:50000 that connected to [2001:db8::2]:443.
const std::string tcp6 = sig + bytes({0x21, 0x21, 0x00, 0x24,  // v2 PROXY, TCP6, length 36
                                      0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0x01, 0x20,
                                      0x01, 0x0D, 0xB8, 0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xC3, 0x50,  // 50000
                                      0x01, 0xBB});                                                            // 443

// HAProxy's health check: LOCAL, UNSPEC, no address.
const std::string local = sig + bytes({0x20, 0x00, 0x00, 0x00});

// tcp4 with TLVs after the addresses: ALPN "h2", AUTHORITY "example.com", an empty NOOP.
const std::string tcp4_tlvs = sig + bytes({0x21, 0x11, 0x00, 12 + 5 + 14 + 3}) + tcp4.substr(16) +
                              bytes({0x01, 0x00, 0x02}) + "h2" + bytes({0x02, 0x00, 0x0B}) + "example.com" +
                              bytes({0x04, 0x00, 0x00});

const std::string request = "GET /ws HTTP/1.1\r\nHost: chat.example\r\n\r\n";

ProxyParse parse(const std::string& s, ProxyHeader& h, std::size_t limit = 4096) {
  return parse_proxy_header(s, h, limit);
}
ProxyParse parse(const std::string& s, std::size_t limit = 4096) {
  ProxyHeader h;
  return parse(s, h, limit);
}

std::string address_text(const ProxyHeader& h) {
  sockaddr_storage ss;
  const socklen_t len = proxy_source_sockaddr(h, ss);
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    EXPECT_EQ(len, sizeof(sockaddr_in));
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    EXPECT_EQ(len, sizeof(sockaddr_in6));
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  EXPECT_EQ(len, 0u);
  return "none";
}

TEST(ProxyHeader, TcpOverIpv4GivesTheClientsAddress) {
  ProxyHeader h;
  ASSERT_EQ(parse(tcp4, h), ProxyParse::complete);
  EXPECT_EQ(h.length, 28u);
  EXPECT_EQ(h.command, ProxyCommand::proxy);
  EXPECT_EQ(h.family, ProxyFamily::ipv4);
  EXPECT_EQ(h.source_port, 42578);
  EXPECT_EQ(address_text(h), "172.19.0.1:42578");
}

TEST(ProxyHeader, TcpOverIpv6GivesTheClientsAddress) {
  ProxyHeader h;
  ASSERT_EQ(parse(tcp6, h), ProxyParse::complete);
  EXPECT_EQ(h.length, 52u);
  EXPECT_EQ(h.command, ProxyCommand::proxy);
  EXPECT_EQ(h.family, ProxyFamily::ipv6);
  EXPECT_EQ(h.source_port, 50000);
  EXPECT_EQ(address_text(h), "[2001:db8::1]:50000");
}

TEST(ProxyHeader, TheRequestAfterTheHeaderIsNotPartOfIt) {
  for (const std::string& header : {tcp4, tcp6, local, tcp4_tlvs}) {
    ProxyHeader alone, followed;
    ASSERT_EQ(parse(header, alone), ProxyParse::complete);
    ASSERT_EQ(parse(header + request, followed), ProxyParse::complete);
    EXPECT_EQ(followed, alone);
    EXPECT_EQ(followed.length, header.size());
  }
}

TEST(ProxyHeader, LocalIsAHealthCheckWithoutAddress) {
  ProxyHeader h;
  ASSERT_EQ(parse(local, h), ProxyParse::complete);
  EXPECT_EQ(h.length, 16u);
  EXPECT_EQ(h.command, ProxyCommand::local);
  EXPECT_EQ(h.family, ProxyFamily::none);
  EXPECT_EQ(address_text(h), "none");
}

TEST(ProxyHeader, LocalSkipsWhateverBlockItCarries) {
  // The spec: for LOCAL the receiver skips `length` bytes and ignores the family.
  ProxyHeader h;
  ASSERT_EQ(parse(sig + bytes({0x20, 0x11, 0x00, 0x0C}) + tcp4.substr(16), h), ProxyParse::complete);
  EXPECT_EQ(h.length, 28u);
  EXPECT_EQ(h.command, ProxyCommand::local);
  EXPECT_EQ(h.family, ProxyFamily::none);
  ASSERT_EQ(parse(sig + bytes({0x20, 0x21, 0x00, 0x03, 1, 2, 3}), h), ProxyParse::complete);
  EXPECT_EQ(h.length, 19u);
}

TEST(ProxyHeader, ProxyForOtherThanTcpGivesNoAddress) {
  const std::string addresses12 = tcp4.substr(16);
  const std::string unspec = sig + bytes({0x21, 0x00, 0x00, 0x00});
  const std::string unspec_with_block = sig + bytes({0x21, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5});
  const std::string udp4 = sig + bytes({0x21, 0x12, 0x00, 0x0C}) + addresses12;
  const std::string unix_stream = sig + bytes({0x21, 0x31, 0x00, 0xD8}) + std::string(216, '\0');
  for (const std::string& header : {unspec, unspec_with_block, udp4, unix_stream}) {
    ProxyHeader h;
    ASSERT_EQ(parse(header, h), ProxyParse::complete) << header.size();
    EXPECT_EQ(h.length, header.size());
    EXPECT_EQ(h.command, ProxyCommand::proxy);
    EXPECT_EQ(h.family, ProxyFamily::none);
    EXPECT_EQ(address_text(h), "none");
  }
}

TEST(ProxyHeader, TlvsAreSkipped) {
  ProxyHeader h;
  ASSERT_EQ(parse(tcp4_tlvs, h), ProxyParse::complete);
  EXPECT_EQ(h.length, 16u + 12 + 5 + 14 + 3);
  EXPECT_EQ(address_text(h), "172.19.0.1:42578");
}

// HAProxy's send-proxy-v2-ssl: PP2_TYPE_SSL (0x20) with client flags, verify (4 bytes), and a
// sub-TLV (PP2_SUBTYPE_SSL_VERSION "TLSv1.3").
std::string with_ssl_tlv(std::uint8_t client_flags) {
  const std::string ssl_value = bytes({client_flags, 0, 0, 0, 0}) + bytes({0x21, 0x00, 0x07}) + "TLSv1.3";
  const auto ssl_len = static_cast<unsigned char>(ssl_value.size());
  return sig + bytes({0x21, 0x11, 0x00, static_cast<unsigned char>(12 + 3 + ssl_len)}) + tcp4.substr(16) +
         bytes({0x20, 0x00, ssl_len}) + ssl_value;
}

TEST(ProxyHeader, AnSslTlvSaysWhetherTheClientSpokeTls) {
  ProxyHeader h;
  ASSERT_EQ(parse(with_ssl_tlv(0x01), h), ProxyParse::complete);  // PP2_CLIENT_SSL
  EXPECT_TRUE(h.client_tls);
  EXPECT_EQ(address_text(h), "172.19.0.1:42578");
  ASSERT_EQ(parse(with_ssl_tlv(0x00), h), ProxyParse::complete);  // the TLV, the client in the clear
  EXPECT_FALSE(h.client_tls);
  ASSERT_EQ(parse(tcp4_tlvs, h), ProxyParse::complete);  // no SSL TLV
  EXPECT_FALSE(h.client_tls);
  // A truncated SSL TLV leaves nothing set.
  std::string broken = with_ssl_tlv(0x01);
  broken[15] = static_cast<char>(broken[15] + 1);
  ASSERT_EQ(parse(broken + "x", h), ProxyParse::invalid);
  EXPECT_FALSE(h.client_tls);
}

TEST(ProxyHeader, ATlvPastTheLengthIsInvalid) {
  const std::string head = sig + bytes({0x21, 0x11, 0x00});
  const std::string addresses = tcp4.substr(16);
  // A TLV that says 5 bytes of value, with 2 left.
  EXPECT_EQ(parse(head + bytes({12 + 5}) + addresses + bytes({0x01, 0x00, 0x05, 'h', '2'})), ProxyParse::invalid);
  // Two bytes after the addresses: too short for a TLV's type and length.
  EXPECT_EQ(parse(head + bytes({12 + 2}) + addresses + bytes({0x04, 0x00})), ProxyParse::invalid);
  // The same bytes, the length covering them exactly, are fine.
  EXPECT_EQ(parse(head + bytes({12 + 5}) + addresses + bytes({0x01, 0x00, 0x02, 'h', '2'})), ProxyParse::complete);
}

TEST(ProxyHeader, EveryTruncationOfAHeaderIsIncomplete) {
  for (const std::string& header : {tcp4, tcp6, local, tcp4_tlvs}) {
    for (std::size_t n = 0; n < header.size(); ++n) {
      ProxyHeader h;
      h.length = 99;
      EXPECT_EQ(parse(header.substr(0, n), h), ProxyParse::incomplete) << header.size() << " cut at " << n;
      EXPECT_EQ(h, ProxyHeader{});
    }
  }
}

TEST(ProxyHeader, VersionOneIsInvalid) {
  EXPECT_EQ(parse("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" + request), ProxyParse::invalid);
  EXPECT_EQ(parse("PROXY UNKNOWN\r\n"), ProxyParse::invalid);
  EXPECT_EQ(parse("P"), ProxyParse::invalid);  // at once: the first byte is not the signature's
}

TEST(ProxyHeader, GarbageIsInvalid) {
  EXPECT_EQ(parse(request), ProxyParse::invalid);
  EXPECT_EQ(parse(bytes({0x16, 0x03, 0x01, 0x02, 0x00})), ProxyParse::invalid);  // a TLS ClientHello
  EXPECT_EQ(parse(std::string(1, '\0')), ProxyParse::invalid);
  for (std::size_t i = 0; i < sig.size(); ++i) {
    std::string bad = tcp4;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    EXPECT_EQ(parse(bad), ProxyParse::invalid) << i;
    EXPECT_EQ(parse(bad.substr(0, i + 1)), ProxyParse::invalid) << i;
  }
  ProxyHeader h;
  ASSERT_EQ(parse(tcp4, h), ProxyParse::complete);
  ASSERT_EQ(parse(request, h), ProxyParse::invalid);
  EXPECT_EQ(h, ProxyHeader{});
}

TEST(ProxyHeader, UnknownVersionCommandFamilyOrProtocolIsInvalid) {
  for (int version_command : {0x11, 0x31, 0x01, 0x22, 0x2F, 0xA1}) {
    std::string bad = tcp4;
    bad[12] = static_cast<char>(version_command);
    EXPECT_EQ(parse(bad), ProxyParse::invalid) << version_command;
    EXPECT_EQ(parse(bad.substr(0, 13)), ProxyParse::invalid) << version_command;
  }
  for (int family_protocol : {0x41, 0xF1, 0x13, 0x1F}) {
    std::string bad = tcp4;
    bad[13] = static_cast<char>(family_protocol);
    EXPECT_EQ(parse(bad), ProxyParse::invalid) << family_protocol;
    EXPECT_EQ(parse(bad.substr(0, 14)), ProxyParse::invalid) << family_protocol;
  }
}

TEST(ProxyHeader, AnAddressBlockTooShortForItsFamilyIsInvalid) {
  // TCP4 says 12 bytes of addresses; 8 are given (and nothing more is needed to tell).
  const std::string short4 = sig + bytes({0x21, 0x11, 0x00, 0x08, 172, 19, 0, 1, 172, 19, 0, 3});
  EXPECT_EQ(parse(short4), ProxyParse::invalid);
  EXPECT_EQ(parse(short4.substr(0, 16)), ProxyParse::invalid);
  EXPECT_EQ(parse(sig + bytes({0x21, 0x11, 0x00, 0x00})), ProxyParse::invalid);
  // TCP6 with an IPv4-sized block, UNIX with an IPv6-sized one.
  EXPECT_EQ(parse(sig + bytes({0x21, 0x21, 0x00, 0x0C}) + tcp4.substr(16)), ProxyParse::invalid);
  EXPECT_EQ(parse(sig + bytes({0x21, 0x31, 0x00, 0x24}) + tcp6.substr(16)), ProxyParse::invalid);
}

TEST(ProxyHeader, ALengthOverTheLimitIsInvalidAtOnce) {
  // 16 + 0xFFFF bytes: over the default limit as soon as the length is read.
  const std::string huge = sig + bytes({0x21, 0x11, 0xFF, 0xFF});
  EXPECT_EQ(parse(huge), ProxyParse::invalid);
  // tcp4 is 28 bytes: a limit of 28 takes it, 27 does not.
  EXPECT_EQ(parse(tcp4, 28), ProxyParse::complete);
  EXPECT_EQ(parse(tcp4, 27), ProxyParse::invalid);
  EXPECT_EQ(parse(tcp4.substr(0, 16), 27), ProxyParse::invalid);
  // A limit under the fixed 16 bytes counts as 16.
  EXPECT_EQ(parse(local, 0), ProxyParse::complete);
}

TEST(ProxyHeader, TheLargestLengthDoesNotWrap) {
  // 16 + 0xFFFF computed in 16 bits would be 15: the header would look complete, and short.
  for (int low : {0xF0, 0xFF}) {
    const std::string head = sig + bytes({0x21, 0x11, 0xFF, low});
    const std::size_t length = 16 + (0xFF00 | static_cast<std::size_t>(low));
    EXPECT_EQ(parse(head, proxy_header_max_possible), ProxyParse::incomplete);
    // The addresses, then one TLV that fills the rest.
    std::string whole = head + tcp4.substr(16);
    const std::size_t value = length - whole.size() - 3;
    whole += bytes({0x04, static_cast<int>(value >> 8), static_cast<int>(value & 0xFF)});
    whole += std::string(value, 'x');
    ASSERT_EQ(whole.size(), length);
    ProxyHeader h;
    EXPECT_EQ(parse(whole.substr(0, length - 1), h, proxy_header_max_possible), ProxyParse::incomplete);
    ASSERT_EQ(parse(whole + request, h, proxy_header_max_possible), ProxyParse::complete);
    EXPECT_EQ(h.length, length);
    EXPECT_EQ(address_text(h), "172.19.0.1:42578");
    // A limit past the most a header can be counts as that most.
    EXPECT_EQ(parse(whole, h, std::size_t{1} << 40), ProxyParse::complete);
  }
}

}  // namespace
