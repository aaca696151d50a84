// Server API keys: their shape, parsing (nothing malformed reaches the store) and scopes.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "auth/api_key.hpp"
#include "auth/token.hpp"

namespace parley::auth {
namespace {

TEST(ApiKey, IsAnIdADotAndASecretAndParsesBack) {
  const ApiKey key = mint_api_key();
  ASSERT_TRUE(looks_like_api_key_id(key.id)) << key.id;
  EXPECT_TRUE(key.id.starts_with("pk_"));
  EXPECT_TRUE(looks_like_token(key.secret));
  const auto parsed = parse_api_key(key.text());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->id, key.id);
  EXPECT_EQ(parsed->secret, key.secret);
}

TEST(ApiKey, IdsAndSecretsAreDistinct) {
  std::set<std::string> ids, secrets;
  for (int i = 0; i < 1000; ++i) {
    const ApiKey key = mint_api_key();
    ids.insert(key.id);
    secrets.insert(key.secret);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(secrets.size(), 1000u);
}

TEST(ApiKey, MalformedKeysAreRefusedBeforeAnyLookup) {
  const std::string good = mint_api_key().text();
  EXPECT_FALSE(parse_api_key(""));
  EXPECT_FALSE(parse_api_key(good.substr(0, good.size() - 1)));
  EXPECT_FALSE(parse_api_key(good + "x"));
  std::string no_dot = good;
  no_dot[api_key_id_length] = '_';
  EXPECT_FALSE(parse_api_key(no_dot));
  std::string upper = good;
  upper[3] = 'A';  // ids are lowercase hex
  EXPECT_FALSE(parse_api_key(upper));
  std::string bad_secret = good;
  bad_secret.back() = '!';
  EXPECT_FALSE(parse_api_key(bad_secret));
  EXPECT_FALSE(parse_api_key("sk_0123456789abcdef." + mint_token()));
}

TEST(ApiKey, ScopesParseToABitSetAndBack) {
  EXPECT_EQ(parse_scopes("publish"), std::optional<std::uint8_t>(1));
  const auto all = parse_scopes("members,publish,rooms");
  ASSERT_TRUE(all);
  EXPECT_EQ(scopes_text(*all), "publish,rooms,members");
  EXPECT_TRUE(has_scope(*all, ApiScope::members));
  EXPECT_FALSE(has_scope(*parse_scopes("rooms"), ApiScope::publish));
  EXPECT_FALSE(parse_scopes(""));
  EXPECT_FALSE(parse_scopes("root"));
  // The admin API's scope, on its own: it implies none of the others.
  const auto admin = parse_scopes("admin");
  ASSERT_TRUE(admin);
  EXPECT_TRUE(has_scope(*admin, ApiScope::admin));
  EXPECT_FALSE(has_scope(*admin, ApiScope::rooms));
  EXPECT_EQ(scopes_text(*parse_scopes("admin,publish")), "publish,admin");
  EXPECT_FALSE(parse_scopes("publish,"));
  EXPECT_FALSE(parse_scopes("publish,publish"));
  EXPECT_FALSE(parse_scopes("Publish"));
}

}  // namespace
}  // namespace parley::auth
