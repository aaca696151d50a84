#include "node/room_directory.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "node/delivery.hpp"
#include "node/errors.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using protocol::errc;

namespace {
// Requests waiting for one room's lookup in the broker's room index; past this: unavailable.
constexpr std::size_t max_lookup_waiters = 1024;
// A room found in the store but not in the room index is recorded there again, unless it was
// stored less than this ago: its creator may still be on its way to the index (the store first,
// then announce_room, whose answer it waits for), and a record from here could win that race and
// have the creator told room_exists. Its creator records it; a later lookup would if it did not.
constexpr std::int64_t reannounce_after_ms = 60000;

// Hands the requests waiting for the room's lookup their answer: `missing` if the room is still
// unknown (with_room tries again if the lookup made it known).
void answer_lookup(Shard& owner, const std::string& room, errc missing) {
  auto it = owner.lookups().find(room);
  if (it == owner.lookups().end()) return;
  auto waiting = std::move(it->second);
  owner.lookups().erase(it);
  for (auto& f : waiting) f(missing);
}
}  // namespace

std::size_t RoomDirectory::load_all() {
  if (!ctx_.options.default_room.empty()) {
    store::StoredRoom lobby{.id = ctx_.options.default_room, .created_at = ctx_.now_ms(), .created_by = "parley"};
    ctx_.store.create_room_now(lobby);
  }
  std::size_t n = 0;
  for (auto& room : ctx_.store.load_rooms()) {
    Shard& owner = ctx_.owner_of(room.id);
    auto r = std::make_unique<OwnedRoom>(room.id, ctx_.options.rooms, ctx_.shard_count(), OwnedRoom::State::unloaded);
    r->stored_last_seq = room.last_seq;
    r->set_access(room);
    owner.owned().emplace(room.id, std::move(r));
    owner.metrics().rooms_owned.add();
    ++n;
  }
  return n;
}

void RoomDirectory::refresh_access(Shard& owner, const std::string& room, std::function<void(OwnedRoom*)> then) {
  ctx_.store.find_room(room, [this, &owner, room, then = std::move(then)](
                                 std::error_code ec, std::optional<store::StoredRoom> found) mutable {
    owner.post([this, &owner, room, ec, found = std::move(found), then = std::move(then)] {
      OwnedRoom* r = owner.find_owned(room);
      // Cluster: a room the shared store no longer has was deleted by another node (its
      // announcement not here yet, or lost): forgotten here too. Not one being created here.
      if (r && !ec && !found && ctx_.broker &&
          (r->state == OwnedRoom::State::ready || r->state == OwnedRoom::State::unloaded ||
           r->state == OwnedRoom::State::loading)) {
        spdlog::info("room {}: no longer in the store (deleted on another node)", room);
        forget(owner, room, {}, 0, r->state == OwnedRoom::State::ready);
        r = nullptr;
      }
      if (!r || ec || !found) {
        if (ec) spdlog::warn("room {}: cannot read its access from the store: {}", room, ec.message());
        return then(nullptr);
      }
      r->set_access(*found);
      then(r);
    });
  });
}

