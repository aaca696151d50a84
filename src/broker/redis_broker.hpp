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
// Channels: <prefix>:room:<room> (messages), <prefix>:rooms (room announcements).
//
// Threads: owns one thread running the Redis client's io_context; see broker.hpp.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <optional>
#include <thread>

#include "broker/broker.hpp"
#include "broker/redis_client.hpp"

namespace parley::broker {

struct RedisBrokerOptions {
  RedisOptions redis;
  std::string prefix = "parley";
  std::size_t log_capacity = 10000;  // messages per room kept in its stream, and cids remembered
};

// "redis://host:port" or "host:port" → options; throws std::invalid_argument.
RedisOptions parse_redis_url(const std::string& url);

// Encoding of a message in a stream entry and on a channel: "seq\nts\nfrom\ncid\ntext".
std::string encode_entry(const core::Message& m);
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
  void announce_room(const std::string& room, const std::string& by) override;
  void subscribe(const std::string& room, std::function<void(std::error_code)> done) override;
  void unsubscribe(const std::string& room) override;
  void fetch(const std::string& room, std::uint64_t after, std::size_t limit, FetchDone done) override;
  void last_seqs(const std::vector<std::string>& rooms, SeqDone done) override;

 private:
  std::string key(const std::string& room, const char* what) const;
  std::string channel(const std::string& room) const { return options_.prefix + ":room:" + room; }
  void on_channel_message(std::string_view channel, std::string_view payload);
  // Tells the handler of every room ever announced (<prefix>:room-index), after a resubscribe.
  void replay_rooms();

  RedisBrokerOptions options_;
  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  RedisClient client_;
  RedisScript publish_script_;
  Handler* handler_ = nullptr;
  std::thread thread_;
  std::atomic<bool> started_{false};
};

}  // namespace parley::broker
