#pragma once
// A client without a socket, for node-level tests: a net::Connection whose events land in a
// queue the test reads, and whose frames the test hands to the node as its transport would.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/connection.hpp"
#include "net/loop.hpp"
#include "node/shard.hpp"

namespace parley::test {

class TestSession final : public net::Connection {
 public:
  TestSession(node::Shard& shard, std::uint64_t id) : Connection(shard.loop(), id), shard_(shard) {}
  node::Shard& shard() const { return shard_; }
  // A frame from this client, as its transport would hand it over (on the shard's thread).
  void frame(std::string_view text) { loop().handler().on_text(*this, text); }

  // Events may come several to a call, one per line (a presence batch, a run of deliveries).
  void enqueue(std::string_view events) override {
    std::lock_guard lock(mutex_);
    while (!events.empty()) {
      const auto end = events.find('\n');
      const auto line = events.substr(0, end);
      if (!line.empty()) events_.push_back(boost::json::parse(line).as_object());
      events = end == std::string_view::npos ? std::string_view() : events.substr(end + 1);
    }
    cv_.notify_all();
  }
  void flush() override {}
  void close(protocol::CloseCode code, std::string_view) override {
    {
      std::lock_guard lock(mutex_);
      if (!closed_) closed_ = code;
      cv_.notify_all();
    }
    loop().handler().on_closed(*this);
  }
  void tick(std::int64_t) override {}

  boost::json::object joined;  // the answer to the join of a test's client()

  // The next event of `type` (skipping others), or an empty object after the timeout.
  boost::json::object next(const std::string& type,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    return next_if(
        type, [](const boost::json::object&) { return true; }, timeout);
  }
  // The next event whose type is one of `types`, or an empty object after the timeout.
  boost::json::object next_any(const std::set<std::string>& types,
                               std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    return next_if(
        "", [&](const boost::json::object& e) { return types.count(std::string(e.at("type").as_string())) > 0; },
        timeout);
  }
  // The next event of `type` that `pred` accepts (leaving the others queued); any type if empty.
  boost::json::object next_if(const std::string& type, const std::function<bool(const boost::json::object&)>& pred,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (std::size_t i = 0; i < events_.size(); ++i) {
        if ((type.empty() || events_[i].at("type").as_string() == type) && pred(events_[i])) {
          auto e = events_[i];
          events_.erase(events_.begin() + static_cast<long>(i));
          return e;
        }
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return {};
    }
  }
  // The code this connection was closed with, once it is (nullopt after the timeout).
  std::optional<protocol::CloseCode> closed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return closed_.has_value(); });
    return closed_;
  }

 private:
  node::Shard& shard_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<boost::json::object> events_;
  std::optional<protocol::CloseCode> closed_;
};

// Runs `f` on the shard's thread and waits for it.
template <class F>
void on_shard(node::Shard& shard, F&& f) {
  std::promise<void> done;
  shard.post([&] {
    f();
    done.set_value();
  });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

// A new connection on `shard`, registered with its loop (the node's session side sees it open).
inline std::shared_ptr<TestSession> open_session(node::Shard& shard) {
  std::shared_ptr<TestSession> s;
  on_shard(shard, [&] {
    s = std::make_shared<TestSession>(shard, shard.loop().next_connection_id());
    shard.loop().add(s);
  });
  return s;
}

// `frame` from `s`, on its shard's thread.
inline void say(const std::shared_ptr<TestSession>& s, const std::string& frame) {
  on_shard(s->shard(), [&] { s->frame(frame); });
}

}  // namespace parley::test