void RoomDirectory::load(Shard& owner, OwnedRoom& r) {
  r.state = OwnedRoom::State::loading;
  if (!r.access_known) {
    // A learnt room whose access was not read yet: that first, then its log.
    return refresh_access(owner, r.id, [this, &owner, room = r.id](OwnedRoom* got) {
      OwnedRoom* r = owner.find_owned(room);
      if (!r || r->state != OwnedRoom::State::loading) return;
      if (!got) {
        r->state = OwnedRoom::State::unloaded;  // the next request tries again
        auto waiting = std::move(r->waiting);
        r->waiting.clear();
        for (auto& f : waiting) f(r);
        return;
      }
      load(owner, *r);
    });
  }
  const std::size_t n = std::max(ctx_.options.rooms.recent_messages, ctx_.options.rooms.dedupe_window);
  ctx_.store.read(r.id, 0, 0, n, [this, &owner, room = r.id](std::error_code ec, std::vector<core::Message> msgs) {
    owner.post([this, &owner, room, ec, msgs = std::move(msgs)]() mutable {
      OwnedRoom* r = owner.find_owned(room);
      if (!r || r->state != OwnedRoom::State::loading) return;
      if (ec) {
        spdlog::error("room {}: cannot load from the store: {}", room, ec.message());
        r->state = OwnedRoom::State::unloaded;  // the next request tries again
      } else {
        const std::uint64_t last = std::max(r->stored_last_seq, msgs.empty() ? 0 : msgs.back().seq);
        r->log.restore(last, msgs);
        r->state = OwnedRoom::State::ready;
        r->last_used_ms = ctx_.now_ms();
        owner.metrics().rooms_loaded.add();
      }
      auto waiting = std::move(r->waiting);
      r->waiting.clear();
      for (auto& f : waiting) f(r);
    });
  });
}

void RoomDirectory::open_direct(Shard& owner, store::StoredRoom spec, SessionRef who, const std::string& ref,
                                std::string answer) {
  if (!owner.find_owned(spec.id)) return create(owner, std::move(spec), who, ref, answer);
  // Made before (here, or on another node: then its access is read on first use, as any room's).
  const std::string requester = spec.members.empty() ? std::string() : spec.members.front().user_id;
  with_room(owner, spec.id, [this, who, ref, requester, answer = std::move(answer)](OwnedRoom* r, errc missing) {
    if (!r)
      return delivery_.answer(who, error_reply(missing, {}, ref, ErrorContext{.user = requester, .conn = who.id}));
    if (r->state != OwnedRoom::State::ready)
      return delivery_.answer(
          who, error_reply(errc::store_failed, {}, ref, ErrorContext{.user = requester, .conn = who.id}));
    if (!r->access.is_direct() || !r->access.may(requester, core::RoomAction::join))
      return delivery_.answer(who, error_reply(errc::forbidden, "not a member of this conversation", ref,
                                               ErrorContext{.user = requester, .conn = who.id}));
    delivery_.answer(who, answer);
  });
}

void RoomDirectory::create(Shard& owner, store::StoredRoom spec, SessionRef who, const std::string& ref,
                           const std::string& answer) {
  const std::string room = spec.id;
  const std::string user = spec.created_by;
  if (owner.find_owned(room))
    return delivery_.answer(who, error_reply(errc::room_exists, {}, ref, ErrorContext{.room = room, .conn = who.id}));
  // Rooms in all (limits.max_rooms): counted over the shards' gauges, so a turn's creations on
  // several shards may overshoot by a few.
  std::size_t rooms = 0;
  for (const auto& sh : ctx_.shards) rooms += sh->metrics().rooms_owned.get();
  if (rooms >= ctx_.limits().max_rooms)
    return delivery_.answer(who, error_reply(errc::room_limit, {}, ref, ErrorContext{.room = room, .conn = who.id}));
  auto r = std::make_unique<OwnedRoom>(room, ctx_.options.rooms, ctx_.shard_count(), OwnedRoom::State::creating);
  spec.created_at = ctx_.now_ms();
  store::StoredRoom rows = spec;
  if (!spec.owner_id.empty())
    rows.members.push_back(store::StoredMember{spec.owner_id, core::Role::owner, spec.created_at});
  r->set_access(rows);
  owner.owned().emplace(room, std::move(r));
  owner.metrics().rooms_owned.add();
  ctx_.store.create_room(std::move(spec), [this, &owner, room, user, who, ref, answer](std::error_code ec) {
    owner.post([this, &owner, room, user, who, ref, answer, ec] {
      OwnedRoom* r = owner.find_owned(room);
      if (!r)
        return delivery_.answer(who,
                                error_reply(errc::store_failed, {}, ref, ErrorContext{.room = room, .conn = who.id}));
      // The store has the room already: another node's creation (in a cluster; its announcement
      // is on its way, or Redis lost its record). One node on its own knows every stored room.
      if (ec == errc::room_exists) return create_lost(owner, room, who, ref, answer);
      if (ec) {
        auto waiting = std::move(r->waiting);
        owner.owned().erase(room);
        owner.metrics().rooms_owned.sub();
        for (auto& f : waiting) f(nullptr);
        return delivery_.answer(who,
                                error_reply(errc::store_failed, {}, ref, ErrorContext{.room = room, .conn = who.id}));
      }
      if (!ctx_.broker) return created(owner, room, user, who, ref, answer);
      // Cluster: `created` once the broker's room index has the room, so that a join anywhere
      // after it finds the room even before the announcement reaches that node. Without the
      // broker's word (an outage) the room is created all the same: the record goes out later.
      ctx_.broker->announce_room(room, user, [this, &owner, room, user, who, ref, answer](std::error_code ec) {
        owner.post([this, &owner, room, user, who, ref, answer, ec] {
          if (ec == errc::room_exists) return create_lost(owner, room, who, ref, answer);
          created(owner, room, user, who, ref, answer);
        });
      });
    });
  });
}

