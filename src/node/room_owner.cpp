#include "node/room_owner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/names.hpp"
#include "node/cluster_sync.hpp"
#include "node/delivery.hpp"
#include "node/errors.hpp"
#include "node/presence_sync.hpp"
#include "node/room_directory.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using protocol::errc;

// A send's store_failed (the code's own text speaks of any request: a read, a lookup).
constexpr std::string_view message_not_stored = "the message could not be stored; send it again with the same cid";

void RoomOwner::join(Shard& owner, const std::string& room, std::string user, SessionRef who,
                     std::optional<std::uint64_t> since, std::string ref, JoinAuth auth) {
  rooms_.with_room(
      owner, room,
      [this, &owner, room, user = std::move(user), who, since, ref = std::move(ref), auth = std::move(auth)](
          OwnedRoom* r, errc missing) mutable {
        if (!r) return delivery_.join_failed(who, room, missing, ref);
        if (r->state != OwnedRoom::State::ready) return delivery_.join_failed(who, room, errc::store_failed, ref);
        const core::RoomAccess& access = r->access;
        if (!access.may(auth.user_id, core::RoomAction::join)) {
          // In a cluster this node's copy of the access may be a moment behind the store (an
          // invitation or an unban on another node, its announcement on the way): the store
          // decides a refusal. On one node the copy is the store's.
          if (ctx_.broker && core::is_account_id(auth.user_id) && !auth.reread) {
            auth.reread = true;
            return rooms_.refresh_access(
                owner, room, [this, &owner, room, user, who, since, ref, auth](OwnedRoom* got) mutable {
                  if (!got) return delivery_.join_failed(who, room, errc::store_failed, ref);
                  join(owner, room, std::move(user), who, since, std::move(ref), std::move(auth));
                });
          }
          owner.metrics().access_denied.add();
          // A private room answers its name to a stranger (as `create` would, with room_exists),
          // nothing more: not its members, not its messages.
          if (access.banned(auth.user_id))
            return delivery_.join_failed(who, room, errc::forbidden, ref, "you are banned from this room");
          if (!core::is_account_id(auth.user_id))
            return delivery_.join_failed(who, room, errc::forbidden, ref, "a private room: sign in to join it");
          if (access.password_hash().empty())
            return delivery_.join_failed(who, room, errc::forbidden, ref,
                                         "a private room: its members invite who may join");
          if (auth.password.empty())
            return delivery_.join_failed(who, room, errc::forbidden, ref,
                                         "a private room: join with its password, or be invited");
          if (access.rows() >= ctx_.limits().max_room_members)
            return delivery_.join_failed(who, room, errc::forbidden, ref,
                                         "the room has as many members as it may have");
          return admit(owner, room, std::move(user), who, since, std::move(ref), std::move(auth));
        }
        if (ctx_.broker && !r->cluster.link.synced()) {
          // Cluster: the ring must be caught up with the broker before a gap can be computed.
          return cluster_.when_synced(owner, *r,
                                      [this, &owner, room, user, who, since, ref, auth](OwnedRoom* synced) mutable {
                                        if (!synced) return delivery_.join_failed(who, room, errc::unavailable, ref);
                                        join(owner, room, std::move(user), who, since, std::move(ref), std::move(auth));
                                      });
        }
        if (ctx_.broker && r->presence.view() != core::ClusterPresence::View::ready) {
          // Cluster: `members` lists every node's users; read them once subscribed.
          return presence_.when_ready(owner, *r,
                                      [this, &owner, room, user, who, since, ref, auth](OwnedRoom* ready) mutable {
                                        if (!ready) return delivery_.join_failed(who, room, errc::unavailable, ref);
                                        join(owner, room, std::move(user), who, since, std::move(ref), std::move(auth));
                                      });
        }
        std::string role(core::role_name(access.role_of(auth.user_id)));
        // A user whose name a reader would take for a member's (another user: the same name is
        // the same user, in another tab) is refused: one key and one hash lookup, against every
        // node's members in a cluster (the union waited for above).
        std::string key;
        if (!r->presence.contains(user)) {
          key = core::name_skeleton(user);
          if (const std::string* other = r->presence.confusable_with(key)) {
            return delivery_.join_failed(
                who, room, errc::confusable_name, ref,
                "\"" + *other + "\" is in this room and has a name that looks like yours; choose another name");
          }
        }
        Outbox out(ctx_.shard_count());
        // Announced before the joiner is added on its shard: it learns of itself from `members`.
        presence_.add(owner, *r, user, key, out);
        r->shard_members[who.shard]++;
        delivery_.dispatch(out);
        const std::uint64_t committed = r->log.last_committed();
        const std::uint64_t from = std::min(since.value_or(committed), committed);
        const std::size_t limit = ctx_.options.limits.resume_limit;
        if (committed - from <= limit && r->log.covers_after(from)) {
          return finish_join(owner, *r, std::move(user), who, ref, from, {}, false, role);
        }
        // The gap reaches past the ring: read it from the store, then add what committed meanwhile.
        resume_from_store(owner, room, std::move(user), who, std::move(ref), from, std::move(role), 0);
      });
}

