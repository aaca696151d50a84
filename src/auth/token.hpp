#pragma once
// Session tokens and user ids: minted from libsodium's random source (randombytes_buf: the
// kernel's getrandom), checked in shape before anything looks them up, and stored only as digests.
//
// A token is a bearer secret: whoever holds it is signed in. The store keeps token_digest(token),
// never the token, so a copy of the database cannot be replayed as sessions; a lookup digests the
// presented token and finds the row by digest. Never log a token (nor its digest next to a user).
//
// Threads: every function may be called from any thread at the same time; none keeps state.
#include <cstddef>
#include <string>
#include <string_view>

namespace parley::auth {

inline constexpr std::size_t token_bytes = 32;          // 256 random bits: not guessable, not enumerable
inline constexpr std::size_t token_length = 43;         // chars: 32 bytes in base64url without padding
inline constexpr std::size_t token_digest_length = 64;  // chars: BLAKE2b-256 in hex

// A new session token: token_bytes random bytes as base64url without padding (RFC 4648 §5:
// [A-Za-z0-9_-]), token_length chars, safe in a URL, a cookie and a JSON string as they are.
std::string mint_token();

// What the store keeps instead of `token`: its BLAKE2b-256 (crypto_generichash, no key) as 64
// lowercase hex chars. The same token always gives the same digest; a token is long and random
// enough that an unkeyed hash needs no salt or stretching.
std::string token_digest(std::string_view token);

// Whether `text` has a token's shape: exactly token_length chars of [A-Za-z0-9_-]. Checked on
// the input before the store is asked, so that a malformed or oversized one costs nothing.
bool looks_like_token(std::string_view text) noexcept;

// a == b in a time that depends on their sizes only, not on where they first differ
// (sodium_memcmp): for comparing secrets. False at once when the sizes differ (the size of a
// token or digest is no secret).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// A new user id: "u_" and 16 random bytes in lowercase hex (34 chars). Ids are opaque (nothing is
// encoded in them: not a name, not a time, not an order), stable for the account's life and never
// reused: 128 random bits do not repeat, and a deleted account's id is not given out again.
std::string new_user_id();

// The one room id of the direct conversation between two accounts, in either order: "dm-" and
// the first 24 hex digits of the BLAKE2b of both ids (sorted). Ids are the server's own (random)
// or an operator's (JWT `sub`), so no user picks one to collide with another pair's room; and the
// room's members decide its access, not its id.
std::string direct_room_id(std::string_view a, std::string_view b);

// A guest's id: "g_" and 8 random bytes in lowercase hex (18 chars), made at its welcome, one per
// connection: not stable (a guest is its name; the same guest reconnecting gets another id), only
// distinct between connections. 64 bits: ids of connections live at once do not meet.
std::string new_guest_id();

}  // namespace parley::auth
