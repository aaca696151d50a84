// The cluster, with real processes and no mocks: one redis-server, one PostgreSQL, three parley
// nodes (broker.backend=redis, store.backend=postgres) and HAProxy in front (http mode,
// roundrobin, health check GET /readyz, timeout tunnel), all on free 127.0.0.1 ports. The cluster
// is started once for the suite; each scenario leaves it whole for the next.
//
// A scenario's traffic is a ledger: members that send at a steady rate, reconnect through
// HAProxy when their connection drops, rejoin with `since` and resend what was not acknowledged
// with the same cid. Checked: each member sees a gap-free, duplicate-free run of seqs; every
// acked message reaches every member, once, with the (sender, cid) it was acked for; and
// PostgreSQL holds every message anyone saw, seqs 1..n without a hole.
//
// Every wait is bounded; every process is stopped at the end (also when a test fails).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vips/vips.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster_support.hpp"
#include "harness.hpp"
#include "pg_server.hpp"
#include "redis_cluster.hpp"
#include "redis_sentinel.hpp"
#include "redis_server.hpp"

namespace parley::cluster_test {
namespace {

using namespace parley::it;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// The cluster.

struct Cluster {
  fs::path dir;
  unsigned short redis_port = 0, haproxy_port = 0, stats_port = 0;
  std::unique_ptr<Child> redis, haproxy;
  std::unique_ptr<test::PgServer> pg;
  std::vector<std::unique_ptr<ServerProcess>> nodes;

  void start_redis() {
    redis->start();
    const auto deadline = Clock::now() + 10s;
    for (;;) {
      try {
        RedisCli cli(redis_port);
        // While it loads its AOF, Redis answers -LOADING.
        if (cli.cmd({"PING"}) == "PONG") return;
      } catch (const std::exception&) {
      }
      if (!redis->alive()) throw std::runtime_error("redis-server exited:\n" + tail(redis->log()));
      if (Clock::now() > deadline) throw std::runtime_error("redis-server not answering:\n" + tail(redis->log()));
      std::this_thread::sleep_for(20ms);
    }
  }

  void start() {
    char tmpl[] = "/tmp/parley-cluster-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    fs::create_directories(dir / "redis");

    redis_port = free_port();
    redis = std::make_unique<Child>(
        std::vector<std::string>{PARLEY_REDIS_SERVER, "--port", std::to_string(redis_port), "--bind", "127.0.0.1",
                                 "--dir", (dir / "redis").string(), "--save", "", "--appendonly", "yes",
                                 "--appendfsync", "always", "--daemonize", "no"},
        dir / "redis.log");
    start_redis();

    pg = std::make_unique<test::PgServer>();
    pg->create_database("parley");
    // The cluster's file storage: one directory every node shares (operations.md, files.dir), as
    // a shared volume would be; removed with `dir`.
    fs::create_directories(dir / "files");

    const std::vector<std::string> settings = {
        "store.backend=postgres",
        "store.postgres_url=postgresql://postgres@127.0.0.1:" + std::to_string(pg->port()) + "/parley",
        "broker.backend=redis",
        // The URL form of scripts/cluster and deploy/compose.yaml, database included.
        "broker.redis_url=redis://127.0.0.1:" + std::to_string(redis_port) + "/0",
        // The ledger clients send faster than a person.
        "limits.send_rate=50",
        "limits.send_burst=100",
        // HAProxy names each client with a PROXY v2 header (send-proxy-v2, as deploy/ does).
        "server.trusted_proxies=127.0.0.1",
        // A drain as in a rolling restart: HAProxy (checks every 1 s, fall 2) sees /readyz fail
        // within the notice; then the sessions go with 1012 over a second.
        "server.drain_notice_ms=2000",
        "server.drain_window_ms=1000",
        "files.dir=" + (dir / "files").string(),
    };
    for (int i = 0; i < 3; ++i) {
      ServerOptions o;
      o.settings = settings;
      o.threads = 2;
      nodes.push_back(std::make_unique<ServerProcess>(o));
    }
    for (auto& n : nodes)
      if (!eventually([&] { return readyz(n->port()) == 200; }, 15s))
        throw std::runtime_error("node on port " + std::to_string(n->port()) + " not ready:\n" +
                                 tail(n->stderr_text()));

    // HAProxy from the loopback template (the one scripts/cluster fills in).
    haproxy_port = free_port();
    stats_port = free_port();
    std::vector<unsigned short> ports;
    for (auto& n : nodes) ports.push_back(n->port());
    const std::string cfg = haproxy_config(haproxy_port, stats_port, ports);
    std::ofstream(dir / "haproxy.cfg") << cfg;
    haproxy = std::make_unique<Child>(
        std::vector<std::string>{PARLEY_HAPROXY, "-db", "-f", (dir / "haproxy.cfg").string()}, dir / "haproxy.log");
    haproxy->start();
    // Up once a request through it reaches a ready node.
    if (!eventually([&] { return readyz(haproxy_port) == 200; }, 10s))
      throw std::runtime_error("haproxy not serving:\n" + tail(haproxy->log()));
  }

  void stop() {
    haproxy.reset();
    // All at once: each drain waits out its notice.
    for (auto& n : nodes)
      if (n->running()) n->signal_term();
    for (auto& n : nodes)
      if (n->running()) n->wait_exit(10s);
    nodes.clear();
    if (redis) redis->kill(SIGTERM);
    redis.reset();
    pg.reset();
    if (!::testing::Test::HasFailure() && !dir.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    } else if (!dir.empty()) {
      std::fprintf(stderr, "cluster logs kept in %s\n", dir.c_str());
    }
  }

  // Open connections per node (the gauge), -1 for a node that is down.
  std::vector<double> connections() { return per_node("parley_connections"); }
  // Connections each node has accepted so far (the counter): unlike the gauge, a connection that
  // another client closed a moment ago cannot hide a new one.
  std::vector<double> connections_accepted() { return per_node("parley_connections_total"); }
  std::vector<double> per_node(const std::string& metric_name) {
    std::vector<double> out;
    for (auto& n : nodes) out.push_back(n->running() ? fetch_metric(n->port(), metric_name).value_or(-1) : -1);
    return out;
  }

  // Waits until every running node is ready and, after a restart, HAProxy sees it again (health
  // checks every 1 s, rise 1).
  void wait_all_ready(bool restarted, Ms timeout = 15s) {
    for (auto& n : nodes) {
      if (n->running()) {
        ASSERT_TRUE(eventually([&] { return readyz(n->port()) == 200; }, timeout)) << "node not ready";
      }
    }
    if (restarted) std::this_thread::sleep_for(2500ms);
    // A node that was unready a moment ago (its store or Redis away) may still be out of HAProxy's
    // rotation: its stats page says so.
    ASSERT_TRUE(eventually(
        [&] {
          return haproxy_up() ==
                 static_cast<int>(std::count_if(nodes.begin(), nodes.end(), [](auto& n) { return n->running(); }));
        },
        timeout))
        << "HAProxy does not see every node up";
  }

  // The servers HAProxy has in rotation (its stats page, CSV), -1 if it does not answer.
  int haproxy_up() {
    try {
      const auto r = http_get(stats_port, "/stats;csv", 1s);
      if (r.status != 200) return -1;
      int up = 0;
      std::istringstream in(r.body);
      for (std::string line; std::getline(in, line);)
        if (line.starts_with("parley_nodes,node") && line.find(",UP,") != std::string::npos) ++up;
      return up;
    } catch (const std::exception&) {
      return -1;
    }
  }
};

Cluster* g_cluster = nullptr;

class ClusterEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::string(PARLEY_REDIS_SERVER).empty())
      skip_ = "redis-server not installed";
    else if (std::string(PARLEY_HAPROXY).empty())
      skip_ = "haproxy not installed";
    else
      skip_ = test::PgServer::unavailable_reason();
    if (!skip_.empty()) return;
    cluster_ = std::make_unique<Cluster>();
    try {
      cluster_->start();
      g_cluster = cluster_.get();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  void TearDown() override {
    g_cluster = nullptr;
    if (cluster_) cluster_->stop();
    cluster_.reset();
  }
  static std::string skip_, start_error_;

 private:
  std::unique_ptr<Cluster> cluster_;
};
std::string ClusterEnv::skip_, ClusterEnv::start_error_;

// ---------------------------------------------------------------------------------------------
// Ledger traffic.

struct Stats {
  int reconnects = 0;
  std::map<std::string, int> errors;     // error code → count (sends refused and retried)
  Clock::time_point last_unavailable{};  // the last send refused `unavailable`
};

// One member of a room: connects through `port` (HAProxy), reconnects when dropped, resumes
// with since, resends unacknowledged messages with their cid.
class Member {
 public:
  // Connects to `first_port` the first time (0: `port`), to `port` (HAProxy) after that.
  Member(std::string name, std::string room, unsigned short port, std::shared_ptr<boost::asio::io_context> ioc,
         bool sender, unsigned short first_port = 0)
      : name_(std::move(name)),
        room_(std::move(room)),
        port_(port),
        first_port_(first_port ? first_port : port),
        ioc_(std::move(ioc)),
        sender_(sender) {}

