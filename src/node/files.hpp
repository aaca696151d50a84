#pragma once
// Files and images (docs/api.md, "Files"): uploads to a room, their fetch by its readers, and
// their bytes on disk. A message carries uploads by id (send's `files`: Requests takes them with
// Store::claim_files); a file goes with its message (the store moves its id to a trash, and the
// sweep here removes its bytes), or unattached after files.unattached_ttl_ms.
//
// Who decides what: the HTTP session reads an upload's body into a temporary file (never into
// memory); here, its account is authenticated, its room's owner shard answers whether it may post
// there (the same access decision as a send), and a worker pool (files.workers, a bounded queue)
// finds its type by content (libmagic) and, for an image, decodes it (libvips), re-encodes it
// without its metadata and makes a thumbnail. Only then is it moved into files.dir and its row
// stored. A fetch asks the room's owner, at each request, what history asks: a user removed from
// a private room is refused at once.
//
// Threads: handle_api and admit_upload run on a loop thread; the rest hops to the owner shard,
// the pool and the store thread, each step a callback, as Accounts does.
// Budgets (each a setting and a metric): files.max_bytes (413 before reading), max_in_flight
// (503), the per-account upload rate (429), max_bytes_per_account (413 quota_exceeded), the
// pool's queue (503).
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "auth/hash_pool.hpp"
#include "core/keyed_limits.hpp"
#include "core/limits.hpp"
#include "core/metrics.hpp"
#include "net/http_session.hpp"
#include "store/store.hpp"

namespace parley::node {

struct NodeContext;
class RoomDirectory;

class Files {
 public:
  Files(NodeContext& ctx, RoomDirectory& rooms);
  ~Files();
  Files(const Files&) = delete;
  Files& operator=(const Files&) = delete;

  // POST /api/rooms/{room}/files, GET and HEAD /api/files/{id} and /api/files/{id}/thumb.
  bool handles(std::string_view path) const;
  void handle_api(net::ApiRequest req, net::ApiService::Respond respond);
  bool upload_path(std::string_view method, std::string_view path) const;
  net::UploadAdmission admit_upload(const net::ApiRequest& req, std::uint64_t content_length);

  // About once a second (one thread): every minute, the trash's files lose their bytes.
  void sweep(std::int64_t now_ms);
  // Stops the pool (before the store stops).
  void stop();

  // The JSON array of a message's `files` (docs/protocol.md), in the order given.
  static std::string files_json(const std::vector<store::StoredFile>& files);

  struct Counters {
    core::SharedCounter uploads;       // stored
    core::SharedCounter upload_bytes;  // their bytes as stored
    core::SharedCounter fetches;       // files and thumbnails served
    core::SharedCounter removed;       // files whose bytes the sweep removed
    core::SharedCounter thumb_ns;      // time making thumbnails and re-encoding images
    core::SharedCounter too_large;     // refused: files.max_bytes (413)
    core::SharedCounter bad_type;      // refused: type not allowed or undecodable image (415)
    core::SharedCounter rate_limited;  // refused: the account's upload rate (429)
    core::SharedCounter over_quota;    // refused: files.max_bytes_per_account (413)
    core::SharedCounter overloaded;    // refused: files.max_in_flight or the pool's queue (503)
    core::SharedCounter per_address;   // refused: files.max_uploads_per_address (429)
    core::SharedCounter anonymous;     // refused before the body: no session token at all (401)
    core::SharedCounter forbidden;     // refused: may not post in the room, or read it (403)
  };
  const Counters& counters() const noexcept { return counters_; }
  std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
  const auth::HashPool& pool() const noexcept { return pool_; }
  const core::FileOptions& options() const noexcept { return options_; }

 private:
  void upload(net::ApiRequest req, net::ApiService::Respond respond);
  void fetch(const net::ApiRequest& req, std::string id, bool thumb, net::ApiService::Respond respond);
  // The fetch once the asker is known: an account's id, or "" for a guest (public rooms only).
  void fetch_as(std::string user, std::string id, bool thumb, net::ApiService::Respond respond);
  // On the pool: type, image work, then the file moves into the directory and its row is stored.
  void examine(store::StoredFile file, const net::ApiRequest& req, const net::ApiService::Respond& respond);
  std::filesystem::path path_of(const std::string& id, bool thumb) const;

  NodeContext& ctx_;
  RoomDirectory& rooms_;
  core::FileOptions options_;
  std::filesystem::path dir_;
  core::KeyedLimits per_account_;
  core::KeyedLimits per_address_;  // uploads under way per client address (files.max_uploads_per_address)
  std::atomic<std::size_t> in_flight_{0};
  std::int64_t next_sweep_ms_ = 0;  // sweep()'s thread only
  Counters counters_;
  auth::HashPool pool_;  // last: its threads go first
};

}  // namespace parley::node
