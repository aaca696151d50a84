#pragma once
// RedisBroker: the cluster broker on Redis. Per room, in one atomic Lua script: dedupe the
// sender's cid, INCR the room's counter, XADD the message to the room's capped stream (entry id =
// seq), PUBLISH it on the room's channel. Every node therefore sees a room's messages in seq
// order, and the stream is the log a node repairs a missed message from.
//
// Keys (the room in a hash tag, so one room's keys share a Redis Cluster slot):
//   <prefix>:{room}:seq   counter        <prefix>:{room}:log  stream, MAXLEN ~ log_capacity
//   <prefix>:{room}:cids  hash cid→seq:ts <prefix>:{room}:cidq list, bounds cids to log_capacity
//   <prefix>:room-index   hash room→creator: every announced room, re-read after a resubscribe
//                         and looked up (HGET) for a room a node has not heard of
// Channels: <prefix>:room:<room> (messages, and presence changes: "P\n<version>\n+|-\n<user>"),
// <prefix>:rooms (room announcements), <prefix>:control (room access changes, ended sessions,
// registered names: RedisBroker::on_control).
//
// Presence (broker/redis_presence.cpp; one Lua script, so that a room's presence calls apply in
// call order even across a NOSCRIPT retry; each call carries this node's op counter and a late one
// is ignored):
//   <prefix>:{room}:users   hash user → number of nodes that have it (the room's members)
//   <prefix>:{room}:pver    counter: the room's presence changes (versions)
//   <prefix>:{room}:node:<id>  set: node <id>'s users in the room
//   <prefix>:node:<id>      heartbeat, SET PX node_timeout_ms every node_timeout_ms/5
//   <prefix>:node:<id>:rooms  set: rooms where node <id> has users
//   <prefix>:node:<id>:pseq   hash room → node <id>'s last applied op counter in the room
//   <prefix>:nodes          set: nodes with presence entries
// At every beat the script also removes the entries of each node in <prefix>:nodes whose
// heartbeat has expired, publishing their leaves: a killed node's users are gone within
// node_timeout_ms plus a beat. stop() removes this node's entries at once (a drain). The presence
// script names keys it computes (several rooms per call): standalone Redis, not Redis Cluster.
//
// Threads: owns one thread running the Redis client's io_context; see broker.hpp.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "broker/broker.hpp"
#include "broker/redis_client.hpp"
#include "broker/redis_sentinel.hpp"

namespace parley::broker {

struct RedisBrokerOptions {
  RedisOptions redis;  // with sentinel: timeouts, backoff and budgets only (host and port unused)
  // broker.backend=redis-sentinel: the primary is the one the sentinels name, followed through
  // failovers (broker/redis_sentinel.hpp). No sentinels: redis.host and redis.port.
  SentinelOptions sentinel;
  std::string prefix = "parley";
  std::size_t log_capacity = 10000;      // messages per room kept in its stream, and cids remembered
  std::uint32_t node_timeout_ms = 5000;  // a node silent this long loses its presence entries
  std::string node_id;                   // empty: random (16 hex digits)
  // announce_room() and lookup_room() answer within this long, with an error if Redis has not.
  std::uint32_t request_timeout_ms = 2000;
};

namespace detail {
const char* presence_lua();  // the presence script (redis_presence.cpp)
// The room's publish script: all its keys in the room's slot, so Redis Cluster runs it as it is.
// Its last argument is the publish command: PUBLISH (standalone) or SPUBLISH (sharded Pub/Sub).
const char* publish_lua();
std::string random_node_id();
// The run_id field of an INFO server reply ("" if it has none).
std::string parse_run_id(std::string_view info);

// Pieces both Redis brokers (RedisBroker, RedisClusterBroker) share.
// The arguments of the publish script for `m` (KEYS: the room's seq, log, cids, cidq keys).
std::vector<std::string> publish_args(const core::Message& m, const std::string& channel, std::size_t log_capacity,
                                      const char* publish_command);
// The publish script's reply; unavailable for anything else.
std::error_code decode_published(std::error_code ec, const RedisReply& reply, Published& out);
// XRANGE's reply as the room's messages; false if it is not an XRANGE reply.
bool decode_log(const std::string& room, const RedisReply& reply, std::vector<core::Message>& out);
// `done`, called once: with the reply, or with std::errc::timed_out after `timeout_ms` (a late
// reply is dropped; the command may still have run). Timer on `ctx`.
RedisClient::Callback bounded(boost::asio::io_context& ctx, std::uint32_t timeout_ms, RedisClient::Callback done);
// The control channel's payloads: a letter, then its fields, '\n'-separated.
std::string control_access(const std::string& room, const std::string& user_id);
std::string control_sessions_ended(const std::string& user_id, const std::string& digest, const std::string& keep);
std::string control_name_registered(const std::string& name_key);
std::string control_read(const ReadNotice& notice);
std::string control_node_stats(const std::string& node_id, const std::string& stats);
std::string control_disconnect(const std::string& name_key, const std::string& reason);
std::string control_drain(const std::string& node_id);
std::string control_room_deleted(const std::string& room, const std::string& by);
// Decodes one control payload for `handler`; false if undecodable.
bool dispatch_control(Handler& handler, std::string_view payload);
// Decodes a presence change ("P\n<version>\n+|-\n<user>") for `handler`; false if it is not one.
bool dispatch_presence(Handler* handler, const std::string& room, std::string_view payload);
// The members reply ([version, users...]) as a snapshot; false if it is not one.
bool decode_members(RedisReply reply, PresenceSnapshot& out);
}  // namespace detail

// "redis://host:port" or "host:port" → options; throws std::invalid_argument.
RedisOptions parse_redis_url(const std::string& url);

// Encoding of a message in a stream entry and on a channel: "seq\nts\nfrom\ncid\ntext", and
// with a sender id "seq\nts:N\nfrom\ncid\n" + the id's N bytes + text. The length, not a line:
// an id is opaque (it may hold a newline), and an entry without one (written before messages
// carried ids) is the first form, which decodes with an empty from_id.
std::string encode_entry(const core::Message& m);
// The entry without its seq (what the publish script prefixes with the seq it assigns).
std::string encode_entry_after_seq(const core::Message& m);
std::optional<core::Message> decode_entry(const std::string& room, std::string_view entry);

class RedisBroker final : public Broker {
 public:
  explicit RedisBroker(RedisBrokerOptions options);
  ~RedisBroker() override;

