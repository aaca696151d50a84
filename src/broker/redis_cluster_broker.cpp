#include "broker/redis_cluster_broker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>
#include <future>

#include "broker/redis_broker.hpp"
#include "broker/redis_slots.hpp"
#include "protocol/errc.hpp"

namespace parley::broker {

namespace {

std::error_code unavailable() { return protocol::errc::unavailable; }

}  // namespace

struct RedisClusterBroker::Shard {
  Shard(boost::asio::io_context& ctx, const RedisOptions& o, std::string a) : client(ctx, o), addr(std::move(a)) {}
  RedisClient client;
  std::string addr;
};

// A command or a script call, kept so that a MOVED or ASK reply can send it again elsewhere.
struct RedisClusterBroker::Request {
  const RedisScript* script = nullptr;  // null: a command
  std::vector<std::string> keys;        // the script's keys
  std::vector<std::string> args;        // the command, or the script's arguments
  std::string route;                    // the key whose slot picks the shard
  // A publish: its floor was computed for the Redis the slot map named, so never sent to another
  // (a MOVED reply, a shard dropped by a failover): it fails with unavailable instead.
  bool pinned = false;
  RedisClient::Callback done;
  int redirects = 0;
};

RedisClusterBroker::RedisClusterBroker(RedisClusterBrokerOptions options)
    : options_(std::move(options)),
      guard_(boost::asio::make_work_guard(ctx_)),
      publish_script_(detail::publish_lua()),
      presence_script_(detail::cluster_presence_lua()),
      slot_owner_(kClusterSlots, kNone),
      slot_node_(kClusterSlots),
      slot_epoch_(std::make_unique<std::atomic<std::uint64_t>[]>(kClusterSlots)),
      refresh_timer_(ctx_),
      replace_timer_(ctx_) {
  if (options_.seeds.empty()) throw std::invalid_argument("broker.redis_cluster_seeds: no seed node");
  for (const auto& s : options_.seeds) {
    RedisOptions o;
    if (!parse_host_port(s, o)) throw std::invalid_argument("broker.redis_cluster_seeds: bad host:port '" + s + "'");
  }
  if (options_.node_id.empty()) options_.node_id = detail::random_node_id();
}

RedisClusterBroker::~RedisClusterBroker() {
  try {
    stop();
  } catch (const std::exception& e) {  // a promise or a thread that failed: nothing to do but say so
    spdlog::error("broker: stopping the cluster broker failed: {}", e.what());
  }
  guard_.reset();
  if (thread_.joinable()) {
    ctx_.stop();
    thread_.join();
  }
  shards_.clear();  // before ctx_: the clients post their last work to it
}

std::string RedisClusterBroker::key(const std::string& room, const char* what) const {
  return options_.prefix + ":{" + room + "}:" + what;
}

std::string RedisClusterBroker::global(const char* what) const {
  return options_.prefix + ":{" + options_.prefix + "}:" + what;
}

void RedisClusterBroker::start() {
  if (started_.exchange(true)) return;
  boost::asio::post(ctx_, [this] {
    refresh();
    want(global("rooms"), {});
    want(global("control"), {});
    schedule_refresh();
  });
  start_heartbeat();
  thread_ = std::thread([this] { ctx_.run(); });
}

void RedisClusterBroker::stop() {
  if (!started_.exchange(false)) return;
  presence_goodbye();  // a drain: this node's members leave now
  std::promise<void> done;
  boost::asio::post(ctx_, [this, &done] {
    stopped_ = true;
    refresh_timer_.cancel();
    replace_timer_.cancel();
    for (auto& [addr, s] : shards_) s->client.stop();
    for (auto& r : waiting_) r->done(redis_errc::stopped, {});
    waiting_.clear();
    ready_ = false;
    done.set_value();
  });
  done.get_future().wait();
}

void RedisClusterBroker::abandon() {
  if (!started_.exchange(false)) return;
  std::promise<void> done;
  boost::asio::post(ctx_, [this, &done] {
    stop_beat();
    stopped_ = true;
    refresh_timer_.cancel();
    replace_timer_.cancel();
    for (auto& [addr, s] : shards_) s->client.stop();
    ready_ = false;
    done.set_value();
  });
  done.get_future().wait();
}

// ---- shards and routing ----

RedisClusterBroker::Shard& RedisClusterBroker::shard(const std::string& addr) {
  auto it = shards_.find(addr);
  if (it != shards_.end()) return *it->second;
  RedisOptions o = options_.redis;
  if (!parse_host_port(addr, o)) o.port = 0;  // a bad address from the cluster: it never connects
  o.sharded_pubsub = true;
  auto s = std::make_unique<Shard>(ctx_, o, addr);
  Shard& ref = *s;
  ref.client.load_on_connect(publish_script_);
  ref.client.load_on_connect(presence_script_);
  ref.client.set_state_handler([this](bool up) {
    if (!up) refresh();  // a failover: the replica is promoted within the cluster's node timeout
    on_shard_state();
  });
  ref.client.set_subscriber_state_handler([this, addr](bool up) {
    on_shard_state();
    if (!up) {
      // Subscribed again on the next connection, each SSUBSCRIBE answered anew.
      for (auto& [ch, sub] : subs_)
        if (sub.addr == addr) sub.confirmed = false;
      return;
    }
    // Announcements published while the subscriber was down (or not yet up) are lost: re-read.
    if (auto it2 = subs_.find(global("rooms")); it2 != subs_.end() && it2->second.addr == addr) replay_rooms();
    // Up means this shard's channels are subscribed again: what was missed is in the logs.
    if (ready() && handler_) handler_->on_state(true);
  });
  ref.client.set_message_handler(
      [this](std::string_view ch, std::string_view payload) { on_channel_message(ch, payload); });
  ref.client.set_lost_handler([this, addr](const std::string& ch) { on_lost(addr, ch); });
  if (!stopped_) ref.client.start();
  shards_.emplace(addr, std::move(s));
  return ref;
}

RedisClusterBroker::Shard* RedisClusterBroker::owner(std::uint16_t slot) {
  const auto i = slot_owner_[slot];
  return i == kNone ? nullptr : &shard(primaries_[i]);
}

void RedisClusterBroker::send(std::shared_ptr<Request> r) {
  if (stopped_) return r->done(redis_errc::stopped, {});
  if (!map_known_) {
    if (waiting_.size() >= options_.max_waiting) return r->done(redis_errc::queue_full, {});
    waiting_.push_back(std::move(r));
    return;
  }
  Shard* s = owner(key_slot(r->route));
  if (s == nullptr) return r->done(redis_errc::not_connected, {});  // a slot no primary serves
  dispatch(*s, r, false);
}

void RedisClusterBroker::dispatch(Shard& s, const std::shared_ptr<Request>& r, bool asking) {
  auto cb = [this, r](std::error_code ec, RedisReply reply) { on_reply(r, ec, std::move(reply)); };
  if (!r->script) {
    if (asking) return s.client.command_asking(r->args, std::move(cb));
    return s.client.command(r->args, std::move(cb));
  }
  if (!asking) return s.client.eval_script(*r->script, r->keys, r->args, std::move(cb));
  // ASKING holds for the next command only: EVAL with the source, in case the target lacks it.
  std::vector<std::string> argv{"EVAL", r->script->source(), std::to_string(r->keys.size())};
  argv.insert(argv.end(), r->keys.begin(), r->keys.end());
  argv.insert(argv.end(), r->args.begin(), r->args.end());
  s.client.command_asking(argv, std::move(cb));
}

void RedisClusterBroker::on_reply(const std::shared_ptr<Request>& r, std::error_code ec, RedisReply reply) {
  // Three redirections at most (a MOVED, then an ASK during a migration ...): then the error stands.
  if (ec == redis_errc::server_error && !stopped_ && r->redirects < 3) {
    if (auto red = parse_redirect(reply.str)) {
      ++r->redirects;
      if (!red->ask) refresh();  // the map is stale
      // An ASK is a migration under way: the room's keys move whole, its counter with them.
      if (!red->ask && r->pinned) return r->done(unavailable(), {});
      return dispatch(shard(red->target), r, red->ask);
    }
  }
  // Its shard's client was dropped (no longer a primary: a failover) while the broker runs: sent
  // again where the new map says. Safe to repeat: the scripts are deduplicated (cid, op counter),
  // the commands idempotent or, for the announcements, harmless twice. Not a publish (pinned).
  if (ec == redis_errc::stopped && !stopped_ && r->pinned) return r->done(unavailable(), {});
  if (ec == redis_errc::stopped && !stopped_ && r->redirects < 3) {
    ++r->redirects;
    return send(r);
  }
  r->done(ec, std::move(reply));
}

void RedisClusterBroker::command(std::vector<std::string> args, RedisClient::Callback done) {
  auto r = std::make_shared<Request>();
  r->route = args.size() > 1 ? args[1] : std::string{};
  r->args = std::move(args);
  r->done = std::move(done);
  send(std::move(r));
}

void RedisClusterBroker::eval(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
                              RedisClient::Callback done) {
  auto r = std::make_shared<Request>();
  r->script = &script;
  r->route = keys.at(0);
  r->keys = std::move(keys);
  r->args = std::move(args);
  r->done = std::move(done);
  send(std::move(r));
}

// ---- the slot map ----

void RedisClusterBroker::schedule_refresh() {
  refresh_timer_.expires_after(std::chrono::milliseconds(options_.refresh_ms));
  refresh_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    refresh();
    schedule_refresh();
  });
}

