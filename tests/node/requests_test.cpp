// The session side on a node of its own, on a ManualClock: what depends on time passing (rate
// limits, the typing throttle, the hello timeout) is tested by moving the clock, not by sleeping;
// and a handler that throws is loud.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "node/node.hpp"
#include "store/sqlite_store.hpp"
#include "test_session.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;

class RequestsTest : public ::testing::Test {
 protected:
  void SetUp() override { start(true); }
  void TearDown() override { stop(); }

  void start(bool fail_fast) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::temp_directory_path() / ("parley-requests-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(dir_);
    store_ = std::make_unique<store::SqliteStore>(store::SqliteOptions{dir_ / "parley.db"});
    node::NodeOptions o;
    o.threads = 1;
    o.clock = &clock_;
    o.fail_fast = fail_fast;
    o.limits.send_rate = 1;  // a token a second, two saved up
    o.limits.send_burst = 2;
    o.limits.typing_interval_ms = 1000;
    o.limits.hello_timeout_ms = 10000;
    o.rooms.presence_batch_ms = 0;
    node_ = std::make_unique<node::Node>(o, *store_);
    node_->start();
  }
  void stop() {
    sessions_.clear();
    if (node_) node_->stop();
    if (store_) store_->flush();  // its completions post to the node's shards: they run before the node goes
    node_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<TestSession> client(const std::string& name) {
    auto s = open_session(node_->shard(0));
    say(s, R"({"type":"hello","name":")" + name + R"("})");
    EXPECT_FALSE(s->next("welcome").empty());
    say(s, R"({"type":"join","room":"general"})");
    EXPECT_FALSE(s->next("joined").empty());
    sessions_.push_back(s);
    return s;
  }

  static std::string send(const std::string& cid) {
    return R"({"type":"send","room":"general","cid":")" + cid + R"(","text":"hi"})";
  }

  core::ManualClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<node::Node> node_;
  std::vector<std::shared_ptr<TestSession>> sessions_;
};

TEST_F(RequestsTest, SendRateRefillsAsTheClockMovesNotAsTheWallClockDoes) {
  auto a = client("ada");
  say(a, send("c1"));
  say(a, send("c2"));
  say(a, send("c3"));
  EXPECT_FALSE(a->next("ack").empty());
  EXPECT_FALSE(a->next("ack").empty());
  auto refused = a->next("error");
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused.at("code"), "rate_limited");
  // One token a second, none left: the next one is 1000 ms away (and a millisecond for rounding).
  EXPECT_EQ(refused.at("retry_after_ms").as_int64(), 1001);
  clock_.advance_ms(999);
  say(a, send("c4"));
  EXPECT_EQ(a->next("error").at("code"), "rate_limited");
  clock_.advance_ms(2);
  say(a, send("c5"));
  auto ack = a->next("ack");
  ASSERT_FALSE(ack.empty());
  EXPECT_EQ(ack.at("cid"), "c5");
}

TEST_F(RequestsTest, TypingIsThrottledByTheClock) {
  auto a = client("ada");
  auto b = client("bob");
  const std::string typing = R"({"type":"typing","room":"general"})";
  say(a, typing);
  EXPECT_FALSE(b->next("typing").empty());
  // Within the interval: dropped without an error. The message after it shows that nothing
  // came between (events reach b in order).
  clock_.advance_ms(999);
  say(a, typing);
  say(a, send("c1"));
  auto next = b->next_any({"typing", "message"});
  EXPECT_EQ(next.at("type"), "message");
  clock_.advance_ms(1);
  say(a, typing);
  EXPECT_FALSE(b->next("typing").empty());
  EXPECT_TRUE(a->next("error", 0ms).empty());
}

TEST_F(RequestsTest, AClientThatNeverSaysHelloIsClosedWith1008OnceTheClockPassesTheTimeout) {
  auto quiet = open_session(node_->shard(0));
  auto polite = open_session(node_->shard(0));
  say(polite, R"({"type":"hello","name":"ada"})");
  clock_.advance_ms(9999);
  // The shard's tick comes once a second of real time: two of them pass without a close.
  EXPECT_FALSE(quiet->closed(2500ms));
  clock_.advance_ms(2);
  EXPECT_EQ(quiet->closed(3000ms), protocol::CloseCode::policy_violation);
  EXPECT_FALSE(polite->closed(0ms));
}

TEST_F(RequestsTest, AHandlerThatThrowsIsCountedAndTheThreadGoesOnWhenNotFailingFast) {
  stop();
  start(false);
  node_->shard(0).post([] { throw std::runtime_error("a bug"); });
  auto a = client("ada");  // served after it, on the same thread
  say(a, send("c1"));
  EXPECT_FALSE(a->next("ack").empty());
  EXPECT_NE(node_->metrics_text().find("\nparley_handler_errors_total 1\n"), std::string::npos);
}

TEST(RequestsDeathTest, AHandlerThatThrowsAbortsTheProcessWhenFailingFast) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto dir = std::filesystem::path(::testing::TempDir()) / "parley-fail-fast";
  EXPECT_DEATH(
      {
        store::SqliteStore store(store::SqliteOptions{dir / "parley.db"});
        node::NodeOptions o;
        o.fail_fast = true;
        node::Node node(o, store);
        node.start();
        node.shard(0).post([] { throw std::runtime_error("a bug"); });
        std::this_thread::sleep_for(5s);  // the abort comes first
      },
      "unhandled exception: a bug");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::test
