// The server API (docs/api.md, "Server API"): API keys issued, listed and revoked by the
// operator's admin socket, and every call with its refusals, against the real binary: what a
// key without its scope, a wrong key and a revoked one get, a bot's message reaching a private
// room's member, a removal reaching the removed member's WebSocket, retries, and the budgets.
#include <gtest/gtest.h>

#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

RunResult admin(const ServerProcess& server, const std::vector<std::string>& command) {
  std::vector<std::string> args = {"admin"};
  args.insert(args.end(), command.begin(), command.end());
  args.insert(args.end(), {"--data", server.data_dir()});
  return run_parley(args);
}

// A new key with `scopes`, as the operator makes one: its text, printed once after "ok".
std::string make_key(const ServerProcess& server, const std::string& scopes, const std::string& name = "ops") {
  auto r = admin(server, {"api-key-create", name, scopes});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const auto nl = r.output.find('\n');
  EXPECT_EQ(r.output.substr(0, nl), "ok") << r.output;
  std::string key = r.output.substr(nl + 1);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  return key;
}

std::string key_id(const std::string& key) { return key.substr(0, key.find('.')); }

std::string auth(const std::string& key) { return "Authorization: apikey " + key + "\r\n"; }

HttpResponse call(const ServerProcess& server, const std::string& key, const std::string& method,
                  const std::string& path, const json::object& body = {}) {
  return api(server.port(), method, path, body.empty() && method != "POST" ? std::string() : dump(body), auth(key));
}

// A registered account's WebSocket client, welcomed with its token.
void expect_refused(const HttpResponse& r, int status, const std::string& error_code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(code(r), error_code) << r.body;
  const auto v = r.json();
  ASSERT_TRUE(v.is_object()) << r.body;
  EXPECT_FALSE(str(v.as_object(), "message").empty()) << r.body;
}