void RedisClusterBroker::refresh() {
  if (stopped_) return;
  if (refreshing_) {
    refresh_again_ = true;
    return;
  }
  refreshing_ = true;
  // A connected primary knows the map as well as a seed; the seeds are for the start and for a
  // cluster whose every known primary is gone.
  Shard* from = nullptr;
  for (const auto& p : primaries_)
    if (auto it = shards_.find(p); it != shards_.end() && it->second->client.connected()) {
      from = it->second.get();
      break;
    }
  if (from == nullptr) from = &shard(options_.seeds[next_seed_++ % options_.seeds.size()]);
  from->client.command({"CLUSTER", "SLOTS"},
                       detail::bounded(ctx_, options_.request_timeout_ms,
                                       [this, addr = from->addr](std::error_code ec, const RedisReply& reply) {
                                         on_slots(addr, ec, reply);
                                       }));
}

void RedisClusterBroker::on_slots(const std::string& from, std::error_code ec, const RedisReply& reply) {
  refreshing_ = false;
  if (stopped_) return;
  const auto colon = from.rfind(':');
  auto ranges = ec ? std::nullopt : parse_cluster_slots(reply, from.substr(0, colon));
  if (!ranges || ranges->empty()) {
    spdlog::warn("broker: no slot map from {}: {}", from, ec ? ec.message() : reply.str);
    ++next_seed_;  // retried at the refresh timer's next tick, on the next seed if no primary is connected
    refresh_again_ = false;
    return;
  }
  std::vector<std::uint16_t> owner_of(kClusterSlots, kNone);
  std::vector<std::string> primaries;
  std::size_t changed = 0;
  for (const auto& r : *ranges) {
    auto it = std::find(primaries.begin(), primaries.end(), r.primary);
    const auto index = static_cast<std::uint16_t>(it - primaries.begin());
    if (it == primaries.end()) primaries.push_back(r.primary);
    for (std::uint32_t slot = r.first; slot <= r.last; ++slot) {
      owner_of[slot] = index;
      if (map_known_ && slot_node_[slot] != r.node_id) {
        ++changed;
        // Before this map routes anything: a publish checks its epoch when it is dispatched.
        slot_epoch_[slot].fetch_add(1, std::memory_order_acq_rel);
      }
      slot_node_[slot] = r.node_id;
    }
  }
  if (changed > 0) {
    primary_changes_.fetch_add(changed, std::memory_order_relaxed);
    spdlog::warn("broker: {} slot(s) changed primary (a failover or a migration); {} primaries now", changed,
                 primaries.size());
  }
  slot_owner_ = std::move(owner_of);
  primaries_ = std::move(primaries);
  const bool first = !map_known_;
  map_known_ = true;
  // A node that is no longer a primary (failed over, or a seed that is a replica) is dropped: what
  // was queued for it fails with `stopped` and is sent again by on_reply; its channels are placed
  // on their new shard below.
  for (auto it = shards_.begin(); it != shards_.end();) {
    if (std::find(primaries_.begin(), primaries_.end(), it->first) != primaries_.end()) {
      ++it;
      continue;
    }
    for (auto& [ch, sub] : subs_)
      if (sub.addr == it->first) sub.addr.clear();
    it = shards_.erase(it);
  }
  for (const auto& p : primaries_) shard(p);  // connect to every primary
  for (auto& [ch, sub] : subs_) place(ch, sub, false);
  if (first) {
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& r : waiting) send(std::move(r));
  }
  on_shard_state();
  if (refresh_again_) {
    refresh_again_ = false;
    refresh();
  }
}

