#include "broker/redis_broker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <charconv>
#include <chrono>
#include <stdexcept>

#include "protocol/errc.hpp"

namespace parley::broker {

namespace {

// KEYS: seq, log, cids, cidq. ARGV: channel, cidkey (core::sender_key '\0' cid), entry without its
// seq (encode_entry_after_seq), ts, log capacity, floor, publish command (PUBLISH or SPUBLISH).
constexpr const char* publish_lua_source = R"lua(
local dup = redis.call('HGET', KEYS[3], ARGV[2])
if dup then return {0, dup} end
local seq = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[6])
if seq <= floor then
  seq = floor + 1
  redis.call('SET', KEYS[1], seq)
end
local entry = seq .. '\n' .. ARGV[3]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], seq .. '-1', 'm', entry)
redis.call('HSET', KEYS[3], ARGV[2], seq .. ':' .. ARGV[4])
redis.call('RPUSH', KEYS[4], ARGV[2])
if redis.call('LLEN', KEYS[4]) > tonumber(ARGV[5]) then
  redis.call('HDEL', KEYS[3], redis.call('LPOP', KEYS[4]))
end
redis.call(ARGV[7], ARGV[1], entry)
return {1, seq .. ':' .. ARGV[4]}
)lua";

template <class T>
bool parse_number(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::error_code unavailable() { return protocol::errc::unavailable; }

std::unique_ptr<SentinelLocator> make_locator(boost::asio::io_context& ctx, const RedisBrokerOptions& o) {
  if (o.sentinel.sentinels.empty()) return nullptr;
  return std::make_unique<SentinelLocator>(ctx, o.sentinel, o.redis);
}

RedisOptions with_locator(RedisOptions o, SentinelLocator* locator) {
  o.locator = locator;
  return o;
}

}  // namespace

RedisOptions parse_redis_url(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("redis://", 0) == 0) rest = rest.substr(8);
  // A database number ("redis://host:6379/0", as in deploy/compose.yaml): only 0, since Pub/Sub
  // ignores databases (separate clusters on one Redis use broker.prefix instead).
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    if (!db.empty() && db != "0")
      throw std::invalid_argument("broker.redis_url: database " + db + " in '" + url +
                                  "' is not supported: use 0 (and broker.prefix to share a Redis)");
    rest.resize(slash);
  }
  RedisOptions o;
  const auto colon = rest.rfind(':');
  o.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos && !parse_number(std::string_view(rest).substr(colon + 1), o.port))
    throw std::invalid_argument("broker.redis_url: bad port in '" + url + "'");
  if (o.host.empty()) throw std::invalid_argument("broker.redis_url: no host in '" + url + "'");
  return o;
}

std::string encode_entry_after_seq(const core::Message& m) {
  std::string e = std::to_string(m.ts);
  if (!m.from_id.empty()) e += ':' + std::to_string(m.from_id.size());
  // Attachments: "^<bytes>" of their JSON, after the sender id and before the text.
  if (!m.files.empty()) e += '^' + std::to_string(m.files.size());
  // A change: "|kind.target" (kind 1 to 4: edit, delete, react, unreact; a reaction's emoji is
  // its text); a reply "|0.target" (the message it answers). Another message has none, as before.
  if (m.kind != core::MessageKind::message || m.target != 0)
    e += '|' + std::to_string(static_cast<int>(m.kind)) + '.' + std::to_string(m.target);
  e += '\n' + m.from + '\n' + m.cid + '\n';
  e += m.from_id;
  e += m.files;
  e += m.text;
  return e;
}

std::string encode_entry(const core::Message& m) { return std::to_string(m.seq) + '\n' + encode_entry_after_seq(m); }