void RoomDirectory::created(Shard& owner, const std::string& room, const std::string& user, SessionRef who,
                            const std::string& ref, const std::string& answer) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r)
    return delivery_.answer(who, error_reply(errc::store_failed, {}, ref, ErrorContext{.room = room, .conn = who.id}));
  r->log.restore(0, {});
  r->state = OwnedRoom::State::ready;
  r->last_used_ms = ctx_.now_ms();
  owner.metrics().rooms_loaded.add();
  auto waiting = std::move(r->waiting);
  r->waiting.clear();
  for (auto& f : waiting) f(r);
  // The creator gets it with its ref; every other welcomed session learns of a public room, the
  // other account of a direct conversation of theirs.
  delivery_.answer(
      who, answer.empty() ? protocol::created_event(room, user, ref, r->access.is_private(), false, r->title, r->topic)
                          : answer);
  told(*r, user, who.id);
}

void RoomDirectory::create_lost(Shard& owner, const std::string& room, SessionRef who, const std::string& ref,
                                const std::string& answer) {
  // Another node created the room first (this node had not heard of it yet): the store had it
  // already, or the broker's room index did. It is a room like any learnt one, loaded on first
  // use. Its creator's announcement tells this node's sessions of it: now, if it came during the
  // create, or when it comes (never, if Redis lost it: the room is still listed and joinable).
  OwnedRoom* r = owner.find_owned(room);
  // A direct conversation made first elsewhere is the same conversation: its answer stands.
  const std::string lost = answer.empty() ? error_reply(errc::room_exists, {}, ref) : answer;
  if (!r) return delivery_.answer(who, lost);
  r->state = OwnedRoom::State::unloaded;
  // Its access is the other creation's, not the one this node set up: read it (load() does).
  r->access = core::RoomAccess(core::RoomKind::private_room);
  r->access_known = false;
  if (!r->waiting.empty()) load(owner, *r);
  delivery_.answer(who, lost);
  if (!r->cluster.heard_by.empty()) {
    const std::string by = std::exchange(r->cluster.heard_by, {});
    return refresh_access(owner, room, [this, &owner, by](OwnedRoom* got) {
      if (got) told(*got, by);
    });
  }
  r->cluster.untold = true;
}

void RoomDirectory::told(OwnedRoom& r, const std::string& by, std::uint64_t except) {
  if (!r.access.is_private()) return delivery_.tell_created(r.id, by, except, r.title, r.topic);
  if (!r.access.is_direct()) return;
  std::vector<std::string> ids;
  r.access.for_each_member([&ids](const std::string& id, core::Role) { ids.push_back(id); });
  delivery_.tell_users(protocol::created_event(r.id, by, {}, true, true), std::move(ids), except);
}

