#include "auth/password.hpp"

#include <sodium.h>

#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "auth/sodium.hpp"
#include "protocol/utf8.hpp"

namespace parley::auth {
namespace {

static_assert(PasswordParams{}.opslimit == crypto_pwhash_OPSLIMIT_INTERACTIVE);
static_assert(PasswordParams{}.memlimit == crypto_pwhash_MEMLIMIT_INTERACTIVE);
static_assert(PasswordParams::max_memlimit <= crypto_pwhash_MEMLIMIT_MAX);
static_assert(max_password_bytes <= crypto_pwhash_PASSWD_MAX);

constexpr std::string_view argon2id_prefix = crypto_pwhash_argon2id_STRPREFIX;  // "$argon2id$"

// libsodium reads an encoded hash as a NUL-terminated string of fewer than crypto_pwhash_STRBYTES
// chars. False if `encoded` cannot be one (too long, or a NUL inside).
bool to_c_string(std::string_view encoded, std::array<char, crypto_pwhash_STRBYTES>& out) noexcept {
  if (encoded.size() >= out.size() || encoded.find('\0') != std::string_view::npos) return false;
  out.fill('\0');
  std::memcpy(out.data(), encoded.data(), encoded.size());
  return true;
}

}  // namespace

void PasswordParams::validate() const {
  if (opslimit < crypto_pwhash_OPSLIMIT_MIN)
    throw std::invalid_argument("password opslimit is below libsodium's minimum");
  if (opslimit > crypto_pwhash_OPSLIMIT_MAX)
    throw std::invalid_argument("password opslimit is above libsodium's maximum");
  if (memlimit < crypto_pwhash_MEMLIMIT_MIN)
    throw std::invalid_argument("password memlimit is below libsodium's minimum");
  if (memlimit > max_memlimit) throw std::invalid_argument("password memlimit is above 1 GiB");
}

PasswordProblem check_password(std::string_view password) noexcept {
  if (password.size() > max_password_bytes) return PasswordProblem::too_long;
  const std::size_t length = protocol::is_valid_utf8(password) ? protocol::utf8_length(password) : password.size();
  if (length < min_password_length) return PasswordProblem::too_short;
  return PasswordProblem::none;
}

std::string hash_password(std::string_view password, const PasswordParams& params) {
  params.validate();
  if (password.size() > max_password_bytes) throw std::invalid_argument("password is longer than max_password_bytes");
  ensure_sodium();
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), params.opslimit, params.memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("argon2id password hash failed (out of memory)");
  }
  return std::string(out.data());
}

bool verify_password(std::string_view encoded, std::string_view password) noexcept {
  if (password.size() > max_password_bytes) return false;
  std::array<char, crypto_pwhash_STRBYTES> str{};
  if (!to_c_string(encoded, str)) return false;
  try {
    ensure_sodium();
  } catch (...) {
    return false;
  }
  return crypto_pwhash_str_verify(str.data(), password.data(), password.size()) == 0;
}

bool needs_rehash(std::string_view encoded, const PasswordParams& params) noexcept {
  // libsodium's check compares the parameters only: an argon2i hash with the same ones would pass.
  if (!encoded.starts_with(argon2id_prefix)) return true;
  std::array<char, crypto_pwhash_STRBYTES> str{};
  if (!to_c_string(encoded, str)) return true;
  try {
    ensure_sodium();
  } catch (...) {
    return true;
  }
  // 0: the same parameters; 1: others; -1: malformed.
  return crypto_pwhash_str_needs_rehash(str.data(), params.opslimit, params.memlimit) != 0;
}

std::string dummy_hash(const PasswordParams& params) {
  using Key = std::pair<unsigned long long, std::size_t>;
  static std::mutex mutex;
  static std::map<Key, std::string> hashes;  // one per params a process uses: in practice one
  const Key key{params.opslimit, params.memlimit};
  {
    std::lock_guard lock(mutex);
    if (auto it = hashes.find(key); it != hashes.end()) return it->second;
  }
  // Hashed without the lock (tens of ms): two first callers may both hash; the first kept wins,
  // and both hashes are of passwords nobody knows.
  ensure_sodium();
  std::array<unsigned char, 32> secret{};
  randombytes_buf(secret.data(), secret.size());
  std::array<char, secret.size() * 2 + 1> password{};
  sodium_bin2hex(password.data(), password.size(), secret.data(), secret.size());
  std::string hash = hash_password(std::string_view(password.data(), secret.size() * 2), params);
  sodium_memzero(secret.data(), secret.size());
  sodium_memzero(password.data(), password.size());
  std::lock_guard lock(mutex);
  return hashes.emplace(key, std::move(hash)).first->second;
}

}  // namespace parley::auth
