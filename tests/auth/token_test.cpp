// Session tokens, their stored digests, constant-time comparison and user ids.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "auth/token.hpp"

namespace parley::auth {
namespace {

bool url_safe(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
bool lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

TEST(Token, Is43UrlSafeChars) {
  const std::string token = mint_token();
  ASSERT_EQ(token.size(), 43u);
  for (const char c : token) EXPECT_TRUE(url_safe(c)) << token;
  EXPECT_TRUE(looks_like_token(token));
}

TEST(Token, AThousandAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string token = mint_token();
    ASSERT_TRUE(looks_like_token(token)) << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Token, LooksLikeTokenRejectsOtherShapes) {
  const std::string token = mint_token();
  EXPECT_FALSE(looks_like_token(token.substr(0, 42)));
  EXPECT_FALSE(looks_like_token(token + "A"));
  EXPECT_FALSE(looks_like_token(""));
  for (const char c : {'+', '/', '=', ' ', '.', '\0', '\x80'}) {
    std::string bad = token;
    bad[20] = c;
    EXPECT_FALSE(looks_like_token(bad)) << "char " << static_cast<int>(c);
  }
  EXPECT_TRUE(looks_like_token(std::string(21, '-') + std::string(22, '_')));
}

TEST(TokenDigest, IsBlake2b256InLowercaseHex) {
  // Known answers (RFC 7693's BLAKE2b with a 32-byte output, no key).
  EXPECT_EQ(token_digest(""), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(token_digest("abc"), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  const std::string token = mint_token();
  const std::string digest = token_digest(token);
  ASSERT_EQ(digest.size(), 64u);
  for (const char c : digest) EXPECT_TRUE(lower_hex(c)) << digest;
  EXPECT_EQ(token_digest(token), digest) << "deterministic: a lookup finds the row";
  EXPECT_EQ(digest.find(token), std::string::npos);
}

TEST(TokenDigest, DiffersForDifferentTokens) {
  const std::string token = mint_token();
  std::string other = token;
  other[0] = other[0] == 'A' ? 'B' : 'A';
  EXPECT_NE(token_digest(token), token_digest(other));
  EXPECT_NE(token_digest(token), token_digest(mint_token()));
}

TEST(ConstantTimeEqual, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "Secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secret!"));
  EXPECT_FALSE(constant_time_equal("secret", ""));
  EXPECT_FALSE(constant_time_equal(std::string("ab\0c", 4), std::string("ab\0d", 4))) << "past a NUL too";
  const std::string token = mint_token();
  EXPECT_TRUE(constant_time_equal(token_digest(token), token_digest(std::string(token))));
}

TEST(UserId, IsU_And32LowercaseHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_user_id();
    ASSERT_EQ(id.size(), 34u) << id;
    ASSERT_TRUE(id.starts_with("u_")) << id;
    for (const char c : id.substr(2)) ASSERT_TRUE(lower_hex(c)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace parley::auth
