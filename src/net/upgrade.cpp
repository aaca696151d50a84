#include "net/upgrade.hpp"

#include <boost/beast/websocket/detail/hybi13.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "protocol/handshake.hpp"

namespace parley::net {

namespace beast = boost::beast;

// Sec-WebSocket-Accept: base64(SHA-1(key + GUID)), RFC 6455 4.2.2. Beast's SHA-1, not OpenSSL's
// EVP: EVP_Digest looks the algorithm up in its provider tables on every call, which was 12% of
// the instructions of a connection.
std::string accept_key(std::string_view key) {
  beast::websocket::detail::sec_ws_accept_type accept;
  beast::websocket::detail::make_sec_ws_accept(accept, key);
  return std::string(accept.data(), accept.size());
}

bool valid_client_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22))
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  return true;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "host" or "host:port" (IPv6 in brackets) with the scheme's default port removed; nullopt if it
// is not an authority a browser would send (no user info, path, query or blank).
std::optional<std::string> authority(std::string_view text, std::string_view scheme) {
  if (text.empty()) return std::nullopt;
  for (unsigned char c : text)
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_')) return std::nullopt;
  std::string a = lower(text);
  const std::string_view default_port = scheme == "https" ? ":443" : ":80";
  const auto bracket = a.rfind(']');
  const auto colon = a.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    const std::string_view port = std::string_view(a).substr(colon + 1);
    if (port.empty() || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }))
      return std::nullopt;
    if (std::string_view(a).substr(colon) == default_port) a.resize(colon);
  }
  if (a.empty() || a.front() == ':') return std::nullopt;
  return a;
}

struct ParsedOrigin {
  std::string scheme;
  std::string authority;
};

// An Origin (RFC 6454 7): scheme "://" host [":" port], nothing after; http and https only.
std::optional<ParsedOrigin> parse_origin(std::string_view origin) {
  const auto sep = origin.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string scheme = lower(origin.substr(0, sep));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  auto auth = authority(origin.substr(sep + 3), scheme);
  if (!auth) return std::nullopt;
  return ParsedOrigin{std::move(scheme), std::move(*auth)};
}

}  // namespace

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view item = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=')
      return item.substr(name.size() + 1);
  }
  return {};
}

std::string upgrade_credential(std::string_view cookie_header) {
  const std::string_view v = cookie_value(cookie_header, session_cookie);
  return v.size() <= 64 ? std::string(v) : std::string();
}

OriginPolicy::OriginPolicy(std::string_view list) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    if (item == "*") {
      any_ = true;
      continue;
    }
    auto origin = parse_origin(item);
    if (!origin)
      throw std::invalid_argument("server.allowed_origins: not an origin (scheme://host[:port]): '" +
                                  std::string(item) + "'");
    allowed_.push_back(origin->scheme + "://" + origin->authority);
  }
}

bool OriginPolicy::allows(std::optional<std::string_view> origin, std::string_view host) const {
  if (!origin) return true;  // not a browser page
  if (any_) return true;
  const auto parsed = parse_origin(trim(*origin));
  if (!parsed) return false;  // "null" (a sandboxed or file: page), or malformed
  if (!allowed_.empty())
    return std::find(allowed_.begin(), allowed_.end(), parsed->scheme + "://" + parsed->authority) != allowed_.end();
  const auto h = authority(trim(host), parsed->scheme);
  return h && *h == parsed->authority;
}

Refusal refusal_of(std::string_view path, std::string_view version, std::string_view key, bool draining,
                   bool origin_allowed) {
  if (path != "/ws") return Refusal::not_found;
  if (draining) return Refusal::draining;
  if (version != "13") return Refusal::bad_version;
  if (!valid_client_key(key)) return Refusal::bad_key;
  if (!origin_allowed) return Refusal::bad_origin;
  return Refusal::none;
}

bool offers_subprotocol(std::string_view header) {
  return protocol::has_token(header, subprotocol, protocol::TokenCase::sensitive);
}

}  // namespace parley::net