namespace {

constexpr auto kResumeReread = std::chrono::milliseconds(100);
constexpr int kResumeRereads = 30;

// A store answer (seqs after `from`, the newest `limit`) with a seq missing inside it, or
// starting after from + 1 although it holds fewer than `limit` (so not cut by the limit).
bool has_hole(const std::vector<core::Message>& msgs, std::uint64_t from, std::size_t limit) {
  if (msgs.empty()) return false;
  if (msgs.size() < limit && msgs.front().seq != from + 1) return true;
  for (std::size_t i = 1; i < msgs.size(); ++i)
    if (msgs[i].seq != msgs[i - 1].seq + 1) return true;
  return false;
}

}  // namespace

void RoomOwner::resume_from_store(Shard& owner, const std::string& room, std::string user, SessionRef who,
                                  std::string ref, std::uint64_t from, std::string role, int attempt) {
  const std::size_t limit = ctx_.options.limits.resume_limit;
  ctx_.store.read(
      room, from, 0, limit,
      [this, &owner, room, user = std::move(user), who, ref = std::move(ref), from, role = std::move(role), attempt,
       limit](std::error_code ec, std::vector<core::Message> msgs) mutable {
        owner.post([this, &owner, room, user = std::move(user), who, ref = std::move(ref), from, role = std::move(role),
                    attempt, limit, ec, msgs = std::move(msgs)]() mutable {
          OwnedRoom* r = owner.find_owned(room);
          if (!r) return;
          if (ec) {
            leave(owner, room, user, who);
            return delivery_.join_failed(who, room, errc::store_failed, ref);
          }
          // Only in a cluster: one node's store commits in seq order, so a hole there
          // is not one that fills.
          // The answer must also reach the ring, which starts at a seq the broker
          // sequenced: else the store lags it (the same in-flight commit).
          const std::uint64_t last = msgs.empty() ? from : msgs.back().seq;
          const bool lags = msgs.size() < limit && !r->log.covers_after(last);
          if (ctx_.broker && (has_hole(msgs, from, limit) || lags)) {
            if (attempt >= kResumeRereads) {
              spdlog::warn("room {}: the store still has a hole after seq {}: resume refused", room, from);
              leave(owner, room, user, who);
              return delivery_.join_failed(who, room, errc::unavailable, ref);
            }
            owner.metrics().resume_rereads.add();
            auto timer = std::make_shared<boost::asio::steady_timer>(owner.context(), kResumeReread);
            timer->async_wait([this, &owner, timer, room, user = std::move(user), who, ref = std::move(ref), from,
                               role = std::move(role), attempt](const boost::system::error_code&) mutable {
              resume_from_store(owner, room, std::move(user), who, std::move(ref), from, std::move(role), attempt + 1);
            });
            return;
          }
          const bool truncated = !msgs.empty() && msgs.front().seq > from + 1;
          finish_join(owner, *r, user, who, ref, from, std::move(msgs), truncated, role);
        });
      });
}

void RoomOwner::access_changed(const OwnedRoom& r, const std::string& user_id) {
  if (ctx_.broker) ctx_.broker->announce_access(r.id, user_id);
}