// ---- subscriptions ----

void RedisClusterBroker::want(const std::string& channel, std::function<void(std::error_code)> done) {
  if (stopped_) {
    if (done) done(redis_errc::stopped);
    return;
  }
  auto& sub = subs_[channel];
  const bool force = static_cast<bool>(done);
  if (done) sub.dones.push_back(std::move(done));
  place(channel, sub, force);
}

void RedisClusterBroker::place(const std::string& channel, Sub& sub, bool force) {
  if (!map_known_) return;  // placed when the map arrives
  const auto i = slot_owner_[key_slot(channel)];
  if (i == kNone) return;  // placed when a primary serves the slot again
  const std::string& addr = primaries_[i];
  if (sub.addr == addr && !force) return;
  if (auto old = shards_.find(sub.addr); old != shards_.end() && sub.addr != addr) {
    old->second->client.unsubscribe(channel);
    spdlog::info("broker: channel {} moves from {} to {}", channel, sub.addr, addr);
  }
  sub.addr = addr;
  sub.confirmed = false;
  const auto gen = ++sub.gen;
  shard(addr).client.subscribe(channel, [this, channel, gen](std::error_code ec) { on_subscribed(channel, gen, ec); });
}

void RedisClusterBroker::on_subscribed(const std::string& channel, std::uint64_t gen, std::error_code ec) {
  auto it = subs_.find(channel);
  if (it == subs_.end() || it->second.gen != gen) return;  // unsubscribed, or placed again since
  // Moved away from that shard (not our unsubscribe, which erased it): the new place answers.
  if (ec == std::make_error_code(std::errc::operation_canceled)) return;
  if (!ec) it->second.confirmed = true;
  auto dones = std::move(it->second.dones);
  it->second.dones.clear();
  for (auto& d : dones) d(ec);
}

