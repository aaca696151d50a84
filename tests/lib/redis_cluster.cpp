#include "redis_cluster.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "redis_server.hpp"

extern char** environ;

namespace parley::test {

using namespace std::chrono_literals;

namespace {

pid_t spawn(std::vector<std::string> args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

}  // namespace

const std::string& redis_cli_path() {
  static const std::string path = [] {
    if (redis_server_path().empty()) return std::string{};
    auto cli = std::filesystem::path(redis_server_path()).parent_path() / "redis-cli";
    return std::filesystem::exists(cli) ? cli.string() : std::string{};
  }();
  return path;
}

RedisCluster::RedisCluster() {
  char tmpl[] = "/tmp/parley-redis-cluster-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
}

RedisCluster::~RedisCluster() {
  stop_all();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> RedisCluster::seeds() const {
  std::vector<std::string> out;
  for (auto p : ports_) out.push_back("127.0.0.1:" + std::to_string(p));
  return out;
}

bool RedisCluster::start() {
  if (redis_server_path().empty() || redis_cli_path().empty()) {
    error_ = "redis-server or redis-cli not installed";
    return false;
  }
  for (int i = 0; i < kNodes; ++i)
    if (!spawn_node()) {
      stop_all();
      return false;
    }
  std::vector<std::string> create{redis_cli_path(), "--cluster", "create"};
  for (const auto& s : seeds()) create.push_back(s);
  for (const char* a : {"--cluster-replicas", "1", "--cluster-yes"}) create.emplace_back(a);
  // Its report goes to a file, not the test's output.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, (dir_ + "/create.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  argv.reserve(create.size() + 1);
  for (auto& a : create) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t cli = -1;
  const int spawned = ::posix_spawn(&cli, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  if (spawned != 0 || ::waitpid(cli, &status, 0) != cli || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error_ = "redis-cli --cluster create failed (see " + dir_ + "/create.log)";
    stop_all();
    return false;
  }
  if (!wait_ok(10000)) {
    error_ = "cluster_state did not become ok within 10 s";
    stop_all();
    return false;
  }
  return true;
}

bool RedisCluster::spawn_node() {
  // The cluster bus on a free port of its own: the default (port + 10000) may be taken or past
  // 65535.
  const std::uint16_t port = free_loopback_port();
  const std::uint16_t bus = free_loopback_port();
  const std::string dir = dir_ + "/" + std::to_string(ports_.size());
  std::filesystem::create_directories(dir);
  const pid_t pid =
      spawn({redis_server_path(), "--port", std::to_string(port), "--cluster-port", std::to_string(bus), "--bind",
             "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf",
             "--cluster-node-timeout", std::to_string(kNodeTimeoutMs), "--save", "", "--appendonly", "no",
             // A replica's first sync at once, not after the default 5 s wait for others.
             "--repl-diskless-sync-delay", "0", "--dir", dir, "--logfile", dir + "/redis.log", "--daemonize", "no"});
  if (pid < 0) {
    error_ = "could not spawn redis-server";
    return false;
  }
  ports_.push_back(port);
  buses_.push_back(bus);
  pids_.push_back(pid);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (redis_command(port, {"PING"}) != "PONG") {
    int status = 0;
    if (std::chrono::steady_clock::now() > deadline || ::waitpid(pid, &status, WNOHANG) == pid) {
      if (::waitpid(pid, &status, WNOHANG) == pid) pids_.back() = -1;
      error_ = "node on port " + std::to_string(port) + " did not start (port taken?)";
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

pid_t RedisCluster::pid_of(std::uint16_t port) const {
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (ports_[i] == port) return pids_[i];
  return -1;
}

void RedisCluster::pause(std::uint16_t port) {
  if (const pid_t pid = pid_of(port); pid > 0) ::kill(pid, SIGSTOP);
}

void RedisCluster::resume(std::uint16_t port) {
  if (const pid_t pid = pid_of(port); pid > 0) ::kill(pid, SIGCONT);
}

bool RedisCluster::set_node_timeout(int ms) {
  bool ok = true;
  for (std::size_t i = 0; i < ports_.size(); ++i)
    if (pids_[i] > 0)
      ok = redis_command(ports_[i], {"CONFIG", "SET", "cluster-node-timeout", std::to_string(ms)}) == "OK" && ok;
  return ok;
}

std::optional<std::uint16_t> RedisCluster::add_primary() {
  std::optional<std::uint16_t> via;  // a live node to introduce it to
  for (std::size_t i = 0; i < ports_.size() && !via; ++i)
    if (pids_[i] > 0) via = ports_[i];
  if (!via) {
    error_ = "no live node to meet";
    return std::nullopt;
  }
  if (!spawn_node()) return std::nullopt;
  const std::uint16_t port = ports_.back();
  if (redis_command(*via, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(port), std::to_string(buses_.back())}) !=
      "OK") {
    error_ = "CLUSTER MEET refused";
    return std::nullopt;
  }
  const auto id = redis_command(port, {"CLUSTER", "MYID"});
  if (!id) {
    error_ = "the new node has no id";
    return std::nullopt;
  }
  // Known (past the handshake) by every live node, and it knows them all.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    bool known = true;
    for (std::size_t i = 0; i < ports_.size() && known; ++i) {
      if (pids_[i] < 0) continue;
      auto nodes = redis_command(ports_[i], {"CLUSTER", "NODES"});
      known = nodes && nodes->find(*id) != std::string::npos && nodes->find("handshake") == std::string::npos &&
              nodes->find("noaddr") == std::string::npos;
    }
    if (known && wait_ok(1000)) return port;
    std::this_thread::sleep_for(50ms);
  }
  error_ = "the new node was not known to every node within 10 s";
  return std::nullopt;
}

bool RedisCluster::wait_ok(int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool ok = true;
    for (std::size_t i = 0; i < ports_.size() && ok; ++i) {
      if (pids_[i] < 0) continue;
      auto info = redis_command(ports_[i], {"CLUSTER", "INFO"});
      ok = info && info->find("cluster_state:ok") != std::string::npos;
      // A replica still in its first sync would not be one yet: a test's WAIT timed out on a
      // cluster just created, and a failover then would promote a node without the data.
      auto repl = redis_command(ports_[i], {"INFO", "replication"});
      ok = ok && repl &&
           (repl->find("role:slave") == std::string::npos ||
            (repl->find("master_link_status:up") != std::string::npos &&
             repl->find("master_sync_in_progress:0") != std::string::npos));
    }
    if (ok) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::optional<std::uint16_t> RedisCluster::primary_of(int slot) const {
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    if (pids_[i] < 0) continue;
    auto* r = static_cast<redisReply*>(redis_command_reply(ports_[i], {"CLUSTER", "SLOTS"}));
    if (r == nullptr) continue;
    std::optional<std::uint16_t> out;
    if (r->type == REDIS_REPLY_ARRAY) {
      // [[start, end, [ip, port, id], replicas...], ...]
      for (std::size_t j = 0; j < r->elements && !out; ++j) {
        const redisReply* e = r->element[j];
        if (e->elements < 3 || e->element[0]->integer > slot || e->element[1]->integer < slot) continue;
        const redisReply* primary = e->element[2];
        if (primary->elements >= 2) out = static_cast<std::uint16_t>(primary->element[1]->integer);
      }
    }
    freeReplyObject(r);
    if (out) return out;
  }
  return std::nullopt;
}

void RedisCluster::kill(std::uint16_t port) {
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    if (ports_[i] != port || pids_[i] < 0) continue;
    ::kill(pids_[i], SIGKILL);
    int status = 0;
    ::waitpid(pids_[i], &status, 0);
    pids_[i] = -1;
  }
}

bool RedisCluster::wait_failover(int slot, std::uint16_t not_port, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto p = primary_of(slot);
    if (p && *p != not_port)
      return wait_ok(static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool RedisCluster::migrate_slot(int slot, std::uint16_t to) {
  const auto from = primary_of(slot);
  if (!from || *from == to) return false;
  const auto from_id = redis_command(*from, {"CLUSTER", "MYID"});
  const auto to_id = redis_command(to, {"CLUSTER", "MYID"});
  if (!from_id || !to_id) return false;
  const std::string s = std::to_string(slot);
  if (redis_command(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", *from_id}) != "OK") return false;
  if (redis_command(*from, {"CLUSTER", "SETSLOT", s, "MIGRATING", *to_id}) != "OK") return false;
  for (int round = 0; round < 100; ++round) {  // 100 keys a round: bounded, and far more than a test has
    auto* r = static_cast<redisReply*>(redis_command_reply(*from, {"CLUSTER", "GETKEYSINSLOT", s, "100"}));
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
      if (r) freeReplyObject(r);
      return false;
    }
    std::vector<std::string> migrate{"MIGRATE", "127.0.0.1", std::to_string(to), "", "0", "5000", "KEYS"};
    for (std::size_t i = 0; i < r->elements; ++i) migrate.emplace_back(r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    if (migrate.size() == 7) break;  // none left
    if (redis_command(*from, migrate) != "OK") return false;
  }
  // Every primary learns the new owner (the cluster bus would spread it too, in its own time).
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    if (pids_[i] < 0) continue;
    redis_command(ports_[i], {"CLUSTER", "SETSLOT", s, "NODE", *to_id});  // a replica refuses: fine
  }
  return primary_of(slot) == to;
}

void RedisCluster::flush_all() const {
  for (std::size_t i = 0; i < ports_.size(); ++i) {
    if (pids_[i] < 0) continue;
    // A replica refuses (READONLY): only the primaries' answers matter.
    redis_command(ports_[i], {"FLUSHALL"});
  }
}

void RedisCluster::stop_all() {
  for (auto& pid : pids_) {
    if (pid < 0) continue;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
}

}  // namespace parley::test
