#pragma once
// The WebSocket opening handshake's fast path (RFC 6455 4.2.1): recognises the one request a
// chat client sends on every connect — a plain `GET /ws` upgrade — without an HTTP library, so
// that a connection costs a scan of its header instead of a general parser and a dozen
// allocations. Anything else, or anything it is not sure of, is `other`: the caller hands the
// bytes to the full HTTP parser (Beast), which answers errors, static files and health checks.
// So this scanner only ever accepts; it never refuses. What it accepts, the HTTP session would
// accept too: HTTP/1.1 with exactly one valid Host, no body (no Content-Length or
// Transfer-Encoding), no folded line (obs-fold), a Connection list Beast can parse
// (http_request.hpp has the rules both apply; the fuzz target checks the two agree), at most one
// Origin.
#include <cstddef>
#include <string>
#include <string_view>

namespace parley::protocol {

struct UpgradeRequest {
  std::string_view target;     // "/ws" or "/ws?..." (the path is checked by the caller)
  std::string_view key;        // Sec-WebSocket-Key, as sent
  std::string_view version;    // Sec-WebSocket-Version
  std::string_view protocols;  // Sec-WebSocket-Protocol (may be empty)
  std::string_view host;       // Host
  std::string_view origin;     // Origin, if has_origin (browsers send it; other clients may not)
  bool has_origin = false;
  std::string_view cookie;  // Cookie (empty if none; two Cookie lines: `other`)
  std::size_t length = 0;   // bytes of the request, including the blank line
};

enum class Scan {
  complete,    // a well-formed GET upgrade to WebSocket; `out` is filled
  incomplete,  // a well-formed prefix: read more (the caller bounds how much)
  other,       // not a plain upgrade, malformed, or too large: give it to the HTTP parser
};

// Scans `bytes` from their start. `max_header_bytes` bounds the request (past it: `other`, and
// the HTTP parser answers 431). The views in `out` point into `bytes`.
Scan scan_upgrade_request(std::string_view bytes, std::size_t max_header_bytes, UpgradeRequest& out);

// The 101 response; `accept` is base64(SHA-1(key + GUID)). `subprotocol` empty: none chosen.
std::string make_upgrade_response(std::string_view accept, std::string_view subprotocol);

// True when the comma-separated list `list` holds `token`, blanks around items ignored: ASCII
// case-insensitive for HTTP tokens (Connection, Upgrade), exact for subprotocol names, which
// RFC 6455 (4.1) compares case-sensitively.
enum class TokenCase { insensitive, sensitive };
bool has_token(std::string_view list, std::string_view token, TokenCase match = TokenCase::insensitive);

}  // namespace parley::protocol
