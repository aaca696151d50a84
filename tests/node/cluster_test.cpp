// Several nodes in one process, ordered by a MemoryBroker, sharing one store: the cluster path of
// the node (seq from the broker, delivery on every node, gap repair, broker outages, dedupe across
// nodes) with real shards and real threads.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include "broker/memory_broker.hpp"
#include "node/node.hpp"
#include "store/sqlite_store.hpp"

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using parley::node::Node;
using parley::node::Shard;

// A client without a socket: events land in a queue the test reads.
class TestSession final : public parley::node::Session {
 public:
  TestSession(Shard& shard, std::uint64_t id) : Session(shard, id, shard.node().options().limits) {}

  void enqueue(std::string_view event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(json::parse(event).as_object());
    cv_.notify_all();
  }
  void flush() override {}
  void close(parley::protocol::CloseCode, std::string_view) override { shard().node().on_closed(*this); }
  void tick(std::int64_t) override {}

  // The next event of `type` (skipping others), or an empty object after the timeout.
  json::object next(const std::string& type, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (std::size_t i = read_; i < events_.size(); ++i) {
        if (events_[i].at("type").as_string() == type) {
          auto e = events_[i];
          events_.erase(events_.begin() + static_cast<long>(i));
          return e;
        }
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return {};
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<json::object> events_;
  std::size_t read_ = 0;
};

template <class F>
void on_shard(Shard& shard, F&& f) {
  std::promise<void> done;
  shard.post([&] {
    f();
    done.set_value();
  });
  ASSERT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
}

struct TestNode {
  std::unique_ptr<parley::broker::MemoryBroker> broker;
  std::unique_ptr<Node> node;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("parley-cluster-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::make_unique<parley::store::SqliteStore>(parley::store::SqliteOptions{dir_ / "parley.db"});
    for (int i = 0; i < 2; ++i) {
      TestNode n;
      n.broker = cluster_.endpoint();
      parley::node::NodeOptions opts;
      opts.threads = 2;
      opts.limits.send_rate = opts.limits.send_burst = 1e6;
      opts.limits.request_rate = opts.limits.request_burst = 1e6;
      n.node = std::make_unique<Node>(opts, *store_, n.broker.get());
      n.node->start();
      nodes_.push_back(std::move(n));
    }
  }
  void TearDown() override {
    sessions_.clear();
    for (auto& n : nodes_) n.node->stop();
    nodes_.clear();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A welcomed session on node `n`, joined to `room`.
  std::shared_ptr<TestSession> client(int n, const std::string& name, const std::string& room = "general") {
    Shard& shard = nodes_[n].node->shard(0);
    std::shared_ptr<TestSession> s;
    on_shard(shard, [&] {
      s = std::make_shared<TestSession>(shard, shard.next_session_id());
      shard.add_session(s);
      s->shard().node().on_text(*s, R"({"type":"hello","name":")" + name + R"("})");
      s->shard().node().on_text(*s, R"({"type":"join","room":")" + room + R"("})");
    });
    EXPECT_FALSE(s->next("welcome").empty());
    EXPECT_FALSE(s->next("joined").empty());
    sessions_.push_back(s);
    return s;
  }

  void say(const std::shared_ptr<TestSession>& s, const std::string& frame) {
    on_shard(s->shard(), [&] { s->shard().node().on_text(*s, frame); });
  }

  static std::string send(const std::string& cid, const std::string& text) {
    return R"({"type":"send","room":"general","cid":")" + cid + R"(","text":")" + text + R"("})";
  }

  std::filesystem::path dir_;
  parley::broker::MemoryCluster cluster_;
  std::unique_ptr<parley::store::SqliteStore> store_;
  std::vector<TestNode> nodes_;
  std::vector<std::shared_ptr<TestSession>> sessions_;
};

TEST_F(ClusterTest, MessagesReachEveryNodeInSeqOrder) {
  auto a = client(0, "ada");
  auto b = client(1, "bob");
  for (int i = 0; i < 50; ++i) say(i % 2 ? b : a, send("c" + std::to_string(i), "m" + std::to_string(i)));
  for (auto* s : {a.get(), b.get()}) {
    for (std::uint64_t seq = 1; seq <= 50; ++seq) {
      auto m = s->next("message");
      ASSERT_FALSE(m.empty()) << "missing seq " << seq;
      EXPECT_EQ(m.at("seq").as_int64(), static_cast<std::int64_t>(seq));
    }
  }
  for (int i = 0; i < 25; ++i) EXPECT_FALSE(a->next("ack").empty());
  for (int i = 0; i < 25; ++i) EXPECT_FALSE(b->next("ack").empty());
}

TEST_F(ClusterTest, MissedMessageIsRepairedBeforeLaterOnes) {
  auto a = client(0, "ada");
  auto b = client(1, "bob");
  cluster_.drop_next(nodes_[1].broker.get(), 2);  // node 1 misses seq 1 and 2
  for (int i = 0; i < 5; ++i) say(a, send("c" + std::to_string(i), "m"));
  for (std::uint64_t seq = 1; seq <= 5; ++seq) {
    auto m = b->next("message");
    ASSERT_FALSE(m.empty()) << "missing seq " << seq;
    EXPECT_EQ(m.at("seq").as_int64(), static_cast<std::int64_t>(seq));
  }
}

TEST_F(ClusterTest, MissedLastMessageIsFoundByThePeriodicCheck) {
  auto a = client(0, "ada");
  auto b = client(1, "bob");
  cluster_.drop_next(nodes_[1].broker.get(), 1);
  say(a, send("c1", "only"));
  auto m = b->next("message", 4s);  // nothing follows it: the once-a-second check finds the gap
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.at("seq").as_int64(), 1);
}

TEST_F(ClusterTest, RetryThroughAnotherNodeIsDeduplicated) {
  auto a1 = client(0, "ada");
  auto a2 = client(1, "ada");
  say(a1, send("same", "once"));
  auto first = a1->next("ack");
  ASSERT_FALSE(first.empty());
  a2->next("message");  // let node 1 apply it
  say(a2, send("same", "once"));
  auto second = a2->next("ack");
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(first.at("seq"), second.at("seq"));
  say(a1, send("next", "two"));
  EXPECT_EQ(a1->next("ack").at("seq").as_int64(), 2);
}

TEST_F(ClusterTest, BrokerOutageRefusesSendsAndCatchesUp) {
  auto a = client(0, "ada");
  auto b = client(1, "bob");
  cluster_.set_up(false);
  EXPECT_FALSE(nodes_[0].node->ready());
  say(a, send("c1", "lost?"));
  auto err = a->next("error");
  ASSERT_FALSE(err.empty());
  EXPECT_EQ(err.at("code").as_string(), "unavailable");
  cluster_.set_up(true);
  EXPECT_TRUE(nodes_[0].node->ready());
  say(a, send("c1", "retried"));
  EXPECT_EQ(a->next("ack").at("seq").as_int64(), 1);
  EXPECT_EQ(b->next("message").at("text").as_string(), "retried");
}

TEST_F(ClusterTest, ResumeOnAnotherNodeHasNoHoleAndNoDuplicate) {
  auto a = client(0, "ada");
  for (int i = 0; i < 10; ++i) say(a, send("c" + std::to_string(i), "m"));
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(a->next("ack").empty());
  // bob saw up to seq 4 on node 0, reconnects to node 1 and resumes.
  Shard& shard = nodes_[1].node->shard(1);
  auto b = std::make_shared<TestSession>(shard, shard.next_session_id());
  sessions_.push_back(b);
  on_shard(shard, [&] {
    shard.add_session(b);
    shard.node().on_text(*b, R"({"type":"hello","name":"bob"})");
    shard.node().on_text(*b, R"({"type":"join","room":"general","since":4})");
  });
  ASSERT_FALSE(b->next("joined").empty());
  say(a, send("c10", "live"));
  for (std::uint64_t seq = 5; seq <= 11; ++seq) {
    auto m = b->next("message");
    ASSERT_FALSE(m.empty()) << seq;
    EXPECT_EQ(m.at("seq").as_int64(), static_cast<std::int64_t>(seq));
  }
  EXPECT_TRUE(b->next("message", 300ms).empty());
}

TEST_F(ClusterTest, RoomCreatedOnOneNodeIsKnownOnTheOthers) {
  auto a = client(0, "ada");
  auto b = client(1, "bob");
  say(a, R"({"type":"create","room":"ops"})");
  ASSERT_FALSE(a->next("created").empty());
  auto seen = b->next("created");
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.at("room").as_string(), "ops");
  say(b, R"({"type":"join","room":"ops"})");
  EXPECT_FALSE(b->next("joined").empty());
}

}  // namespace
