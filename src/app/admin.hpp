#pragma once
// The operator's channel to a running node: a Unix socket in the data directory,
// `<data_dir>/parley.sock`, mode 0600 (only the user the server runs as, and root, may connect:
// the file system is the authentication, and no secret is needed). One command per line, one
// answer per line: "ok" or "error <code>: <message>". `parley admin <command> [--data DIR]`
// speaks it.
//
//   delete-room ROOM   the room, its messages and its members' membership go (room_deleted)
//   log-level [LEVEL]  this node's log level: without LEVEL, the level now; with it, changed
//                      until the next SIGHUP or restart (logged at warn)
//
// Runs on the main thread's io_context; commands are handed to the node, which answers on the
// room's owner thread, and the answer is posted back here.
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace parley::node {
class Node;
}

namespace parley::app {

class AdminSocket {
 public:
  // Binds `path` (an old socket file there is replaced); throws std::runtime_error if it cannot.
  AdminSocket(boost::asio::io_context& ctx, std::filesystem::path path, node::Node& node);
  ~AdminSocket();
  AdminSocket(const AdminSocket&) = delete;
  AdminSocket& operator=(const AdminSocket&) = delete;

  void start();
  // Stops accepting (the drain), so that the main io_context can run out of work.
  void close();

 private:
  void do_accept();

  boost::asio::io_context& ctx_;
  std::filesystem::path path_;
  node::Node& node_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
};

// `parley admin ARGS... [--data DIR]`: sends one command to the node whose data directory is
// `data_dir` and prints its answer; the exit code is 0 for "ok", 1 for an error answer, 2 when
// the node cannot be reached.
int run_admin(const std::vector<std::string>& args, const std::string& data_dir);

// `parley admin --url http://HOST:PORT --token TOKEN ARGS...`: the admin API over HTTP
// (app/admin_http.cpp): nodes, rooms [LIMIT], delete-room ROOM, disconnect USER, ban USER, drain NODE.
// The
// same exit codes: 0 done, 1 refused (the answer's code and message printed), 2 not asked.
int run_admin_http(const std::vector<std::string>& args, const std::string& url, const std::string& token);

}  // namespace parley::app
