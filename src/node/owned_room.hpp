#pragma once
// A room as its owner thread holds it: the log (seq, ring, cids), presence, on which shards it
// has member sessions, the presence events waiting for their batch, and, in a cluster, how it
// follows the broker. Loaded from the store on first use; requests wait until then.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/cluster_presence.hpp"
#include "core/limits.hpp"
#include "core/room_access.hpp"
#include "core/room_log.hpp"
#include "node/client.hpp"
#include "node/room_link.hpp"
#include "store/store.hpp"

namespace parley::node {

struct OwnedRoom;

// A request waiting for its room to be caught up with the broker (ClusterSync::when_synced):
// answered once, with the room by the sync or with null by its timer, whichever comes first.
struct SyncWaiter {
  SyncWaiter(boost::asio::io_context& ctx, std::function<void(OwnedRoom*)> then) : timer(ctx), f(std::move(then)) {}
  void answer(OwnedRoom* r) {
    if (!f) return;
    timer.cancel();
    std::exchange(f, nullptr)(r);
  }
  bool answered() const noexcept { return !f; }

  boost::asio::steady_timer timer;

 private:
  std::function<void(OwnedRoom*)> f;
};

// Presence events not sent yet ('\n'-separated, in order), waiting for the shard's presence batch
// (Delivery::announce_presence), with where each line starts; `queued`: the room is in the
// shard's list of such rooms. Sessions that joined while the batch waited get only the lines from
// their join on (its `members` shows the earlier ones, its own arrival among them).
struct PresenceBatch {
  std::string lines;
  std::vector<std::size_t> starts;
  struct LateJoiner {
    SessionRef who;
    std::size_t first_line;
  };
  std::unordered_map<std::uint64_t, LateJoiner> late;  // by session id
  bool queued = false;
};

// A room in a cluster (a broker orders it): how this node follows it (RoomLink), the messages
// published past a gap that wait for its repair, the joins waiting for a sync, and the
// bookkeeping of recovery and presence that only a cluster has (node/cluster_sync.cpp,
// node/presence_sync.cpp).
struct ClusterRoom {
  RoomLink link;
  std::map<std::uint64_t, core::Message> early;  // bounded: ClusterSync::max_early
  // This node's changes (edits, deletes, reactions) committed and acked whose broker copy has not
  // been applied here yet (seq > log.last_committed()): a change decided meanwhile sees its
  // target as acked, not as the ring still holds it (ClusterSync::as_acked). In seq order;
  // bounded: ClusterSync::max_acked_ahead.
  std::vector<core::Message> acked_ahead;
  std::vector<std::shared_ptr<SyncWaiter>> sync_waiting;  // ClusterSync::when_synced
  // A create here that loses to another node's (RoomDirectory::create_lost): that node's
  // announcement, if it came during the create, is in heard_by; if not, the room is untold to
  // this node's sessions until it comes (RoomDirectory::learn).
  std::string heard_by;
  bool untold = false;
  // Recovery (ClusterSync::durability_sweep): every applied message with seq <= durable_checked
  // is known to be in the store; a sweep is in flight while sweeping.
  std::uint64_t durable_checked = 0;
  bool sweeping = false;
  unsigned sweep_ticks = 0;
  // Failover (ClusterSync::send): the broker epoch this room's floor was seeded in, the store's
  // last seq read then (no publish goes below it), and whether that read is in flight.
  std::uint64_t epoch = 0;
  std::uint64_t store_floor = 0;
  bool reseeding = false;
  // Presence: joins waiting for the room's member snapshot, and whether the broker may not hold
  // this node's users of the room as they are (a failed call): restated by the next tick.
  std::vector<std::function<void(OwnedRoom*)>> presence_waiting;
  bool presence_dirty = false;
};

struct OwnedRoom {
  // deleting: an operator's deletion is under way; the room answers as if it were gone.
  enum class State { unloaded, loading, creating, ready, deleting };

  OwnedRoom(std::string room_id, const core::RoomOptions& opts, unsigned shard_count, State initial)
      : id(std::move(room_id)),
        state(initial),
        log(opts.recent_messages, opts.dedupe_window),
        shard_members(shard_count, 0) {}

  std::string id;
  State state;
  std::uint64_t stored_last_seq = 0;  // from load_rooms, until the room is loaded
  // Who may see, join and moderate it: every request is decided by it, here. Kept while the log
  // is unloaded (the room list needs it). A room learnt from another node has none until its
  // store record is read (RoomDirectory::learn): meanwhile it is listed to nobody and its joins
  // wait for it, as for a load.
  core::RoomAccess access;
  bool access_known = true;
  std::string peers;              // a direct conversation's two accounts (store::StoredRoom::peers)
  std::string title, topic;       // what members see of it beside its id (update_room; "": none)
  std::int64_t last_used_ms = 0;  // the last request for it (RoomDirectory::unload_idle)
  core::RoomLog log;
  // Members: this node's sessions, and in cluster mode every node's (see ClusterPresence).
  core::ClusterPresence presence;
  std::vector<std::uint32_t> shard_members;              // member sessions per shard
  std::vector<std::function<void(OwnedRoom*)>> waiting;  // run once loaded (or failed)

  // A retried send whose original is not committed yet: acked when it is.
  struct DupAck {
    std::uint64_t seq;
    std::int64_t ts;
    SessionRef who;
    std::string cid;
    std::string ref;
  };
  std::vector<DupAck> dup_acks;

  PresenceBatch batch;
  ClusterRoom cluster;

  std::uint32_t local_members() const noexcept {
    std::uint32_t n = 0;
    for (auto c : shard_members) n += c;
    return n;
  }

  // The room's access as the store has it (kind, password, members, bans), and its title and topic.
  void set_access(const store::StoredRoom& stored) {
    access = core::RoomAccess(stored.kind, stored.password_hash);
    for (const auto& m : stored.members) access.set_role(m.user_id, m.role);
    for (const auto& b : stored.banned) access.ban(b);
    peers = stored.peers;
    title = stored.title;
    topic = stored.topic;
    access_known = true;
  }

  // A direct conversation's other account's name, as `viewer` sees it (empty if none).
  std::string peer_of(std::string_view viewer) const {
    std::string_view rest = peers;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      const auto tab = line.find('\t');
      if (tab != std::string_view::npos && line.substr(0, tab) != viewer) return std::string(line.substr(tab + 1));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
    return {};
  }

  std::uint64_t last_seq() const noexcept { return state == State::ready ? log.last_committed() : stored_last_seq; }
};

}  // namespace parley::node
