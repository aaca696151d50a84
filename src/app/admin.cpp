#include "app/admin.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <iostream>
#include <stdexcept>

#include "core/validate.hpp"
#include "net/log.hpp"
#include "node/node.hpp"
#include "protocol/errc.hpp"
#include "protocol/events.hpp"

namespace parley::app {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

constexpr std::size_t max_command = 1024;

// One operator connection: a command line and its answer within 30 s, then the end.
class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
 public:
  AdminConnection(asio::io_context& ctx, local::socket socket, node::Node& node)
      : ctx_(ctx), socket_(std::move(socket)), node_(node), timer_(ctx), buffer_(max_command) {}

  void run() {
    timer_.expires_after(std::chrono::seconds(30));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->socket_.close();
    });
    asio::async_read_until(
        socket_, buffer_, '\n', [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec == asio::error::not_found) return self->answer("error bad_request: the command is too long");
          if (ec) {
            self->timer_.cancel();
            return;
          }
          std::string line(asio::buffers_begin(self->buffer_.data()), asio::buffers_begin(self->buffer_.data()) + n);
          while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
          self->execute(line);
        });
  }

 private:
  void execute(const std::string& line) {
    const auto space = line.find(' ');
    const std::string command = line.substr(0, space);
    const std::string arg = space == std::string::npos ? std::string() : line.substr(space + 1);
    // Answers come from another thread (a room's owner, the store's): posted back here.
    auto reply = [self = shared_from_this()](std::error_code ec, std::string text) {
      asio::post(self->ctx_, [self, ec, text = std::move(text)] {
        if (ec)
          return self->answer("error " + std::string(protocol::code_name(static_cast<protocol::errc>(ec.value()))) +
                              ": " + text);
        self->answer(text.empty() ? "ok" : "ok\n" + text);
      });
    };
    if (command == "delete-room" && !arg.empty()) {
      spdlog::info("admin: delete-room {}", arg);
      return node_.delete_room(arg, reply);
    }
    if (command == "delete-message") {
      // ROOM SEQ: as the admin API's delete, by "admin socket".
      const auto split = arg.find(' ');
      std::uint64_t seq = 0;
      const std::string room = arg.substr(0, split);
      const std::string number = split == std::string::npos ? std::string() : arg.substr(split + 1);
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), seq);
      if (room.empty() || ec != std::errc() || end != number.data() + number.size() || seq == 0)
        return answer("error bad_request: delete-message ROOM SEQ (SEQ a positive integer)");
      if (!core::valid_room_id(room)) return answer("error bad_room: not a room id");
      spdlog::info("admin: delete-message {} {}", room, seq);
      return node_.server_api().delete_message(
          room, seq, "admin socket", [self = shared_from_this()](const net::ApiResponse& r) {
            std::string text = r.status == 200
                                   ? "ok\n" + r.body
                                   : "error " + std::string(protocol::http_error_code(r.body)) + ": " + r.body;
            asio::post(self->ctx_, [self, text = std::move(text)] { self->answer(text); });
          });
    }
    if (command == "api-key-create") {
      const auto split = arg.rfind(' ');
      if (split == std::string::npos || split == 0)
        return answer("error bad_request: api-key-create NAME SCOPE[,SCOPE] (publish, rooms, members, admin)");
      const std::string name = arg.substr(0, split), scopes = arg.substr(split + 1);
      // The key itself is never logged: only who made one, and its scopes.
      spdlog::info("admin: api-key-create {} {}", name, scopes);
      return node_.server_api().create_key(name, scopes, reply);
    }
    if (command == "api-key-list" && arg.empty()) return node_.server_api().list_keys(reply);
    // The log level of this node (not the others of a cluster: each has its own socket), until
    // the next SIGHUP or restart reads the configuration's again.
    if (command == "log-level" && arg.empty())
      return answer("ok\n" + std::string(net::log::level_name(spdlog::default_logger_raw()->level())));
    if (command == "log-level") {
      if (!net::log::change_level(arg, "admin socket"))
        return answer("error bad_request: log-level trace|debug|info|warn|error|critical|off");
      return answer("ok");
    }
    if (command == "api-key-revoke" && !arg.empty()) {
      spdlog::info("admin: api-key-revoke {}", arg);
      return node_.server_api().revoke_key(arg, reply);
    }
    answer(
        "error bad_request: unknown command; the commands are: delete-room ROOM, delete-message ROOM SEQ, "
        "api-key-create NAME "
        "SCOPE[,SCOPE], api-key-list, api-key-revoke ID, log-level [LEVEL]");
  }

  void answer(std::string text) {
    auto out = std::make_shared<std::string>(std::move(text) + "\n");
    asio::async_write(socket_, asio::buffer(*out),
                      [self = shared_from_this(), out](boost::system::error_code, std::size_t) {
                        self->timer_.cancel();
                        boost::system::error_code ignored;
                        self->socket_.close(ignored);
                      });
  }

  asio::io_context& ctx_;
  local::socket socket_;
  node::Node& node_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
};

}  // namespace

AdminSocket::AdminSocket(asio::io_context& ctx, std::filesystem::path path, node::Node& node)
    : ctx_(ctx), path_(std::move(path)), node_(node), acceptor_(ctx) {
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);  // a socket file a killed server left behind
  // Created 0600 from the start: the umask closes it before bind makes it.
  const mode_t old = ::umask(0077);
  boost::system::error_code ec;
  acceptor_.open(local(), ec);
  if (!ec) acceptor_.bind(local::endpoint(path_.string()), ec);
  if (!ec) acceptor_.listen(16, ec);
  ::umask(old);
  if (!ec && ::chmod(path_.c_str(), 0600) != 0) ec.assign(errno, boost::system::system_category());
  if (ec) throw std::runtime_error("admin socket " + path_.string() + ": " + ec.message());
}

AdminSocket::~AdminSocket() {
  close();
  std::error_code ignored;
  std::filesystem::remove(path_, ignored);
}

void AdminSocket::start() { do_accept(); }

void AdminSocket::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void AdminSocket::do_accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, local::socket socket) {
    if (ec) return;  // closed
    std::make_shared<AdminConnection>(ctx_, std::move(socket), node_)->run();
    do_accept();
  });
}

int run_admin(const std::vector<std::string>& args, const std::string& data_dir) {
  std::string line;
  for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
  const auto path = std::filesystem::path(data_dir) / "parley.sock";
  try {
    asio::io_context ctx;
    local::socket socket(ctx);
    socket.connect(local::endpoint(path.string()));
    asio::write(socket, asio::buffer(line + "\n"));
    // The answer may span lines (api-key-list): read until the node closes the connection. A
    // node that closes with part of a refused command unread resets the connection: what was
    // read by then is the answer.
    asio::streambuf reply;
    boost::system::error_code ec;
    asio::read(socket, reply, ec);
    if (ec && ec != asio::error::eof && reply.size() == 0) throw boost::system::system_error(ec);
    std::string answer((std::istreambuf_iterator<char>(&reply)), std::istreambuf_iterator<char>());
    while (!answer.empty() && answer.back() == '\n') answer.pop_back();
    if (answer.empty()) throw std::runtime_error("no answer");
    std::cout << answer << "\n";
    return answer == "ok" || answer.starts_with("ok\n") ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "parley admin: cannot reach the node at " << path.string() << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace parley::app