  // Connects, hello, join (with since once it has joined before). False on failure.
  bool connect(Stats& st) {
    ws_.reset();
    try {
      auto ws = std::make_unique<WsClient>(joined_once_ ? port_ : first_port_, ioc_);
      ws->hello(name_);
      auto joined = ws->join(room_, joined_once_ ? std::optional<std::uint64_t>(last_) : std::nullopt);
      if (!joined_once_) {
        last_ = u64(joined, "last_seq");
        start_ = last_;
        joined_once_ = true;
      } else {
        ++st.reconnects;
      }
      ws_ = std::move(ws);
      connections_++;
      if (lost_at_ != Clock::time_point{}) {
        longest_gap_ = std::max(longest_gap_, std::chrono::duration_cast<Ms>(Clock::now() - lost_at_));
        lost_at_ = {};
      }
      // Everything not acknowledged goes again, with its cid.
      for (auto& [cid, p] : pending_) p.due = Clock::now();
      return true;
    } catch (const std::exception& e) {
      last_error_ = e.what();
      return false;
    }
  }

  bool connected() const { return ws_ && !ws_->closed(); }
  const std::string& name() const { return name_; }

  // The member goes away for good (its unacked messages are never resent).
  void abandon() {
    gone_ = true;
    ws_.reset();
  }
  bool gone() const { return gone_; }

  // One step: reconnect if needed, read events, send what is due.
  void step(Stats& st, bool produce) {
    if (gone_) return;
    const auto now = Clock::now();
    if (!connected()) {
      if (joined_once_ && lost_at_ == Clock::time_point{}) lost_at_ = now;
      if (now < retry_at_) return;
      if (!connect(st)) {
        retry_at_ = now + 200ms;
        return;
      }
    }
    take_events(st);
    if (!connected()) return;
    try {
      if (sender_ && produce && now >= next_send_) {
        const std::string cid = name_ + "-" + std::to_string(next_cid_++);
        pending_[cid] = Pending{"msg " + cid, now};
        next_send_ = now + 120ms;
      }
      for (auto& [cid, p] : pending_) {
        if (p.due > now) continue;
        ws_->send_json({{"type", "send"}, {"room", room_}, {"cid", cid}, {"text", p.text}, {"ref", cid}});
        p.due = now + 5s;  // no answer in 5 s (a lost connection): again
        ++sends_;
      }
    } catch (const std::exception& e) {
      last_error_ = e.what();
      ws_.reset();
    }
  }

  void take_events(Stats& st) {
    if (!ws_) return;
    auto& q = ws_->events();
    while (!q.empty()) {
      json::object e = std::move(q.front());
      q.pop_front();
      const std::string type = type_of(e);
      if (type == "message" && str(e, "room") == room_) {
        const std::uint64_t seq = u64(e, "seq");
        if (seq != last_ + 1)
          violations_.push_back(name_ + ": got seq " + std::to_string(seq) + " after " + std::to_string(last_) +
                                (seq <= last_ ? " (duplicate)" : " (hole)"));
        if (seq > last_) {
          last_ = seq;
          seen_[seq] = str(e, "from") + "|" + str(e, "cid");
        }
      } else if (type == "ack") {
        const std::string cid = str(e, "cid");
        const std::uint64_t seq = u64(e, "seq");
        if (auto it = acked_.find(cid); it != acked_.end() && it->second != seq)
          violations_.push_back(name_ + ": cid " + cid + " acked twice with different seqs");
        acked_[cid] = seq;
        pending_.erase(cid);
      } else if (type == "error") {
        const std::string code = str(e, "code");
        st.errors[code]++;
        if (code == "unavailable") st.last_unavailable = Clock::now();
        const std::string cid = str(e, "ref");
        if (auto it = pending_.find(cid); it != pending_.end()) {
          const auto after = e.contains("retry_after_ms") ? Ms(i64(e, "retry_after_ms")) : 300ms;
          it->second.due = Clock::now() + std::max(after, 100ms);
        } else {
          violations_.push_back(name_ + ": unexpected error " + dump(e));
        }
      }
    }
  }

  std::size_t pending() const { return pending_.size(); }
  std::uint64_t last() const { return last_; }
  std::uint64_t start() const { return start_; }
  const std::map<std::string, std::uint64_t>& acked() const { return acked_; }
  const std::map<std::uint64_t, std::string>& seen() const { return seen_; }
  const std::vector<std::string>& violations() const { return violations_; }
  const std::string& last_error() const { return last_error_; }
  int connections() const { return connections_; }
  // The longest time it was without a connection (from noticing the loss to joined again).
  Ms longest_gap() const { return longest_gap_; }
  void drop() {
    if (ws_) ws_->drop();
  }

 private:
  struct Pending {
    std::string text;
    Clock::time_point due;
  };
  std::string name_, room_;
  unsigned short port_, first_port_;
  std::shared_ptr<boost::asio::io_context> ioc_;
  bool sender_;
  std::unique_ptr<WsClient> ws_;
  bool joined_once_ = false;
  bool gone_ = false;
  std::uint64_t start_ = 0, last_ = 0;
  std::map<std::string, Pending> pending_;
  std::map<std::string, std::uint64_t> acked_;
  std::map<std::uint64_t, std::string> seen_;  // seq → "from|cid"
  std::vector<std::string> violations_;
  std::string last_error_;
  Clock::time_point retry_at_{}, next_send_{}, lost_at_{};
  Ms longest_gap_{0};
  int next_cid_ = 1;
  int connections_ = 0;
  int sends_ = 0;
};

class Traffic {
 public:
  // Member i connects to first_ports[i] first (when given), through `port` (HAProxy) after that.
  Traffic(std::string room, unsigned short port, int members, std::vector<unsigned short> first_ports = {})
      : room_(std::move(room)) {
    ioc_ = std::make_shared<boost::asio::io_context>(1);
    for (int i = 0; i < members; ++i) {
      const unsigned short first = static_cast<std::size_t>(i) < first_ports.size() ? first_ports[i] : 0;
      members_.push_back(
          std::make_unique<Member>("u" + std::to_string(i) + "-" + room_, room_, port, ioc_, true, first));
    }
  }

  // Connects everyone (bounded). Fails the test if someone cannot join.
  void connect_all() {
    for (auto& m : members_) {
      const auto deadline = Clock::now() + 10s;
      while (!m->connect(stats_)) {
        ASSERT_LT(Clock::now(), deadline) << m->name() << " cannot join: " << m->last_error();
        std::this_thread::sleep_for(100ms);
      }
    }
  }

  // Runs the traffic for `d` (with new messages if `produce`).
  void run(Ms d, bool produce = true) {
    const auto deadline = Clock::now() + d;
    while (Clock::now() < deadline) tick(produce);
  }

  void tick(bool produce) {
    if (ioc_->stopped()) ioc_->restart();
    ioc_->run_for(5ms);
    for (auto& m : members_) m->step(stats_, produce);
  }

  // Stops producing and waits until every send is acked and everyone saw the newest acked seq.
  bool settle(Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      tick(false);
      bool done = true;
      const std::uint64_t top = max_acked();
      for (auto& m : members_)
        if (!m->gone() && (m->pending() > 0 || m->last() < top || !m->connected())) done = false;
      if (done) {
        // A little more, so that a late duplicate would show.
        run(300ms, false);
        return true;
      }
    }
    return false;
  }

  std::uint64_t max_acked() const {
    std::uint64_t top = 0;
    for (auto& m : members_)
      for (auto& [cid, seq] : m->acked()) top = std::max(top, seq);
    return top;
  }

  Ms longest_gap() const {
    Ms top{0};
    for (auto& m : members_) top = std::max(top, m->longest_gap());
    return top;
  }

  std::size_t acked_count() const {
    std::size_t n = 0;
    for (auto& m : members_) n += m->acked().size();
    return n;
  }

