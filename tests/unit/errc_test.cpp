#include "protocol/errc.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <system_error>

namespace {

using parley::protocol::errc;

constexpr int kFirst = static_cast<int>(errc::bad_json);
constexpr int kLast = static_cast<int>(errc::internal);

TEST(Errc, EveryCodeHasADistinctNameAndAMessage) {
  std::set<std::string> names, messages;
  for (int i = kFirst; i <= kLast; ++i) {
    const auto e = static_cast<errc>(i);
    const std::string name(parley::protocol::code_name(e));
    const std::string message(parley::protocol::default_message(e));
    SCOPED_TRACE(i);
    EXPECT_FALSE(name.empty());
    EXPECT_FALSE(message.empty());
    // Codes are stable identifiers: lower snake_case.
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos) << name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    EXPECT_TRUE(messages.insert(message).second) << "duplicate message " << message;
    // Only errc::internal may be named "internal" (the fallback for unknown values).
    if (e != errc::internal) {
      EXPECT_NE(name, "internal");
    }
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kLast - kFirst + 1));
}

TEST(Errc, KnownNames) {
  EXPECT_EQ(parley::protocol::code_name(errc::bad_json), "bad_json");
  EXPECT_EQ(parley::protocol::code_name(errc::rate_limited), "rate_limited");
  EXPECT_EQ(parley::protocol::code_name(errc::unknown_type), "unknown_type");
  EXPECT_EQ(parley::protocol::code_name(errc::internal), "internal");
}

TEST(Errc, ErrorCodeIntegration) {
  const std::error_code ec = errc::rate_limited;
  EXPECT_EQ(ec.category(), parley::protocol::parley_category());
  EXPECT_STREQ(ec.category().name(), "parley");
  EXPECT_EQ(ec.value(), static_cast<int>(errc::rate_limited));
  EXPECT_EQ(ec.message(), std::string(parley::protocol::default_message(errc::rate_limited)));
  EXPECT_TRUE(static_cast<bool>(ec));
  EXPECT_EQ(ec, make_error_code(errc::rate_limited));
  EXPECT_NE(ec, make_error_code(errc::overloaded));
}

TEST(Errc, UnknownValueFallsBackToInternal) {
  EXPECT_EQ(parley::protocol::code_name(static_cast<errc>(999)), "internal");
  EXPECT_FALSE(parley::protocol::default_message(static_cast<errc>(0)).empty());
}

}  // namespace
