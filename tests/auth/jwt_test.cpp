// JWTs from an operator's backend: tokens minted here with libjwt (keys made here: a random
// HMAC secret, RSA and EC keys from OpenSSL), then verified as a node would, valid and every way
// of being invalid the verifier must see.
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "auth/jwt.hpp"

namespace parley::auth {
namespace {

constexpr std::int64_t now_ms = 1'760'000'000'000;  // a fixed "now": the tests never read the clock
constexpr long now_s = now_ms / 1000;

struct PemPair {
  std::string private_pem;
  std::string public_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// A new key pair as PEM: "RSA" with `bits`, or "EC" on `curve`.
PemPair make_keys(const char* type, unsigned bits, const char* curve = nullptr) {
  EVP_PKEY* key = curve ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                        : EVP_PKEY_Q_keygen(nullptr, nullptr, type, static_cast<std::size_t>(bits));
  if (!key) throw std::runtime_error("keygen failed");
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(priv.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub.get(), key);
  EVP_PKEY_free(key);
  return {bio_text(priv.get()), bio_text(pub.get())};
}

const PemPair& rsa_keys() {
  static const PemPair keys = make_keys("RSA", 2048);
  return keys;
}
const PemPair& ec_keys() {
  static const PemPair keys = make_keys("EC", 0, "P-256");
  return keys;
}

std::string random_secret(std::size_t n = 32) {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init");
  std::string s(n, '\0');
  randombytes_buf(s.data(), s.size());
  return s;
}

// The claims of a token this backend would mint: a user "u42" called "Ada", valid for 5 minutes.
struct Claims {
  std::string sub = "u42";
  std::string name = "Ada";
  long exp = now_s + 300;
  long nbf = 0;  // 0: absent
  long iat = 0;
  std::string iss;
  std::string aud;
  bool with_sub = true;
  bool with_exp = true;
};

// A token signed with libjwt: `alg` with `key` (a secret, or a private key's PEM).
std::string mint(const Claims& c, jwt_alg_t alg, const std::string& key) {
  jwt_t* j = nullptr;
  if (jwt_new(&j) != 0) throw std::runtime_error("jwt_new");
  std::unique_ptr<jwt_t, decltype(&jwt_free)> owned(j, jwt_free);
  if (c.with_sub) jwt_add_grant(j, "sub", c.sub.c_str());
  if (!c.name.empty()) jwt_add_grant(j, "name", c.name.c_str());
  if (c.with_exp) jwt_add_grant_int(j, "exp", c.exp);
  if (c.nbf) jwt_add_grant_int(j, "nbf", c.nbf);
  if (c.iat) jwt_add_grant_int(j, "iat", c.iat);
  if (!c.iss.empty()) jwt_add_grant(j, "iss", c.iss.c_str());
  if (!c.aud.empty()) jwt_add_grant(j, "aud", c.aud.c_str());
  if (jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
                  alg == JWT_ALG_NONE ? 0 : static_cast<int>(key.size())) != 0)
    throw std::runtime_error("jwt_set_alg");
  char* text = jwt_encode_str(j);
  if (!text) throw std::runtime_error("jwt_encode_str");
  std::string token(text);
  std::free(text);  // NOLINT(cppcoreguidelines-no-malloc)
  return token;
}

std::string base64url(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);
  return out;
}

JwtVerifier verifier(JwtAlgorithm a, std::string key, std::string issuer = {}, std::string audience = {}) {
  JwtOptions o;
  o.algorithm = a;
  o.key = std::move(key);
  o.issuer = std::move(issuer);
  o.audience = std::move(audience);
  return JwtVerifier(std::move(o));
}

TEST(Jwt, HS256ValidTokenNamesTheNamespacedUser) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret);
  const auto r = v.verify(mint({}, JWT_ALG_HS256, secret), now_ms);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.user.user_id, "x_u42");
  EXPECT_EQ(r.user.name, "Ada");
  EXPECT_EQ(r.user.expires_ms, (now_s + 300) * 1000);
}

TEST(Jwt, RS256AndES256ValidTokens) {
  const auto rs = verifier(JwtAlgorithm::rs256, rsa_keys().public_pem);
  const auto r = rs.verify(mint({}, JWT_ALG_RS256, rsa_keys().private_pem), now_ms);
  EXPECT_TRUE(r.ok()) << r.message();
  const auto es = verifier(JwtAlgorithm::es256, ec_keys().public_pem);
  const auto e = es.verify(mint({}, JWT_ALG_ES256, ec_keys().private_pem), now_ms);
  EXPECT_TRUE(e.ok()) << e.message();
  EXPECT_EQ(e.user.user_id, "x_u42");
}

