// `parley admin --url URL --token TOKEN COMMAND...`: the admin API (node/admin_api.hpp) from the
// command line, for scripts and for operators without a browser. One HTTP/1.1 request, its
// answer printed: the JSON body of a GET, "ok" for an action done. Exit codes as the socket's
// commands: 0 answered yes, 1 answered no ("error <code>: <message>"), 2 not asked (no token, a
// bad URL or command, the node unreachable).
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/admin.hpp"

namespace parley::app {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

struct Target {
  http::verb method;
  std::string path;
};

std::string percent_encoded(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The request of a command, or nullopt (not one of them, or its arguments wrong).
std::optional<Target> target_of(const std::vector<std::string>& args) {
  if (args.empty()) return std::nullopt;
  const std::string& c = args[0];
  const std::size_t n = args.size();
  if (c == "nodes" && n == 1) return Target{http::verb::get, "/api/admin/nodes"};
  if (c == "rooms" && n <= 2)
    return Target{http::verb::get, "/api/admin/rooms" + (n == 2 ? "?limit=" + percent_encoded(args[1]) : "")};
  if (c == "delete-room" && n == 2) return Target{http::verb::delete_, "/api/admin/rooms/" + percent_encoded(args[1])};
  if (c == "delete-message" && n == 3)
    return Target{http::verb::delete_,
                  "/api/admin/rooms/" + percent_encoded(args[1]) + "/messages/" + percent_encoded(args[2])};
  if (c == "disconnect" && n == 2)
    return Target{http::verb::post, "/api/admin/users/" + percent_encoded(args[1]) + "/disconnect"};
  if (c == "ban" && n == 2) return Target{http::verb::post, "/api/admin/users/" + percent_encoded(args[1]) + "/ban"};
  if (c == "unban" && n == 2)
    return Target{http::verb::post, "/api/admin/users/" + percent_encoded(args[1]) + "/unban"};
  if (c == "drain" && n == 2)
    return Target{http::verb::post, "/api/admin/nodes/" + percent_encoded(args[1]) + "/drain"};
  return std::nullopt;
}

}  // namespace

int run_admin_http(const std::vector<std::string>& args, const std::string& url, const std::string& token) {
  const auto target = target_of(args);
  if (!target) {
    std::cerr << "parley admin --url: the commands are: nodes, rooms [LIMIT], delete-room ROOM, delete-message ROOM "
                 "SEQ, disconnect USER, ban USER, unban USER, drain NODE\n";
    return 2;
  }
  if (token.empty()) {
    std::cerr << "parley admin --url: no token: pass --token or set PARLEY_ADMIN_TOKEN (an API key with the admin "
                 "scope, or an admin's session token)\n";
    return 2;
  }
  // http://host:port[/]: the node's own port (https: put a local port of the node in front).
  constexpr std::string_view scheme = "http://";
  std::string_view rest(url);
  if (!rest.starts_with(scheme)) {
    std::cerr << "parley admin --url: the URL is http://HOST:PORT, not '" << url << "'\n";
    return 2;
  }
  rest.remove_prefix(scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  const std::string host(rest.substr(0, colon));
  const std::string port = colon == std::string_view::npos ? "80" : std::string(rest.substr(colon + 1));
  try {
    asio::io_context ctx;
    asio::ip::tcp::resolver resolver(ctx);
    boost::beast::tcp_stream stream(ctx);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{target->method, target->path, 11};
    req.set(http::field::host, std::string(rest));
    req.set(http::field::user_agent, "parley-admin");
    // An API key ("pk_…") is sent as one; anything else as a session's bearer token.
    req.set(http::field::authorization, (token.starts_with("pk_") ? "apikey " : "Bearer ") + token);
    if (target->method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = "{}";
    }
    req.prepare_payload();
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    const unsigned status = res.result_int();
    if (status >= 200 && status < 300) {
      std::cout << (target->method == http::verb::get ? res.body() : std::string("ok")) << "\n";
      return 0;
    }
    std::string code = "http_" + std::to_string(status), message = res.body();
    boost::system::error_code ec;
    const auto v = boost::json::parse(res.body(), ec);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      if (const auto* c = o.if_contains("code"); c && c->is_string()) code = std::string(c->as_string());
      if (const auto* m = o.if_contains("message"); m && m->is_string()) message = std::string(m->as_string());
    }
    std::cout << "error " << code << ": " << message << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "parley admin: cannot reach the node at " << url << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace parley::app
