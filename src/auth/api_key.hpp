#pragma once
// Keys of the server API (docs/api.md, "Server API"): what the operator's backend and its bots
// send as `Authorization: apikey <key>`. A key is "<id>.<secret>": the id ("pk_" and 16 hex
// digits, 64 random bits) is public, names the key's row and is what the operator lists and
// revokes; the secret is a session token's shape and strength (auth/token.hpp: 256 random bits).
// The store keeps token_digest(secret), never the secret, so a copy of the database holds no key.
// A key says what it may do by its scopes; the room rules (core::RoomAccess) decide the rest.
//
// Threads: every function may be called from any thread at the same time; none keeps state.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::auth {

inline constexpr std::size_t api_key_id_length = 19;  // "pk_" and 16 hex digits

// What a key may do, as a bit set.
enum class ApiScope : std::uint8_t {
  publish = 1,  // post messages as a bot
  rooms = 2,    // create and delete rooms
  members = 4,  // invite, remove, ban, unban and set roles
  admin = 8,    // the admin API (/api/admin/: node/admin_api.hpp), what an admin account may do
};

struct ApiKey {
  std::string id;      // "pk_…", public
  std::string secret;  // token_length chars of base64url
  std::string text() const { return id + "." + secret; }
};

// A new key: a random id and a random secret.
ApiKey mint_api_key();
// The id and secret of `key` if it has a key's shape, else nullopt (nothing is looked up for a
// malformed key). The secret is not checked here: the store's digest is.
std::optional<ApiKey> parse_api_key(std::string_view key);
// Whether `id` has a key id's shape (for the operator's revoke command).
bool looks_like_api_key_id(std::string_view id) noexcept;

// "publish,members" → the bit set; nullopt for an empty list, an unknown scope or a repeated one.
std::optional<std::uint8_t> parse_scopes(std::string_view list);
// The bit set as a list in the canonical order: "publish,rooms,members".
std::string scopes_text(std::uint8_t scopes);
inline bool has_scope(std::uint8_t scopes, ApiScope s) noexcept { return (scopes & static_cast<std::uint8_t>(s)) != 0; }

}  // namespace parley::auth