TEST(Jwt, WithoutANameTheSubIsTheName) {
  const std::string secret = random_secret();
  Claims c;
  c.name.clear();
  c.sub = "grace";
  const auto r = verifier(JwtAlgorithm::hs256, secret).verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.user.name, "grace");
  EXPECT_EQ(r.user.user_id, "x_grace");
}

TEST(Jwt, ExpiredAndNotYetValidWithinAndBeyondTheLeeway) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret);  // leeway 30 s
  Claims c;
  c.exp = now_s - 10;
  EXPECT_TRUE(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).ok()) << "10 s late is within the leeway";
  c.exp = now_s - 31;
  const auto late = v.verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  EXPECT_EQ(late.problem, JwtProblem::expired);
  EXPECT_EQ(late.message(), "the token has expired");
  c = {};
  c.nbf = now_s + 60;
  const auto early = v.verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  EXPECT_EQ(early.problem, JwtProblem::not_yet_valid);
  EXPECT_EQ(early.claim, "nbf");
  c.nbf = now_s + 20;
  EXPECT_TRUE(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).ok());
  c = {};
  c.iat = now_s + 3600;
  EXPECT_EQ(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).problem, JwtProblem::not_yet_valid);
}

TEST(Jwt, AForgedSignatureIsRefused) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret);
  EXPECT_EQ(v.verify(mint({}, JWT_ALG_HS256, random_secret()), now_ms).problem, JwtProblem::bad_signature);
  // The claims changed after signing (another sub), the signature kept.
  const std::string good = mint({}, JWT_ALG_HS256, secret);
  Claims other;
  other.sub = "admin";
  const std::string forged_claims = mint(other, JWT_ALG_HS256, random_secret());
  const std::string spliced =
      good.substr(0, good.find('.')) +
      forged_claims.substr(forged_claims.find('.'), forged_claims.rfind('.') - forged_claims.find('.')) +
      good.substr(good.rfind('.'));
  EXPECT_EQ(v.verify(spliced, now_ms).problem, JwtProblem::bad_signature);
  // RS256: signed by another key.
  const auto rs = verifier(JwtAlgorithm::rs256, rsa_keys().public_pem);
  const auto stranger = make_keys("RSA", 2048);
  EXPECT_EQ(rs.verify(mint({}, JWT_ALG_RS256, stranger.private_pem), now_ms).problem, JwtProblem::bad_signature);
  const auto es = verifier(JwtAlgorithm::es256, ec_keys().public_pem);
  EXPECT_EQ(es.verify(mint({}, JWT_ALG_ES256, make_keys("EC", 0, "P-256").private_pem), now_ms).problem,
            JwtProblem::bad_signature);
}

TEST(Jwt, AlgNoneIsRefused) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret);
  // libjwt writes "header.claims." for none; with any signature part the header still says none.
  const std::string unsigned_token = mint({}, JWT_ALG_NONE, {});
  const auto r = v.verify(unsigned_token, now_ms);
  EXPECT_NE(r.problem, JwtProblem::none);
  const std::string with_sig = unsigned_token + "AAAA";
  EXPECT_EQ(v.verify(with_sig, now_ms).problem, JwtProblem::wrong_algorithm);
  const std::string header = base64url(R"({"alg":"none","typ":"JWT"})");
  const std::string claims = base64url(R"({"sub":"u42","exp":)" + std::to_string(now_s + 300) + "}");
  EXPECT_EQ(v.verify(header + "." + claims + ".AAAA", now_ms).problem, JwtProblem::wrong_algorithm);
  EXPECT_EQ(v.verify(base64url(R"({"alg":"NONE"})") + "." + claims + ".AAAA", now_ms).problem,
            JwtProblem::wrong_algorithm);
  const auto rs = verifier(JwtAlgorithm::rs256, rsa_keys().public_pem);
  EXPECT_EQ(rs.verify(header + "." + claims + ".AAAA", now_ms).problem, JwtProblem::wrong_algorithm);
}

