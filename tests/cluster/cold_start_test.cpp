// Cluster start-up and store faults, with real processes and no mocks (label cluster): one
// redis-server and one PostgreSQL for the suite; each scenario starts its own parley nodes
// (broker.backend=redis, store.backend=postgres), and HAProxy where it needs one.
//
// (a) Nodes started together on a fresh database, several rounds: each serves a join with
//     history and a send (a node once came up unable to read the store, for good).
// (b) /readyz is 503 while a node's store cannot serve, and 200 again after.
// (c) A node killed -9, and clients connecting through HAProxy at once: served by the others.
//
// Every wait is bounded; every process is stopped at the end (also when a test fails).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster_support.hpp"
#include "harness.hpp"
#include "pg_server.hpp"

namespace parley::cluster_test {
namespace {

// The cold-start race, forced: nodes started with PARLEY_TEST_PG_PREPARE_PAUSE_MS set pause this
// long while preparing their statements (PostgresStore: after the statements a join reads with,
// before the others), long enough for a node started just after them without it to migrate the
// fresh database meanwhile.
constexpr const char* prepare_pause_ms = "1500";

class ColdStartTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::string(PARLEY_REDIS_SERVER).empty()) {
      skip_ = "redis-server not installed";
    } else if (std::string(PARLEY_HAPROXY).empty()) {
      skip_ = "haproxy not installed";
    } else {
      skip_ = test::PgServer::unavailable_reason();
    }
    if (!skip_.empty()) return;
    char tmpl[] = "/tmp/parley-cold-start-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    redis_port_ = free_port();
    redis_ = std::make_unique<Child>(
        std::vector<std::string>{PARLEY_REDIS_SERVER, "--port", std::to_string(redis_port_), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--daemonize", "no"},
        dir_ / "redis.log");
    redis_->start();
    if (!eventually(
            [] {
              try {
                return RedisCli(redis_port_).cmd({"PING"}) == "PONG";
              } catch (const std::exception&) {
                return false;
              }
            },
            10s))
      throw std::runtime_error("redis-server not answering:\n" + tail(redis_->log()));
    pg_ = std::make_unique<test::PgServer>();
  }
  static void TearDownTestSuite() {
    redis_.reset();
    pg_.reset();
    std::error_code ec;
    if (!dir_.empty() && !::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  // Node settings on `database`, the suite's Redis under its own `prefix` (each round starts from
  // nothing in Redis too).
  static std::vector<std::string> settings(const std::string& database, const std::string& prefix) {
    return {
        "store.backend=postgres",
        "store.postgres_url=postgresql://postgres@127.0.0.1:" + std::to_string(pg_->port()) + "/" + database,
        "broker.backend=redis",
        "broker.redis_url=redis://127.0.0.1:" + std::to_string(redis_port_) + "/0",
        "broker.prefix=" + prefix,
        "server.trusted_proxies=127.0.0.1",
    };
  }

  // `n` nodes on `database`, started at the same moment (one thread each); the first `paused` of
  // them with PARLEY_TEST_PG_PREPARE_PAUSE_MS, the others 200 ms later without it.
  static std::vector<std::unique_ptr<ServerProcess>> start_together(int n, const std::string& database,
                                                                    const std::string& prefix, int paused = 0) {
    std::vector<std::unique_ptr<ServerProcess>> nodes(static_cast<std::size_t>(n));
    std::vector<std::thread> starters;
    auto start = [&](std::size_t i) {
      starters.emplace_back([&, i] {
        ServerOptions o;
        o.settings = settings(database, prefix);
        o.threads = 1;
        nodes[i] = std::make_unique<ServerProcess>(o);
      });
    };
    if (paused > 0) {
      ::setenv("PARLEY_TEST_PG_PREPARE_PAUSE_MS", prepare_pause_ms, 1);
      for (std::size_t i = 0; i < static_cast<std::size_t>(paused); ++i) start(i);
      std::this_thread::sleep_for(200ms);  // forked (the environment is read at the fork)
      ::unsetenv("PARLEY_TEST_PG_PREPARE_PAUSE_MS");
    }
    for (std::size_t i = static_cast<std::size_t>(paused); i < nodes.size(); ++i) start(i);
    for (auto& t : starters) t.join();
    return nodes;
  }

  static inline std::string skip_;
  static inline fs::path dir_;
  static inline unsigned short redis_port_ = 0;
  static inline std::unique_ptr<Child> redis_;
  static inline std::unique_ptr<test::PgServer> pg_;
};

// (a) Three nodes start at once on a fresh database, three rounds. A node that prepared its
// statements while another's migration committed used to be left without some of them (joins
// answered store_failed for good, /readyz 200): two of the three pause while preparing (if they
// prepare before migrating) and the third starts just after them. Each node must serve a join
// with history (a read of the store) and a send.
TEST_F(ColdStartTest, NodesStartingTogetherOnAFreshDatabaseAllServe) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string database = "cold" + std::to_string(round);
    pg_->create_database(database);
    auto nodes = start_together(3, database, "cold" + std::to_string(round), 2);
    for (auto& n : nodes) ASSERT_TRUE(n && n->running());
    for (auto& n : nodes)
      ASSERT_TRUE(eventually([&] { return readyz(n->port()) == 200; }, 15s)) << tail(n->stderr_text());

    const std::string room = "r" + std::to_string(round);
    {
      WsClient a(nodes[0]->port());
      a.hello("starter");
      a.create(room);
      a.join(room);
      a.send_message(room, "c0", "first");
    }
    // Every node: a join that reads the history from the store, then a send of its own.
    std::uint64_t sent = 1;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      WsClient w(nodes[i]->port());
      w.hello("n" + std::to_string(i));
      auto joined = w.request({{"type", "join"}, {"room", room}, {"since", 0}});
      ASSERT_EQ(type_of(joined), "joined") << "node " << i << ": " << dump(joined) << tail(nodes[i]->stderr_text());
      for (std::uint64_t seq = 1; seq <= sent; ++seq) {
        auto m = w.wait_for("message", {}, 5s);
        ASSERT_TRUE(m) << "node " << i << " sent no history message " << seq;
        EXPECT_EQ(u64(*m, "seq"), seq);
      }
      auto ack = w.send_message(room, "c" + std::to_string(i + 1), "from node " + std::to_string(i));
      EXPECT_EQ(u64(ack, "seq"), ++sent);
    }
    for (auto& n : nodes) {
      EXPECT_EQ(n->terminate(10s), 0);
      // Its own stop closed the broker's connection: the expected end, not an outage.
      EXPECT_EQ(n->stderr_text().find("broker unreachable"), std::string::npos) << tail(n->stderr_text());
    }
    if (::testing::Test::HasFailure()) break;
  }
}

