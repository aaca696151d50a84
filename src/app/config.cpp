#include "app/config.hpp"

#include <toml++/toml.h>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>

namespace parley::app {

namespace {

template <class T>
ConfigKey number_key(const std::string& key, std::string help, T& field) {
  return ConfigKey{key, std::move(help),
                   [&field, key](const std::string& v) {
                     try {
                       std::size_t used = 0;
                       // Digits first: std::sto* skip leading spaces and take a sign (" -5"), and stod takes
                       // "nan" and "inf"; none of those is a setting.
                       if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) throw std::invalid_argument(v);
                       if constexpr (std::is_floating_point_v<T>) {
                         const double d = std::stod(v, &used);
                         if (used != v.size() || !std::isfinite(d) || d < 0) throw std::invalid_argument(v);
                         field = static_cast<T>(d);
                       } else {
                         const unsigned long long n = std::stoull(v, &used);
                         if (used != v.size() || n > std::numeric_limits<T>::max()) throw std::invalid_argument(v);
                         field = static_cast<T>(n);
                       }
                     } catch (const std::exception&) {
                       throw std::invalid_argument(key + ": not a non-negative number in range: '" + v + "'");
                     }
                   },
                   [&field] {
                     if constexpr (std::is_floating_point_v<T>) {
                       std::string s = std::to_string(field);
                       s.erase(s.find_last_not_of('0') + 1);
                       if (!s.empty() && s.back() == '.') s.pop_back();
                       return s;
                     } else {
                       return std::to_string(field);
                     }
                   }};
}

ConfigKey bool_key(const std::string& key, std::string help, bool& field) {
  return ConfigKey{key, std::move(help),
                   [&field, key](const std::string& v) {
                     if (v == "true" || v == "1")
                       field = true;
                     else if (v == "false" || v == "0")
                       field = false;
                     else
                       throw std::invalid_argument(key + ": not true or false: '" + v + "'");
                   },
                   [&field] { return std::string(field ? "true" : "false"); }};
}

ConfigKey string_key(std::string key, std::string help, std::string& field) {
  return ConfigKey{std::move(key), std::move(help), [&field](const std::string& v) { field = v; },
                   [&field] { return field; }};
}

}  // namespace