std::optional<core::Message> decode_entry(const std::string& room, std::string_view e) {
  core::Message m;
  m.room = room;
  std::string_view fields[4];
  for (auto& f : fields) {
    const auto nl = e.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    f = e.substr(0, nl);
    e.remove_prefix(nl + 1);
  }
  std::size_t id_bytes = 0;
  std::string_view ts = fields[1];
  if (const auto bar = ts.find('|'); bar != std::string_view::npos) {
    const std::string_view change = ts.substr(bar + 1);
    const auto dot = change.find('.');
    int kind = 0;
    if (dot == std::string_view::npos || !parse_number(change.substr(0, dot), kind) || kind < 0 ||
        kind > core::max_message_kind || !parse_number(change.substr(dot + 1), m.target))
      return std::nullopt;
    m.kind = static_cast<core::MessageKind>(kind);
    ts = ts.substr(0, bar);
  }
  std::size_t file_bytes = 0;
  if (const auto caret = ts.find('^'); caret != std::string_view::npos) {
    if (!parse_number(ts.substr(caret + 1), file_bytes) || file_bytes > e.size()) return std::nullopt;
    ts = ts.substr(0, caret);
  }
  if (const auto colon = ts.find(':'); colon != std::string_view::npos) {
    if (!parse_number(ts.substr(colon + 1), id_bytes) || id_bytes > e.size() - file_bytes) return std::nullopt;
    ts = ts.substr(0, colon);
  }
  if (!parse_number(fields[0], m.seq) || !parse_number(ts, m.ts)) return std::nullopt;
  m.from = fields[2];
  m.cid = fields[3];
  m.from_id = e.substr(0, id_bytes);
  m.files = e.substr(id_bytes, file_bytes);
  m.text = e.substr(id_bytes + file_bytes);
  return m;
}

RedisBroker::RedisBroker(RedisBrokerOptions options)
    : options_(std::move(options)),
      guard_(boost::asio::make_work_guard(ctx_)),
      sentinel_(make_locator(ctx_, options_)),
      client_(ctx_, with_locator(options_.redis, sentinel_.get())),
      publish_script_(detail::publish_lua()),
      presence_script_(detail::presence_lua()) {
  if (options_.node_id.empty()) options_.node_id = detail::random_node_id();
  client_.load_on_connect(publish_script_);
  client_.load_on_connect(presence_script_);
}

RedisBroker::~RedisBroker() {
  stop();
  guard_.reset();
  if (thread_.joinable()) {
    ctx_.stop();
    thread_.join();
  }
}

std::string RedisBroker::key(const std::string& room, const char* what) const {
  return options_.prefix + ":{" + room + "}:" + what;
}

void RedisBroker::start() {
  if (started_.exchange(true)) return;
  client_.set_state_handler([this](bool up) {
    run_id_checked_.store(false, std::memory_order_release);
    if (up) check_run_id();
    if (!up && handler_) handler_->on_state(false);
  });
  // Up means every wanted channel is subscribed again: now a fetch sees whatever was missed.
  client_.set_subscriber_state_handler([this](bool up) {
    if (up) replay_rooms();  // announcements published while the subscriber was down are lost
    if (handler_) handler_->on_state(up);
  });
  client_.set_message_handler(
      [this](std::string_view ch, std::string_view payload) { on_channel_message(ch, payload); });
  if (sentinel_) {
    // A failover: both connections go to the new primary, through the usual set-up (the scripts
    // loaded, the state handlers told, every channel subscribed again).
    sentinel_->set_on_change([this] { client_.reconnect(); });
    sentinel_->start();
  }
  client_.start();
  client_.subscribe(options_.prefix + ":rooms");
  client_.subscribe(options_.prefix + ":control");
  start_heartbeat();
  thread_ = std::thread([this] { ctx_.run(); });
}

void RedisBroker::stop() {
  if (!started_.exchange(false)) return;
  presence_goodbye();  // a drain: this node's members leave now
  client_.stop();
  if (sentinel_) sentinel_->stop();
}

bool RedisBroker::ready() const {
  return client_.connected() && client_.subscriber_connected() && run_id_checked_.load(std::memory_order_acquire);
}

void RedisBroker::on_channel_message(std::string_view ch, std::string_view payload) {
  if (!handler_) return;
  if (ch == options_.prefix + ":rooms") {
    const auto nl = payload.find('\n');
    if (nl == std::string_view::npos) return;
    handler_->on_room_created(std::string(payload.substr(0, nl)), std::string(payload.substr(nl + 1)));
    return;
  }
  if (ch == options_.prefix + ":control") return on_control(payload);
  const std::string prefix = options_.prefix + ":room:";
  if (ch.substr(0, prefix.size()) != prefix) return;
  if (!payload.empty() && payload[0] == 'P') {  // a presence change (messages start with their seq)
    on_presence_message(std::string(ch.substr(prefix.size())), payload);
    return;
  }
  auto m = decode_entry(std::string(ch.substr(prefix.size())), payload);
  if (!m) {
    spdlog::warn("broker: undecodable message on {}", ch);
    return;
  }
  handler_->on_message(std::move(*m));
}

