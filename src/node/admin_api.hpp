#pragma once
// The admin API (docs/api.md, "Admin API"): what the admin console (/admin) and `parley admin
// --url` do, under /api/admin/: the cluster's nodes and their stats, the busiest rooms, and the
// actions: delete a room, disconnect a user everywhere, ban an account, drain a node.
//
// Who may: a session of an account listed in auth.admins (by name or id: configuration, not a
// stored flag, so that every node decides alike from its own config and nothing a client can
// reach, a database row included, can make an admin), or an API key with the `admin` scope (made
// by the operator on the node's Unix socket, as every key). Checked on every request, on the node
// that serves it: the session (or key) is looked up in the store each time, so a signed-out
// admin or a revoked key is refused at once on every node. No credentials: 401; credentials of a
// non-admin or a key without the scope: 403; every refusal a JSON body {code,message}.
//
// Nodes: each node samples its own counters once a second (Node::on_tick, shard 0) and
// publishes them through the broker's control channel (broker::Broker::announce_node_stats);
// every node keeps the last stats it heard from each node, its own included. A node heard from
// within node_quiet_ms is up; one silent for node_forget_ms is forgotten. A node without a
// broker lists itself.
//
// Threads: handle_api() on a connection's loop; the credentials' check on the store's thread;
// the call on an I/O thread or a room's owner. The node table is the one lock here (`mutex_`,
// held to copy or replace an entry, never over I/O): it is written by the broker's thread and
// shard 0, and read by any I/O thread that serves GET nodes.
// Budgets: requests per client address (limits.request_rate_per_address, with its WebSocket
// frames), per key (auth.api_rate_per_key, as the server API); nodes in the table: max_nodes.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics.hpp"
#include "net/http_session.hpp"
#include "node/context.hpp"
#include "protocol/events.hpp"

namespace parley::node {

class RoomDirectory;
class ServerApi;

class AdminApi final : public net::ApiService {
 public:
  // What the node does for the API (node/node.cpp), from any thread.
  struct Hooks {
    std::function<bool()> draining;  // this node is draining
    std::function<void()> drain;     // drain this node, as on SIGTERM (app/server.cpp)
    // Close (1008, `reason`) this node's sessions whose name has the key `name_key`.
    std::function<void(const std::string& name_key, const std::string& reason)> disconnect;
    // Every session of the account `user_id` has ended (in the store): close their WebSockets
    // here and on every node (Accounts' ended-session path).
    std::function<void(const std::string& user_id)> sessions_ended;
  };
  // One second's sample of this node's counters (Node::admin_sample).
  struct Sample {
    std::uint64_t connections = 0, rooms = 0, deliveries = 0, slow_consumer_closes = 0, rate_limited = 0;
    std::uint64_t flood_closes = 0, broker_catchups = 0;
    std::array<std::uint64_t, core::Histogram::bounded + 1> commit{};  // the commit histogram's buckets
  };

  static constexpr std::size_t max_nodes = 256;  // nodes kept in the table; others are ignored
  static constexpr std::int64_t node_quiet_ms = 5000;
  static constexpr std::int64_t node_forget_ms = 60000;
  static constexpr std::size_t default_rooms = 10, max_rooms = 100;

  AdminApi(NodeContext& ctx, RoomDirectory& rooms, ServerApi& keys, Hooks hooks);

  // A request under /api/admin/ (Accounts hands them over).
  void handle_api(net::ApiRequest req, Respond respond) override;

  // Once a second, on shard 0: this node's stats from `sample`, kept and published.
  void tick(std::int64_t now_ms, const Sample& sample);
  // From the broker's thread (broker::Handler).
  void on_node_stats(const std::string& node_id, const std::string& stats);
  void on_drain_requested(const std::string& node_id);
  // This node's id: the broker's, or "local" without one.
  std::string node_id() const;
  // Whether the account may use the admin API (auth.admins lists its name or id).
  bool is_admin(const store::StoredUser& user) const;
  // The same for a WebSocket session (the admin channel): an account's (user_id "u_…": a guest
  // may hold a listed name no account has taken), listed by id or name.
  bool is_admin_session(std::string_view user_id, std::string_view name) const;

  // The admin channel's data (node/admin_watch.hpp): the node table as GET nodes lists it, and the
  // busiest rooms as GET rooms; `done` runs on the shard that answers last.
  std::vector<protocol::AdminNode> nodes_snapshot() const;
  void busiest_rooms(std::size_t limit, std::function<void(std::vector<protocol::AdminRoom>)> done);

  // parley_admin_requests_total{status}: every answer, by HTTP status (the others as 500).
  static constexpr std::array<unsigned, 10> statuses{200, 202, 204, 400, 401, 403, 404, 405, 429, 503};
  std::uint64_t requests(std::size_t status_index) const noexcept { return counts_[status_index].get(); }
  std::size_t nodes_known() const;

 private:
  struct Who {
    std::string name;  // who acted, for the log: an account's name, or "key <name>"
  };
  using Then = std::function<void(const Who&, Respond)>;
  // Checks the request's credentials (401, 403), then runs `then` on an I/O thread.
  void with_admin(const net::ApiRequest& req, Respond respond, Then then);
  void do_nodes(const Respond& respond) const;
  void do_rooms(const std::string& query, const Respond& respond);
  void do_delete_room(const std::string& room, const Who& who, Respond respond);
  void do_delete_message(const std::string& room, const std::string& seq, const Who& who, Respond respond);
  void do_disconnect(const std::string& user, const Who& who, const Respond& respond);
  void do_ban(const std::string& user, const Who& who, Respond respond);
  // Lifts a ban: the account's hash without its prefix, so that its password verifies again.
  void do_unban(const std::string& user, const Who& who, Respond respond);
  // Ban and unban: the account named `user`, looked up by its name's skeleton; a bad name is 400,
  // a store failure 503, no such account 404, each answered here; `then` gets the account.
  void with_account(const std::string& user, Respond respond,
                    std::function<void(const store::StoredUser&, Respond)> then);
  void do_drain(const std::string& node, const Who& who, const Respond& respond);

  struct NodeEntry {
    std::string stats;           // a JSON object, as published
    protocol::AdminNode parsed;  // its values (the admin channel's)
    std::int64_t heard_ms = 0;
  };

  NodeContext& ctx_;
  RoomDirectory& rooms_;
  ServerApi& keys_;
  Hooks hooks_;
  std::set<std::string> admin_ids_, admin_keys_;  // auth.admins: ids as given, names by name key
  mutable std::mutex mutex_;
  std::map<std::string, NodeEntry> nodes_;  // guarded by mutex_
  // tick()'s (shard 0's) own: the previous sample, for the rates of the last second.
  Sample last_{};
  std::int64_t last_ms_ = 0;
  std::array<core::SharedCounter, statuses.size()> counts_{};
};

}  // namespace parley::node