std::vector<ConfigKey> config_keys(Config& c) {
  auto& l = c.limits;
  return {
      string_key("server.listen", "address:port to serve HTTP and WebSocket on (port 0: any free port)", c.listen),
      number_key("server.threads", "I/O threads (0: one per core this process may use, at most its cgroup CPU limit)",
                 c.threads),
      string_key("server.writes",
                 "io_uring (a thread's writes of a loop turn in one system call; sendmsg where unavailable) or sendmsg",
                 c.writes),
      string_key("server.data_dir", "directory of the SQLite database", c.data_dir),
      string_key("server.web_dir", "directory of the web UI", c.web_dir),
      string_key("server.log_level",
                 "trace, debug, info, warn, error (read again on SIGHUP; `parley admin log-level` sets it too)",
                 c.log_level),
      string_key("server.log_format", "text (for a terminal) or json (one JSON object per line, for a collector)",
                 c.log_format),
      bool_key("server.fail_fast",
               "abort on an exception a request handler lets out (tests; default: log it, count it, go on)",
               c.fail_fast),
      string_key("server.default_room", "room created at start-up (empty: none)", c.default_room),
      string_key("server.trusted_proxies",
                 "proxies whose PROXY v2 header names the client (addresses or CIDR blocks, comma-separated)",
                 c.trusted_proxies),
      string_key("server.tls_cert",
                 "PEM file of the certificate and its chain: the port then serves https and wss only "
                 "(with server.tls_key; both read again on SIGHUP)",
                 c.tls_cert),
      string_key("server.tls_key", "PEM file of the certificate's private key (see server.tls_cert)", c.tls_key),
      number_key("server.drain_notice_ms",
                 "on SIGTERM, /readyz fails and new clients are still served this long before the listeners close "
                 "(the load balancer's time to notice: its check interval times its fall count)",
                 c.drain_notice_ms),
      number_key("server.drain_window_ms",
                 "then the sessions are closed with 1012 spread over this long, so that they reconnect to the other "
                 "nodes a few at a time (0: all at once)",
                 c.drain_window_ms),
      string_key("server.allowed_origins",
                 "web pages that may open a WebSocket: empty = the same origin as the request's Host, * = any, or "
                 "origins, comma-separated (https://chat.example.com)",
                 c.allowed_origins),
      string_key("store.backend", "sqlite (embedded, default) or postgres (a cluster)", c.store_backend),
      string_key("store.postgres_url", "PostgreSQL conninfo or postgresql:// URI (store.backend=postgres)",
                 c.store_postgres_url),
      string_key("broker.backend",
                 "local (one node), redis (nodes of a cluster share rooms through Redis), redis-cluster (through "
                 "Redis Cluster) or redis-sentinel (through the Redis primary that Redis Sentinel names)",
                 c.broker_backend),
      string_key("broker.redis_url", "redis://host:port, or redis://host:port/0 (broker.backend=redis)",
                 c.broker_redis_url),
      string_key("broker.redis_cluster_seeds",
                 "host:port of some Redis Cluster nodes, comma-separated (broker.backend=redis-cluster)",
                 c.broker_redis_cluster_seeds),
      string_key("broker.redis_sentinels",
                 "host:port of the Redis Sentinels, comma-separated, asked in turn (broker.backend=redis-sentinel)",
                 c.broker_redis_sentinels),
      string_key("broker.redis_sentinel_master", "the name the sentinels monitor the primary by",
                 c.broker_redis_sentinel_master),
      string_key("broker.prefix", "prefix of every Redis key and channel", c.broker_prefix),
      number_key("broker.log_capacity", "messages per room kept in its Redis stream for gap repair",
                 c.broker_log_capacity),
      number_key("broker.request_timeout_ms",
                 "a room's create or lookup in Redis fails (error unavailable) if Redis has not answered within this",
                 c.broker_request_timeout_ms),
      number_key("broker.node_timeout_ms",
                 "a node silent this long (killed) loses its members; heartbeat every fifth of it",
                 c.broker_node_timeout_ms),
      string_key("store.synchronous", "SQLite durability: NORMAL (process crash) or FULL (power loss)",
                 c.store_synchronous),
      number_key("store.max_queue", "messages waiting for commit before sends are refused", c.store_max_queue),
      number_key("store.max_batch", "messages per commit", c.store_max_batch),
      number_key("store.checkpoint_pages",
                 "SQLite WAL pages that start a background checkpoint (x4: the writer finishes one)",
                 c.store_checkpoint_pages),
      number_key("store.search_nice",
                 "niceness of the search index's thread above the I/O threads (0-19): where cores are short, "
                 "the index falls behind rather than message delivery",
                 c.store_search_nice),
      number_key("store.search_share",
                 "percent of its time the search index's thread spends indexing while it is behind (1-100): the "
                 "rest goes to the commits, on either store",
                 c.store_search_share),
      number_key("limits.max_frame_bytes", "largest client message (close 1009)", l.max_frame_bytes),
      number_key("limits.max_text_length", "characters of a chat message (error text_too_long)", l.max_text_length),
      number_key("limits.send_rate", "messages per second per connection (error rate_limited)", l.send_rate),
      number_key("limits.send_burst", "messages a connection may send at once", l.send_burst),
      number_key("limits.request_rate", "requests of any type per second per connection", l.request_rate),
      number_key("limits.request_burst", "requests of any type at once", l.request_burst),
      number_key("limits.max_rooms_per_connection", "rooms one connection may join", l.max_rooms_per_connection),
      number_key("limits.max_outbound_bytes", "bytes queued to one client before it is closed with 1013",
                 l.max_outbound_bytes),
      number_key("limits.handshake_timeout_ms", "time to send a complete HTTP request", l.handshake_timeout_ms),
      number_key("limits.hello_timeout_ms", "time from the upgrade to hello (close 1008)", l.hello_timeout_ms),
      number_key("limits.ping_interval_ms", "ping a client silent for this long", l.ping_interval_ms),
      number_key("limits.pong_timeout_ms", "close a pinged client still silent after this (1001)", l.pong_timeout_ms),
      number_key("limits.close_timeout_ms", "wait for the peer's close frame", l.close_timeout_ms),
      number_key("limits.typing_interval_ms", "at most one typing event per room per connection per this",
                 l.typing_interval_ms),
      number_key("limits.history_limit", "largest history page", l.history_limit),
      number_key("limits.max_reaction_emoji", "distinct emoji on one message (error too_many_reactions)",
                 l.max_reaction_emoji),
      number_key("limits.max_reactions_per_user", "emoji one user puts on one message (error too_many_reactions)",
                 l.max_reactions_per_user),
      number_key("limits.resume_limit", "most messages sent on a join with since", l.resume_limit),
      number_key("limits.max_header_bytes", "HTTP request header size (431)", l.max_header_bytes),
      number_key("limits.rooms_page", "largest page of the room list (and its default)", l.rooms_page),
      number_key("limits.members_page", "members listed in joined, and the largest members page", l.members_page),
      number_key("limits.frame_rate",
                 "frames (text or control) per second per connection (0: four times request_rate; fail 1008)",
                 l.frame_rate),
      number_key("limits.frame_burst", "frames a connection may send at once (0: four times request_burst)",
                 l.frame_burst),
      number_key("limits.frame_timeout_ms", "time to finish a frame once begun (fail 1008)", l.frame_timeout_ms),
      number_key("limits.max_requests_in_flight", "owner-answered requests one connection may await at once",
                 l.max_requests_in_flight),
      number_key("limits.max_connections", "connections of the node (0: descriptor limit less 256; 503 past it)",
                 l.max_connections),
      number_key("limits.max_connections_per_address", "WebSocket connections per client address (0: any; 429)",
                 l.max_connections_per_address),
      number_key("limits.connect_rate_per_address", "new connections per second per address (0: any; 429)",
                 l.connect_rate_per_address),
      number_key("limits.connect_burst_per_address", "new connections an address may open at once",
                 l.connect_burst_per_address),
      number_key("limits.send_rate_per_address", "messages per second per client address (0: any)",
                 l.send_rate_per_address),
      number_key("limits.send_burst_per_address", "messages an address may send at once", l.send_burst_per_address),
      number_key("limits.request_rate_per_address", "requests per second per client address (0: any)",
                 l.request_rate_per_address),
      number_key("limits.request_burst_per_address", "requests an address may send at once",
                 l.request_burst_per_address),
      number_key("limits.send_rate_per_user", "messages per second per user over all connections (0: any)",
                 l.send_rate_per_user),
      number_key("limits.send_burst_per_user", "messages a user may send at once", l.send_burst_per_user),
      number_key("limits.room_create_rate", "rooms per second an address or user may create (0: any)",
                 l.room_create_rate),
      number_key("limits.room_create_burst", "rooms an address or user may create at once", l.room_create_burst),
      number_key("limits.max_rooms", "rooms of the node (room_limit past it)", l.max_rooms),
      number_key("limits.max_room_members", "members and bans a room may hold (forbidden past it)", l.max_room_members),
      number_key("limits.max_memory_bytes", "resident memory past which the node sheds load (0: 80% of the limit)",
                 l.max_memory_bytes),
      number_key("limits.max_tracked_keys", "addresses and users the per-key budgets remember", l.max_tracked_keys),
      number_key("limits.admin_watchers",
                 "admin sessions watching the admin channel at once (too_many_watchers past it)", l.admin_watchers),
      number_key("limits.seen_by_members", "members of a private room up to which it shows \"seen by\"",
                 l.seen_by_members),
      number_key("limits.max_search_length", "characters of a search query", l.max_search_length),
      number_key("limits.search_limit", "largest page of search hits", l.search_limit),
      number_key("limits.search_rate", "searches per second per connection", l.search_rate),
      number_key("limits.search_burst", "searches a connection may make at once", l.search_burst),
      number_key("limits.max_searches_in_flight", "searches of the node under way at once (overloaded past it)",
                 l.max_searches_in_flight),
      number_key("limits.max_files_per_message", "files one message may carry (send's files)", l.max_files_per_message),
      string_key("files.dir",
                 "directory of uploaded files (empty: <server.data_dir>/files; a cluster's nodes share one)",
                 c.files.dir),
      number_key("files.max_bytes", "bytes of one upload (413 file_too_large past it)", c.files.max_bytes),
      number_key("files.max_in_flight", "uploads received or examined at once on this node (503 past it)",
                 c.files.max_in_flight),
      number_key("files.max_uploads_per_address", "uploads from one client address at once (429 past it)",
                 c.files.max_uploads_per_address),
      number_key("files.upload_timeout_ms", "an upload's body must be whole within this", c.files.upload_timeout_ms),
      ConfigKey{"files.allowed_types",
                "types (by content) an upload may have, comma-separated; type/* takes a whole family (415 otherwise)",
                [&c](const std::string& v) {
                  std::vector<std::string> types;
                  std::size_t at = 0;
                  while (at <= v.size()) {
                    auto comma = v.find(',', at);
                    if (comma == std::string::npos) comma = v.size();
                    std::string t = v.substr(at, comma - at);
                    t.erase(0, t.find_first_not_of(' '));
                    t.erase(t.find_last_not_of(' ') + 1);
                    if (!t.empty()) types.push_back(std::move(t));
                    at = comma + 1;
                  }
                  c.files.allowed_types = std::move(types);
                },
                [&c] {
                  std::string s;
                  for (const auto& t : c.files.allowed_types) s += (s.empty() ? "" : ",") + t;
                  return s;
                }},
      number_key("files.upload_rate", "uploads per second per account (429 past the burst)", c.files.upload_rate),
      number_key("files.upload_burst", "uploads an account may make at once", c.files.upload_burst),
      number_key("files.max_bytes_per_account", "bytes of files one account may have stored (413 quota_exceeded)",
                 c.files.max_bytes_per_account),
      number_key("files.unattached_ttl_ms", "an upload no message has taken is removed after this",
                 c.files.unattached_ttl_ms),
      number_key("files.workers", "threads examining uploads (type, images, thumbnails)", c.files.workers),
      number_key("files.worker_queue", "uploads waiting for those threads (503 past it)", c.files.worker_queue),
      number_key("files.thumb_size", "largest side of a thumbnail, in pixels", c.files.thumb_size),
      number_key("files.cache_max_age_s", "how long a browser may keep a fetched file", c.files.cache_max_age_s),
      number_key("rooms.recent_messages", "messages per room kept in memory", c.rooms.recent_messages),
      number_key("rooms.dedupe_window", "client ids per room remembered for idempotent retries", c.rooms.dedupe_window),
      number_key("rooms.idle_unload_ms", "an idle room's log leaves memory after this (0: never)",
                 c.rooms.idle_unload_ms),
      number_key("rooms.presence_batch_ms",
                 "a room's presence changes go out together, this long after the first (0: each at once)",
                 c.rooms.presence_batch_ms),
      bool_key("auth.guests",
               "a name alone, without an account, may say hello (on for a demo; off for a public server)",
               c.auth.guests),
      number_key("auth.hash_opslimit", "argon2id passes per password hash (libsodium opslimit)",
                 c.auth.password.opslimit),
      number_key("auth.hash_memlimit", "argon2id memory per password hash, bytes (libsodium memlimit)",
                 c.auth.password.memlimit),
      number_key("auth.hash_threads", "password hashes at once, each on a thread of its own", c.auth.hash_threads),
      number_key("auth.hash_nice",
                 "niceness of the hash threads above the I/O threads (0-19): where cores are short, "
                 "sign-ins wait rather than message delivery",
                 c.auth.hash_nice),
      number_key("auth.hash_queue", "password hashes waiting for a thread (503 past it)", c.auth.hash_queue),
      number_key("auth.session_ttl_ms", "a sign-in session unused this long ends", c.auth.session_ttl_ms),
      number_key("auth.max_sessions_per_user", "sessions one account keeps; signing in past it ends the oldest",
                 c.auth.max_sessions_per_user),
      number_key("auth.signin_rate_per_address", "sign-in attempts per second per client address, after the burst",
                 c.auth.signin_rate_per_address),
      number_key("auth.signin_burst_per_address", "sign-in attempts an address may make at once (429 past it)",
                 c.auth.signin_burst_per_address),
      number_key("auth.signin_rate_per_account", "sign-in attempts per second per account name, after the burst",
                 c.auth.signin_rate_per_account),
      number_key("auth.signin_burst_per_account", "sign-in attempts on one account at once (429 past it)",
                 c.auth.signin_burst_per_account),
      number_key("auth.register_rate_per_address", "registrations per second per client address, after the burst",
                 c.auth.register_rate_per_address),
      number_key("auth.register_burst_per_address", "registrations an address may make at once (429 past it)",
                 c.auth.register_burst_per_address),
      number_key("auth.api_rate_per_key", "server API requests per second per API key, after the burst",
                 c.auth.api_rate_per_key),
      number_key("auth.api_burst_per_key", "server API requests one API key may make at once (429 past it)",
                 c.auth.api_burst_per_key),
      number_key("auth.api_max_in_flight", "server API requests the node holds at once, from every key (503 past it)",
                 c.auth.api_max_in_flight),
      string_key("auth.jwt_algorithm",
                 "the one algorithm of the operator's JWTs in hello: HS256, HS384, HS512, RS256, RS384, RS512, ES256 "
                 "or ES384 (required with a key file)",
                 c.auth.jwt_algorithm),
      string_key("auth.jwt_secret_file",
                 "file of the shared secret of HS* JWTs, at least the hash's size (32 bytes for HS256); read once at "
                 "start-up (empty: no HS* JWTs)",
                 c.auth.jwt_secret_file),
      string_key("auth.jwt_public_key_file",
                 "PEM public key of RS*/ES* JWTs (RSA 2048+ bits, or P-256/P-384); read once at start-up (empty: no "
                 "RS*/ES* JWTs)",
                 c.auth.jwt_public_key_file),
      string_key("auth.jwt_issuer", "if set, a JWT's iss must equal it", c.auth.jwt_issuer),
      string_key("auth.jwt_audience", "if set, a JWT's aud must be it or hold it", c.auth.jwt_audience),
      string_key("auth.admins",
                 "accounts whose sessions may use the admin API and console (/admin), by name or id, comma-separated "
                 "(empty: the console is off; API keys with the admin scope work either way)",
                 c.auth.admins),
      number_key("auth.jwt_leeway_ms", "clock skew allowed on a JWT's exp, nbf and iat", c.auth.jwt_leeway_ms),
  };
}

