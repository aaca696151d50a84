#include "protocol/handshake.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using parley::protocol::has_token;
using parley::protocol::make_upgrade_response;
using parley::protocol::Scan;
using parley::protocol::scan_upgrade_request;
using parley::protocol::UpgradeRequest;

constexpr std::size_t limit = 8192;

// What a browser sends (Chromium, with its usual extra headers).
const std::string browser =
    "GET /ws HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://127.0.0.1:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: parley.v1\r\n"
    "\r\n";

Scan scan(const std::string& s, UpgradeRequest& r) { return scan_upgrade_request(s, limit, r); }
Scan scan(const std::string& s) {
  UpgradeRequest r;
  return scan(s, r);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(Handshake, BrowserUpgradeIsComplete) {
  UpgradeRequest r;
  ASSERT_EQ(scan(browser, r), Scan::complete);
  EXPECT_EQ(r.target, "/ws");
  EXPECT_EQ(r.key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(r.version, "13");
  EXPECT_EQ(r.protocols, "parley.v1");
  EXPECT_EQ(r.host, "127.0.0.1:8080");
  EXPECT_TRUE(r.has_origin);
  EXPECT_EQ(r.origin, "http://127.0.0.1:8080");
  EXPECT_EQ(r.length, browser.size());
}

TEST(Handshake, AnUpgradeListBeastWouldNotReadGoesToIt) {
  // Beast stops reading a token list at an element that is not a token: no upgrade (426).
  EXPECT_EQ(scan(replace(browser, "Upgrade: websocket", "Upgrade: ,wegrade: ,webSocket")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Upgrade: websocket", "Upgrade: h2c, websocket")), Scan::complete);
}

TEST(Handshake, CookieIsRecordedOnce) {
  UpgradeRequest r;
  const std::string with_cookie = replace(browser, "Pragma: no-cache\r\n", "Cookie: a=1; parley_session=abc\r\n");
  ASSERT_EQ(scan(with_cookie, r), Scan::complete);  // r's views point into with_cookie
  EXPECT_EQ(r.cookie, "a=1; parley_session=abc");
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache\r\n", "Cookie: a=1\r\nCookie: b=2\r\n")), Scan::other);
}

TEST(Handshake, OriginIsOptionalAndOnlyOnce) {
  UpgradeRequest r;
  ASSERT_EQ(scan(replace(browser, "Origin: http://127.0.0.1:8080\r\n", ""), r), Scan::complete);
  EXPECT_FALSE(r.has_origin);
  // Two Origins: the HTTP session refuses the request, so the fast path must not accept it.
  EXPECT_EQ(scan(replace(browser, "Origin: http://127.0.0.1:8080\r\n",
                         "Origin: http://127.0.0.1:8080\r\nOrigin: https://evil.example\r\n")),
            Scan::other);
}

TEST(Handshake, BytesAfterTheRequestAreNotPartOfIt) {
  // A client may send its first frame right behind the request.
  UpgradeRequest r;
  ASSERT_EQ(scan(browser + "\x81\x05hello", r), Scan::complete);
  EXPECT_EQ(r.length, browser.size());
}

TEST(Handshake, HeaderNamesAndTokensIgnoreCaseAndSpaces) {
  const std::string req =
      "GET /ws?token=abc HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, UPGRADE\r\nupgrade:WebSocket\r\n"
      "sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \t\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n";
  UpgradeRequest r;
  ASSERT_EQ(scan(req, r), Scan::complete);
  EXPECT_EQ(r.target, "/ws?token=abc");
  EXPECT_EQ(r.key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(r.protocols, "");
}

TEST(Handshake, EveryPrefixIsIncomplete) {
  for (std::size_t n = 0; n < browser.size(); ++n) {
    EXPECT_EQ(scan(browser.substr(0, n)), Scan::incomplete) << n;
  }
}

TEST(Handshake, WhatIsNotAPlainUpgradeGoesToTheHttpParser) {
  // Requests for pages and health checks, and other methods, are decided at their first bytes.
  EXPECT_EQ(scan("POST /ws HTTP/1.1\r\n"), Scan::other);
  EXPECT_EQ(scan("HEAD"), Scan::other);
  EXPECT_EQ(scan("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Scan::other);  // no upgrade headers
  EXPECT_EQ(scan(replace(browser, "HTTP/1.1", "HTTP/1.0")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Upgrade: websocket", "Upgrade: h2c")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Connection: Upgrade", "Connection: keep-alive")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Sec-WebSocket-Version: 13\r\n", "")), Scan::other);
  // A body, a repeated header, an obsolete line folding, a bare LF, control characters.
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Content-Length: 5")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Transfer-Encoding: chunked")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Upgrade: websocket")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache\r\n", "Pragma: no-cache\r\n  folded\r\n")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache\r\n", "Pragma: no-cache\n")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", std::string("Pragma: no\0cache", 16))), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Pra gma: no-cache")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", ": no-cache")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Pragma")), Scan::other);
  // Targets: origin-form only, no spaces or control characters.
  EXPECT_EQ(scan(replace(browser, "GET /ws ", "GET http://x/ws ")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "GET /ws ", "GET /w s ")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "GET /ws ", "GET  /ws ")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "GET /ws ", "GET /w\x7fs ")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "GET /ws HTTP/1.1", "GET /ws")), Scan::other);
}

