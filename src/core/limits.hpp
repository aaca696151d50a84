#pragma once
// Every limit of a node, with its default and the reason for it. Configured as `limits.<name>`
// (see docs/operations.md); each is enforced with a clear error and has a test.
#include <cstddef>
#include <cstdint>

namespace parley::core {

struct Limits {
  // 64 KiB: a chat request is small; a client sending more is broken or hostile (close 1009).
  std::size_t max_frame_bytes = std::size_t{64} * 1024;
  // Code points of one message text (error text_too_long).
  std::size_t max_text_length = 4000;
  // Token bucket per connection for send and typing: rate per second and burst.
  double send_rate = 10;
  double send_burst = 20;
  // Every request counts against a looser bucket, so that no request type floods the node.
  double request_rate = 50;
  double request_burst = 100;
  std::size_t max_rooms_per_connection = 100;
  // 4 MiB: the server stops queueing for a client that reads slower than its rooms talk and
  // closes it with 1013; it resumes from its last seq.
  std::size_t max_outbound_bytes = std::size_t{4} * 1024 * 1024;
  std::uint32_t handshake_timeout_ms = 5000;             // TCP accept → complete upgrade request
  std::uint32_t hello_timeout_ms = 10000;                // upgrade → hello
  std::uint32_t ping_interval_ms = 20000;                // ping a client that has been silent this long
  std::uint32_t pong_timeout_ms = 20000;                 // …and close it if still silent after this
  std::uint32_t close_timeout_ms = 2000;                 // wait for the peer's close frame
  std::uint32_t typing_interval_ms = 1000;               // at most one typing event per room per this
  std::size_t history_limit = 100;                       // largest page of history
  std::size_t resume_limit = 10000;                      // most messages sent for a join with since
  std::size_t max_header_bytes = std::size_t{8} * 1024;  // HTTP request header
};

// Per room, on its owner thread.
struct RoomOptions {
  std::size_t recent_messages = 1024;  // in-memory ring: most resumes never touch the store
  std::size_t dedupe_window = 10000;   // the last cids remembered for idempotent retry
  // A room's presence changes are sent together, this long after the first of them (0: each at
  // once), so that a crowd arriving at once costs each member one write per batch.
  std::size_t presence_batch_ms = 50;
};

}  // namespace parley::core