std::shared_ptr<const auth::JwtVerifier> load_jwt_verifier(const auth::AuthOptions& a) {
  const bool secret = !a.jwt_secret_file.empty();
  const bool public_key = !a.jwt_public_key_file.empty();
  if (!secret && !public_key) {
    if (!a.jwt_algorithm.empty())
      throw std::invalid_argument("auth.jwt_algorithm: needs auth.jwt_secret_file or auth.jwt_public_key_file");
    return nullptr;
  }
  if (secret && public_key)
    throw std::invalid_argument("auth.jwt_secret_file and auth.jwt_public_key_file: one algorithm, so one key");
  const auto algorithm = auth::parse_jwt_algorithm(a.jwt_algorithm);
  if (!algorithm)
    throw std::invalid_argument("auth.jwt_algorithm: HS256, HS384, HS512, RS256, RS384, RS512, ES256 or ES384, not '" +
                                a.jwt_algorithm + "'");
  if (auth::jwt_uses_secret(*algorithm) != secret)
    throw std::invalid_argument("auth.jwt_algorithm: " + a.jwt_algorithm + " takes " +
                                (secret ? "auth.jwt_public_key_file" : "auth.jwt_secret_file"));
  const std::string& path = secret ? a.jwt_secret_file : a.jwt_public_key_file;
  const std::string key_name = secret ? "auth.jwt_secret_file" : "auth.jwt_public_key_file";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(key_name + ": cannot read '" + path + "'");
  auth::JwtOptions o;
  o.algorithm = *algorithm;
  o.key.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::invalid_argument(key_name + ": cannot read '" + path + "'");
  // `echo`, `openssl rand -base64 48 > file` and editors end a file with a newline: not the secret's.
  if (secret && !o.key.empty() && o.key.back() == '\n') o.key.pop_back();
  if (secret && !o.key.empty() && o.key.back() == '\r') o.key.pop_back();
  o.issuer = a.jwt_issuer;
  o.audience = a.jwt_audience;
  o.leeway_ms = a.jwt_leeway_ms;
  return std::make_shared<const auth::JwtVerifier>(std::move(o));
}