void RedisClusterBroker::on_lost(const std::string& addr, const std::string& channel) {
  if (!channel.empty()) {
    spdlog::info("broker: {} ended the subscription of {} (its slot moved)", addr, channel);
    if (auto it = subs_.find(channel); it != subs_.end() && it->second.addr == addr) it->second.addr.clear();
    return refresh();  // then every wanted channel is placed where its slot lives now
  }
  // A refused SSUBSCRIBE (MOVED, TRYAGAIN, CLUSTERDOWN): that shard does not serve the channel's
  // slot although the map said so. Seen in a reshard: the map was read from a node that knew the
  // slot's new owner before the owner itself did (still importing, it answers MOVED to the old
  // one); the next map names the same shard, so placing again there would do nothing and the
  // channel would stay unsubscribed. The reply does not name its channel, and the link forgot
  // every SSUBSCRIBE it had not seen confirmed: each of those channels leaves that shard here and
  // is placed again from a map read a moment later (not at once: until the cluster agrees, the
  // same shard may refuse again).
  std::size_t again = 0;
  auto s = shards_.find(addr);
  for (auto& [ch, sub] : subs_) {
    if (sub.addr != addr || sub.confirmed) continue;
    if (s != shards_.end()) s->second->client.unsubscribe(ch);
    sub.addr.clear();
    ++again;
  }
  spdlog::info("broker: {} refused a subscription (its slot is served elsewhere now); {} channel(s) to place again",
               addr, again);
  replace_timer_.expires_after(std::chrono::milliseconds(100));
  replace_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) refresh();
  });
}

