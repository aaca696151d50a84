#include "redis_server.hpp"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

extern char** environ;

namespace parley::test {

using namespace std::chrono_literals;

const std::string& redis_server_path() {
  static const std::string path = PARLEY_REDIS_SERVER;
  return path;
}

std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

void* redis_command_reply(std::uint16_t port, const std::vector<std::string>& args) {
  timeval tv{0, 300'000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr || c->err) {
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, timeval{2, 0});
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.c_str());
    lens.push_back(a.size());
  }
  void* r = redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data());
  redisFree(c);
  return r;
}

std::optional<std::string> redis_command(std::uint16_t port, const std::vector<std::string>& args) {
  auto* r = static_cast<redisReply*>(redis_command_reply(port, args));
  std::optional<std::string> out;
  if (r && r->str)
    out = std::string(r->str, r->len);
  else if (r && r->type == REDIS_REPLY_INTEGER)
    out = std::to_string(r->integer);
  if (r) freeReplyObject(r);
  return out;
}

RedisServer::RedisServer() {
  char tmpl[] = "/tmp/parley-redis-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
}

RedisServer::~RedisServer() {
  kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool RedisServer::start(std::uint16_t port) {
  port_ = port;
  std::string p = std::to_string(port);
  std::vector<std::string> args{redis_server_path(),
                                "--port",
                                p,
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--dir",
                                dir_,
                                "--logfile",
                                dir_ + "/redis.log",
                                "--daemonize",
                                "no"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    pid_ = -1;
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (redis_command(port_, {"PING"}) == "PONG") return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // died: port taken?
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  kill();
  return false;
}

bool RedisServer::start_any() {
  for (int attempt = 0; attempt < 3; ++attempt)
    if (start(free_loopback_port())) return true;
  return false;
}

void RedisServer::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(dir_) / "dump.rdb", ec);  // what a stop() saved
}

bool RedisServer::stop() {
  if (pid_ <= 0) return false;
  redis_command(port_, {"SHUTDOWN", "SAVE"});  // no reply: the server closes the connection and exits
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  kill();
  return false;
}

}  // namespace parley::test