void apply_setting(Config& config, const std::string& key, const std::string& value) {
  for (auto& k : config_keys(config)) {
    if (k.key == key) return k.set(value);
  }
  throw std::invalid_argument("unknown setting: " + key);
}

void apply_file(Config& config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw std::invalid_argument(path + ": " + std::string(e.description()));
  }
  for (auto& [section, node] : table) {
    const auto* inner = node.as_table();
    if (!inner) throw std::invalid_argument(path + ": '" + std::string(section.str()) + "' must be a table");
    for (auto& [name, value] : *inner) {
      const std::string key = std::string(section.str()) + "." + std::string(name.str());
      std::string text;
      if (auto s = value.value<std::string>(); s && value.is_string())
        text = *s;
      else if (auto i = value.value<std::int64_t>(); i && value.is_integer())
        text = std::to_string(*i);
      else if (auto d = value.value<double>(); d && value.is_floating_point())
        text = std::to_string(*d);
      else if (auto b = value.value<bool>(); b && value.is_boolean())
        text = *b ? "true" : "false";
      else
        throw std::invalid_argument(
            path + ": " + key + " has an unsupported type");  // NOLINT(performance-inefficient-string-concatenation)
      apply_setting(config, key, text);
    }
  }
}

void apply_environment(Config& config) {
  for (auto& k : config_keys(config)) {
    std::string env = "PARLEY_";
    for (char ch : k.key)
      env.push_back(ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    if (const char* v = std::getenv(env.c_str())) k.set(v);
  }
}

std::string describe(Config& config) {
  std::string out;
  for (auto& k : config_keys(config)) out += "  " + k.key + " = " + k.get() + "\n";
  return out;
}

}  // namespace parley::app
