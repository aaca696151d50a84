// The admin API (docs/api.md, "Admin API") against the real binary: who may (an admin's session,
// an admin-scoped key; not a session of another account, a key without the scope, nobody), what
// each call does (nodes, busiest rooms, delete a room, disconnect a user, drain the node), its
// refusals, and `parley admin --url` over it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

// "root" is the admin; "ada" and "bob" are not.
ServerOptions admin_server(std::vector<std::string> more = {}) {
  more.insert(more.begin(),
              {"auth.admins=root, u_nobody", "limits.request_burst=100000", "limits.request_rate=100000"});
  return with_accounts(std::move(more));
}

// A registered account's session cookie.
std::string signed_in(ServerProcess& server, const std::string& name) {
  auto reg = register_user(server.port(), name, "correct horse");
  EXPECT_EQ(reg.status, 201) << reg.body;
  return cookie_header(session_cookie(reg));
}

// A key made on the node's socket: its text.
std::string make_key(const ServerProcess& server, const std::string& scopes) {
  auto r = run_parley({"admin", "api-key-create", "ops", scopes, "--data", server.data_dir()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::string key = r.output.substr(r.output.find('\n') + 1);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  return key;
}

void expect_refused(const HttpResponse& r, int status, const std::string& error_code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(code(r), error_code) << r.body;
  const auto v = r.json();
  ASSERT_TRUE(v.is_object()) << r.body;
  EXPECT_FALSE(str(v.as_object(), "message").empty()) << r.body;
}

// The node table once this node's first stats are in it (about a second after start).
json::array nodes_when_listed(const ServerProcess& server, const std::string& auth) {
  for (int i = 0; i < 100; ++i) {
    auto r = api(server.port(), "GET", "/api/admin/nodes", {}, auth);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    auto nodes = r.json().as_object().at("nodes").as_array();
    if (!nodes.empty()) return nodes;
    std::this_thread::sleep_for(50ms);
  }
  return {};
}

RunResult cli(const ServerProcess& server, const std::vector<std::string>& command, const std::string& token) {
  std::vector<std::string> args = {"admin", "--url", "http://127.0.0.1:" + std::to_string(server.port())};
  if (!token.empty()) args.insert(args.end(), {"--token", token});
  args.insert(args.end(), command.begin(), command.end());
  return run_parley(args);
}

TEST(AdminApi, OnlyAdminsSessionsAndAdminKeysGetIn) {
  ServerProcess server(admin_server());
  const std::string root = signed_in(server, "root");
  const std::string ada = signed_in(server, "ada");
  const std::string admin_key = make_key(server, "admin");
  const std::string rooms_key = make_key(server, "publish,rooms,members");

  EXPECT_EQ(api(server.port(), "GET", "/api/admin/nodes", {}, root).status, 200);
  EXPECT_EQ(api(server.port(), "GET", "/api/admin/nodes", {}, "Authorization: apikey " + admin_key + "\r\n").status,
            200);

  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/admin/nodes"},
                                                        {"GET", "/api/admin/rooms"},
                                                        {"DELETE", "/api/admin/rooms/general"},
                                                        {"POST", "/api/admin/users/bob/disconnect"},
                                                        {"POST", "/api/admin/users/bob/ban"},
                                                        {"POST", "/api/admin/users/bob/unban"},
                                                        {"POST", "/api/admin/nodes/local/drain"}}) {
    SCOPED_TRACE(method + " " + path);
    expect_refused(api(server.port(), method, path), 401, "unauthorized");
    expect_refused(api(server.port(), method, path, {}, ada), 403, "forbidden");
    expect_refused(api(server.port(), method, path, {}, "Authorization: apikey " + rooms_key + "\r\n"), 403,
                   "forbidden");
    expect_refused(api(server.port(), method, path, {}, "Authorization: apikey pk_0123456789abcdef.nope\r\n"), 401,
                   "unauthorized");
    expect_refused(api(server.port(), method, path, {}, "Cookie: parley_session=not-a-session\r\n"), 401,
                   "unauthorized");
  }
  // A signed-out admin is refused at once.
  auto out = api(server.port(), "POST", "/api/logout", {}, root);
  EXPECT_EQ(out.status, 204) << out.body;
  expect_refused(api(server.port(), "GET", "/api/admin/nodes", {}, root), 401, "unauthorized");
  // Unknown endpoints and methods, even for an admin.
  const std::string again = cookie_header(session_cookie(login(server.port(), "root", "correct horse")));
  expect_refused(api(server.port(), "GET", "/api/admin/nothing", {}, again), 404, "not_found");
  expect_refused(api(server.port(), "POST", "/api/admin/nodes", {}, again), 405, "method_not_allowed");
  expect_refused(api(server.port(), "GET", "/api/admin/rooms/general", {}, again), 405, "method_not_allowed");
  // The general room survived all of the above.
  WsClient c(server.port());
  c.hello("carol");
  EXPECT_EQ(type_of(c.request({{"type", "join"}, {"room", "general"}})), "joined");
}

