// RoomLink: how a room follows the broker, as a state machine (node/room_link.hpp).
#include <gtest/gtest.h>

#include <stdexcept>

#include "node/room_link.hpp"

namespace parley::node {
namespace {

using State = RoomLink::State;

TEST(RoomLink, AFirstJoinSubscribesCatchesUpAndSyncs) {
  RoomLink l;
  EXPECT_FALSE(l.subscribed());
  l.subscribe();
  EXPECT_EQ(l.state(), State::behind);
  EXPECT_TRUE(l.subscribed());
  EXPECT_FALSE(l.synced());
  EXPECT_TRUE(l.start_fetch());
  EXPECT_EQ(l.state(), State::catching_up);
  EXPECT_FALSE(l.start_fetch()) << "one fetch at a time";
  l.fetch_ended();
  EXPECT_EQ(l.state(), State::behind);
  l.mark_synced();
  EXPECT_EQ(l.state(), State::synced);
  EXPECT_TRUE(l.synced());
  EXPECT_FALSE(l.fetching());
}

TEST(RoomLink, AGapWhileSyncedIsRepairedWithoutLosingTheSync) {
  RoomLink l;
  l.subscribe();
  l.mark_synced();
  EXPECT_TRUE(l.start_fetch());
  EXPECT_EQ(l.state(), State::repairing);
  EXPECT_TRUE(l.synced()) << "joins do not wait for a repair";
  l.fetch_ended();
  EXPECT_EQ(l.state(), State::synced);
}

TEST(RoomLink, TooMuchPastAGapLosesTheSync) {
  RoomLink l;
  l.subscribe();
  l.mark_synced();
  l.lost_track();
  EXPECT_EQ(l.state(), State::behind);
  l.mark_synced();
  ASSERT_TRUE(l.start_fetch());
  l.lost_track();
  EXPECT_EQ(l.state(), State::catching_up);
  l.lost_track();  // no sync to lose
  EXPECT_EQ(l.state(), State::catching_up);
}

TEST(RoomLink, UnsubscribingNeedsNoFetchInFlight) {
  RoomLink l;
  l.subscribe();
  ASSERT_TRUE(l.start_fetch());
  EXPECT_THROW(l.unsubscribe(), std::logic_error);
  l.fetch_ended();
  l.unsubscribe();
  EXPECT_EQ(l.state(), State::unsubscribed);
  l.subscribe();
  l.mark_synced();
  l.unsubscribe();
  EXPECT_FALSE(l.synced());
}

TEST(RoomLink, TransitionsFromTheWrongStateAreBugsAndThrow) {
  RoomLink l;
  EXPECT_THROW(l.start_fetch(), std::logic_error);
  EXPECT_THROW(l.fetch_ended(), std::logic_error);
  EXPECT_THROW(l.mark_synced(), std::logic_error);
  EXPECT_THROW(l.unsubscribe(), std::logic_error);
  l.subscribe();
  EXPECT_THROW(l.subscribe(), std::logic_error);
  EXPECT_THROW(l.fetch_ended(), std::logic_error);
  ASSERT_TRUE(l.start_fetch());
  EXPECT_THROW(l.mark_synced(), std::logic_error) << "a fetch ends before the room counts as synced";
}

}  // namespace
}  // namespace parley::node
