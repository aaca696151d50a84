// Display names (the Nickname profile of PRECIS, RFC 8266, plus no bidi controls and nothing
// invisible), the key that tells confusable names apart (TR39 skeleton), and visible text.
#include "core/names.hpp"

#include <gtest/gtest.h>
#include <unicode/uspoof.h>

#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

using parley::core::max_name_length;
using parley::core::name_skeleton;
using parley::core::NameError;
using parley::core::normalize_name;
using parley::core::visible_text;

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// The normalised name, or "<refused: why>".
std::string norm(std::string_view name) {
  NameError why{};
  auto n = normalize_name(name, &why);
  return n ? *n : "<refused: " + std::string(parley::core::describe(why)) + ">";
}

NameError refusal(std::string_view name) {
  NameError why{};
  EXPECT_FALSE(normalize_name(name, &why)) << name;
  return why;
}

TEST(NormalizeName, OrdinaryNamesAreKeptAsTheyAre) {
  for (const char* name : {"ada", "Ada Lovelace", "a", "a.b-c_d+e@f", "\xC3\xA9milie", "\xE6\x97\xA5\xE6\x9C\xAC",
                           "\xD0\x90\xD0\xBD\xD0\xBD\xD0\xB0",  // Анна
                           "\xD7\x93\xD7\x95\xD7\x93",          // דוד (right to left, no control needed)
                           "O'Brien (ops)", "ß", "\xCF\x82"}) {
    EXPECT_EQ(norm(name), name);
  }
}

TEST(NormalizeName, CaseIsKeptForDisplay) {
  EXPECT_EQ(norm("AdA"), "AdA");
  EXPECT_EQ(norm("\xC3\x89MILIE"), "\xC3\x89MILIE");
}

TEST(NormalizeName, NfkcMapsWidthAndCompatibilityForms) {
  EXPECT_EQ(norm("\xEF\xBD\x81\xEF\xBD\x84\xEF\xBD\x81"), "ada");           // fullwidth ａｄａ
  EXPECT_EQ(norm("\xEF\xBC\xA1\xEF\xBD\x84\xEF\xBD\x81"), "Ada");           // fullwidth Ａｄａ: case kept
  EXPECT_EQ(norm("\xEF\xBD\xB6\xEF\xBE\x85"), "\xE3\x82\xAB\xE3\x83\x8A");  // halfwidth ｶﾅ → カナ
  EXPECT_EQ(norm("\xEF\xAC\x81le"), "file");                                // ﬁ ligature
  EXPECT_EQ(norm("x\xC2\xB2"), "x2");                                       // superscript two
  EXPECT_EQ(norm("\xE2\x84\xAA"), "K");                                     // KELVIN SIGN
}

TEST(NormalizeName, CombiningMarksComposeAndStay) {
  EXPECT_EQ(norm("e\xCC\x81milie"), "\xC3\xA9milie");  // e + U+0301 → é
  EXPECT_EQ(norm("Zoe\xCC\x88"), "Zo\xC3\xAB");        // Zoë
  // Devanagari with vowel signs and a virama (Mn, Mc), and a virama + ZWJ (its context rule).
  EXPECT_EQ(norm("\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87"),
            "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87");  // नमस्ते
  EXPECT_TRUE(normalize_name("\xE0\xA4\x95\xE0\xA5\x8D\xE2\x80\x8D\xE0\xA4\xB7"));        // क्‍ष
  // Persian ZWNJ between two joining letters: allowed by its context rule (می‌خواهم).
  EXPECT_TRUE(normalize_name("\xD9\x85\xDB\x8C\xE2\x80\x8C\xD8\xAE\xD9\x88\xD8\xA7\xD9\x87\xD9\x85"));
}