TEST(AdminApi, WithoutAdminsNoSessionGetsIn) {
  ServerProcess server(with_accounts({}));
  const std::string root = signed_in(server, "root");
  expect_refused(api(server.port(), "GET", "/api/admin/nodes", {}, root), 403, "forbidden");
  // A key with the admin scope still does: the operator made it on the node's own socket.
  const std::string key = make_key(server, "admin");
  EXPECT_EQ(api(server.port(), "GET", "/api/admin/nodes", {}, "Authorization: apikey " + key + "\r\n").status, 200);
}

TEST(AdminApi, NodesRoomsDeleteAndDisconnect) {
  ServerProcess server(admin_server());
  const std::string root = signed_in(server, "root");

  const auto nodes = nodes_when_listed(server, root);
  ASSERT_EQ(nodes.size(), 1u);
  const auto& self = nodes[0].as_object();
  EXPECT_EQ(str(self, "id"), "local");
  EXPECT_TRUE(self.at("up").as_bool());
  EXPECT_TRUE(self.at("self").as_bool());
  const auto& stats = self.at("stats").as_object();
  for (const char* field : {"connections", "rooms", "deliveries_per_s", "commit_p99_ms", "draining"})
    EXPECT_TRUE(stats.contains(field)) << field;

  // Busiest rooms: by members here.
  WsClient ada(server.port()), bob(server.port());
  ada.hello("ada");
  bob.hello("bob");
  ada.create("busy");
  ada.join("busy");
  bob.join("busy");
  ada.create("quiet");
  auto rooms = api(server.port(), "GET", "/api/admin/rooms?limit=2", {}, root);
  ASSERT_EQ(rooms.status, 200) << rooms.body;
  const auto body = rooms.json();
  const auto& list = body.as_object().at("rooms").as_array();
  ASSERT_EQ(list.size(), 2u) << rooms.body;
  EXPECT_EQ(str(list[0].as_object(), "room"), "busy") << rooms.body;
  EXPECT_EQ(u64(list[0].as_object(), "members"), 2u) << rooms.body;
  for (const char* bad : {"0", "101", "x", "-1", "99999"})
    expect_refused(api(server.port(), "GET", std::string("/api/admin/rooms?limit=") + bad, {}, root), 400,
                   "bad_request");

  // Delete a room: its members are told, as by the operator's socket.
  ada.clear();
  auto del = api(server.port(), "DELETE", "/api/admin/rooms/busy", {}, root);
  EXPECT_EQ(del.status, 204) << del.body;
  auto told = ada.wait_for("room_deleted");
  ASSERT_TRUE(told);
  EXPECT_EQ(str(*told, "room"), "busy");
  expect_refused(api(server.port(), "DELETE", "/api/admin/rooms/busy", {}, root), 404, "no_such_room");
  expect_refused(api(server.port(), "DELETE", "/api/admin/rooms/general", {}, root), 400, "bad_request");
  expect_refused(api(server.port(), "DELETE", "/api/admin/rooms/%zz", {}, root), 400, "bad_request");

  // Disconnect: bob's sockets close with 1008 and a reason; ada's stays.
  auto dis = api(server.port(), "POST", "/api/admin/users/BOB/disconnect", {}, root);
  EXPECT_EQ(dis.status, 202) << dis.body;
  EXPECT_EQ(bob.expect_close(), std::optional<std::uint16_t>(1008));
  EXPECT_EQ(bob.close_reason(), "disconnected by an admin");
  expect_alive(ada);
  expect_refused(api(server.port(), "POST", "/api/admin/users/%E2%80%8B/disconnect", {}, root), 400, "bad_name");
}

