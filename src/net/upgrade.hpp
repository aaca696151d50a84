#pragma once
// The WebSocket upgrade, as both paths to it see it: the hand-scanned fast path (handshake.cpp)
// and Beast's HTTP session (http_session.cpp). One list of the reasons an upgrade is refused, in
// the order they are answered, so that the two paths cannot come to disagree.
#include <string>
#include <string_view>

namespace parley::net {

inline constexpr std::string_view subprotocol = "parley.v1";

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string accept_key(std::string_view key);
// base64 of 16 bytes: 24 characters ending in "==".
bool valid_client_key(std::string_view key);
// Whether a Sec-WebSocket-Protocol header offers parley.v1.
bool offers_subprotocol(std::string_view header);

// Why an upgrade request is refused (none: it is accepted), in the order HttpSession answers the
// reasons. The fast path accepts exactly what this accepts and hands every other request to
// HttpSession, which says why.
enum class Refusal { none, not_found, draining, bad_version, bad_key };
Refusal refusal_of(std::string_view path, std::string_view version, std::string_view key, bool draining);

}  // namespace parley::net