void RedisBroker::publish(const core::Message& m, PublishDone done) {
  publish_in_epoch(m, epoch(m.room), std::move(done));
}

void RedisBroker::publish_in_epoch(const core::Message& m, std::uint64_t epoch, PublishDone done) {
  // A send during an outage is refused at once, and one Redis does not answer in time is refused
  // then: the client retries with the same cid, which the script dedupes if this one ran after
  // all. Queued for the reconnect instead, it would go out, unanswered, after the client's retry.
  if (!client_.connected()) return done(unavailable(), {});
  boost::asio::post(ctx_, [this, m, epoch, done = std::move(done)]() mutable {
    // Refused too until the reconnected server's run id is known, and if the epoch moved since the
    // caller computed its floor (m.seq): the caller re-seeds from the store first.
    if (!client_.connected() || !run_id_checked_ || epoch != epoch_.load(std::memory_order_acquire))
      return done(unavailable(), {});
    client_.eval_script(publish_script_,
                        {key(m.room, "seq"), key(m.room, "log"), key(m.room, "cids"), key(m.room, "cidq")},
                        detail::publish_args(m, channel(m.room), options_.log_capacity, "PUBLISH"),
                        bounded([done = std::move(done)](std::error_code ec, const RedisReply& reply) {
                          Published p;
                          ec = detail::decode_published(ec, reply, p);
                          done(ec, ec ? Published{} : p);
                        }));
  });
}

void RedisBroker::check_run_id() {
  client_.command({"INFO", "server"}, [this](std::error_code ec, const RedisReply& reply) {
    if (ec || !client_.connected()) return;  // the next connection asks again
    const std::string id = detail::parse_run_id(reply.str);
    if (id.empty()) {
      spdlog::warn("broker: no run_id in the server's INFO: publishing without a failover check");
    } else if (!run_id_.empty() && id != run_id_) {
      epoch_.fetch_add(1, std::memory_order_acq_rel);
      spdlog::warn(
          "broker: Redis has another run id ({} was {}): a restart or a failover; every room re-seeds "
          "its seq floor from the store before its next message",
          id, run_id_);
    }
    if (!id.empty()) run_id_ = id;
    run_id_checked_.store(true, std::memory_order_release);
  });
}

