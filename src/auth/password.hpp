#pragma once
// Passwords: the rules a new password must meet, and its argon2id hash (libsodium's
// crypto_pwhash_str, the self-describing "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string that is
// all the store keeps). Nothing here stores, logs or keeps a password.
//
// Cost: a hash or a verification with the default parameters takes tens of milliseconds of one
// core and 64 MiB of memory. Never call hash_password(), verify_password() or dummy_hash() on an
// I/O thread: run them on a HashPool (auth/hash_pool.hpp), whose bound is the memory bound.
//
// Threads: every function may be called from any thread at the same time; none keeps state but
// dummy_hash()'s cache (mutex-guarded).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::auth {

// argon2id's cost. The defaults are libsodium's INTERACTIVE limits (a sign-in a person waits for);
// a hash records the parameters it was made with, so changing them later only makes
// needs_rehash() true for the older hashes.
struct PasswordParams {
  unsigned long long opslimit = 2;               // crypto_pwhash_OPSLIMIT_INTERACTIVE: passes over memory
  std::size_t memlimit = std::size_t{64} << 20;  // crypto_pwhash_MEMLIMIT_INTERACTIVE: 64 MiB per hash

  // Throws std::invalid_argument if opslimit or memlimit is below libsodium's minimum
  // (crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN), opslimit above its maximum, or
  // memlimit above max_memlimit. Meant for start-up (the config); hash_password() calls it too.
  void validate() const;

  // 1 GiB: a hash this size already needs the pool's threads times 1 GiB of memory.
  static constexpr std::size_t max_memlimit = std::size_t{1} << 30;
};

// A new password's rules (deny what is easily guessed or costly to hash, nothing more).
inline constexpr std::size_t min_password_length = 8;    // code points (what the user typed)
inline constexpr std::size_t max_password_bytes = 1024;  // bytes: bounds what one hash reads

enum class PasswordProblem { none, too_short, too_long };

// Whether `password` may be set as a new password: at least min_password_length characters,
// counted as UTF-8 code points (so "pässwörd" is 8, not 10), and at most max_password_bytes bytes.
// Input that is not valid UTF-8 is counted in bytes (it is still accepted: the hash takes bytes).
// No normalisation: the bytes typed are the bytes hashed.
PasswordProblem check_password(std::string_view password) noexcept;

// The argon2id hash of `password` with a random salt, as the encoded string to store
// ("$argon2id$v=19$m=65536,t=2,p=1$..."; at most crypto_pwhash_STRBYTES - 1 = 127 chars).
// Throws std::invalid_argument if the params are invalid (PasswordParams::validate) or the
// password is longer than max_password_bytes, std::runtime_error if the hash fails (it could not
// have its memlimit of memory).
std::string hash_password(std::string_view password, const PasswordParams& params);

// Whether `password` is the one `encoded` (from hash_password) was made of; the parameters come
// from `encoded`. False for a wrong password, a password longer than max_password_bytes (without
// hashing it), and an encoded string that is malformed or not a libsodium argon2 hash. Never throws.
bool verify_password(std::string_view encoded, std::string_view password) noexcept;

// Whether `encoded` should be replaced by a new hash of the same password (made after a
// successful verify_password, when the password is at hand): true if it was made with other
// params than `params`, with another algorithm than argon2id, or is malformed.
bool needs_rehash(std::string_view encoded, const PasswordParams& params) noexcept;

// A hash of a random password nobody knows, made once per params for the life of the process
// (thread-safe; the first call for given params pays for one hash). A sign-in for a user that
// does not exist verifies the password against it and fails, so that it takes as long as a
// sign-in for one that does (with a hash made with the same params): the answer's timing does not
// tell which names have accounts. Throws as hash_password() does.
std::string dummy_hash(const PasswordParams& params);

// A banned account's stored hash is its hash behind this prefix (as `usermod -L` locks an account
// in /etc/shadow): no password verifies against it, the ban needs no column of its own in either
// store, and the hash is still there to tell the account's owner, with the right password, that
// the account is banned rather than that the password is wrong.
inline constexpr std::string_view banned_hash_prefix = "!";
inline bool is_banned_hash(std::string_view encoded) noexcept { return encoded.starts_with(banned_hash_prefix); }

}  // namespace parley::auth