TEST(Handshake, WhatTheHttpSessionWouldRefuseGoesToIt) {
  // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host, and a valid one. The session answers
  // 400 to any other, so the scan hands them all over (one place answers errors).
  EXPECT_EQ(scan(replace(browser, "Host: 127.0.0.1:8080\r\n", "")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Host: 127.0.0.1:8080")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "host: other")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Host: 127.0.0.1:8080", "Host: a b")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Host: 127.0.0.1:8080", "Host: a/b")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Host: 127.0.0.1:8080", "Host: a:8o")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Host: 127.0.0.1:8080", "Host: [::1")), Scan::other);
  // RFC 9112 5.2: obs-fold, wherever it is (also a Host folded onto its next line).
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache\r\n", "Pragma: no-cache\r\n\tfolded\r\n")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache\r\n", "Pragma: no-cache\r\n a: b\r\n")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Host: 127.0.0.1:8080\r\n", "Host:\r\n 127.0.0.1:8080\r\n")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "GET /ws HTTP/1.1\r\n", "GET /ws HTTP/1.1\r\n X-First: folded\r\n")), Scan::other);
  // A body on the upgrade GET, whatever its coding (the session says 400 or 501).
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Transfer-Encoding: xchunked")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "transfer-encoding: identity")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Content-Length: 0")), Scan::other);
  // A Connection list Beast cannot parse (it answers 400), and Proxy-Connection, which it also
  // parses.
  EXPECT_EQ(scan(replace(browser, "Connection: Upgrade", "Connection: Upgrade, @@")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Connection: Upgrade", "Connection: Upgrade \"x\"")), Scan::other);
  EXPECT_EQ(scan(replace(browser, "Pragma: no-cache", "Proxy-Connection: keep-alive")), Scan::other);
}

TEST(Handshake, HostsAndConnectionListsTheSessionAccepts) {
  for (const char* host : {"Host: 127.0.0.1", "Host: example.com:443", "Host: [::1]:8080", "Host:", "host:x",
                           "Host: xn--bcher-kva.example", "Host: a%41b"}) {
    EXPECT_EQ(scan(replace(browser, "Host: 127.0.0.1:8080", host)), Scan::complete) << host;
  }
  // Empty list elements are allowed (RFC 9110 5.6.1), as Beast allows them.
  EXPECT_EQ(scan(replace(browser, "Connection: Upgrade", "Connection: , keep-alive,, Upgrade ,")), Scan::complete);
}

TEST(Handshake, TheHeaderLimitHoldsWhetherOrNotTheRequestIsWhole) {
  const std::string big = replace(browser, "Pragma: no-cache", "X-Pad: " + std::string(limit, 'a'));
  EXPECT_EQ(scan(big), Scan::other);
  EXPECT_EQ(scan(big.substr(0, limit + 1)), Scan::other);  // not whole yet, already too large
  UpgradeRequest r;
  EXPECT_EQ(scan_upgrade_request(browser, browser.size(), r), Scan::complete);  // exactly at the limit
  EXPECT_EQ(scan_upgrade_request(browser, browser.size() - 1, r), Scan::other);
}

TEST(Handshake, ErrorsAreLeftToTheCaller) {
  // The scanner accepts a syntactically plain upgrade; the version, key and path are checked by
  // the caller, which sends those requests to the HTTP session for its error answers.
  UpgradeRequest r;
  const std::string old_version = replace(browser, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
  ASSERT_EQ(scan(old_version, r), Scan::complete);
  EXPECT_EQ(r.version, "8");
  const std::string other_path = replace(browser, "GET /ws ", "GET /other ");  // the views point into it
  ASSERT_EQ(scan(other_path, r), Scan::complete);
  EXPECT_EQ(r.target, "/other");
}

TEST(Handshake, Tokens) {
  EXPECT_TRUE(has_token("Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token(" keep-alive ,\tupgrade\t", "upgrade"));
  EXPECT_FALSE(has_token("upgraded", "upgrade"));
  EXPECT_FALSE(has_token("", "upgrade"));
  EXPECT_FALSE(has_token(",,", "upgrade"));
  // Subprotocol names compare exactly (RFC 6455 4.1), blanks around them still ignored.
  using parley::protocol::TokenCase;
  EXPECT_TRUE(has_token("chat, parley.v1", "parley.v1", TokenCase::sensitive));
  EXPECT_TRUE(has_token("\tparley.v1 ", "parley.v1", TokenCase::sensitive));
  EXPECT_FALSE(has_token("Parley.V1", "parley.v1", TokenCase::sensitive));
  EXPECT_FALSE(has_token("parley.v10", "parley.v1", TokenCase::sensitive));
}

TEST(Handshake, Response) {
  EXPECT_EQ(make_upgrade_response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "parley.v1"),
            "HTTP/1.1 101 Switching Protocols\r\nServer: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: parley.v1\r\n\r\n");
  EXPECT_EQ(make_upgrade_response("x", ""),
            "HTTP/1.1 101 Switching Protocols\r\nServer: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: x\r\n\r\n");
}

}  // namespace
