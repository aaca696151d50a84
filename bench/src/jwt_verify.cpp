// parley-jwt-bench: what one JWT verification costs the I/O thread that runs a hello
// (auth::JwtVerifier::verify), per algorithm, with keys made here. Prints the median of several
// rounds in µs per verify. Usage: parley-jwt-bench [verifies per round, default 2000]
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "auth/jwt.hpp"

namespace {

using parley::auth::JwtAlgorithm;

std::string pem_of(EVP_PKEY* key, bool private_half) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (private_half)
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  else
    PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(len)};
}

std::string mint(jwt_alg_t alg, const std::string& key, long exp) {
  jwt_t* j = nullptr;
  if (jwt_new(&j) != 0) throw std::runtime_error("jwt_new");
  jwt_add_grant(j, "sub", "user-42");
  jwt_add_grant(j, "name", "Ada");
  jwt_add_grant_int(j, "exp", exp);
  jwt_set_alg(j, alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size()));
  char* text = jwt_encode_str(j);
  std::string token(text ? text : "");
  std::free(text);  // NOLINT(cppcoreguidelines-no-malloc)
  jwt_free(j);
  return token;
}

void run(const char* label, JwtAlgorithm a, jwt_alg_t alg, const std::string& verify_key, const std::string& sign_key,
         int n) {
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  parley::auth::JwtOptions o;
  o.algorithm = a;
  o.key = verify_key;
  const parley::auth::JwtVerifier v(std::move(o));
  const std::string token = mint(alg, sign_key, static_cast<long>(now_ms / 1000 + 600));
  if (!v.verify(token, now_ms).ok()) throw std::runtime_error(std::string(label) + ": the token does not verify");
  std::vector<double> rounds;
  for (int r = 0; r < 7; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += v.verify(token, now_ms).ok() ? 1 : 0;
    const auto t1 = std::chrono::steady_clock::now();
    if (ok != n) throw std::runtime_error("a verify failed");
    rounds.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
  }
  std::sort(rounds.begin(), rounds.end());
  std::printf("%-6s %8.1f us per verify (median of 7 rounds of %d; min %.1f, max %.1f)\n", label, rounds[3], n,
              rounds.front(), rounds.back());
}

}  // namespace

int main(int argc, char** argv) try {
  const int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2000;
  const std::string secret(32, 's');
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!rsa || !ec) throw std::runtime_error("keygen failed");
  run("HS256", JwtAlgorithm::hs256, JWT_ALG_HS256, secret, secret, n);
  run("RS256", JwtAlgorithm::rs256, JWT_ALG_RS256, pem_of(rsa, false), pem_of(rsa, true), n);
  run("ES256", JwtAlgorithm::es256, JWT_ALG_ES256, pem_of(ec, false), pem_of(ec, true), n);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "parley-jwt-bench: %s\n", e.what());
  return 1;
}
