#include "protocol/proxy_header.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace parley::protocol {

namespace {

constexpr std::array<std::uint8_t, 12> signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::size_t fixed_bytes = 16;  // signature, version and command, family, length
constexpr std::size_t tlv_header_bytes = 3;

std::uint8_t at(std::string_view bytes, std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); }

std::uint16_t be16(std::string_view bytes, std::size_t i) {
  return static_cast<std::uint16_t>((at(bytes, i) << 8) | at(bytes, i + 1));
}

// Bytes of addresses (and ports) that a PROXY header of this family and protocol carries; 0 when
// either is UNSPEC (no address promised; whatever the length covers is skipped).
std::size_t address_bytes(std::uint8_t family_protocol) {
  if ((family_protocol & 0x0F) == 0) return 0;
  switch (family_protocol >> 4) {
    case 0x1: return 12;   // IPv4: two addresses of 4 bytes, two ports of 2
    case 0x2: return 36;   // IPv6: two addresses of 16 bytes, two ports
    case 0x3: return 216;  // UNIX: two paths of 108 bytes, no ports
    default: return 0;
  }
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view bytes, ProxyHeader& out, std::size_t limit) noexcept {
  out = ProxyHeader{};
  limit = std::clamp(limit, fixed_bytes, proxy_header_max_possible);

  // Each byte is judged as soon as it is there, so that anything else (an HTTP request, a v1
  // line) is refused at its first byte and every prefix of a valid header is `incomplete`.
  const std::size_t have = std::min(bytes.size(), signature.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(have), signature.begin(),
                  [](char b, std::uint8_t s) { return static_cast<std::uint8_t>(b) == s; }))
    return ProxyParse::invalid;
  if (bytes.size() <= 12) return ProxyParse::incomplete;
  const std::uint8_t version_command = at(bytes, 12);
  if ((version_command >> 4) != 0x2 || (version_command & 0x0F) > 0x1) return ProxyParse::invalid;
  const bool proxy = (version_command & 0x0F) == 0x1;
  if (bytes.size() <= 13) return ProxyParse::incomplete;
  const std::uint8_t family_protocol = at(bytes, 13);
  if ((family_protocol >> 4) > 0x3 || (family_protocol & 0x0F) > 0x2) return ProxyParse::invalid;
  if (bytes.size() < fixed_bytes) return ProxyParse::incomplete;

  const std::size_t length = fixed_bytes + be16(bytes, 14);  // in size_t: 16 + 0xFFFF does not wrap
  if (length > limit) return ProxyParse::invalid;
  // LOCAL: the spec says to skip the block whatever its family says; PROXY: the addresses must fit.
  const std::size_t addresses = proxy ? address_bytes(family_protocol) : 0;
  if (length - fixed_bytes < addresses) return ProxyParse::invalid;
  if (bytes.size() < length) return ProxyParse::incomplete;

  // After known addresses, TLVs (type, 16-bit length, value) fill the rest exactly.
  bool client_tls = false;
  if (addresses > 0) {
    std::size_t tlv = fixed_bytes + addresses;
    while (tlv < length) {
      if (length - tlv < tlv_header_bytes) return ProxyParse::invalid;
      const std::size_t size = tlv_header_bytes + be16(bytes, tlv + 1);
      if (size > length - tlv) return ProxyParse::invalid;
      // PP2_TYPE_SSL: its first byte holds the client flags; PP2_CLIENT_SSL (bit 0) says the
      // client spoke TLS to the proxy.
      if (static_cast<std::uint8_t>(bytes[tlv]) == 0x20 && size > tlv_header_bytes)
        client_tls = (static_cast<std::uint8_t>(bytes[tlv + tlv_header_bytes]) & 0x01) != 0;
      tlv += size;
    }
  }

  out.length = length;
  out.client_tls = client_tls;
  out.command = proxy ? ProxyCommand::proxy : ProxyCommand::local;
  if (proxy && family_protocol == 0x11) {  // TCP over IPv4: src, dst (4 each), src port, dst port
    out.family = ProxyFamily::ipv4;
    std::copy_n(bytes.begin() + fixed_bytes, 4, out.source.begin());
    out.source_port = be16(bytes, fixed_bytes + 8);
  } else if (proxy && family_protocol == 0x21) {  // TCP over IPv6: src, dst (16 each), ports
    out.family = ProxyFamily::ipv6;
    std::copy_n(bytes.begin() + fixed_bytes, 16, out.source.begin());
    out.source_port = be16(bytes, fixed_bytes + 32);
  }
  return ProxyParse::complete;
}

socklen_t proxy_source_sockaddr(const ProxyHeader& header, sockaddr_storage& out) noexcept {
  out = sockaddr_storage{};
  switch (header.family) {
    case ProxyFamily::ipv4: {
      sockaddr_in in{};
      in.sin_family = AF_INET;
      in.sin_port = htons(header.source_port);
      std::memcpy(&in.sin_addr, header.source.data(), 4);
      std::memcpy(&out, &in, sizeof in);
      return sizeof in;
    }
    case ProxyFamily::ipv6: {
      sockaddr_in6 in6{};
      in6.sin6_family = AF_INET6;
      in6.sin6_port = htons(header.source_port);
      std::memcpy(&in6.sin6_addr, header.source.data(), 16);
      std::memcpy(&out, &in6, sizeof in6);
      return sizeof in6;
    }
    case ProxyFamily::none: break;
  }
  return 0;
}

}  // namespace parley::protocol