TEST(AdminApi, ABanEndsTheSessionsAndRefusesSignInAndTheName) {
  ServerProcess server(admin_server());
  const std::string root = signed_in(server, "root");
  auto reg = register_user(server.port(), "bob", "correct horse", true);
  ASSERT_EQ(reg.status, 201) << reg.body;
  WsClient bob(server.port());
  auto w = bob.request({{"type", "hello"}, {"token", reg.json().as_object().at("token").as_string()}});
  ASSERT_EQ(type_of(w), "welcome") << dump(w);
  WsClient ada(server.port());
  ada.hello("ada");

  auto ban = api(server.port(), "POST", "/api/admin/users/Bob/ban", {}, root);
  EXPECT_EQ(ban.status, 200) << ban.body;
  EXPECT_EQ(bob.expect_close(), std::optional<std::uint16_t>(1008));
  expect_alive(ada);
  // No sign-in: the right password hears why, a wrong one hears no more than any wrong password.
  expect_refused(login(server.port(), "bob", "correct horse"), 403, "banned");
  expect_refused(login(server.port(), "bob", "wrong horse!"), 401, "bad_credentials");
  // Nor a guest by the name (or a look-alike).
  WsClient guest(server.port());
  auto g = guest.request({{"type", "hello"}, {"name", "BOB"}});
  EXPECT_EQ(type_of(g), "error") << dump(g);
  EXPECT_EQ(str(g, "code"), "name_taken") << dump(g);
  // Banning again is success; an account that does not exist, or a name that cannot be one, is not.
  EXPECT_EQ(api(server.port(), "POST", "/api/admin/users/bob/ban", {}, root).status, 200);
  expect_refused(api(server.port(), "POST", "/api/admin/users/nobody/ban", {}, root), 404, "no_such_user");
  expect_refused(api(server.port(), "POST", "/api/admin/users/%E2%80%8B/ban", {}, root), 400, "bad_name");

  // Unban: the password verifies again (and a wrong one still does not); twice is success.
  for (int i = 0; i < 2; ++i) {
    auto un = api(server.port(), "POST", "/api/admin/users/BOB/unban", {}, root);
    EXPECT_EQ(un.status, 200) << un.body;
    EXPECT_FALSE(un.json().as_object().at("banned").as_bool()) << un.body;
  }
  EXPECT_EQ(login(server.port(), "bob", "correct horse").status, 200);
  expect_refused(login(server.port(), "bob", "wrong horse!"), 401, "bad_credentials");
  expect_refused(api(server.port(), "POST", "/api/admin/users/nobody/unban", {}, root), 404, "no_such_user");
  expect_refused(api(server.port(), "POST", "/api/admin/users/bob/unban", {}, ""), 401, "unauthorized");
  // Banned again after an unban: refused again.
  EXPECT_EQ(api(server.port(), "POST", "/api/admin/users/bob/ban", {}, root).status, 200);
  expect_refused(login(server.port(), "bob", "correct horse"), 403, "banned");
}

