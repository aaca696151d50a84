// net/log: whatever a message or a field holds (quotes, newlines, control bytes, invalid UTF-8:
// a client's name or path), a JSON line is one line and one valid JSON object, with the fields
// as members; a text line is one line, with the fields as key=value; levels filter and change.
#include "net/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/json.hpp>

#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace parley::net {
namespace {

namespace json = boost::json;

class LogTest : public ::testing::Test {
 protected:
  void use(log::Format format, spdlog::level::level_enum level = spdlog::level::trace) {
    out_.str({});
    log::install(format, level, "node-7", std::make_shared<spdlog::sinks::ostream_sink_st>(out_));
  }
  void TearDown() override { log::install(log::Format::text, spdlog::level::info); }

  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::string all = out_.str(), line;
    std::istringstream in(all);
    while (std::getline(in, line)) out.push_back(line);
    return out;
  }
  json::object only_json_line() const {
    const auto all = lines();
    EXPECT_EQ(all.size(), 1u) << out_.str();
    if (all.empty()) return {};
    boost::system::error_code ec;
    auto v = json::parse(all.front(), ec);
    EXPECT_FALSE(ec) << all.front();
    EXPECT_TRUE(v.is_object()) << all.front();
    return v.is_object() ? v.as_object() : json::object{};
  }

  std::ostringstream out_;
};

const std::string hostile = std::string("a\"b\\c\nforged {\"level\":\"error\"}\r\t\x01\x1f\x7f") + "\xff\xfe" + "\xc3" +
                            "\xe2\x82" + "ok \xc3\xa9\xf0\x9f\x98\x80";

TEST_F(LogTest, JsonLineHasTimeLevelMessageNodeAndFields) {
  use(log::Format::json);
  log::write(spdlog::level::info, "error sent",
             {{"code", "no_such_room"}, {"rid", "3f2a91c0-1b"}, {"conn", std::uint64_t{42}}, {"room", "ops"}});
  const auto o = only_json_line();
  const std::string ts(o.at("ts").as_string());
  // RFC 3339, UTC, milliseconds: 2026-12-06T10:54:50.123Z
  ASSERT_EQ(ts.size(), 24u) << ts;
  EXPECT_EQ(ts[4], '-');
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(o.at("level"), "info");
  EXPECT_EQ(o.at("msg"), "error sent");
  EXPECT_EQ(o.at("node"), "node-7");
  EXPECT_EQ(o.at("code"), "no_such_room");
  EXPECT_EQ(o.at("rid"), "3f2a91c0-1b");
  EXPECT_EQ(o.at("conn"), 42);  // a number, not a string
  EXPECT_EQ(o.at("room"), "ops");
}

TEST_F(LogTest, EmptyFieldsAreLeftOut) {
  use(log::Format::json);
  log::write(spdlog::level::warn, "x", {{"room", ""}, {"uid", "u_1"}});
  const auto o = only_json_line();
  EXPECT_FALSE(o.contains("room"));
  EXPECT_EQ(o.at("uid"), "u_1");
  EXPECT_EQ(o.at("level"), "warn");
}

TEST_F(LogTest, HostileMessageAndFieldStayOneValidJsonLine) {
  use(log::Format::json);
  log::write(spdlog::level::info, hostile, {{"user", hostile}});
  const auto o = only_json_line();
  const std::string msg(o.at("msg").as_string());
  // Valid UTF-8 passes through; each invalid byte is U+FFFD; controls are escaped, not dropped.
  EXPECT_EQ(msg.substr(0, 4), "a\"b\\");
  EXPECT_NE(msg.find("\nforged"), std::string::npos);
  EXPECT_NE(msg.find("\xef\xbf\xbd\xef\xbf\xbd"), std::string::npos);
  EXPECT_NE(msg.find("ok \xc3\xa9\xf0\x9f\x98\x80"), std::string::npos);
  EXPECT_EQ(o.at("user"), o.at("msg"));
  EXPECT_FALSE(o.contains("forged"));
}

TEST_F(LogTest, PlainSpdlogCallsAreJsonToo) {
  use(log::Format::json);
  spdlog::error("room {}: cannot load", hostile);
  const auto o = only_json_line();
  EXPECT_EQ(o.at("level"), "error");
  EXPECT_EQ(std::string(o.at("msg").as_string()).substr(0, 9), "room a\"b\\");
}

TEST_F(LogTest, RandomBytesAlwaysMakeOneValidJsonLine) {
  use(log::Format::json);
  std::mt19937 random(20261206);  // fixed: a failure repeats
  std::uniform_int_distribution<int> byte(0, 255), length(0, 40);
  // Bytes of the kinds that break a line: controls, quotes, backslashes, UTF-8 lead and
  // continuation bytes in any order.
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const int n = length(random);
    for (int k = 0; k < n; ++k) s.push_back(static_cast<char>(byte(random)));
    out_.str({});
    log::write(spdlog::level::info, s, {{"room", s}, {"n", i}});
    const auto all = lines();
    ASSERT_EQ(all.size(), 1u) << "input " << i;
    boost::system::error_code ec;
    auto v = json::parse(all.front(), ec);
    ASSERT_FALSE(ec) << "input " << i << ": " << all.front();
    ASSERT_EQ(v.at("n"), i);
    if (s.empty())
      ASSERT_FALSE(v.as_object().contains("room"));  // an empty field is left out
    else
      ASSERT_EQ(v.at("room"), v.at("msg"));
  }
}

TEST_F(LogTest, TextLineKeepsFieldsOnItsLine) {
  use(log::Format::text);
  log::write(spdlog::level::info, "error sent", {{"code", "bad_room"}, {"user", "a b\nc"}, {"conn", 7}});
  const auto all = lines();
  ASSERT_EQ(all.size(), 1u) << out_.str();
  EXPECT_NE(all.front().find(R"(error sent code=bad_room user="a b\nc" conn=7)"), std::string::npos) << all.front();
}

TEST_F(LogTest, LevelFiltersAndChangesAtRunTime) {
  use(log::Format::json, spdlog::level::info);
  log::write(spdlog::level::debug, "before", {});
  EXPECT_TRUE(lines().empty());
  EXPECT_FALSE(log::change_level("loud", "test"));
  EXPECT_TRUE(log::change_level("debug", "test"));
  log::write(spdlog::level::debug, "after", {});
  const auto all = lines();
  ASSERT_EQ(all.size(), 2u) << out_.str();
  const auto change = json::parse(all[0]).as_object();
  EXPECT_EQ(change.at("level"), "warn");
  EXPECT_EQ(change.at("msg"), "log level changed");
  EXPECT_EQ(change.at("from"), "info");
  EXPECT_EQ(change.at("to"), "debug");
  EXPECT_EQ(change.at("by"), "test");
  EXPECT_EQ(json::parse(all[1]).at("msg"), "after");
  // To a quieter level: the change is still written (before the level drops).
  out_.str({});
  EXPECT_TRUE(log::change_level("error", "test"));
  ASSERT_EQ(lines().size(), 1u) << out_.str();
  EXPECT_EQ(json::parse(lines()[0]).at("to"), "error");
}

TEST(RequestId, ShortAndDistinct) {
  const std::string a = log::new_request_id(), b = log::new_request_id();
  EXPECT_NE(a, b);
  EXPECT_LE(a.size(), 20u);
  EXPECT_EQ(a.substr(0, 9), b.substr(0, 9));  // the process's prefix, then a counter
}

}  // namespace
}  // namespace parley::net