void RoomOwner::admit(Shard& owner, const std::string& room, std::string user, SessionRef who,
                      std::optional<std::uint64_t> since, std::string ref, JoinAuth auth) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r) return delivery_.join_failed(who, room, errc::no_such_room, ref);
  std::string password = std::exchange(auth.password, {});
  // Copied before the call: the callback below takes `auth`, and argument order is unspecified.
  const std::string address = auth.address, user_id = auth.user_id;
  ctx_.accounts.check_room_password(
      address, user_id, std::move(password), r->access.password_hash(),
      [this, &owner, room, user = std::move(user), who, since, ref = std::move(ref), auth = std::move(auth)](
          std::error_code ec, std::int64_t retry_ms, bool matches) mutable {
        owner.post([this, &owner, room, user = std::move(user), who, since, ref = std::move(ref),
                    auth = std::move(auth), ec, retry_ms, matches]() mutable {
          if (ec == errc::rate_limited)
            return delivery_.join_failed(who, room, errc::rate_limited, ref, "too many password attempts; wait",
                                         "\"retry_after_ms\":" + std::to_string(retry_ms));
          if (ec)
            return delivery_.join_failed(who, room, errc::overloaded, ref, "the server is busy; try again",
                                         "\"retry_after_ms\":" + std::to_string(retry_ms));
          if (!matches) {
            owner.metrics().access_denied.add();
            return delivery_.join_failed(who, room, errc::bad_password, ref);
          }
          const store::StoredMember member{auth.user_id, core::Role::member, ctx_.now_ms()};
          ctx_.store.set_member(room, member,
                                [this, &owner, room, user = std::move(user), who, since, ref = std::move(ref),
                                 auth = std::move(auth)](std::error_code ec) mutable {
                                  owner.post([this, &owner, room, user = std::move(user), who, since,
                                              ref = std::move(ref), auth = std::move(auth), ec]() mutable {
                                    OwnedRoom* r = owner.find_owned(room);
                                    if (!r) return delivery_.join_failed(who, room, errc::no_such_room, ref);
                                    if (ec) return delivery_.join_failed(who, room, errc::store_failed, ref);
                                    // Banned while the password was checked: the ban stands.
                                    if (r->access.banned(auth.user_id))
                                      return delivery_.join_failed(who, room, errc::forbidden, ref,
                                                                   "you are banned from this room");
                                    if (r->access.role_of(auth.user_id) == core::Role::none)
                                      r->access.set_role(auth.user_id, core::Role::member);
                                    access_changed(*r, auth.user_id);
                                    join(owner, room, std::move(user), who, since, std::move(ref), std::move(auth));
                                  });
                                });
        });
      });
}

void RoomOwner::finish_join(Shard& owner, OwnedRoom& r, std::string user, SessionRef who, const std::string& ref,
                            std::uint64_t since, std::vector<core::Message> from_store, bool truncated,
                            const std::string& role) {
  std::vector<core::EventPtr> gap;
  std::uint64_t last = since;
  for (const auto& m : from_store) {
    gap.push_back(std::make_shared<const std::string>(core::message_event(m)));
    last = m.seq;
  }
  if (!r.log.covers_after(last)) {
    // Rare: the ring moved past the store's answer while it was read. Read the rest.
    ctx_.store.read(r.id, last, 0, ctx_.options.limits.resume_limit,
                    [this, &owner, room = r.id, user, who, ref, since, truncated, role,
                     from_store = std::move(from_store)](std::error_code ec, std::vector<core::Message> more) mutable {
                      owner.post([this, &owner, room, user, who, ref, since, truncated, role, ec,
                                  from_store = std::move(from_store), more = std::move(more)]() mutable {
                        OwnedRoom* r = owner.find_owned(room);
                        if (!r) return;
                        if (ec) {
                          leave(owner, room, user, who);
                          return delivery_.join_failed(who, room, errc::store_failed, ref);
                        }
                        for (auto& m : more) from_store.push_back(std::move(m));
                        finish_join(owner, *r, user, who, ref, since, std::move(from_store), truncated, role);
                      });
                    });
    return;
  }
  for (auto& e : r.log.events_after(last)) gap.push_back(std::move(e));

  // The first page of members; the rest by `members` (a crowd's join is not a crowd-sized event).
  const std::size_t page = ctx_.limits().members_page;
  std::vector<std::string_view> members;
  members.reserve(std::min(page, r.presence.size()));
  r.presence.for_each_user([&members, page](const std::string& u) {
    if (members.size() < page) members.push_back(u);
  });
  std::string joined = protocol::joined_event(r.id, r.log.last_committed(), members, r.presence.size(), truncated, ref,
                                              role, r.access.is_private(), r.title, r.topic);
  // `members` shows every presence change so far: the session gets only the later ones of the
  // batch that is waiting (Delivery::flush_presence).
  if (!r.batch.lines.empty()) r.batch.late[who.id] = PresenceBatch::LateJoiner{who, r.batch.starts.size()};
  Outbox out(ctx_.shard_count());
  out.add(
      who.shard,
      ShardItem{ShardItem::Kind::join, r.id, nullptr, std::move(joined), who.id, std::move(gap), std::move(user), {}});
  delivery_.dispatch(out);
}

