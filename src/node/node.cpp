#include "node/node.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdio>
#include <functional>

#include "protocol/events.hpp"

namespace parley::node {

Node::Node(NodeOptions options, store::Store& store, broker::Broker* broker)
    : options_(std::move(options)), store_(store), broker_(broker) {
  if (options_.threads == 0) options_.threads = 1;
  shards_.reserve(options_.threads);
  for (unsigned i = 0; i < options_.threads; ++i) shards_.push_back(std::make_unique<Shard>(*this, i));
}

Node::~Node() { stop(); }

Shard& Node::owner_of(std::string_view room) noexcept {
  return *shards_[std::hash<std::string_view>{}(room) % shards_.size()];
}

void Node::start() {
  if (!options_.default_room.empty())
    store_.create_room_now(store::StoredRoom{options_.default_room, 0, now_ms(), "parley"});
  // The room directory: each owner learns its rooms now; their logs load on first use.
  std::size_t n = 0;
  for (auto& room : store_.load_rooms()) {
    Shard& owner = owner_of(room.id);
    auto r = std::make_unique<OwnedRoom>(room.id, options_.rooms, shard_count(), OwnedRoom::State::unloaded);
    r->stored_last_seq = room.last_seq;
    owner.owned().emplace(room.id, std::move(r));
    owner.metrics().rooms_owned.add();
    ++n;
  }
  spdlog::info("node: {} rooms, {} I/O threads{}", n, shard_count(), broker_ ? ", clustered" : "");
  if (broker_) {
    broker_->set_handler(this);
    broker_->start();
  }
  for (auto& sh : shards_) {
    guards_.push_back(boost::asio::make_work_guard(sh->context()));
    sh->start_ticker();
  }
  for (auto& sh : shards_) {
    threads_.emplace_back([s = sh.get()] {
      for (;;) {
        try {
          s->context().run();
          return;
        } catch (const std::exception& e) {
          // A bug in a handler must not take the whole node down; it is logged and counted.
          spdlog::critical("shard {}: unhandled exception: {}", s->index(), e.what());
        }
      }
    });
  }
}

void Node::stop() {
  if (threads_.empty()) return;
  if (broker_) broker_->stop();
  for (auto& sh : shards_) sh->post([s = sh.get()] { s->stop_ticker(); });
  guards_.clear();
  for (auto& sh : shards_) sh->context().stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::size_t Node::session_count() const {
  std::size_t n = 0;
  for (const auto& sh : shards_) n += sh->metrics().connections.get();
  return n;
}

void Node::dispatch(Outbox& out) {
  auto& all = out.items();
  for (unsigned i = 0; i < all.size(); ++i) {
    if (all[i].empty()) continue;
    Shard& target = *shards_[i];
    target.post([this, &target, items = std::move(all[i])]() mutable { apply(target, items); });
    all[i] = {};
  }
}

void Node::reply_now(SessionRef who, std::string event) {
  Shard& target = *shards_[who.shard];
  target.post([&target, id = who.id, event = std::move(event)] {
    if (Session* s = target.find_session(id)) s->enqueue(event);
  });
}

void Node::send_error(Session& s, protocol::errc code, std::string_view ref, std::string_view message,
                      std::string_view extra) {
  s.shard().metrics().errors_sent.add();
  s.enqueue(protocol::error_event(code, message, ref, extra));
}

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
  struct Row {
    const char* name;
    const char* help;
    const char* type;
    Counter ShardMetrics::*field;
  };
  static constexpr Row rows[] = {
      {"parley_connections", "Open WebSocket connections.", "gauge", &ShardMetrics::connections},
      {"parley_connections_total", "WebSocket connections accepted.", "counter", &ShardMetrics::connections_total},
      {"parley_http_requests_total", "HTTP requests served.", "counter", &ShardMetrics::http_requests},
      {"parley_frames_in_total", "Client text frames received.", "counter", &ShardMetrics::frames_in},
      {"parley_messages_in_total", "Chat messages accepted (seq assigned).", "counter", &ShardMetrics::messages_in},
      {"parley_messages_acked_total", "Chat messages durable and acknowledged.", "counter",
       &ShardMetrics::messages_acked},
      {"parley_deliveries_total", "Events queued to sessions by room fan-out.", "counter", &ShardMetrics::deliveries},
      {"parley_bytes_out_total", "WebSocket bytes written.", "counter", &ShardMetrics::bytes_out},
      {"parley_writes_total", "Socket writes.", "counter", &ShardMetrics::writes},
      {"parley_outbound_queue_bytes", "Bytes queued or in flight to clients.", "gauge", &ShardMetrics::outbound_bytes},
      {"parley_slow_consumer_closes_total", "Sessions closed with 1013 for reading too slowly.", "counter",
       &ShardMetrics::slow_consumer_closes},
      {"parley_protocol_closes_total", "Sessions closed for a WebSocket protocol violation.", "counter",
       &ShardMetrics::protocol_closes},
      {"parley_errors_sent_total", "Error events sent.", "counter", &ShardMetrics::errors_sent},
      {"parley_rate_limited_total", "Requests refused by a rate limit.", "counter", &ShardMetrics::rate_limited},
      {"parley_rooms", "Rooms known to this node.", "gauge", &ShardMetrics::rooms_owned},
      {"parley_room_lookups_total", "Unknown rooms looked up in the cluster's room index.", "counter",
       &ShardMetrics::room_lookups},
  };
  std::string out;
  for (const Row& row : rows) {
    std::uint64_t total = 0;
    for (const auto& sh : shards_) total += (sh->metrics().*row.field).get();
    out += std::string("# HELP ") + row.name + " " + row.help + "\n# TYPE " + row.name + " " + row.type + "\n";
    out += std::string(row.name) + " " + std::to_string(total) + "\n";
  }
  append_histogram(out, shards_, "parley_delivery_seconds",
                   "From a chat message's arrival on this node to its fan-out writes handed to the kernel, once per "
                   "message per I/O thread with members.",
                   &ShardMetrics::delivery);
  append_histogram(out, shards_, "parley_commit_seconds",
                   "From a chat message's arrival on this node to its commit known to its room's owner thread: on one "
                   "node its fan-out starts then, in a cluster its ack is sent then.",
                   &ShardMetrics::commit);
  const auto st = store_.stats();
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
      "# HELP parley_store_failures_total Failed commits (each retried).\n# TYPE parley_store_failures_total counter\n";
  out += "parley_store_failures_total " + std::to_string(st.failures) + "\n";
  out += "# HELP parley_ready 1 while the node accepts new connections.\n# TYPE parley_ready gauge\n";
  out += std::string("parley_ready ") + (ready() ? "1" : "0") + "\n";
  if (broker_) {
    out += "# HELP parley_broker_up 1 while the cluster broker is reachable.\n# TYPE parley_broker_up gauge\n";
    out += std::string("parley_broker_up ") + (broker_->ready() ? "1" : "0") + "\n";
  }
  return out;
}

}  // namespace parley::node