  std::string describe() const {
    std::ostringstream os;
    os << "room " << room_ << ": " << acked_count() << " acked, top seq " << max_acked() << ", reconnects "
       << stats_.reconnects << ", errors {";
    for (auto& [c, n] : stats_.errors) os << c << ":" << n << " ";
    os << "}";
    for (auto& m : members_)
      os << "\n  " << m->name() << ": last " << m->last() << ", pending " << m->pending() << ", connections "
         << m->connections() << (m->connected() ? "" : " (disconnected: " + m->last_error() + ")");
    return os.str();
  }

  // The ledger check, against what the members saw and what PostgreSQL (database `db`) holds.
  void check(test::PgServer& pg, const std::string& db = "parley") {
    SCOPED_TRACE(describe());
    std::map<std::uint64_t, std::string> by_seq;  // acked seq → "from|cid"
    for (auto& m : members_) {
      for (const auto& v : m->violations()) ADD_FAILURE() << v;
      for (auto& [cid, seq] : m->acked()) {
        const std::string who = m->name() + "|" + cid;
        auto [it, fresh] = by_seq.emplace(seq, who);
        if (!fresh && it->second != who)
          ADD_FAILURE() << "seq " << seq << " acked for " << it->second << " and " << who;
      }
    }
    ASSERT_GT(by_seq.size(), 0u) << "no message was acked";
    for (auto& m : members_) {
      if (m->gone()) continue;
      for (auto& [seq, who] : by_seq) {
        if (seq <= m->start()) continue;
        auto it = m->seen().find(seq);
        if (it == m->seen().end())
          ADD_FAILURE() << m->name() << " never got acked seq " << seq << " (" << who << ")";
        else if (it->second != who)
          ADD_FAILURE() << m->name() << " got seq " << seq << " as " << it->second << ", acked as " << who;
      }
    }
    // PostgreSQL: every seq 1..n, each message anyone saw, each acked one.
    std::uint64_t top_seen = 0;
    for (auto& m : members_) top_seen = std::max(top_seen, m->last());
    std::map<std::uint64_t, std::string> stored;
    // The sender's node may still be committing, or a recovery sweep storing what a dead node had not.
    const auto deadline = Clock::now() + 15s;
    for (;;) {
      stored.clear();
      for (auto& row : pg.query(db, "SELECT seq, sender, cid FROM messages WHERE room = '" + room_ + "' ORDER BY seq"))
        stored[std::stoull(row[0])] = row[1] + "|" + row[2];
      if ((!stored.empty() && stored.rbegin()->first >= top_seen && stored.size() == stored.rbegin()->first) ||
          Clock::now() > deadline)
        break;
      std::this_thread::sleep_for(100ms);
    }
    std::uint64_t expect = 1;
    for (auto& [seq, who] : stored) {
      if (seq != expect) ADD_FAILURE() << "PostgreSQL: seq " << seq << " follows " << expect - 1 << " (hole)";
      expect = seq + 1;
    }
    for (auto& [seq, who] : by_seq) {
      auto it = stored.find(seq);
      if (it == stored.end())
        ADD_FAILURE() << "acked seq " << seq << " (" << who << ") is not in PostgreSQL";
      else if (it->second != who)
        ADD_FAILURE() << "PostgreSQL has seq " << seq << " as " << it->second << ", acked as " << who;
    }
    for (auto& m : members_)
      for (auto& [seq, who] : m->seen())
        if (!stored.count(seq))
          ADD_FAILURE() << m->name() << " saw seq " << seq << " (" << who << "), not in PostgreSQL";
  }

  std::vector<std::unique_ptr<Member>>& members() { return members_; }
  Stats& stats() { return stats_; }

 private:
  std::string room_;
  std::shared_ptr<boost::asio::io_context> ioc_;
  std::vector<std::unique_ptr<Member>> members_;
  Stats stats_;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ClusterEnv::skip_.empty()) GTEST_SKIP() << ClusterEnv::skip_;
    ASSERT_TRUE(ClusterEnv::start_error_.empty()) << "the cluster did not start: " << ClusterEnv::start_error_;
    ASSERT_NE(g_cluster, nullptr);
    c = g_cluster;
    // A previous scenario that failed half-way may have left a process down.
    bool restarted = false;
    if (!c->redis->alive()) {
      c->start_redis();
      restarted = true;
    }
    for (auto& n : c->nodes)
      if (!n->running()) {
        n->start();
        restarted = true;
      }
    c->wait_all_ready(restarted);
  }

  // Creates `room` through HAProxy and checks that every node knows it at once (before the
  // announcement reaches it, a node finds the room in Redis's room index).
  void create_room(const std::string& room);

  void log(const std::string& what) {
    std::fprintf(stderr, "[cluster %6.1fs] %s\n", std::chrono::duration<double>(Clock::now() - t0_).count(),
                 what.c_str());
  }

  Cluster* c = nullptr;
  Clock::time_point t0_ = Clock::now();
};

// Joins `room`: at once, as any node knows a room once its creator got `created` (a node that has
// not heard the announcement yet finds the room in Redis's room index).
bool join_now(WsClient& w, const std::string& room) {
  auto r = w.request({{"type", "join"}, {"room", room}});
  if (type_of(r) == "joined") return true;
  ADD_FAILURE() << "join " << room << ": " << dump(r);
  return false;
}