void RoomDirectory::learn(Shard& owner, const std::string& room, const std::string& by,
                          std::optional<store::StoredRoom> stored) {
  if (OwnedRoom* known = owner.find_owned(room)) {
    // Created here at the same moment: whichever create the room index took, this one or that.
    if (known->state == OwnedRoom::State::creating) known->cluster.heard_by = by;
    if (known->cluster.untold) {
      known->cluster.untold = false;
      if (known->access_known) {
        told(*known, by);
      } else {
        refresh_access(owner, room, [this, &owner, by](OwnedRoom* got) {
          if (got) told(*got, by);
        });
      }
    }
    return;
  }
  auto r = std::make_unique<OwnedRoom>(room, ctx_.options.rooms, ctx_.shard_count(), OwnedRoom::State::unloaded);
  OwnedRoom& learnt = *r;
  owner.owned().emplace(room, std::move(r));
  owner.metrics().rooms_owned.add();
  if (stored) {
    learnt.set_access(*stored);
    return told(learnt, by);
  }
  // Not listed, and not told, until its access is read: a private room is for its members only.
  learnt.access = core::RoomAccess(core::RoomKind::private_room);
  learnt.access_known = false;
  refresh_access(owner, room, [this, &owner, by](OwnedRoom* got) {
    if (got) told(*got, by);
  });
}

void RoomDirectory::find(Shard& owner, const std::string& room, Shard::LookupWaiter then) {
  auto& waiting = owner.lookups()[room];
  if (waiting.size() >= max_lookup_waiters) return then(errc::unavailable);
  waiting.push_back(std::move(then));
  if (waiting.size() > 1) return;  // a lookup of the room is in flight: its answer serves this one too
  owner.metrics().room_lookups.add();
  ctx_.broker->lookup_room(room, [this, &owner, room](std::error_code ec, std::optional<std::string> by) {
    owner.post([this, &owner, room, ec, by = std::move(by)] {
      if (ec) spdlog::warn("room {}: cannot look it up in the broker's room index: {}", room, ec.message());
      if (!ec && by) {
        learn(owner, room, *by);
        return answer_lookup(owner, room, errc::no_such_room);
      }
      // Not in the index (Redis lost its data: restarted without AOF, flushed, replaced) or no
      // answer: the store decides, which holds every room before its creator announces it. The
      // waiters stay in place meanwhile: still one lookup, one answer.
      find_in_store(owner, room, !ec);
    });
  });
}

void RoomDirectory::find_in_store(Shard& owner, const std::string& room, bool index_answered) {
  auto done = [this, &owner, room, index_answered](std::error_code ec, std::optional<store::StoredRoom> found) {
    owner.post([this, &owner, room, index_answered, ec, found = std::move(found)] {
      // The store could not tell (it logged why): the room may exist.
      if (ec) return answer_lookup(owner, room, errc::unavailable);
      if (!found) return answer_lookup(owner, room, errc::no_such_room);
      // Known by now (its announcement came, or a create here began): that path tells the
      // sessions, with the index's word on who created it.
      if (!owner.find_owned(room)) {
        learn(owner, room, found->created_by, *found);
        // The index answered without it: record it again, so that other nodes find it there and
        // those that have not heard of it learn it (on_room_created; a node that knows it ignores
        // that, this one included). Fire and forget: the waiters' answer is the store's.
        if (index_answered && ctx_.now_ms() - found->created_at >= reannounce_after_ms) {
          spdlog::warn(
              "room {}: in the store but not in the broker's room index (did Redis lose its data?): "
              "recording it there again",
              room);
          ctx_.broker->announce_room(room, found->created_by, {});
        }
      }
      answer_lookup(owner, room, errc::no_such_room);
    });
  };
  ctx_.store.find_room(room, std::move(done));
}