TEST(Jwt, KeyConfusionHS256WithThePublicKeyAsSecretIsRefused) {
  // The attack: the RSA public key is public, so an attacker signs HS256 with its PEM text as the
  // HMAC secret; a verifier that lets the header choose the algorithm accepts it.
  const auto rs = verifier(JwtAlgorithm::rs256, rsa_keys().public_pem);
  Claims c;
  c.sub = "admin";
  const std::string forged = mint(c, JWT_ALG_HS256, rsa_keys().public_pem);
  const auto r = rs.verify(forged, now_ms);
  EXPECT_EQ(r.problem, JwtProblem::wrong_algorithm);
  EXPECT_EQ(r.message(), "the token is signed with another algorithm than this server accepts");
  // And libjwt alone would have taken it: the reason for the check.
  jwt_t* j = nullptr;
  EXPECT_EQ(jwt_decode(&j, forged.c_str(), reinterpret_cast<const unsigned char*>(rsa_keys().public_pem.data()),
                       static_cast<int>(rsa_keys().public_pem.size())),
            0);
  jwt_free(j);
  // Another asymmetric algorithm than the configured one is refused the same way.
  EXPECT_EQ(rs.verify(mint({}, JWT_ALG_RS384, rsa_keys().private_pem), now_ms).problem, JwtProblem::wrong_algorithm);
  const auto es = verifier(JwtAlgorithm::es256, ec_keys().public_pem);
  EXPECT_EQ(es.verify(mint({}, JWT_ALG_HS256, ec_keys().public_pem), now_ms).problem, JwtProblem::wrong_algorithm);
  EXPECT_EQ(es.verify(mint({}, JWT_ALG_RS256, rsa_keys().private_pem), now_ms).problem, JwtProblem::wrong_algorithm);
}

TEST(Jwt, MissingSubOrExpIsRefusedNamingTheClaim) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret);
  Claims c;
  c.with_sub = false;
  auto r = v.verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  EXPECT_EQ(r.problem, JwtProblem::missing_claim);
  EXPECT_EQ(r.message(), "the token lacks the required claim \"sub\"");
  c = {};
  c.with_exp = false;
  r = v.verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  EXPECT_EQ(r.problem, JwtProblem::missing_claim);
  EXPECT_EQ(r.claim, "exp");
}

TEST(Jwt, IssuerAndAudienceAreCheckedWhenSet) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret, "https://login.example", "parley");
  Claims c;
  c.iss = "https://login.example";
  c.aud = "parley";
  EXPECT_TRUE(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).ok());
  c.iss = "https://evil.example";
  EXPECT_EQ(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).problem, JwtProblem::wrong_issuer);
  c.iss = "https://login.example";
  c.aud = "another-app";
  EXPECT_EQ(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).problem, JwtProblem::wrong_audience);
  c.aud.clear();
  EXPECT_EQ(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).problem, JwtProblem::wrong_audience);
  // aud as an array holding ours.
  jwt_t* j = nullptr;
  jwt_new(&j);
  jwt_add_grants_json(j, (R"({"sub":"u42","iss":"https://login.example","aud":["other","parley"],"exp":)" +
                          std::to_string(now_s + 60) + "}")
                             .c_str());
  jwt_set_alg(j, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()), static_cast<int>(secret.size()));
  char* text = jwt_encode_str(j);
  const std::string token(text);
  std::free(text);  // NOLINT(cppcoreguidelines-no-malloc)
  jwt_free(j);
  EXPECT_TRUE(v.verify(token, now_ms).ok()) << v.verify(token, now_ms).message();
  // Unset: not checked.
  EXPECT_TRUE(verifier(JwtAlgorithm::hs256, secret).verify(mint(Claims{}, JWT_ALG_HS256, secret), now_ms).ok());
}

TEST(Jwt, OversizeOrNonPrintableSubAndBadNamesAreRefused) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret);
  Claims c;
  c.sub = std::string(128, 'a');
  EXPECT_TRUE(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).ok()) << "128 bytes is the most";
  c.sub = std::string(129, 'a');
  auto r = v.verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  EXPECT_EQ(r.problem, JwtProblem::bad_claim);
  EXPECT_EQ(r.claim, "sub");
  c.sub = "tab\there";
  EXPECT_EQ(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).problem, JwtProblem::bad_claim);
  c.sub = "caf\xc3\xa9";
  EXPECT_EQ(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).problem, JwtProblem::bad_claim);
  c = {};
  c.name = "admin\u202Etxt.exe";  // a bidi override: what a guest may not be called either
  r = v.verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  EXPECT_EQ(r.problem, JwtProblem::bad_claim);
  EXPECT_EQ(r.claim, "name");
  c.name = std::string(40, 'n');  // names are 32 characters at most
  EXPECT_EQ(v.verify(mint(c, JWT_ALG_HS256, secret), now_ms).problem, JwtProblem::bad_claim);
  c.name = "\xef\xbd\x81\xef\xbd\x84\xef\xbd\x81";  // fullwidth "ａｄａ" is normalised
  r = v.verify(mint(c, JWT_ALG_HS256, secret), now_ms);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.user.name, "ada");
}