// Joins `room`, retrying while this node does not know the room yet (bounded): for a room created
// while Redis was away.
bool join_when_known(WsClient& w, const std::string& room, Ms timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto r = w.request({{"type", "join"}, {"room", room}});
    if (type_of(r) == "joined") return true;
    if (str(r, "code") != "no_such_room" || Clock::now() > deadline) {
      ADD_FAILURE() << "join " << room << ": " << dump(r);
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
}

void ClusterTest::create_room(const std::string& room) {
  WsClient a(c->haproxy_port);
  a.hello("creator");
  a.create(room);
  for (auto& n : c->nodes) {
    if (!n->running()) continue;
    WsClient w(n->port());
    w.hello("checker");
    ASSERT_TRUE(join_now(w, room)) << "node on port " << n->port() << " does not know " << room;
  }
}

json::object expect_message(WsClient& w, std::uint64_t seq, Ms timeout = 5s) {
  auto e = w.wait_for("message", {}, timeout);
  if (!e) throw std::runtime_error("no message (expected seq " + std::to_string(seq) + ")");
  if (u64(*e, "seq") != seq) throw std::runtime_error("expected seq " + std::to_string(seq) + ", got " + dump(*e));
  return *e;
}

// (a) Two clients on different nodes chat in real time through HAProxy; a client that joined on
// node 1 resumes with `since` on node 3 with no hole and no duplicate.
TEST_F(ClusterTest, ChatAcrossNodesAndResumeOnAnotherNode) {
  create_room("a-chat");
  // Through HAProxy, round robin: find two clients that landed on different nodes.
  std::vector<std::unique_ptr<WsClient>> clients;
  std::vector<int> node_of;
  // The accepted-connections counter, not the open-connections gauge: create_room's clients have
  // just gone, and a node may count one of them off only after the next client arrived there.
  auto before = c->connections_accepted();
  for (int i = 0; i < 4 && clients.size() < 6; ++i) {
    clients.push_back(std::make_unique<WsClient>(c->haproxy_port));
    int landed = -1;
    ASSERT_TRUE(eventually(
        [&] {
          auto now = c->connections_accepted();
          for (std::size_t n = 0; n < now.size(); ++n)
            if (now[n] > before[n]) landed = static_cast<int>(n);
          return landed >= 0;
        },
        3s));
    node_of.push_back(landed);
    before = c->connections_accepted();
    if (node_of.size() >= 2 && node_of.back() != node_of.front()) break;
  }
  ASSERT_GE(node_of.size(), 2u);
  ASSERT_NE(node_of.front(), node_of.back()) << "HAProxy put every client on one node";
  WsClient& ada = *clients.front();
  WsClient& bob = *clients.back();
  log("ada on node" + std::to_string(node_of.front() + 1) + ", bob on node" + std::to_string(node_of.back() + 1));
  ada.hello("ada");
  bob.hello("bob");
  ada.join("a-chat");
  bob.join("a-chat");

  // Real time, both ways.
  for (int i = 0; i < 5; ++i) {
    WsClient& from = i % 2 ? bob : ada;
    WsClient& to = i % 2 ? ada : bob;
    const auto t = Clock::now();
    auto ack = from.send_message("a-chat", "c" + std::to_string(i), "hello " + std::to_string(i));
    auto got = to.wait_for(
        "message", [&](const json::object& e) { return str(e, "cid") == "c" + std::to_string(i); }, 3s);
    ASSERT_TRUE(got) << "message " << i << " did not cross nodes";
    EXPECT_EQ(u64(*got, "seq"), u64(ack, "seq"));
    EXPECT_LT(Clock::now() - t, 1s) << "not real time";
  }
  // Each node times its deliveries of the five from their arrival from Redis (both nodes have a
  // member, so both deliver all five).
  EXPECT_TRUE(eventually(
      [&] {
        const auto n = c->per_node("parley_delivery_seconds_count");
        return n[node_of.front()] >= 5 && n[node_of.back()] >= 5;
      },
      3s));
  // And each sender's node times its commit (the ack): five in all.
  EXPECT_TRUE(eventually(
      [&] {
        double total = 0;
        for (const double v : c->per_node("parley_commit_seconds_count")) total += v;
        return total >= 5;
      },
      3s));

  // carol joins on node 1, reads a little, goes away; others talk on; she comes back on node 3.
  const auto n1 = c->nodes[0]->port(), n3 = c->nodes[2]->port();
  std::uint64_t carol_last = 0;
  {
    WsClient carol(n1);
    carol.hello("carol");
    carol_last = u64(carol.join("a-chat"), "last_seq");
    for (int i = 0; i < 3; ++i) {
      auto ack = ada.send_message("a-chat", "d" + std::to_string(i), "before carol leaves");
      carol_last = u64(expect_message(carol, u64(ack, "seq")), "seq");
    }
    carol.close();
  }
  std::vector<std::uint64_t> sent;
  sent.reserve(10);
  for (int i = 0; i < 10; ++i)
    sent.push_back(u64((i % 2 ? bob : ada).send_message("a-chat", "e" + std::to_string(i), "while away"), "seq"));
  WsClient carol(n3);
  carol.hello("carol");
  auto joined = carol.join("a-chat", carol_last);
  // The room's last seq as node 3 has heard it: a send acked on another node a moment ago may not
  // have reached it yet through Redis (seen once in CI, under load: 17 of 18); it comes live below.
  EXPECT_GE(u64(joined, "last_seq"), carol_last);
  EXPECT_LE(u64(joined, "last_seq"), sent.back());
  // Live messages while the gap is served must neither overtake it nor repeat it.
  auto live = bob.send_message("a-chat", "f0", "live");
  std::uint64_t expect = carol_last + 1;
  while (expect <= u64(live, "seq")) {
    expect_message(carol, expect, 5s);
    ++expect;
  }
  EXPECT_TRUE(carol.expect_no_event(300ms)) << dump(carol.events().front());
  EXPECT_EQ(sent.front(), carol_last + 1);
}

// Search (issue 17) through the shared store: a message sent on node 1 is found from node 2, by
// its text now (after an edit), and a room the searcher has not joined is not searched.
TEST_F(ClusterTest, SearchFindsAMessageSentOnAnotherNode) {
  create_room("s-search");
  create_room("s-other");
  WsClient a(c->nodes[0]->port()), b(c->nodes[1]->port());
  a.hello("ada");
  b.hello("bob");
  ASSERT_TRUE(join_now(a, "s-search"));
  ASSERT_TRUE(join_now(a, "s-other"));
  ASSERT_TRUE(join_now(b, "s-search"));
  const auto seq = u64(a.send_message("s-search", "q1", "quokka sighting near the harbour"), "seq");
  a.send_message("s-other", "q2", "quokka in the other room");
  auto edit =
      a.request({{"type", "edit"}, {"room", "s-search"}, {"seq", seq}, {"text", "wombat sighting, not a quokka"}});
  ASSERT_EQ(type_of(edit), "ack") << dump(edit);
  // The edit is acked once committed to the shared store: searched at once from node 2.
  auto r = b.request({{"type", "search"}, {"q", "wombat"}});
  ASSERT_EQ(type_of(r), "search_results") << dump(r);
  ASSERT_EQ(r.at("hits").as_array().size(), 1u) << dump(r);
  const auto& hit = r.at("hits").as_array()[0].as_object();
  EXPECT_EQ(str(hit, "room"), "s-search");
  EXPECT_EQ(u64(hit, "seq"), seq);
  EXPECT_EQ(str(hit, "text"), "wombat sighting, not a quokka");
  // bob has not joined s-other: its quokka is not his to find; harbour is gone with the edit.
  r = b.request({{"type", "search"}, {"q", "quokka"}});
  ASSERT_EQ(r.at("hits").as_array().size(), 1u) << dump(r);
  EXPECT_EQ(str(r.at("hits").as_array()[0].as_object(), "room"), "s-search");
  r = b.request({{"type", "search"}, {"q", "harbour"}});
  EXPECT_TRUE(r.at("hits").as_array().empty()) << dump(r);
}

// Files (issue 17) in a cluster: accounts, uploads over HTTP with a session token, and the bytes
// in the files.dir every node shares.

// Registers an account through `port` (the accounts are in the shared store: it signs in on
// every node) and returns its session token ("" after a failure, reported).
std::string register_account(unsigned short port, const std::string& name) {
  const std::string body =
      WsClient::serialize(json::object{{"name", name}, {"password", "correct horse"}, {"token", true}});
  const auto r = http_raw(port,
                          "POST /api/register HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body,
                          20s);
  EXPECT_EQ(r.status, 201) << "register " << name << ": " << r.body;
  if (r.status != 201) return {};
  const auto v = r.json();
  if (!v.is_object() || !v.as_object().contains("token")) {
    ADD_FAILURE() << "register " << name << ": no token in " << r.body;
    return {};
  }
  return std::string(v.as_object().at("token").as_string());
}

// Says hello with an account's session token.
bool hello_with_token(WsClient& w, const std::string& token) {
  auto r = w.request({{"type", "hello"}, {"token", token}});
  if (type_of(r) == "welcome") return true;
  ADD_FAILURE() << "hello with a token: " << dump(r);
  return false;
}

// A PNG of w x h pixels, made by libvips.
std::string png_image(int w, int h) {
  static std::once_flag once;
  std::call_once(once, [] {
    if (VIPS_INIT("cluster_tests") != 0) throw std::runtime_error("libvips could not start");
  });
  VipsImage* black = nullptr;
  if (vips_black(&black, w, h, "bands", 3, nullptr) != 0) throw std::runtime_error(vips_error_buffer());
  VipsImage* lit = nullptr;
  const int rc = vips_linear1(black, &lit, 1.0, 120.0, "uchar", TRUE, nullptr);
  g_object_unref(black);
  if (rc != 0) throw std::runtime_error(vips_error_buffer());
  void* buf = nullptr;
  size_t len = 0;
  const int saved = vips_pngsave_buffer(lit, &buf, &len, nullptr);
  g_object_unref(lit);
  if (saved != 0) throw std::runtime_error(vips_error_buffer());
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

// An HTTP request to `port` with `token` as its Bearer token (and `body`, with its
// Content-Length, for a POST).
HttpResponse with_token(unsigned short port, const std::string& method, const std::string& path,
                        const std::string& token, const std::string& body = {}) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\nAuthorization: Bearer " + token + "\r\n";
  if (method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return http_raw(port, req + "\r\n" + body, 20s);
}

// HEAD: the headers alone (the response has a Content-Length and no body).
HttpResponse head_with_token(unsigned short port, const std::string& path, const std::string& token) {
  RawClient raw;
  if (!raw.connect(port)) return {};
  raw.send("HEAD " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
           "\r\nConnection: close\r\nAuthorization: Bearer " + token + "\r\n\r\n");
  bool eof = false;
  const auto r = parse_http_response(raw.read_until_eof(5s, &eof), nullptr, true);
  return r ? *r : HttpResponse{};
}

// A file uploaded through node 1 and sent there is fetched through node 2 by a member of the
// (private) room, refused to a stranger, and gone on every node once its message is deleted on
// another: the row is in the shared store, the bytes in the shared files.dir.
TEST_F(ClusterTest, AFileUploadedThroughOneNodeIsFetchedThroughAnother) {
  const std::string room = "f-files";
  const auto n1 = c->nodes[0]->port(), n2 = c->nodes[1]->port(), n3 = c->nodes[2]->port();
  // Not ada, bob, eve: guests of later scenarios take those names, which an account would own.
  const std::string ada_token = register_account(n1, "file-ada");
  const std::string bob_token = register_account(n2, "file-bob");
  const std::string eve_token = register_account(n3, "file-eve");
  ASSERT_FALSE(ada_token.empty() || bob_token.empty() || eve_token.empty());

  WsClient ada(n1), bob(n2), eve(n2);
  ASSERT_TRUE(hello_with_token(ada, ada_token));
  ASSERT_TRUE(hello_with_token(bob, bob_token));
  ASSERT_TRUE(hello_with_token(eve, eve_token));
  // A private room of ada's on node 1, with no password: its members are whom she invites.
  auto created = ada.request({{"type", "create"}, {"room", room}, {"private", true}});
  ASSERT_EQ(type_of(created), "created") << dump(created);
  ASSERT_TRUE(join_now(ada, room));
  // Node 2 loads the room (eve is refused) before bob is invited on node 1: the invitation must
  // reach the room node 2 holds.
  auto refused = eve.request({{"type", "join"}, {"room", room}});
  EXPECT_EQ(str(refused, "code"), "forbidden") << dump(refused);
  auto invited = ada.request({{"type", "invite"}, {"room", room}, {"user", "file-bob"}});
  ASSERT_EQ(type_of(invited), "invited") << dump(invited);
  EXPECT_TRUE(bob.wait_for(
      "invited", [&](const json::object& e) { return str(e, "room") == room; }, 5s))
      << "node 2 did not tell bob of his invitation";
  ASSERT_TRUE(join_now(bob, room));

  // The upload, through node 1 itself (not HAProxy).
  const std::string png = png_image(640, 480);
  auto up = with_token(n1, "POST", "/api/rooms/" + room + "/files?name=harbour.png", ada_token, png);
  ASSERT_EQ(up.status, 201) << up.body;
  const auto f = up.json().as_object();
  const std::string id = str(f, "id");
  ASSERT_EQ(id.size(), 34u) << up.body;
  EXPECT_EQ(str(f, "type"), "image/png");
  EXPECT_EQ(u64(f, "width"), 640u);
  EXPECT_EQ(u64(f, "height"), 480u);
  EXPECT_TRUE(f.at("thumb").as_bool());
  const std::string file_path = "/api/files/" + id;
  // Unsent, it is its uploader's alone, on every node.
  EXPECT_EQ(with_token(n2, "GET", file_path, bob_token).status, 404);
  EXPECT_EQ(with_token(n2, "GET", file_path, ada_token).status, 200);
  // A stranger may not upload to the room, on any node.
  EXPECT_EQ(with_token(n2, "POST", "/api/rooms/" + room + "/files?name=mine.png", eve_token, png).status, 403);

  json::array ids;
  ids.emplace_back(id);
  auto ack = ada.request({{"type", "send"}, {"room", room}, {"cid", "f1"}, {"text", ""}, {"files", ids}});
  ASSERT_EQ(type_of(ack), "ack") << dump(ack);
  const auto seq = u64(ack, "seq");

  // bob, on node 2, gets the message with its attachment.
  auto m = bob.wait_for(
      "message", [](const json::object& e) { return str(e, "cid") == "f1"; }, 5s);
  ASSERT_TRUE(m) << "the message with a file did not reach node 2";
  EXPECT_EQ(u64(*m, "seq"), seq);
  ASSERT_TRUE(m->contains("files") && m->at("files").is_array()) << dump(*m);
  const auto& files = m->at("files").as_array();
  ASSERT_EQ(files.size(), 1u) << dump(*m);
  const auto& att = files[0].as_object();
  EXPECT_EQ(str(att, "id"), id);
  EXPECT_EQ(str(att, "name"), "harbour.png");
  EXPECT_EQ(str(att, "type"), "image/png");
  EXPECT_EQ(u64(att, "size"), u64(f, "size"));
  EXPECT_EQ(u64(att, "width"), 640u);
  EXPECT_TRUE(att.at("thumb").as_bool());

  // Node 1 serves what it stored; node 2 serves the same bytes to bob, from the shared directory.
  auto on1 = with_token(n1, "GET", file_path, ada_token);
  ASSERT_EQ(on1.status, 200) << on1.body;
  auto on2 = with_token(n2, "GET", file_path, bob_token);
  ASSERT_EQ(on2.status, 200) << on2.body;
  EXPECT_EQ(on2.header("content-type"), "image/png");
  EXPECT_EQ(on2.body.size(), u64(f, "size"));
  EXPECT_EQ(on2.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_TRUE(on2.body == on1.body) << "node 2 served " << on2.body.size() << " bytes, node 1 " << on1.body.size();
  EXPECT_TRUE(on2.body == read_text(c->dir / "files" / id)) << "not the bytes in the shared files.dir";
  auto thumb = with_token(n2, "GET", file_path + "/thumb", bob_token);
  ASSERT_EQ(thumb.status, 200) << thumb.body;
  EXPECT_EQ(thumb.header("content-type"), "image/webp");
  EXPECT_EQ(thumb.body.substr(8, 4), "WEBP");
  // And node 3, where bob has no connection at all, answers HEAD with the file's length.
  auto head = head_with_token(n3, file_path, bob_token);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), std::to_string(on1.body.size()));

  // eve, not a member, is refused on node 2: the file and its thumbnail.
  auto by_eve = with_token(n2, "GET", file_path, eve_token);
  EXPECT_EQ(by_eve.status, 403) << by_eve.body;
  EXPECT_TRUE(by_eve.body.find("\x89PNG") == std::string::npos);
  EXPECT_EQ(with_token(n2, "GET", file_path + "/thumb", eve_token).status, 403);

  // ada deletes the message on node 2; the file is gone on node 1 at once (the delete's ack
  // follows its commit, which trashes the file's row), and on node 2.
  WsClient ada2(n2);
  ASSERT_TRUE(hello_with_token(ada2, ada_token));
  ASSERT_TRUE(join_now(ada2, room));
  auto del = ada2.request({{"type", "delete"}, {"room", room}, {"seq", seq}, {"cid", "f1-delete"}});
  ASSERT_EQ(type_of(del), "ack") << dump(del);
  EXPECT_TRUE(ada.wait_for(
      "delete", [&](const json::object& e) { return u64(e, "target") == seq; }, 5s))
      << "node 1 did not hear of the delete";
  EXPECT_EQ(with_token(n1, "GET", file_path, ada_token).status, 404);
  EXPECT_EQ(with_token(n1, "GET", file_path + "/thumb", ada_token).status, 404);
  EXPECT_EQ(with_token(n2, "GET", file_path, bob_token).status, 404);
  // A node's sweep (every 10 s) takes the trash and removes the bytes from the shared directory.
  EXPECT_TRUE(eventually(
      [&] { return !fs::exists(c->dir / "files" / id) && !fs::exists(c->dir / "files" / (id + ".thumb")); }, 30s))
      << "the deleted file's bytes are still in files.dir";
}

// (e) A message that a node misses is repaired from the Redis stream before later ones are
// delivered, and delivery stays in order.
TEST_F(ClusterTest, MissedMessageIsRepairedFromTheStreamInOrder) {
  const std::string room = "e-repair";
  WsClient a(c->nodes[0]->port()), b(c->nodes[1]->port());
  a.hello("ada");
  b.hello("bob");
  a.create(room);
  a.join(room);
  // node2 hears node1's announcement a moment later, but knows the room already (room index).
  ASSERT_TRUE(join_now(b, room));
  auto first = a.send_message(room, "e1", "one");
  expect_message(b, u64(first, "seq"));
  expect_message(a, u64(first, "seq"));

  RedisCli redis(c->redis_port);
  const std::string seq_key = "parley:{" + room + "}:seq", log_key = "parley:{" + room + "}:log";
  auto inject = [&](const std::string& cid, bool publish) {
    // What the publish script does, minus (maybe) the PUBLISH: the message is in the log, and no
    // node heard of it.
    const std::string seq = redis.cmd({"INCR", seq_key});
    const std::string entry = seq + "\n" + std::to_string(wall_ms()) + "\nghost\n" + cid + "\nmissed " + cid;
    redis.cmd({"XADD", log_key, "MAXLEN", "~", "10000", seq + "-1", "m", entry});
    if (publish) redis.cmd({"PUBLISH", "parley:room:" + room, entry});
    return std::stoull(seq);
  };

  // Each gap below counts once on each node (parley_broker_catchups_total: the dashboard's lag).
  std::vector<double> catchups_before;
  for (int i : {0, 1})
    catchups_before.push_back(fetch_metric(c->nodes[i]->port(), "parley_broker_catchups_total").value_or(-1));
  ASSERT_GE(catchups_before[0], 0) << "no parley_broker_catchups_total in node1's /metrics";

  // 1. Missed, then a later one published: the later one reveals the gap.
  const auto missed = inject("ghost-1", false);
  auto later = a.send_message(room, "e2", "two");
  ASSERT_EQ(u64(later, "seq"), missed + 1);
  for (WsClient* w : {&a, &b}) {
    auto m = expect_message(*w, missed);
    EXPECT_EQ(str(m, "cid"), "ghost-1");
    expect_message(*w, missed + 1);
  }

  // 2. Missed with nothing after it: the periodic check finds it.
  const auto lonely = inject("ghost-2", false);
  for (WsClient* w : {&a, &b}) expect_message(*w, lonely, 5s);
  for (int i : {0, 1})
    EXPECT_GE(fetch_metric(c->nodes[i]->port(), "parley_broker_catchups_total").value_or(-1), catchups_before[i] + 2)
        << "node" << i + 1 << " did not count its two catch-ups";

  // 3. The subscriber connections are cut (CLIENT KILL): what is published meanwhile arrives
  // after the resubscribe, from the stream, in order.
  redis.cmd({"CLIENT", "KILL", "TYPE", "pubsub"});
  std::vector<std::uint64_t> seqs;
  seqs.reserve(6);
  for (int i = 0; i < 5; ++i) seqs.push_back(inject("ghost-k" + std::to_string(i), true));
  auto after = a.send_message(room, "e3", "three");
  seqs.push_back(u64(after, "seq"));
  for (WsClient* w : {&a, &b})
    for (auto s : seqs) expect_message(*w, s, 8s);
  for (WsClient* w : {&a, &b}) {
    auto extra = w->wait_for("message", {}, 300ms);
    EXPECT_FALSE(extra) << "a message too many: " << dump(*extra);
  }
}

// (c) Redis restarts under traffic: /readyz is false while it is down and true after; nodes
// reconnect and resubscribe; no acked message is lost; seqs go on without a gap.
TEST_F(ClusterTest, RedisRestartUnderTraffic) {
  create_room("c-redis");
  Traffic t("c-redis", c->haproxy_port, 6);
  t.connect_all();
  t.run(2s);
  // A client on node1 that will create a room while Redis is away.
  WsClient creator(c->nodes[0]->port());
  creator.hello("creator");
  log("kill -9 redis");
  c->redis->kill(SIGKILL);
  for (auto& n : c->nodes)
    EXPECT_TRUE(eventually(
        [&] {
          t.tick(true);
          return readyz(n->port()) == 503;
        },
        8s))
        << "/readyz still 200 without Redis";
  creator.create("c-created-while-down");
  t.run(1500ms);
  log("starting redis");
  c->start_redis();
  for (auto& n : c->nodes)
    EXPECT_TRUE(eventually(
        [&] {
          t.tick(true);
          return readyz(n->port()) == 200;
        },
        10s))
        << "/readyz not back after Redis";
  t.run(2s);
  ASSERT_TRUE(t.settle(30s)) << t.describe();
  log(t.describe());
  t.check(*c->pg);
  // Every node learns of the room created while its announcement could not be heard.
  for (auto& n : c->nodes) {
    WsClient w(n->port());
    w.hello("late");
    EXPECT_TRUE(join_when_known(w, "c-created-while-down")) << "node on port " << n->port();
  }
}

// (d) PostgreSQL stops for a few seconds: sends are delayed or refused with a clear error, never
// acked and then lost; everything catches up.
TEST_F(ClusterTest, PostgresOutageUnderTraffic) {
  create_room("d-postgres");
  Traffic t("d-postgres", c->haproxy_port, 6);
  t.connect_all();
  t.run(2s);
  log("stopping postgres");
  c->pg->stop();
  t.run(3s);
  log("starting postgres");
  c->pg->start();
  t.run(2s);
  ASSERT_TRUE(t.settle(30s)) << t.describe();
  log(t.describe());
  for (auto& [code, n] : t.stats().errors)
    EXPECT_TRUE(code == "store_failed" || code == "overloaded" || code == "unavailable" || code == "rate_limited")
        << code << " x" << n;
  t.check(*c->pg);
}

// (b) kill -9 a node under steady traffic: its clients reconnect through HAProxy to the others and
// resume; every acked message reaches every member exactly once, in order.
TEST_F(ClusterTest, KillNodeUnderTraffic) {
  create_room("b-kill");
  Traffic t("b-kill", c->haproxy_port, 6);
  t.connect_all();
  auto conns = c->connections();
  log("connections per node before the kill: " + std::to_string(conns[0]) + " " + std::to_string(conns[1]) + " " +
      std::to_string(conns[2]));
  t.run(2s);
  // A node with clients (round robin spreads them, but one that was out of HAProxy's rotation a
  // moment ago may have none).
  const auto victim = static_cast<std::size_t>(std::max_element(conns.begin(), conns.end()) - conns.begin());
  log("kill -9 node" + std::to_string(victim + 1));
  c->nodes[victim]->kill9();
  t.run(4s);
  ASSERT_TRUE(t.settle(30s)) << t.describe();
  EXPECT_GE(t.stats().reconnects, 1) << "nobody was on the killed node";
  log(t.describe());
  t.check(*c->pg);
  // The node comes back and serves again.
  c->nodes[victim]->start();
  EXPECT_TRUE(eventually([&] { return readyz(c->nodes[victim]->port()) == 200; }, 15s));
}

// (b, harder) kill -9 a node whose sends are published (so delivered) but not yet committed:
// PostgreSQL is stopped first so that commits wait. One of its clients reconnects through
// HAProxy and resends with the same cids: each must be acked only once it is in PostgreSQL. The
// other never comes back: what it had published was shown to everyone, so it must reach
// PostgreSQL all the same (from the Redis stream).
TEST_F(ClusterTest, KillNodeWithUncommittedSends) {
  create_room("b-uncommitted");
  const auto n1 = c->nodes[0]->port(), n2 = c->nodes[1]->port(), n3 = c->nodes[2]->port();
  Traffic t("b-uncommitted", c->haproxy_port, 4, {n2, n2, n1, n3});
  t.connect_all();
  t.run(1s);
  log("stopping postgres");
  c->pg->stop();
  t.run(1500ms);
  log("kill -9 node2, starting postgres");
  t.members()[1]->abandon();
  c->nodes[1]->kill9();
  c->pg->start();
  t.run(3s);
  ASSERT_TRUE(t.settle(30s)) << t.describe();
  EXPECT_GE(t.stats().reconnects, 1);
  log(t.describe());
  t.check(*c->pg);
  c->nodes[1]->start();
  EXPECT_TRUE(eventually([&] { return readyz(c->nodes[1]->port()) == 200; }, 15s));
}

// A rolling restart (issue 19): each node in turn drains (SIGTERM: /readyz fails, HAProxy takes it
// out within the notice, then its sessions are closed with 1012 over the window), exits 0 and
// comes back, under steady traffic through HAProxy. The ledger holds, and nobody is left without a
// connection for long: they reconnect to the other nodes as their sessions close.
TEST_F(ClusterTest, RollingRestartUnderTraffic) {
  create_room("r-rolling");
  Traffic t("r-rolling", c->haproxy_port, 9);
  t.connect_all();
  t.run(1s);
  for (std::size_t i = 0; i < c->nodes.size(); ++i) {
    auto& n = c->nodes[i];
    log("rolling restart: node" + std::to_string(i + 1));
    n->signal_term();
    int code = -1;
    const auto deadline = Clock::now() + 20s;
    while ((code = n->wait_exit(0ms)) == -1 && Clock::now() < deadline) t.run(50ms);
    ASSERT_EQ(code, 0) << "node" << i + 1 << " did not drain and exit 0\n" << t.describe();
    n->start();
    // Back in HAProxy's rotation (checks every 1 s, rise 1) before the next one goes.
    const auto ready_by = Clock::now() + 15s;
    while (readyz(n->port()) != 200 && Clock::now() < ready_by) t.run(100ms);
    ASSERT_EQ(readyz(n->port()), 200) << "node" << i + 1 << " not ready after its restart";
    t.run(1500ms);
  }
  ASSERT_TRUE(t.settle(30s)) << t.describe();
  log(t.describe() + "\nlongest without a connection: " + std::to_string(t.longest_gap().count()) + " ms");
  EXPECT_GE(t.stats().reconnects, 3) << "every node had members; each drain moves them";
  // The bound of the "no client cut off for more than a set time": a member whose session
  // closes reconnects through HAProxy to a node in the rotation at once (its retry is 200 ms).
  EXPECT_LT(t.longest_gap(), 5s) << t.describe();
  t.check(*c->pg);
}

// (f) Redis Sentinel (issue 18): two nodes of their own on broker.backend=redis-sentinel (a
// primary, two replicas and three sentinels: tests/lib/redis_sentinel; the suite's PostgreSQL,
// another database), members straight on the nodes, and the primary killed (SIGKILL) under the
// ledger. Sends are refused `unavailable` until the sentinels promote a replica; the nodes follow
// it, and the ledger holds: lost 0, duplicated 0, reordered 0, no seq acked for two messages.
// Prints how long sends were refused and how long until every member was served again.
TEST_F(ClusterTest, SentinelPrimaryKilledUnderTraffic) {
  std::unique_ptr<test::RedisSentinelSet> sentinel;
  std::string why;
  for (int attempt = 0; attempt < 3 && !sentinel; ++attempt) {  // a free port may be taken meanwhile
    sentinel = std::make_unique<test::RedisSentinelSet>();
    if (!sentinel->start()) {
      why = sentinel->error();
      sentinel.reset();
    }
  }
  ASSERT_TRUE(sentinel) << "the Sentinel deployment did not start: " << why;
  c->pg->create_database("parley_sentinel");
  std::string sentinels;
  for (const auto& s : sentinel->sentinels()) sentinels += (sentinels.empty() ? "" : ",") + s;
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  for (int i = 0; i < 2; ++i) {
    ServerOptions o;
    o.settings = {
        "store.backend=postgres",
        "store.postgres_url=postgresql://postgres@127.0.0.1:" + std::to_string(c->pg->port()) + "/parley_sentinel",
        "broker.backend=redis-sentinel",
        "broker.redis_sentinels=" + sentinels,
        "limits.send_rate=50",
        "limits.send_burst=100"};
    o.threads = 2;
    nodes.push_back(std::make_unique<ServerProcess>(o));
  }
  for (auto& n : nodes)
    ASSERT_TRUE(eventually([&] { return readyz(n->port()) == 200; }, 15s)) << tail(n->stderr_text());
  const auto n1 = nodes[0]->port(), n2 = nodes[1]->port();
  {
    WsClient creator(n1);
    creator.hello("creator");
    creator.create("f-sentinel");
  }
  Traffic t("f-sentinel", n1, 6, {n1, n2, n1, n2, n1, n2});
  t.connect_all();
  t.run(1500ms);
  ASSERT_TRUE(sentinel->wait_ready()) << sentinel->error();
  const auto primary = sentinel->primary();
  ASSERT_TRUE(primary);
  const std::uint64_t top = t.max_acked();
  log("kill -9 the Redis primary (port " + std::to_string(*primary) + "), top acked seq " + std::to_string(top));
  sentinel->kill(*primary);
  const auto killed = Clock::now();
  // Served again: each member has an ack, and has received a message, of a seq above `top`.
  const auto served = [&] {
    for (auto& m : t.members()) {
      std::uint64_t mine = 0;
      for (auto& [cid, seq] : m->acked()) mine = std::max(mine, seq);
      if (mine <= top || m->last() <= top) return false;
    }
    return true;
  };
  while (!served() && Clock::now() < killed + 20s) t.tick(true);
  ASSERT_TRUE(served()) << "not every member was served within 20 s of the kill\n" << t.describe();
  const auto served_after = std::chrono::duration_cast<Ms>(Clock::now() - killed);
  t.run(1s);
  ASSERT_TRUE(t.settle(30s)) << t.describe();
  ASSERT_GT(t.stats().errors["unavailable"], 0) << "no send was refused while there was no primary";
  const auto refused_for = std::chrono::duration_cast<Ms>(t.stats().last_unavailable - killed);
  log(t.describe());
  log("sentinel failover: sends refused for " + std::to_string(refused_for.count()) +
      " ms after the kill; every member served again after " + std::to_string(served_after.count()) + " ms");
  std::fprintf(stderr, "[ sentinel ] sends refused for %lld ms; every member served again after %lld ms\n",
               static_cast<long long>(refused_for.count()), static_cast<long long>(served_after.count()));
  t.check(*c->pg, "parley_sentinel");
  for (auto& n : nodes) n->kill9();
}

// (g) Redis Cluster (issue 18): two nodes of their own on broker.backend=redis-cluster (three
// primaries and three replicas, tests/lib/redis_cluster, cluster-node-timeout 1 s; the suite's
// PostgreSQL, another database), members straight on the nodes, started by the first of the three
// scenarios below and shared by them (each has a room of its own, on whichever shard its slot
// lives). Each ends with the ledger: lost 0, duplicated 0, reordered 0, no seq acked for two
// messages.
class RedisClusterShardTest : public ClusterTest {
 protected:
  struct Shared {
    std::unique_ptr<test::RedisCluster> redis;
    std::vector<std::unique_ptr<ServerProcess>> nodes;
    std::string error;
  };

  static void TearDownTestSuite() {
    if (shared_) {
      for (auto& n : shared_->nodes)
        if (n->running()) n->kill9();
    }
    delete shared_;
    shared_ = nullptr;
  }

  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (test::redis_cli_path().empty()) GTEST_SKIP() << "redis-cli not installed";
    if (!shared_) start_shared();
    ASSERT_TRUE(shared_->error.empty()) << shared_->error;
    rc = shared_->redis.get();
    for (auto& n : shared_->nodes) {
      if (!n->running()) n->start();  // a scenario that failed half-way
      ASSERT_TRUE(eventually([&] { return readyz(n->port()) == 200; }, 15s)) << tail(n->stderr_text());
    }
    n1 = shared_->nodes[0]->port();
    n2 = shared_->nodes[1]->port();
  }

  static constexpr const char* kDb = "parley_rcluster";

  void start_shared() {
    shared_ = new Shared;
    for (int attempt = 0; attempt < 3 && !shared_->redis; ++attempt) {  // a free port may be taken meanwhile
      shared_->redis = std::make_unique<test::RedisCluster>();
      if (!shared_->redis->start()) {
        shared_->error = "the Redis Cluster did not start: " + shared_->redis->error();
        shared_->redis.reset();
      }
    }
    if (!shared_->redis) return;
    shared_->error.clear();
    c->pg->create_database(kDb);
    std::string seeds;
    for (const auto& s : shared_->redis->seeds()) seeds += (seeds.empty() ? "" : ",") + s;
    for (int i = 0; i < 2; ++i) {
      ServerOptions o;
      o.settings = {"store.backend=postgres",
                    "store.postgres_url=postgresql://postgres@127.0.0.1:" + std::to_string(c->pg->port()) + "/" + kDb,
                    "broker.backend=redis-cluster",
                    "broker.redis_cluster_seeds=" + seeds,
                    "limits.send_rate=50",
                    "limits.send_burst=100"};
      o.threads = 2;
      shared_->nodes.push_back(std::make_unique<ServerProcess>(o));
    }
  }

  // The hash slot of `room` (its keys share the tag "{room}").
  int slot_of(const std::string& room) const {
    for (auto port : rc->ports())
      if (auto s = test::redis_command(port, {"CLUSTER", "KEYSLOT", "parley:{" + room + "}:seq"}))
        if (!s->empty() && std::isdigit(static_cast<unsigned char>(s->front()))) return std::stoi(*s);
    return -1;
  }

  // A room, created on node 1, with `members` ledger members alternating between the nodes.
  std::unique_ptr<Traffic> room_traffic(const std::string& room, int members) {
    WsClient creator(n1);
    creator.hello("creator");
    creator.create(room);
    std::vector<unsigned short> first(static_cast<std::size_t>(members));
    for (std::size_t i = 0; i < first.size(); ++i) first[i] = i % 2 ? n2 : n1;
    return std::make_unique<Traffic>(room, n1, members, first);
  }

  // Every member of `t` has an ack, and has received a message, of a seq above `top`.
  static bool served_above(Traffic& t, std::uint64_t top) {
    for (auto& m : t.members()) {
      std::uint64_t mine = 0;
      for (auto& [cid, seq] : m->acked()) mine = std::max(mine, seq);
      if (mine <= top || m->last() <= top) return false;
    }
    return true;
  }

  double reseeds() {
    double total = 0;
    for (auto& n : shared_->nodes) total += fetch_metric(n->port(), "parley_seq_reseeds_total").value_or(0);
    return total;
  }

  // Subscribers of `room`'s channel on the server on `port` (PUBSUB SHARDNUMSUB), -1 if it does not answer.
  static long long followers(std::uint16_t port, const std::string& room) {
    auto* r = static_cast<redisReply*>(
        test::redis_command_reply(port, {"PUBSUB", "SHARDNUMSUB", "parley:{" + room + "}:ch"}));
    long long n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) n = r->element[1]->integer;
    if (r) freeReplyObject(r);
    return n;
  }

  static Shared* shared_;
  test::RedisCluster* rc = nullptr;
  unsigned short n1 = 0, n2 = 0;
};
RedisClusterShardTest::Shared* RedisClusterShardTest::shared_ = nullptr;

