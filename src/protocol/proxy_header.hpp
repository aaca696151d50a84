#pragma once
// The PROXY protocol header, version 2 (the binary one), that a trusted proxy such as HAProxy
// (`send-proxy-v2`) sends first on every connection it opens to a server: who the client is.
// Spec: https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt, section 2.2.
//
//   12 bytes  signature  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A  ("\r\n\r\n\0\r\nQUIT\n")
//    1 byte   version (high nibble, must be 2) and command (low: 0 LOCAL, 1 PROXY)
//    1 byte   address family (high: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and transport protocol
//             (low: 0 UNSPEC, 1 STREAM, 2 DGRAM): 0x11 TCP over IPv4, 0x21 TCP over IPv6
//    2 bytes  length of what follows, network byte order: the header is 16 + length bytes
//    then     source address, destination address, source port, destination port (12 bytes for
//             IPv4, 36 for IPv6, 216 for UNIX: no ports), then TLVs up to the length
//
// Pure: no I/O, no allocation. Only version 2: a version 1 header (the text line "PROXY TCP4 ...")
// is `invalid`, as is anything else that is not a v2 header. Of the TLVs only PP2_TYPE_SSL's
// client flags are read (was the client's connection TLS?); the others are skipped (so a CRC32C
// TLV is not verified), but they must tile the space after the addresses exactly: a TLV that runs
// past the header's length makes it `invalid`, as HAProxy does.
//
// Only a connection from a trusted proxy may carry this header (the caller checks the peer's
// address before it parses): anybody else could claim any address with it.
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parley::protocol {

// The most a v2 header can be: 16 bytes and a 16-bit length.
inline constexpr std::size_t proxy_header_max_possible = 16 + 0xFFFF;
// What parse_proxy_header accepts unless told otherwise: well above what HAProxy sends (at most
// 216 bytes of addresses and a few short TLVs: ALPN, authority, unique id, TLS fields).
inline constexpr std::size_t proxy_header_default_limit = 4096;

enum class ProxyParse {
  complete,    // a whole, valid header: `out` is filled; the bytes after out.length are the request
  incomplete,  // a valid prefix of a header of at most the limit: read more
  invalid,     // not a v2 header, malformed, or longer than the limit: drop the connection
};

enum class ProxyCommand : std::uint8_t {
  local,  // a connection of the proxy's own (a health check): use the socket's real addresses
  proxy,  // relayed for a client: its address is in `family`/`source` if the header gives one
};

enum class ProxyFamily : std::uint8_t {
  none,  // LOCAL, or PROXY for something other than TCP over IPv4/IPv6 (UNSPEC, UDP, UNIX)
  ipv4,  // TCP over IPv4: `source` holds 4 bytes
  ipv6,  // TCP over IPv6: `source` holds 16 bytes
};

struct ProxyHeader {
  std::size_t length = 0;  // bytes of the header, 16 + its length field
  ProxyCommand command = ProxyCommand::local;
  ProxyFamily family = ProxyFamily::none;
  std::array<std::uint8_t, 16> source{};  // the client's address, network byte order (IPv4: the first 4)
  std::uint16_t source_port = 0;          // host byte order
  bool client_tls = false;                // a PP2_TYPE_SSL TLV with PP2_CLIENT_SSL (HAProxy: send-proxy-v2-ssl)

  bool operator==(const ProxyHeader&) const = default;
};

// Parses the first bytes received on a connection. `limit` bounds the header (at least 16, at
// most proxy_header_max_possible): a header that says it is longer is `invalid` as soon as its
// length is read, so `incomplete` never asks for more than `limit` bytes in all. The result
// depends only on `bytes`, never on what follows them in memory; `out` is reset, then filled
// only when `complete`.
ProxyParse parse_proxy_header(std::string_view bytes, ProxyHeader& out,
                              std::size_t limit = proxy_header_default_limit) noexcept;

// The header's source as a sockaddr_in or sockaddr_in6 in `out` (port included); returns its
// length, or 0 (and `out` zeroed) when the header gives no address (`family` none).
socklen_t proxy_source_sockaddr(const ProxyHeader& header, sockaddr_storage& out) noexcept;

}  // namespace parley::protocol