void RoomOwner::leave(Shard& owner, const std::string& room, const std::string& user, SessionRef who) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || r->state != OwnedRoom::State::ready) return;
  if (r->shard_members[who.shard] > 0) r->shard_members[who.shard]--;
  r->batch.late.erase(who.id);  // nothing more of the waiting batch for it
  Outbox out(ctx_.shard_count());
  presence_.remove(owner, *r, user, out);
  delivery_.dispatch(out);
  if (ctx_.broker) cluster_.maybe_unsubscribe(*r);
}

void RoomOwner::send(Shard& owner, core::Message m, SessionRef who, std::string ref) {
  const std::string room = m.room;
  rooms_.with_room(
      owner, room, [this, &owner, m = std::move(m), who, ref = std::move(ref)](OwnedRoom* r, errc missing) mutable {
        if (!r)
          return delivery_.reply_now(who, error_reply(missing, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
        if (r->state != OwnedRoom::State::ready)
          return delivery_.reply_now(who, error_reply(errc::store_failed, message_not_stored, ref,
                                                      ErrorContext{.room = m.room, .conn = who.id}));
        // The room's access decides here too: a send from a session whose user was
        // removed a moment ago (its shard has not taken it out yet) is not stored.
        if (!r->access.may(m.from_id, core::RoomAction::join)) {
          owner.metrics().access_denied.add();
          return delivery_.reply_now(who, error_reply(errc::forbidden, "not a member of this room", ref,
                                                      ErrorContext{.room = m.room, .conn = who.id}));
        }
        accept(owner, *r, std::move(m), who, std::move(ref));
      });
}

void RoomOwner::change(Shard& owner, core::Message m, SessionRef who, std::string ref, bool admin) {
  const std::string room = m.room;
  rooms_.with_room(
      owner, room,
      [this, &owner, m = std::move(m), who, ref = std::move(ref), admin](OwnedRoom* r, errc missing) mutable {
        auto fail = [&](errc code, std::string_view why) {
          delivery_.reply_now(who, error_reply(code, why, ref, ErrorContext{.room = m.room, .conn = who.id}));
        };
        if (!r) return fail(missing, {});
        if (r->state != OwnedRoom::State::ready) return fail(errc::store_failed, message_not_stored);
        if (!admin && !r->access.may(m.from_id, core::RoomAction::join)) {
          owner.metrics().access_denied.add();
          return fail(errc::forbidden, "not a member of this room");
        }
        // A retry (its cid seen) is answered as a send's is, whatever became of the message.
        if (!m.cid.empty() && r->log.find_cid(m)) return accept(owner, *r, std::move(m), who, std::move(ref));
        // Past what this node holds. On one node: no such message. In a cluster the ack (sent
        // after the commit) can reach the sender before the broker's copy reaches this node, and
        // an edit or a react at once names a seq not applied here yet: the store answers.
        if (m.target > r->log.last_committed() && !ctx_.broker) return fail(errc::no_such_message, {});
        if (const core::Message* t = r->log.find(m.target)) {
          core::Message acked;
          if (ctx_.broker) t = cluster_.as_acked(*r, t, acked);
          return decide_change(owner, *r, std::move(m), t, who, std::move(ref), admin);
        }
        // Older than the ring, or (a cluster) newer than what was applied here: the store has it as
        // it is now.
        const std::uint64_t seq = m.target;
        std::string room_id = m.room;  // before the callback takes m
        ctx_.store.read(
            std::move(room_id), seq - 1, seq + 1, 1,
            [this, &owner, m = std::move(m), who, ref = std::move(ref), admin](std::error_code ec,
                                                                               std::vector<core::Message> got) mutable {
              owner.post([this, &owner, m = std::move(m), who, ref = std::move(ref), admin, ec,
                          got = std::move(got)]() mutable {
                OwnedRoom* r = owner.find_owned(m.room);
                if (ec || !r || r->state != OwnedRoom::State::ready)
                  return delivery_.reply_now(
                      who, error_reply(errc::store_failed, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
                const core::Message* t = !got.empty() && got.front().seq == m.target ? &got.front() : nullptr;
                decide_change(owner, *r, std::move(m), t, who, std::move(ref), admin);
              });
            });
      });
}

void RoomOwner::decide_change(Shard& owner, OwnedRoom& r, core::Message m, const core::Message* target, SessionRef who,
                              std::string ref, bool admin) {
  const core::Role role = r.access.role_of(m.from_id);
  const bool moderator = admin || role == core::Role::moderator || role == core::Role::owner;
  switch (core::may_change(m.kind, core::sender_key(m), target, moderator)) {
    case core::ChangeRefusal::none:
      if (m.kind == core::MessageKind::react && target) {  // none: there is a target
        if (const std::string why = reaction_over_budget(*target, m); !why.empty()) {
          owner.metrics().reactions_refused.add();
          return delivery_.reply_now(
              who, error_reply(errc::too_many_reactions, why, ref, ErrorContext{.room = m.room, .conn = who.id}));
        }
      }
      return accept(owner, r, std::move(m), who, std::move(ref));
    case core::ChangeRefusal::no_such_message:
      return delivery_.reply_now(
          who, error_reply(errc::no_such_message, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
    case core::ChangeRefusal::deleted:
      return delivery_.reply_now(who,
                                 error_reply(errc::deleted, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
    case core::ChangeRefusal::forbidden:
      owner.metrics().access_denied.add();
      return delivery_.reply_now(who,
                                 error_reply(errc::forbidden,
                                             m.kind == core::MessageKind::edit
                                                 ? "only its author edits a message"
                                                 : "only its author, a moderator or the room's owner deletes a message",
                                             ref, ErrorContext{.room = m.room, .conn = who.id}));
  }
}

std::string RoomOwner::reaction_over_budget(const core::Message& target, const core::Message& react) const {
  // Against the message as committed: a react already there changes nothing and passes.
  const auto& limits = ctx_.options.limits;
  const std::string key = core::sender_key(react);
  std::size_t mine = 0;
  for (const core::Reaction& r : target.reactions)
    for (const core::Reactor& who : r.who)
      if (core::sender_key(who.from_id, who.from) == key) {
        if (r.emoji == react.text) return {};
        ++mine;
      }
  const bool new_emoji = std::none_of(target.reactions.begin(), target.reactions.end(),
                                      [&](const core::Reaction& r) { return r.emoji == react.text; });
  if (new_emoji && target.reactions.size() >= limits.max_reaction_emoji)
    return "the message has " + std::to_string(limits.max_reaction_emoji) + " different emoji, as many as it may";
  if (mine >= limits.max_reactions_per_user)
    return "you have " + std::to_string(limits.max_reactions_per_user) + " emoji on this message, as many as you may";
  return {};
}

void RoomOwner::accept(Shard& owner, OwnedRoom& room, core::Message m, SessionRef who, std::string ref) {
  OwnedRoom* r = &room;
  if (ctx_.broker) return cluster_.send(owner, *r, std::move(m), who, std::move(ref));
  if (auto hit = r->log.find_cid(m)) {
    // A cid already used for another text is not a retry: its sender would
    // believe the new text stored. A retry gets the original ack, nothing stored
    // twice.
    if (hit->text_hash != core::RoomLog::content_hash(m))
      return delivery_.reply_now(
          who, error_reply(errc::cid_conflict, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
    if (hit->seq <= r->log.last_committed())
      return delivery_.reply_now(who, protocol::ack_event(r->id, m.cid, hit->seq, hit->ts, ref));
    r->dup_acks.push_back(OwnedRoom::DupAck{hit->seq, hit->ts, who, m.cid, ref});
    return;
  }
  if (!ctx_.store.has_capacity())
    return delivery_.reply_now(who,
                               error_reply(errc::overloaded, {}, ref, ErrorContext{.room = m.room, .conn = who.id}));
  r->log.assign(m);
  owner.metrics().messages_in.add();
  owner.queue_append(PendingAppend{std::move(m), who, std::move(ref)});
}

void RoomOwner::submit_appends(Shard& owner, std::vector<PendingAppend> batch) {
  std::vector<core::Message> messages;
  messages.reserve(batch.size());
  for (const auto& p : batch) messages.push_back(p.message);
  auto held = std::make_shared<std::vector<PendingAppend>>(std::move(batch));
  ctx_.store.append(std::move(messages), [this, &owner, held](std::error_code ec) {
    owner.post([this, &owner, held, ec] { on_committed(owner, std::move(*held), ec); });
  });
}

void RoomOwner::on_committed(Shard& owner, std::vector<PendingAppend> batch, std::error_code ec) {
  Outbox out(ctx_.shard_count());
  if (ec == store::store_errc::seq_taken && ctx_.broker) {
    // A seq of this turn's was handed out twice (a broker failover while the commit was in
    // flight) and another message holds it; the rest of the batch is stored. Each message again
    // alone: the stored ones are found stored (success, acked), the one whose seq is taken is
    // published again under a new seq (ClusterSync::republish).
    if (batch.size() == 1) return cluster_.republish(owner, std::move(batch.front()));
    for (auto& p : batch) submit_appends(owner, {std::move(p)});
    return;
  }
  if (ec) {
    // At shutdown (or seq_taken on one node, which assigns its seqs itself: a bug): never acked,
    // never delivered; the client retries with the same cid.
    for (auto& p : batch)
      out.reply(p.who, error_reply(errc::store_failed, message_not_stored, p.ref,
                                   ErrorContext{.room = p.message.room, .conn = p.who.id}));
    return delivery_.dispatch(out);
  }
  const std::int64_t now = ctx_.clock().steady_ns();
  for (const auto& p : batch)
    if (p.message.arrived_ns > 0) owner.metrics().commit.observe_between(p.message.arrived_ns, now);
  if (ctx_.broker) {
    // Cluster: members got the message from the broker; the ack says it is durable.
    for (auto& p : batch) {
      if (p.message.kind != core::MessageKind::message)
        if (OwnedRoom* r = owner.find_owned(p.message.room)) cluster_.acked(*r, p.message);
      out.reply(p.who, protocol::ack_event(p.message.room, p.message.cid, p.message.seq, p.message.ts, p.ref));
      owner.metrics().messages_acked.add();
    }
    return delivery_.dispatch(out);
  }
  std::vector<OwnedRoom*> touched;
  for (auto& p : batch) {
    OwnedRoom* r = owner.find_owned(p.message.room);
    if (!r) continue;
    const std::string ack = protocol::ack_event(r->id, p.message.cid, p.message.seq, p.message.ts, p.ref);
    delivery_.broadcast_message(out, *r, r->log.commit(std::move(p.message)));
    out.reply(p.who, ack);
    owner.metrics().messages_acked.add();
    if (!r->dup_acks.empty() && std::find(touched.begin(), touched.end(), r) == touched.end()) touched.push_back(r);
  }
  for (OwnedRoom* r : touched) {
    auto& dups = r->dup_acks;
    const auto committed = r->log.last_committed();
    for (auto& d : dups)
      if (d.seq <= committed) out.reply(d.who, protocol::ack_event(r->id, d.cid, d.seq, d.ts, d.ref));
    dups.erase(std::remove_if(dups.begin(), dups.end(), [&](const auto& d) { return d.seq <= committed; }), dups.end());
  }
  delivery_.dispatch(out);
}

void RoomOwner::typing(Shard& owner, const std::string& room, const std::string& user, const std::string& user_id,
                       std::uint64_t from_session) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || r->state != OwnedRoom::State::ready) return;
  // Removed a moment ago (its session is being taken out): silently nothing, as typing is.
  if (!r->access.may(user_id, core::RoomAction::join)) return;
  Outbox out(ctx_.shard_count());
  delivery_.broadcast(out, *r, std::make_shared<const std::string>(protocol::typing_event(room, user)), from_session);
  delivery_.dispatch(out);
}

void RoomOwner::history(Shard& owner, const std::string& room, std::uint64_t before, std::size_t limit, SessionRef who,
                        std::string ref, std::string user_id) {
  rooms_.with_room(
      owner, room,
      [this, &owner, room, before, limit, who, ref = std::move(ref), user_id = std::move(user_id)](
          OwnedRoom* r, errc missing) mutable {
        if (!r) return delivery_.answer(who, error_reply(missing, {}, ref, ErrorContext{.room = room, .conn = who.id}));
        if (r->state != OwnedRoom::State::ready)
          return delivery_.answer(who,
                                  error_reply(errc::store_failed, {}, ref, ErrorContext{.room = room, .conn = who.id}));
        // Checked here, where access changes, and not only by the session's membership: a request
        // sent the moment its user was removed reads nothing.
        if (!r->access.may(user_id, core::RoomAction::join)) {
          owner.metrics().access_denied.add();
          return delivery_.answer(who, error_reply(errc::forbidden, "not a member of this room", ref,
                                                   ErrorContext{.room = room, .conn = who.id}));
        }
        auto respond = [this, who, room, ref](const std::vector<const core::Message*>& msgs) {
          std::vector<protocol::MessageFields> list;
          std::vector<std::string> reactions(msgs.size());  // the fields' reactions point into it
          list.reserve(msgs.size());
          for (std::size_t i = 0; i < msgs.size(); ++i) {
            if (!msgs[i]->reactions.empty()) reactions[i] = core::reactions_json(msgs[i]->reactions);
            list.push_back(core::fields(*msgs[i], reactions[i]));
          }
          delivery_.answer(who, protocol::history_event(room, list, !msgs.empty() && msgs.front()->seq > 1, ref));
        };
        // Only committed messages are history; the ring answers most pages without the store.
        const std::uint64_t upper =
            before == 0 || before > r->log.last_committed() ? r->log.last_committed() + 1 : before;
        if (auto hit = r->log.newest_before(upper, limit)) {
          if (!ctx_.broker || r->cluster.acked_ahead.empty()) return respond(*hit);
          // A cluster: as this node's clients were told, with its own changes acked and not yet
          // applied here (a delete acked a moment ago shows as a tombstone, not its text).
          std::deque<core::Message> acked;  // stable addresses for the page's pointers
          for (const core::Message*& m : *hit) {
            const core::Message* seen = cluster_.as_acked(*r, m, acked.emplace_back());
            if (seen == m) acked.pop_back();
            m = seen;
          }
          return respond(*hit);
        }
        ctx_.store.read(room, 0, upper, limit,
                        [&owner, respond, room, who, ref, this](std::error_code ec, std::vector<core::Message> msgs) {
                          owner.post([respond, ec, msgs = std::move(msgs), room, who, ref, this] {
                            if (ec)
                              return delivery_.answer(who, error_reply(errc::store_failed, {}, ref,
                                                                       ErrorContext{.room = room, .conn = who.id}));
                            std::vector<const core::Message*> ptrs;
                            for (const auto& m : msgs) ptrs.push_back(&m);
                            respond(ptrs);
                          });
                        });
      });
}

void RoomOwner::roster(Shard& owner, const std::string& room, const std::string& after, std::size_t limit,
                       SessionRef who, const std::string& ref, const std::string& user_id) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || r->state != OwnedRoom::State::ready)
    return delivery_.answer(who, error_reply(errc::no_such_room, {}, ref, ErrorContext{.room = room, .conn = who.id}));
  if (!r->access.may(user_id, core::RoomAction::join)) {
    owner.metrics().access_denied.add();
    return delivery_.answer(who, error_reply(errc::forbidden, "not a member of this room", ref,
                                             ErrorContext{.room = room, .conn = who.id}));
  }
  ctx_.store.load_roster(
      room, ctx_.limits().max_room_members,
      [this, &owner, room, after, limit, who, ref, user_id](std::error_code ec,
                                                            std::vector<store::StoredRosterEntry> rows) {
        owner.post([this, &owner, room, after, limit, who, ref, user_id, ec, rows = std::move(rows)] {
          OwnedRoom* r = owner.find_owned(room);
          if (!r || r->state != OwnedRoom::State::ready)
            return delivery_.answer(
                who, error_reply(errc::no_such_room, {}, ref, ErrorContext{.room = room, .conn = who.id}));
          if (ec)
            return delivery_.answer(
                who, error_reply(errc::store_failed, {}, ref, ErrorContext{.room = room, .conn = who.id}));
          // Removed while the store answered: the access here decides, as for every request.
          if (!r->access.may(user_id, core::RoomAction::join))
            return delivery_.answer(who, error_reply(errc::forbidden, "not a member of this room", ref,
                                                     ErrorContext{.room = room, .conn = who.id}));
          // Roles by name, as the room's access has them now (a row the store still had for a
          // user removed a moment ago is no member).
          std::unordered_map<std::string_view, core::Role> roles;
          for (const auto& row : rows)
            if (const auto role = r->access.role_of(row.user_id); role != core::Role::none)
              roles.emplace(row.name, role);
          auto role_of = [&roles](std::string_view name) {
            auto it = roles.find(name);
            return it == roles.end() ? std::string_view() : core::role_name(it->second);
          };
          // The cursor: "+name" (in the room: after name) or "-name" (the others: after name).
          const bool in_others = after.starts_with('-');
          const std::string_view from = after.empty() ? std::string_view() : std::string_view(after).substr(1);
          std::vector<protocol::RosterEntry> page;
          bool more = false;
          auto add = [&](std::string_view name, bool online) {
            if (page.size() < limit) {
              page.push_back(protocol::RosterEntry{name, role_of(name), online});
            } else {
              more = true;
            }
          };
          if (!in_others) {
            r->presence.for_each_user([&](const std::string& u) {
              if (!more && (from.empty() || u > from)) add(u, true);
            });
          }
          for (const auto& row : rows) {
            if (more) break;
            if (r->presence.contains(row.name) || !roles.contains(row.name)) continue;
            if (in_others && !from.empty() && row.name <= from) continue;
            add(row.name, false);
          }
          std::string next;
          if (more) next = std::string(page.back().online ? "+" : "-") + std::string(page.back().user);
          delivery_.answer(who, protocol::roster_event(room, page, next, ref));
        });
      });
}

void RoomOwner::members(Shard& owner, const std::string& room, const std::string& after, std::size_t limit,
                        SessionRef who, const std::string& ref, const std::string& user_id) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r || r->state != OwnedRoom::State::ready)
    return delivery_.answer(who, error_reply(errc::no_such_room, {}, ref, ErrorContext{.room = room, .conn = who.id}));
  if (!r->access.may(user_id, core::RoomAction::join)) {
    owner.metrics().access_denied.add();
    return delivery_.answer(who, error_reply(errc::forbidden, "not a member of this room", ref,
                                             ErrorContext{.room = room, .conn = who.id}));
  }
  std::vector<std::string_view> page;
  bool more = false;
  r->presence.for_each_user([&](const std::string& u) {
    if (u <= after) return;
    if (page.size() < limit)
      page.push_back(u);
    else
      more = true;
  });
  delivery_.answer(who, protocol::members_event(room, page, more ? page.back() : std::string_view(), ref));
}

}  // namespace parley::node
