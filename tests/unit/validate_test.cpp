#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using parley::core::valid_cid;
using parley::core::valid_name;
using parley::core::valid_room_id;

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ValidName, Ordinary) {
  EXPECT_TRUE(valid_name("ada"));
  EXPECT_TRUE(valid_name("Ada Lovelace"));
  EXPECT_TRUE(valid_name("a"));
  EXPECT_TRUE(valid_name("\xC3\xA9milie"));
  EXPECT_TRUE(valid_name("\xE6\x97\xA5\xE6\x9C\xAC"));
  EXPECT_TRUE(valid_name("\xF0\x9F\x98\x80"));
  EXPECT_TRUE(valid_name(" ada "));
  EXPECT_TRUE(valid_name("a.b-c_d+e@f"));
  EXPECT_TRUE(valid_name("\xC2\xA0x"));  // U+00A0 is not a C1 control
}

TEST(ValidName, Empty) { EXPECT_FALSE(valid_name("")); }

TEST(ValidName, LengthInCodePoints) {
  EXPECT_TRUE(valid_name(std::string(32, 'a')));
  EXPECT_FALSE(valid_name(std::string(33, 'a')));
  EXPECT_TRUE(valid_name(repeat("\xF0\x9F\x98\x80", 32)));  // 128 bytes, 32 code points
  EXPECT_FALSE(valid_name(repeat("\xF0\x9F\x98\x80", 33)));
  EXPECT_TRUE(valid_name(repeat("\xC3\xA9", 32)));
  EXPECT_FALSE(valid_name(repeat("\xC3\xA9", 33)));
  EXPECT_TRUE(valid_name(repeat("\xE2\x82\xAC", 31) + "x"));
  EXPECT_FALSE(valid_name(repeat("\xE2\x82\xAC", 32) + "x"));
}

TEST(ValidName, ControlCharacters) {
  for (int c = 0; c < 0x20; ++c) {
    EXPECT_FALSE(valid_name("a" + std::string(1, static_cast<char>(c)) + "b")) << c;
  }
  EXPECT_FALSE(
      valid_name("a\x7F"
                 "b"));
  EXPECT_FALSE(valid_name(std::string("ada\0", 4)));
  EXPECT_FALSE(valid_name("\tada"));
  EXPECT_FALSE(valid_name("ada\n"));
}

TEST(ValidName, C1Controls) {
  for (int c = 0x80; c <= 0x9F; ++c) {
    const std::string s = "a\xC2" + std::string(1, static_cast<char>(c)) + "b";
    EXPECT_FALSE(valid_name(s)) << std::hex << c;
  }
  EXPECT_FALSE(valid_name("\xC2\x85"));  // NEL alone
}

TEST(ValidName, OnlySpaces) {
  EXPECT_FALSE(valid_name(" "));
  EXPECT_FALSE(valid_name(std::string(32, ' ')));
  EXPECT_TRUE(valid_name("  x  "));
}

TEST(ValidName, InvalidUtf8) {
  EXPECT_FALSE(valid_name("\xFF"));
  EXPECT_FALSE(valid_name("ada\xC3"));
  EXPECT_FALSE(valid_name("\xC0\xA1"));
  EXPECT_FALSE(valid_name("\xED\xA0\x80"));
  EXPECT_FALSE(valid_name("\xF4\x90\x80\x80"));
}

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
