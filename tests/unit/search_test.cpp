// core::search_terms and the search cursor (src/core/search.hpp).
#include "core/search.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::core {
namespace {

using Terms = std::vector<std::string>;

TEST(SearchTerms, WordsAreSplitOnSpacesAndPunctuation) {
  EXPECT_EQ(search_terms("deploy failed"), (Terms{"deploy", "failed"}));
  EXPECT_EQ(search_terms("  deploy-failed,  again! "), (Terms{"deploy", "failed", "again"}));
  EXPECT_EQ(search_terms("v1.5"), (Terms{"v1", "5"}));
  EXPECT_EQ(search_terms("ada@example.org"), (Terms{"ada", "example", "org"}));
}

TEST(SearchTerms, QuerySyntaxIsNeverSyntax) {
  // FTS5's and tsquery's operators are separators or plain words.
  EXPECT_EQ(search_terms("\"deploy"), (Terms{"deploy"}));
  EXPECT_EQ(search_terms("dep*"), (Terms{"dep"}));
  EXPECT_EQ(search_terms("NEAR(a b)"), (Terms{"NEAR", "a", "b"}));
  EXPECT_EQ(search_terms("a OR b -c"), (Terms{"a", "OR", "b", "c"}));
  EXPECT_EQ(search_terms("text:secret"), (Terms{"text", "secret"}));
  EXPECT_EQ(search_terms("a & !b | c:* <-> 'd'"), (Terms{"a", "b", "c", "d"}));
  EXPECT_EQ(search_terms("\\x"), (Terms{"x"}));
}

TEST(SearchTerms, OnlyPunctuationOrSpacesHasNoTerms) {
  EXPECT_TRUE(search_terms("").empty());
  EXPECT_TRUE(search_terms("   \t\n").empty());
  EXPECT_TRUE(search_terms("\"*()-:^+").empty());
  EXPECT_TRUE(search_terms("\xe2\x80\x94 \xc2\xab\xc2\xbb \xe3\x80\x82").empty());  // em dash, guillemets, 。
  EXPECT_TRUE(search_terms("\xc2\xa0\xe2\x80\x83").empty());                        // no-break and em spaces
}

TEST(SearchTerms, UnicodeLettersDigitsAndMarksAreWordsSymbolsAreNot) {
  EXPECT_EQ(search_terms("Déploiement échoué"), (Terms{"Déploiement", "échoué"}));
  EXPECT_EQ(search_terms("cafe\xcc\x81 ok"), (Terms{"cafe\xcc\x81", "ok"}));  // a combining accent
  EXPECT_EQ(search_terms("развёртывание"), (Terms{"развёртывание"}));
  EXPECT_EQ(search_terms("日本語、テスト"), (Terms{"日本語", "テスト"}));
  EXPECT_EQ(search_terms("ship\xf0\x9f\x9a\x80it 5\xe2\x82\xac"), (Terms{"ship", "it", "5"}));  // rocket, euro sign
  EXPECT_TRUE(search_terms("\xf0\x9f\x9a\x80 \xf0\x9f\x8e\x89").empty());
}

TEST(SearchCursor, RoundTripsAndRefusesWhatItDidNotMake) {
  const SearchCursor c{.ts = 1'700'000'000'123, .room = "ops.team", .seq = 42};
  EXPECT_EQ(encode_cursor(c), "1700000000123.42.ops.team");
  EXPECT_EQ(parse_cursor(encode_cursor(c)), c);
  EXPECT_EQ(parse_cursor("-5.1.r"), (SearchCursor{.ts = -5, .room = "r", .seq = 1}));
  for (const char* bad : {"", "x", "1", "1.", "1.2", "1.2.", "1.0.r", "a.2.r", "1.b.r", "1..r", ".1.r", "1.-2.r",
                          "99999999999999999999.1.r", "1.99999999999999999999.r", " 1.2.r"})
    EXPECT_FALSE(parse_cursor(bad)) << bad;
}

}  // namespace
}  // namespace parley::core
