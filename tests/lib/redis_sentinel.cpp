#include "redis_sentinel.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "redis_server.hpp"

extern char** environ;

namespace parley::test {

using namespace std::chrono_literals;

namespace {

// A field of a flat [name, value, name, value, ...] reply (SENTINEL MASTER).
std::optional<std::string> field(const redisReply* r, const std::string& name) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return std::nullopt;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    if (r->element[i]->str && name == r->element[i]->str && r->element[i + 1]->str) return r->element[i + 1]->str;
  return std::nullopt;
}

// The first element of ROLE's reply: "master", "slave" or "sentinel"; empty if none.
std::string role_of(std::uint16_t port) {
  auto* r = static_cast<redisReply*>(redis_command_reply(port, {"ROLE"}));
  std::string role;
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->str) role = r->element[0]->str;
  if (r) freeReplyObject(r);
  return role;
}

}  // namespace

RedisSentinelSet::RedisSentinelSet() {
  char tmpl[] = "/tmp/parley-redis-sentinel-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
}

RedisSentinelSet::~RedisSentinelSet() {
  stop_all();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> RedisSentinelSet::sentinels() const {
  std::vector<std::string> out;
  for (auto p : sentinel_ports_) out.push_back("127.0.0.1:" + std::to_string(p));
  return out;
}

bool RedisSentinelSet::spawn(std::vector<std::string> args, std::uint16_t port, const std::string& what) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    error_ = "could not spawn " + what;
    return false;
  }
  pids_.emplace_back(port, pid);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (redis_command(port, {"PING"}) != "PONG") {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pids_.back().second = -1;
      error_ = what + " on port " + std::to_string(port) + " exited (port taken?)";
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      error_ = what + " on port " + std::to_string(port) + " did not answer within 5 s";
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

bool RedisSentinelSet::start() {
  if (redis_server_path().empty()) {
    error_ = "redis-server not installed";
    return false;
  }
  for (int i = 0; i <= kReplicas; ++i) {
    const std::uint16_t port = free_loopback_port();
    const std::string dir = dir_ + "/redis" + std::to_string(i);
    std::filesystem::create_directories(dir);
    std::vector<std::string> args{redis_server_path(), "--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
                                  "", "--appendonly", "no", "--dir", dir, "--logfile", dir + "/redis.log",
                                  // A replica's first sync at once, not after the default 5 s.
                                  "--repl-diskless-sync-delay", "0", "--daemonize", "no"};
    if (i > 0) {
      args.emplace_back("--replicaof");
      args.emplace_back("127.0.0.1");
      args.emplace_back(std::to_string(redis_ports_[0]));
    }
    redis_ports_.push_back(port);
    if (!spawn(args, port, i == 0 ? "the primary" : "a replica")) {
      stop_all();
      return false;
    }
  }
  for (int i = 0; i < kSentinels; ++i) {
    const std::uint16_t port = free_loopback_port();
    const std::string dir = dir_ + "/sentinel" + std::to_string(i);
    std::filesystem::create_directories(dir);
    // A sentinel rewrites its configuration file: one of its own.
    std::ofstream(dir + "/sentinel.conf")
        << "port " << port << "\nbind 127.0.0.1\ndir " << dir << "\nsentinel monitor " << kMaster << " 127.0.0.1 "
        << redis_ports_[0] << " 2\nsentinel down-after-milliseconds " << kMaster << ' ' << kDownAfterMs
        << "\nsentinel failover-timeout " << kMaster << ' ' << kFailoverTimeoutMs << '\n';
    sentinel_ports_.push_back(port);
    if (!spawn({redis_server_path(), dir + "/sentinel.conf", "--sentinel", "--logfile", dir + "/sentinel.log",
                "--daemonize", "no"},
               port, "a sentinel")) {
      stop_all();
      return false;
    }
  }
  return true;
}

bool RedisSentinelSet::wait_ready(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool ok = true;
    for (std::size_t i = 1; i < redis_ports_.size() && ok; ++i) {
      auto info = redis_command(redis_ports_[i], {"INFO", "replication"});
      ok = info && info->find("master_link_status:up") != std::string::npos;
    }
    for (std::size_t i = 0; i < sentinel_ports_.size() && ok; ++i) {
      auto* r = static_cast<redisReply*>(redis_command_reply(sentinel_ports_[i], {"SENTINEL", "MASTER", kMaster}));
      ok = field(r, "num-slaves") == std::to_string(kReplicas) &&
           field(r, "num-other-sentinels") == std::to_string(kSentinels - 1);
      if (r) freeReplyObject(r);
    }
    if (ok) return true;
    std::this_thread::sleep_for(50ms);
  }
  error_ = "the replicas did not sync or the sentinels did not find each other within " + std::to_string(timeout_ms) +
           " ms (see " + dir_ + ")";
  return false;
}

std::optional<std::uint16_t> RedisSentinelSet::primary() const {
  for (auto port : sentinel_ports_) {
    auto* r = static_cast<redisReply*>(
        redis_command_reply(port, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", RedisSentinelSet::kMaster}));
    std::optional<std::uint16_t> out;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str)
      out = static_cast<std::uint16_t>(std::stoi(r->element[1]->str));
    if (r) freeReplyObject(r);
    if (out) return out;
  }
  return std::nullopt;
}

void RedisSentinelSet::kill(std::uint16_t port) {
  for (auto& [p, pid] : pids_) {
    if (p != port || pid < 0) continue;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
}

std::optional<std::uint16_t> RedisSentinelSet::wait_failover(std::uint16_t old_port, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto p = primary();
    if (p && *p != old_port && role_of(*p) == "master") return p;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

void RedisSentinelSet::stop_all() {
  for (auto& [port, pid] : pids_) {
    if (pid < 0) continue;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
}

}  // namespace parley::test
