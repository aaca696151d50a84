#pragma once
// JSON Web Tokens from the operator's own backend ("bring your own identity", docs/security.md):
// a site signs a short-lived token for its signed-in user, and the user's hello carries it. The
// signature is libjwt's (1.10, OpenSSL); what this file adds is what libjwt 1.10 leaves to its
// caller: one configured algorithm (a token whose header names another, `none` among them, is
// refused before libjwt sees it: HS256 signed with the RS256 public key as its secret is the
// classic confusion), and the claims (exp, nbf, iat, iss, aud, sub, name).
//
// Keys: a shared secret (HS256/384/512: at least as many bytes as the hash, so 32 for HS256) or a
// PEM public key (RS*: RSA of at least 2048 bits; ES256/ES384: a P-256/P-384 key). The caller
// reads the file once at start-up (app/) and hands the bytes over; nothing here does I/O.
//
// Identity: the token's `sub` is the operator's user id; the Parley user id is "x_" + sub, so it
// can never equal a local account's ("u_" + hex, auth/token.hpp). There is no revocation list:
// a token is good until its `exp` (plus the leeway), so the backend should mint them short-lived.
//
// Cost (parley-jwt-bench, this 2-core VM): HS256 about 8 µs a verify; RS256 about 0.55 ms and
// ES256 about 0.6 ms, of which about 0.43 ms is libjwt parsing the PEM key again on every call
// (OpenSSL 3's decoders; libjwt 1.10 takes no parsed key). Too much for an I/O thread: the node
// runs RS* and ES* on the HashPool, HS* inline (node/accounts.hpp).
//
// Threads: a JwtVerifier is immutable after construction; verify() may be called from any thread
// at the same time.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::auth {

// The algorithms a node may be configured with (RFC 7518 names). ES512 is libjwt's too, but its
// P-521 signatures are not 2 × 66 bytes in every library: not offered.
enum class JwtAlgorithm { hs256, hs384, hs512, rs256, rs384, rs512, es256, es384 };

// "HS256" → hs256 and so on, exactly as RFC 7518 spells them (case matters); nullopt otherwise.
std::optional<JwtAlgorithm> parse_jwt_algorithm(std::string_view name) noexcept;
std::string_view jwt_algorithm_name(JwtAlgorithm a) noexcept;
// Whether `a` takes a shared secret (HS*) rather than a public key.
bool jwt_uses_secret(JwtAlgorithm a) noexcept;

struct JwtOptions {
  JwtAlgorithm algorithm = JwtAlgorithm::hs256;
  std::string key;       // the secret's bytes (HS*) or the PEM text of the public key (RS*, ES*)
  std::string issuer;    // if not empty: `iss` must equal it
  std::string audience;  // if not empty: `aud` must be it, or an array holding it
  // Clock skew between the backend and this node: exp, nbf and iat are each given this much
  // (0 to max_jwt_leeway_ms).
  std::int64_t leeway_ms = 30000;
};

inline constexpr std::int64_t max_jwt_leeway_ms = std::int64_t{3600} * 1000;
inline constexpr std::size_t max_jwt_bytes = 8192;         // a token longer than this is not read
inline constexpr std::size_t max_jwt_subject = 128;        // bytes of `sub`
inline constexpr std::string_view jwt_user_prefix = "x_";  // the Parley user id is this + sub

enum class JwtProblem {
  none,
  malformed,        // not three base64url parts, or a header or claims that are not JSON objects
  wrong_algorithm,  // the header's alg is not the configured one (none, or another)
  bad_signature,    // the signature does not verify with the configured key
  expired,          // exp (plus the leeway) has passed
  not_yet_valid,    // nbf or iat is later than now (plus the leeway)
  missing_claim,    // sub or exp is absent
  bad_claim,        // a claim of the wrong type, an empty, oversize or non-printable sub, a bad name
  wrong_issuer,     // iss is not the configured issuer
  wrong_audience,   // aud does not hold the configured audience
};

// The user a valid token names.
struct JwtUser {
  std::string user_id;  // "x_" + sub
  std::string name;     // `name`, normalised (core::normalize_name); `sub` when absent
  std::int64_t expires_ms = 0;
};

struct JwtResult {
  JwtProblem problem = JwtProblem::none;
  std::string_view claim;  // the claim a claim problem is about ("sub", "exp", ...), else empty
  JwtUser user;            // set when problem is none

  bool ok() const noexcept { return problem == JwtProblem::none; }
  // What went wrong, for the client ("the token has expired"); never holds the token.
  std::string message() const;
};

// Whether `text` has a JWT's shape: at most max_jwt_bytes, three non-empty parts of base64url
// ([A-Za-z0-9_-]) joined by two dots. A session token (auth/token.hpp) has no dot, so the two
// never look alike.
bool looks_like_jwt(std::string_view text) noexcept;

class JwtVerifier {
 public:
  // Throws std::invalid_argument (a configuration error, naming what is wrong, never the key's
  // bytes) if the key does not fit the algorithm: a secret shorter than the hash, a secret that
  // is a PEM key (the confusion this class guards against), a PEM that is no public key, a key
  // of another type, an RSA key under 2048 bits, an EC key on another curve; or a leeway that is
  // negative or over max_jwt_leeway_ms.
  explicit JwtVerifier(JwtOptions options);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Checks `token` at `now_ms` (Unix time, ms). Never throws (a failed allocation reads as
  // malformed).
  JwtResult verify(std::string_view token, std::int64_t now_ms) const noexcept;

  JwtAlgorithm algorithm() const noexcept { return options_.algorithm; }

 private:
  JwtOptions options_;
};

}  // namespace parley::auth
