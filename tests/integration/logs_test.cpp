// The node's logs as an operator uses them (docs/operations.md, "Logs"): with
// server.log_format=json every line of stderr is one JSON object, whatever a client put in its
// name or its request's path; an error a client is sent (an `error` event, an /api/ error's
// body and X-Request-Id) carries a request id that is in the log line of that error; the log
// level changes without a restart (`parley admin log-level`, SIGHUP) and the change is logged.
#include <signal.h>

#include "common.hpp"

namespace parley::it {
namespace {

// Every line of the server's stderr, each parsed as a JSON object (a test failure for any
// line that is not one).
std::vector<json::object> json_lines(const ServerProcess& server) {
  std::vector<json::object> out;
  const std::string text = server.stderr_text();
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? text.size() : end + 1;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    EXPECT_TRUE(!ec && v.is_object()) << "not a JSON object: " << line;
    if (ec || !v.is_object()) continue;
    const auto& o = v.as_object();
    EXPECT_TRUE(o.contains("ts") && o.contains("level") && o.contains("msg")) << line;
    out.push_back(o);
  }
  return out;
}

std::optional<json::object> line_with(const ServerProcess& server, const std::string& key, const std::string& value) {
  for (auto& o : json_lines(server))
    if (const auto* v = o.if_contains(key); v && v->is_string() && v->as_string() == value) return o;
  return std::nullopt;
}

// Waits (bounded) for a line whose `key` is `value`.
std::optional<json::object> wait_line(const ServerProcess& server, const std::string& key, const std::string& value) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto o = line_with(server, key, value)) return o;
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

RunResult admin(const ServerProcess& server, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"admin"};
  args.insert(args.end(), command.begin(), command.end());
  args.insert(args.end(), {"--data", server.data_dir()});
  return run_parley(args);
}

TEST(Logs, JsonLinesCarryTheRequestIdOfEveryError) {
  ServerOptions o;
  o.settings = {"server.log_format=json"};
  o.log_level = "debug";
  ServerProcess server(o);

  // A name with quotes and a backslash (the name profile refuses controls; the path below
  // brings invalid UTF-8).
  WsClient ada(server.port());
  const auto welcome = ada.hello(R"(ada "the \ quoted" é)");
  const std::string name = str(welcome, "user");

  // An error event: its rid, and the log line of that rid.
  auto e = ada.request({{"type", "join"}, {"room", "nope"}});
  ASSERT_EQ(type_of(e), "error") << dump(e);
  ASSERT_EQ(str(e, "code"), "no_such_room");
  const std::string rid = str(e, "rid");
  ASSERT_FALSE(rid.empty()) << dump(e);
  auto line = wait_line(server, "rid", rid);
  ASSERT_TRUE(line) << server.stderr_text();
  EXPECT_EQ(str(*line, "msg"), "error sent");
  EXPECT_EQ(str(*line, "code"), "no_such_room");
  EXPECT_EQ(str(*line, "room"), "nope");
  EXPECT_EQ(str(*line, "level"), "info");  // a client's mistake
  EXPECT_TRUE(line->at("conn").is_number());
  // A second error has another id.
  auto e2 = ada.request({{"type", "join"}, {"room", "nope"}});
  EXPECT_NE(str(e2, "rid"), rid);

  // An /api/ error: the id in the body, the header and the log line.
  auto r = http_get(server.port(), "/api/nope");
  ASSERT_GE(r.status, 400);
  const std::string body_rid = str(r.json().as_object(), "rid");
  ASSERT_FALSE(body_rid.empty()) << r.body;
  EXPECT_EQ(r.header("x-request-id"), body_rid);
  EXPECT_NE(body_rid, rid);
  line = wait_line(server, "rid", body_rid);
  ASSERT_TRUE(line) << server.stderr_text();
  EXPECT_EQ(str(*line, "msg"), "http error");
  EXPECT_EQ(str(*line, "path"), "/api/nope");
  EXPECT_EQ(line->at("status"), r.status);
  EXPECT_EQ(str(*line, "code"), str(r.json().as_object(), "code"));

  // A path of invalid UTF-8, quotes and backslashes: still one valid line, with the same id.
  auto hostile =
      http_raw(server.port(), "GET /api/\xff\xfe%22\"\\x\xc3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_GE(hostile.status, 400) << hostile.body;
  const std::string hostile_rid = str(hostile.json().as_object(), "rid");
  ASSERT_FALSE(hostile_rid.empty()) << hostile.body;
  EXPECT_EQ(hostile.header("x-request-id"), hostile_rid);
  line = wait_line(server, "rid", hostile_rid);
  ASSERT_TRUE(line) << server.stderr_text();
  // Each byte that is not UTF-8 is U+FFFD; the rest is as sent.
  EXPECT_EQ(str(*line, "path"), "/api/\xef\xbf\xbd\xef\xbf\xbd%22\"\\x\xef\xbf\xbd");

  // The hostile name, as the server welcomed it, is exactly what its line says.
  line = wait_line(server, "user", name);
  ASSERT_TRUE(line) << server.stderr_text();
  EXPECT_EQ(str(*line, "msg"), "welcome");

  ada.close();  // so that the drain does not wait for it
  server.stop();
  json_lines(server);  // every line, through the drain, is still a JSON object
}

TEST(Logs, LevelChangesWithoutARestart) {
  ServerOptions o;
  o.settings = {"server.log_format=json"};
  o.log_level = "info";
  ServerProcess server(o);

  WsClient before(server.port());
  before.hello("before");
  auto r = admin(server, {"log-level"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("info"), std::string::npos) << r.output;

  r = admin(server, {"log-level", "debug"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto change = wait_line(server, "by", "admin socket");
  ASSERT_TRUE(change) << server.stderr_text();
  EXPECT_EQ(str(*change, "level"), "warn");
  EXPECT_EQ(str(*change, "from"), "info");
  EXPECT_EQ(str(*change, "to"), "debug");
  WsClient after(server.port());
  after.hello("after");
  EXPECT_TRUE(wait_line(server, "user", "after")) << server.stderr_text();  // a debug line
  EXPECT_FALSE(line_with(server, "user", "before"));

  // An unknown level is refused and changes nothing.
  r = admin(server, {"log-level", "loud"});
  EXPECT_NE(r.exit_code, 0) << r.output;

  // SIGHUP reads the configuration again: --log-level info, as at start-up.
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  change = wait_line(server, "by", "SIGHUP");
  ASSERT_TRUE(change) << server.stderr_text();
  EXPECT_EQ(str(*change, "from"), "debug");
  EXPECT_EQ(str(*change, "to"), "info");
  WsClient later(server.port());
  later.hello("later");
  expect_alive(later);
  EXPECT_FALSE(line_with(server, "user", "later")) << server.stderr_text();
}

}  // namespace
}  // namespace parley::it
