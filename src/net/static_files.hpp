#pragma once
// Maps a request target to a file under the web root, refusing anything that could escape it.
#include <filesystem>
#include <optional>
#include <string_view>

namespace parley::net {

// Content-Security-Policy of the web UI and its files. The page loads its scripts (modules, no
// inline code), styles (no inline style attributes: scripts set styles through the CSSOM) and
// images from its own origin, and connects only to its own WebSocket ('self' covers ws: and wss:
// to the same host, CSP Level 3); nothing may frame it. web/index.html carries the same policy in
// a <meta> (for a server in front that does not add it, as deploy/nginx.conf), less
// frame-ancestors, which a <meta> policy cannot carry.
inline constexpr std::string_view page_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
// ... of every other answer (JSON, metrics, errors): it loads nothing and nothing may frame it.
inline constexpr std::string_view data_policy = "default-src 'none'; frame-ancestors 'none'";
// An uploaded file's (GET /api/files/{id}): nothing it holds runs, even opened on its own.
inline constexpr std::string_view file_policy = "sandbox; default-src 'none'; frame-ancestors 'none'";

// The file for `target` ("/", "/js/app.js?v=2"), or nullopt when the path is unsafe or absent.
std::optional<std::filesystem::path> resolve_static(const std::filesystem::path& root, std::string_view target);
std::string_view mime_type(const std::filesystem::path& file);

}  // namespace parley::net
