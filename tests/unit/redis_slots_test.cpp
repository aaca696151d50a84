// Redis Cluster's key slots and redirections, computed locally (broker/redis_slots.hpp).
#include "broker/redis_slots.hpp"

#include <gtest/gtest.h>

namespace {

using parley::broker::key_slot;

TEST(RedisSlots, Crc16IsXmodem) {
  EXPECT_EQ(parley::broker::crc16("123456789"), 0x31C3);  // the CRC16/XMODEM check value
  EXPECT_EQ(parley::broker::crc16(""), 0);
}

// Each expected slot is redis-server 7.0's CLUSTER KEYSLOT answer.
TEST(RedisSlots, KeySlotsAreRedisOwn) {
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("parley:{general}:seq"), key_slot("general"));
  EXPECT_EQ(key_slot("general"), 9981);
  EXPECT_EQ(key_slot("parley:{parley}:room-index"), 11367);
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), 3443);
}

TEST(RedisSlots, HashTagRules) {
  EXPECT_EQ(key_slot("foo{}{bar}"), 8363);                // an empty first tag: the whole key
  EXPECT_EQ(key_slot("foo{{bar}}zap"), 4015);             // the tag "{bar": up to the first '}'
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));  // only the first tag counts
  EXPECT_EQ(key_slot("{unclosed"), 470);                  // no '}': the whole key
}

TEST(RedisSlots, Redirects) {
  auto moved = parley::broker::parse_redirect("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_FALSE(moved->ask);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->target, "127.0.0.1:6381");
  auto ask = parley::broker::parse_redirect("ASK 12 10.0.0.2:7000");
  ASSERT_TRUE(ask);
  EXPECT_TRUE(ask->ask);
  EXPECT_EQ(ask->target, "10.0.0.2:7000");
  for (const char* bad : {"ERR wrong", "MOVED", "MOVED x 1:2", "MOVED 16384 h:1", "MOVED 1 nohostport", "ASK 1 "})
    EXPECT_FALSE(parley::broker::parse_redirect(bad)) << bad;
}

TEST(RedisSlots, ClusterSlotsReply) {
  using parley::broker::RedisReply;
  auto integer = [](long long v) {
    RedisReply r;
    r.type = RedisReply::Type::integer;
    r.integer = v;
    return r;
  };
  auto str = [](std::string v) {
    RedisReply r;
    r.type = RedisReply::Type::string;
    r.str = std::move(v);
    return r;
  };
  auto arr = [](std::vector<RedisReply> v) {
    RedisReply r;
    r.type = RedisReply::Type::array;
    r.elements = std::move(v);
    return r;
  };
  auto reply = arr({arr({integer(0), integer(5460), arr({str("127.0.0.1"), integer(7000), str("id-a")}),
                         arr({str("127.0.0.1"), integer(7003), str("id-d")})}),
                    arr({integer(5461), integer(16383), arr({str(""), integer(7001), str("id-b")})})});
  auto ranges = parley::broker::parse_cluster_slots(reply, "10.1.1.1");
  ASSERT_TRUE(ranges);
  ASSERT_EQ(ranges->size(), 2u);
  EXPECT_EQ((*ranges)[0].primary, "127.0.0.1:7000");
  EXPECT_EQ((*ranges)[0].node_id, "id-a");
  EXPECT_EQ((*ranges)[1].first, 5461);
  EXPECT_EQ((*ranges)[1].primary, "10.1.1.1:7001");  // no host given: the node asked
  EXPECT_FALSE(parley::broker::parse_cluster_slots(arr({arr({integer(9), integer(3), arr({str("h"), integer(1)})})}),
                                                   "h"));  // last < first
  EXPECT_FALSE(parley::broker::parse_cluster_slots(str("x"), "h"));
}

}  // namespace
