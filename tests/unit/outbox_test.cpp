// Outbox: what one owner handler sends, collected per target shard, in order.
#include <gtest/gtest.h>

#include "node/outbox.hpp"

namespace parley::node {
namespace {

TEST(Outbox, ItemsGoToTheirShardInTheOrderTheyWereAdded) {
  Outbox out(3);
  auto event = std::make_shared<const std::string>("m");
  out.deliver(2, "general", event, 0, 123);
  out.reply(SessionRef{2, 77}, "ack");
  out.reply(SessionRef{0, 5}, "other");
  out.add(2, ShardItem{ShardItem::Kind::batch, "general", event, {}, 0, {}, {}, {9, 11}});
  auto& items = out.items();
  ASSERT_EQ(items.size(), 3u);
  ASSERT_EQ(items[2].size(), 3u);
  EXPECT_EQ(items[2][0].kind, ShardItem::Kind::deliver);
  EXPECT_EQ(items[2][0].event.get(), event.get());  // shared, not copied
  EXPECT_EQ(items[2][0].arrived_ns, 123);
  EXPECT_EQ(items[2][1].kind, ShardItem::Kind::reply);
  EXPECT_EQ(items[2][1].session, 77u);
  EXPECT_EQ(items[2][1].text, "ack");
  EXPECT_EQ(items[2][2].skip, (std::vector<std::uint64_t>{9, 11}));
  ASSERT_EQ(items[0].size(), 1u);
  EXPECT_EQ(items[0][0].text, "other");
  EXPECT_TRUE(items[1].empty());
}

TEST(Outbox, ADeliveryNamesTheSessionItLeavesOut) {
  Outbox out(1);
  out.deliver(0, "r", std::make_shared<const std::string>("typing"), 42);
  EXPECT_EQ(out.items()[0][0].session, 42u);
}

}  // namespace
}  // namespace parley::node