// 1. kill -9 the primary that owns a busy room's slot: sends are refused `unavailable` until the
// cluster has promoted its replica (cluster-node-timeout 1 s and an election) and the nodes read
// the new slot map; the room's epoch moves, so each node re-seeds the room's seq floor from
// PostgreSQL before its next publish (the replica may lack the last seqs: no WAIT here).
TEST_F(RedisClusterShardTest, ShardPrimaryKilledUnderTraffic) {
  const std::string room = "g-kill";
  auto t = room_traffic(room, 6);
  t->connect_all();
  t->run(1500ms);
  const int slot = slot_of(room);
  ASSERT_GE(slot, 0);
  const auto primary = rc->primary_of(slot);
  ASSERT_TRUE(primary);
  const double reseeds_before = reseeds();
  const std::uint64_t top = t->max_acked();
  log("kill -9 the primary of slot " + std::to_string(slot) + " (port " + std::to_string(*primary) +
      "), top acked seq " + std::to_string(top));
  rc->kill(*primary);
  const auto killed = Clock::now();
  while (!served_above(*t, top) && Clock::now() < killed + 20s) t->tick(true);
  ASSERT_TRUE(served_above(*t, top)) << "not every member was served within 20 s of the kill\n" << t->describe();
  const auto served_after = std::chrono::duration_cast<Ms>(Clock::now() - killed);
  const auto now_primary = rc->primary_of(slot);
  ASSERT_TRUE(now_primary && *now_primary != *primary) << "no replica was promoted";
  t->run(1s);
  ASSERT_TRUE(t->settle(30s)) << t->describe();
  EXPECT_GT(t->stats().errors["unavailable"], 0) << "no send was refused while the shard had no primary";
  EXPECT_GT(reseeds(), reseeds_before) << "no node re-seeded the room after its slot changed primary";
  log(t->describe());
  std::fprintf(stderr, "[ shard kill ] sends refused for %lld ms; every member served again after %lld ms\n",
               static_cast<long long>(std::chrono::duration_cast<Ms>(t->stats().last_unavailable - killed).count()),
               static_cast<long long>(served_after.count()));
  t->check(*c->pg, kDb);
}