// An account's session token, for a hello.
std::string token_of(ServerProcess& server, const std::string& name) {
  auto reg = register_user(server.port(), name, "correct horse", true);
  EXPECT_EQ(reg.status, 201) << reg.body;
  return reg.status == 201 ? std::string(reg.json().as_object().at("token").as_string()) : std::string();
}

void say_hello(WsClient& c, const std::string& token) {
  auto w = c.request({{"type", "hello"}, {"token", token}});
  EXPECT_EQ(type_of(w), "welcome") << dump(w);
}

const json::array& array_of(const json::object& e, std::string_view key) { return e.at(key).as_array(); }

TEST(AdminApi, TheAdminChannel) {
  ServerProcess server(admin_server({"limits.admin_watchers=2"}));
  const std::string root = token_of(server, "root");
  const std::string ada = token_of(server, "ada");
  const json::object watch{{"type", "admin_watch"}};

  // Nobody but an admin's session: not before hello, not a guest, not another account.
  WsClient anonymous(server.port());
  expect_error(anonymous, watch, "hello_required");
  WsClient guest(server.port());
  guest.hello("carol");
  expect_error(guest, watch, "forbidden");
  WsClient other(server.port());
  say_hello(other, ada);
  expect_error(other, watch, "forbidden");

  // The admin: the first admin_stats at once (with the ref), with the busiest rooms.
  WsClient admin(server.port());
  say_hello(admin, root);
  admin.create("busy");
  admin.join("busy");
  auto first = admin.request(watch);
  ASSERT_EQ(type_of(first), "admin_stats") << dump(first);
  EXPECT_FALSE(array_of(first, "rooms").empty()) << dump(first);
  EXPECT_EQ(str(array_of(first, "rooms")[0].as_object(), "room"), "busy") << dump(first);
  ASSERT_TRUE(first.at("closes").is_object()) << dump(first);
  for (const char* reason : {"rate_limit", "slow_consumer"})
    EXPECT_TRUE(first.at("closes").as_object().contains(reason)) << reason;
  // Then about once a second, unasked, with this node in the table.
  auto later = admin.wait_for(
      "admin_stats", [](const json::object& e) { return !has(e, "ref") && !e.at("nodes").as_array().empty(); }, 5s);
  ASSERT_TRUE(later);
  const auto& node = array_of(*later, "nodes")[0].as_object();
  EXPECT_EQ(str(node, "id"), "local") << dump(*later);
  EXPECT_TRUE(node.at("up").as_bool()) << dump(*later);
  EXPECT_TRUE(node.at("self").as_bool()) << dump(*later);
  EXPECT_GE(u64(node, "connections"), 4u) << dump(*later);
  for (const char* field : {"deliveries_per_s", "commit_p99_ms", "broker_catchups", "draining", "closes"})
    EXPECT_TRUE(node.contains(field)) << field;
  EXPECT_EQ(fetch_metric(server.port(), "parley_admin_watchers"), std::optional<double>(1));

  // The budget: a second watcher fits (limits.admin_watchers=2), a third is refused.
  WsClient second(server.port()), third(server.port());
  say_hello(second, root);
  say_hello(third, root);
  EXPECT_EQ(type_of(second.request(watch)), "admin_stats");
  expect_error(third, watch, "too_many_watchers");
  // Watching again is a fresh admin_stats, not another place.
  EXPECT_EQ(type_of(second.request(watch)), "admin_stats");
  EXPECT_EQ(fetch_metric(server.port(), "parley_admin_watchers"), std::optional<double>(2));

  // Unwatch: admin_unwatched, and no admin_stats after it (one comes every second while watching).
  auto un = second.request({{"type", "admin_unwatch"}});
  EXPECT_EQ(type_of(un), "admin_unwatched") << dump(un);
  EXPECT_TRUE(second.expect_no_event(2500ms)) << dump(second.events().front());
  // Its place is free again; a watcher that closes frees its own.
  EXPECT_EQ(type_of(third.request(watch)), "admin_stats");
  admin.close();
  EXPECT_TRUE(eventually([&] { return fetch_metric(server.port(), "parley_admin_watchers") == 1.0; }, 5s));
  expect_alive(third);
}