TEST(Jwt, MalformedTokensAreRefusedWithoutEchoingThem) {
  const std::string secret = random_secret();
  const auto v = verifier(JwtAlgorithm::hs256, secret);
  const std::string good = mint({}, JWT_ALG_HS256, secret);
  for (const std::string& bad : {std::string(), std::string("a.b"), std::string("a.b.c.d"), std::string("..."),
                                 good + "=", "!" + good, std::string(max_jwt_bytes + 1, 'a')}) {
    const auto r = v.verify(bad, now_ms);
    EXPECT_EQ(r.problem, JwtProblem::malformed) << bad;
  }
  EXPECT_EQ(v.verify("e30.e30.AAAA", now_ms).problem, JwtProblem::malformed) << "a header without alg";
  const auto r = v.verify(good.substr(0, good.size() - 4) + "AAAA", now_ms);
  EXPECT_EQ(r.problem, JwtProblem::bad_signature);
  EXPECT_EQ(r.message().find(good.substr(0, 10)), std::string::npos);
}

TEST(Jwt, LooksLikeJwtTellsJwtsFromSessionTokens) {
  EXPECT_TRUE(looks_like_jwt("aaa.bbb.ccc"));
  EXPECT_TRUE(looks_like_jwt("a-_.b.c"));
  EXPECT_FALSE(looks_like_jwt(std::string(43, 'A')));
  EXPECT_FALSE(looks_like_jwt("a..c"));
  EXPECT_FALSE(looks_like_jwt("a.b."));
  EXPECT_FALSE(looks_like_jwt("a.b.c "));
}

TEST(Jwt, KeysThatDoNotFitTheAlgorithmAreConfigErrors) {
  EXPECT_THROW(verifier(JwtAlgorithm::hs256, random_secret(31)), std::invalid_argument);
  EXPECT_NO_THROW(verifier(JwtAlgorithm::hs256, random_secret(32)));
  EXPECT_THROW(verifier(JwtAlgorithm::hs512, random_secret(32)), std::invalid_argument);
  EXPECT_THROW(verifier(JwtAlgorithm::hs256, rsa_keys().public_pem), std::invalid_argument) << "a PEM as a secret";
  EXPECT_THROW(verifier(JwtAlgorithm::rs256, random_secret()), std::invalid_argument);
  EXPECT_THROW(verifier(JwtAlgorithm::rs256, rsa_keys().private_pem), std::invalid_argument) << "the private half";
  EXPECT_THROW(verifier(JwtAlgorithm::rs256, ec_keys().public_pem), std::invalid_argument);
  EXPECT_THROW(verifier(JwtAlgorithm::es256, rsa_keys().public_pem), std::invalid_argument);
  EXPECT_THROW(verifier(JwtAlgorithm::es384, ec_keys().public_pem), std::invalid_argument) << "P-256 for ES384";
  EXPECT_THROW(verifier(JwtAlgorithm::rs256, make_keys("RSA", 1024).public_pem), std::invalid_argument);
  JwtOptions lenient;
  lenient.key = random_secret();
  lenient.leeway_ms = max_jwt_leeway_ms + 1;
  EXPECT_THROW(JwtVerifier{lenient}, std::invalid_argument) << "a leeway of more than an hour";
  lenient.leeway_ms = -1;
  EXPECT_THROW(JwtVerifier{lenient}, std::invalid_argument);
  try {
    verifier(JwtAlgorithm::hs256, "short secret");
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("short secret"), std::string::npos) << "never the secret's bytes";
  }
}

TEST(Jwt, AlgorithmNamesAreRfc7518s) {
  EXPECT_EQ(parse_jwt_algorithm("RS256"), JwtAlgorithm::rs256);
  EXPECT_EQ(parse_jwt_algorithm("ES384"), JwtAlgorithm::es384);
  EXPECT_FALSE(parse_jwt_algorithm("rs256"));
  EXPECT_FALSE(parse_jwt_algorithm("none"));
  EXPECT_FALSE(parse_jwt_algorithm("ES512"));
  EXPECT_EQ(jwt_algorithm_name(JwtAlgorithm::hs384), "HS384");
  EXPECT_TRUE(jwt_uses_secret(JwtAlgorithm::hs512));
  EXPECT_FALSE(jwt_uses_secret(JwtAlgorithm::es256));
}

}  // namespace
}  // namespace parley::auth
