#include "node/delivery.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "node/errors.hpp"
#include "node/requests.hpp"
#include "protocol/events.hpp"

namespace parley::node {

void Delivery::dispatch(Outbox& out) {
  auto& all = out.items();
  for (unsigned i = 0; i < all.size(); ++i) {
    if (all[i].empty()) continue;
    Shard& target = ctx_.shard(i);
    target.post([this, &target, items = std::move(all[i])]() mutable { apply(target, items); });
    all[i] = {};
  }
}

void Delivery::reply_now(SessionRef who, std::string event) {
  Shard& target = ctx_.shard(who.shard);
  target.post([&target, id = who.id, event = std::move(event)] {
    if (Client* s = target.find_client(id)) return s->send(event);
    target.answer_waiter(id, event);
  });
}

void Delivery::answer(SessionRef who, std::string event) {
  Shard& target = ctx_.shard(who.shard);
  target.post([&target, id = who.id, event = std::move(event)] {
    Client* s = target.find_client(id);
    if (!s) return static_cast<void>(target.answer_waiter(id, event));
    if (s->in_flight > 0) --s->in_flight;
    s->send(event);
  });
}

void Delivery::join_failed(SessionRef who, const std::string& room, protocol::errc code, const std::string& ref,
                           std::string_view message, std::string_view extra) {
  Outbox out(ctx_.shard_count());
  out.add(who.shard, ShardItem{ShardItem::Kind::join_failed,
                               room,
                               nullptr,
                               error_reply(code, message, ref, extra, ErrorContext{.room = room, .conn = who.id}),
                               who.id,
                               {},
                               {},
                               {}});
  dispatch(out);
}

void Delivery::broadcast(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except,
                         std::int64_t arrived_ns) {
  flush_presence(r, out);
  fan_out(out, r, event, except, arrived_ns);
}

void Delivery::fan_out(Outbox& out, OwnedRoom& r, const core::EventPtr& event, std::uint64_t except,
                       std::int64_t arrived_ns) {
  for (unsigned i = 0; i < r.shard_members.size(); ++i)
    if (r.shard_members[i] > 0) out.deliver(i, r.id, event, except, arrived_ns);
}

void Delivery::tell_created(const std::string& room, const std::string& by, std::uint64_t except,
                            const std::string& title, const std::string& topic) {
  auto event = std::make_shared<const std::string>(protocol::created_event(room, by, {}, false, false, title, topic));
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([shard, event, except] {
      shard->for_each_client([&](Client& s) {
        if (!s.user.empty() && s.id() != except) s.send(*event);
      });
    });
  }
}

void Delivery::tell_users(std::string event, std::vector<std::string> user_ids, std::uint64_t except) {
  auto shared = std::make_shared<const std::string>(std::move(event));
  auto ids = std::make_shared<const std::vector<std::string>>(std::move(user_ids));
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([shard, shared, ids, except] {
      shard->for_each_client([&](Client& s) {
        if (s.id() != except && !s.user_id.empty() && std::find(ids->begin(), ids->end(), s.user_id) != ids->end())
          s.send(*shared);
      });
    });
  }
}

void Delivery::tell_room(const std::string& room, std::string event) {
  auto shared = std::make_shared<const std::string>(std::move(event));
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([shard, room, shared] { shard->hub().deliver(room, *shared); });
  }
}

void Delivery::tell_deleted(const std::string& room, const std::string& by, std::uint64_t except,
                            std::shared_ptr<const core::RoomAccess> access) {
  auto event = std::make_shared<const std::string>(protocol::room_deleted_event(room, by));
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([shard, room, event, except, access] {
      std::vector<const Client*> in_room;
      for (hub::Member* m : shard->hub().remove_room(room)) {
        auto* c = static_cast<Client*>(m);
        std::erase_if(c->rooms, [&](const Client::JoinedRoom& j) { return j.room == room; });
        in_room.push_back(c);
      }
      shard->for_each_client([&](Client& s) {
        if (s.user.empty() || s.id() == except) return;
        if (access && access->is_private() && !access->may(s.user_id, core::RoomAction::see) &&
            std::find(in_room.begin(), in_room.end(), &s) == in_room.end())
          return;
        s.send(*event);
      });
    });
  }
}

void Delivery::announce_presence(Shard& owner, OwnedRoom& r, const std::string& user, bool joined, Outbox& out) {
  const std::size_t delay_ms = ctx_.options.rooms.presence_batch_ms;
  if (delay_ms == 0)
    return fan_out(out, r, std::make_shared<const std::string>(protocol::presence_event(r.id, user, joined)));
  PresenceBatch& b = r.batch;
  if (!b.lines.empty()) b.lines.push_back('\n');
  b.starts.push_back(b.lines.size());
  b.lines += protocol::presence_event(r.id, user, joined);
  if (b.queued) return;  // its batch is due already
  b.queued = true;
  auto& rooms = owner.presence_rooms();
  rooms.push_back(r.id);
  if (rooms.size() > 1) return;  // the timer is armed
  owner.presence_timer().expires_after(std::chrono::milliseconds(delay_ms));
  owner.presence_timer().async_wait([this, &owner](boost::system::error_code ec) {
    if (!ec) send_presence_batches(owner);
  });
}

