#pragma once
// What the three /api/ surfaces (accounts: /api/ sessions; server_api: /api/server/; admin_api:
// /api/admin/) read from a request and answer errors with, in one place: the error body of
// docs/api.md, the body as a JSON object, a path segment decoded, the Authorization scheme.
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "net/http_session.hpp"

namespace parley::node::api {

// An error answer: `status` with the body {"code":…,"message":…} (protocol::http_error_body).
net::ApiResponse error(unsigned status, std::string_view code, std::string_view message);

// The JSON object of a request body, or nullopt after answering 400 bad_json.
std::optional<boost::json::object> body_object(const net::ApiRequest& req, const net::ApiService::Respond& respond);

// A path segment as sent (percent-encoded: names may be any Unicode), decoded; nullopt if
// malformed (a '%' not followed by two hex digits).
std::optional<std::string> percent_decoded(std::string_view s);

// Whether `authorization` starts with `scheme` ("apikey ", "bearer ": lower case, with its
// space), compared in any case, and has something after it.
bool has_scheme(std::string_view authorization, std::string_view scheme);

// The session token of a request: its Bearer token, else its session cookie (empty if neither).
std::string_view session_token(const net::ApiRequest& req);

}  // namespace parley::node::api
