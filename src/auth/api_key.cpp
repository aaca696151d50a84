#include "auth/api_key.hpp"

#include <sodium.h>

#include <array>

#include "auth/sodium.hpp"
#include "auth/token.hpp"

namespace parley::auth {
namespace {

constexpr std::size_t id_bytes = 8;  // 64 bits: ids of an operator's keys never meet
constexpr std::string_view id_prefix = "pk_";

struct ScopeName {
  ApiScope scope;
  std::string_view name;
};
constexpr ScopeName scope_names[] = {
    {ApiScope::publish, "publish"},
    {ApiScope::rooms, "rooms"},
    {ApiScope::members, "members"},
    {ApiScope::admin, "admin"},
};

bool is_lower_hex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

ApiKey mint_api_key() {
  ensure_sodium();
  std::array<unsigned char, id_bytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::array<char, id_bytes * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  return ApiKey{std::string(id_prefix) + std::string(hex.data(), id_bytes * 2), mint_token()};
}

bool looks_like_api_key_id(std::string_view id) noexcept {
  if (id.size() != api_key_id_length || !id.starts_with(id_prefix)) return false;
  for (const char c : id.substr(id_prefix.size()))
    if (!is_lower_hex(c)) return false;
  return true;
}

std::optional<ApiKey> parse_api_key(std::string_view key) {
  if (key.size() != api_key_id_length + 1 + token_length || key[api_key_id_length] != '.') return std::nullopt;
  const std::string_view id = key.substr(0, api_key_id_length);
  const std::string_view secret = key.substr(api_key_id_length + 1);
  if (!looks_like_api_key_id(id) || !looks_like_token(secret)) return std::nullopt;
  return ApiKey{std::string(id), std::string(secret)};
}

std::optional<std::uint8_t> parse_scopes(std::string_view list) {
  std::uint8_t scopes = 0;
  if (list.empty()) return std::nullopt;
  while (true) {
    const auto comma = list.find(',');
    const std::string_view word = list.substr(0, comma);
    std::uint8_t bit = 0;
    for (const auto& s : scope_names)
      if (word == s.name) bit = static_cast<std::uint8_t>(s.scope);
    if (bit == 0 || (scopes & bit) != 0) return std::nullopt;
    scopes |= bit;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return scopes;
}

std::string scopes_text(std::uint8_t scopes) {
  std::string out;
  for (const auto& s : scope_names) {
    if (!has_scope(scopes, s.scope)) continue;
    if (!out.empty()) out += ',';
    out += s.name;
  }
  return out;
}

}  // namespace parley::auth
