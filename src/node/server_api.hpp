#pragma once
// The server API (docs/api.md, "Server API"): what an operator's own backend and its bots do over
// HTTP with an API key, as Centrifugo's server API: publish a message to a room as a bot, create
// and delete rooms, invite, remove, ban, unban and set roles. Under /api/server/, with
// `Authorization: apikey <key>`.
//
// Who decides: the key is checked against the store on every request (no cache: a revoked key is
// refused at once on every node); its scopes say which calls it may make (auth::ApiScope); the
// room's rules decide the rest, by the same code as a client's request: a bot's message and the
// key's moderation act under a server id ("b_<name>", core::is_server_id: a room owner's rights,
// none in a direct conversation) and go through RoomOwner::send, RoomDirectory::create and
// ::remove, and Moderation::apply. Their answers come back as a client's would (an ack, an error
// event), to a waiter the request leaves on the room's owner shard (Shard::add_waiter), and are
// turned into HTTP here.
//
// Threads: handle_api() runs on a connection's loop thread; the key check on the store's thread;
// the call's parsing and checks on an I/O thread (a shard picked by the key), its work on the
// room's owner shard; the answer is posted to the connection by `respond`. The
// state here is thread-safe: budgets, counters and the in-flight count.
// Budgets: requests per client address (limits.request_rate_per_address, shared with its
// WebSocket frames) and per key (auth.api_rate_per_key), each a burst then a rate (429 with
// Retry-After); requests in flight on the node (auth.api_max_in_flight: 503).
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

#include "auth/api_key.hpp"
#include "core/keyed_limits.hpp"
#include "core/metrics.hpp"
#include "net/http_session.hpp"
#include "node/context.hpp"
#include "protocol/codec.hpp"

namespace parley::node {

class Moderation;
class RoomDirectory;
class RoomOwner;

class ServerApi final : public net::ApiService {
 public:
  ServerApi(NodeContext& ctx, RoomDirectory& rooms, RoomOwner& owner, Moderation& moderation);

  // A request under /api/server/ (Accounts hands them over).
  void handle_api(net::ApiRequest req, Respond respond) override;

  // The operator's commands (app/admin.cpp). `done` runs on the store's thread with an error
  // (bad_request, bad_name, store_failed) and its message, or {} and the answer's text.
  using AdminDone = std::function<void(std::error_code, std::string)>;
  // A new key named `name` (a display name: it is who the key's moderation is done by) with
  // `scopes` ("publish,rooms,members"): the answer is the key itself, shown this once.
  void create_key(const std::string& name, const std::string& scopes, AdminDone done);
  // One line per key, newest first: "<id> <name> scopes=<scopes> created=<ms> last_used=<ms>
  // revoked=<ms>" (0: never).
  void list_keys(AdminDone done);
  // Revokes the key of that id: its next request is refused, on every node.
  void revoke_key(const std::string& id, AdminDone done);

  // The calls, for the metrics' `call` label.
  enum class Call : std::uint8_t { publish, create_room, delete_room, add_member, remove_member, unban, other, count };
  static std::string_view call_name(Call c) noexcept;
  // The answers counted, by HTTP status; anything else is counted as 500.
  static constexpr std::array<unsigned, 12> statuses{200, 201, 204, 400, 401, 403, 404, 405, 409, 429, 500, 503};
  // parley_api_requests_total{call,status}: one counter per call and status.
  std::uint64_t requests(Call c, std::size_t status_index) const noexcept {
    return counts_[static_cast<std::size_t>(c)][status_index].get();
  }
  std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }

 public:
  // A checked key (the admin API checks its keys here too: node/admin_api.hpp).
  struct Key {
    std::string id;
    std::string name;
    std::uint8_t scopes = 0;
  };
  using Then = std::function<void(const Key&, Respond)>;
  // Checks the request's key (401) and its scope (403) on the store's thread, then runs `then`.
  // Counts against the address's request budget and the key's; `then` runs on an I/O thread.
  void with_key(const net::ApiRequest& req, auth::ApiScope scope, Respond respond, Then then);
  // An admin's delete of message `seq` of `room` (AdminApi: DELETE /api/admin/rooms/{room}/
  // messages/{seq}), by `actor` (the admin's name, or "key NAME"), decided as a moderator's delete
  // is (RoomOwner::change) with any message allowed; answered 200 {room, seq, target}, or the error.
  void delete_message(const std::string& room, std::uint64_t seq, const std::string& actor, Respond respond);

 private:
  void do_publish(const net::ApiRequest& req, Respond respond);
  void do_create_room(const net::ApiRequest& req, const Key& key, const Respond& respond);
  void do_delete_room(const std::string& room, Respond respond);
  void do_member(const net::ApiRequest& req, const std::string& room, const Key& key, Respond respond);
  void do_remove(const net::ApiRequest& req, const std::string& room, const std::string& user, bool unban,
                 const Key& key, Respond respond);
  // The account `name` (by its name key), then the moderation request `req` (invite, remove,
  // unban, set_role) as the key, on the room's owner shard: Moderation::apply decides.
  void moderate(protocol::Request req, const Key& key, const std::string& name, Respond respond);
  // Runs `call(owner, who)` on the room's owner shard, with a waiter there as `who`: its answer
  // (an event) goes to `answer`, which turns it into HTTP.
  void on_owner(const std::string& room, std::function<void(Shard&, SessionRef)> call,
                std::function<void(const std::string& event)> answer);

  NodeContext& ctx_;
  RoomDirectory& rooms_;
  RoomOwner& owner_;
  Moderation& moderation_;
  core::KeyedLimits per_key_;
  std::atomic<std::size_t> in_flight_{0};
  std::array<std::array<core::SharedCounter, statuses.size()>, static_cast<std::size_t>(Call::count)> counts_{};
};

}  // namespace parley::node
