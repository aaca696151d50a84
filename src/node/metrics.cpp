// The node's /metrics: every loop's and shard's counters summed, the latency histograms, the
// store's and the broker's state, in the Prometheus text format.
#include <array>
#include <cstdio>

#include "net/tls.hpp"
#include "node/node.hpp"

namespace parley::node {

using core::Counter;
using core::Histogram;

namespace {

// A histogram over every shard, in the Prometheus text format: cumulative buckets, the count
// their total (so that +Inf and _count agree even while a shard is writing), the sum in seconds.
void append_histogram(std::string& out, const std::vector<std::unique_ptr<Shard>>& shards, const char* name,
                      const char* help, Histogram ShardMetrics::*field) {
  std::array<std::uint64_t, Histogram::bounded + 1> counts{};
  std::uint64_t sum_ns = 0;
  for (const auto& sh : shards) {
    const Histogram& h = sh->metrics().*field;
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += h.buckets[i].get();
    sum_ns += h.sum_ns.get();
  }
  const std::string n(name);
  out += "# HELP " + n + " " + help + "\n# TYPE " + n + " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    char le[32];
    if (i < Histogram::bounded)
      std::snprintf(le, sizeof le, "%g", static_cast<double>(Histogram::bounds_ns[i]) / 1e9);
    else
      std::snprintf(le, sizeof le, "+Inf");
    out += n + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += n + "_sum " + std::to_string(static_cast<double>(sum_ns) / 1e9) + "\n";
  out += n + "_count " + std::to_string(cumulative) + "\n";
}

}  // namespace

std::string Node::metrics_text() const {
  // Each counter is one of a loop's (the network's) or one of a shard's (the node's work).
  struct Row {
    const char* name;
    const char* help;
    const char* type;
    Counter net::LoopMetrics::*loop;
    Counter ShardMetrics::*shard;
  };
  using L = net::LoopMetrics;
  using S = ShardMetrics;
  static constexpr Row rows[] = {
      {"parley_connections", "Open WebSocket connections.", "gauge", &L::connections, nullptr},
      {"parley_connections_total", "WebSocket connections accepted.", "counter", &L::connections_total, nullptr},
      {"parley_http_requests_total", "HTTP requests served.", "counter", &L::http_requests, nullptr},
      {"parley_origin_refusals_total", "WebSocket upgrades refused for their Origin (server.allowed_origins).",
       "counter", &L::origin_refusals, nullptr},
      {"parley_frames_in_total", "Client text frames received.", "counter", nullptr, &S::frames_in},
      {"parley_messages_in_total", "Chat messages accepted (seq assigned).", "counter", nullptr, &S::messages_in},
      {"parley_messages_acked_total", "Chat messages durable and acknowledged.", "counter", nullptr,
       &S::messages_acked},
      {"parley_resume_rereads_total",
       "A join's resume read from the store again: it had a hole, another node's commit still in flight.", "counter",
       nullptr, &S::resume_rereads},
      {"parley_deliveries_total", "Events queued to sessions by room fan-out.", "counter", nullptr, &S::deliveries},
      {"parley_bytes_out_total", "WebSocket bytes written.", "counter", &L::bytes_out, nullptr},
      {"parley_writes_total", "Socket writes.", "counter", &L::writes, nullptr},
      {"parley_outbound_queue_bytes", "Bytes queued or in flight to clients.", "gauge", &L::outbound_bytes, nullptr},
      {"parley_slow_consumer_closes_total", "Sessions closed with 1013 for reading too slowly.", "counter",
       &L::slow_consumer_closes, nullptr},
      {"parley_protocol_closes_total", "Sessions closed for a WebSocket protocol violation.", "counter",
       &L::protocol_closes, nullptr},
      {"parley_flood_closes_total", "Sessions closed with 1008 for a frame flood (limits.frame_rate).", "counter",
       &L::flood_closes, nullptr},
      {"parley_errors_sent_total", "Error events sent.", "counter", nullptr, &S::errors_sent},
      {"parley_reads_stored_total", "Read marks written (read requests that reached the store).", "counter", nullptr,
       &S::reads_stored},
      {"parley_searches_total", "Searches answered with results.", "counter", nullptr, &S::searches},
      {"parley_searches_refused_total",
       "Searches refused by a budget (limits.search_rate: rate_limited; limits.max_searches_in_flight: overloaded).",
       "counter", nullptr, &S::searches_refused},
      {"parley_rate_limited_total", "Requests refused by a rate limit.", "counter", nullptr, &S::rate_limited},
      {"parley_rooms", "Rooms known to this node.", "gauge", nullptr, &S::rooms_owned},
      {"parley_rooms_loaded", "Rooms with their log in memory (the others load on use).", "gauge", nullptr,
       &S::rooms_loaded},
      {"parley_room_lookups_total", "Unknown rooms looked up in the cluster's room index.", "counter", nullptr,
       &S::room_lookups},
      {"parley_broker_catchups_total",
       "Times a room here was found behind the broker's sequence and caught up from its log (cluster).", "counter",
       nullptr, &S::broker_catchups},
      {"parley_seq_reseeds_total",
       "Times a room's seq floor was read from the store because its Redis changed (a failover, a restart).", "counter",
       nullptr, &S::seq_reseeds},
      {"parley_seq_taken_total",
       "Sends whose seq the store held with another message (handed out twice across a broker failover while the "
       "commit was in flight), published again under a new seq.",
       "counter", nullptr, &S::seq_taken},
      {"parley_access_denied_total", "Requests a room's access refused (forbidden, bad_password).", "counter", nullptr,
       &S::access_denied},
      {"parley_reactions_refused_total",
       "Reacts refused by the reaction budgets (limits.max_reaction_emoji, max_reactions_per_user).", "counter",
       nullptr, &S::reactions_refused},
      {"parley_removed_sessions_total", "Sessions taken out of a room by a removal or a ban.", "counter", nullptr,
       &S::removed_sessions},
      {"parley_handler_errors_total", "Exceptions a request handler let out (bugs; logged).", "counter", nullptr,
       &S::handler_errors},
  };
  const auto& shards = ctx_.shards;
  std::string out;
  for (const Row& row : rows) {
    std::uint64_t total = 0;
    for (const auto& sh : shards)
      total += row.loop ? (sh->loop().metrics().*row.loop).get() : (sh->metrics().*row.shard).get();
    out += std::string("# HELP ") + row.name + " " + row.help + "\n# TYPE " + row.name + " " + row.type + "\n";
    out += std::string(row.name) + " " + std::to_string(total) + "\n";
  }
  append_histogram(out, shards, "parley_delivery_seconds",
                   "From a chat message's arrival on this node to its fan-out writes handed to the kernel, once per "
                   "message per I/O thread with members.",
                   &ShardMetrics::delivery);
  append_histogram(out, shards, "parley_commit_seconds",
                   "From a chat message's arrival on this node to its commit known to its room's owner thread: on one "
                   "node its fan-out starts then, in a cluster its ack is sent then.",
                   &ShardMetrics::commit);
  append_histogram(out, shards, "parley_search_seconds",
                   "From a search request's arrival to its results sent: the rooms gathered, the store's search.",
                   &ShardMetrics::search);
  {
    const std::string n = "parley_searches_in_flight";
    out += "# HELP " + n + " Searches sent to the store and not answered yet.\n# TYPE " + n + " gauge\n" + n + " " +
           std::to_string(ctx_.searches_in_flight.load(std::memory_order_relaxed)) + "\n";
  }
  const auto& acc = ctx_.accounts.counters();
  const auto& pool = ctx_.accounts.pool();
  const struct {
    const char* name;
    const char* help;
    const char* type;
    std::uint64_t value;
  } auth_rows[] = {
      {"parley_auth_registrations_total", "Accounts registered.", "counter", acc.registered.get()},
      {"parley_auth_signins_total", "Sign-ins that succeeded.", "counter", acc.signins.get()},
      {"parley_auth_signin_failures_total", "Sign-ins and password checks refused for a wrong name or password.",
       "counter", acc.signin_failures.get()},
      {"parley_auth_throttled_total", "Sign-in and registration attempts refused by a budget (429).", "counter",
       acc.throttled.get()},
      {"parley_auth_sessions_evicted_total",
       "Sessions ended because their user signed in past auth.max_sessions_per_user (the oldest first).", "counter",
       acc.sessions_evicted.get()},
      {"parley_auth_hash_queue", "Password hashes waiting for a thread of the pool.", "gauge", pool.queued()},
      {"parley_auth_hash_rejected_total", "Password hashes refused: the pool's queue was full (503).", "counter",
       pool.rejected()},
  };
  for (const auto& row : auth_rows) {
    out += std::string("# HELP ") + row.name + " " + row.help + "\n# TYPE " + row.name + " " + row.type + "\n";
    out += std::string(row.name) + " " + std::to_string(row.value) + "\n";
  }
  const auto& fc = files_.counters();
  const auto& fpool = files_.pool();
  const struct {
    const char* name;
    const char* help;
    const char* type;
    std::uint64_t value;
  } file_rows[] = {
      {"parley_files_uploads_total", "Uploads stored.", "counter", fc.uploads.get()},
      {"parley_files_upload_bytes_total", "Bytes of the uploads stored (as served: images re-encoded).", "counter",
       fc.upload_bytes.get()},
      {"parley_files_fetches_total", "Files and thumbnails served.", "counter", fc.fetches.get()},
      {"parley_files_removed_total", "Files whose bytes were removed (deleted messages and rooms, expired uploads).",
       "counter", fc.removed.get()},
      {"parley_files_in_flight", "Uploads being received or examined now (files.max_in_flight).", "gauge",
       files_.in_flight()},
      {"parley_files_queue", "Uploads waiting for a thread of the files pool (files.worker_queue).", "gauge",
       fpool.queued()},
  };
  for (const auto& row : file_rows) {
    out += std::string("# HELP ") + row.name + " " + row.help + "\n# TYPE " + row.name + " " + row.type + "\n";
    out += std::string(row.name) + " " + std::to_string(row.value) + "\n";
  }
  out +=
      "# HELP parley_files_image_seconds_total Time spent decoding, re-encoding and thumbnailing images.\n"
      "# TYPE parley_files_image_seconds_total counter\nparley_files_image_seconds_total " +
      std::to_string(static_cast<double>(fc.thumb_ns.get()) / 1e9) + "\n";
  out +=
      "# HELP parley_files_refusals_total Uploads and fetches refused, by reason.\n"
      "# TYPE parley_files_refusals_total counter\n";
  const std::pair<const char*, std::uint64_t> refusals[] = {
      {"too_large", fc.too_large.get()},     {"type", fc.bad_type.get()},         {"rate", fc.rate_limited.get()},
      {"quota", fc.over_quota.get()},        {"overloaded", fc.overloaded.get()}, {"forbidden", fc.forbidden.get()},
      {"per_address", fc.per_address.get()}, {"anonymous", fc.anonymous.get()},
  };
  for (const auto& [reason, n] : refusals)
    out += std::string("parley_files_refusals_total{reason=\"") + reason + "\"} " + std::to_string(n) + "\n";
  out +=
      "# HELP parley_auth_jwt_total Hellos with an operator's JWT, by result (expired: past exp and the leeway; "
      "invalid: any other refusal).\n# TYPE parley_auth_jwt_total counter\n";
  out += "parley_auth_jwt_total{result=\"ok\"} " + std::to_string(acc.jwt_ok.get()) + "\n";
  out += "parley_auth_jwt_total{result=\"expired\"} " + std::to_string(acc.jwt_expired.get()) + "\n";
  out += "parley_auth_jwt_total{result=\"invalid\"} " + std::to_string(acc.jwt_invalid.get()) + "\n";
  if (tls_ != nullptr) {
    const auto& t = tls_->metrics();
    const auto n = [](const std::atomic<std::uint64_t>& c) {
      return std::to_string(c.load(std::memory_order_relaxed));
    };
    out +=
        "# HELP parley_tls_handshakes_total TLS handshakes on the node's port, by result (failed: the peer broke "
        "off or spoke no TLS).\n# TYPE parley_tls_handshakes_total counter\n";
    out += "parley_tls_handshakes_total{result=\"ok\"} " + n(t.handshakes) + "\n";
    out += "parley_tls_handshakes_total{result=\"failed\"} " + n(t.handshake_failures) + "\n";
    out +=
        "# HELP parley_tls_ktls_total Handshakes after which the kernel encrypts (kTLS).\n# TYPE "
        "parley_tls_ktls_total counter\n";
    out += "parley_tls_ktls_total " + n(t.ktls_send) + "\n";
    out +=
        "# HELP parley_tls_reloads_total Certificate reloads (SIGHUP), by result.\n# TYPE parley_tls_reloads_total "
        "counter\n";
    out += "parley_tls_reloads_total{result=\"ok\"} " + n(t.reloads) + "\n";
    out += "parley_tls_reloads_total{result=\"failed\"} " + n(t.reload_failures) + "\n";
  }
  // The server API: a series per call and status that has been answered at least once.
  out +=
      "# HELP parley_api_requests_total Server API requests answered, by call and HTTP status.\n# TYPE "
      "parley_api_requests_total counter\n";
  for (std::size_t c = 0; c < static_cast<std::size_t>(ServerApi::Call::count); ++c) {
    const auto call = static_cast<ServerApi::Call>(c);
    for (std::size_t i = 0; i < ServerApi::statuses.size(); ++i) {
      const std::uint64_t n = server_api_.requests(call, i);
      if (n == 0) continue;
      out += "parley_api_requests_total{call=\"" + std::string(ServerApi::call_name(call)) + "\",status=\"" +
             std::to_string(ServerApi::statuses[i]) + "\"} " + std::to_string(n) + "\n";
    }
  }
  out +=
      "# HELP parley_api_in_flight Server API requests being answered (auth.api_max_in_flight).\n# TYPE "
      "parley_api_in_flight gauge\n";
  out += "parley_api_in_flight " + std::to_string(server_api_.in_flight()) + "\n";
  // The admin API: a series per status answered at least once, and the node table's size.
  out +=
      "# HELP parley_admin_requests_total Admin API requests answered, by HTTP status.\n# TYPE "
      "parley_admin_requests_total counter\n";
  for (std::size_t i = 0; i < AdminApi::statuses.size(); ++i) {
    const std::uint64_t n = admin_.requests(i);
    if (n == 0) continue;
    out += "parley_admin_requests_total{status=\"" + std::to_string(AdminApi::statuses[i]) + "\"} " +
           std::to_string(n) + "\n";
  }
  out += "# HELP parley_admin_nodes Nodes in the admin API's table (at most 256).\n# TYPE parley_admin_nodes gauge\n";
  out += "parley_admin_nodes " + std::to_string(admin_.nodes_known()) + "\n";
  out +=
      "# HELP parley_admin_watchers Sessions watching the admin channel (at most limits.admin_watchers).\n# TYPE "
      "parley_admin_watchers gauge\n";
  out += "parley_admin_watchers " + std::to_string(admin_watch_.watchers()) + "\n";
  const auto st = ctx_.store.stats();
  out +=
      "# HELP parley_store_batches_total Store commits (group commit batches).\n# TYPE parley_store_batches_total "
      "counter\n";
  out += "parley_store_batches_total " + std::to_string(st.batches) + "\n";
  out += "# HELP parley_store_messages_total Messages committed.\n# TYPE parley_store_messages_total counter\n";
  out += "parley_store_messages_total " + std::to_string(st.messages) + "\n";
  out +=
      "# HELP parley_store_batch_seconds_total Time spent committing batches.\n# TYPE parley_store_batch_seconds_total "
      "counter\n";
  out += "parley_store_batch_seconds_total " + std::to_string(static_cast<double>(st.batch_micros_total) / 1e6) + "\n";
  out += "# HELP parley_store_queue Messages waiting for commit.\n# TYPE parley_store_queue gauge\n";
  out += "parley_store_queue " + std::to_string(st.queued) + "\n";
  out +=
      "# HELP parley_store_up 1 while the store can serve reads and commits (0 turns /readyz 503).\n# TYPE "
      "parley_store_up gauge\n";
  out += std::string("parley_store_up ") + (store::store_serving(st) ? "1" : "0") + "\n";
  out +=
      "# HELP parley_store_failing Store operations in a row that could not reach the database.\n# TYPE "
      "parley_store_failing gauge\n";
  out += "parley_store_failing " + std::to_string(st.failing) + "\n";
  out +=
      "# HELP parley_store_failures_total Failed commits (each retried).\n# TYPE parley_store_failures_total counter\n";
  out += "parley_store_failures_total " + std::to_string(st.failures) + "\n";
  out +=
      "# HELP parley_search_unindexed_rooms Rooms with messages the search index has not read yet, those being "
      "read included (its backlog).\n# TYPE parley_search_unindexed_rooms gauge\n";
  out += "parley_search_unindexed_rooms " + std::to_string(st.search_unindexed_rooms) + "\n";
  out +=
      "# HELP parley_search_indexed_total Entries read into the search index.\n# TYPE parley_search_indexed_total "
      "counter\n";
  out += "parley_search_indexed_total " + std::to_string(st.search_indexed) + "\n";
  out +=
      "# HELP parley_search_index_seconds_total Time the searcher spent reading into the search index (at most "
      "store.search_share of it while behind).\n# TYPE parley_search_index_seconds_total counter\n";
  out +=
      "parley_search_index_seconds_total " + std::to_string(static_cast<double>(st.search_index_micros) / 1e6) + "\n";
  // Budgets (docs/security.md): what was refused, and what the node holds.
  const auto gauge_or_counter = [&out](const char* name, const char* help, const char* type, std::uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    out += std::string(name) + " " + std::to_string(v) + "\n";
  };
  const auto& adm = ctx_.admission;
  gauge_or_counter("parley_sockets", "Sockets open (WebSocket, HTTP, handshakes), against limits.max_connections.",
                   "gauge", adm.sockets());
  gauge_or_counter("parley_sockets_max", "limits.max_connections as it applies.", "gauge", adm.max_sockets());
  gauge_or_counter("parley_refused_full_total", "Connections answered 503: the node was full or out of descriptors.",
                   "counter", adm.counters().refused_full.get());
  gauge_or_counter("parley_refused_address_total",
                   "Upgrades answered 429: an address over its connection count or rate.", "counter",
                   adm.counters().refused_address.get());
  gauge_or_counter("parley_refused_shedding_total", "Upgrades answered 503 while over the memory budget.", "counter",
                   adm.counters().refused_shedding.get());
  gauge_or_counter("parley_tracked_addresses", "Client addresses the per-address budgets remember.", "gauge",
                   ctx_.per_address.keys());
  gauge_or_counter("parley_memory_rss_bytes", "Resident memory, read once a second.", "gauge",
                   rss_bytes_.load(std::memory_order_relaxed));
  gauge_or_counter("parley_memory_budget_bytes", "limits.max_memory_bytes as it applies.", "gauge",
                   ctx_.limits().max_memory_bytes);
  gauge_or_counter("parley_shedding", "1 while over the memory budget: new work refused.", "gauge",
                   ctx_.shedding.load(std::memory_order_relaxed) ? 1 : 0);
  out += "# HELP parley_ready 1 while the node accepts new connections.\n# TYPE parley_ready gauge\n";
  out += std::string("parley_ready ") + (ready() ? "1" : "0") + "\n";
  // Tells a deliberate drain (SIGTERM) apart from a node that is not ready for a fault.
  out +=
      "# HELP parley_draining 1 while the node drains (SIGTERM): not ready by intent.\n# TYPE parley_draining gauge\n";
  out += std::string("parley_draining ") + (draining() ? "1" : "0") + "\n";
  if (ctx_.broker) {
    out += "# HELP parley_broker_up 1 while the cluster broker is reachable.\n# TYPE parley_broker_up gauge\n";
    out += std::string("parley_broker_up ") + (ctx_.broker->ready() ? "1" : "0") + "\n";
  }
  return out;
}

}  // namespace parley::node
