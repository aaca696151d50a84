// @mentions found in a message's text by the name key (core::mentions), with bounded work.
#include "core/mentions.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/names.hpp"

namespace {

using parley::core::mentions;
using parley::core::name_skeleton;

bool names(std::string_view text, std::string_view name) { return mentions(text, name_skeleton(name)); }

TEST(Mentions, AnAtNameAnywhereInTheText) {
  EXPECT_TRUE(names("@ada", "ada"));
  EXPECT_TRUE(names("hi @ada, look", "ada"));
  EXPECT_TRUE(names("(@ada)", "ada"));
  EXPECT_TRUE(names("thanks @ada.", "ada"));
  EXPECT_TRUE(names("first line\n@ada second", "ada"));
}

TEST(Mentions, ComparedAsNamesAre) {
  EXPECT_TRUE(names("hi @ADA", "ada"));
  // Fullwidth letters: NFKC makes them ASCII, as for names.
  EXPECT_TRUE(names("hi @\xEF\xBD\x81\xEF\xBD\x84\xEF\xBD\x81", "ada"));
  EXPECT_TRUE(names("ping @Ada Lovelace about it", "Ada Lovelace"));
  EXPECT_TRUE(names("@a.b-c", "a.b-c"));
}

TEST(Mentions, NotAnotherNameNorAnAddress) {
  EXPECT_FALSE(names("hi @adam", "ada"));
  EXPECT_FALSE(names("hi ada", "ada"));
  EXPECT_FALSE(names("mail ada@example.org", "example.org"));
  EXPECT_FALSE(names("@ bob", "bob"));
  EXPECT_FALSE(names("@", "ada"));
  EXPECT_FALSE(mentions("@ada", ""));
}

TEST(Mentions, BoundedWorkPerMessage) {
  // Past max_mention_marks '@'s, later ones are not looked at.
  std::string text;
  for (std::size_t i = 0; i < parley::core::max_mention_marks; ++i) text += "@x ";
  EXPECT_FALSE(names(text + "@ada", "ada"));
  EXPECT_TRUE(names("@ada " + text, "ada"));
  // A name is at most max_name_length code points: a longer run is not a mention.
  EXPECT_FALSE(names("@" + std::string(40, 'a'), std::string(40, 'a')));
}

}  // namespace
