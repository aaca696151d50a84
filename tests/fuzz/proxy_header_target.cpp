// parse_proxy_header over arbitrary bytes. Oracles:
//  - `complete`: the length is within the input and the limit, and the header alone (in a buffer
//    of exactly its size) parses the same; the fields read back from the bytes where the spec puts
//    them; the header with other bytes appended parses the same; a limit of exactly its length
//    takes it, one byte less does not;
//  - every prefix of a complete or incomplete input is `incomplete`; bytes appended to an
//    invalid input leave it `invalid`;
//  - `incomplete` never waits past the limit, nor past the header's own length once it is known;
//  - `out` is reset unless `complete`;
//  - the parser reads only its input: each parse that matters is of a copy in an allocation of
//    exactly that size (AddressSanitizer in the libFuzzer and ASan builds sees a byte more).
// Input layout: byte 0 picks the limit (0xFF: the default, else 16 + 2 * byte), the rest is what
// a proxy sent on a new connection.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_targets.hpp"
#include "protocol/proxy_header.hpp"

namespace parley::fuzz {

namespace {

using protocol::ProxyHeader;
using protocol::ProxyParse;

ProxyParse parse_exact(std::string_view bytes, ProxyHeader& out, std::size_t limit) {
  const std::unique_ptr<char[]> copy(new char[bytes.size()]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return protocol::parse_proxy_header(std::string_view(copy.get(), bytes.size()), out, limit);
}

std::size_t be16(std::string_view b, std::size_t i) {
  return (static_cast<std::size_t>(static_cast<unsigned char>(b[i])) << 8) | static_cast<unsigned char>(b[i + 1]);
}

void check_fields(std::string_view header, const ProxyHeader& h) {
  FUZZ_CHECK(header.size() >= 16);
  FUZZ_CHECK(header.substr(0, 12) == std::string_view("\r\n\r\n\0\r\nQUIT\n", 12));
  FUZZ_CHECK(h.length == 16 + be16(header, 14));
  const auto version_command = static_cast<unsigned char>(header[12]);
  const auto family_protocol = static_cast<unsigned char>(header[13]);
  FUZZ_CHECK(version_command == 0x20 || version_command == 0x21);
  FUZZ_CHECK((h.command == protocol::ProxyCommand::proxy) == (version_command == 0x21));
  const bool proxy = version_command == 0x21;
  sockaddr_storage ss;
  const socklen_t len = protocol::proxy_source_sockaddr(h, ss);
  if (proxy && family_protocol == 0x11) {
    FUZZ_CHECK(h.family == protocol::ProxyFamily::ipv4 && h.length >= 16 + 12);
    FUZZ_CHECK(std::memcmp(h.source.data(), header.data() + 16, 4) == 0);
    FUZZ_CHECK(std::all_of(h.source.begin() + 4, h.source.end(), [](std::uint8_t b) { return b == 0; }));
    FUZZ_CHECK(h.source_port == be16(header, 24));
    sockaddr_in in;
    FUZZ_CHECK(len == sizeof in && ss.ss_family == AF_INET);
    std::memcpy(&in, &ss, sizeof in);
    FUZZ_CHECK(ntohs(in.sin_port) == h.source_port && std::memcmp(&in.sin_addr, header.data() + 16, 4) == 0);
  } else if (proxy && family_protocol == 0x21) {
    FUZZ_CHECK(h.family == protocol::ProxyFamily::ipv6 && h.length >= 16 + 36);
    FUZZ_CHECK(std::memcmp(h.source.data(), header.data() + 16, 16) == 0);
    FUZZ_CHECK(h.source_port == be16(header, 48));
    sockaddr_in6 in6;
    FUZZ_CHECK(len == sizeof in6 && ss.ss_family == AF_INET6);
    std::memcpy(&in6, &ss, sizeof in6);
    FUZZ_CHECK(ntohs(in6.sin6_port) == h.source_port && std::memcmp(&in6.sin6_addr, header.data() + 16, 16) == 0);
  } else {
    FUZZ_CHECK(h.family == protocol::ProxyFamily::none && h.source == ProxyHeader{}.source && h.source_port == 0);
    FUZZ_CHECK(len == 0);
  }
}

}  // namespace

int proxy_header(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t limit =
      data[0] == 0xFF ? protocol::proxy_header_default_limit : 16 + 2 * static_cast<std::size_t>(data[0]);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Bytes appended: a request, and a second header (the signature, then a length over any limit).
  static constexpr char more[] = "GET /ws HTTP/1.1\r\n\r\n\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff";
  const std::string_view tail(more, sizeof more - 1);

  ProxyHeader h;
  h.length = 1;  // must be reset
  const ProxyParse r = parse_exact(bytes, h, limit);
  if (r != ProxyParse::complete) FUZZ_CHECK(h == ProxyHeader{});

  if (r == ProxyParse::invalid) {
    ProxyHeader more;
    FUZZ_CHECK(parse_exact(std::string(bytes) + std::string(tail), more, limit) == ProxyParse::invalid);
    return 0;
  }

  // Complete or incomplete: every shorter prefix is incomplete (views: cheap; a few exact copies).
  const std::size_t end = r == ProxyParse::complete ? h.length : bytes.size();
  for (std::size_t n = 0; n < end; ++n) {
    ProxyHeader part;
    FUZZ_CHECK(protocol::parse_proxy_header(bytes.substr(0, n), part, limit) == ProxyParse::incomplete);
  }
  for (std::size_t n : {std::size_t{12}, std::size_t{13}, std::size_t{15}, end / 2, end - (end > 0)}) {
    if (n >= end) continue;
    ProxyHeader part;
    FUZZ_CHECK(parse_exact(bytes.substr(0, n), part, limit) == ProxyParse::incomplete);
  }

  if (r == ProxyParse::incomplete) {
    FUZZ_CHECK(bytes.size() < std::max<std::size_t>(limit, 16));
    if (bytes.size() >= 16) FUZZ_CHECK(bytes.size() < 16 + be16(bytes, 14));
    return 0;
  }

  FUZZ_CHECK(h.length >= 16 && h.length <= bytes.size() && h.length <= std::max<std::size_t>(limit, 16));
  const std::string_view header = bytes.substr(0, h.length);
  check_fields(header, h);
  ProxyHeader alone, followed, at_limit, under_limit;
  FUZZ_CHECK(parse_exact(header, alone, limit) == ProxyParse::complete && alone == h);
  FUZZ_CHECK(parse_exact(std::string(header) + std::string(tail), followed, limit) == ProxyParse::complete &&
             followed == h);
  FUZZ_CHECK(parse_exact(header, at_limit, h.length) == ProxyParse::complete && at_limit == h);
  if (h.length > 16) FUZZ_CHECK(parse_exact(header, under_limit, h.length - 1) == ProxyParse::invalid);
  return 0;
}

}  // namespace parley::fuzz
