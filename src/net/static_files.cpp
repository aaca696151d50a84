#include "net/static_files.hpp"

#include <string>
#include <system_error>

namespace parley::net {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::filesystem::path> resolve_static(const std::filesystem::path& root, std::string_view target) {
  const auto q = target.find_first_of("?#");
  if (q != std::string_view::npos) target = target.substr(0, q);
  if (target.empty() || target.front() != '/') return std::nullopt;
  std::string path;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;
      const int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0' || c == '\\') return std::nullopt;
    path.push_back(c);
  }
  // No segment may be "." or ".." and none may be hidden (".git", ".env"). No segment may be
  // empty either (only the last, for a directory): "//etc/passwd" or "/%2fetc/passwd" would
  // otherwise make the relative part absolute, and `root / "/etc/passwd"` is "/etc/passwd".
  for (std::size_t start = 1; start <= path.size();) {
    const auto end = std::min(path.find('/', start), path.size());
    const std::string_view seg(path.data() + start, end - start);
    if (seg.empty() && end != path.size()) return std::nullopt;
    if (!seg.empty() && seg.front() == '.') return std::nullopt;
    start = end + 1;
  }
  const std::filesystem::path rel(path.substr(1));
  if (rel.has_root_path()) return std::nullopt;  // belt and braces: never leave the root
  std::filesystem::path file = root / rel;
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) file /= "index.html";
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  return file;
}

std::string_view mime_type(const std::filesystem::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".webmanifest") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".gif") return "image/gif";
  if (ext == ".webp") return "image/webp";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt" || ext == ".md") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace parley::net
