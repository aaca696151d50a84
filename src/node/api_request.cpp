#include "node/api_request.hpp"

#include <boost/json/parse.hpp>

#include <cctype>
#include <utility>

#include "net/upgrade.hpp"
#include "protocol/events.hpp"

namespace parley::node::api {

net::ApiResponse error(unsigned status, std::string_view code, std::string_view message) {
  return net::ApiResponse{status, protocol::http_error_body(code, message), {}};
}

std::optional<boost::json::object> body_object(const net::ApiRequest& req, const net::ApiService::Respond& respond) {
  boost::system::error_code ec;
  auto v = boost::json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    respond(error(400, "bad_json", "the body must be a JSON object"));
    return std::nullopt;
  }
  return std::move(v.as_object());
}

std::optional<std::string> percent_decoded(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool has_scheme(std::string_view authorization, std::string_view scheme) {
  if (authorization.size() <= scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  return true;
}

std::string_view session_token(const net::ApiRequest& req) {
  constexpr std::string_view scheme = "bearer ";
  if (has_scheme(req.authorization, scheme)) return std::string_view(req.authorization).substr(scheme.size());
  return net::cookie_value(req.cookie, net::session_cookie);
}

}  // namespace parley::node::api