namespace detail {

const char* publish_lua() { return publish_lua_source; }

std::string parse_run_id(std::string_view info) {
  constexpr std::string_view field = "run_id:";
  auto at = info.find(field);
  while (at != std::string_view::npos && at != 0 && info[at - 1] != '\n') at = info.find(field, at + 1);
  if (at == std::string_view::npos) return {};
  info.remove_prefix(at + field.size());
  const auto end = info.find_first_of("\r\n");
  return std::string(info.substr(0, end));
}

std::vector<std::string> publish_args(const core::Message& m, const std::string& channel, std::size_t log_capacity,
                                      const char* publish_command) {
  // Retries are deduplicated per sender (its id; a guest's name: core::sender_key).
  std::string cidkey = core::sender_key(m);
  cidkey.push_back('\0');
  cidkey += m.cid;
  // m.seq is the floor: a Redis that lost its data must not reuse seqs.
  return {channel,
          std::move(cidkey),
          encode_entry_after_seq(m),
          std::to_string(m.ts),
          std::to_string(log_capacity),
          std::to_string(m.seq),
          publish_command};
}

std::error_code decode_published(std::error_code ec, const RedisReply& reply, Published& p) {
  if (ec) {
    if (ec == redis_errc::server_error) spdlog::error("broker: publish script: {}", reply.str);
    return unavailable();
  }
  if (reply.type != RedisReply::Type::array || reply.elements.size() != 2) return unavailable();
  p.duplicate = reply.elements[0].integer == 0;
  const std::string& st = reply.elements[1].str;
  const auto colon = st.find(':');
  if (colon == std::string::npos || !parse_number(std::string_view(st).substr(0, colon), p.seq) ||
      !parse_number(std::string_view(st).substr(colon + 1), p.ts))
    return unavailable();
  return {};
}

bool decode_log(const std::string& room, const RedisReply& reply, std::vector<core::Message>& out) {
  if (reply.type != RedisReply::Type::array) return false;
  out.reserve(reply.elements.size());
  for (const auto& entry : reply.elements) {
    // [id, [field, value]]
    if (entry.elements.size() != 2 || entry.elements[1].elements.size() < 2) continue;
    if (auto m = decode_entry(room, entry.elements[1].elements[1].str)) out.push_back(std::move(*m));
  }
  return true;
}

RedisClient::Callback bounded(boost::asio::io_context& ctx, std::uint32_t timeout_ms, RedisClient::Callback done) {
  struct Pending {
    Pending(boost::asio::io_context& ctx, RedisClient::Callback cb) : timer(ctx), done(std::move(cb)) {}
    boost::asio::steady_timer timer;
    RedisClient::Callback done;  // empty once called
  };
  auto p = std::make_shared<Pending>(ctx, std::move(done));
  p->timer.expires_after(std::chrono::milliseconds(timeout_ms));
  p->timer.async_wait([p](const boost::system::error_code& ec) {
    if (ec || !p->done) return;
    auto f = std::move(p->done);
    p->done = nullptr;
    f(std::make_error_code(std::errc::timed_out), {});
  });
  return [p](std::error_code ec, RedisReply reply) {
    if (!p->done) return;  // timed out already
    p->timer.cancel();
    auto f = std::move(p->done);
    p->done = nullptr;
    f(ec, std::move(reply));
  };
}

// <prefix>:control carries the announcements between nodes that are not a room's, one per
// message: a letter, then its fields, '\n'-separated (none holds a newline: room ids, user ids,
// digests and name keys never do).
std::string control_access(const std::string& room, const std::string& user_id) {
  return "A\n" + room + '\n' + user_id;
}

std::string control_sessions_ended(const std::string& user_id, const std::string& digest, const std::string& keep) {
  return "E\n" + user_id + '\n' + digest + '\n' + keep;
}

std::string control_name_registered(const std::string& name_key) { return "R\n" + name_key; }

// M: a moved read mark (Handler::on_read).
std::string control_read(const ReadNotice& n) {
  return "M\n" + n.node + '\n' + n.user_id + '\n' + n.room + '\n' + std::to_string(n.seq) + '\n' +
         std::to_string(n.unread) + '\n' + std::to_string(n.mentions) + '\n' + n.name;
}

// The admin API's: S a node's stats (one line of JSON), X a name whose sessions every node
// closes, D a node to drain. Every node hears these, the announcer too.
std::string control_node_stats(const std::string& node_id, const std::string& stats) {
  return "S\n" + node_id + '\n' + stats;
}

std::string control_disconnect(const std::string& name_key, const std::string& reason) {
  return "X\n" + name_key + '\n' + reason;
}

std::string control_drain(const std::string& node_id) { return "D\n" + node_id; }

// K: a room deleted (Broker::delete_room), and by whom (its owner; empty: an operator). Every
// node hears it, the deleting one too.
std::string control_room_deleted(const std::string& room, const std::string& by) { return "K\n" + room + '\n' + by; }

bool dispatch_control(Handler& handler, std::string_view payload) {
  std::vector<std::string> f;
  while (true) {
    const auto nl = payload.find('\n');
    f.emplace_back(payload.substr(0, nl));
    if (nl == std::string_view::npos) break;
    payload.remove_prefix(nl + 1);
  }
  if (f[0] == "A" && f.size() == 3) {
    handler.on_access_changed(std::move(f[1]), std::move(f[2]));
    return true;
  }
  if (f[0] == "E" && f.size() == 4) {
    handler.on_sessions_ended(std::move(f[1]), std::move(f[2]), std::move(f[3]));
    return true;
  }
  if (f[0] == "R" && f.size() == 2) {
    handler.on_name_registered(std::move(f[1]));
    return true;
  }
  if (f[0] == "M" && f.size() == 8) {
    ReadNotice n;
    n.node = std::move(f[1]);
    n.user_id = std::move(f[2]);
    n.room = std::move(f[3]);
    const auto number = [](const std::string& s, std::uint64_t& out) {
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      return ec == std::errc() && end == s.data() + s.size() && !s.empty();
    };
    if (!number(f[4], n.seq) || !number(f[5], n.unread) || !number(f[6], n.mentions)) return false;
    n.name = std::move(f[7]);
    handler.on_read(std::move(n));
    return true;
  }
  if (f[0] == "S" && f.size() == 3) {
    handler.on_node_stats(std::move(f[1]), std::move(f[2]));
    return true;
  }
  if (f[0] == "X" && f.size() == 3) {
    handler.on_disconnect_requested(std::move(f[1]), std::move(f[2]));
    return true;
  }
  if (f[0] == "D" && f.size() == 2) {
    handler.on_drain_requested(std::move(f[1]));
    return true;
  }
  if (f[0] == "K" && f.size() == 3) {
    handler.on_room_deleted(std::move(f[1]), std::move(f[2]));
    return true;
  }
  return false;
}

}  // namespace detail

