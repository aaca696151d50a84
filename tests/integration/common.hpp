#pragma once
// Small helpers shared by the integration test files.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include "harness.hpp"

namespace parley::it {

// Sends `req` (with a ref) and expects an error event with `code` carrying the same ref.
inline void expect_error(WsClient& c, json::object req, const std::string& code) {
  const std::string sent = dump(req);
  auto r = c.request(std::move(req));
  EXPECT_EQ(type_of(r), "error") << sent << " -> " << dump(r);
  EXPECT_EQ(str(r, "code"), code) << sent << " -> " << dump(r);
  EXPECT_FALSE(str(r, "message").empty()) << dump(r);
}

// The connection still answers a request.
inline void expect_alive(WsClient& c) {
  auto r = c.request({{"type", "ping"}});
  EXPECT_EQ(type_of(r), "pong") << dump(r);
  EXPECT_FALSE(c.closed());
}

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

inline std::vector<std::uint64_t> seqs_of(const std::vector<json::object>& msgs) {
  std::vector<std::uint64_t> out;
  for (const auto& m : msgs) out.push_back(u64(m, "seq"));
  return out;
}

inline std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// A PROXY v2 header for a TCP/IPv4 client `a.b.c.d`, as HAProxy's send-proxy-v2 writes it; with
// `client_tls`, as send-proxy-v2-ssl writes it for a client that spoke TLS to the proxy (a
// PP2_TYPE_SSL TLV with PP2_CLIENT_SSL).
inline std::string proxy_v2(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port = 40000,
                            bool client_tls = false) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(0x21);                                           // v2, PROXY
  h += static_cast<char>(0x11);                                           // TCP over IPv4
  h += client_tls ? std::string("\0\x14", 2) : std::string("\0\x0c", 2);  // 12 + the TLV's 3 + 5
  for (std::uint8_t x : {a, b, c, d}) h += static_cast<char>(x);
  h += std::string("\x7f\0\0\x01", 4);  // destination 127.0.0.1
  h += static_cast<char>(port >> 8);
  h += static_cast<char>(port & 0xFF);
  h += std::string("\x1f\x90", 2);                                // destination port 8080
  if (client_tls) h += std::string("\x20\0\x05\x01\0\0\0\0", 8);  // SSL: client flags, verify 0
  return h;
}

// Accounts (/api/, docs/api.md).

// The cheapest argon2id libsodium allows: the tests exercise the paths, not the cost.
inline const std::vector<std::string> cheap_hashes{"auth.hash_opslimit=1", "auth.hash_memlimit=8192"};

// A server for account tests: cheap hashes, generous sign-in budgets, and `more` settings.
inline ServerOptions with_accounts(std::vector<std::string> more) {
  ServerOptions o;
  o.settings = cheap_hashes;
  // Generous sign-in budgets unless a test says otherwise: every client here is 127.0.0.1.
  o.settings.insert(o.settings.end(), {"auth.signin_burst_per_address=1000", "auth.register_burst_per_address=1000",
                                       "auth.signin_burst_per_account=1000"});
  o.settings.insert(o.settings.end(), more.begin(), more.end());
  return o;
}

// One HTTP request to /api/, on a connection of its own.
inline HttpResponse api(unsigned short port, const std::string& method, const std::string& path,
                        const std::string& body = {}, const std::string& extra_headers = {}) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n" + extra_headers;
  if (!body.empty() || method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  return http_raw(port, req);
}

inline std::string code(const HttpResponse& r) {
  const auto v = r.json();
  return v.is_object() && v.as_object().contains("code") ? std::string(v.as_object().at("code").as_string()) : "";
}

// "parley_session=<token>" from a Set-Cookie header (the cookie a browser would send back).
inline std::string session_cookie(const HttpResponse& r) {
  const std::string set = r.header("set-cookie");
  return set.substr(0, set.find(';'));
}

inline std::string cookie_header(const std::string& cookie) { return "Cookie: " + cookie + "\r\n"; }

inline HttpResponse register_user(unsigned short port, const std::string& name, const std::string& password,
                                  bool want_token = false) {
  return api(port, "POST", "/api/register",
             dump(json::object{{"name", name}, {"password", password}, {"token", want_token}}));
}

// A new account `name` (password "correct horse") and a connection signed in with its session
// token.
inline std::unique_ptr<WsClient> account(ServerProcess& server, const std::string& name) {
  auto reg = register_user(server.port(), name, "correct horse", true);
  EXPECT_EQ(reg.status, 201) << reg.body;
  auto c = std::make_unique<WsClient>(server.port());
  auto w = c->request({{"type", "hello"}, {"token", reg.json().as_object().at("token").as_string()}});
  EXPECT_EQ(type_of(w), "welcome") << dump(w);
  return c;
}

inline HttpResponse login(unsigned short port, const std::string& name, const std::string& password,
                          bool want_token = false, const std::string& extra = {}) {
  return api(port, "POST", "/api/login",
             dump(json::object{{"name", name}, {"password", password}, {"token", want_token}}), extra);
}

}  // namespace parley::it
