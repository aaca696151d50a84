#pragma once
// What one owner handler sends to other shards, collected per target shard and posted once per
// shard, so that a batch of N committed messages costs one post per shard, not N. Items are
// applied in order on the target shard.
#include <cstdint>
#include <string>
#include <vector>

#include "core/room_log.hpp"
#include "node/client.hpp"

namespace parley::node {

struct ShardItem {
  enum class Kind {
    deliver,      // event to every local member of room, except session `session`
    reply,        // text to session `session`
    join,         // finish a join: add session to room, then send text (joined) and gap
    join_failed,  // forget the pending join of room, then send text (an error)
    batch,        // event (a presence batch) to every local member of room but the sessions in `skip`
  };
  Kind kind;
  std::string room;
  core::EventPtr event;
  std::string text;
  std::uint64_t session = 0;
  std::vector<core::EventPtr> gap;
  std::string user;
  std::vector<std::uint64_t> skip;  // batch: sorted session ids
  std::int64_t arrived_ns = 0;      // deliver of a chat message: core::Message::arrived_ns
};

class Outbox {
 public:
  explicit Outbox(unsigned shards) : per_shard_(shards) {}

  void deliver(unsigned shard, const std::string& room, core::EventPtr event, std::uint64_t except = 0,
               std::int64_t arrived_ns = 0) {
    per_shard_[shard].push_back(
        ShardItem{ShardItem::Kind::deliver, room, std::move(event), {}, except, {}, {}, {}, arrived_ns});
  }
  void reply(SessionRef who, std::string text) {
    per_shard_[who.shard].push_back(
        ShardItem{ShardItem::Kind::reply, {}, nullptr, std::move(text), who.id, {}, {}, {}});
  }
  void add(unsigned shard, ShardItem item) { per_shard_[shard].push_back(std::move(item)); }

  std::vector<std::vector<ShardItem>>& items() noexcept { return per_shard_; }

 private:
  std::vector<std::vector<ShardItem>> per_shard_;
};

}  // namespace parley::node
