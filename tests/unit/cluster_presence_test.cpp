#include "core/cluster_presence.hpp"

#include <gtest/gtest.h>

#include "core/names.hpp"

namespace {

using parley::core::ClusterPresence;
using Change = ClusterPresence::Change;
using Changes = std::vector<Change>;

TEST(ClusterPresence, WithoutAViewItIsLocalPresence) {
  ClusterPresence p;
  auto c = p.add("ada");
  EXPECT_TRUE(c.first_or_last);
  EXPECT_TRUE(c.visible);
  c = p.add("ada");  // a second tab
  EXPECT_FALSE(c.first_or_last);
  EXPECT_FALSE(c.visible);
  EXPECT_FALSE(p.remove("ada").visible);
  c = p.remove("ada");
  EXPECT_TRUE(c.first_or_last);
  EXPECT_TRUE(c.visible);
  EXPECT_EQ(p.size(), 0u);
  Changes out;
  EXPECT_FALSE(p.apply(1, "bob", true, out));  // not following the cluster: ignored
  EXPECT_TRUE(out.empty());
}

TEST(ClusterPresence, WalkingTheMembersGivesTheSortedUnionOnce) {
  ClusterPresence p;
  auto walk = [&p] {
    std::vector<std::string> seen;
    p.for_each_user([&seen](const std::string& u) { seen.push_back(u); });
    return seen;
  };
  EXPECT_TRUE(walk().empty());
  for (const char* u : {"dan", "ada", "fay", "ada"}) p.add(u);
  EXPECT_EQ(walk(), (std::vector<std::string>{"ada", "dan", "fay"}));
  p.begin_snapshot();
  Changes out;
  // Remote names before, between, equal to and after the local ones.
  p.apply_snapshot(1, {"zed", "bob", "dan", "eve", "aaron"}, out);
  EXPECT_EQ(walk(), (std::vector<std::string>{"aaron", "ada", "bob", "dan", "eve", "fay", "zed"}));
  EXPECT_EQ(walk(), p.users());
  EXPECT_EQ(p.size(), 7u);
}

TEST(ClusterPresence, MembersAreTheUnionOfLocalAndCluster) {
  ClusterPresence p;
  p.add("ada");
  p.begin_snapshot();
  Changes out;
  EXPECT_FALSE(p.apply_snapshot(5, {"cy", "bob"}, out));
  EXPECT_EQ(out, (Changes{{"bob", true}, {"cy", true}}));
  EXPECT_EQ(p.users(), (std::vector<std::string>{"ada", "bob", "cy"}));
  EXPECT_EQ(p.size(), 3u);
  // bob joins here too: already a member, nothing to announce, but the broker must know.
  auto c = p.add("bob");
  EXPECT_TRUE(c.first_or_last);
  EXPECT_FALSE(c.visible);
  EXPECT_EQ(p.size(), 3u);
  // ada's own join comes back from the broker: silent.
  out.clear();
  EXPECT_FALSE(p.apply(6, "ada", true, out));
  EXPECT_TRUE(out.empty());
  // ada leaves here: still listed by the broker until its leave comes back, then gone.
  c = p.remove("ada");
  EXPECT_TRUE(c.first_or_last);
  EXPECT_FALSE(c.visible);
  EXPECT_FALSE(p.apply(7, "ada", false, out));
  EXPECT_EQ(out, (Changes{{"ada", false}}));
  // bob leaves elsewhere (broker: still here, no change), then here.
  out.clear();
  p.apply(8, "cy", false, out);
  EXPECT_EQ(out, (Changes{{"cy", false}}));
  out.clear();
  c = p.remove("bob");
  EXPECT_FALSE(c.visible);  // the broker still lists bob (this node's entry)
  p.apply(9, "bob", false, out);
  EXPECT_EQ(out, (Changes{{"bob", false}}));
  EXPECT_EQ(p.size(), 0u);
}

TEST(ClusterPresence, OldChangesAreIgnoredAndAGapAsksForASnapshot) {
  ClusterPresence p;
  p.begin_snapshot();
  Changes out;
  // Arrived while the snapshot was on its way: 3 is in it already, 4 is not.
  EXPECT_FALSE(p.apply(3, "bob", true, out));
  EXPECT_FALSE(p.apply(4, "cy", true, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(p.apply_snapshot(3, {"bob"}, out));
  EXPECT_EQ(out, (Changes{{"bob", true}, {"cy", true}}));
  EXPECT_EQ(p.version(), 4u);
  out.clear();
  EXPECT_FALSE(p.apply(2, "bob", false, out));  // old news
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p.apply(6, "di", true, out));  // 5 was missed
  EXPECT_TRUE(out.empty());
  p.begin_snapshot();
  EXPECT_FALSE(p.apply_snapshot(6, {"bob", "di"}, out));  // 5: cy left
  EXPECT_EQ(out, (Changes{{"cy", false}, {"di", true}}));
  out.clear();
  EXPECT_FALSE(p.apply(7, "bob", false, out));
  EXPECT_EQ(out, (Changes{{"bob", false}}));
}

TEST(ClusterPresence, ForgettingTheViewDropsOtherNodesMembers) {
  ClusterPresence p;
  p.begin_snapshot();
  Changes out;
  p.apply_snapshot(1, {"bob"}, out);
  p.forget_view();
  EXPECT_EQ(p.size(), 0u);
  EXPECT_EQ(p.view(), ClusterPresence::View::none);
  out.clear();
  EXPECT_FALSE(p.apply(2, "cy", true, out));
  EXPECT_TRUE(out.empty());
}

TEST(ClusterPresence, ConfusableNamesAreFoundByKey) {
  using parley::core::name_skeleton;
  ClusterPresence p;
  auto who = [&p](const std::string& name) {
    const std::string* other = p.confusable_with(name_skeleton(name));
    return other ? *other : std::string("-");
  };
  EXPECT_EQ(who("ada"), "-");
  p.add("paypal");
  p.add("ada", name_skeleton("ada"));         // with the key the caller computed
  EXPECT_EQ(who("p\xD0\xB0ypal"), "paypal");  // Cyrillic а
  EXPECT_EQ(who("Ada"), "ada");
  EXPECT_EQ(who("bob"), "-");
  // A second session changes nothing; the key goes with the last one.
  p.add("ada");
  p.remove("ada");
  EXPECT_EQ(who("Ada"), "ada");
  p.remove("ada");
  EXPECT_EQ(who("Ada"), "-");
  EXPECT_EQ(who("PAYPAL"), "paypal");
}

TEST(ClusterPresence, ConfusableNamesOnOtherNodesCount) {
  using parley::core::name_skeleton;
  ClusterPresence p;
  p.add("ada");
  p.begin_snapshot();
  Changes out;
  p.apply_snapshot(1, {"bob", "I"}, out);
  EXPECT_NE(p.confusable_with(name_skeleton("l")), nullptr);  // I (another node) looks like l
  EXPECT_EQ(*p.confusable_with(name_skeleton("B0B")), "bob");
  // bob leaves there; a member here and there stays a member while either has it.
  p.add("I");
  p.apply(2, "I", false, out);
  EXPECT_NE(p.confusable_with(name_skeleton("l")), nullptr);
  p.remove("I");
  EXPECT_EQ(p.confusable_with(name_skeleton("l")), nullptr);
  p.apply(3, "bob", false, out);
  EXPECT_EQ(p.confusable_with(name_skeleton("bob")), nullptr);
  // Names that came in together (two nodes at once) stay side by side; each leaves on its own.
  p.apply(4, "bob", true, out);
  p.add("Bob");
  EXPECT_NE(p.confusable_with(name_skeleton("bob")), nullptr);
  p.remove("Bob");
  EXPECT_EQ(*p.confusable_with(name_skeleton("bob")), "bob");
  // Unfollowed: the other nodes' members are forgotten, this node's kept.
  p.forget_view();
  EXPECT_EQ(p.confusable_with(name_skeleton("bob")), nullptr);
  EXPECT_EQ(*p.confusable_with(name_skeleton("ADA")), "ada");
}

}  // namespace
