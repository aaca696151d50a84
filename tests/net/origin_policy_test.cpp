// OriginPolicy (server.allowed_origins): which pages may open a WebSocket.
#include <gtest/gtest.h>

#include <stdexcept>

#include "net/upgrade.hpp"

namespace {

using parley::net::OriginPolicy;
using parley::net::Refusal;
using parley::net::refusal_of;

TEST(OriginPolicy, SameOriginByDefault) {
  const OriginPolicy same;
  EXPECT_TRUE(same.allows("http://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_TRUE(same.allows("http://Chat.Example.com", "chat.example.com"));
  // Default ports are the same origin with or without them.
  EXPECT_TRUE(same.allows("https://chat.example.com", "chat.example.com:443"));
  EXPECT_TRUE(same.allows("http://chat.example.com:80", "chat.example.com"));
  EXPECT_TRUE(same.allows("http://[::1]:8080", "[::1]:8080"));
  // Another site, another port, another host: refused.
  EXPECT_FALSE(same.allows("https://evil.example", "chat.example.com"));
  EXPECT_FALSE(same.allows("http://127.0.0.1:9999", "127.0.0.1:8080"));
  EXPECT_FALSE(same.allows("http://chat.example.com.evil.example", "chat.example.com"));
  EXPECT_FALSE(same.allows("https://chat.example.com", "chat.example.com:80"));
}

TEST(OriginPolicy, ANonBrowserClientSendsNoOriginAndIsAllowed) {
  EXPECT_TRUE(OriginPolicy().allows(std::nullopt, "chat.example.com"));
  EXPECT_TRUE(OriginPolicy("https://chat.example.com").allows(std::nullopt, "x"));
}

TEST(OriginPolicy, OpaqueAndMalformedOriginsAreRefused) {
  const OriginPolicy same;
  for (const char* origin :
       {"null", "", "chat.example.com", "file:///etc/passwd", "ftp://chat.example.com", "http://chat.example.com/path",
        "http://user@chat.example.com", "http://", "http://chat.example.com:", "http://chat.example.com:x"}) {
    EXPECT_FALSE(same.allows(std::string_view(origin), "chat.example.com")) << origin;
  }
}

TEST(OriginPolicy, AListAllowsExactlyItsOrigins) {
  const OriginPolicy list(" https://chat.example.com , http://localhost:8080,");
  EXPECT_TRUE(list.allows("https://chat.example.com", "anything"));
  EXPECT_TRUE(list.allows("https://CHAT.example.com:443", "anything"));
  EXPECT_TRUE(list.allows("http://localhost:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(list.allows("http://chat.example.com", "chat.example.com")) << "scheme differs";
  EXPECT_FALSE(list.allows("http://localhost:8081", "localhost:8081")) << "a list replaces same-origin";
}

TEST(OriginPolicy, StarAllowsAny) {
  const OriginPolicy any("*");
  EXPECT_TRUE(any.allows("https://evil.example", "chat.example.com"));
  EXPECT_TRUE(any.allows("null", "chat.example.com"));
}

TEST(OriginPolicy, ABadEntryIsAStartUpErrorNamingIt) {
  try {
    OriginPolicy("https://ok.example, chat.example.com");
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'chat.example.com'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(OriginPolicy("https://a.example/path"), std::invalid_argument);
}

TEST(OriginPolicy, TheOriginIsCheckedAfterEverythingElse) {
  const std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";
  EXPECT_EQ(refusal_of("/ws", "13", key, false, false), Refusal::bad_origin);
  EXPECT_EQ(refusal_of("/ws", "13", "bad", false, false), Refusal::bad_key);
  EXPECT_EQ(refusal_of("/x", "13", key, false, false), Refusal::not_found);
  EXPECT_EQ(refusal_of("/ws", "13", key, false, true), Refusal::none);
}

}  // namespace