RedisClient::Callback RedisBroker::bounded(RedisClient::Callback done) {
  return detail::bounded(ctx_, options_.request_timeout_ms, std::move(done));
}

void RedisBroker::bounded_command(const std::vector<std::string>& args, RedisClient::Callback done) {
  if (!client_.connected()) return done(redis_errc::not_connected, {});
  client_.command(args, bounded(std::move(done)));
}

void RedisBroker::announce_room(const std::string& room, const std::string& by, AnnounceDone done) {
  // Recorded before it is published: a node whose subscriber was down reads the record when it is
  // back (replay_rooms), so no node misses a room for good; and a node asked for the room before
  // the announcement reaches it finds the record (lookup_room). Queued while Redis is down.
  boost::asio::post(ctx_, [this, room, by, done = std::move(done)]() mutable {
    std::vector<std::string> record{"HSETNX", options_.prefix + ":room-index", room, by};
    std::vector<std::string> announce{"PUBLISH", options_.prefix + ":rooms", room + '\n' + by};
    if (client_.connected()) {
      bounded_command(record, [this, room, announce = std::move(announce), done = std::move(done)](
                                  std::error_code ec, const RedisReply& reply) mutable {
        if (ec) spdlog::warn("broker: room {} not confirmed in the room index: {}", room, ec.message());
        // HSETNX answers 0 when another node recorded the room first: that node announces it.
        // Unconfirmed (an error, a timeout), it is announced: a node that knows the room already
        // ignores the announcement.
        const bool taken = !ec && reply.type == RedisReply::Type::integer && reply.integer == 0;
        if (!taken) client_.command(announce, [](std::error_code, const RedisReply&) {});
        if (done) done(ec ? unavailable() : taken ? std::error_code(protocol::errc::room_exists) : std::error_code());
      });
    } else {
      // Down: the record and the announcement wait for the reconnect; the caller need not.
      client_.command(record, [](std::error_code, const RedisReply&) {});
      client_.command(announce, [](std::error_code, const RedisReply&) {});
      if (done) done(unavailable());
    }
  });
}

void RedisBroker::lookup_room(const std::string& room, LookupDone done) {
  boost::asio::post(ctx_, [this, room, done = std::move(done)]() mutable {
    bounded_command({"HGET", options_.prefix + ":room-index", room},
                    [done = std::move(done)](std::error_code ec, RedisReply reply) {
                      if (ec || (reply.type != RedisReply::Type::string && !reply.is_nil()))
                        return done(unavailable(), std::nullopt);
                      if (reply.is_nil()) return done({}, std::nullopt);
                      done({}, std::move(reply.str));
                    });
  });
}

void RedisBroker::announce_access(const std::string& room, const std::string& user_id) {
  control(detail::control_access(room, user_id));
}

void RedisBroker::announce_sessions_ended(const std::string& user_id, const std::string& digest,
                                          const std::string& keep) {
  control(detail::control_sessions_ended(user_id, digest, keep));
}

