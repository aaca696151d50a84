#include "core/presence.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using parley::core::Presence;

TEST(Presence, StartsEmpty) {
  Presence p;
  EXPECT_EQ(p.size(), 0u);
  EXPECT_TRUE(p.users().empty());
  EXPECT_FALSE(p.contains("ada"));
}

TEST(Presence, AddAndRemoveOneSession) {
  Presence p;
  EXPECT_TRUE(p.add("ada"));  // announce "joined"
  EXPECT_TRUE(p.contains("ada"));
  EXPECT_EQ(p.size(), 1u);
  EXPECT_TRUE(p.remove("ada"));  // announce "left"
  EXPECT_FALSE(p.contains("ada"));
  EXPECT_EQ(p.size(), 0u);
}

TEST(Presence, TwoSessionsOfOneUserAreOneMember) {
  Presence p;
  EXPECT_TRUE(p.add("ada"));
  EXPECT_FALSE(p.add("ada"));  // second tab: no second "joined"
  EXPECT_EQ(p.size(), 1u);
  EXPECT_EQ(p.users(), std::vector<std::string>{"ada"});
  EXPECT_FALSE(p.remove("ada"));  // one tab left: still present
  EXPECT_TRUE(p.contains("ada"));
  EXPECT_TRUE(p.remove("ada"));
  EXPECT_FALSE(p.contains("ada"));
}

TEST(Presence, ManySessions) {
  Presence p;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.add("bob"), i == 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.remove("bob"), i == 4);
  EXPECT_EQ(p.size(), 0u);
}

TEST(Presence, RemovingAnAbsentUserIsHarmless) {
  Presence p;
  EXPECT_FALSE(p.remove("ghost"));
  p.add("ada");
  EXPECT_FALSE(p.remove("ghost"));
  EXPECT_TRUE(p.remove("ada"));
  EXPECT_FALSE(p.remove("ada"));  // already gone: no second "left"
  EXPECT_EQ(p.size(), 0u);
  EXPECT_TRUE(p.add("ada"));  // and a fresh join is announced again
}

TEST(Presence, UsersAreSorted) {
  Presence p;
  for (const char* u : {"zoe", "ada", "Bob", "mallory", "\xC3\xA9mile", "ada", "carol"}) p.add(u);
  const std::vector<std::string> expected = {"Bob", "ada", "carol", "mallory", "zoe", "\xC3\xA9mile"};
  EXPECT_EQ(p.users(), expected);
  EXPECT_EQ(p.size(), 6u);
}

TEST(Presence, NamesAreExact) {
  Presence p;
  p.add("ada");
  EXPECT_FALSE(p.contains("Ada"));
  EXPECT_FALSE(p.contains("ada "));
  EXPECT_FALSE(p.contains(""));
}

}  // namespace