TEST(ServerApi, KeysAreIssuedOnceListedWithoutSecretsAndRevoked) {
  ServerProcess server(with_accounts({}));
  const std::string key = make_key(server, "publish,members", "news desk");
  ASSERT_TRUE(key.starts_with("pk_")) << key;
  const std::string id = key_id(key);
  const std::string secret = key.substr(key.find('.') + 1);
  ASSERT_EQ(id.size(), 19u);
  ASSERT_EQ(secret.size(), 43u);

  auto list = admin(server, {"api-key-list"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(id + " news desk scopes=publish,members"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("revoked=0"), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find(secret), std::string::npos) << "the list shows a secret";
  // Nor is a key ever logged.
  EXPECT_EQ(server.stderr_text().find(secret), std::string::npos);

  auto revoked = admin(server, {"api-key-revoke", id});
  EXPECT_EQ(revoked.exit_code, 0) << revoked.output;
  EXPECT_EQ(admin(server, {"api-key-list"}).output.find("revoked=0"), std::string::npos);
  auto again = admin(server, {"api-key-revoke", id});
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("no live key"), std::string::npos) << again.output;

  // What the operator gets wrong is refused with a reason.
  for (const auto& bad : std::vector<std::vector<std::string>>{{"api-key-create", "ops", "root"},
                                                               {"api-key-create", "ops", "publish,publish"},
                                                               {"api-key-create", "publish"},
                                                               {"api-key-revoke", "pk_nothex"}}) {
    auto r = admin(server, bad);
    EXPECT_EQ(r.exit_code, 1) << bad[0] << ": " << r.output;
    EXPECT_NE(r.output.find("error bad_request"), std::string::npos) << r.output;
  }
  auto bad_name = admin(server, {"api-key-create", "\xe2\x80\x8b", "publish"});  // nothing visible
  EXPECT_EQ(bad_name.exit_code, 1) << bad_name.output;
  EXPECT_NE(bad_name.output.find("error bad_name"), std::string::npos) << bad_name.output;
}

TEST(ServerApi, NoKeyAWrongKeyARevokedKeyAndAMissingScopeAreRefused) {
  ServerProcess server(with_accounts({}));
  const std::string key = make_key(server, "publish");
  const json::object msg{{"room", "general"}, {"text", "hello"}, {"as", "news"}};
  ASSERT_EQ(call(server, key, "POST", "/api/server/publish", msg).status, 200);

  expect_refused(api(server.port(), "POST", "/api/server/publish", dump(msg)), 401, "unauthorized");
  expect_refused(api(server.port(), "POST", "/api/server/publish", dump(msg), "Authorization: Bearer " + key + "\r\n"),
                 401, "unauthorized");
  expect_refused(call(server, "pk_0123", "POST", "/api/server/publish", msg), 401, "unauthorized");
  // The right id with another secret, and a well-formed key nobody issued.
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  expect_refused(call(server, wrong, "POST", "/api/server/publish", msg), 401, "unauthorized");
  expect_refused(call(server, "pk_0123456789abcdef." + key.substr(20), "POST", "/api/server/publish", msg), 401,
                 "unauthorized");
  // The scheme's case does not matter (RFC 9110).
  EXPECT_EQ(
      api(server.port(), "POST", "/api/server/publish", dump(msg), "Authorization: APIKEY " + key + "\r\n").status,
      200);

  // A key without the scope of the call.
  expect_refused(call(server, key, "POST", "/api/server/rooms", {{"room", "ops"}}), 403, "forbidden");
  expect_refused(call(server, key, "DELETE", "/api/server/rooms/general"), 403, "forbidden");
  expect_refused(call(server, key, "POST", "/api/server/rooms/general/members", {{"user", "ada"}}), 403, "forbidden");

  // Revoked while the node runs: its next request is refused.
  ASSERT_EQ(admin(server, {"api-key-revoke", key_id(key)}).exit_code, 0);
  expect_refused(call(server, key, "POST", "/api/server/publish", msg), 401, "unauthorized");

  // An endpoint that does not exist, and one asked with the wrong method.
  expect_refused(call(server, key, "POST", "/api/server/nothing", msg), 404, "not_found");
  expect_refused(call(server, key, "GET", "/api/server/publish"), 405, "method_not_allowed");
}

TEST(ServerApi, APublishedMessageReachesAPrivateRoomsMembersAndARetryIsNotStoredTwice) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  ASSERT_EQ(type_of(ada->request({{"type", "create"}, {"room", "club"}, {"private", true}})), "created");
  ada->join("club");
  ada->clear();
  const std::string key = make_key(server, "publish");

  const json::object msg{{"room", "club"}, {"text", "deploy finished"}, {"as", "CI Bot"}, {"cid", "deploy-42"}};
  auto r = call(server, key, "POST", "/api/server/publish", msg);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto ack = r.json().as_object();
  EXPECT_EQ(str(ack, "room"), "club");
  const std::uint64_t seq = u64(ack, "seq");
  auto m = ada->wait_for("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "text"), "deploy finished");
  EXPECT_EQ(str(*m, "from"), "CI Bot");
  EXPECT_EQ(str(*m, "uid"), "b_CI Bot");
  EXPECT_TRUE(m->at("bot").as_bool());
  EXPECT_EQ(u64(*m, "seq"), seq);

  // The same cid again: the first message's seq, nothing delivered twice; another text is a conflict.
  auto retry = call(server, key, "POST", "/api/server/publish", msg);
  ASSERT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(u64(retry.json().as_object(), "seq"), seq);
  EXPECT_FALSE(ada->wait_for("message", {}, 300ms));
  json::object other = msg;
  other["text"] = "something else";
  expect_refused(call(server, key, "POST", "/api/server/publish", other), 409, "cid_conflict");
  // Without a cid every request is a message of its own.
  auto a = call(server, key, "POST", "/api/server/publish", {{"room", "club"}, {"text", "one"}, {"as", "CI Bot"}});
  auto b = call(server, key, "POST", "/api/server/publish", {{"room", "club"}, {"text", "one"}, {"as", "CI Bot"}});
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(u64(b.json().as_object(), "seq"), u64(a.json().as_object(), "seq") + 1);
  // It is history too.
  auto history = ada->full_history("club");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(str(history[0], "from"), "CI Bot");

  // Every input checked, each with its answer.
  const std::string p = "/api/server/publish";
  expect_refused(call(server, key, "POST", p, {{"room", "nowhere"}, {"text", "x"}, {"as", "bot"}}), 404,
                 "no_such_room");
  expect_refused(call(server, key, "POST", p, {{"room", "no spaces"}, {"text", "x"}, {"as", "bot"}}), 400, "bad_room");
  expect_refused(call(server, key, "POST", p, {{"room", "club"}, {"text", " \u200b "}, {"as", "bot"}}), 400,
                 "empty_text");
  expect_refused(call(server, key, "POST", p, {{"room", "club"}, {"text", repeat("x", 5000)}, {"as", "bot"}}), 400,
                 "text_too_long");
  expect_refused(call(server, key, "POST", p, {{"room", "club"}, {"text", "x"}, {"as", ""}}), 400, "bad_name");
  expect_refused(call(server, key, "POST", p, {{"room", "club"}, {"text", "x"}}), 400, "bad_request");
  expect_refused(call(server, key, "POST", p, {{"room", "club"}, {"text", 5}, {"as", "bot"}}), 400, "bad_request");
  expect_refused(call(server, key, "POST", p, {{"room", "club"}, {"text", "x"}, {"as", "bot"}, {"cid", ""}}), 400,
                 "bad_cid");
  expect_refused(api(server.port(), "POST", p, "not json", auth(key)), 400, "bad_json");
}

TEST(ServerApi, RoomsAreCreatedAndDeleted) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  const std::string key = make_key(server, "rooms,members");

  auto made = call(server, key, "POST", "/api/server/rooms", {{"room", "news"}});
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(str(made.json().as_object(), "room"), "news");
  auto told = bob->wait_for("created");  // a public room: every session hears of it
  ASSERT_TRUE(told);
  EXPECT_EQ(str(*told, "by"), "ops");
  expect_refused(call(server, key, "POST", "/api/server/rooms", {{"room", "news"}}), 409, "room_exists");

  // A private room with an owner (an account, by name) and a password.
  auto club = call(server, key, "POST", "/api/server/rooms",
                   {{"room", "club"}, {"private", true}, {"owner", "Ada"}, {"password", "club password"}});
  ASSERT_EQ(club.status, 201) << club.body;
  EXPECT_TRUE(club.json().as_object().at("private").as_bool());
  auto joined = ada->join("club");
  EXPECT_EQ(str(joined, "role"), "owner") << dump(joined);
  expect_error(*bob, {{"type", "join"}, {"room", "club"}}, "forbidden");
  EXPECT_EQ(type_of(bob->request({{"type", "join"}, {"room", "club"}, {"password", "club password"}})), "joined");

  const std::string p = "/api/server/rooms";
  expect_refused(call(server, key, "POST", p, {{"room", "x"}, {"owner", "nobody"}}), 404, "no_such_user");
  expect_refused(call(server, key, "POST", p, {{"room", "x"}, {"password", "a password!"}}), 400, "bad_request");
  expect_refused(call(server, key, "POST", p, {{"room", "x"}, {"private", true}, {"password", "short"}}), 400,
                 "bad_password");
  expect_refused(call(server, key, "POST", p, {{"room", "x"}, {"private", "yes"}}), 400, "bad_request");
  expect_refused(call(server, key, "POST", p, {{"room", "dm-1234"}}), 400, "bad_room");
  expect_refused(call(server, key, "POST", p, {{"room", "a/b"}}), 400, "bad_room");
  expect_refused(call(server, key, "POST", p, {}), 400, "bad_request");

  // Deleted as the operator's delete-room deletes: its members hear room_deleted.
  ada->clear();
  auto gone = call(server, key, "DELETE", "/api/server/rooms/club");
  EXPECT_EQ(gone.status, 204) << gone.body;
  ASSERT_TRUE(ada->wait_for("room_deleted"));
  expect_refused(call(server, key, "DELETE", "/api/server/rooms/club"), 404, "no_such_room");
  expect_refused(call(server, key, "DELETE", "/api/server/rooms/general"), 400, "bad_request");
  expect_refused(call(server, key, "DELETE", "/api/server/rooms/%zz"), 400, "bad_room");
}

