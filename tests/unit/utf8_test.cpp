#include "protocol/utf8.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace {

using parley::protocol::is_valid_utf8;
using parley::protocol::utf8_length;
using parley::protocol::Utf8Validator;

// Feeds `s` in pieces cut at `cuts` (ascending offsets) and returns feed() && complete().
bool feed_split(std::string_view s, const std::vector<std::size_t>& cuts) {
  Utf8Validator v;
  std::size_t prev = 0;
  bool ok = true;
  for (std::size_t c : cuts) {
    ok = v.feed(s.substr(prev, c - prev)) && ok;
    prev = c;
  }
  ok = v.feed(s.substr(prev)) && ok;
  return ok && v.complete();
}

// Checks `s` whole, at every single split point, at every pair of split points, and byte by byte.
void expect_everywhere(std::string_view s, bool valid) {
  SCOPED_TRACE(::testing::PrintToString(std::string(s)));
  EXPECT_EQ(is_valid_utf8(s), valid);
  for (std::size_t i = 0; i <= s.size(); ++i) {
    EXPECT_EQ(feed_split(s, {i}), valid) << "split at " << i;
    for (std::size_t j = i; j <= s.size(); ++j) EXPECT_EQ(feed_split(s, {i, j}), valid) << "split at " << i << "," << j;
  }
  std::vector<std::size_t> all;
  for (std::size_t i = 1; i < s.size(); ++i) all.push_back(i);
  EXPECT_EQ(feed_split(s, all), valid) << "byte by byte";
}

const std::vector<std::string> kValid = {
    "",
    "a",
    "hello, world",
    "\x7F",
    "\xC2\x80",          // U+0080, smallest 2-byte
    "\xDF\xBF",          // U+07FF, largest 2-byte
    "\xE0\xA0\x80",      // U+0800, smallest 3-byte
    "\xED\x9F\xBF",      // U+D7FF, just below the surrogates
    "\xEE\x80\x80",      // U+E000, just above the surrogates
    "\xEF\xBF\xBF",      // U+FFFF
    "\xF0\x90\x80\x80",  // U+10000, smallest 4-byte
    "\xF4\x8F\xBF\xBF",  // U+10FFFF, largest code point
    "\xE2\x82\xAC",      // €
    "\xF0\x9F\x98\x80",  // 😀
    "caf\xC3\xA9 \xE2\x82\xAC 12 \xF0\x9F\x98\x80!",
    "0123456789abcdef0123456789abcdef\xC3\xA9 long ascii run before a 2-byte char",
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",  // 日本語
};

const std::vector<std::string> kInvalid = {
    "\x80",  // lone continuation
    "\xBF",
    "a\x80"
    "b",
    "\xC0\x80",                  // overlong NUL
    "\xC1\xBF",                  // overlong 2-byte
    "\xE0\x80\x80",              // overlong 3-byte
    "\xE0\x9F\xBF",              // overlong 3-byte (U+07FF)
    "\xF0\x80\x80\x80",          // overlong 4-byte
    "\xF0\x8F\xBF\xBF",          // overlong 4-byte (U+FFFF)
    "\xED\xA0\x80",              // U+D800 surrogate
    "\xED\xBF\xBF",              // U+DFFF surrogate
    "\xED\xA0\x80\xED\xB0\x80",  // surrogate pair encoded as CESU-8
    "\xF4\x90\x80\x80",          // U+110000
    "\xF5\x80\x80\x80",
    "\xF8\x88\x80\x80\x80",      // 5-byte form
    "\xFC\x84\x80\x80\x80\x80",  // 6-byte form
    "\xFE",
    "\xFF",
    "\xC2",          // truncated 2-byte
    "\xE2\x82",      // truncated 3-byte
    "\xF0\x9F\x98",  // truncated 4-byte
    "abc\xE2\x82",   // truncated at the end after ASCII
    "\xC2\x41",      // continuation expected, ASCII found
    "\xE2\x28\xA1",
    "\xF0\x9F\x98\x80\x80",  // extra continuation after a complete 4-byte sequence
    "0123456789abcdef\xC3\x28 after the fast path",
};

TEST(Utf8, ValidAtEverySplit) {
  for (const auto& s : kValid) expect_everywhere(s, true);
}

TEST(Utf8, InvalidAtEverySplit) {
  for (const auto& s : kInvalid) expect_everywhere(s, false);
}

TEST(Utf8, EveryOneByteValueAlone) {
  for (int b = 0; b < 256; ++b) {
    const std::string s(1, static_cast<char>(b));
    EXPECT_EQ(is_valid_utf8(s), b < 0x80) << b;
  }
}

TEST(Utf8, EveryLeadByteWithItsSmallestAndLargestContinuations) {
  // Lead bytes C2-DF take 80-BF; E0 takes A0-BF; ED takes 80-9F; F0 takes 90-BF; F4 takes 80-8F.
  for (int c = 0x80; c <= 0xFF; ++c) {
    const char b = static_cast<char>(c);
    EXPECT_EQ(is_valid_utf8(std::string{b, '\x80'}), c >= 0xC2 && c <= 0xDF) << std::hex << c;
  }
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\x80"));
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\x80"));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\x80\x80"));
  EXPECT_TRUE(is_valid_utf8("\xF0\x90\x80\x80"));
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));
  EXPECT_TRUE(is_valid_utf8("\xF3\xBF\xBF\xBF"));
}

TEST(Utf8, IncompleteIsNotAFailureUntilTheEnd) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xF0\x9F"));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x98"));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x80"));
  EXPECT_TRUE(v.complete());
}

TEST(Utf8, FailureIsSticky) {
  Utf8Validator v;
  EXPECT_FALSE(v.feed("\xFF"));
  EXPECT_FALSE(v.feed("abc"));
  EXPECT_FALSE(v.complete());
  v.reset();
  EXPECT_TRUE(v.feed("abc"));
  EXPECT_TRUE(v.complete());
}

TEST(Utf8, ResetClearsAPendingSequence) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xE2\x82"));
  v.reset();
  EXPECT_TRUE(v.complete());
  EXPECT_FALSE(v.feed("\xAC"));  // a continuation with no lead byte
}

TEST(Utf8, ConstraintOfSecondByteSurvivesASplit) {
  // The E0/ED/F0/F4 range applies to the byte after the lead even when it arrives in a later feed.
  for (std::string s : {"\xE0\x80\x80", "\xED\xA0\x80", "\xF0\x80\x80\x80", "\xF4\x90\x80\x80"}) {
    Utf8Validator v;
    EXPECT_TRUE(v.feed(s.substr(0, 1)));
    EXPECT_FALSE(v.feed(s.substr(1)));
  }
}

TEST(Utf8, LongAsciiUsesTheFastPathAndStillFindsBadBytes) {
  std::string s(1000, 'x');
  EXPECT_TRUE(is_valid_utf8(s));
  for (std::size_t at : {0u, 7u, 8u, 9u, 500u, 999u}) {
    std::string t = s;
    t[at] = '\x80';
    EXPECT_FALSE(is_valid_utf8(t)) << at;
  }
}

TEST(Utf8, Length) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("\xC3\xA9"), 1u);
  EXPECT_EQ(utf8_length("\xE2\x82\xAC"), 1u);
  EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80"), 1u);
  EXPECT_EQ(utf8_length("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), 8u);
  EXPECT_EQ(utf8_length(std::string(4000, 'a')), 4000u);
  std::string emoji;
  for (int i = 0; i < 33; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_EQ(utf8_length(emoji), 33u);
}

}  // namespace
