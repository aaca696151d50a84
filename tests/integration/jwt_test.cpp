// The operator's JWTs in hello (issue 16; docs/security.md), against the real binary: tokens
// minted here with libjwt and keys made here, as a site's backend would. Few tests: each starts a
// node.
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

// A temporary directory of key files, removed at the end.
struct KeyDir {
  std::string path;
  KeyDir() {
    char tmpl[] = "/tmp/parley-jwt-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~KeyDir() { std::system(("rm -rf '" + path + "'").c_str()); }  // NOLINT(cert-env33-c)
  std::string write(const std::string& name, const std::string& bytes) const {
    std::string file = path + "/" + name;
    std::ofstream(file, std::ios::binary) << bytes;
    return file;
  }
};

std::string random_secret() {
  std::string s(48, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(s.size()));
  return s;
}

struct RsaPair {
  std::string private_pem, public_pem;
};

RsaPair rsa_pair() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
  auto text = [key](bool priv) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (priv)
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    else
      PEM_write_bio_PUBKEY(bio.get(), key);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
  };
  RsaPair p{text(true), text(false)};
  EVP_PKEY_free(key);
  return p;
}

// A token for sub "site-42" called `name`, expiring `exp_in_s` from now, signed `alg` with `key`.
std::string mint(jwt_alg_t alg, const std::string& key, long exp_in_s = 300, const std::string& name = "Ada Site") {
  jwt_t* j = nullptr;
  jwt_new(&j);
  jwt_add_grant(j, "sub", "site-42");
  jwt_add_grant(j, "name", name.c_str());
  jwt_add_grant_int(j, "exp", static_cast<long>(wall_ms() / 1000) + exp_in_s);
  jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
              alg == JWT_ALG_NONE ? 0 : static_cast<int>(key.size()));
  char* text = jwt_encode_str(j);
  std::string token(text ? text : "");
  std::free(text);  // NOLINT(cppcoreguidelines-no-malloc)
  jwt_free(j);
  return token;
}

json::object hello(WsClient& c, const std::string& token) { return c.request({{"type", "hello"}, {"token", token}}); }

void expect_refused(WsClient& c, const std::string& token, const std::string& says) {
  auto r = hello(c, token);
  EXPECT_EQ(type_of(r), "error") << dump(r);
  EXPECT_EQ(str(r, "code"), "unauthorized") << dump(r);
  EXPECT_NE(str(r, "message").find(says), std::string::npos) << dump(r);
  EXPECT_EQ(dump(r).find(token.substr(0, 20)), std::string::npos) << "the token is not echoed";
}

TEST(JwtHello, HS256HelloWithGuestsOffIsWelcomedAndBadTokensAreNot) {
  KeyDir keys;
  const std::string secret = random_secret();
  ServerOptions o;
  o.settings = {"auth.guests=false", "auth.jwt_algorithm=HS256",
                "auth.jwt_secret_file=" + keys.write("secret", secret + "\n")};
  ServerProcess server(o);

  WsClient c(server.port());
  expect_error(c, {{"type", "hello"}, {"name", "bob"}}, "unauthorized");  // guests are off
  expect_refused(c, mint(JWT_ALG_HS256, secret, -120), "expired");
  expect_refused(c, mint(JWT_ALG_HS256, random_secret()), "signature");
  // alg none: libjwt leaves the signature empty; any signature part with it is refused as well.
  expect_refused(c, mint(JWT_ALG_NONE, {}) + "AAAA", "algorithm");
  auto welcome = hello(c, mint(JWT_ALG_HS256, secret));
  ASSERT_EQ(type_of(welcome), "welcome") << dump(welcome);
  EXPECT_EQ(str(welcome, "user"), "Ada Site");
  c.join("general");
  EXPECT_EQ(type_of(c.send_message("general", "c1", "signed by the site")), "ack");

  const auto text = http_get(server.port(), "/metrics").body;
  EXPECT_EQ(metric(text, "parley_auth_jwt_total{result=\"ok\"}"), 1.0) << text;
  EXPECT_EQ(metric(text, "parley_auth_jwt_total{result=\"expired\"}"), 1.0);
  EXPECT_EQ(metric(text, "parley_auth_jwt_total{result=\"invalid\"}"), 2.0);
  EXPECT_EQ(server.stderr_text().find(secret.substr(0, 8)), std::string::npos);
}

TEST(JwtHello, RS256HelloRefusesTheKeyConfusion) {
  KeyDir keys;
  const RsaPair rsa = rsa_pair();
  ServerOptions o;
  o.settings = {"auth.jwt_algorithm=RS256", "auth.jwt_public_key_file=" + keys.write("public.pem", rsa.public_pem)};
  ServerProcess server(o);
  WsClient c(server.port());
  // HS256 with the public key's PEM as the HMAC secret: what libjwt alone would accept.
  expect_refused(c, mint(JWT_ALG_HS256, rsa.public_pem), "algorithm");
  auto welcome = hello(c, mint(JWT_ALG_RS256, rsa.private_pem));
  ASSERT_EQ(type_of(welcome), "welcome") << dump(welcome);
  EXPECT_EQ(str(welcome, "user"), "Ada Site");
  // A session token still takes the session path (no account: refused there, not as a JWT).
  WsClient d(server.port());
  expect_error(d, {{"type", "hello"}, {"token", std::string(43, 'A')}}, "unauthorized");
}

TEST(JwtHello, KeysThatDoNotFitAreConfigErrors) {
  KeyDir keys;
  auto serve = [](std::vector<std::string> sets) {
    std::vector<std::string> args{"serve", "--listen", "127.0.0.1:0", "--data", "/tmp/parley-it-never"};
    for (auto& s : sets) {
      args.emplace_back("--set");
      args.push_back(std::move(s));
    }
    return run_parley(args);
  };
  auto short_secret =
      serve({"auth.jwt_algorithm=HS256", "auth.jwt_secret_file=" + keys.write("short", "only 20 bytes long..")});
  EXPECT_EQ(short_secret.exit_code, 2) << short_secret.output;
  EXPECT_NE(short_secret.output.find("auth.jwt_secret_file"), std::string::npos) << short_secret.output;
  EXPECT_EQ(short_secret.output.find("only 20 bytes"), std::string::npos) << "never the secret";
  auto no_alg = serve({"auth.jwt_secret_file=" + keys.write("secret", random_secret())});
  EXPECT_EQ(no_alg.exit_code, 2) << no_alg.output;
  EXPECT_NE(no_alg.output.find("auth.jwt_algorithm"), std::string::npos) << no_alg.output;
  auto missing = serve({"auth.jwt_algorithm=RS256", "auth.jwt_public_key_file=" + keys.path + "/nothing.pem"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

}  // namespace
}  // namespace parley::it
