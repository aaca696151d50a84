#pragma once
// The rooms this node knows, each on its owner shard: which exist, their loading from the store
// on first use, their creation, and, in a cluster, learning of rooms created on other nodes (their
// announcement, or a lookup in the broker's room index and then the store when a client names a
// room this node has not heard of yet).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "node/context.hpp"
#include "protocol/errc.hpp"

namespace parley::node {

class Delivery;

class RoomDirectory {
 public:
  RoomDirectory(NodeContext& ctx, Delivery& delivery) : ctx_(ctx), delivery_(delivery) {}

  // At start-up, before the threads run: each owner learns its rooms from the store (their logs
  // load on first use), and the default room exists. Returns how many rooms there are.
  std::size_t load_all();

  // Runs f(r, missing) once room `room` is loaded (r->state ready) or failed to load (not ready);
  // r is null if there is no such room, and `missing` says why: no_such_room, or in a cluster
  // unavailable (the store could not tell whether the room exists, and the broker's room index
  // did not have it or did not answer; see find()). On the room's owner shard.
  template <class F>
  void with_room(Shard& owner, const std::string& room, F&& f);

  // `create` of `who`: the room (spec: id, created_by, kind, password_hash, owner_id) is stored
  // (and, in a cluster, recorded in the broker's room index) before its creator hears `created`
  // and, for a public room, every other welcomed session of the node learns of it. On the room's
  // owner shard.
  // `answer`, if not empty, is what the creator hears instead of `created` (or of room_exists,
  // when another node made the room first): a direct conversation's `dm`.
  void create(Shard& owner, store::StoredRoom spec, SessionRef who, const std::string& ref,
              const std::string& answer = {});
  // `dm`: the direct conversation `spec` describes (kind direct, its two members and peers) is
  // answered with `answer` once it exists, made now if it does not. The requester is
  // spec.members[0]. On the room's owner shard.
  void open_direct(Shard& owner, store::StoredRoom spec, SessionRef who, const std::string& ref, std::string answer);
  // A room created elsewhere in the cluster is known here from now on (its log loads on first
  // use); once its access is read from the store (`stored`, if the caller has it), every
  // welcomed local session hears of it if it is public. Nothing if the room is known already
  // (but see ClusterRoom::heard_by).
  void learn(Shard& owner, const std::string& room, const std::string& by,
             std::optional<store::StoredRoom> stored = std::nullopt);
  // Reads the room's access from the store again (its members, bans, kind); `then(r)` with the
  // room once it is set, or with null if the store could not answer or the room is gone.
  void refresh_access(Shard& owner, const std::string& room, std::function<void(OwnedRoom*)> then);
  // An operator (or the room's owner, `by`, whose session `except` is answered by `done`'s caller)
  // deletes `room` (on its owner shard): its messages leave the store, its members the room
  // (`room_deleted` to every welcomed session that may see it), and the node forgets it. `done`
  // gets {} or the reason it was not: no_such_room; bad_request (the default room, which start-up
  // would create again); unavailable (the room is being created or loaded: try again; in a
  // cluster, the broker is unreachable: nothing was deleted; or the broker did not confirm its
  // part after the store's: see the message); store_failed. Called on the owner shard, answered
  // there. In a cluster the store is shared: this node deletes the room from it, then from the
  // broker (Broker::delete_room), whose announcement has every node, this one too, forget it.
  void remove(Shard& owner, const std::string& room, std::function<void(std::error_code, std::string)> done,
              std::string by = {}, std::uint64_t except = 0);
  // Cluster: a node deleted `room` (Broker::delete_room, on_room_deleted): this node forgets it
  // and tells its sessions, as the deleting node does (nothing if it does not know the room, or
  // the room is being created or deleted here). On the room's owner shard.
  void deleted_elsewhere(Shard& owner, const std::string& room, const std::string& by);
  // Cluster, after a broker outage (announcements may have been lost): asks the store about each
  // room of the shard, one after another, and forgets those it no longer has (deleted by another
  // node meanwhile). On the shard.
  void recheck_existence(Shard& shard);
  // Once a second on each shard: rooms idle for rooms.idle_unload_ms give their log back.
  void unload_idle(Shard& shard, std::int64_t now_ms);

 private:
  void load(Shard& owner, OwnedRoom& r);
  // learn's second half: the access is known; public rooms are told to everyone, direct
  // conversations to their two accounts (but `except`), private rooms to nobody.
  void told(OwnedRoom& r, const std::string& by, std::uint64_t except = 0);
  // The room is in the store (and, in a cluster, in the broker's room index): ready, and said.
  void created(Shard& owner, const std::string& room, const std::string& user, SessionRef who, const std::string& ref,
               const std::string& answer);
  // Cluster: the broker's room index or the store had the room already, from another node's
  // create: the creator is told room_exists, and the room is a learnt one.
  void create_lost(Shard& owner, const std::string& room, SessionRef who, const std::string& ref,
                   const std::string& answer);
  // A room this node has not heard of may have been created on another node a moment ago (its
  // announcement still on the way): asks the broker's room index and, if the index does not have
  // it or does not answer, the store; learns the room if either has it, then runs `then` (see
  // Shard::LookupWaiter). One lookup per room at a time; the requests that come meanwhile wait
  // for it (up to a bound).
  void find(Shard& owner, const std::string& room, Shard::LookupWaiter then);
  // find's second step. `index_answered`: the index said it does not have the room (not an
  // error): a room the store has is then recorded in the index again.
  void find_in_store(Shard& owner, const std::string& room, bool index_answered);
  // The room is gone: its sessions hear room_deleted (but `except`; a private room's only those
  // who may see it), its waiters are answered with null, this node stops following it through
  // the broker (and drops its presence entries there), and it is forgotten. `loaded`: it was
  // ready (counted in rooms_loaded).
  void forget(Shard& owner, const std::string& room, const std::string& by, std::uint64_t except, bool loaded);
  void check_next(Shard& shard, std::shared_ptr<std::vector<std::string>> rooms, std::size_t i);

  NodeContext& ctx_;
  Delivery& delivery_;
};

template <class F>
void RoomDirectory::with_room(Shard& owner, const std::string& room, F&& f) {
  OwnedRoom* r = owner.find_owned(room);
  if (r && r->state == OwnedRoom::State::deleting) return f(nullptr, protocol::errc::no_such_room);
  if (!r && ctx_.broker) {
    // Cluster: perhaps created on another node a moment ago. Once the lookup has answered (the
    // broker's room index, or else the store), the room is known here if it exists anywhere: then
    // this starts again.
    return find(owner, room, [this, &owner, room, f = std::forward<F>(f)](protocol::errc missing) mutable {
      if (owner.find_owned(room)) return with_room(owner, room, std::move(f));
      f(nullptr, missing);
    });
  }
  if (r) r->last_used_ms = ctx_.now_ms();
  if (!r || r->state == OwnedRoom::State::ready) return f(r, protocol::errc::no_such_room);
  r->waiting.emplace_back(
      [f = std::forward<F>(f)](OwnedRoom* loaded) mutable { f(loaded, protocol::errc::no_such_room); });
  if (r->state == OwnedRoom::State::unloaded) load(owner, *r);
}

}  // namespace parley::node