void RedisClusterBroker::on_shard_state() {
  bool up = map_known_ && !stopped_;
  std::set<std::string> with_channels;
  for (const auto& [ch, sub] : subs_)
    if (!sub.addr.empty()) with_channels.insert(sub.addr);
  for (const auto& p : primaries_) {
    if (!up) break;
    auto it = shards_.find(p);
    if (it == shards_.end() || !it->second->client.connected() ||
        (with_channels.count(p) && !it->second->client.subscriber_connected()))
      up = false;
  }
  for (std::uint16_t o : slot_owner_)
    if (o == kNone) up = false;
  ready_.store(up, std::memory_order_release);
  if (was_ready_ != up && handler_ && !stopped_) handler_->on_state(up);
  was_ready_ = up;
}

void RedisClusterBroker::on_channel_message(std::string_view ch, std::string_view payload) {
  if (!handler_) return;
  if (ch == global("rooms")) {
    const auto nl = payload.find('\n');
    if (nl == std::string_view::npos) return;
    handler_->on_room_created(std::string(payload.substr(0, nl)), std::string(payload.substr(nl + 1)));
    return;
  }
  if (ch == global("control")) {
    if (!detail::dispatch_control(*handler_, payload)) spdlog::warn("broker: undecodable announcement on {}", ch);
    return;
  }
  // <prefix>:{room}:ch
  const std::string head = options_.prefix + ":{";
  const std::string_view tail = "}:ch";
  if (!ch.starts_with(head) || !ch.ends_with(tail) || ch.size() <= head.size() + tail.size()) return;
  const std::string room(ch.substr(head.size(), ch.size() - head.size() - tail.size()));
  if (detail::dispatch_presence(handler_, room, payload)) return;
  auto m = decode_entry(room, payload);
  if (!m) {
    spdlog::warn("broker: undecodable message on {}", ch);
    return;
  }
  handler_->on_message(std::move(*m));
}

void RedisClusterBroker::replay_rooms() {
  command({"HGETALL", global("room-index")}, [this](std::error_code ec, const RedisReply& reply) {
    if (ec || reply.type != RedisReply::Type::array || !handler_) return;
    for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2)
      handler_->on_room_created(reply.elements[i].str, reply.elements[i + 1].str);
  });
}

// ---- the Broker ----

std::uint64_t RedisClusterBroker::epoch(const std::string& room) const {
  return slot_epoch_[key_slot(key(room, "seq"))].load(std::memory_order_acquire);
}

void RedisClusterBroker::publish(const core::Message& m, PublishDone done) {
  publish_in_epoch(m, epoch(m.room), std::move(done));
}

void RedisClusterBroker::publish_in_epoch(const core::Message& m, std::uint64_t epoch, PublishDone done) {
  boost::asio::post(ctx_, [this, m, epoch, done = std::move(done)]() mutable {
    // Refused at once while the room's shard is down (see RedisBroker::publish), and when its slot
    // changed primary since the caller computed the floor (m.seq): the caller re-seeds first.
    const std::uint16_t slot = key_slot(key(m.room, "seq"));
    Shard* s = map_known_ ? owner(slot) : nullptr;
    if (s == nullptr || !s->client.connected() || slot_epoch_[slot].load(std::memory_order_acquire) != epoch)
      return done(unavailable(), {});
    auto r = std::make_shared<Request>();
    r->script = &publish_script_;
    r->route = key(m.room, "seq");
    r->keys = {key(m.room, "seq"), key(m.room, "log"), key(m.room, "cids"), key(m.room, "cidq")};
    r->args = detail::publish_args(m, channel(m.room), options_.log_capacity, "SPUBLISH");
    r->pinned = true;
    r->done = detail::bounded(ctx_, options_.request_timeout_ms,
                              [done = std::move(done)](std::error_code ec, const RedisReply& reply) {
                                Published p;
                                ec = detail::decode_published(ec, reply, p);
                                done(ec, ec ? Published{} : p);
                              });
    dispatch(*s, r, false);
  });
}

