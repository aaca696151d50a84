// scan_upgrade_request over arbitrary bytes. Oracles:
//  - `complete`: the request ends in the blank line at `length` (within the input and the limit),
//    every view in the result lies inside it, and the request alone scans the same;
//  - a request never turns from `other` into `complete` by appending bytes: every prefix of a
//    complete request without its blank line is `incomplete`;
//  - the header limit holds: nothing longer than it is ever `complete` or `incomplete`;
//  - the HTTP session would take a `complete` request as the same upgrade: Beast's parser reads it
//    whole, without a body, as a WebSocket upgrade with the same target, key, version and
//    subprotocols, and the RFC 9112 rules the session adds (protocol/http_request.hpp: one valid
//    Host, no folded line, Transfer-Encoding) accept it. So every request the session would
//    refuse goes to the session, which answers all the errors.
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <string>
#include <string_view>

#include "fuzz_targets.hpp"
#include "protocol/handshake.hpp"
#include "protocol/http_request.hpp"

namespace parley::fuzz {

namespace {

namespace http = boost::beast::http;

bool inside(std::string_view view, std::string_view whole) {
  return view.empty() || (view.data() >= whole.data() && view.data() + view.size() <= whole.data() + whole.size());
}

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

// What net/http_session.cpp does with the request, up to the point where it answers an upgrade.
void check_the_session_agrees(std::string_view request, std::size_t limit, const protocol::UpgradeRequest& r) {
  FUZZ_CHECK(!protocol::has_obs_fold(request));
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limit));
  parser.eager(true);
  boost::beast::error_code ec;
  const std::size_t used = parser.put(boost::asio::buffer(request.data(), request.size()), ec);
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(parser.is_done() && used == request.size());
  const auto& req = parser.get();
  FUZZ_CHECK(boost::beast::websocket::is_upgrade(req));
  FUZZ_CHECK(sv(req.target()) == r.target);
  FUZZ_CHECK(sv(req[http::field::sec_websocket_key]) == r.key);
  FUZZ_CHECK(sv(req[http::field::sec_websocket_version]) == r.version);
  FUZZ_CHECK(sv(req[http::field::sec_websocket_protocol]) == r.protocols);
  // The Origin check and the session cookie read the same values on both paths.
  FUZZ_CHECK(req.count(http::field::origin) == (r.has_origin ? 1U : 0U));
  FUZZ_CHECK(sv(req[http::field::origin]) == r.origin && sv(req[http::field::host]) == r.host);
  FUZZ_CHECK(req.count(http::field::cookie) <= 1 && sv(req[http::field::cookie]) == r.cookie);
  protocol::RequestFraming framing;
  framing.http11 = req.version() == 11;
  std::string transfer_encoding;
  for (const auto& field : req) {
    if (field.name() == http::field::host && framing.host_lines++ == 0) framing.host = sv(field.value());
    if (field.name() == http::field::transfer_encoding) ++framing.transfer_encoding_lines;
    if (field.name() == http::field::content_length) framing.content_length = true;
  }
  FUZZ_CHECK(framing.transfer_encoding_lines == 0 && !framing.content_length);
  FUZZ_CHECK(protocol::check_request(framing) == protocol::RequestRefusal::none);
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
             inside(r.protocols, request) && inside(r.host, request) && inside(r.origin, request) &&
             inside(r.cookie, request));
  FUZZ_CHECK(!r.target.empty() && r.target.front() == '/');
  protocol::UpgradeRequest again;
  FUZZ_CHECK(protocol::scan_upgrade_request(request, limit, again) == protocol::Scan::complete);
  FUZZ_CHECK(again.length == r.length && again.target == r.target && again.key == r.key);
  for (std::size_t n : {std::size_t{1}, r.length / 2, r.length - 1}) {
    protocol::UpgradeRequest part;
    FUZZ_CHECK(protocol::scan_upgrade_request(request.substr(0, n), limit, part) == protocol::Scan::incomplete);
  }
  check_the_session_agrees(request, limit, r);
  return 0;
}

}  // namespace parley::fuzz
