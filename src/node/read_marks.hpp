#pragma once
// Read state (docs/protocol.md, "Read state"): each account's last-read seq per room, kept by the
// store (one row per account and room, only raised), and told to the user's sessions on every
// node so that their unread counts agree. Guests have none: their ids last a connection.
//
//   read      on the room's owner shard: the mark is clamped to the room's head, stored, and the
//             new state (the mark, the messages after it by others, those mentioning the user) goes
//             to the session that asked, to the user's other sessions here, and through the broker
//             to every other node (Broker::announce_read). In a small room ("seen by": a direct
//             conversation, or a private room of at most limits.seen_by_members members) its
//             members' sessions hear `seen` too.
//   joined    after an account's session joined a room: its state there, and in a small room
//             every member's mark (`seen`).
//   on_read   another node's announcement: the same events for this node's sessions.
//
// Budgets: a read is a request (its token, and one of limits.max_requests_in_flight while the
// store answers); the rows are one per account and room (parley_reads_stored_total counts writes).
#include <cstdint>
#include <string>

#include "broker/broker.hpp"
#include "node/context.hpp"

namespace parley::node {

class Delivery;
class RoomDirectory;

// Who reads: the account, its name (for "seen by") and name key (for mentions), its session.
struct Reader {
  std::string user_id;
  std::string name;
  std::string name_key;
  SessionRef who;
  std::string ref;
};

class ReadMarks {
 public:
  ReadMarks(NodeContext& ctx, RoomDirectory& rooms, Delivery& delivery)
      : ctx_(ctx), rooms_(rooms), delivery_(delivery) {}

  // On the room's owner shard; the session counted the request in flight.
  void read(Shard& owner, const std::string& room, std::uint64_t seq, Reader reader);
  // On the room's owner shard, after `joined` went to the session (not counted in flight).
  void joined(Shard& owner, const std::string& room, Reader reader);
  // broker::Handler::on_read, from the broker's thread.
  void on_read(const broker::ReadNotice& notice);

 private:
  // Whether the room shows "seen by" (see above).
  bool small(const OwnedRoom& r) const;
  // The events of a moved mark for this node's sessions: `read` to the user's sessions but
  // `except`, and `seen` to the room's member sessions when `notice.name` is set.
  void tell_local(const broker::ReadNotice& notice, std::uint64_t except);

  NodeContext& ctx_;
  RoomDirectory& rooms_;
  Delivery& delivery_;
};

}  // namespace parley::node