void RedisClusterBroker::announce_room(const std::string& room, const std::string& by, AnnounceDone done) {
  // As RedisBroker::announce_room: recorded, then announced; queued while the shard is down.
  boost::asio::post(ctx_, [this, room, by, done = std::move(done)]() mutable {
    std::vector<std::string> announce{"SPUBLISH", global("rooms"), room + '\n' + by};
    command({"HSETNX", global("room-index"), room, by},
            detail::bounded(
                ctx_, options_.request_timeout_ms,
                [this, room, announce = std::move(announce), done = std::move(done)](std::error_code ec,
                                                                                     const RedisReply& reply) mutable {
                  if (ec) spdlog::warn("broker: room {} not confirmed in the room index: {}", room, ec.message());
                  const bool taken = !ec && reply.type == RedisReply::Type::integer && reply.integer == 0;
                  if (!taken) command(std::move(announce), [](std::error_code, const RedisReply&) {});
                  if (done)
                    done(ec ? unavailable() : taken ? std::error_code(protocol::errc::room_exists) : std::error_code());
                }));
  });
}

void RedisClusterBroker::lookup_room(const std::string& room, LookupDone done) {
  boost::asio::post(ctx_, [this, room, done = std::move(done)]() mutable {
    Shard* s = map_known_ ? owner(key_slot(global("room-index"))) : nullptr;
    if (s == nullptr || !s->client.connected()) return done(unavailable(), std::nullopt);
    command({"HGET", global("room-index"), room},
            detail::bounded(ctx_, options_.request_timeout_ms,
                            [done = std::move(done)](std::error_code ec, RedisReply reply) {
                              if (ec || (reply.type != RedisReply::Type::string && !reply.is_nil()))
                                return done(unavailable(), std::nullopt);
                              if (reply.is_nil()) return done({}, std::nullopt);
                              done({}, std::move(reply.str));
                            }));
  });
}

void RedisClusterBroker::announce_access(const std::string& room, const std::string& user_id) {
  control(detail::control_access(room, user_id));
}

void RedisClusterBroker::announce_sessions_ended(const std::string& user_id, const std::string& digest,
                                                 const std::string& keep) {
  control(detail::control_sessions_ended(user_id, digest, keep));
}

void RedisClusterBroker::announce_read(const ReadNotice& notice) { control(detail::control_read(notice)); }

void RedisClusterBroker::announce_name_registered(const std::string& name_key) {
  control(detail::control_name_registered(name_key));
}

void RedisClusterBroker::announce_node_stats(const std::string& stats) {
  control(detail::control_node_stats(options_.node_id, stats));
}

void RedisClusterBroker::announce_disconnect(const std::string& name_key, const std::string& reason) {
  control(detail::control_disconnect(name_key, reason));
}

void RedisClusterBroker::announce_drain(const std::string& node_id) { control(detail::control_drain(node_id)); }

void RedisClusterBroker::delete_room(const std::string& room, const std::string& by, AnnounceDone done) {
  boost::asio::post(ctx_, [this, room, by, done = std::move(done)]() mutable {
    // Refused while the room's shard or the index's is down, not queued: the caller deletes
    // nothing then.
    auto up = [this](const std::string& k) {
      Shard* s = map_known_ ? owner(key_slot(k)) : nullptr;
      return s != nullptr && s->client.connected();
    };
    if (!up(key(room, "seq")) || !up(global("room-index"))) return done(unavailable());
    // Two slots: the room's keys (one slot, through {room}) and the index's. Both answered, in
    // whichever order, the deletion is announced; the first failure (or the bound) answers.
    struct Both {
      int left = 2;
      bool failed = false;
      AnnounceDone done;
    };
    auto both = std::make_shared<Both>();
    both->done = std::move(done);
    auto one = [this, room, by, both](std::error_code ec, const RedisReply& reply) {
      if (ec || reply.type != RedisReply::Type::integer) both->failed = true;
      if (--both->left > 0) return;
      if (both->failed) {
        spdlog::warn("broker: room {}: its deletion was not confirmed", room);
        return both->done(unavailable());
      }
      control(detail::control_room_deleted(room, by));
      both->done({});
    };
    command({"DEL", key(room, "seq"), key(room, "log"), key(room, "cids"), key(room, "cidq")},
            detail::bounded(ctx_, options_.request_timeout_ms, one));
    command({"HDEL", global("room-index"), room}, detail::bounded(ctx_, options_.request_timeout_ms, one));
  });
}

