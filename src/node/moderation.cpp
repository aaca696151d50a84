#include "node/moderation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "node/delivery.hpp"
#include "node/errors.hpp"
#include "node/room_directory.hpp"
#include "node/room_owner.hpp"
#include "protocol/events.hpp"

namespace parley::node {

using core::Role;
using core::RoomAction;
using protocol::errc;
using protocol::RequestType;

void Moderation::answer(const Actor& a, std::string event) { delivery_.answer(a.who, std::move(event)); }

void Moderation::refuse(const Actor& a, errc code, std::string_view message) {
  // On the room's owner shard (apply's callbacks), whose counters these are.
  if (code == errc::forbidden && a.owner) a.owner->metrics().access_denied.add();
  delivery_.answer(a.who, error_reply(code, message, a.ref, ErrorContext{.user = a.user_id, .conn = a.who.id}));
}

void Moderation::apply(Shard& owner, const protocol::Request& req, Actor actor, std::string target_id,
                       std::string target_name) {
  actor.owner = &owner;
  const RequestType type = req.type;
  const bool ban = req.ban;
  std::string role_text = req.role;
  rooms_.with_room(
      owner, req.room,
      [this, &owner, type, ban, role_text = std::move(role_text), actor = std::move(actor),
       target_id = std::move(target_id), target_name = std::move(target_name)](OwnedRoom* r, errc missing) mutable {
        if (!r) return refuse(actor, missing);
        if (r->state != OwnedRoom::State::ready) return refuse(actor, errc::store_failed);
        core::RoomAccess& access = r->access;
        // A stranger to a private room learns nothing of it: the same answer whatever it asks.
        if (!access.may(actor.user_id, RoomAction::see))
          return refuse(actor, errc::forbidden, "not a member of this room");
        const std::string room = r->id;
        const auto now = ctx_.now_ms();
        // The store first, then the room's access and the answers: nothing is granted that a restart
        // would take back.
        switch (type) {
          case RequestType::invite: {
            if (!access.may(actor.user_id, RoomAction::invite))
              return refuse(actor, errc::forbidden,
                            access.is_direct()    ? "a direct conversation has its two members only"
                            : access.is_private() ? "only a member can invite"
                                                  : "a public room needs no invitation");
            if (access.banned(target_id)) return refuse(actor, errc::forbidden, "that user is banned from this room");
            if (access.role_of(target_id) != Role::none)
              return answer(actor, protocol::invited_event(room, target_name, actor.ref));
            if (access.rows() >= ctx_.limits().max_room_members)
              return refuse(actor, errc::forbidden, "the room has as many members as it may have");
            ctx_.store.set_member(room, store::StoredMember{target_id, Role::member, now},
                                  [this, &owner, room, actor, target_id, target_name](std::error_code ec) {
                                    owner.post([this, &owner, room, actor, target_id, target_name, ec] {
                                      OwnedRoom* r = owner.find_owned(room);
                                      if (!r || ec) return refuse(actor, r ? errc::store_failed : errc::no_such_room);
                                      const bool fresh =
                                          r->access.role_of(target_id) == Role::none && !r->access.banned(target_id);
                                      if (fresh) r->access.set_role(target_id, Role::member);
                                      owner_.access_changed(*r, target_id);
                                      answer(actor, protocol::invited_event(room, target_name, actor.ref));
                                      // The invitee's open sessions list the room at once (on other
                                      // nodes: on_access_changed).
                                      if (fresh) tell_invited(room, target_id, actor.name);
                                    });
                                  });
            return;
          }
          case RequestType::remove: {
            // Oneself: leaving for good (a private room's member gives up its place; a public
            // room's moderator its role). The owner stays (a room keeps its owner: delete it
            // instead); a conversation keeps its two.
            if (target_id == actor.user_id) {
              if (access.is_direct() || ban || access.role_of(actor.user_id) == Role::none)
                return refuse(actor, errc::forbidden, "you hold no place here to give up");
              if (access.role_of(actor.user_id) == Role::owner)
                return refuse(actor, errc::forbidden, "the owner cannot leave the room: delete it instead");
            } else if (!access.may_act_on(actor.user_id, target_id, RoomAction::remove)) {
              return refuse(actor, errc::forbidden,
                            "only the owner and moderators remove members, and not one of their own role or higher");
            }
            if (ban && access.is_new(target_id) && access.rows() >= ctx_.limits().max_room_members)
              return refuse(actor, errc::forbidden, "the room holds as many members and bans as it may");
            ctx_.store.remove_member(
                room, target_id, ban, [this, &owner, room, actor, target_id, target_name, ban](std::error_code ec) {
                  owner.post([this, &owner, room, actor, target_id, target_name, ban, ec] {
                    OwnedRoom* r = owner.find_owned(room);
                    if (!r || ec) return refuse(actor, r ? errc::store_failed : errc::no_such_room);
                    if (ban) {
                      r->access.ban(target_id);
                    } else {
                      r->access.set_role(target_id, Role::none);
                    }
                    owner_.access_changed(*r, target_id);
                    answer(actor, protocol::removed_event(room, target_name, actor.name, ban, actor.ref));
                    take_out(room, target_id, protocol::removed_event(room, target_name, actor.name, ban, {}));
                  });
                });
            return;
          }
          case RequestType::unban: {
            if (!access.may(actor.user_id, RoomAction::remove))
              return refuse(actor, errc::forbidden, "only the owner and moderators lift bans");
            ctx_.store.unban(room, target_id, [this, &owner, room, actor, target_id, target_name](std::error_code ec) {
              owner.post([this, &owner, room, actor, target_id, target_name, ec] {
                OwnedRoom* r = owner.find_owned(room);
                if (!r || ec) return refuse(actor, r ? errc::store_failed : errc::no_such_room);
                r->access.unban(target_id);
                owner_.access_changed(*r, target_id);
                answer(actor, protocol::unbanned_event(room, target_name, actor.ref));
              });
            });
            return;
          }
          case RequestType::set_role: {
            const auto role = core::parse_role(role_text);
            if (!role || *role == Role::owner)
              return refuse(actor, errc::bad_request, "role must be \"moderator\" or \"member\"");
            if (!access.may_act_on(actor.user_id, target_id, RoomAction::set_role))
              return refuse(actor, errc::forbidden, "only the owner changes roles");
            if (access.banned(target_id)) return refuse(actor, errc::forbidden, "that user is banned from this room");
            if (access.is_private() && access.role_of(target_id) == Role::none)
              return refuse(actor, errc::forbidden, "not a member of this room: invite them first");
            if (access.is_new(target_id) && access.rows() >= ctx_.limits().max_room_members)
              return refuse(actor, errc::forbidden, "the room holds as many members and bans as it may");
            const Role want = *role;
            ctx_.store.set_member(room, store::StoredMember{target_id, want, now},
                                  [this, &owner, room, actor, target_id, target_name, want](std::error_code ec) {
                                    owner.post([this, &owner, room, actor, target_id, target_name, want, ec] {
                                      OwnedRoom* r = owner.find_owned(room);
                                      if (!r || ec) return refuse(actor, r ? errc::store_failed : errc::no_such_room);
                                      if (!r->access.banned(target_id)) r->access.set_role(target_id, want);
                                      owner_.access_changed(*r, target_id);
                                      answer(actor,
                                             protocol::role_event(room, target_name, core::role_name(want), actor.ref));
                                    });
                                  });
            return;
          }
          default: return refuse(actor, errc::bad_request);
        }
      });
}

void Moderation::configure(Shard& owner, const protocol::Request& req, Actor actor) {
  actor.owner = &owner;
  rooms_.with_room(owner, req.room, [this, &owner, req, actor = std::move(actor)](OwnedRoom* r, errc missing) mutable {
    if (!r) return refuse(actor, missing);
    if (r->state != OwnedRoom::State::ready) return refuse(actor, errc::store_failed);
    if (!r->access.may(actor.user_id, RoomAction::see))
      return refuse(actor, errc::forbidden, "not a member of this room");
    if (!r->access.may(actor.user_id, RoomAction::configure))
      return refuse(actor, errc::forbidden,
                    r->access.is_direct() ? "a direct conversation has no owner"
                                          : "only the room's owner renames it, sets its topic or deletes it");
    const std::string room = r->id;
    if (req.type == RequestType::delete_room) {
      // The operator's path (RoomDirectory::remove): the same refusals, on every node of a cluster, and
      // every session that may see the room hears room_deleted, the owner's with its ref.
      const std::string by = actor.name;
      return rooms_.remove(
          owner, room,
          [this, room, actor](std::error_code ec, const std::string& message) {
            if (ec) return refuse(actor, static_cast<errc>(ec.value()), message);
            answer(actor, protocol::room_deleted_event(room, actor.name, actor.ref));
          },
          by, actor.who.id);
    }
    std::string title = req.title.value_or(r->title), topic = req.topic.value_or(r->topic);
    ctx_.store.set_room_info(room, title, topic, [this, &owner, room, title, topic, actor](std::error_code ec) {
      owner.post([this, &owner, room, title, topic, actor, ec] {
        OwnedRoom* r = owner.find_owned(room);
        if (!r || ec) return refuse(actor, r ? errc::store_failed : errc::no_such_room);
        r->title = title;
        r->topic = topic;
        // The room's members here hear it (the owner with its ref, not twice); other nodes read
        // the room again and tell theirs (an access announcement without a user).
        Outbox out(ctx_.shard_count());
        delivery_.broadcast(
            out, *r,
            std::make_shared<const std::string>(protocol::room_updated_event(room, title, topic, actor.name, {})),
            actor.who.id);
        delivery_.dispatch(out);
        if (ctx_.broker) ctx_.broker->announce_access(room, {});
        answer(actor, protocol::room_updated_event(room, title, topic, actor.name, actor.ref));
      });
    });
  });
}

void Moderation::on_access_changed(Shard& owner, const std::string& room, const std::string& user_id) {
  OwnedRoom* r = owner.find_owned(room);
  if (!r) return;
  if (user_id.empty()) {
    // The title or topic: read again, and told to the members here as they are now.
    return rooms_.refresh_access(owner, room, [this, room](OwnedRoom* r) {
      if (!r) return;
      Outbox out(ctx_.shard_count());
      delivery_.broadcast(
          out, *r, std::make_shared<const std::string>(protocol::room_updated_event(room, r->title, r->topic, {}, {})));
      delivery_.dispatch(out);
    });
  }
  // A member now who was none before (as far as this node knew: a room whose access it had not
  // read yet tells nobody) has been invited, or joined with the password elsewhere.
  const bool was_member = !r->access_known || r->access.role_of(user_id) != Role::none;
  rooms_.refresh_access(owner, room, [this, room, user_id, was_member](OwnedRoom* r) {
    if (r && !was_member && r->access.kind() == core::RoomKind::private_room &&
        r->access.role_of(user_id) != Role::none)
      return tell_invited(room, user_id, {});
    if (!r || r->access.may(user_id, RoomAction::join)) return;
    const bool banned = r->access.banned(user_id);
    take_out_where(
        room, [user_id](const Client& s) { return s.user_id == user_id; },
        [room, banned](const Client& s) { return protocol::removed_event(room, s.user, {}, banned, {}); });
  });
}

void Moderation::recheck_all(Shard& owner) {
  std::vector<std::string> rooms;
  for (const auto& [id, r] : owner.owned())
    if (r->local_members() > 0) rooms.push_back(id);
  for (const auto& room : rooms) {
    rooms_.refresh_access(owner, room, [this, room](OwnedRoom* r) {
      if (r) take_out_unwelcome(room, r->access);
    });
  }
}

void Moderation::tell_invited(const std::string& room, const std::string& user_id, const std::string& by) {
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([shard, room, user_id, by] {
      shard->for_each_client([&](Client& s) {
        if (s.user_id == user_id) s.send(protocol::invited_event(room, s.user, {}, by));
      });
    });
  }
}