TEST(AdminApi, DrainIsASigterm) {
  ServerProcess server(admin_server({"server.drain_notice_ms=0", "server.drain_window_ms=0"}));
  const std::string root = signed_in(server, "root");
  ASSERT_FALSE(nodes_when_listed(server, root).empty());
  expect_refused(api(server.port(), "POST", "/api/admin/nodes/elsewhere/drain", {}, root), 404, "no_such_node");
  WsClient ada(server.port());
  ada.hello("ada");
  auto r = api(server.port(), "POST", "/api/admin/nodes/local/drain", {}, root);
  EXPECT_EQ(r.status, 202) << r.body;
  // As on SIGTERM: the sessions close with 1012 and the server exits 0.
  EXPECT_EQ(ada.expect_close(10s), std::optional<std::uint16_t>(1012));
  EXPECT_EQ(server.wait_exit(15s), 0);
}

TEST(AdminApi, TheCommandLineSpeaksIt) {
  ServerProcess server(admin_server());
  const std::string key = make_key(server, "admin");
  WsClient bob(server.port());
  bob.hello("bob");
  bob.create("ops");

  auto nodes = cli(server, {"nodes"}, key);
  EXPECT_EQ(nodes.exit_code, 0) << nodes.output;
  EXPECT_NE(nodes.output.find("\"nodes\""), std::string::npos) << nodes.output;
  auto rooms = cli(server, {"rooms", "5"}, key);
  EXPECT_EQ(rooms.exit_code, 0) << rooms.output;
  EXPECT_NE(rooms.output.find("\"ops\""), std::string::npos) << rooms.output;
  auto del = cli(server, {"delete-room", "ops"}, key);
  EXPECT_EQ(del.exit_code, 0) << del.output;
  EXPECT_NE(del.output.find("ok"), std::string::npos) << del.output;
  auto gone = cli(server, {"delete-room", "ops"}, key);
  EXPECT_EQ(gone.exit_code, 1) << gone.output;
  EXPECT_NE(gone.output.find("error no_such_room"), std::string::npos) << gone.output;
  EXPECT_EQ(cli(server, {"disconnect", "bob"}, key).exit_code, 0);
  EXPECT_EQ(bob.expect_close(), std::optional<std::uint16_t>(1008));
  auto unban = cli(server, {"unban", "nobody"}, key);
  EXPECT_EQ(unban.exit_code, 1) << unban.output;
  EXPECT_NE(unban.output.find("error no_such_user"), std::string::npos) << unban.output;
  auto no_one = cli(server, {"ban", "nobody"}, key);
  EXPECT_EQ(no_one.exit_code, 1) << no_one.output;
  EXPECT_NE(no_one.output.find("error no_such_user"), std::string::npos) << no_one.output;

  // Refusals: a key without the scope (1), no token, a bad command, an unreachable node (2).
  const std::string weak = make_key(server, "rooms");
  auto refused = cli(server, {"nodes"}, weak);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("error forbidden"), std::string::npos) << refused.output;
  EXPECT_EQ(cli(server, {"nodes"}, "").exit_code, 2);
  EXPECT_EQ(cli(server, {"frobnicate"}, key).exit_code, 2);
  EXPECT_EQ(run_parley({"admin", "--url", "http://127.0.0.1:1", "--token", key, "nodes"}).exit_code, 2);
  // The token from the environment.
  ::setenv("PARLEY_ADMIN_TOKEN", key.c_str(), 1);
  auto env = cli(server, {"nodes"}, "");
  ::unsetenv("PARLEY_ADMIN_TOKEN");
  EXPECT_EQ(env.exit_code, 0) << env.output;
}

}  // namespace
}  // namespace parley::it