TEST(ServerApi, MembersAreInvitedGivenRolesRemovedBannedAndUnbanned) {
  ServerProcess server(with_accounts({}));
  auto ada = account(server, "ada");
  auto bob = account(server, "bob");
  ASSERT_EQ(type_of(ada->request({{"type", "create"}, {"room", "club"}, {"private", true}})), "created");
  ada->join("club");
  const std::string key = make_key(server, "members");
  const std::string members = "/api/server/rooms/club/members";

  expect_error(*bob, {{"type", "join"}, {"room", "club"}}, "forbidden");
  auto invited = call(server, key, "POST", members, {{"user", "Bob"}});
  ASSERT_EQ(invited.status, 200) << invited.body;
  EXPECT_EQ(str(invited.json().as_object(), "user"), "bob");
  ASSERT_EQ(type_of(bob->join("club")), "joined");
  auto role = call(server, key, "POST", members, {{"user", "bob"}, {"role", "moderator"}});
  ASSERT_EQ(role.status, 200) << role.body;
  EXPECT_EQ(str(role.json().as_object(), "role"), "moderator");

  // Removed: bob's WebSocket hears `removed`, by the key's name, and is out of the room at once.
  bob->clear();
  auto removed = call(server, key, "DELETE", members + "/bob");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_FALSE(removed.json().as_object().at("banned").as_bool());
  auto told = bob->wait_for("removed");
  ASSERT_TRUE(told);
  EXPECT_EQ(str(*told, "room"), "club");
  EXPECT_EQ(str(*told, "by"), "ops");
  ada->send_message("club", "a1", "after");
  EXPECT_FALSE(bob->wait_for("message", {}, 300ms));
  expect_error(*bob, {{"type", "join"}, {"room", "club"}}, "forbidden");

  // Banned: an invitation cannot bring bob back until the ban is lifted.
  ASSERT_EQ(call(server, key, "POST", members, {{"user", "bob"}}).status, 200);
  auto banned = call(server, key, "DELETE", members + "/bob?ban=1");
  ASSERT_EQ(banned.status, 200) << banned.body;
  EXPECT_TRUE(banned.json().as_object().at("banned").as_bool());
  expect_refused(call(server, key, "POST", members, {{"user", "bob"}}), 403, "forbidden");
  ASSERT_EQ(call(server, key, "DELETE", "/api/server/rooms/club/bans/bob").status, 200);
  ASSERT_EQ(call(server, key, "POST", members, {{"user", "bob"}}).status, 200);
  EXPECT_EQ(type_of(bob->join("club")), "joined");

  // The room's rules, as for a client: the owner cannot be removed, a public room takes no
  // invitations, a direct conversation is its two members'.
  expect_refused(call(server, key, "DELETE", members + "/ada"), 403, "forbidden");
  expect_refused(call(server, key, "POST", "/api/server/rooms/general/members", {{"user", "bob"}}), 403, "forbidden");
  auto dm = ada->request({{"type", "dm"}, {"user", "bob"}});
  ASSERT_EQ(type_of(dm), "dm") << dump(dm);
  expect_refused(call(server, key, "DELETE", "/api/server/rooms/" + str(dm, "room") + "/members/bob"), 403,
                 "forbidden");
  expect_refused(call(server, key, "POST", members, {{"user", "nobody"}}), 404, "no_such_user");
  expect_refused(call(server, key, "POST", "/api/server/rooms/nowhere/members", {{"user", "bob"}}), 404,
                 "no_such_room");
  expect_refused(call(server, key, "POST", members, {{"user", "bob"}, {"role", "owner"}}), 400, "bad_request");
  expect_refused(call(server, key, "POST", members, {{"role", "member"}}), 400, "bad_request");
  // A name in the path is percent-encoded; "%" alone is malformed.
  expect_refused(call(server, key, "DELETE", members + "/%"), 400, "bad_name");
}

