#pragma once
// Every limit of a node, with its default and the reason for it. Configured as `limits.<name>`
// (see docs/operations.md); each is enforced with a clear error and has a test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
  std::uint32_t handshake_timeout_ms = 5000;  // TCP accept → complete upgrade request
  std::uint32_t hello_timeout_ms = 10000;     // upgrade → hello
  std::uint32_t ping_interval_ms = 20000;     // ping a client that has been silent this long
  std::uint32_t pong_timeout_ms = 20000;      // …and close it if still silent after this
  std::uint32_t close_timeout_ms = 2000;      // wait for the peer's close frame
  std::uint32_t typing_interval_ms = 1000;    // at most one typing event per room per this
  std::size_t history_limit = 100;            // largest page of history
  // Reactions one message may hold: distinct emoji, and emoji of one user (too_many_reactions).
  std::size_t max_reaction_emoji = 20;
  std::size_t max_reactions_per_user = 10;
  std::size_t rooms_page = 100;      // largest page of `rooms` (and the default)
  std::size_t members_page = 100;    // members listed in `joined` (the rest by `members`), and its largest page
  std::size_t resume_limit = 10000;  // most messages sent for a join with since
  std::size_t max_header_bytes = std::size_t{8} * 1024;  // HTTP request header

  // --- What one client may make the node hold or do (docs/security.md) ---

  // Every frame a connection sends, text or control, takes a token: past the rate the connection
  // is failed with 1008. 0: four times request_rate and request_burst, so that a chatty client meets
  // the request bucket (and polite `rate_limited` answers) long before this, and a flood meets this.
  double frame_rate = 0;
  double frame_burst = 0;
  // A frame (or a fragmented message) once begun must be whole within this, or 1008: a client
  // trickling a frame a byte at a time holds its partial frame no longer.
  std::uint32_t frame_timeout_ms = 10000;
  // Requests whose answer a room's owner builds (join, history, rooms, members, create) that one
  // connection may have unanswered at once; past it, and while the connection has more than half
  // of max_outbound_bytes unread, such requests get rate_limited: a reply is built only for a
  // client that reads.
  std::size_t max_requests_in_flight = 8;
  // Connections of the whole node, 0: the descriptor limit less 256 (the store, the broker, the
  // logs and HTTP keep theirs). Past it a new connection is answered 503 at once, not left in
  // the listen backlog.
  std::size_t max_connections = 0;
  // Per client address (an IPv4 address, an IPv6 /64; behind trusted proxies, the address their
  // PROXY header gives), across all its connections and I/O threads: connections open, new
  // connections per second (429 past either), sends and requests per second (rate_limited).
  std::size_t max_connections_per_address = 1000;
  double connect_rate_per_address = 50;
  double connect_burst_per_address = 200;
  double send_rate_per_address = 100;
  double send_burst_per_address = 200;
  double request_rate_per_address = 500;
  double request_burst_per_address = 1000;
  // Per user (the display name, until accounts) across all its connections: sends per second.
  double send_rate_per_user = 20;
  double send_burst_per_user = 40;
  // Room creations per address and per user (a rate: one per 10 s, ten saved up), and rooms on
  // the node in all (room_limit past it).
  double room_create_rate = 0.1;
  double room_create_burst = 10;
  std::size_t max_rooms = 10000;
  // Rows of a room's access (members with a role, and bans) the node keeps: a joiner by password,
  // an invitation, a ban or a role past it is refused (forbidden). At most
  // store::Store::max_loaded_members.
  std::size_t max_room_members = 10000;
  // Resident memory past which the node sheds load: new connections get 503 and new work
  // `overloaded`, until it is under 90% of this again. 0: 80% of the cgroup's memory limit, or
  // of the machine's memory.
  std::size_t max_memory_bytes = 0;
  // Keys (addresses, users) the per-key budgets remember; see core::KeyedLimits.
  std::size_t max_tracked_keys = 100000;
  // Admin sessions watching the admin channel (admin_watch) at once on this node: each costs a
  // stats event a second, a gather over every shard for its first one. A console or two per
  // operator; past it, too_many_watchers.
  std::size_t admin_watchers = 8;
  // "Seen by" (docs/protocol.md, "Read state"): a private room with at most this many members
  // shows its members' read marks to each other (a direct conversation always does); past it a
  // read is told to the reader's own sessions only, as a crowd's reads would be a crowd's fan-out.
  std::size_t seen_by_members = 20;
  // Search (docs/protocol.md, "search"): a query's length in code points (bad_request past it),
  // the largest page of hits (and a search's default page is 20, or this if smaller), searches
  // per second per connection and at once (rate_limited), and searches the node's store works on
  // at once, from every connection (overloaded past it): a search of a common word reads many
  // index entries (SQLite has one search thread; PostgreSQL runs them between its commits).
  std::size_t max_search_length = 200;
  std::size_t search_limit = 50;
  double search_rate = 1;
  double search_burst = 5;
  std::size_t max_searches_in_flight = 4;
  // Files one message may carry (send's `files`; bad_request past it).
  std::size_t max_files_per_message = 10;
};

