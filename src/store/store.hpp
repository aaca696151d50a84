#pragma once
// Store: where messages and rooms are durable. One interface, two implementations with one
// contract test suite (tests/contract/store_contract_test.cpp): SqliteStore (the embedded default) and
// PostgresStore (a cluster).
//
// Threads: start-up calls (open, load_rooms, create_room_now) run before any I/O thread. Every
// other call may come from any thread; the work runs on the store's own thread, and its
// completion handler is called there, in submission order. Callers post back to their executor.
// Ordering: appends commit in submission order; a read sees every append whose completion ran.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/message.hpp"

namespace parley::store {

struct StoredRoom {
  std::string id;
  std::uint64_t last_seq = 0;
  std::int64_t created_at = 0;
  std::string created_by;
};

struct StoreStats {
  std::uint64_t batches = 0;
  std::uint64_t messages = 0;
  std::uint64_t batch_micros_total = 0;  // sum of commit times
  std::uint64_t queued = 0;              // messages waiting for commit now
  std::uint64_t failures = 0;            // failed commits (each retried)
};

class Store {
 public:
  using Done = std::function<void(std::error_code)>;
  using ReadDone = std::function<void(std::error_code, std::vector<core::Message>)>;
  using FindRoomDone = std::function<void(std::error_code, std::optional<StoredRoom>)>;

  virtual ~Store() = default;

  virtual std::vector<StoredRoom> load_rooms() = 0;
  // Creates a room synchronously at start-up (the default room); no-op when it exists.
  virtual void create_room_now(const StoredRoom& room) = 0;

  // Stores a new room; errc::room_exists if the store has one of that id already (created
  // elsewhere: in a cluster another node's, or one whose record the broker lost). A row with the
  // same created_at and created_by is this very creation, stored by an attempt whose answer was
  // lost (a dropped connection): that is success.
  virtual void create_room(StoredRoom room, Done done) = 0;
  // Deletes a room and every message of it; success if there was no such room. Appends
  // submitted before it are committed first (and deleted with it).
  virtual void delete_room(std::string room, Done done) = 0;
  // False while the queue of appends holds its limit: callers refuse new sends (errc::overloaded)
  // before assigning a seq. Checked, not reserved: a turn's worth of appends may overshoot.
  virtual bool has_capacity() const = 0;
  // Queues a batch of messages (seqs assigned, any rooms). A failed commit is retried until it
  // succeeds or the store stops: an assigned seq is never skipped.
  virtual void append(std::vector<core::Message> batch, Done done) = 0;
  // The newest `limit` messages of `room` with after < seq < before, ascending. before = 0 means
  // no upper bound.
  virtual void read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit, ReadDone done) = 0;
  // The room as stored (last_seq: its highest stored seq), or nullopt without an error if the
  // store has no such room. For a cluster node asked for a room it has not heard of, when the
  // broker's room index does not have it or does not answer (Node::find_room): a room is stored
  // before it is announced.
  virtual void find_room(std::string room, FindRoomDone done) = 0;

  // Blocks until everything queued so far has committed and its completions ran.
  virtual void flush() = 0;
  // Flushes, then stops the store thread. Later calls fail with errc::store_failed.
  virtual void stop() = 0;
  virtual StoreStats stats() const = 0;
};

}  // namespace parley::store