void RoomDirectory::unload_idle(Shard& shard, std::int64_t now_ms) {
  const auto idle_ms = static_cast<std::int64_t>(ctx_.options.rooms.idle_unload_ms);
  if (idle_ms == 0) return;
  for (auto& [id, rp] : shard.owned()) {
    OwnedRoom& r = *rp;
    if (r.state != OwnedRoom::State::ready || now_ms - r.last_used_ms < idle_ms) continue;
    // Nothing under way: no member here, no request waiting, nothing being committed, no
    // presence to send, and (in a cluster) not followed.
    const auto& c = r.cluster;
    if (r.local_members() > 0 || !r.waiting.empty() || !r.dup_acks.empty() ||
        r.log.last_assigned() != r.log.last_committed() || !r.batch.lines.empty() || r.batch.queued ||
        c.link.subscribed() || !c.sync_waiting.empty() || !c.presence_waiting.empty() || c.sweeping ||
        r.presence.size() > 0)
      continue;
    r.stored_last_seq = r.log.last_committed();
    r.log.release();
    r.presence = core::ClusterPresence();
    r.state = OwnedRoom::State::unloaded;
    shard.metrics().rooms_loaded.sub();
  }
}

void RoomDirectory::remove(Shard& owner, const std::string& room,
                           std::function<void(std::error_code, std::string)> done, std::string by,
                           std::uint64_t except) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r && ctx_.broker) {
    // Cluster: a room this node has not heard of may exist (its announcement missed): looked up
    // as a join's would be, then deleted if found.
    return find(owner, room,
                [this, &owner, room, done = std::move(done), by = std::move(by), except](errc missing) mutable {
                  if (!owner.find_owned(room))
                    return done(missing, missing == errc::no_such_room ? "no such room" : std::string());
                  remove(owner, room, std::move(done), std::move(by), except);
                });
  }
  if (!r || r->state == OwnedRoom::State::deleting) return done(errc::no_such_room, "no such room");
  if (room == ctx_.options.default_room)
    return done(errc::bad_request, "the default room (server.default_room) is created again at start-up");
  if (r->state == OwnedRoom::State::loading || r->state == OwnedRoom::State::creating)
    return done(errc::unavailable, "the room is being created or loaded; try again");
  // Cluster: nothing is deleted while the broker is unreachable: the other nodes would not hear
  // of it, and the room's counter and log would outlive it there.
  if (ctx_.broker && !ctx_.broker->ready())
    return done(errc::unavailable, "the broker is unreachable: nothing was deleted; try again");
  const bool loaded = r->state == OwnedRoom::State::ready;
  // From now on the room answers as if it were gone. The store deletes it after this turn's
  // appends, which the end of the turn hands it first: nothing of the room outlives it there.
  r->state = OwnedRoom::State::deleting;
  owner.post([this, &owner, room, loaded, done = std::move(done), by = std::move(by), except]() mutable {
    ctx_.store.delete_room(room, [this, &owner, room, loaded, done = std::move(done), by = std::move(by),
                                  except](std::error_code ec) mutable {
      owner.post([this, &owner, room, loaded, ec, done = std::move(done), by = std::move(by), except]() mutable {
        OwnedRoom* r = owner.find_owned(room);
        if (!r) return done(errc::no_such_room, "no such room");
        if (ec) {
          // Still stored: the room stays as it was (nothing was accepted for it meanwhile).
          r->state = loaded ? OwnedRoom::State::ready : OwnedRoom::State::unloaded;
          return done(errc::store_failed, "the store could not delete it; try again");
        }
        const std::string who = by.empty() ? std::string("the operator") : "its owner " + by;
        if (!ctx_.broker) {
          forget(owner, room, by, except, loaded);
          spdlog::info("room {}: deleted by {}", room, who);
          return done({}, {});
        }
        // Cluster: the store no longer has the room (the truth every node falls back on), so
        // the broker's part comes second: its record, counter and log go, and its announcement
        // has every node forget the room (this one answers `done` from here).
        ctx_.broker->delete_room(
            room, by,
            [this, &owner, room, loaded, done = std::move(done), by, except, who](std::error_code bec) mutable {
              owner.post([this, &owner, room, loaded, bec, done = std::move(done), by, except, who] {
                OwnedRoom* r = owner.find_owned(room);
                if (r && r->state == OwnedRoom::State::deleting) forget(owner, room, by, except, loaded);
                if (bec) {
                  spdlog::warn("room {}: deleted by {} from the store, but the broker did not confirm its part", room,
                               who);
                  return done(errc::unavailable,
                              "deleted from the store and on this node, but the broker did not confirm its part: other "
                              "nodes may hold the room until they reconnect to the broker; delete it again there");
                }
                spdlog::info("room {}: deleted by {} on every node", room, who);
                done({}, {});
              });
            });
      });
    });
  });
}

