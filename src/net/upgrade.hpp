#pragma once
// The WebSocket upgrade, as both paths to it see it: the hand-scanned fast path (handshake.cpp)
// and Beast's HTTP session (http_session.cpp). One list of the reasons an upgrade is refused, in
// the order they are answered, so that the two paths cannot come to disagree.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::net {

inline constexpr std::string_view subprotocol = "parley.v1";
// The cookie that holds a browser's session token (docs/api.md).
inline constexpr std::string_view session_cookie = "parley_session";
// The value of cookie `name` in a Cookie header ("a=1; parley_session=xyz"), or empty.
std::string_view cookie_value(std::string_view header, std::string_view name);
// What a connection keeps of an upgrade's Cookie header: its session cookie's value, or empty if
// none or if it is too long to be a token (nothing a client sends is kept unbounded).
std::string upgrade_credential(std::string_view cookie_header);

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string accept_key(std::string_view key);
// base64 of 16 bytes: 24 characters ending in "==".
bool valid_client_key(std::string_view key);
// Whether a Sec-WebSocket-Protocol header offers parley.v1.
bool offers_subprotocol(std::string_view header);

// Which web pages may open a WebSocket to this server (server.allowed_origins): the defence against
// cross-site WebSocket hijacking, where a page on another site opens a socket that the browser
// sends the user's cookies with. Browsers always send Origin on a WebSocket upgrade; a request
// without one is not from a browser page, and is allowed (it carries no ambient credentials).
//   ""     same origin only: the Origin's host and port are the request's Host (the default)
//   "*"    any origin (a public API with token authentication only)
//   list   exactly these origins, "https://chat.example.com, http://localhost:8080"
class OriginPolicy {
 public:
  OriginPolicy() = default;  // same origin
  // Throws std::invalid_argument naming an entry that is not scheme://host[:port] (http or https).
  explicit OriginPolicy(std::string_view list);
  // `origin`: the Origin header (nullopt if absent); `host`: the Host header.
  bool allows(std::optional<std::string_view> origin, std::string_view host) const;

 private:
  bool any_ = false;
  std::vector<std::string> allowed_;  // normalised: lower case, no default port
};

// Why an upgrade request is refused (none: it is accepted), in the order HttpSession answers the
// reasons. The fast path accepts exactly what this accepts and hands every other request to
// HttpSession, which says why.
enum class Refusal { none, not_found, draining, bad_version, bad_key, bad_origin };
Refusal refusal_of(std::string_view path, std::string_view version, std::string_view key, bool draining,
                   bool origin_allowed);

}  // namespace parley::net
