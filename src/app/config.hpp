#pragma once
// Configuration: defaults < TOML file < PARLEY_* environment < command-line flags. Every setting
// has one dotted key ("limits.max_frame_bytes"), the same in the file (a table per section), the
// environment (PARLEY_LIMITS_MAX_FRAME_BYTES) and `--set limits.max_frame_bytes=…`.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "auth/options.hpp"
#include "core/limits.hpp"

namespace parley::app {

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string web_dir;              // empty: ./web if present, else the source tree's web/
  unsigned threads = 0;             // 0: one per core
  std::string writes = "io_uring";  // io_uring (one submission per loop turn) | sendmsg
  std::string log_level = "info";   // changed at run time by SIGHUP (re-read) or `parley admin log-level`
  std::string log_format = "text";  // text (a person reads it) | json (one object per line, a collector)
  bool fail_fast = false;           // abort on a handler's exception (tests), instead of logging and going on
  std::string default_room = "general";
  std::string trusted_proxies;  // server.trusted_proxies: "127.0.0.1, 10.0.0.0/8"
  std::string allowed_origins;  // server.allowed_origins: "" same origin, "*", or a list
  std::string tls_cert;         // server.tls_cert: PEM chain; set: the port speaks only TLS
  std::string tls_key;          // server.tls_key: its PEM private key
  // The drain on SIGTERM (docs/operations.md, "Rolling restarts"): /readyz fails, new clients are
  // still served for drain_notice_ms (the load balancer's time to notice), then the sessions are
  // closed with 1012 spread over drain_window_ms. Both 0: one node alone, nobody to hand over to.
  std::uint32_t drain_notice_ms = 0;
  std::uint32_t drain_window_ms = 0;
  std::string store_backend = "sqlite";  // sqlite | postgres
  std::string store_postgres_url;        // libpq conninfo or postgresql:// URI
  std::string broker_backend = "local";  // local (this node alone) | redis | redis-cluster | redis-sentinel
  std::string broker_redis_url = "redis://127.0.0.1:6379";
  std::string broker_redis_cluster_seeds = "127.0.0.1:7000";  // host:port,host:port,...
  std::string broker_redis_sentinels = "127.0.0.1:26379";     // host:port,host:port,...
  std::string broker_redis_sentinel_master = "parley";        // the name the sentinels monitor
  std::string broker_prefix = "parley";
  std::size_t broker_log_capacity = 10000;
  std::uint32_t broker_node_timeout_ms = 5000;
  std::uint32_t broker_request_timeout_ms = 2000;
  std::string store_synchronous = "NORMAL";
  std::size_t store_max_queue = 100000;
  std::size_t store_max_batch = 10000;
  std::size_t store_checkpoint_pages = 1000;
  int store_search_nice = 10;   // store.search_nice: the searcher's niceness above the I/O threads
  int store_search_share = 50;  // store.search_share: percent of its time the searcher indexes while behind
  core::Limits limits;
  core::RoomOptions rooms;
  core::FileOptions files;
  auth::AuthOptions auth;
};

struct ConfigKey {
  std::string key;
  std::string help;
  std::function<void(const std::string&)> set;  // throws std::invalid_argument on a bad value
  std::function<std::string()> get;
};

// The table of every key, bound to `config`.
std::vector<ConfigKey> config_keys(Config& config);

// Applies one "key=value"; throws std::invalid_argument naming the key on failure.
void apply_setting(Config& config, const std::string& key, const std::string& value);
void apply_file(Config& config, const std::string& path);
void apply_environment(Config& config);
// The verifier of the operator's JWTs (auth.jwt_*), its key file read now, once; null if no key
// file is set. Throws std::invalid_argument naming the key: an unknown algorithm, both files or
// an algorithm without one, a file that cannot be read, a key that does not fit the algorithm
// (auth::JwtVerifier). A secret file's one trailing newline is not part of the secret.
std::shared_ptr<const auth::JwtVerifier> load_jwt_verifier(const auth::AuthOptions& auth);
// "key = value" lines, for the start-up log.
std::string describe(Config& config);

}  // namespace parley::app