void RoomDirectory::forget(Shard& owner, const std::string& room, const std::string& by, std::uint64_t except,
                           bool loaded) {
  auto it = owner.owned().find(room);
  if (it == owner.owned().end()) return;
  std::unique_ptr<OwnedRoom> gone = std::move(it->second);
  owner.owned().erase(it);
  owner.metrics().rooms_owned.sub();
  if (loaded) owner.metrics().rooms_loaded.sub();
  // Told before anything else is answered: a private room's deletion only to those who saw it.
  delivery_.tell_deleted(room, by, except, std::make_shared<const core::RoomAccess>(gone->access));
  if (ctx_.broker) {
    // No longer followed: its channel, and this node's presence entries in it.
    if (gone->cluster.link.subscribed()) ctx_.broker->unsubscribe(room);
    if (!gone->presence.local_users().empty()) ctx_.broker->presence_sync(room, {}, {});
    for (auto& w : gone->cluster.sync_waiting) w->answer(nullptr);
  }
  // Requests waiting for its load: with_room answers them no_such_room.
  for (auto& f : gone->waiting) f(nullptr);
}

void RoomDirectory::deleted_elsewhere(Shard& owner, const std::string& room, const std::string& by) {
  OwnedRoom* r = owner.find_owned(room);
  // Being created here: a new room of the same id, made after the deletion. Being deleted here:
  // this node's own deletion, which forgets it.
  if (!r || r->state == OwnedRoom::State::creating || r->state == OwnedRoom::State::deleting) return;
  spdlog::info("room {}: deleted on another node", room);
  forget(owner, room, by, 0, r->state == OwnedRoom::State::ready);
}

void RoomDirectory::recheck_existence(Shard& shard) {
  auto rooms = std::make_shared<std::vector<std::string>>();
  for (const auto& [id, r] : shard.owned())
    if (r->state == OwnedRoom::State::ready || r->state == OwnedRoom::State::unloaded) rooms->push_back(id);
  check_next(shard, std::move(rooms), 0);
}

void RoomDirectory::check_next(Shard& shard, std::shared_ptr<std::vector<std::string>> rooms, std::size_t i) {
  // One at a time, as Node::check_session: thousands of rooms must not flood the store's queue.
  if (i >= rooms->size()) return;
  std::string room = (*rooms)[i];
  ctx_.store.find_room(room, [this, &shard, rooms = std::move(rooms), i, room](
                                 std::error_code ec, const std::optional<store::StoredRoom>& found) mutable {
    const bool gone = !ec && !found;  // a store error proves nothing: the room stays
    shard.post([this, &shard, rooms = std::move(rooms), i, room, gone]() mutable {
      OwnedRoom* r = shard.find_owned(room);
      if (gone && r && (r->state == OwnedRoom::State::ready || r->state == OwnedRoom::State::unloaded)) {
        spdlog::info("room {}: no longer in the store (deleted on another node while the broker was away)", room);
        forget(shard, room, {}, 0, r->state == OwnedRoom::State::ready);
      }
      check_next(shard, std::move(rooms), i + 1);
    });
  });
}

}  // namespace parley::node