TEST(ServerApi, AKeysRequestsAreBudgetedAndCounted) {
  ServerProcess server(with_accounts({"auth.api_burst_per_key=3", "auth.api_rate_per_key=0.01"}));
  const std::string key = make_key(server, "publish");
  const json::object msg{{"room", "general"}, {"text", "tick"}, {"as", "clock"}};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(call(server, key, "POST", "/api/server/publish", msg).status, 200);
  auto over = call(server, key, "POST", "/api/server/publish", msg);
  expect_refused(over, 429, "rate_limited");
  EXPECT_GE(std::stoi(over.header("retry-after")), 1) << over.header("retry-after");
  // Another key has a budget of its own.
  EXPECT_EQ(call(server, make_key(server, "publish"), "POST", "/api/server/publish", msg).status, 200);

  const auto text = http_get(server.port(), "/metrics").body;
  EXPECT_EQ(metric(text, "parley_api_requests_total{call=\"publish\",status=\"200\"}"), 4.0) << text;
  EXPECT_EQ(metric(text, "parley_api_requests_total{call=\"publish\",status=\"429\"}"), 1.0) << text;
  EXPECT_EQ(metric(text, "parley_api_in_flight"), 0.0) << text;
}

// Keys of made-up ids each cost a lookup: an address's requests are budgeted whatever the key.
TEST(ServerApi, AnAddresssRequestsAreBudgetedWhateverTheKey) {
  ServerProcess server(with_accounts({"limits.request_rate_per_address=0.01", "limits.request_burst_per_address=3"}));
  const std::string key = make_key(server, "publish");
  const json::object msg{{"room", "general"}, {"text", "x"}, {"as", "bot"}};
  for (int i = 0; i < 3; ++i) {
    std::string made_up = key;
    made_up[3 + i] = made_up[3 + i] == 'a' ? 'b' : 'a';
    expect_refused(call(server, made_up, "POST", "/api/server/publish", msg), 401, "unauthorized");
  }
  auto over = call(server, key, "POST", "/api/server/publish", msg);
  expect_refused(over, 429, "rate_limited");
  EXPECT_FALSE(over.header("retry-after").empty());
}

TEST(ServerApi, PastItsRequestsInFlightTheNodeAnswersOverloaded) {
  ServerProcess server(with_accounts({"auth.api_max_in_flight=0"}));
  const std::string key = make_key(server, "publish");
  auto r = call(server, key, "POST", "/api/server/publish", {{"room", "general"}, {"text", "x"}, {"as", "bot"}});
  expect_refused(r, 503, "overloaded");
  EXPECT_EQ(r.header("retry-after"), "1");
}

}  // namespace
}  // namespace parley::it
