#include "protocol/json_writer.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "protocol/utf8.hpp"

namespace {

namespace json = boost::json;
using parley::protocol::append_json_string;
using parley::protocol::JsonWriter;

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  EXPECT_FALSE(ec) << "not JSON: " << s << " (" << ec.message() << ")";
  return v;
}

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string lossy_quoted(std::string_view s) {
  std::string out;
  parley::protocol::append_json_string_lossy(out, s);
  return out;
}

TEST(JsonStringLossy, ValidUtf8IsAsTheStrictOne) {
  for (std::string_view s : {"", "hello", "a\"b\\c\n\x01", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"})
    EXPECT_EQ(lossy_quoted(s), json_quoted(s));
}

TEST(JsonStringLossy, EachBadByteIsOneReplacementCharacter) {
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(lossy_quoted("\xff"), "\"" + fffd + "\"");
  EXPECT_EQ(lossy_quoted("a\xc3"), "\"a" + fffd + "\"");                                 // truncated at the end
  EXPECT_EQ(lossy_quoted("\xe2\x82x"), "\"" + fffd + fffd + "x\"");                      // truncated in the middle
  EXPECT_EQ(lossy_quoted("\xc0\xaf"), "\"" + fffd + fffd + "\"");                        // overlong '/'
  EXPECT_EQ(lossy_quoted("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\"");             // a surrogate
  EXPECT_EQ(lossy_quoted("\xf4\x90\x80\x80"), "\"" + fffd + fffd + fffd + fffd + "\"");  // past U+10FFFF
  EXPECT_EQ(lossy_quoted("\x80\"\n"), "\"" + fffd + "\\\"\\n\"");
}

TEST(JsonStringLossy, EveryShortByteStringParsesBack) {
  // Every string of one and two bytes, and three-byte strings around the UTF-8 boundaries.
  std::vector<std::string> inputs;
  for (int a = 0; a < 256; ++a) {
    inputs.emplace_back(1, static_cast<char>(a));
    for (int b = 0; b < 256; ++b) inputs.push_back({static_cast<char>(a), static_cast<char>(b)});
  }
  for (int a : {0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5})
    for (int b = 0x70; b < 0xD0; ++b)
      for (int c : {0x22, 0x5C, 0x7F, 0x80, 0xBF, 0xC0}) inputs.push_back({char(a), char(b), char(c)});
  for (const auto& s : inputs) {
    const std::string out = lossy_quoted(s);
    boost::system::error_code ec;
    const json::value v = json::parse(out, ec);
    ASSERT_FALSE(ec) << "input of " << s.size() << " bytes: " << out;
    ASSERT_TRUE(v.is_string());
    ASSERT_EQ(out.find('\n'), std::string::npos);
    if (parley::protocol::is_valid_utf8(s)) {
      ASSERT_EQ(v.as_string(), s);
    }
  }
}

TEST(JsonString, PlainText) { EXPECT_EQ(json_quoted("hello"), "\"hello\""); }

TEST(JsonString, Empty) { EXPECT_EQ(json_quoted(""), "\"\""); }

TEST(JsonString, QuotesAndBackslash) {
  EXPECT_EQ(json_quoted("a\"b"), R"("a\"b")");
  EXPECT_EQ(json_quoted("a\\b"), R"("a\\b")");
  EXPECT_EQ(json_quoted("\"\\\""), R"("\"\\\"")");
}

TEST(JsonString, ShortEscapes) { EXPECT_EQ(json_quoted("\n\r\t\b\f"), R"("\n\r\t\b\f")"); }

TEST(JsonString, OtherControlCharsAsU00XX) {
  EXPECT_EQ(json_quoted(std::string(1, '\0')), R"("\u0000")");
  EXPECT_EQ(json_quoted("\x01"), R"("\u0001")");
  EXPECT_EQ(json_quoted("\x1f"), R"("\u001f")");
  EXPECT_EQ(json_quoted("\x0b"), R"("\u000b")");
  EXPECT_EQ(json_quoted("\x1b[31m"), R"("\u001b[31m")");
}

TEST(JsonString, SlashAndDelAreNotEscaped) {
  EXPECT_EQ(json_quoted("</script>"), "\"</script>\"");
  EXPECT_EQ(json_quoted("\x7F"), "\"\x7F\"");
}

TEST(JsonString, Utf8PassesThrough) {
  const std::string s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE2\x80\xA8";
  EXPECT_EQ(json_quoted(s), "\"" + s + "\"");
}

TEST(JsonString, AppendsToExistingText) {
  std::string out = "x=";
  append_json_string(out, "y");
  EXPECT_EQ(out, "x=\"y\"");
}

TEST(JsonString, EveryByteBelow0x80RoundTrips) {
  std::string s;
  for (int c = 0; c < 0x80; ++c) s.push_back(static_cast<char>(c));
  s += "\xC3\xA9\xF0\x9F\x98\x80";
  const json::value v = parse(json_quoted(s));
  ASSERT_TRUE(v.is_string());
  EXPECT_EQ(std::string(v.get_string()), s);
}

TEST(JsonString, EscapesAtEveryPositionOfALongText) {
  // Long runs are scanned eight bytes at a time: every escape must be found wherever it falls,
  // next to UTF-8 bytes (>= 0x80) that need none.
  for (char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
    for (std::size_t len : {7u, 8u, 9u, 16u, 17u, 40u}) {
      for (std::size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        if (at + 2 < len) s[at + 1] = '\xC3', s[at + 2] = '\xA9';  // U+00E9: bytes >= 0x80 need no escape
        s[at] = special;
        const json::value v = parse(json_quoted(s));
        ASSERT_TRUE(v.is_string()) << int(special) << " at " << at << " of " << len;
        EXPECT_EQ(std::string(v.get_string()), s);
      }
    }
  }
  EXPECT_EQ(json_quoted(std::string(20, 'x') + "\"" + std::string(20, 'y')),
            "\"" + std::string(20, 'x') + "\\\"" + std::string(20, 'y') + "\"");
}

TEST(JsonWriter, EmptyObject) { EXPECT_EQ(JsonWriter().done(), "{}"); }

TEST(JsonWriter, TypeComesFirst) {
  EXPECT_EQ(JsonWriter("pong").done(), R"({"type":"pong"})");
  EXPECT_EQ(std::move(JsonWriter("ack").str("cid", "c1")).done(), R"({"type":"ack","cid":"c1"})");
}

TEST(JsonWriter, AllMemberKindsParseBack) {
  const std::string out = std::move(JsonWriter("t")
                                        .str("s", "quote \" backslash \\ nl \n ctl \x02 utf8 \xE2\x82\xAC")
                                        .num("neg", -42)
                                        .num("min", std::numeric_limits<std::int64_t>::min())
                                        .num("max", std::numeric_limits<std::int64_t>::max())
                                        .unum("umax", std::numeric_limits<std::uint64_t>::max())
                                        .unum("zero", 0)
                                        .boolean("yes", true)
                                        .boolean("no", false)
                                        .raw("ref", R"({"a":[1,2]})")
                                        .raw("n", "null"))
                              .done();
  const json::value v = parse(out);
  ASSERT_TRUE(v.is_object());
  const auto& o = v.get_object();
  EXPECT_EQ(o.size(), 11u);
  EXPECT_EQ(o.at("type"), "t");
  EXPECT_EQ(o.at("s"), "quote \" backslash \\ nl \n ctl \x02 utf8 \xE2\x82\xAC");
  EXPECT_EQ(o.at("neg").as_int64(), -42);
  EXPECT_EQ(o.at("min").as_int64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(o.at("max").as_int64(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(o.at("umax").as_uint64(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(o.at("zero").to_number<std::uint64_t>(), 0u);
  EXPECT_EQ(o.at("yes"), true);
  EXPECT_EQ(o.at("no"), false);
  EXPECT_EQ(o.at("ref"), json::parse(R"({"a":[1,2]})"));
  EXPECT_TRUE(o.at("n").is_null());
}

TEST(JsonWriter, MembersKeepTheirOrder) {
  EXPECT_EQ(std::move(JsonWriter().num("a", 1).num("b", 2).str("c", "3")).done(), R"({"a":1,"b":2,"c":"3"})");
}

TEST(JsonWriter, NoTypeWhenEmpty) { EXPECT_EQ(std::move(JsonWriter("").num("x", 1)).done(), R"({"x":1})"); }

}  // namespace
