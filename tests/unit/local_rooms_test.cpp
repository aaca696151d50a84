// LocalRooms, the hub of one thread: which members of which rooms an event goes to, with its own
// bookkeeping (a member knows nothing of the hub).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "hub/local_rooms.hpp"

namespace parley::hub {
namespace {

struct FakeMember final : Member {
  explicit FakeMember(std::uint64_t i) : id(i) {}
  std::uint64_t member_id() const noexcept override { return id; }
  void deliver(std::string_view event) override { events.emplace_back(event); }
  void deliver_shared(const std::shared_ptr<const std::string>& e) override {
    events.push_back(*e);
    shared.push_back(e.get());
  }
  std::uint64_t id;
  std::vector<std::string> events;
  std::vector<const std::string*> shared;
};

std::vector<FakeMember> members(std::size_t n) {
  std::vector<FakeMember> v;
  for (std::size_t i = 0; i < n; ++i) v.emplace_back(i + 1);
  return v;
}

TEST(LocalRooms, DeliversToEveryMemberOfTheRoomOnly) {
  auto m = members(3);
  LocalRooms hub;
  hub.add("a", &m[0]);
  hub.add("a", &m[1]);
  hub.add("b", &m[2]);
  EXPECT_EQ(hub.deliver("a", "hi"), 2u);
  EXPECT_EQ(m[0].events, std::vector<std::string>{"hi"});
  EXPECT_EQ(m[1].events, std::vector<std::string>{"hi"});
  EXPECT_TRUE(m[2].events.empty());
  EXPECT_EQ(hub.deliver("nobody", "x"), 0u);
}

TEST(LocalRooms, ExceptLeavesOutOneMember) {
  auto m = members(3);
  LocalRooms hub;
  for (auto& x : m) hub.add("a", &x);
  EXPECT_EQ(hub.deliver("a", "typing", m[1].id), 2u);
  EXPECT_TRUE(m[1].events.empty());
}

TEST(LocalRooms, SharedEventsAreTheSameBufferForEveryMemberAndSkipListsWork) {
  auto m = members(4);
  LocalRooms hub;
  for (auto& x : m) hub.add("a", &x);
  auto event = std::make_shared<const std::string>("one\ntwo");
  const std::vector<std::uint64_t> skip = {m[0].id, m[2].id};  // sorted
  EXPECT_EQ(hub.deliver_shared("a", event, skip), 2u);
  EXPECT_TRUE(m[0].events.empty());
  EXPECT_TRUE(m[2].events.empty());
  ASSERT_EQ(m[1].shared.size(), 1u);
  EXPECT_EQ(m[1].shared[0], event.get());
  EXPECT_EQ(m[3].shared[0], event.get());
}

TEST(LocalRooms, RemovingAnyMemberKeepsTheOthersAndTheLastRemovalForgetsTheRoom) {
  auto m = members(5);
  LocalRooms hub;
  for (auto& x : m) hub.add("a", &x);
  hub.add("b", &m[0]);
  // Out of order: the middle (the last takes its place), the first, the last.
  hub.remove("a", &m[2]);
  hub.remove("a", &m[0]);
  EXPECT_FALSE(hub.contains("a", &m[2]));
  EXPECT_TRUE(hub.contains("b", &m[0]));
  EXPECT_EQ(hub.members("a"), 3u);
  EXPECT_EQ(hub.deliver("a", "x"), 3u);
  for (int i : {1, 3, 4}) EXPECT_EQ(m[i].events.size(), 1u) << i;
  hub.remove("a", &m[4]);
  hub.remove("a", &m[1]);
  hub.remove("a", &m[3]);
  EXPECT_EQ(hub.members("a"), 0u);
  EXPECT_EQ(hub.rooms(), 1u);  // only b
}

TEST(LocalRooms, AddingTwiceAndRemovingAStrangerChangeNothing) {
  auto m = members(2);
  LocalRooms hub;
  hub.add("a", &m[0]);
  hub.add("a", &m[0]);
  EXPECT_EQ(hub.members("a"), 1u);
  hub.remove("a", &m[1]);
  hub.remove("nowhere", &m[0]);
  EXPECT_EQ(hub.deliver("a", "x"), 1u);
  EXPECT_EQ(m[0].events.size(), 1u);
}

TEST(LocalRooms, ManyJoinsAndLeavesInRandomOrderAgreeWithASimpleModel) {
  auto m = members(64);
  LocalRooms hub;
  std::vector<bool> in(m.size(), false);
  std::uint64_t seed = 12345;
  for (int step = 0; step < 5000; ++step) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const std::size_t i = (seed >> 33) % m.size();
    if (in[i])
      hub.remove("r", &m[i]);
    else
      hub.add("r", &m[i]);
    in[i] = !in[i];
  }
  const auto expected = static_cast<std::size_t>(std::count(in.begin(), in.end(), true));
  EXPECT_EQ(hub.members("r"), expected);
  EXPECT_EQ(hub.deliver("r", "x"), expected);
  for (std::size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(hub.contains("r", &m[i]), in[i]) << i;
    EXPECT_EQ(m[i].events.size(), in[i] ? 1u : 0u) << i;
  }
}

}  // namespace
}  // namespace parley::hub
