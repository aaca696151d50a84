#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using parley::core::valid_cid;
using parley::core::valid_room_id;

TEST(ValidRoomId, Ordinary) {
  EXPECT_TRUE(valid_room_id("general"));
  EXPECT_TRUE(valid_room_id("a"));
  EXPECT_TRUE(valid_room_id("Ops-2024_v1.0"));
  EXPECT_TRUE(valid_room_id("..."));
  EXPECT_TRUE(valid_room_id(std::string(64, 'r')));
}

TEST(ValidRoomId, Bad) {
  EXPECT_FALSE(valid_room_id(""));
  EXPECT_FALSE(valid_room_id(std::string(65, 'r')));
  for (const char* s :
       {"a b", "a/b", "a\\b", "a:b", "a@b", "caf\xC3\xA9", "a\nb", "#x", "a+b", "a%20b", "a*", "a\"b"}) {
    EXPECT_FALSE(valid_room_id(s)) << s;
  }
  EXPECT_FALSE(valid_room_id(std::string("a\0b", 3)));
}

TEST(ValidRoomId, EveryByte) {
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool expected =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    EXPECT_EQ(valid_room_id(std::string(1, ch)), expected) << c;
  }
}

TEST(ValidCid, Ordinary) {
  EXPECT_TRUE(valid_cid("c-17"));
  EXPECT_TRUE(valid_cid("!"));
  EXPECT_TRUE(valid_cid("~"));
  EXPECT_TRUE(valid_cid("550e8400-e29b-41d4-a716-446655440000"));
  EXPECT_TRUE(valid_cid(std::string(64, 'c')));
}

TEST(ValidCid, Bad) {
  EXPECT_FALSE(valid_cid(""));
  EXPECT_FALSE(valid_cid(std::string(65, 'c')));
  EXPECT_FALSE(valid_cid("a b"));  // space is not printable-without-space
  EXPECT_FALSE(valid_cid("a\x7F"));
  EXPECT_FALSE(valid_cid("\xC3\xA9"));
  EXPECT_FALSE(valid_cid(std::string("a\0", 2)));
}

TEST(ValidCid, EveryByte) {
  for (int c = 0; c < 256; ++c) EXPECT_EQ(valid_cid(std::string(1, static_cast<char>(c))), c >= 0x21 && c <= 0x7E) << c;
}

}  // namespace
