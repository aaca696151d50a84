#include "protocol/handshake.hpp"

#include <algorithm>

#include "protocol/http_request.hpp"

namespace parley::protocol {

namespace {

constexpr std::string_view request_start = "GET ";
constexpr std::string_view request_version = " HTTP/1.1\r\n";

bool is_tchar(unsigned char c) {
  // RFC 9110 5.6.2 token characters.
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Field values: HTAB, SP, visible ASCII and obs-text; no other control character.
bool is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Records a header the handshake needs; a second copy of one makes the request `other`.
bool take_once(std::string_view value, std::string_view& slot, bool& seen) {
  if (seen) return false;
  seen = true;
  slot = value;
  return true;
}

}  // namespace

bool has_token(std::string_view list, std::string_view token, TokenCase match) {
  while (true) {
    const auto comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (match == TokenCase::sensitive ? item == token : iequals(item, token)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

Scan scan_upgrade_request(std::string_view bytes, std::size_t max_header_bytes, UpgradeRequest& out) {
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() > max_header_bytes) return Scan::other;
    // A request that cannot become `GET ...` is decided now, not after its whole header.
    const auto n = std::min(bytes.size(), request_start.size());
    return bytes.substr(0, n) == request_start.substr(0, n) ? Scan::incomplete : Scan::other;
  }
  const std::size_t length = end + 4;
  if (length > max_header_bytes) return Scan::other;
  std::string_view rest = bytes.substr(0, end + 2);  // every line, each ending in CRLF

  // Request line: GET <origin-form target> HTTP/1.1
  if (!rest.starts_with(request_start)) return Scan::other;
  rest.remove_prefix(request_start.size());
  const auto line_end = rest.find("\r\n");
  if (line_end < request_version.size() - 2) return Scan::other;
  const std::string_view target = rest.substr(0, line_end + 2 - request_version.size());
  if (rest.substr(target.size(), request_version.size()) != request_version) return Scan::other;
  if (target.empty() || target.front() != '/') return Scan::other;
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) return Scan::other;
  rest.remove_prefix(line_end + 2);

  UpgradeRequest r;
  r.target = target;
  r.length = length;
  std::string_view upgrade, connection;
  bool seen_cookie = false;
  bool seen_upgrade = false, seen_connection = false, seen_key = false, seen_version = false, seen_protocols = false,
       seen_host = false;
  while (!rest.empty()) {
    const auto eol = rest.find("\r\n");  // present: `rest` ends in CRLF
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    const auto colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) return Scan::other;  // also obs-fold lines
    const std::string_view name = line.substr(0, colon);
    for (unsigned char c : name)
      if (!is_tchar(c)) return Scan::other;
    const std::string_view value_raw = line.substr(colon + 1);
    for (unsigned char c : value_raw)
      if (!is_field_char(c)) return Scan::other;
    const std::string_view value = trim(value_raw);
    bool ok = true;
    if (iequals(name, "host"))
      ok = take_once(value, r.host, seen_host);
    else if (iequals(name, "cookie"))
      ok = take_once(value, r.cookie, seen_cookie);  // two: HttpSession joins them
    else if (iequals(name, "origin"))
      ok = take_once(value, r.origin, r.has_origin);  // two: HttpSession refuses it
    else if (iequals(name, "upgrade"))
      ok = take_once(value, upgrade, seen_upgrade) && valid_token_list(value);  // else Beast reads no upgrade
    else if (iequals(name, "connection"))
      ok = take_once(value, connection, seen_connection) && valid_token_list(value);  // else Beast says 400
    else if (iequals(name, "sec-websocket-key"))
      ok = take_once(value, r.key, seen_key);
    else if (iequals(name, "sec-websocket-version"))
      ok = take_once(value, r.version, seen_version);
    else if (iequals(name, "sec-websocket-protocol"))
      ok = take_once(value, r.protocols, seen_protocols);
    else if (iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "proxy-connection"))
      ok = false;  // a body; or Proxy-Connection, which Beast parses as it parses Connection: let it
    if (!ok) return Scan::other;
  }
  // RFC 9112 3.2: exactly one Host (a second one was refused above), and a valid one.
  if (!seen_host || !valid_host(r.host)) return Scan::other;
  if (!has_token(upgrade, "websocket") || !has_token(connection, "upgrade")) return Scan::other;
  if (!seen_key || !seen_version) return Scan::other;
  out = r;
  return Scan::complete;
}

std::string make_upgrade_response(std::string_view accept, std::string_view subprotocol) {
  std::string res;
  res.reserve(160);
  res +=
      "HTTP/1.1 101 Switching Protocols\r\nServer: parley\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  res += accept;
  res += "\r\n";
  if (!subprotocol.empty()) {
    res += "Sec-WebSocket-Protocol: ";
    res += subprotocol;
    res += "\r\n";
  }
  res += "\r\n";
  return res;
}

}  // namespace parley::protocol
