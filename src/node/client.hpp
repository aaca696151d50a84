#pragma once
// One client as the node sees it: who it is, which rooms it is in, its requests waiting behind a
// join, its rate limits. Attached to its connection (net::Connection::attach) when the
// connection opens and destroyed with it; the hub delivers to it (hub::Member), and it passes
// everything on to its connection. Touched only on its connection's thread.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/limits.hpp"
#include "core/token_bucket.hpp"
#include "hub/member.hpp"
#include "net/connection.hpp"

namespace parley::node {

class Shard;

class Client final : public net::ConnectionState, public hub::Member {
 public:
  struct JoinedRoom {
    std::string room;
    std::int64_t last_typing_ms = 0;
  };

  Client(net::Connection& connection, Shard& shard, const core::Limits& limits, std::int64_t opened_ms)
      : connection_(connection),
        shard_(shard),
        opened_ms_(opened_ms),
        send_bucket_(limits.send_rate, limits.send_burst),
        request_bucket_(limits.request_rate, limits.request_burst),
        search_bucket_(limits.search_rate, limits.search_burst) {}

  // The client of a connection the node has seen open.
  static Client& of(net::Connection& c) noexcept { return static_cast<Client&>(*c.state()); }

  net::Connection& connection() const noexcept { return connection_; }
  Shard& shard() const noexcept { return shard_; }
  std::uint64_t id() const noexcept { return connection_.id(); }
  std::int64_t opened_ms() const noexcept { return opened_ms_; }

  // Queues an event for this client (written at the end of the loop turn).
  void send(std::string_view event) { connection_.enqueue(event); }

  // hub::Member
  std::uint64_t member_id() const noexcept override { return connection_.id(); }
  void deliver(std::string_view event) override { connection_.enqueue(event); }
  void deliver_shared(const std::shared_ptr<const std::string>& events) override { connection_.enqueue_shared(events); }

  // Protocol state, for the session side (node/requests.cpp).
  std::string user;  // empty until hello
  // The user's id once welcomed: the account's ("u_…") when signed in, "x_" + sub for a JWT, else
  // a guest's made for this connection ("g_…", core::is_guest_id). Messages carry it as "uid".
  std::string user_id;
  std::string session;  // the digest of the session it signed in with (Accounts::set_on_ended); a
                        // JWT has none: nothing ends it before its exp
  // A hello is being checked (a session token, a JWT, or a guest's name against the accounts): requests
  // that arrive meanwhile are held, as behind a join.
  bool welcoming = false;
  bool admin_watching = false;  // on the admin channel (node/admin_watch.hpp)
  std::vector<JoinedRoom> rooms;
  std::vector<std::string> joining;  // join sent to the owner, not answered yet
  // Requests that arrived while a join was pending: replayed in order once it is answered, so
  // that a client may send `join` and then `send` without waiting (requests are answered in order).
  // A vector, not a deque: an empty std::deque allocates ~576 bytes, which every idle connection
  // would carry (a third of its memory). At most 64 entries (requests.cpp), so popping the front
  // of a vector is cheap.
  std::vector<std::string> held;
  std::size_t held_bytes = 0;
  // Requests whose answer a room's owner builds, sent and not answered yet (Delivery::answer, and
  // the answers to joins): at most limits.max_requests_in_flight.
  std::uint32_t in_flight = 0;
  core::TokenBucket& send_bucket() noexcept { return send_bucket_; }
  core::TokenBucket& request_bucket() noexcept { return request_bucket_; }
  core::TokenBucket& search_bucket() noexcept { return search_bucket_; }
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
  net::Connection& connection_;
  Shard& shard_;
  std::int64_t opened_ms_;
  core::TokenBucket send_bucket_;
  core::TokenBucket request_bucket_;
  core::TokenBucket search_bucket_;  // limits.search_rate, search_burst
};

// How another thread names a client: its shard and id. The client may be gone by the time a
// message for it arrives; the shard then drops the message.
struct SessionRef {
  unsigned shard = 0;
  std::uint64_t id = 0;
};

}  // namespace parley::node