TEST(NormalizeName, SpacesAreMappedTrimmedAndCollapsed) {
  EXPECT_EQ(norm("  ada  "), "ada");
  EXPECT_EQ(norm("ada    lovelace"), "ada lovelace");
  EXPECT_EQ(norm("\xC2\xA0"
                 "ada\xE3\x80\x80\xE2\x80\x83lovelace\xE2\x80\xAF"),
            "ada lovelace");                   // NBSP, ideographic, em, narrow
  EXPECT_EQ(norm("a \xE1\x9A\x80 b"), "a b");  // U+1680 OGHAM SPACE MARK is Zs: a space
  EXPECT_EQ(refusal(" "), NameError::empty);
  EXPECT_EQ(refusal(repeat(" ", 32)), NameError::empty);
  EXPECT_EQ(refusal("\xE3\x80\x80\xC2\xA0"), NameError::empty);
  EXPECT_EQ(refusal(""), NameError::empty);
  // NFKC can make a space (U+00A8 DIAERESIS is SPACE + U+0308); the rules are applied again
  // until the name settles, so it never starts or ends with a space.
  const auto n = normalize_name(
      "\xC2\xA8"
      "ada");
  ASSERT_TRUE(n);
  EXPECT_NE(n->front(), ' ');
  EXPECT_EQ(norm(*n), *n);
}

TEST(NormalizeName, IsIdempotent) {
  for (const char* name : {"  \xEF\xBD\x81\xEF\xBD\x84\xEF\xBD\x81  x", "e\xCC\x81", "a\xC2\xA8", "\xEF\xAC\x81",
                           "\xE2\x91\xB4 one", "\xF0\x9F\x90\x99"}) {
    const auto once = normalize_name(name);
    ASSERT_TRUE(once) << name;
    EXPECT_EQ(normalize_name(*once), once) << name;
  }
}

TEST(NormalizeName, LengthIsCountedInCodePointsAfterNormalisation) {
  EXPECT_EQ(norm(repeat("a", max_name_length)), repeat("a", 32));
  EXPECT_EQ(refusal(repeat("a", 33)), NameError::too_long);
  EXPECT_TRUE(normalize_name(repeat("\xC3\xA9", 32)));  // 64 bytes, 32 code points
  EXPECT_FALSE(normalize_name(repeat("\xC3\xA9", 33)));
  EXPECT_TRUE(normalize_name(repeat("\xF0\x9F\x98\x80", 32)));  // 128 bytes, 32 code points
  EXPECT_FALSE(normalize_name(repeat("\xF0\x9F\x98\x80", 33)));
  // 64 code points as sent (e + combining acute), 32 once composed.
  EXPECT_EQ(norm(repeat("e\xCC\x81", 32)), repeat("\xC3\xA9", 32));
  // 40 code points as sent, 31 once the runs of spaces are one space each.
  EXPECT_EQ(norm(repeat("ab    ", 7) + "ab"), repeat("ab ", 7) + "ab");
  // 32 fullwidth letters are 32 letters.
  EXPECT_EQ(norm(repeat("\xEF\xBD\x81", 32)), repeat("a", 32));
  // Two code points as sent, 36 once normalised: U+FDFA (an Arabic ligature) is 18 letters.
  EXPECT_EQ(refusal("\xEF\xB7\xBA\xEF\xB7\xBA"), NameError::too_long);
  EXPECT_TRUE(normalize_name("\xEF\xB7\xBA"));
  // The raw size is bounded before any normalisation work.
  EXPECT_EQ(refusal("a" + repeat(" ", 1024) + "b"), NameError::too_long);
}

TEST(NormalizeName, BidiControlsAreRefused) {
  for (const char* c : {"\xD8\x9C",                                                                      // U+061C ALM
                        "\xE2\x80\x8E", "\xE2\x80\x8F",                                                  // LRM, RLM
                        "\xE2\x80\xAA", "\xE2\x80\xAB", "\xE2\x80\xAC", "\xE2\x80\xAD", "\xE2\x80\xAE",  // LRE..RLO
                        "\xE2\x81\xA6", "\xE2\x81\xA7", "\xE2\x81\xA8", "\xE2\x81\xA9"}) {               // LRI..PDI
    EXPECT_EQ(refusal(std::string("ad") + c + "a"), NameError::bidi_control) << norm(std::string("ad") + c + "a");
    EXPECT_EQ(refusal(c), NameError::bidi_control);
  }
  // The classic: "admin" + RLO + "txt.exe" shows as "adminexe.txt".
  EXPECT_EQ(refusal("admin\xE2\x80\xAEtxt.exe"), NameError::bidi_control);
}