// 2. SIGSTOP the primary that owns a room's slot for 10 s, then SIGCONT: a hung server, its
// connections open and silent. Which case this is, is set, not left to timing: the cluster's
// node timeout is raised to 30 s for the pause, so no failover happens (the test checks the
// same node still serves the slot after). Sends meanwhile time out in the broker
// (broker.request_timeout_ms) and are refused `unavailable`; their scripts wait in the stopped
// server's socket and run when it resumes, so each retry (same cid) is found by its cid and acked
// with the seq the first one got: neither lost nor duplicated. (A failover during a pause is
// scenario 1's path, with the old primary coming back as a replica: not exercised here.)
TEST_F(RedisClusterShardTest, ShardPrimaryPausedTenSecondsWithoutFailover) {
  const std::string room = "g-pause";
  auto t = room_traffic(room, 6);
  t->connect_all();
  t->run(1500ms);
  const int slot = slot_of(room);
  ASSERT_GE(slot, 0);
  const auto primary = rc->primary_of(slot);
  ASSERT_TRUE(primary);
  ASSERT_TRUE(rc->set_node_timeout(30000)) << "CONFIG SET cluster-node-timeout refused";
  // Whatever happens below, the server runs again and the timeout is back (for the next scenario).
  struct Restore {
    test::RedisCluster* rc;
    std::uint16_t port;
    ~Restore() {
      rc->resume(port);
      rc->set_node_timeout(test::RedisCluster::kNodeTimeoutMs);
    }
  } restore{rc, *primary};
  log("SIGSTOP the primary of slot " + std::to_string(slot) + " (port " + std::to_string(*primary) +
      ") for 10 s, top acked seq " + std::to_string(t->max_acked()));
  rc->pause(*primary);
  // What was published before the stop is acked within its commit; nothing after that.
  t->run(3s);
  const std::uint64_t top_early = t->max_acked();
  t->run(7s);
  const std::uint64_t top_paused = t->max_acked();
  const int refused = t->stats().errors["unavailable"];
  log("SIGCONT");
  rc->resume(*primary);
  const auto resumed = Clock::now();
  EXPECT_GT(refused, 0) << "no send was refused while the shard's primary was stopped";
  EXPECT_EQ(top_paused, top_early) << "a send was acked while the room's shard was stopped";
  while (!served_above(*t, top_paused) && Clock::now() < resumed + 20s) t->tick(true);
  ASSERT_TRUE(served_above(*t, top_paused)) << "not every member was served within 20 s of SIGCONT\n" << t->describe();
  t->run(1s);
  ASSERT_TRUE(t->settle(30s)) << t->describe();
  EXPECT_EQ(rc->primary_of(slot), primary) << "the slot failed over: the pause was meant to stay below the timeout";
  log(t->describe());
  t->check(*c->pg, kDb);
}

