#pragma once
// A client as the node sees it: who it is, which rooms it is in, and a transport that queues
// events for it. The transport (net::WsSession) implements the three virtual functions.
// Everything here is touched only on the session's own shard thread.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "core/token_bucket.hpp"
#include "protocol/ws_frame.hpp"

namespace parley::node {

class Shard;
class SendBatch;

class Session : public std::enable_shared_from_this<Session> {
 public:
  struct JoinedRoom {
    std::string room;
    std::int64_t last_typing_ms = 0;
    std::uint32_t hub_index = 0;  // position in the shard hub's member list of the room
  };

  Session(Shard& shard, std::uint64_t id, const core::Limits& limits)
      : shard_(shard),
        id_(id),
        send_bucket_(limits.send_rate, limits.send_burst),
        request_bucket_(limits.request_rate, limits.request_burst) {}
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Queues one event (one JSON object, no newline). It is written at the end of the loop turn,
  // with every other event queued for this client meanwhile, as one frame.
  virtual void enqueue(std::string_view event) = 0;
  // The same for one or more events ('\n'-separated) that many sessions get: a transport may
  // keep the reference instead of a copy. By default, each event is queued on its own.
  virtual void enqueue_shared(const std::shared_ptr<const std::string>& events) {
    std::string_view rest(*events);
    for (auto nl = rest.find('\n'); nl != std::string_view::npos; nl = rest.find('\n')) {
      enqueue(rest.substr(0, nl));
      rest.remove_prefix(nl + 1);
    }
    enqueue(rest);
  }
  // Writes what is queued (called once per loop turn by the shard for each session that queued).
  virtual void flush() = 0;
  // The same, batched: the transport may add its write to `batch` instead of writing it now,
  // and return true; the shard then submits one batch for all its sessions and hands each its
  // outcome with sent() (see SendBatch::submit). By default it writes itself.
  virtual bool flush_into(SendBatch& batch) {
    (void)batch;
    flush();
    return false;
  }
  virtual void sent(std::int64_t result, std::size_t total) {
    (void)result;
    (void)total;
  }
  // Starts the closing handshake with `code`; the session leaves its rooms.
  virtual void close(protocol::CloseCode code, std::string_view reason) = 0;
  // Called about once a second by the shard: heartbeats and timeouts.
  virtual void tick(std::int64_t now_ms) = 0;

  Shard& shard() const noexcept { return shard_; }
  std::uint64_t id() const noexcept { return id_; }

  // Protocol state, for node/commands.cpp.
  std::string user;  // empty until hello
  std::vector<JoinedRoom> rooms;
  std::vector<std::string> joining;  // join sent to the owner, not answered yet
  // Requests that arrived while a join was pending: replayed in order once it is answered, so
  // that a client may send `join` and then `send` without waiting (requests are answered in order).
  // A vector, not a deque: an empty std::deque allocates ~576 bytes, which every idle connection
  // would carry (a third of its memory). At most 64 entries (commands.cpp), so popping the front
  // of a vector is cheap.
  std::vector<std::string> held;
  std::size_t held_bytes = 0;
  core::TokenBucket& send_bucket() noexcept { return send_bucket_; }
  core::TokenBucket& request_bucket() noexcept { return request_bucket_; }
  JoinedRoom* find_room(std::string_view room) noexcept {
    for (auto& r : rooms)
      if (r.room == room) return &r;
    return nullptr;
  }
  bool is_joining(std::string_view room) const noexcept {
    for (const auto& r : joining)
      if (r == room) return true;
    return false;
  }

 private:
  Shard& shard_;
  std::uint64_t id_;
  core::TokenBucket send_bucket_;
  core::TokenBucket request_bucket_;
};

// How another thread names a session: its shard and id. The session may be gone by the time a
// message for it arrives; the shard then drops the message.
struct SessionRef {
  unsigned shard = 0;
  std::uint64_t id = 0;
};

}  // namespace parley::node