TEST(NormalizeName, InvisibleNamesAreRefused) {
  for (const char* name : {"\xE2\x80\x8B",  // ZERO WIDTH SPACE
                           "\xE2\x80\x8B\xE2\x80\x8B\xE2\x80\x8B",
                           "\xE2\x81\xA0",                          // WORD JOINER
                           "\xEF\xBB\xBF",                          // ZERO WIDTH NO-BREAK SPACE (BOM)
                           "\xE2\x80\x8D", "\xE2\x80\x8C",          // ZWJ, ZWNJ alone
                           "\xEF\xB8\x8F", "\xEF\xB8\x8E",          // variation selectors 16, 15
                           "\xF3\xA0\x84\x80",                      // VS17 (U+E0100)
                           "\xEF\xB8\x8F\xEF\xB8\x8F", "\xC2\xAD",  // SOFT HYPHEN
                           "\xE1\x85\x9F", "\xE3\x85\xA4",          // Hangul fillers U+115F, U+3164
                           "\xF3\xA0\x80\xA0",                      // TAG SPACE
                           " \xE2\x80\x8B "}) {
    EXPECT_FALSE(normalize_name(name)) << norm(name);
  }
  // And inside a name: a zero-width character makes two names look alike.
  EXPECT_FALSE(
      normalize_name("a\xE2\x80\x8B"
                     "da"));
  EXPECT_FALSE(normalize_name("ada\xEF\xB8\x8F"));
  EXPECT_FALSE(
      normalize_name("a\xE2\x80\x8D"
                     "b"));  // ZWJ without a virama before it
}

TEST(NormalizeName, EmojiAreNames) {
  EXPECT_EQ(norm("\xF0\x9F\x90\x99"), "\xF0\x9F\x90\x99");  // 🐙
  EXPECT_EQ(norm("\xF0\x9F\x90\x99 octo"), "\xF0\x9F\x90\x99 octo");
  EXPECT_TRUE(normalize_name("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"));  // 👍🏽: a skin tone is a symbol (Sk)
  EXPECT_TRUE(normalize_name("\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"));  // 🇫🇷: regional indicators (So)
  // What the profile refuses with them: a variation selector (❤️ is U+2764 U+FE0F) and a ZWJ
  // sequence (👩‍💻), both default-ignorable. The bare symbol is fine.
  EXPECT_FALSE(normalize_name("\xE2\x9D\xA4\xEF\xB8\x8F"));
  EXPECT_FALSE(normalize_name("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB"));
  EXPECT_TRUE(normalize_name("\xE2\x9D\xA4"));
}

TEST(NormalizeName, ControlsAndOtherDisallowedCodePoints) {
  for (int c = 0; c < 0x20; ++c) {
    EXPECT_FALSE(normalize_name("a" + std::string(1, static_cast<char>(c)) + "b")) << c;
  }
  EXPECT_FALSE(normalize_name("a\x7F"));
  EXPECT_FALSE(normalize_name(std::string("ada\0", 4)));
  for (int c = 0x80; c <= 0x9F; ++c) {
    EXPECT_FALSE(normalize_name("a\xC2" + std::string(1, static_cast<char>(c)) + "b")) << std::hex << c;
  }
  for (const char* name : {"a\xE2\x80\xA8"
                           "b",                 // LINE SEPARATOR (Zl)
                           "\xEE\x80\x80",      // private use U+E000
                           "\xEF\xBF\xBE",      // noncharacter U+FFFE
                           "\xCD\xB8",          // unassigned U+0378
                           "\xEF\xBF\xB9x",     // INTERLINEAR ANNOTATION ANCHOR (Cf)
                           "\xD9\x80\xD8\xA8",  // ARABIC TATWEEL (an exception of RFC 5892)
                           "a\xC2\xB7"
                           "b"}) {  // MIDDLE DOT only between two l
    EXPECT_EQ(refusal(name), NameError::disallowed) << name;
  }
  EXPECT_TRUE(normalize_name("l\xC2\xB7l"));  // Catalan l·l
  // Hangul compatibility jamo become conjoining jamo under NFKC, which the class refuses:
  // the profile checks what normalisation made.
  EXPECT_EQ(refusal("\xE3\x85\x8B\xE3\x85\x8B"), NameError::disallowed);  // ㅋㅋ
  EXPECT_TRUE(normalize_name("\xED\x95\x9C\xEA\xB8\x80"));                // 한글
}

