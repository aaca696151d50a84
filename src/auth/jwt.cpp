#include "auth/jwt.hpp"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "auth/sodium.hpp"
#include "core/names.hpp"

namespace parley::auth {

namespace json = boost::json;

namespace {

struct Named {
  JwtAlgorithm algorithm;
  std::string_view name;
  jwt_alg_t libjwt;
  std::size_t min_secret;  // HS*: the hash's size (RFC 7518 §3.2); else 0
};

constexpr std::array<Named, 8> algorithms{{
    {JwtAlgorithm::hs256, "HS256", JWT_ALG_HS256, 32},
    {JwtAlgorithm::hs384, "HS384", JWT_ALG_HS384, 48},
    {JwtAlgorithm::hs512, "HS512", JWT_ALG_HS512, 64},
    {JwtAlgorithm::rs256, "RS256", JWT_ALG_RS256, 0},
    {JwtAlgorithm::rs384, "RS384", JWT_ALG_RS384, 0},
    {JwtAlgorithm::rs512, "RS512", JWT_ALG_RS512, 0},
    {JwtAlgorithm::es256, "ES256", JWT_ALG_ES256, 0},
    {JwtAlgorithm::es384, "ES384", JWT_ALG_ES384, 0},
}};

const Named& named(JwtAlgorithm a) noexcept { return algorithms[static_cast<std::size_t>(a)]; }

bool base64url_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

struct JwtFree {
  void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};
struct MallocFree {
  void operator()(char* p) const noexcept { std::free(p); }  // NOLINT(cppcoreguidelines-no-malloc)
};
struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};

// The JSON object a base64url part (no padding) holds, or nullopt.
std::optional<json::object> decode_part(std::string_view part) {
  std::vector<unsigned char> bytes(part.size());
  std::size_t len = 0;
  if (sodium_base642bin(bytes.data(), bytes.size(), part.data(), part.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), len), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// A NumericDate (seconds since the epoch, integer or not) as ms, saturated; nullopt if not a number.
std::optional<std::int64_t> numeric_date_ms(const json::value& v) {
  double seconds = 0;
  if (v.is_int64())
    seconds = static_cast<double>(v.as_int64());
  else if (v.is_uint64())
    seconds = static_cast<double>(v.as_uint64());
  else if (v.is_double())
    seconds = v.as_double();
  else
    return std::nullopt;
  const double ms = std::floor(seconds * 1000.0);
  constexpr std::int64_t cap = 4'000'000'000'000'000'000;  // ms: 126 million years, far inside int64
  if (ms >= static_cast<double>(cap)) return cap;
  if (ms <= -static_cast<double>(cap)) return -cap;
  return static_cast<std::int64_t>(ms);
}

JwtResult problem(JwtProblem p, std::string_view claim = {}) {
  JwtResult r;
  r.problem = p;
  r.claim = claim;
  return r;
}

bool valid_subject(std::string_view sub) noexcept {
  if (sub.empty() || sub.size() > max_jwt_subject) return false;
  for (const char c : sub)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// The claims after the signature has been verified: exp, nbf, iat, iss, aud, sub, name.
JwtResult check_claims(const json::object& claims, const JwtOptions& o, std::int64_t now_ms) {
  const json::value* exp = claims.if_contains("exp");
  if (!exp) return problem(JwtProblem::missing_claim, "exp");
  const auto exp_ms = numeric_date_ms(*exp);
  if (!exp_ms) return problem(JwtProblem::bad_claim, "exp");
  if (now_ms - o.leeway_ms >= *exp_ms) return problem(JwtProblem::expired, "exp");
  for (const std::string_view key : {std::string_view("nbf"), std::string_view("iat")}) {
    const json::value* v = claims.if_contains(key);
    if (!v) continue;
    const auto ms = numeric_date_ms(*v);
    if (!ms) return problem(JwtProblem::bad_claim, key);
    if (now_ms + o.leeway_ms < *ms) return problem(JwtProblem::not_yet_valid, key);
  }
  if (!o.issuer.empty()) {
    const json::value* iss = claims.if_contains("iss");
    if (!iss || !iss->is_string() || iss->as_string() != o.issuer) return problem(JwtProblem::wrong_issuer, "iss");
  }
  if (!o.audience.empty()) {
    const json::value* aud = claims.if_contains("aud");
    bool found = false;
    if (aud && aud->is_string()) {
      found = aud->as_string() == o.audience;
    } else if (aud && aud->is_array()) {
      for (const auto& a : aud->as_array()) found = found || (a.is_string() && a.as_string() == o.audience);
    }
    if (!found) return problem(JwtProblem::wrong_audience, "aud");
  }
  const json::value* sub = claims.if_contains("sub");
  if (!sub) return problem(JwtProblem::missing_claim, "sub");
  if (!sub->is_string() || !valid_subject(sub->as_string())) return problem(JwtProblem::bad_claim, "sub");
  const std::string_view subject = sub->as_string();
  std::optional<std::string> name;
  if (const json::value* n = claims.if_contains("name")) {
    if (!n->is_string()) return problem(JwtProblem::bad_claim, "name");
    name = core::normalize_name(n->as_string());
  } else {
    name = core::normalize_name(subject);  // a sub that is no valid name needs a name claim
  }
  if (!name) return problem(JwtProblem::bad_claim, "name");
  JwtResult ok;
  ok.user.user_id = std::string(jwt_user_prefix) + std::string(subject);
  ok.user.name = std::move(*name);
  ok.user.expires_ms = *exp_ms;
  return ok;
}

// Checks that `pem` is a public key libjwt can verify `a` with; throws std::invalid_argument.
void check_public_key(JwtAlgorithm a, const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  const std::string name(jwt_algorithm_name(a));
  if (!key)
    throw std::invalid_argument("auth.jwt_public_key_file: not a PEM public key (\"-----BEGIN PUBLIC KEY-----\"; " +
                                name + " needs the public half, never the private key)");
  const int type = EVP_PKEY_get_base_id(key.get());
  const bool rsa = a == JwtAlgorithm::rs256 || a == JwtAlgorithm::rs384 || a == JwtAlgorithm::rs512;
  if (rsa) {
    if (type != EVP_PKEY_RSA) throw std::invalid_argument("auth.jwt_public_key_file: " + name + " needs an RSA key");
    if (EVP_PKEY_get_bits(key.get()) < 2048)
      throw std::invalid_argument("auth.jwt_public_key_file: an RSA key needs at least 2048 bits");
    return;
  }
  if (type != EVP_PKEY_EC) throw std::invalid_argument("auth.jwt_public_key_file: " + name + " needs an EC key");
  std::array<char, 64> group{};
  std::size_t group_len = 0;
  if (EVP_PKEY_get_group_name(key.get(), group.data(), group.size(), &group_len) != 1)
    throw std::invalid_argument("auth.jwt_public_key_file: the EC key names no curve");
  const std::string_view curve(group.data(), group_len);
  const std::string_view want = a == JwtAlgorithm::es256 ? "prime256v1" : "secp384r1";
  if (curve != want)
    throw std::invalid_argument("auth.jwt_public_key_file: " + name + " needs a key on " +
                                (a == JwtAlgorithm::es256 ? "P-256" : "P-384") + ", not " + std::string(curve));
}

}  // namespace

std::optional<JwtAlgorithm> parse_jwt_algorithm(std::string_view name) noexcept {
  for (const auto& a : algorithms)
    if (a.name == name) return a.algorithm;
  return std::nullopt;
}

std::string_view jwt_algorithm_name(JwtAlgorithm a) noexcept { return named(a).name; }

bool jwt_uses_secret(JwtAlgorithm a) noexcept { return named(a).min_secret > 0; }

bool looks_like_jwt(std::string_view text) noexcept {
  if (text.size() > max_jwt_bytes) return false;
  int dots = 0;
  std::size_t part = 0;  // chars of the current part
  for (const char c : text) {
    if (c == '.') {
      if (part == 0 || ++dots > 2) return false;
      part = 0;
    } else if (base64url_char(c)) {
      ++part;
    } else {
      return false;
    }
  }
  return dots == 2 && part > 0;
}

std::string JwtResult::message() const {
  const std::string c = claim.empty() ? std::string() : " \"" + std::string(claim) + "\"";
  switch (problem) {
    case JwtProblem::none: return {};
    case JwtProblem::malformed: return "the token is not a well-formed JWT";
    case JwtProblem::wrong_algorithm: return "the token is signed with another algorithm than this server accepts";
    case JwtProblem::bad_signature: return "the token's signature does not verify";
    case JwtProblem::expired: return "the token has expired";
    case JwtProblem::not_yet_valid: return "the token is not valid yet (claim" + c + " is in the future)";
    case JwtProblem::missing_claim: return "the token lacks the required claim" + c;
    case JwtProblem::bad_claim: return "the token's claim" + c + " is not valid";
    case JwtProblem::wrong_issuer: return "the token's issuer is not accepted here";
    case JwtProblem::wrong_audience: return "the token is meant for another audience";
  }
  return "the token is not valid";
}

JwtVerifier::JwtVerifier(JwtOptions options) : options_(std::move(options)) {
  ensure_sodium();
  // An hour at most: a leeway of days would make exp meaningless (and a huge one overflow).
  if (options_.leeway_ms < 0 || options_.leeway_ms > max_jwt_leeway_ms)
    throw std::invalid_argument("auth.jwt_leeway_ms: 0 to " + std::to_string(max_jwt_leeway_ms) + " (an hour)");
  const Named& a = named(options_.algorithm);
  if (a.min_secret > 0) {
    if (options_.key.size() < a.min_secret)
      throw std::invalid_argument("auth.jwt_secret_file: " + std::string(a.name) + " needs a secret of at least " +
                                  std::to_string(a.min_secret) + " bytes");
    // A public key as the HMAC secret is how the key confusion attack signs; never configure it.
    if (options_.key.find("-----BEGIN") != std::string::npos)
      throw std::invalid_argument("auth.jwt_secret_file: holds a PEM key; " + std::string(a.name) +
                                  " takes a random secret (a public key goes to auth.jwt_public_key_file with RS* "
                                  "or ES*)");
  } else {
    check_public_key(options_.algorithm, options_.key);
  }
}

JwtVerifier::~JwtVerifier() { sodium_memzero(options_.key.data(), options_.key.size()); }

JwtResult JwtVerifier::verify(std::string_view token, std::int64_t now_ms) const noexcept try {
  if (!looks_like_jwt(token)) return problem(JwtProblem::malformed);
  // The header's alg, read here before libjwt sees the token: libjwt 1.10 verifies with whatever
  // algorithm the header names, so an HS256 token checked against an RSA public key would be
  // an HMAC keyed with the PEM text, which the attacker has.
  const std::size_t dot = token.find('.');
  const auto header = decode_part(token.substr(0, dot));
  if (!header) return problem(JwtProblem::malformed);
  const json::value* alg = header->if_contains("alg");
  if (!alg || !alg->is_string()) return problem(JwtProblem::malformed);
  const Named& want = named(options_.algorithm);
  if (alg->as_string() != want.name) return problem(JwtProblem::wrong_algorithm);
  // RFC 7515 §4.1.11: extensions the verifier does not understand must fail it; this one knows none.
  if (header->contains("crit")) return problem(JwtProblem::malformed);

  const std::string text(token);
  jwt_t* raw = nullptr;
  const int rc = jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(options_.key.data()),
                            static_cast<int>(options_.key.size()));
  std::unique_ptr<jwt_t, JwtFree> decoded(raw);
  if (rc == ENOMEM) return problem(JwtProblem::malformed);
  if (rc != 0 || !decoded) return problem(JwtProblem::bad_signature);
  // libjwt's own reading of the header must agree (a duplicate "alg" key could tell two parsers
  // two things).
  if (jwt_get_alg(decoded.get()) != want.libjwt) return problem(JwtProblem::wrong_algorithm);
  std::unique_ptr<char, MallocFree> grants(jwt_get_grants_json(decoded.get(), nullptr));
  if (!grants) return problem(JwtProblem::malformed);
  boost::system::error_code ec;
  json::value claims = json::parse(grants.get(), ec);
  if (ec || !claims.is_object()) return problem(JwtProblem::malformed);
  return check_claims(claims.as_object(), options_, now_ms);
} catch (...) {
  return problem(JwtProblem::malformed);
}

}  // namespace parley::auth