// (b) PostgreSQL goes away under an idle node: /readyz turns 503 naming the store (the node's
// idle probe finds it), parley_store_up 0; once PostgreSQL is back, 200 again and the node serves.
TEST_F(ColdStartTest, ReadyzFollowsTheStore) {
  pg_->create_database("readyz");
  auto nodes = start_together(1, "readyz", "readyz");
  ServerProcess& node = *nodes[0];
  ASSERT_TRUE(eventually([&] { return readyz(node.port()) == 200; }, 15s)) << tail(node.stderr_text());
  EXPECT_EQ(fetch_metric(node.port(), "parley_store_up"), 1.0);

  pg_->stop();
  const bool unready = eventually([&] { return readyz(node.port()) == 503; }, 10s);
  if (!unready) pg_->start();
  ASSERT_TRUE(unready) << "/readyz still 200 without PostgreSQL";
  const auto body = http_get(node.port(), "/readyz", 2s);
  EXPECT_NE(body.body.find(R"("reason":"store unavailable")"), std::string::npos) << body.body;
  EXPECT_EQ(fetch_metric(node.port(), "parley_store_up"), 0.0);

  pg_->start();
  ASSERT_TRUE(eventually([&] { return readyz(node.port()) == 200; }, 15s)) << "/readyz not back after PostgreSQL";
  EXPECT_EQ(fetch_metric(node.port(), "parley_store_up"), 1.0);
  WsClient w(node.port());
  w.hello("after");
  w.create("readyz-room");
  w.join("readyz-room");
  w.send_message("readyz-room", "c1", "stored again");
  EXPECT_EQ(node.terminate(10s), 0);
}

// (c) A node is killed -9; clients connecting through HAProxy at once (before its health checks
// mark it down) are served by the other nodes: HAProxy redispatches a failed connect instead of
// answering 503.
TEST_F(ColdStartTest, ClientsConnectingRightAfterAKillAreServed) {
  pg_->create_database("redispatch");
  auto nodes = start_together(3, "redispatch", "redispatch");
  std::vector<unsigned short> ports;
  for (auto& n : nodes) {
    ASSERT_TRUE(eventually([&] { return readyz(n->port()) == 200; }, 15s)) << tail(n->stderr_text());
    ports.push_back(n->port());
  }
  const unsigned short listen = free_port(), stats = free_port();
  std::ofstream(dir_ / "haproxy.cfg") << haproxy_config(listen, stats, ports);
  Child haproxy({PARLEY_HAPROXY, "-db", "-f", (dir_ / "haproxy.cfg").string()}, dir_ / "haproxy.log");
  haproxy.start();
  ASSERT_TRUE(eventually([&] { return readyz(listen) == 200; }, 10s)) << tail(haproxy.log());
  {
    WsClient a(listen);
    a.hello("creator");
    a.create("kill-room");
  }
  nodes[1]->kill9();
  // Round robin over three servers: of six connections, two are sent to the dead node first.
  for (int i = 0; i < 6; ++i) {
    const auto r = http_get(listen, "/readyz", 10s);
    EXPECT_EQ(r.status, 200) << "request " << i << " after the kill: " << r.body << "\n" << tail(haproxy.log());
  }
  for (int i = 0; i < 3; ++i) {
    WsClient w(listen);
    w.hello("late" + std::to_string(i));
    auto joined = w.request({{"type", "join"}, {"room", "kill-room"}});
    EXPECT_EQ(type_of(joined), "joined") << dump(joined);
  }
  haproxy.kill(SIGTERM);
  for (auto& n : nodes) {
    if (n->running()) {
      EXPECT_EQ(n->terminate(10s), 0);
    }
  }
}

}  // namespace
}  // namespace parley::cluster_test