void Moderation::take_out(const std::string& room, const std::string& user_id, std::string event) {
  take_out_where(
      room, [user_id](const Client& s) { return s.user_id == user_id; },
      [event = std::move(event)](const Client&) { return event; });
}

void Moderation::take_out_unwelcome(const std::string& room, const core::RoomAccess& access) {
  auto snapshot = std::make_shared<const core::RoomAccess>(access);
  take_out_where(
      room, [snapshot](const Client& s) { return !snapshot->may(s.user_id, RoomAction::join); },
      [room, snapshot](const Client& s) {
        return protocol::removed_event(room, s.user, {}, snapshot->banned(s.user_id), {});
      });
}

void Moderation::take_out_where(const std::string& room, std::function<bool(const Client&)> which,
                                std::function<std::string(const Client&)> event) {
  auto which_shared = std::make_shared<const std::function<bool(const Client&)>>(std::move(which));
  auto event_shared = std::make_shared<const std::function<std::string(const Client&)>>(std::move(event));
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([this, shard, room, which_shared, event_shared] {
      std::vector<Client*> out;
      shard->for_each_client([&](Client& s) {
        if (s.find_room(room) && (*which_shared)(s)) out.push_back(&s);
      });
      for (Client* s : out) {
        shard->hub().remove(room, s);
        std::erase_if(s->rooms, [&](const Client::JoinedRoom& j) { return j.room == room; });
        s->send((*event_shared)(*s));
        shard->metrics().removed_sessions.add();
        Shard& owner = ctx_.owner_of(room);
        owner.post([this, &owner, room, user = s->user, who = SessionRef{shard->index(), s->id()}] {
          owner_.leave(owner, room, user, who);
        });
      }
    });
  }
}

}  // namespace parley::node