void RedisBroker::announce_read(const ReadNotice& notice) { control(detail::control_read(notice)); }

void RedisBroker::announce_name_registered(const std::string& name_key) {
  control(detail::control_name_registered(name_key));
}

void RedisBroker::announce_node_stats(const std::string& stats) {
  control(detail::control_node_stats(options_.node_id, stats));
}

void RedisBroker::announce_disconnect(const std::string& name_key, const std::string& reason) {
  control(detail::control_disconnect(name_key, reason));
}

void RedisBroker::announce_drain(const std::string& node_id) { control(detail::control_drain(node_id)); }

void RedisBroker::delete_room(const std::string& room, const std::string& by, AnnounceDone done) {
  boost::asio::post(ctx_, [this, room, by, done = std::move(done)]() mutable {
    // Refused while down, not queued: the caller deletes nothing then.
    if (!client_.connected()) return done(unavailable());
    // The room's keys first, then its record in the index: one connection answers in order, so
    // once HDEL has answered, DEL has too. Announced once both ran.
    auto del_failed = std::make_shared<bool>(false);
    client_.command({"DEL", key(room, "seq"), key(room, "log"), key(room, "cids"), key(room, "cidq")},
                    [del_failed](std::error_code ec, const RedisReply& reply) {
                      *del_failed = ec || reply.type != RedisReply::Type::integer;
                    });
    client_.command(
        {"HDEL", options_.prefix + ":room-index", room},
        bounded([this, room, by, del_failed, done = std::move(done)](std::error_code ec, const RedisReply& reply) {
          if (ec || *del_failed || reply.type != RedisReply::Type::integer) {
            spdlog::warn("broker: room {}: its deletion was not confirmed", room);
            return done(unavailable());
          }
          control(detail::control_room_deleted(room, by));
          done({});
        }));
  });
}

void RedisBroker::control(std::string payload) {
  client_.command({"PUBLISH", options_.prefix + ":control", std::move(payload)},
                  [](std::error_code, const RedisReply&) {});
}

void RedisBroker::on_control(std::string_view payload) {
  if (!detail::dispatch_control(*handler_, payload))
    spdlog::warn("broker: undecodable announcement on {}:control", options_.prefix);
}

void RedisBroker::replay_rooms() {
  // Sent once the subscriber is confirmed: an announcement missed by it was recorded before this
  // HGETALL runs. Rooms the node knows already are ignored by the handler.
  client_.command({"HGETALL", options_.prefix + ":room-index"}, [this](std::error_code ec, const RedisReply& reply) {
    if (ec || reply.type != RedisReply::Type::array || !handler_) return;
    for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2)
      handler_->on_room_created(reply.elements[i].str, reply.elements[i + 1].str);
  });
}

void RedisBroker::subscribe(const std::string& room, std::function<void(std::error_code)> done) {
  client_.subscribe(channel(room), std::move(done));
}

void RedisBroker::unsubscribe(const std::string& room) { client_.unsubscribe(channel(room)); }

void RedisBroker::fetch(const std::string& room, std::uint64_t after, std::size_t limit, FetchDone done) {
  client_.command({"XRANGE", key(room, "log"), std::to_string(after + 1), "+", "COUNT", std::to_string(limit)},
                  [room, done = std::move(done)](std::error_code ec, const RedisReply& reply) {
                    std::vector<core::Message> out;
                    if (ec || !detail::decode_log(room, reply, out)) return done(unavailable(), {});
                    done({}, std::move(out));
                  });
}

void RedisBroker::last_seqs(const std::vector<std::string>& rooms, SeqDone done) {
  std::vector<std::string> args{"MGET"};
  for (const auto& r : rooms) args.push_back(key(r, "seq"));
  client_.command(args, [n = rooms.size(), done = std::move(done)](std::error_code ec, const RedisReply& reply) {
    if (ec || reply.type != RedisReply::Type::array) return done(unavailable(), {});
    std::vector<std::uint64_t> out(n, 0);
    for (std::size_t i = 0; i < n && i < reply.elements.size(); ++i)
      if (!reply.elements[i].is_nil()) parse_number(std::string_view(reply.elements[i].str), out[i]);
    done({}, std::move(out));
  });
}

}  // namespace parley::broker