  void set_handler(Handler* handler) override { handler_ = handler; }
  void start() override;
  void stop() override;
  bool ready() const override;
  void publish(const core::Message& m, PublishDone done) override;
  // Bumped when the Redis answering after a reconnect has another run id (INFO server) than the
  // one before: restarted (perhaps empty), or another server (a promoted replica) at the address.
  std::uint64_t epoch(const std::string& /*room*/) const override { return epoch_.load(std::memory_order_acquire); }
  void publish_in_epoch(const core::Message& m, std::uint64_t epoch, PublishDone done) override;
  void announce_room(const std::string& room, const std::string& by, AnnounceDone done) override;
  void lookup_room(const std::string& room, LookupDone done) override;
  void announce_access(const std::string& room, const std::string& user_id) override;
  void announce_sessions_ended(const std::string& user_id, const std::string& digest, const std::string& keep) override;
  void announce_name_registered(const std::string& name_key) override;
  void announce_read(const ReadNotice& notice) override;
  void announce_node_stats(const std::string& stats) override;
  void announce_disconnect(const std::string& name_key, const std::string& reason) override;
  void announce_drain(const std::string& node_id) override;
  void delete_room(const std::string& room, const std::string& by, AnnounceDone done) override;
  void subscribe(const std::string& room, std::function<void(std::error_code)> done) override;
  void unsubscribe(const std::string& room) override;
  void fetch(const std::string& room, std::uint64_t after, std::size_t limit, FetchDone done) override;
  void last_seqs(const std::vector<std::string>& rooms, SeqDone done) override;
  void presence_join(const std::string& room, const std::string& user, PresenceDone done) override;
  void presence_leave(const std::string& room, const std::string& user, PresenceDone done) override;
  void presence_sync(const std::string& room, std::vector<std::string> users, PresenceDone done) override;
  void presence_members(const std::string& room, MembersDone done) override;
  void presence_counts(const std::vector<std::string>& rooms, CountsDone done) override;

  std::string node_id() const override { return options_.node_id; }
  // With sentinels: times the primary moved (a failover followed); 0 otherwise.
  std::uint64_t primary_switches() const noexcept { return sentinel_ ? sentinel_->switches() : 0; }
  // Test hook: drop both connections and stop the heartbeat without removing this node's
  // presence, as a killed process would. The broker is stopped afterwards.
  void abandon();

 private:
  struct Beat;
  void start_heartbeat();
  void heartbeat(const std::shared_ptr<Beat>& beat);
  // Removes this node's presence entries (waits up to 1 s for Redis); from stop().
  void presence_goodbye();
  void presence_op(const char* op, const std::string& room, std::vector<std::string> users, PresenceDone done);
  bool on_presence_message(const std::string& room, std::string_view payload);

  // `done`, called once: with the reply, or with std::errc::timed_out after request_timeout_ms (a
  // late reply is dropped; the command may still have run).
  RedisClient::Callback bounded(RedisClient::Callback done);
  // On ctx_'s thread: sends `args` and calls `done` once, bounded as above. While the command
  // connection is down nothing is sent (not queued for the reconnect): `done` gets not_connected
  // at once.
  void bounded_command(const std::vector<std::string>& args, RedisClient::Callback done);
  std::string key(const std::string& room, const char* what) const;
  std::string channel(const std::string& room) const { return options_.prefix + ":room:" + room; }
  void on_channel_message(std::string_view channel, std::string_view payload);
  // Publishes one announcement on <prefix>:control; on_control decodes one (for the handler).
  void control(std::string payload);
  void on_control(std::string_view payload);
  // Tells the handler of every room ever announced (<prefix>:room-index), after a resubscribe.
  void replay_rooms();
  // On ctx_'s thread, once the command connection is up: reads the server's run id; publishes
  // are refused until it has answered (the epoch may be about to move).
  void check_run_id();

  RedisBrokerOptions options_;
  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::unique_ptr<SentinelLocator> sentinel_;  // with sentinels; before client_, which refers to it
  RedisClient client_;
  RedisScript publish_script_;
  RedisScript presence_script_;
  std::atomic<std::uint64_t> presence_ops_{0};
  std::shared_ptr<Beat> beat_;  // the heartbeat timer, on ctx_'s thread
  Handler* handler_ = nullptr;
  std::atomic<std::uint64_t> epoch_{0};
  std::string run_id_;  // ctx_'s thread: the run id of the Redis last connected to ("" none yet)
  // Written on ctx_'s thread: the connection's run id is known. Read by ready() too: until then a
  // publish is refused, so the broker is not ready (a reconnect used to look ready to /readyz and
  // to callers while every publish was still refused unavailable).
  std::atomic<bool> run_id_checked_{false};
  std::thread thread_;
  std::atomic<bool> started_{false};
};

}  // namespace parley::broker