void Delivery::flush_presence(OwnedRoom& r, Outbox& out) {
  // The room stays queued: what it announces from now until the timer goes waits for it.
  PresenceBatch& b = r.batch;
  if (b.lines.empty()) return;
  auto batch = std::make_shared<const std::string>(std::exchange(b.lines, {}));
  const auto starts = std::exchange(b.starts, {});
  const auto late = std::exchange(b.late, {});
  std::vector<std::vector<std::uint64_t>> skip(ctx_.shard_count());
  for (const auto& [id, j] : late) skip[j.who.shard].push_back(id);
  for (unsigned i = 0; i < r.shard_members.size(); ++i) {
    if (r.shard_members[i] == 0) continue;
    std::sort(skip[i].begin(), skip[i].end());
    out.add(i, ShardItem{ShardItem::Kind::batch, r.id, batch, {}, 0, {}, {}, std::move(skip[i])});
  }
  // After the batch, on the same shard: a late joiner's lines come after the events it was
  // skipped for.
  for (const auto& [id, j] : late)
    if (j.first_line < starts.size()) out.reply(j.who, batch->substr(starts[j.first_line]));
}

void Delivery::send_presence_batches(Shard& owner) {
  auto rooms = std::exchange(owner.presence_rooms(), {});
  Outbox out(ctx_.shard_count());
  for (const auto& id : rooms) {
    OwnedRoom* r = owner.find_owned(id);
    if (!r) continue;  // gone meanwhile, and its events with it
    r->batch.queued = false;
    flush_presence(*r, out);
  }
  dispatch(out);
}

// Applies the run of items from `first` that are deliveries to one room (for every member) or
// replies, as a committed batch makes them (message, ack, message, ack, ...); returns where the
// run ends. Each member gets the run's events as one shared buffer, queued once, not copied; the
// few sessions that replies go to get every item of the run in order, one by one. What each
// session receives, and in which order, is what applying the items one by one gives.
std::size_t Delivery::deliver_run(Shard& shard, std::vector<ShardItem>& items, std::size_t first) {
  const std::string& room = items[first].room;
  std::size_t end = first, events = 0, bytes = 0;
  std::vector<std::uint64_t> targets;
  for (; end < items.size(); ++end) {
    const ShardItem& it = items[end];
    if (it.kind == ShardItem::Kind::deliver && it.session == 0 && it.room == room) {
      ++events;
      bytes += it.event->size() + 1;
      shard.delivered(it.arrived_ns);
    } else if (it.kind == ShardItem::Kind::reply) {
      targets.push_back(it.session);
    } else {
      break;
    }
  }
  std::shared_ptr<const std::string> joined = items[first].event;
  if (events > 1) {
    auto all = std::make_shared<std::string>();
    all->reserve(bytes);
    for (std::size_t k = first; k < end; ++k) {
      if (items[k].kind != ShardItem::Kind::deliver) continue;
      if (!all->empty()) all->push_back('\n');
      all->append(*items[k].event);
    }
    joined = std::move(all);
  }
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  std::size_t delivered = events * shard.hub().deliver_shared(room, joined, targets);
  // The sessions replies go to: every item in order, the deliveries too if they are members.
  std::vector<Client*> members;
  for (std::uint64_t id : targets)
    if (Client* s = shard.find_client(id); s && shard.hub().contains(room, s)) members.push_back(s);
  for (std::size_t k = first; k < end; ++k) {
    ShardItem& it = items[k];
    if (it.kind == ShardItem::Kind::deliver) {
      for (Client* s : members) s->send(*it.event);
      delivered += members.size();
    } else if (Client* s = shard.find_client(it.session)) {
      s->send(it.text);
    } else {
      shard.answer_waiter(it.session, it.text);
    }
  }
  shard.metrics().deliveries.add(delivered);
  return end;
}

void Delivery::apply(Shard& shard, std::vector<ShardItem>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    ShardItem& item = items[i];
    switch (item.kind) {
      case ShardItem::Kind::deliver:
        if (item.session == 0) {
          i = deliver_run(shard, items, i) - 1;
          break;
        }
        shard.metrics().deliveries.add(shard.hub().deliver(item.room, *item.event, item.session));
        shard.delivered(item.arrived_ns);
        break;
      case ShardItem::Kind::reply:
        if (Client* s = shard.find_client(item.session)) {
          s->send(item.text);
        } else {
          shard.answer_waiter(item.session, item.text);  // a server API request's
        }
        break;
      case ShardItem::Kind::batch: {
        const auto events = static_cast<std::size_t>(std::count(item.event->begin(), item.event->end(), '\n')) + 1;
        shard.metrics().deliveries.add(events * shard.hub().deliver_shared(item.room, item.event, item.skip));
        break;
      }
      case ShardItem::Kind::join: requests_->joined(shard, item); break;
      case ShardItem::Kind::join_failed: requests_->join_refused(shard, item); break;
    }
  }
}

}  // namespace parley::node
