#pragma once
// The session side of the protocol: runs on the session's own shard. Every frame a client sends
// arrives here (net::ConnectionHandler), is parsed (protocol/codec), checked against everything
// that needs no room state (hello, rate limits, ids, text, membership) and either answered at
// once or handed to the room's owner shard (RoomOwner, RoomDirectory) by post(). Requests behind
// a pending join wait for its answer, which comes back here (joined / join_refused), so that a
// client's requests are answered in order.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "net/connection.hpp"
#include "node/context.hpp"
#include "node/outbox.hpp"
#include "protocol/codec.hpp"

namespace parley::node {

class AdminWatch;
class Delivery;
class Moderation;
class ReadMarks;
class RoomDirectory;
class RoomOwner;

class Requests final : public net::ConnectionHandler {
 public:
  Requests(NodeContext& ctx, RoomOwner& owner, RoomDirectory& rooms, Delivery& delivery, Moderation& moderation,
           ReadMarks& read_marks)
      : ctx_(ctx),
        owner_(owner),
        rooms_(rooms),
        delivery_(delivery),
        moderation_(moderation),
        read_marks_(read_marks) {}

  // net::ConnectionHandler, on the connection's thread.
  void on_open(net::Connection& c) override;
  void on_text(net::Connection& c, std::string_view frame) override;
  void on_closed(net::Connection& c) override;

  // The owner's answer to a join, applied on the session's shard (Delivery::apply): the session
  // is in the room from here on, hears `joined` and the gap, and its held requests go on.
  void joined(Shard& shard, ShardItem& item);
  void join_refused(Shard& shard, ShardItem& item);
  // Once a second: sessions that have not said hello within limits.hello_timeout_ms are closed.
  void tick(Shard& shard, std::int64_t now_ms);

  // The admin channel's (admin_watch, admin_unwatch); set before the shards run. Without one,
  // admin_watch is forbidden.
  void set_admin_watch(AdminWatch* watch) noexcept { admin_watch_ = watch; }

  void send_error(Client& s, protocol::errc code, std::string_view ref, std::string_view message = {},
                  std::string_view extra = {});

 private:
  void handle_frame(Client& s, std::string_view frame);
  void do_hello(Client& s, protocol::Request& r);
  // Hello accepted: `name` is the client's from now on.
  void welcome(Client& s, std::string name, const std::string& ref);
  // A hello checked off the shard (by the store) is decided: on the client's shard, if the client
  // is still there, `finish` answers it; then the requests held behind the hello go on.
  void welcomed(SessionRef who, std::function<void(Client&)> finish);
  void do_rooms(Client& s, protocol::Request& r);
  void do_create(Client& s, protocol::Request& r);
  void do_join(Client& s, protocol::Request& r);
  void do_leave(Client& s, protocol::Request& r);
  void do_send(Client& s, protocol::Request& r);
  // edit and delete: checked as a send is (text, budgets), then decided by the room's owner.
  void do_change(Client& s, protocol::Request& r);
  // The text rules of a send and an edit; false: refused, the error sent.
  bool check_text(Client& s, const protocol::Request& r);
  // The send budgets (per connection, address, user); false: refused, the error sent.
  bool take_send_budget(Client& s, const protocol::Request& r, std::int64_t now);
  void do_typing(Client& s, protocol::Request& r);
  void do_history(Client& s, protocol::Request& r);
  void do_members(Client& s, protocol::Request& r);
  void do_roster(Client& s, protocol::Request& r);
  // invite, remove, unban, set_role: the target account by name, then Moderation on the owner.
  void do_moderate(Client& s, protocol::Request& r);
  // update_room, delete_room: checked here (a guest, the title and topic), decided by the owner
  // (Moderation::configure).
  void do_configure(Client& s, protocol::Request& req);
  // dm: the direct conversation with an account, made on the first request.
  void do_dm(Client& s, protocol::Request& r);
  // read: an account's mark in a room it is joined to (node/read_marks.hpp).
  void do_read(Client& s, protocol::Request& r);
  // search: the messages of the rooms the user may read (node/search.cpp; docs/protocol.md, "search").
  void do_search(Client& s, protocol::Request& r);
  // The search's rooms decided (on the client's shard): the store's search, then the answer.
  void run_search(SessionRef who, std::string ref, std::string q, store::SearchQuery query, std::int64_t started_ns);
  // admin_watch, admin_unwatch (node/admin_watch.hpp).
  void do_admin_watch(Client& s, protocol::Request& r);
  // Handles the requests held behind a join that has just been answered.
  void replay_held(Client& s);

  NodeContext& ctx_;
  RoomOwner& owner_;
  RoomDirectory& rooms_;
  Delivery& delivery_;
  Moderation& moderation_;
  ReadMarks& read_marks_;
  AdminWatch* admin_watch_ = nullptr;
};

}  // namespace parley::node
