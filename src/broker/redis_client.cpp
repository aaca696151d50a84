#include "broker/redis_client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <utility>

#include "broker/redis_link.hpp"
#include "broker/redis_wire.hpp"

namespace parley::broker {

namespace asio = boost::asio;
using detail::format_command;
using detail::Strand;

namespace {

class RedisCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "redis"; }
  std::string message(int ev) const override {
    switch (static_cast<redis_errc>(ev)) {
      case redis_errc::connection_lost: return "connection to redis lost before the reply";
      case redis_errc::not_connected: return "not connected to redis";
      case redis_errc::queue_full: return "redis command queue full";
      case redis_errc::server_error: return "redis error reply";
      case redis_errc::protocol_error: return "redis protocol error";
      case redis_errc::stopped: return "redis client stopped";
      case redis_errc::loading: return "redis is loading its data";
    }
    return "unknown redis error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<redis_errc>(ev)) {
      case redis_errc::stopped: return std::errc::operation_canceled;
      case redis_errc::not_connected: return std::errc::not_connected;
      case redis_errc::connection_lost: return std::errc::connection_reset;
      default: return {ev, *this};
    }
  }
};

}  // namespace

const std::error_category& redis_category() noexcept {
  static const RedisCategory category;
  return category;
}

bool parse_host_port(const std::string& addr, RedisOptions& o) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  o.host = addr.substr(0, colon);
  const char* b = addr.data() + colon + 1;
  const char* e = addr.data() + addr.size();
  auto r = std::from_chars(b, e, o.port);
  return r.ec == std::errc() && r.ptr == e && o.port != 0;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)), sha1_(detail::sha1_hex(source_)) {}

RedisClient::RedisClient(asio::io_context& ctx, RedisOptions options)
    : counters_(std::make_shared<detail::RedisCounters>()) {
  Strand strand = asio::make_strand(ctx);
  cmd_ = std::make_shared<detail::RedisCommandLink>(strand, options, counters_);
  sub_ = std::make_shared<detail::RedisSubscriberLink>(strand, std::move(options), counters_);
}

RedisClient::~RedisClient() {
  try {
    stop();
  } catch (const std::exception& e) {
    spdlog::error("redis: stopping the client failed: {}", e.what());
  }
}

// Every public member posts to the strand: the links are strand-only.
namespace {
template <class Link, class F>
void post_to(const std::shared_ptr<Link>& link, F&& f) {
  asio::post(link->strand(), [link, f = std::forward<F>(f)]() mutable { f(*link); });
}
}  // namespace

void RedisClient::set_state_handler(StateHandler handler) {
  post_to(cmd_, [h = std::move(handler)](auto& l) mutable { l.set_state_handler(std::move(h)); });
}

void RedisClient::set_subscriber_state_handler(StateHandler handler) {
  post_to(sub_, [h = std::move(handler)](auto& l) mutable { l.set_state_handler(std::move(h)); });
}

void RedisClient::set_message_handler(MessageHandler handler) {
  post_to(sub_, [h = std::move(handler)](auto& l) mutable { l.set_message_handler(std::move(h)); });
}

void RedisClient::set_lost_handler(LostHandler handler) {
  post_to(sub_, [h = std::move(handler)](auto& l) mutable { l.set_lost_handler(std::move(h)); });
}

void RedisClient::start() {
  post_to(cmd_, [](auto& l) { l.start(); });
}

void RedisClient::stop() {
  post_to(cmd_, [](auto& l) { l.stop(); });
  post_to(sub_, [](auto& l) { l.stop(); });
}

void RedisClient::command(const std::vector<std::string>& args, Callback cb) {
  // Formatting happens on the caller's thread: it spreads the work and keeps the strand short.
  std::string wire = args.empty() ? std::string{} : format_command(args);
  post_to(cmd_, [wire = std::move(wire), cb = std::move(cb)](auto& l) mutable {
    if (wire.empty()) return cb(std::make_error_code(std::errc::invalid_argument), {});
    l.enqueue(std::move(wire), std::move(cb));
  });
}

void RedisClient::command_asking(const std::vector<std::string>& args, Callback cb) {
  std::string wire = args.empty() ? std::string{} : format_command(args);
  post_to(cmd_, [wire = std::move(wire), cb = std::move(cb)](auto& l) mutable {
    if (wire.empty()) return cb(std::make_error_code(std::errc::invalid_argument), {});
    l.enqueue(format_command({"ASKING"}), [](std::error_code, const RedisReply&) {});
    l.enqueue(std::move(wire), std::move(cb));
  });
}

void RedisClient::load_on_connect(const RedisScript& script) {
  std::string wire = format_command({"SCRIPT", "LOAD", script.source()});
  post_to(cmd_, [wire = std::move(wire)](auto& l) mutable { l.load_on_connect(std::move(wire)); });
}

void RedisClient::eval_script(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
                              Callback cb) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  std::string wire = format_command(argv);
  argv[0] = "EVAL";
  argv[1] = script.source();
  std::weak_ptr<detail::RedisCommandLink> weak = cmd_;
  // On NOSCRIPT the same callback is handed to an EVAL: the caller sees one completion.
  auto on_reply = [weak, argv = std::move(argv), cb = std::move(cb)](std::error_code ec, RedisReply reply) mutable {
    bool noscript = ec == redis_errc::server_error && reply.str.starts_with("NOSCRIPT");
    auto link = weak.lock();
    if (!noscript || !link) return cb(ec, std::move(reply));
    link->enqueue(format_command(argv), std::move(cb));  // runs on the strand already
  };
  post_to(cmd_, [wire = std::move(wire), f = std::move(on_reply)](auto& l) mutable {
    if (wire.empty()) return f(std::make_error_code(std::errc::not_enough_memory), {});
    l.enqueue(std::move(wire), std::move(f));
  });
}

void RedisClient::subscribe(std::string channel, SubscribeDone done) {
  post_to(sub_, [ch = std::move(channel), d = std::move(done)](auto& l) mutable {
    l.subscribe(std::move(ch), std::move(d));
  });
}

void RedisClient::unsubscribe(std::string channel) {
  post_to(sub_, [ch = std::move(channel)](auto& l) { l.unsubscribe(ch); });
}

void RedisClient::reconnect() {
  post_to(cmd_, [](auto& l) { l.restart(); });
  post_to(sub_, [](auto& l) { l.restart(); });
}

bool RedisClient::connected() const noexcept { return cmd_->up(); }

bool RedisClient::subscriber_connected() const noexcept { return sub_->resubscribed(); }

RedisStats RedisClient::stats() const noexcept {
  const auto& c = *counters_;
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  return RedisStats{get(c.commands), get(c.writes),     get(c.replies),
                    get(c.connects), get(c.queue_full), get(c.messages)};
}

}  // namespace parley::broker
