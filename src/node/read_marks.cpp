#include "node/read_marks.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "node/delivery.hpp"
#include "node/errors.hpp"
#include "node/room_directory.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using protocol::errc;

bool ReadMarks::small(const OwnedRoom& r) const {
  return r.access.is_direct() || (r.access.is_private() && r.access.member_count() <= ctx_.limits().seen_by_members);
}

void ReadMarks::read(Shard& owner, const std::string& room, std::uint64_t seq, Reader reader) {
  rooms_.with_room(owner, room, [this, &owner, seq, reader = std::move(reader)](OwnedRoom* r, errc missing) mutable {
    const ErrorContext where{.user = reader.user_id, .conn = reader.who.id};
    if (!r) return delivery_.answer(reader.who, error_reply(missing, {}, reader.ref, where));
    if (r->state != OwnedRoom::State::ready)
      return delivery_.answer(reader.who, error_reply(errc::store_failed, {}, reader.ref, where));
    // Members only: the session is joined (checked on its shard); its user may still have been
    // removed since, which the room's access knows first.
    if (!r->access.may(reader.user_id, core::RoomAction::join))
      return delivery_.answer(reader.who, error_reply(errc::forbidden, {}, reader.ref, where));
    // Never past the room's head: a mark ahead of it would hide the next messages.
    seq = std::min(seq, r->last_seq());
    const bool seen = small(*r);
    owner.metrics().reads_stored.add();
    auto shared = std::make_shared<Reader>(std::move(reader));
    ctx_.store.set_read(
        shared->user_id, r->id, seq, [this, room = r->id, seq, seen, shared](std::error_code ec, std::uint64_t stored) {
          const ErrorContext where{.room = room, .user = shared->user_id, .conn = shared->who.id};
          if (ec) return delivery_.answer(shared->who, error_reply(errc::store_failed, {}, shared->ref, where));
          ctx_.store.read_states(
              shared->user_id, shared->name_key, {room},
              [this, room, seq, seen, stored, shared](std::error_code ec,
                                                      const std::vector<store::StoredReadState>& states) {
                const ErrorContext where{.room = room, .user = shared->user_id, .conn = shared->who.id};
                if (ec || states.size() != 1)
                  return delivery_.answer(shared->who, error_reply(errc::store_failed, {}, shared->ref, where));
                const auto& st = states.front();
                delivery_.answer(shared->who,
                                 protocol::read_event(room, st.last_read, st.unread, st.mentions, shared->ref));
                // A mark that did not move (a later one is stored already) tells nobody else.
                if (stored != seq) return;
                broker::ReadNotice notice{.node = ctx_.broker ? ctx_.broker->node_id() : std::string(),
                                          .user_id = shared->user_id,
                                          .room = room,
                                          .seq = st.last_read,
                                          .unread = st.unread,
                                          .mentions = st.mentions,
                                          .name = seen ? shared->name : std::string()};
                tell_local(notice, shared->who.id);
                if (ctx_.broker) ctx_.broker->announce_read(notice);
              });
        });
  });
}

void ReadMarks::joined(Shard& owner, const std::string& room, Reader reader) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || r->state != OwnedRoom::State::ready) return;
  const bool seen = small(*r);
  const std::size_t limit = ctx_.limits().seen_by_members;
  auto shared = std::make_shared<Reader>(std::move(reader));
  ctx_.store.read_states(
      shared->user_id, shared->name_key, {room},
      [this, room, seen, limit, shared](std::error_code ec, const std::vector<store::StoredReadState>& states) {
        // Unanswered, the client keeps counting from what it has: no error for
        // a request it did not make.
        if (ec || states.size() != 1) return;
        const auto& st = states.front();
        delivery_.reply_now(shared->who, protocol::read_event(room, st.last_read, st.unread, st.mentions, {}));
        if (!seen) return;
        ctx_.store.room_reads(room, limit,
                              [this, room, shared](std::error_code ec, const std::vector<store::StoredSeen>& marks) {
                                if (ec) return;
                                std::vector<protocol::SeenEntry> entries;
                                entries.reserve(marks.size());
                                for (const auto& m : marks) entries.push_back(protocol::SeenEntry{m.name, m.seq});
                                delivery_.reply_now(shared->who, protocol::seen_event(room, entries));
                              });
      });
}

void ReadMarks::on_read(const broker::ReadNotice& notice) {
  // Redis Pub/Sub brings a node its own announcements too: its sessions heard them already.
  if (ctx_.broker && notice.node == ctx_.broker->node_id()) return;
  tell_local(notice, 0);
}

void ReadMarks::tell_local(const broker::ReadNotice& notice, std::uint64_t except) {
  delivery_.tell_users(protocol::read_event(notice.room, notice.seq, notice.unread, notice.mentions, {}),
                       {notice.user_id}, except);
  if (notice.name.empty()) return;
  const protocol::SeenEntry entry{notice.name, notice.seq};
  delivery_.tell_room(notice.room, protocol::seen_event(notice.room, std::span(&entry, 1)));
}

}  // namespace parley::node