// Files and images (docs/api.md "Files"): `files.<name>` in the configuration.
struct FileOptions {
  // Where uploads are kept (their bytes, and the temporary files of uploads under way); "": the
  // directory `files` beside the SQLite database. A cluster needs one directory every node shares.
  std::string dir;
  // Bytes of one upload: past it 413 file_too_large, by Content-Length before any is read.
  std::uint64_t max_bytes = std::uint64_t{25} * 1024 * 1024;
  // Uploads being received or processed at once on this node: past it 503 overloaded.
  std::size_t max_in_flight = 16;
  // Of those, uploads from one client address at once (429 past it): one address cannot hold
  // every slot of the node with slow bodies.
  std::size_t max_uploads_per_address = 4;
  // An upload must be whole within this (its body is read no longer).
  std::uint32_t upload_timeout_ms = 300000;
  // Types (by content, libmagic) an upload may have; "audio/*" takes every audio type.
  std::vector<std::string> allowed_types = {"image/png",       "image/jpeg", "image/gif",       "image/webp",
                                            "application/pdf", "text/plain", "application/zip", "audio/*",
                                            "video/mp4",       "video/webm"};
  // Uploads per account: a rate per second and a burst (429 rate_limited past it).
  double upload_rate = 0.5;
  double upload_burst = 10;
  // Bytes one account may have stored in all (its files attached or not): 413 quota_exceeded.
  std::uint64_t max_bytes_per_account = std::uint64_t{1024} * 1024 * 1024;
  // An upload no message has taken within this is removed.
  std::uint64_t unattached_ttl_ms = std::uint64_t{3600} * 1000;
  // Threads that examine uploads (type, image decoding, thumbnails) and the jobs that may wait.
  std::size_t workers = 2;
  std::size_t worker_queue = 64;
  // A thumbnail's largest side, in pixels.
  unsigned thumb_size = 320;
  // How long a browser may keep a fetched file (Cache-Control: private, max-age).
  std::uint32_t cache_max_age_s = 3600;
};

// Per room, on its owner thread.
struct RoomOptions {
  std::size_t recent_messages = 1024;  // in-memory ring: most resumes never touch the store
  std::size_t dedupe_window = 10000;   // the last cids remembered for idempotent retry
  // A room's presence changes are sent together, this long after the first of them (0: each at
  // once), so that a crowd arriving at once costs each member one write per batch.
  std::size_t presence_batch_ms = 50;
  // A room with no member on this node and no work under way for this long gives its ring and
  // cids back (they load from the store again on the next request), so that memory follows the
  // rooms in use, not every room ever touched. 0: never.
  std::size_t idle_unload_ms = 300000;
};

}  // namespace parley::core
