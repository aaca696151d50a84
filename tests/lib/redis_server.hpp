#pragma once
// RedisServer: a throwaway redis-server for tests, from the Debian package: on a loopback port,
// in a temporary directory, without persistence (but for stop(), which saves a snapshot for
// restart()). The destructor kills it and removes the directory. Also: a free loopback port, and
// a blocking hiredis command for looking at the server from outside the code under test.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace parley::test {

// The redis-server this build found ("" when it is not installed: skip the test).
const std::string& redis_server_path();

// A port that was free a moment ago on 127.0.0.1.
std::uint16_t free_loopback_port();

// One command over a fresh blocking connection (300 ms to connect, 2 s to answer): the reply's
// string, or an integer reply as text; nullopt on failure or for other reply types.
std::optional<std::string> redis_command(std::uint16_t port, const std::vector<std::string>& args);
// The same command's whole reply (a hiredis redisReply*, to free with freeReplyObject), or
// nullptr on failure: for replies that are not one string (CLUSTER SLOTS).
void* redis_command_reply(std::uint16_t port, const std::vector<std::string>& args);

class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }

  // Starts redis-server on `port` and waits for PING; false if it does not answer within 5 s.
  bool start(std::uint16_t port);
  // start() on a free port, up to three attempts.
  bool start_any();
  // SIGKILL: the clients see their connections reset, as with a crash. The data is gone: a
  // start() or restart() after it begins empty.
  void kill();
  // An outage that keeps the data: SHUTDOWN SAVE (the clients see their connections closed),
  // then restart() on the same port loads what was saved. False if the server did not exit.
  bool stop();
  // start() on the port of the last start(), with the data of the last stop() if any.
  bool restart() { return start(port_); }

 private:
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace parley::test
