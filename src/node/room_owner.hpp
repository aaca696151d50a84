#pragma once
// The owner side of a room: runs on the shard that owns it (a hash of its id). Here a room's
// order is decided: a send is deduplicated by (user, cid), given the room's next seq, committed
// through the store with the rest of its loop turn (group commit), and only then delivered, so
// that anything a member has seen is in history and survives a restart. In a cluster the broker
// assigns the seq instead (ClusterSync), and the owner acks after the commit. Joins, leaves,
// typing and history pages are answered here too, from the room's state.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/context.hpp"
#include "node/outbox.hpp"

namespace parley::node {

class ClusterSync;
class Delivery;
class PresenceSync;
class RoomDirectory;

// Who asks to join, as far as a room's access is concerned: the account (core::is_account_id;
// a guest's id otherwise), and a private room's password if the request carried one, with the
// client's address for the password budgets.
struct JoinAuth {
  std::string user_id;
  std::string password;
  std::string address;
  // In a cluster, a join the room's access refuses is decided again after reading the access
  // from the store (another node may have invited the user a moment ago): done once.
  bool reread = false;
};

class RoomOwner {
 public:
  RoomOwner(NodeContext& ctx, RoomDirectory& rooms, ClusterSync& cluster, PresenceSync& presence, Delivery& delivery)
      : ctx_(ctx), rooms_(rooms), cluster_(cluster), presence_(presence), delivery_(delivery) {}

  // Each on the room's owner shard, for the session `who`; `ref` is its request's ref.
  // The session's shard is counted as a member, then sent `joined` and the gap after `since`.
  // The room's access decides first (RoomAccess::may join; a private room's password is checked
  // on the hash pool, and its user becomes a member).
  void join(Shard& owner, const std::string& room, std::string user, SessionRef who, std::optional<std::uint64_t> since,
            std::string ref, JoinAuth auth);
  void leave(Shard& owner, const std::string& room, const std::string& user, SessionRef who);
  void send(Shard& owner, core::Message m, SessionRef who, std::string ref);
  // An edit, a delete, a react or an unreact (m.kind, m.target), or a reply (a message whose
  // target is the message it answers), decided here against the message as the room has it
  // now (core::may_change: the ring, else the store), then ordered, stored and delivered as a send
  // is, with its own seq. `admin`: an operator's delete (the admin API), allowed on any message.
  void change(Shard& owner, core::Message m, SessionRef who, std::string ref, bool admin = false);
  // Typing, history and members are checked against the room's access again here (user_id): a
  // session whose user was removed may still send them until its shard takes it out.
  void typing(Shard& owner, const std::string& room, const std::string& user, const std::string& user_id,
              std::uint64_t from_session);
  void history(Shard& owner, const std::string& room, std::uint64_t before, std::size_t limit, SessionRef who,
               std::string ref, std::string user_id);
  // A page of the room's roster (`roster`): who is in it now, then its members who are not, each
  // in name order, with their roles; `after` is the previous page's cursor. The members and their
  // names come from the store (at most limits.max_room_members), their roles from the room's access.
  void roster(Shard& owner, const std::string& room, const std::string& after, std::size_t limit, SessionRef who,
              const std::string& ref, const std::string& user_id);
  // A page of the room's members in name order, after `after`.
  void members(Shard& owner, const std::string& room, const std::string& after, std::size_t limit, SessionRef who,
               const std::string& ref, const std::string& user_id);

  // The access of `user_id` to room `r` changed here (stored): in a cluster the other nodes are
  // told, to read it again (Moderation::on_access_changed).
  void access_changed(const OwnedRoom& r, const std::string& user_id);

  // The turn's sends of the shard, to the store as one batch (called at the end of the turn).
  void submit_appends(Shard& owner, std::vector<PendingAppend> batch);

 private:
  void finish_join(Shard& owner, OwnedRoom& r, std::string user, SessionRef who, const std::string& ref,
                   std::uint64_t since, std::vector<core::Message> from_store, bool truncated, const std::string& role);
  // A join's gap past the ring, read from the store (seqs after `from`). In a cluster the store
  // can lag the broker: another node's commit of an earlier seq may still be in flight while a
  // later one is stored. An answer with such a hole is read again (every kResumeReread, at most
  // kResumeRereads times), then refused `unavailable`: a resume never skips a seq.
  void resume_from_store(Shard& owner, const std::string& room, std::string user, SessionRef who, std::string ref,
                         std::uint64_t from, std::string role, int attempt);
  // A private room's password, right: the user is a member (stored), and the join goes on.
  void admit(Shard& owner, const std::string& room, std::string user, SessionRef who,
             std::optional<std::uint64_t> since, std::string ref, JoinAuth auth);
  // A send or a change that may be made: deduplicated by its cid, given its seq (or published, in
  // a cluster), queued for the store.
  void accept(Shard& owner, OwnedRoom& r, core::Message m, SessionRef who, std::string ref);
  void decide_change(Shard& owner, OwnedRoom& r, core::Message m, const core::Message* target, SessionRef who,
                     std::string ref, bool admin);
  // Why a react may not be added to `target` (limits.max_reaction_emoji, max_reactions_per_user),
  // or "".
  std::string reaction_over_budget(const core::Message& target, const core::Message& react) const;
  void on_committed(Shard& owner, std::vector<PendingAppend> batch, std::error_code ec);

  NodeContext& ctx_;
  RoomDirectory& rooms_;
  ClusterSync& cluster_;
  PresenceSync& presence_;
  Delivery& delivery_;
};

}  // namespace parley::node
