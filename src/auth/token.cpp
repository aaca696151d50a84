#include "auth/token.hpp"

#include <sodium.h>

#include <array>
#include <string>
#include <utility>

#include "auth/sodium.hpp"

namespace parley::auth {
namespace {

constexpr int token_variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
static_assert(sodium_base64_ENCODED_LEN(token_bytes, token_variant) == token_length + 1);  // + NUL
static_assert(crypto_generichash_BYTES == token_digest_length / 2);

constexpr std::size_t user_id_bytes = 16;
constexpr std::size_t guest_id_bytes = 8;

}  // namespace

std::string mint_token() {
  ensure_sodium();
  std::array<unsigned char, token_bytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::array<char, token_length + 1> text{};
  sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(), token_variant);
  sodium_memzero(bytes.data(), bytes.size());
  std::string token(text.data(), token_length);
  sodium_memzero(text.data(), text.size());
  return token;
}

std::string token_digest(std::string_view token) {
  ensure_sodium();
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     nullptr, 0);
  std::array<char, token_digest_length + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), token_digest_length);
}

bool looks_like_token(std::string_view text) noexcept {
  if (text.size() != token_length) return false;
  for (const char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;  // sodium_memcmp would be handed null pointers
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string new_user_id() {
  ensure_sodium();
  std::array<unsigned char, user_id_bytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::array<char, user_id_bytes * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  return "u_" + std::string(hex.data(), user_id_bytes * 2);
}

std::string direct_room_id(std::string_view a, std::string_view b) {
  if (b < a) std::swap(a, b);
  std::string both;
  both.reserve(a.size() + b.size() + 1);
  both.append(a).push_back('\n');
  both.append(b);
  return "dm-" + token_digest(both).substr(0, 24);
}

std::string new_guest_id() {
  ensure_sodium();
  std::array<unsigned char, guest_id_bytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::array<char, guest_id_bytes * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  return "g_" + std::string(hex.data(), guest_id_bytes * 2);
}

}  // namespace parley::auth