TEST(NormalizeName, InvalidUtf8) {
  for (const char* name : {"\xFF", "ada\xC3", "\xC0\xA1", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    EXPECT_EQ(refusal(name), NameError::not_utf8);
  }
}

TEST(NameSkeleton, ConfusablesShareAKey) {
  EXPECT_EQ(name_skeleton("paypal"), name_skeleton("p\xD0\xB0ypal"));  // Cyrillic а
  EXPECT_EQ(name_skeleton("l"), name_skeleton("I"));                   // TR39: I looks like l
  EXPECT_EQ(name_skeleton("bill"), name_skeleton("biII"));
  EXPECT_EQ(name_skeleton("rn"), name_skeleton("m"));
  EXPECT_EQ(name_skeleton("bob"), name_skeleton("b0b"));
  // The profile compares without case: Ada and ada are one name.
  EXPECT_EQ(name_skeleton("Ada"), name_skeleton("ada"));
  EXPECT_EQ(name_skeleton("\xC3\x89milie"), name_skeleton("\xC3\xA9milie"));
  // Greek capital alpha and Latin A.
  EXPECT_EQ(name_skeleton("\xCE\x91"
                          "da"),
            name_skeleton("Ada"));
  // ICU agrees that the first pairs are confusable.
  UErrorCode status = U_ZERO_ERROR;
  USpoofChecker* sc = uspoof_open(&status);
  ASSERT_TRUE(U_SUCCESS(status));
  EXPECT_NE(uspoof_areConfusableUTF8(sc, "paypal", -1, "p\xD0\xB0ypal", -1, &status), 0);
  EXPECT_NE(uspoof_areConfusableUTF8(sc, "l", -1, "I", -1, &status), 0);
  EXPECT_TRUE(U_SUCCESS(status));
  uspoof_close(sc);
}

TEST(NameSkeleton, DifferentNamesHaveDifferentKeys) {
  EXPECT_NE(name_skeleton("ada"), name_skeleton("bob"));
  EXPECT_NE(name_skeleton("ada"), name_skeleton("adam"));
  EXPECT_NE(name_skeleton("ada"), name_skeleton("ada lovelace"));
  EXPECT_NE(name_skeleton("\xF0\x9F\x90\x99"), name_skeleton("\xF0\x9F\x90\xA2"));  // 🐙, 🐢
  EXPECT_NE(name_skeleton("\xE6\x97\xA5\xE6\x9C\xAC"), name_skeleton("\xE4\xB8\xAD\xE5\x9B\xBD"));
}

TEST(NameSkeleton, SafeFromManyThreads) {
  // The normaliser and the spoof checker are opened once and shared (names.cpp says why that is
  // safe); under the sanitizers this also checks that their first use races with nothing.
  const std::vector<std::string> names = {"ada", "p\xD0\xB0ypal", "\xEF\xBD\x81\xEF\xBD\x84\xEF\xBD\x81", "I",
                                          "Zoe\xCC\x88"};
  std::vector<std::string> expected;
  for (const auto& n : names) expected.push_back(name_skeleton(*normalize_name(n)));
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto k = static_cast<std::size_t>(i) % names.size();
        const auto n = normalize_name(names[k]);
        if (!n || name_skeleton(*n) != expected[k]) ++wrong[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

TEST(VisibleText, OnlyInvisibleOrWhitespaceIsNotVisible) {
  EXPECT_FALSE(visible_text(""));
  EXPECT_FALSE(visible_text(" \t\r\n "));
  EXPECT_FALSE(visible_text(" \xE2\x80\x8B\xE2\x81\xA0\xEF\xBB\xBF"));         // " \u200b\u2060\ufeff"
  EXPECT_FALSE(visible_text("\xC2\xA0\xE3\x80\x80\xE2\x80\xA8\xE2\x80\xA9"));  // NBSP, ideographic space, LS, PS
  EXPECT_FALSE(visible_text("\xEF\xB8\x8F\xEF\xB8\x8F"));                      // variation selectors
  EXPECT_FALSE(visible_text("\xE2\x80\x8D\xE2\x80\x8C\xCD\x8F"));              // ZWJ, ZWNJ, CGJ
  EXPECT_FALSE(visible_text("\xE2\x80\xAE\xE2\x81\xA6"));                      // bidi controls
  EXPECT_FALSE(visible_text("\xF3\xA0\x80\xA0\xF3\xA0\x81\xBF"));              // tags
  EXPECT_FALSE(visible_text("\xE3\x85\xA4"));                                  // HANGUL FILLER (default-ignorable)
  EXPECT_FALSE(visible_text("\x01\x1B"));                                      // controls
}

TEST(VisibleText, AnythingToSeeIsVisible) {
  EXPECT_TRUE(visible_text("a\xE2\x80\x8B"));  // "a\u200b"
  EXPECT_TRUE(
      visible_text("\xE2\x80\x8B"
                   "a"));
  EXPECT_TRUE(visible_text("  .  "));
  EXPECT_TRUE(visible_text("\xF0\x9F\x90\x99"));
  EXPECT_TRUE(visible_text("\xE6\x97\xA5"));
  EXPECT_TRUE(visible_text("\xCC\x81"));  // a combining mark shows (on a dotted circle)
  EXPECT_TRUE(visible_text(repeat(" ", 3999) + "x"));
}

}  // namespace

namespace {

// A reaction's emoji (docs/protocol.md, "reactions"): one RGI emoji, fully qualified.
TEST(ValidEmoji, OneFullyQualifiedEmojiOfAnyKindAndNothingElse) {
  using parley::core::valid_emoji;
  for (const char* ok : {"\U0001F44D", "\U0001F44D\U0001F3FD", "\u2764\uFE0F", "\U0001F1EB\U0001F1F7", "#\uFE0F\u20E3",
                         "\U0001F469\u200D\U0001F469\u200D\U0001F467", "\U0001F3F3\uFE0F\u200D\U0001F308",
                         "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "\u2B50"})
    EXPECT_TRUE(valid_emoji(ok)) << ok;
  for (const char* bad :
       {"", "x", ":smile:", "\U0001F44D\U0001F44D", "\u2764" /* not fully qualified */, "\U0001F44D ", " \U0001F44D",
        "\U0001F1EB" /* half a flag */, "\u200D", "\uFE0F", "\U0001F44D\u200D", "1", "\xF0\x9F\x91" /* cut UTF-8 */})
    EXPECT_FALSE(valid_emoji(bad)) << bad;
  // Longer than max_emoji_bytes, though each part is an emoji.
  std::string long_one = "\U0001F469";
  while (long_one.size() <= parley::core::max_emoji_bytes) long_one += "\u200D\U0001F469";
  EXPECT_FALSE(valid_emoji(long_one));
}

// The web UI's picker and `:shortcode:` list (web/js/ui/emoji.js) offers only emoji the server
// takes: a reaction picked there is never refused as bad_emoji.
TEST(ValidEmoji, EveryEmojiOfTheWebUisShortcodesIsAccepted) {
  std::ifstream in(PARLEY_WEB_DIR "/js/ui/emoji.js");
  ASSERT_TRUE(in) << "cannot read " PARLEY_WEB_DIR "/js/ui/emoji.js";
  const std::regex entry(R"(^\s+[a-z0-9_+\-]+: '([^']+)',)");
  std::string line;
  int seen = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, entry)) continue;
    ++seen;
    EXPECT_TRUE(parley::core::valid_emoji(m[1].str())) << line;
  }
  EXPECT_GT(seen, 300);
}

}  // namespace
