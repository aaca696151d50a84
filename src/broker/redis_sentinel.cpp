#include "broker/redis_sentinel.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <stdexcept>

#include "broker/redis_broker.hpp"

namespace parley::broker {

namespace {

constexpr const char* kSwitchChannel = "+switch-master";

// Questions queued for one sentinel while it is down: a handful is plenty (one is asked at a time).
constexpr std::size_t kSentinelMaxPending = 16;

bool valid_master_name(const std::string& name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    return c == ' ' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

}  // namespace

SentinelLocator::SentinelLocator(boost::asio::io_context& ctx, SentinelOptions options, const RedisOptions& redis)
    : ctx_(ctx), strand_(boost::asio::make_strand(ctx)), options_(std::move(options)) {
  if (options_.sentinels.empty()) throw std::invalid_argument("broker.redis_sentinels: no sentinel");
  if (!valid_master_name(options_.master))
    throw std::invalid_argument("broker.redis_sentinel_master: '" + options_.master +
                                "' is not a master name (not empty, no spaces)");
  for (const auto& s : options_.sentinels) {
    RedisOptions o = redis;
    o.locator = nullptr;  // a sentinel is where it is said to be
    o.max_pending = kSentinelMaxPending;
    o.max_pending_bytes = kSentinelMaxPending * 256;
    o.sharded_pubsub = false;
    if (!parse_host_port(s, o)) throw std::invalid_argument("broker.redis_sentinels: bad host:port '" + s + "'");
    addrs_.push_back(s);
    sentinels_.push_back(std::make_unique<RedisClient>(ctx, o));
  }
}

SentinelLocator::~SentinelLocator() {
  for (auto& s : sentinels_) s->stop();
}

void SentinelLocator::start() {
  for (std::size_t i = 0; i < sentinels_.size(); ++i) {
    auto& client = *sentinels_[i];
    client.set_message_handler([this](std::string_view channel, std::string_view payload) {
      if (channel == kSwitchChannel) on_switch_message(payload);
    });
    // Subscribed again after an outage of this sentinel's link: a switch may have gone unheard.
    client.set_subscriber_state_handler([this](bool up) {
      if (up) stale();
    });
    client.start();
    client.subscribe(kSwitchChannel);
  }
  stale();  // the first question
}

void SentinelLocator::stop() {
  boost::asio::post(strand_, [this] { stopped_ = true; });
  for (auto& s : sentinels_) s->stop();
}

std::optional<RedisLocator::Address> SentinelLocator::primary() {
  std::lock_guard lock(mutex_);
  return primary_;
}

void SentinelLocator::stale() {
  boost::asio::post(strand_, [this] { ask(); });
}

void SentinelLocator::ask() {
  if (stopped_) return;
  if (asking_) {
    ask_again_ = true;
    return;
  }
  asking_ = true;
  tried_.assign(sentinels_.size(), false);
  ask_next();
}

// Asks a sentinel not yet tried in this round, a connected one first, from next_ on.
void SentinelLocator::ask_next() {
  const std::size_t n = sentinels_.size();
  std::optional<std::size_t> pick;
  for (int pass = 0; pass < 2 && !pick; ++pass)
    for (std::size_t k = 0; k < n && !pick; ++k) {
      const std::size_t i = (next_ + k) % n;
      if (!tried_[i] && (pass == 1 || sentinels_[i]->connected())) pick = i;
    }
  if (!pick) {
    if (!said_none_)
      spdlog::warn("broker: no sentinel said where the primary of '{}' is; asking again at the next attempt",
                   options_.master);
    said_none_ = true;
    return done_asking();
  }
  const std::size_t which = *pick;
  tried_[which] = true;
  // Queued while that sentinel is down (the first question, at start-up), within ask_timeout_ms.
  sentinels_[which]->command(
      {"SENTINEL", "get-master-addr-by-name", options_.master},
      detail::bounded(ctx_, options_.ask_timeout_ms, [this, which](std::error_code ec, RedisReply reply) {
        boost::asio::post(strand_, [this, which, ec, reply = std::move(reply)] { on_answer(which, ec, reply); });
      }));
}

void SentinelLocator::on_answer(std::size_t which, std::error_code ec, const RedisReply& reply) {
  if (stopped_) return;
  RedisOptions where;
  const bool ok = !ec && reply.type == RedisReply::Type::array && reply.elements.size() == 2 &&
                  parse_host_port(reply.elements[0].str + ':' + reply.elements[1].str, where);
  if (!ok) {
    if (!ec && reply.is_nil())
      spdlog::warn("broker: sentinel {} does not know a master named '{}'", addrs_[which], options_.master);
    next_ = which + 1;  // one that failed is asked last next time
    return ask_next();
  }
  next_ = which;
  said_none_ = false;
  learn({where.host, where.port}, "asked");
  done_asking();
}

void SentinelLocator::done_asking() {
  asking_ = false;
  if (ask_again_) {
    ask_again_ = false;
    ask();
  }
}

void SentinelLocator::on_switch_message(std::string_view payload) {
  // "<master> <old ip> <old port> <new ip> <new port>"
  std::vector<std::string> f;
  while (!payload.empty() && f.size() < 6) {
    const auto sp = payload.find(' ');
    f.emplace_back(payload.substr(0, sp));
    payload.remove_prefix(sp == std::string_view::npos ? payload.size() : sp + 1);
  }
  RedisOptions where;
  if (f.size() != 5 || f[0] != options_.master || !parse_host_port(f[3] + ':' + f[4], where)) return;
  boost::asio::post(strand_, [this, where] {
    if (!stopped_) learn({where.host, where.port}, "+switch-master");
  });
}

void SentinelLocator::learn(Address where, const char* how) {
  {
    std::lock_guard lock(mutex_);
    if (primary_ == where) return;
    if (primary_) {
      switches_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("broker: the primary of '{}' moved from {}:{} to {}:{} ({}): reconnecting", options_.master,
                   primary_->host, primary_->port, where.host, where.port, how);
    } else {
      spdlog::info("broker: the primary of '{}' is {}:{} (sentinel)", options_.master, where.host, where.port);
    }
    primary_ = where;
  }
  if (on_change_) on_change_();
}

}  // namespace parley::broker
