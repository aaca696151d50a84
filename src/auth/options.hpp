#pragma once
// The settings of accounts and sign-in (auth.* in docs/operations.md), in one place for the
// configuration (app/) and the node's Accounts, which applies them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "auth/password.hpp"

namespace parley::auth {

struct AuthOptions {
  bool guests = true;           // auth.guests: a name alone (no account) may say hello
  PasswordParams password;      // argon2id cost: auth.hash_opslimit, auth.hash_memlimit
  unsigned hash_threads = 1;    // auth.hash_threads: hashes at once (each holds password.memlimit)
  std::size_t hash_queue = 64;  // auth.hash_queue: hashes waiting; past it 503
  int hash_nice = 10;           // auth.hash_nice: the hash threads' niceness above the I/O threads
  std::int64_t session_ttl_ms = std::int64_t{30} * 24 * 3600 * 1000;  // unused this long, a session ends
  // auth.max_sessions_per_user: signing in past it ends the user's oldest sessions. 50: a person's
  // browsers and devices, with room to spare; a script signing in in a loop cannot grow the table.
  std::size_t max_sessions_per_user = 50;
  double signin_rate_per_address = 0.2;  // attempts per second, after the burst
  double signin_burst_per_address = 20;
  double signin_rate_per_account = 0.05;  // one attempt per 20 s after the burst
  double signin_burst_per_account = 5;
  double register_rate_per_address = 0.02;  // one registration per 50 s after the burst
  double register_burst_per_address = 5;
  std::size_t max_tracked_keys = 100000;
  // The server API (docs/api.md): requests per API key, a burst then a rate (429 past it), and
  // requests the node holds at once from every key (503 past it: each holds a connection and a
  // waiter on a room's owner thread).
  double api_rate_per_key = 100;
  double api_burst_per_key = 200;
  std::size_t api_max_in_flight = 1024;
  // JWTs from the operator's backend in hello (auth/jwt.hpp; docs/security.md). Off unless a key
  // file is set; app/ reads the file once at start-up into an auth::JwtVerifier.
  std::string jwt_algorithm;           // auth.jwt_algorithm: HS256 … ES384, required with a key file
  std::string jwt_secret_file;         // auth.jwt_secret_file: HS*: the shared secret (32+ bytes)
  std::string jwt_public_key_file;     // auth.jwt_public_key_file: RS*, ES*: the PEM public key
  std::string jwt_issuer;              // auth.jwt_issuer: if set, iss must equal it
  std::string jwt_audience;            // auth.jwt_audience: if set, aud must hold it
  std::int64_t jwt_leeway_ms = 30000;  // auth.jwt_leeway_ms: clock skew allowed on exp, nbf, iat
  // auth.admins: the accounts (names, or ids "u_...") whose sessions may use the admin API and
  // console (node/admin_api.hpp), comma-separated; empty: no session may (the console is off).
  std::string admins;
};

}  // namespace parley::auth
