#pragma once
// What the cluster suites share (cluster_test.cpp, cold_start_test.cpp): free ports, child
// processes (redis-server, haproxy) that die with the test, a blocking Redis client, /readyz, and
// HAProxy's configuration from deploy/haproxy.local.cfg.tmpl.
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace parley::cluster_test {

using namespace parley::it;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// A free 127.0.0.1 port below the kernel's ephemeral range: a port in that range, free when
// checked, can become the local end of some outgoing connection before the server binds it.
inline unsigned short free_port() {
  int low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low;
  const int span = low > 21024 ? low - 20000 : 1024;
  static unsigned seed = static_cast<unsigned>(::getpid()) * 2654435761u;
  for (int attempt = 0; attempt < 200; ++attempt) {
    seed = seed * 1103515245u + 12345u;
    const auto port = static_cast<unsigned short>(20000 + (seed >> 8) % static_cast<unsigned>(span));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("cannot find a free port");
}

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string tail(const std::string& s, std::size_t n = 4000) {
  return s.size() > n ? s.substr(s.size() - n) : s;
}

// A child process (redis-server, haproxy) with its output in a log file. It dies with the test
// binary (PR_SET_PDEATHSIG), and the destructor kills it.
class Child {
 public:
  Child(std::vector<std::string> args, fs::path log) : args_(std::move(args)), log_(std::move(log)) {}
  ~Child() { kill(SIGKILL); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void start() {
    if (pid_ > 0) throw std::runtime_error(args_[0] + " already running");
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) throw std::runtime_error("cannot open " + log_.string());
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(1);
      ::dup2(out, 1);
      ::dup2(out, 2);
      const int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
    ::close(out);
    pid_ = pid;
  }
  // Sends `sig` and waits (bounded) for the exit; SIGKILL after `wait`.
  void kill(int sig, Ms wait = 5s) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    const auto deadline = Clock::now() + wait;
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    pid_ = -1;
  }
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  std::string log() const { return read_text(log_); }

 private:
  std::vector<std::string> args_;
  fs::path log_;
  pid_t pid_ = -1;
};

// A blocking hiredis connection, for looking at (and tampering with) Redis from outside.
class RedisCli {
 public:
  explicit RedisCli(unsigned short port) {
    timeval tv{2, 0};
    c_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c_ || c_->err) {
      std::string err = c_ ? c_->errstr : "out of memory";
      if (c_) redisFree(c_);
      c_ = nullptr;
      throw std::runtime_error("redis connect: " + err);
    }
    redisSetTimeout(c_, tv);
  }
  ~RedisCli() {
    if (c_) redisFree(c_);
  }
  RedisCli(const RedisCli&) = delete;
  RedisCli& operator=(const RedisCli&) = delete;

  // Runs a command; returns the reply as text (integer as decimal, nil as "(nil)").
  std::string cmd(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data()));
    if (!r) throw std::runtime_error("redis " + args[0] + ": " + c_->errstr);
    std::string out;
    switch (r->type) {
      case REDIS_REPLY_INTEGER: out = std::to_string(r->integer); break;
      case REDIS_REPLY_NIL: out = "(nil)"; break;
      case REDIS_REPLY_ERROR: {
        std::string e(r->str, r->len);
        freeReplyObject(r);
        throw std::runtime_error("redis " + args[0] + ": " + e);
      }
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS: out.assign(r->str, r->len); break;
      default: out = "(array of " + std::to_string(r->elements) + ")";
    }
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* c_ = nullptr;
};

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// GET /readyz's status, 0 when the node does not answer.
inline int readyz(unsigned short port) {
  try {
    return http_get(port, "/readyz", 1s).status;
  } catch (const std::exception&) {
    return 0;
  }
}

// HAProxy's configuration for a listener on `listen_port` in front of `node_ports` (PROXY v2, as
// deploy/ does), from the loopback template that scripts/cluster fills in.
inline std::string haproxy_config(unsigned short listen_port, unsigned short stats_port,
                                  const std::vector<unsigned short>& node_ports) {
  std::string servers;
  for (std::size_t i = 0; i < node_ports.size(); ++i)
    servers +=
        "    server node" + std::to_string(i + 1) + " 127.0.0.1:" + std::to_string(node_ports[i]) + " send-proxy-v2\n";
  std::istringstream tmpl_in(read_text(fs::path(PARLEY_SOURCE_DIR) / "deploy/haproxy.local.cfg.tmpl"));
  std::string cfg, line;
  while (std::getline(tmpl_in, line)) {
    if (line.starts_with("#")) continue;
    if (line == "@SERVERS@") {
      cfg += servers;
      continue;
    }
    for (auto [from, to] : {std::pair<std::string, std::string>{"@LISTEN_PORT@", std::to_string(listen_port)},
                            {"@STATS_PORT@", std::to_string(stats_port)}})
      if (auto at = line.find(from); at != std::string::npos) line.replace(at, from.size(), to);
    cfg += line + "\n";
  }
  if (cfg.find("timeout tunnel") == std::string::npos || cfg.find("httpchk GET /readyz") == std::string::npos ||
      cfg.find("option redispatch") == std::string::npos)
    throw std::runtime_error("deploy/haproxy.local.cfg.tmpl lost its tunnel timeout, /readyz check or redispatch");
  return cfg;
}

}  // namespace parley::cluster_test
