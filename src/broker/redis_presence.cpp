// RedisBroker, presence across the cluster (keys and rules in redis_broker.hpp): one Lua script
// for every operation, a heartbeat per node renewed from the broker's thread, and at each beat a
// sweep of the nodes whose heartbeat has expired.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <charconv>
#include <future>
#include <random>

#include "broker/redis_broker.hpp"
#include "protocol/errc.hpp"

namespace parley::broker {

namespace {

// ARGV: op, prefix, node, then per op:
//   join|leave room opseq user      sync room opseq users...      members room
//   counts rooms...                 beat ttl_ms                    gone
// Every change of a room's members is counted in {room}:pver and published on the room's channel.
constexpr const char* presence_lua_source = R"lua(
local op, prefix, node = ARGV[1], ARGV[2], ARGV[3]
local function k(room, what) return prefix .. ':{' .. room .. '}:' .. what end
local function rooms_of(n) return prefix .. ':node:' .. n .. ':rooms' end
local function publish(room, user, state)
  local ver = redis.call('INCR', k(room, 'pver'))
  redis.call('PUBLISH', prefix .. ':room:' .. room, 'P\n' .. ver .. '\n' .. state .. '\n' .. user)
end
local function add(n, room, user)
  if redis.call('SADD', k(room, 'node:' .. n), user) == 0 then return end
  redis.call('SADD', rooms_of(n), room)
  if redis.call('HINCRBY', k(room, 'users'), user, 1) == 1 then publish(room, user, '+') end
end
local function remove(n, room, user)
  if redis.call('SREM', k(room, 'node:' .. n), user) == 0 then return end
  if redis.call('SCARD', k(room, 'node:' .. n)) == 0 then redis.call('SREM', rooms_of(n), room) end
  if redis.call('HINCRBY', k(room, 'users'), user, -1) <= 0 then
    redis.call('HDEL', k(room, 'users'), user)
    publish(room, user, '-')
  end
end
local function drop_node(n)
  for _, room in ipairs(redis.call('SMEMBERS', rooms_of(n))) do
    for _, user in ipairs(redis.call('SMEMBERS', k(room, 'node:' .. n))) do remove(n, room, user) end
  end
  redis.call('DEL', rooms_of(n), prefix .. ':node:' .. n .. ':pseq')
  redis.call('SREM', prefix .. ':nodes', n)
end
-- An op of this node older than one already applied to the room (a NOSCRIPT retry overtaken by
-- a later call) is ignored: the later call carries newer truth.
local function fresh(room, opseq)
  local pseq = prefix .. ':node:' .. node .. ':pseq'
  local last = tonumber(redis.call('HGET', pseq, room) or '0')
  if tonumber(opseq) <= last then return false end
  redis.call('HSET', pseq, room, opseq)
  redis.call('SADD', prefix .. ':nodes', node)
  return true
end

if op == 'join' or op == 'leave' then
  if not fresh(ARGV[4], ARGV[5]) then return 0 end
  if op == 'join' then add(node, ARGV[4], ARGV[6]) else remove(node, ARGV[4], ARGV[6]) end
  return 1
elseif op == 'sync' then
  local room = ARGV[4]
  if not fresh(room, ARGV[5]) then return 0 end
  local want = {}
  for i = 6, #ARGV do want[ARGV[i]] = true end
  for _, user in ipairs(redis.call('SMEMBERS', k(room, 'node:' .. node))) do
    if want[user] then want[user] = nil else remove(node, room, user) end
  end
  for i = 6, #ARGV do
    if want[ARGV[i]] then
      want[ARGV[i]] = nil
      add(node, room, ARGV[i])
    end
  end
  return 1
elseif op == 'members' then
  local out = { tonumber(redis.call('GET', k(ARGV[4], 'pver')) or '0') }
  for _, user in ipairs(redis.call('HKEYS', k(ARGV[4], 'users'))) do out[#out + 1] = user end
  return out
elseif op == 'counts' then
  local out = {}
  for i = 4, #ARGV do out[#out + 1] = redis.call('HLEN', k(ARGV[i], 'users')) end
  return out
elseif op == 'beat' then
  local hb = prefix .. ':node:' .. node
  local existed = redis.call('EXISTS', hb)
  redis.call('SET', hb, '1', 'PX', ARGV[4])
  redis.call('SADD', prefix .. ':nodes', node)
  local swept = 0
  for _, n in ipairs(redis.call('SMEMBERS', prefix .. ':nodes')) do
    if redis.call('EXISTS', prefix .. ':node:' .. n) == 0 then
      drop_node(n)
      swept = swept + 1
    end
  end
  return { existed, swept }
elseif op == 'gone' then
  drop_node(node)
  redis.call('DEL', prefix .. ':node:' .. node)
  return 1
end
return redis.error_reply('presence: unknown op ' .. tostring(op))
)lua";

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

namespace detail {
const char* presence_lua() { return presence_lua_source; }

std::string random_node_id() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string id;
  for (int i = 0; i < 16; ++i) id.push_back("0123456789abcdef"[hex(rd)]);
  return id;
}
}  // namespace detail

struct RedisBroker::Beat {
  explicit Beat(boost::asio::io_context& ctx) : timer(ctx) {}
  boost::asio::steady_timer timer;
  bool stopped = false;  // on ctx_'s thread
  bool first = true;
};

void RedisBroker::start_heartbeat() {
  beat_ = std::make_shared<Beat>(ctx_);
  // Before any presence call of this node reaches Redis (the client keeps call order).
  boost::asio::post(ctx_, [this, beat = beat_] { heartbeat(beat); });
}

void RedisBroker::heartbeat(const std::shared_ptr<Beat>& beat) {
  if (beat->stopped) return;
  client_.eval_script(
      presence_script_, {}, {"beat", options_.prefix, options_.node_id, std::to_string(options_.node_timeout_ms)},
      [this, beat](std::error_code ec, const RedisReply& reply) {
        if (beat->stopped) return;
        if (!ec && reply.type == RedisReply::Type::array && reply.elements.size() == 2) {
          const bool existed = reply.elements[0].integer != 0;
          if (reply.elements[1].integer > 0)
            spdlog::info("broker: removed the presence of {} node(s) without a heartbeat", reply.elements[1].integer);
          // Our heartbeat had lapsed: another node may have removed our entries (or Redis lost
          // its data). Restate them.
          if (!existed && !beat->first) {
            spdlog::warn("broker: this node's heartbeat had expired; restating its presence");
            if (handler_) handler_->on_presence_reset();
          }
        } else if (ec == redis_errc::server_error) {
          spdlog::error("broker: presence heartbeat: {}", reply.str);
        }
        beat->first = false;  // only the very first beat may find no heartbeat and nothing to restate
        beat->timer.expires_after(std::chrono::milliseconds(std::max<std::uint32_t>(options_.node_timeout_ms / 5, 10)));
        beat->timer.async_wait([this, beat](const boost::system::error_code& e) {
          if (!e) heartbeat(beat);
        });
      });
}

void RedisBroker::presence_goodbye() {
  if (beat_) {
    boost::asio::post(ctx_, [beat = beat_] {
      beat->stopped = true;
      beat->timer.cancel();
    });
  }
  if (!client_.connected()) return;  // nothing to say it with; the sweep will do it
  auto said = std::make_shared<std::promise<void>>();
  auto future = said->get_future();
  client_.eval_script(presence_script_, {}, {"gone", options_.prefix, options_.node_id},
                      [said](std::error_code, const RedisReply&) { said->set_value(); });
  if (future.wait_for(std::chrono::seconds(1)) != std::future_status::ready)
    spdlog::warn("broker: could not remove this node's presence in time; other nodes will");
}

void RedisBroker::abandon() {
  if (!started_.exchange(false)) return;
  std::promise<void> done;
  boost::asio::post(ctx_, [&done, beat = beat_] {
    if (beat) {
      beat->stopped = true;
      beat->timer.cancel();
    }
    done.set_value();
  });
  done.get_future().wait();
  client_.stop();
}

void RedisBroker::presence_op(const char* op, const std::string& room, std::vector<std::string> users,
                              PresenceDone done) {
  std::vector<std::string> args{op, options_.prefix, options_.node_id, room, std::to_string(++presence_ops_)};
  args.reserve(args.size() + users.size());
  for (auto& u : users) args.push_back(std::move(u));
  client_.eval_script(presence_script_, {}, std::move(args),
                      [op, done = std::move(done)](std::error_code ec, const RedisReply& reply) {
                        if (ec == redis_errc::server_error) spdlog::error("broker: presence {}: {}", op, reply.str);
                        if (done) done(ec ? std::error_code(protocol::errc::unavailable) : std::error_code());
                      });
}

void RedisBroker::presence_join(const std::string& room, const std::string& user, PresenceDone done) {
  presence_op("join", room, {user}, std::move(done));
}

void RedisBroker::presence_leave(const std::string& room, const std::string& user, PresenceDone done) {
  presence_op("leave", room, {user}, std::move(done));
}

void RedisBroker::presence_sync(const std::string& room, std::vector<std::string> users, PresenceDone done) {
  presence_op("sync", room, std::move(users), std::move(done));
}

void RedisBroker::presence_members(const std::string& room, MembersDone done) {
  client_.eval_script(presence_script_, {}, {"members", options_.prefix, options_.node_id, room},
                      [done = std::move(done)](std::error_code ec, RedisReply reply) {
                        PresenceSnapshot snap;
                        if (ec || !detail::decode_members(std::move(reply), snap))
                          return done(protocol::errc::unavailable, {});
                        done({}, std::move(snap));
                      });
}

void RedisBroker::presence_counts(const std::vector<std::string>& rooms, CountsDone done) {
  std::vector<std::string> args{"counts", options_.prefix, options_.node_id};
  args.insert(args.end(), rooms.begin(), rooms.end());
  client_.eval_script(presence_script_, {}, std::move(args),
                      [n = rooms.size(), done = std::move(done)](std::error_code ec, const RedisReply& reply) {
                        if (ec || reply.type != RedisReply::Type::array || reply.elements.size() != n)
                          return done(protocol::errc::unavailable, {});
                        std::vector<std::size_t> out;
                        out.reserve(n);
                        for (const auto& e : reply.elements)
                          out.push_back(static_cast<std::size_t>(std::max(0LL, e.integer)));
                        done({}, std::move(out));
                      });
}

bool RedisBroker::on_presence_message(const std::string& room, std::string_view payload) {
  return detail::dispatch_presence(handler_, room, payload);
}

bool detail::decode_members(RedisReply reply, PresenceSnapshot& snap) {
  if (reply.type != RedisReply::Type::array || reply.elements.empty()) return false;
  snap.version = static_cast<std::uint64_t>(std::max(0LL, reply.elements[0].integer));
  for (std::size_t i = 1; i < reply.elements.size(); ++i) snap.users.push_back(std::move(reply.elements[i].str));
  std::sort(snap.users.begin(), snap.users.end());
  return true;
}

bool detail::dispatch_presence(Handler* handler, const std::string& room, std::string_view payload) {
  // "P\n<version>\n+|-\n<user>"
  if (payload.size() < 2 || payload[0] != 'P' || payload[1] != '\n') return false;
  payload.remove_prefix(2);
  const auto nl = payload.find('\n');
  std::uint64_t version = 0;
  if (nl == std::string_view::npos || !parse_number(payload.substr(0, nl), version)) return true;
  payload.remove_prefix(nl + 1);
  if (payload.size() < 3 || (payload[0] != '+' && payload[0] != '-') || payload[1] != '\n') return true;
  const bool joined = payload[0] == '+';
  payload.remove_prefix(2);
  if (handler) handler->on_presence(room, version, std::string(payload), joined);
  return true;
}

}  // namespace parley::broker
