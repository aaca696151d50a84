// RedisClusterBroker, presence across the cluster (keys and rules in redis_cluster_broker.hpp):
// one Lua script whose every call touches one room's slot, a lease per node and room instead of
// one cluster-wide heartbeat, and sweeps of expired leases room by room.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <future>

#include "broker/redis_broker.hpp"
#include "broker/redis_cluster_broker.hpp"
#include "protocol/errc.hpp"

namespace parley::broker {

namespace {

// KEYS[1]: <prefix>:{room}:users (routes the call; every key it touches is in the room's slot).
// ARGV: op, prefix, room, node, then per op:
//   join|leave opseq lease_ms user     sync opseq lease_ms users...     members
//   beat lease_ms (renew this node's lease if it has one; sweep)        sweep     gone
// Every change of the room's members is counted in {room}:pver and published on {room}:ch.
// join|leave|sync answer 0 (an old op, ignored), 1 (applied) or 2 (applied, and this node had no
// lease in the room: if it had users there, they were swept or lost).
constexpr const char* cluster_presence_lua_source = R"lua(
local op, prefix, room, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function k(what) return prefix .. ':{' .. room .. '}:' .. what end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function publish(user, state)
  local ver = redis.call('INCR', k('pver'))
  redis.call('SPUBLISH', k('ch'), 'P\n' .. ver .. '\n' .. state .. '\n' .. user)
end
local function add(n, user)
  if redis.call('SADD', k('node:' .. n), user) == 0 then return end
  if redis.call('HINCRBY', k('users'), user, 1) == 1 then publish(user, '+') end
end
local function remove(n, user)
  if redis.call('SREM', k('node:' .. n), user) == 0 then return end
  if redis.call('HINCRBY', k('users'), user, -1) <= 0 then
    redis.call('HDEL', k('users'), user)
    publish(user, '-')
  end
end
local function drop_node(n)
  for _, user in ipairs(redis.call('SMEMBERS', k('node:' .. n))) do remove(n, user) end
  redis.call('ZREM', k('lease'), n)
  redis.call('HDEL', k('pseq'), n)
end
-- The entries of every node whose lease in this room has expired.
local function sweep()
  local expired = redis.call('ZRANGEBYSCORE', k('lease'), '-inf', now_ms())
  for _, n in ipairs(expired) do drop_node(n) end
  return #expired
end
-- Renews this node's lease; whether it had one.
local function lease(ms)
  local had = redis.call('ZSCORE', k('lease'), node)
  redis.call('ZADD', k('lease'), now_ms() + tonumber(ms), node)
  if had then return 1 end
  return 2
end
-- An op of this node older than one already applied to the room is ignored (see RedisBroker).
local function fresh(opseq)
  local last = tonumber(redis.call('HGET', k('pseq'), node) or '0')
  if tonumber(opseq) <= last then return false end
  redis.call('HSET', k('pseq'), node, opseq)
  return true
end

if op == 'join' or op == 'leave' then
  sweep()
  if not fresh(ARGV[5]) then return 0 end
  local had = lease(ARGV[6])
  if op == 'join' then add(node, ARGV[7]) else remove(node, ARGV[7]) end
  return had
elseif op == 'sync' then
  sweep()
  if not fresh(ARGV[5]) then return 0 end
  local had = lease(ARGV[6])
  local want = {}
  for i = 7, #ARGV do want[ARGV[i]] = true end
  for _, user in ipairs(redis.call('SMEMBERS', k('node:' .. node))) do
    if want[user] then want[user] = nil else remove(node, user) end
  end
  for i = 7, #ARGV do
    if want[ARGV[i]] then
      want[ARGV[i]] = nil
      add(node, ARGV[i])
    end
  end
  return had
elseif op == 'members' then
  local out = { tonumber(redis.call('GET', k('pver')) or '0') }
  for _, user in ipairs(redis.call('HKEYS', k('users'))) do out[#out + 1] = user end
  return out
elseif op == 'beat' then
  -- A lease already swept (by another node: ours had lapsed) is not renewed: the caller restates.
  local had = redis.call('ZSCORE', k('lease'), node)
  if had then lease(ARGV[5]) end
  local swept = sweep()
  return { had and 1 or 0, swept }
elseif op == 'sweep' then
  local swept = sweep()
  return { swept, redis.call('ZCARD', k('lease')) + redis.call('HLEN', k('users')) }
elseif op == 'gone' then
  drop_node(node)
  return 1
end
return redis.error_reply('presence: unknown op ' .. tostring(op))
)lua";

// Rooms of presence-rooms swept per beat besides this node's own: a room whose every node died
// is cleaned by a live node within a few beats (more often the fewer such rooms there are).
constexpr int kRandomSweeps = 8;

}  // namespace

const char* detail::cluster_presence_lua() { return cluster_presence_lua_source; }

struct RedisClusterBroker::Beat {
  explicit Beat(boost::asio::io_context& ctx) : timer(ctx) {}
  boost::asio::steady_timer timer;
  bool stopped = false;  // on ctx_'s thread
};

void RedisClusterBroker::start_heartbeat() {
  beat_ = std::make_shared<Beat>(ctx_);
  boost::asio::post(ctx_, [this, beat = beat_] { heartbeat(beat); });
}

void RedisClusterBroker::stop_beat() {
  if (!beat_) return;
  beat_->stopped = true;
  beat_->timer.cancel();
}

void RedisClusterBroker::heartbeat(const std::shared_ptr<Beat>& beat) {
  if (beat->stopped || stopped_) return;
  const std::string lease = std::to_string(options_.node_timeout_ms);
  // Remembered so that a sweep by another node finds them (SADD: one command, one slot).
  std::vector<std::string> record{"SADD", global("presence-rooms")};
  auto lost = std::make_shared<bool>(false);
  auto left = std::make_shared<std::size_t>(local_presence_.size() + 1);
  auto next = [this, beat, lost, left] {
    if (--*left > 0 || beat->stopped) return;
    // A lease of ours was gone: another node swept our entries (we were silent too long) or the
    // shard lost its data (a failover to a replica that had not seen them). Restate them.
    if (*lost) {
      spdlog::warn("broker: this node's presence lease had expired; restating its presence");
      if (handler_) handler_->on_presence_reset();
    }
    beat->timer.expires_after(std::chrono::milliseconds(std::max<std::uint32_t>(options_.node_timeout_ms / 5, 10)));
    beat->timer.async_wait([this, beat](const boost::system::error_code& e) {
      if (!e) heartbeat(beat);
    });
  };
  for (const auto& [room, users] : local_presence_) {
    record.push_back(room);
    eval(presence_script_, {key(room, "users")}, {"beat", options_.prefix, room, options_.node_id, lease},
         [lost, next](std::error_code ec, const RedisReply& reply) {
           if (!ec && reply.type == RedisReply::Type::array && reply.elements.size() == 2 &&
               reply.elements[0].integer == 0)
             *lost = true;
           if (!ec && reply.type == RedisReply::Type::array && reply.elements.size() == 2 &&
               reply.elements[1].integer > 0)
             spdlog::info("broker: removed the presence of {} node(s) without a lease", reply.elements[1].integer);
           next();
         });
  }
  if (record.size() > 2) command(std::move(record), [](std::error_code, const RedisReply&) {});
  // A few random rooms: their dead nodes' entries, and the room forgotten once empty.
  command({"SRANDMEMBER", global("presence-rooms"), std::to_string(kRandomSweeps)},
          [this, next](std::error_code ec, const RedisReply& reply) {
            if (!ec && reply.type == RedisReply::Type::array)
              for (const auto& r : reply.elements) {
                const std::string room = r.str;
                if (local_presence_.count(room)) continue;  // beaten above
                eval(presence_script_, {key(room, "users")}, {"sweep", options_.prefix, room, options_.node_id},
                     [this, room](std::error_code e, const RedisReply& rep) {
                       if (e || rep.type != RedisReply::Type::array || rep.elements.size() != 2) return;
                       // Nothing left: forgotten (a node that joins it later records it again).
                       if (rep.elements[1].integer == 0)
                         command({"SREM", global("presence-rooms"), room}, [](std::error_code, const RedisReply&) {});
                     });
              }
            next();
          });
}

void RedisClusterBroker::presence_goodbye() {
  // Every room's entries removed, each on its shard; waits up to 1 s in all.
  auto said = std::make_shared<std::promise<void>>();
  auto future = said->get_future();
  boost::asio::post(ctx_, [this, said] {
    stop_beat();
    auto left = std::make_shared<std::size_t>(local_presence_.size());
    if (*left == 0 || !map_known_) return said->set_value();
    for (const auto& [room, users] : local_presence_)
      eval(presence_script_, {key(room, "users")}, {"gone", options_.prefix, room, options_.node_id},
           [said, left](std::error_code, const RedisReply&) {
             if (--*left == 0) said->set_value();
           });
  });
  if (future.wait_for(std::chrono::seconds(1)) != std::future_status::ready)
    spdlog::warn("broker: could not remove this node's presence in time; other nodes will");
}

void RedisClusterBroker::presence_op(const char* op, const std::string& room, std::vector<std::string> users,
                                     PresenceDone done) {
  boost::asio::post(ctx_, [this, op, room, users = std::move(users), done = std::move(done)]() mutable {
    // What this node has where: the rooms whose lease its beats renew.
    auto& mine = local_presence_[room];
    const bool had_users = !mine.empty();
    if (std::string_view(op) == "sync")
      mine = std::set<std::string>(users.begin(), users.end());
    else if (std::string_view(op) == "join")
      mine.insert(users.at(0));
    else
      mine.erase(users.at(0));
    if (mine.empty()) local_presence_.erase(room);  // its lease lapses; a sweep removes it
    std::vector<std::string> args{op,
                                  options_.prefix,
                                  room,
                                  options_.node_id,
                                  std::to_string(++presence_ops_),
                                  std::to_string(options_.node_timeout_ms)};
    for (auto& u : users) args.push_back(std::move(u));
    eval(presence_script_, {key(room, "users")}, std::move(args),
         [this, op, had_users, done = std::move(done)](std::error_code ec, const RedisReply& reply) {
           if (ec == redis_errc::server_error) spdlog::error("broker: presence {}: {}", op, reply.str);
           // This node had users in the room but no lease there: its entries were swept (it was
           // silent too long) or lost (the shard failed over or was flushed). Restate them all.
           if (!ec && had_users && reply.type == RedisReply::Type::integer && reply.integer == 2 && handler_) {
             spdlog::warn("broker: this node's presence lease in a room was gone; restating its presence");
             handler_->on_presence_reset();
           }
           if (done) done(ec ? std::error_code(protocol::errc::unavailable) : std::error_code());
         });
  });
}

void RedisClusterBroker::presence_join(const std::string& room, const std::string& user, PresenceDone done) {
  presence_op("join", room, {user}, std::move(done));
}

void RedisClusterBroker::presence_leave(const std::string& room, const std::string& user, PresenceDone done) {
  presence_op("leave", room, {user}, std::move(done));
}

void RedisClusterBroker::presence_sync(const std::string& room, std::vector<std::string> users, PresenceDone done) {
  presence_op("sync", room, std::move(users), std::move(done));
}

void RedisClusterBroker::presence_members(const std::string& room, MembersDone done) {
  boost::asio::post(ctx_, [this, room, done = std::move(done)]() mutable {
    eval(presence_script_, {key(room, "users")}, {"members", options_.prefix, room, options_.node_id},
         [done = std::move(done)](std::error_code ec, RedisReply reply) {
           PresenceSnapshot snap;
           if (ec || !detail::decode_members(std::move(reply), snap)) return done(protocol::errc::unavailable, {});
           done({}, std::move(snap));
         });
  });
}

}  // namespace parley::broker
