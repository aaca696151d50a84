#include "net/upgrade.hpp"

#include <boost/beast/websocket/detail/hybi13.hpp>

#include <cctype>

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

Refusal refusal_of(std::string_view path, std::string_view version, std::string_view key, bool draining) {
  if (path != "/ws") return Refusal::not_found;
  if (draining) return Refusal::draining;
  if (version != "13") return Refusal::bad_version;
  if (!valid_client_key(key)) return Refusal::bad_key;
  return Refusal::none;
}

bool offers_subprotocol(std::string_view header) {
  return protocol::has_token(header, subprotocol, protocol::TokenCase::sensitive);
}

}  // namespace parley::net