void RedisClusterBroker::control(std::string payload) {
  boost::asio::post(ctx_, [this, p = std::move(payload)]() mutable {
    command({"SPUBLISH", global("control"), std::move(p)}, [](std::error_code, const RedisReply&) {});
  });
}

void RedisClusterBroker::subscribe(const std::string& room, std::function<void(std::error_code)> done) {
  boost::asio::post(ctx_, [this, ch = channel(room), done = std::move(done)]() mutable { want(ch, std::move(done)); });
}

void RedisClusterBroker::unsubscribe(const std::string& room) {
  boost::asio::post(ctx_, [this, ch = channel(room)] {
    auto it = subs_.find(ch);
    if (it == subs_.end()) return;
    Sub sub = std::move(it->second);
    subs_.erase(it);
    if (auto s = shards_.find(sub.addr); s != shards_.end()) s->second->client.unsubscribe(ch);
    for (auto& d : sub.dones) d(std::make_error_code(std::errc::operation_canceled));
  });
}

void RedisClusterBroker::fetch(const std::string& room, std::uint64_t after, std::size_t limit, FetchDone done) {
  boost::asio::post(ctx_, [this, room, after, limit, done = std::move(done)]() mutable {
    command({"XRANGE", key(room, "log"), std::to_string(after + 1), "+", "COUNT", std::to_string(limit)},
            [room, done = std::move(done)](std::error_code ec, const RedisReply& reply) {
              std::vector<core::Message> out;
              if (ec || !detail::decode_log(room, reply, out)) return done(unavailable(), {});
              done({}, std::move(out));
            });
  });
}

// One command per room (a multi-key command would span slots), its answers gathered in order:
// `parse` reads one reply into its slot of the result (false: the whole call fails).
template <class T, class Parse>
void RedisClusterBroker::per_room(const std::vector<std::string>& rooms, const char* verb, const char* what,
                                  Parse parse, std::function<void(std::error_code, std::vector<T>)> done) {
  boost::asio::post(ctx_, [this, rooms, verb, what, parse, done = std::move(done)]() mutable {
    if (rooms.empty()) return done({}, {});
    struct Gather {
      std::vector<T> out;
      std::size_t left = 0;
      bool failed = false;
      std::function<void(std::error_code, std::vector<T>)> done;
    };
    auto g = std::make_shared<Gather>();
    g->out.assign(rooms.size(), T{});
    g->left = rooms.size();
    g->done = std::move(done);
    for (std::size_t i = 0; i < rooms.size(); ++i)
      command({verb, key(rooms[i], what)}, [g, i, parse](std::error_code ec, const RedisReply& reply) {
        if (ec || !parse(reply, g->out[i])) g->failed = true;
        if (--g->left > 0) return;
        if (g->failed) return g->done(unavailable(), {});
        g->done({}, std::move(g->out));
      });
  });
}

void RedisClusterBroker::last_seqs(const std::vector<std::string>& rooms, SeqDone done) {
  per_room<std::uint64_t>(
      rooms, "GET", "seq",
      [](const RedisReply& reply, std::uint64_t& seq) {
        if (reply.is_nil()) return true;  // no message yet: 0
        return reply.type == RedisReply::Type::string &&
               std::from_chars(reply.str.data(), reply.str.data() + reply.str.size(), seq).ec == std::errc();
      },
      std::move(done));
}

void RedisClusterBroker::presence_counts(const std::vector<std::string>& rooms, CountsDone done) {
  per_room<std::size_t>(
      rooms, "HLEN", "users",
      [](const RedisReply& reply, std::size_t& count) {
        if (reply.type != RedisReply::Type::integer) return false;
        count = static_cast<std::size_t>(std::max(0LL, reply.integer));
        return true;
      },
      std::move(done));
}

}  // namespace parley::broker