// 3. A fourth primary joins (CLUSTER MEET) and two busy rooms' slots are moved to it while their
// members send (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE, as redis-cli --cluster
// reshard does, on another thread). The nodes follow ASK during the move and MOVED after it (a
// publish answered MOVED is refused `unavailable` and retried by its client: its floor was for the
// old shard), and re-subscribe each room's channel on the new shard when the old one ends it.
TEST_F(RedisClusterShardTest, NewShardTakesBusyRoomsUnderTraffic) {
  const std::vector<std::string> rooms = {"g-reshard-a", "g-reshard-b"};
  std::vector<std::unique_ptr<Traffic>> ts;
  ts.reserve(rooms.size());
  for (const auto& r : rooms) ts.push_back(room_traffic(r, 4));
  for (auto& t : ts) t->connect_all();
  const auto run = [&](Ms d) {
    const auto deadline = Clock::now() + d;
    while (Clock::now() < deadline)
      for (auto& t : ts) t->tick(true);
  };
  run(1500ms);
  const auto added = rc->add_primary();
  ASSERT_TRUE(added) << rc->error();
  log("new primary on port " + std::to_string(*added) + "; moving the rooms' slots to it");
  std::vector<int> slots;
  std::vector<std::uint16_t> from;
  for (const auto& r : rooms) {
    slots.push_back(slot_of(r));
    ASSERT_GE(slots.back(), 0);
    const auto p = rc->primary_of(slots.back());
    ASSERT_TRUE(p);
    from.push_back(*p);
  }
  auto moved = std::async(std::launch::async, [&] {
    for (int slot : slots)
      if (rc->primary_of(slot) != added && !rc->migrate_slot(slot, *added)) return false;
    return true;
  });
  const auto started = Clock::now();
  while (moved.wait_for(0s) != std::future_status::ready && Clock::now() < started + 20s)
    for (auto& t : ts) t->tick(true);
  ASSERT_EQ(moved.wait_for(5s), std::future_status::ready) << "the slots did not move within 20 s";
  ASSERT_TRUE(moved.get()) << "a slot did not move";
  log("moved in " + std::to_string(std::chrono::duration_cast<Ms>(Clock::now() - started).count()) + " ms");
  run(1s);
  // Both nodes follow each room on its new shard (not only repaired by their periodic checks).
  for (std::size_t i = 0; i < rooms.size(); ++i) {
    EXPECT_TRUE(eventually(
        [&] {
          for (auto& t : ts) t->tick(true);
          return followers(*added, rooms[i]) == 2;
        },
        10s))
        << rooms[i] << ": " << followers(*added, rooms[i]) << " subscriber(s) on the new shard";
    EXPECT_EQ(followers(from[i], rooms[i]), 0) << rooms[i] << " still followed on its old shard";
  }
  for (auto& t : ts) ASSERT_TRUE(t->settle(30s)) << t->describe();
  for (auto& t : ts) {
    log(t->describe());
    t->check(*c->pg, kDb);
  }
}

}  // namespace
}  // namespace parley::cluster_test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new parley::cluster_test::ClusterEnv);
  return RUN_ALL_TESTS();
}
