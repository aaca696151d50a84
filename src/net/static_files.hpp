#pragma once
// Maps a request target to a file under the web root, refusing anything that could escape it.
#include <filesystem>
#include <optional>
#include <string_view>

namespace parley::net {

// The file for `target` ("/", "/js/app.js?v=2"), or nullopt when the path is unsafe or absent.
std::optional<std::filesystem::path> resolve_static(const std::filesystem::path& root, std::string_view target);
std::string_view mime_type(const std::filesystem::path& file);

}  // namespace parley::net
