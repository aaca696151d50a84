// scan_upgrade_request over arbitrary bytes. Oracles:
//  - `complete`: the request ends in the blank line at `length` (within the input and the limit),
//    every view in the result lies inside it, and the request alone scans the same;
//  - a request never turns from `other` into `complete` by appending bytes: every prefix of a
//    complete request without its blank line is `incomplete`;
//  - the header limit holds: nothing longer than it is ever `complete` or `incomplete`.
#include <string>
#include <string_view>

#include "fuzz_targets.hpp"
#include "protocol/handshake.hpp"

namespace parley::fuzz {

namespace {

bool inside(std::string_view view, std::string_view whole) {
  return view.empty() || (view.data() >= whole.data() && view.data() + view.size() <= whole.data() + whole.size());
}

}  // namespace

int upgrade_request(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the header limit, so that the limit's edges are reached.
  const std::size_t limit = 16 + static_cast<std::size_t>(data[0]) * 4;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  protocol::UpgradeRequest r;
  const protocol::Scan s = protocol::scan_upgrade_request(bytes, limit, r);
  if (bytes.size() > limit && bytes.find("\r\n\r\n") == std::string_view::npos) FUZZ_CHECK(s == protocol::Scan::other);
  if (s != protocol::Scan::complete) return 0;
  FUZZ_CHECK(r.length >= 4 && r.length <= bytes.size() && r.length <= limit);
  const std::string_view request = bytes.substr(0, r.length);
  FUZZ_CHECK(request.substr(r.length - 4) == "\r\n\r\n");
  FUZZ_CHECK(request.find("\r\n\r\n") == r.length - 4);
  FUZZ_CHECK(inside(r.target, request) && inside(r.key, request) && inside(r.version, request) &&
             inside(r.protocols, request));
  FUZZ_CHECK(!r.target.empty() && r.target.front() == '/');
  protocol::UpgradeRequest again;
  FUZZ_CHECK(protocol::scan_upgrade_request(request, limit, again) == protocol::Scan::complete);
  FUZZ_CHECK(again.length == r.length && again.target == r.target && again.key == r.key);
  for (std::size_t n : {std::size_t{1}, r.length / 2, r.length - 1}) {
    protocol::UpgradeRequest part;
    FUZZ_CHECK(protocol::scan_upgrade_request(request.substr(0, n), limit, part) == protocol::Scan::incomplete);
  }
  return 0;
}

}  // namespace parley::fuzz
