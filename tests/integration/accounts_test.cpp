// Accounts over /api/ (docs/api.md) and signed-in WebSocket sessions: every path and its refusal,
// as a user and as an attacker would try them, against the real binary.
#include <gtest/gtest.h>

#include <thread>

#include "common.hpp"

namespace parley::it {
namespace {

TEST(Accounts, RegisterSignInAndOutWithTheCookie) {
  ServerProcess server(with_accounts({}));
  auto reg = register_user(server.port(), "ada", "correct horse");
  ASSERT_EQ(reg.status, 201) << reg.body;
  const auto user = reg.json().as_object().at("user").as_object();
  EXPECT_EQ(user.at("name").as_string(), "ada");
  EXPECT_TRUE(std::string(user.at("id").as_string()).starts_with("u_"));
  EXPECT_FALSE(reg.json().as_object().contains("token")) << "the token is the cookie's unless asked for";
  const std::string set = reg.header("set-cookie");
  EXPECT_NE(set.find("HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("SameSite=Lax"), std::string::npos) << set;
  EXPECT_NE(set.find("Path=/"), std::string::npos) << set;
  const std::string cookie = session_cookie(reg);

  auto me = api(server.port(), "GET", "/api/me", {}, cookie_header(cookie));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json().as_object().at("user").as_object().at("id"), user.at("id"));

  auto in = login(server.port(), "ada", "correct horse");
  ASSERT_EQ(in.status, 200) << in.body;
  EXPECT_NE(session_cookie(in), cookie) << "each sign-in is a session of its own";

  auto out = api(server.port(), "POST", "/api/logout", {}, cookie_header(cookie));
  EXPECT_EQ(out.status, 204) << out.body;
  EXPECT_NE(out.header("set-cookie").find("Max-Age=0"), std::string::npos) << out.header("set-cookie");
  // A copy of the cookie kept after sign-out (stolen) opens nothing.
  auto stolen = api(server.port(), "GET", "/api/me", {}, cookie_header(cookie));
  EXPECT_EQ(stolen.status, 401);
  EXPECT_EQ(code(stolen), "unauthorized");
  // The other session is still good.
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(session_cookie(in))).status, 200);
}

TEST(Accounts, AccountsAndSessionsOutliveARestart) {
  ServerProcess server(with_accounts({}));
  auto reg = register_user(server.port(), "ada", "correct horse");
  ASSERT_EQ(reg.status, 201);
  server.stop();
  server.restart();
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(session_cookie(reg))).status, 200);
  EXPECT_EQ(login(server.port(), "ada", "correct horse").status, 200);
}

TEST(Accounts, RegistrationRefusalsSayWhy) {
  ServerProcess server(with_accounts({}));
  const auto port = server.port();
  EXPECT_EQ(code(api(port, "POST", "/api/register", "not json")), "bad_json");
  EXPECT_EQ(code(api(port, "POST", "/api/register", R"({"name":"ada"})")), "bad_request");
  EXPECT_EQ(code(api(port, "POST", "/api/register", R"({"name":"ada","password":5})")), "bad_request");
  auto short_pw = register_user(port, "ada", "seven77");
  EXPECT_EQ(short_pw.status, 400);
  EXPECT_EQ(code(short_pw), "bad_password");
  EXPECT_EQ(code(register_user(port, "ada", std::string(1025, 'x'))), "bad_password");
  auto bad_name = register_user(port, "a\u202Eb", "correct horse");
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_EQ(code(bad_name), "bad_name");
  ASSERT_EQ(register_user(port, "ada", "correct horse").status, 201);
  auto again = register_user(port, "ada", "another password");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(code(again), "name_taken");
  EXPECT_EQ(code(register_user(port, "ADA", "another password")), "name_taken") << "a name that looks the same";
  EXPECT_EQ(api(port, "GET", "/api/register").status, 405);
  EXPECT_EQ(api(port, "GET", "/api/nothing").status, 404);
}

TEST(Accounts, AWrongPasswordAndAnUnknownNameAreTheSameAnswer) {
  ServerProcess server(with_accounts({}));
  ASSERT_EQ(register_user(server.port(), "ada", "correct horse").status, 201);
  auto wrong = login(server.port(), "ada", "wrong horse!");
  auto unknown = login(server.port(), "nobody", "correct horse");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  // The same but for the request id each error carries.
  auto without_rid = [](const HttpResponse& r) {
    auto o = r.json().as_object();
    EXPECT_TRUE(o.contains("rid")) << r.body;
    o.erase("rid");
    return json::serialize(o);
  };
  EXPECT_EQ(without_rid(wrong), without_rid(unknown));
  EXPECT_TRUE(wrong.header("set-cookie").empty());
}

TEST(Accounts, BruteForceIsThrottledThenAllowedAgain) {
  // Per account: three attempts at once, then one a second.
  ServerProcess server(with_accounts({"auth.signin_burst_per_account=3", "auth.signin_rate_per_account=1"}));
  ASSERT_EQ(register_user(server.port(), "ada", "correct horse").status, 201);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login(server.port(), "ada", "guess " + std::to_string(i)).status, 401);
  auto locked = login(server.port(), "ada", "correct horse");
  EXPECT_EQ(locked.status, 429) << "even the right password waits: the guesser cannot tell";
  EXPECT_EQ(code(locked), "rate_limited");
  // The next attempt is due within a second (rounded up to whole seconds).
  const std::string retry = locked.header("retry-after");
  EXPECT_TRUE(retry == "1" || retry == "2") << retry;
  // Another account is not locked by it.
  ASSERT_EQ(register_user(server.port(), "bob", "correct horse").status, 201);
  EXPECT_EQ(login(server.port(), "bob", "correct horse").status, 200);
  std::this_thread::sleep_for(scaled(1100ms));
  auto allowed = login(server.port(), "ada", "correct horse");
  EXPECT_EQ(allowed.status, 200) << allowed.body;
}

TEST(Accounts, OneAddressMeetsItsOwnSignInBudget) {
  ServerOptions o = with_accounts({});
  o.settings.push_back("auth.signin_burst_per_address=2");
  o.settings.push_back("auth.signin_rate_per_address=0.001");
  ServerProcess server(o);
  EXPECT_EQ(login(server.port(), "a1", "whatever12").status, 401);
  EXPECT_EQ(login(server.port(), "a2", "whatever12").status, 401);
  auto third = login(server.port(), "a3", "whatever12");
  EXPECT_EQ(third.status, 429) << "over many account names, from one address";
  EXPECT_FALSE(third.header("retry-after").empty());
  EXPECT_GE(fetch_metric(server.port(), "parley_auth_throttled_total").value_or(0), 1.0);
}

TEST(Accounts, SessionsAreListedAndRevokedOneOrAll) {
  ServerProcess server(with_accounts({}));
  auto a = register_user(server.port(), "ada", "correct horse");
  auto b = login(server.port(), "ada", "correct horse", false, "User-Agent: second device\r\n");
  const std::string ca = session_cookie(a), cb = session_cookie(b);
  auto list = api(server.port(), "GET", "/api/sessions", {}, cookie_header(ca));
  ASSERT_EQ(list.status, 200) << list.body;
  const auto listed = list.json();
  const auto& sessions = listed.as_object().at("sessions").as_array();
  ASSERT_EQ(sessions.size(), 2U);
  std::string other;
  int current = 0;
  for (const auto& s : sessions) {
    if (s.as_object().at("current").as_bool())
      ++current;
    else
      other = std::string(s.as_object().at("id").as_string());
  }
  EXPECT_EQ(current, 1);
  // Another user cannot end ada's session, even knowing its id.
  auto eve = register_user(server.port(), "eve", "correct horse");
  EXPECT_EQ(api(server.port(), "DELETE", "/api/sessions/" + other, {}, cookie_header(session_cookie(eve))).status, 204);
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(cb)).status, 200);
  // Ada can.
  EXPECT_EQ(api(server.port(), "DELETE", "/api/sessions/" + other, {}, cookie_header(ca)).status, 204);
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(cb)).status, 401);
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(ca)).status, 200);
  // Sign out everywhere.
  auto c = login(server.port(), "ada", "correct horse");
  EXPECT_EQ(api(server.port(), "DELETE", "/api/sessions", {}, cookie_header(ca)).status, 204);
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(ca)).status, 401);
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(session_cookie(c))).status, 401);
}

TEST(Accounts, APasswordChangeEndsEveryOtherSession) {
  ServerProcess server(with_accounts({}));
  auto a = register_user(server.port(), "ada", "correct horse");
  auto b = login(server.port(), "ada", "correct horse");
  auto wrong = api(server.port(), "POST", "/api/password",
                   R"({"password":"not it at all","new_password":"battery staple"})", cookie_header(session_cookie(a)));
  EXPECT_EQ(wrong.status, 401);
  auto weak = api(server.port(), "POST", "/api/password", R"({"password":"correct horse","new_password":"short"})",
                  cookie_header(session_cookie(a)));
  EXPECT_EQ(code(weak), "bad_password");
  auto changed =
      api(server.port(), "POST", "/api/password", R"({"password":"correct horse","new_password":"battery staple"})",
          cookie_header(session_cookie(a)));
  EXPECT_EQ(changed.status, 204) << changed.body;
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(session_cookie(a))).status, 200);
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(session_cookie(b))).status, 401);
  EXPECT_EQ(login(server.port(), "ada", "correct horse").status, 401);
  EXPECT_EQ(login(server.port(), "ada", "battery staple").status, 200);
}

TEST(Accounts, ADeletedAccountSignsOutAndFreesItsName) {
  ServerProcess server(with_accounts({}));
  auto a = register_user(server.port(), "ada", "correct horse");
  const std::string ca = session_cookie(a);
  EXPECT_EQ(api(server.port(), "DELETE", "/api/me", R"({"password":"wrong one!"})", cookie_header(ca)).status, 401);
  EXPECT_EQ(api(server.port(), "DELETE", "/api/me", R"({"password":"correct horse"})", cookie_header(ca)).status, 204);
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, cookie_header(ca)).status, 401);
  EXPECT_EQ(login(server.port(), "ada", "correct horse").status, 401);
  EXPECT_EQ(register_user(server.port(), "ada", "a new password").status, 201);
}

TEST(Accounts, TheApiRefusesAnotherSitesPage) {
  ServerProcess server(with_accounts({}));
  auto r = api(server.port(), "POST", "/api/register", R"({"name":"ada","password":"correct horse"})",
               "Origin: https://evil.example\r\n");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code(r), "forbidden_origin");
  EXPECT_EQ(login(server.port(), "ada", "correct horse").status, 401) << "nothing was registered";
  auto same = api(server.port(), "POST", "/api/register", R"({"name":"ada","password":"correct horse"})",
                  "Origin: http://127.0.0.1:" + std::to_string(server.port()) + "\r\n");
  EXPECT_EQ(same.status, 201);
}

TEST(Accounts, HelloWithATokenIsTheAccountsUser) {
  ServerProcess server(with_accounts({}));
  auto reg = register_user(server.port(), "ada", "correct horse", true);
  ASSERT_EQ(reg.status, 201);
  const std::string token(reg.json().as_object().at("token").as_string());
  EXPECT_EQ(token.size(), 43U);
  WsClient c(server.port());
  auto welcome = c.request({{"type", "hello"}, {"token", token}, {"ref", "h"}});
  ASSERT_EQ(type_of(welcome), "welcome") << dump(welcome);
  EXPECT_EQ(str(welcome, "user"), "ada");
  c.join("general");
  auto ack = c.send_message("general", "c1", "signed in");
  EXPECT_EQ(type_of(ack), "ack");

  // The same bearer token works for the API.
  EXPECT_EQ(api(server.port(), "GET", "/api/me", {}, "Authorization: Bearer " + token + "\r\n").status, 200);

  // Forged, malformed and revoked tokens are refused, and the connection stays for another try.
  WsClient d(server.port());
  expect_error(d, {{"type", "hello"}, {"token", std::string(43, 'A')}}, "unauthorized");
  expect_error(d, {{"type", "hello"}, {"token", "not a token"}}, "unauthorized");
  EXPECT_EQ(api(server.port(), "POST", "/api/logout", {}, "Authorization: Bearer " + token + "\r\n").status, 204);
  expect_error(d, {{"type", "hello"}, {"token", token}}, "unauthorized");
  auto fresh = login(server.port(), "ada", "correct horse", true);
  auto again = d.request({{"type", "hello"}, {"token", fresh.json().as_object().at("token").as_string()}});
  EXPECT_EQ(type_of(again), "welcome") << dump(again);
}

// Issue 16: messages carry the sender's id beside its name. An account's is its stable id (the
// same on every connection, in every event and in history); a guest's is made for its connection.
TEST(Accounts, MessagesCarryTheSendersUid) {
  ServerProcess server(with_accounts({}));
  auto reg = register_user(server.port(), "ada", "correct horse", true);
  ASSERT_EQ(reg.status, 201);
  const std::string id(reg.json().as_object().at("user").as_object().at("id").as_string());
  const std::string token(reg.json().as_object().at("token").as_string());
  WsClient ada(server.port()), bob(server.port()), bob2(server.port()), eve(server.port());
  auto welcome = ada.request({{"type", "hello"}, {"token", token}});
  ASSERT_EQ(type_of(welcome), "welcome") << dump(welcome);
  EXPECT_EQ(str(welcome, "uid"), id);
  const std::string bob_id(str(bob.hello("bob"), "uid"));
  const std::string bob2_id(str(bob2.hello("bob"), "uid"));
  const std::string eve_id(str(eve.hello("eve"), "uid"));
  for (const auto& g : {bob_id, bob2_id, eve_id}) {
    EXPECT_TRUE(g.starts_with("g_")) << g;
    EXPECT_EQ(g.size(), 18u) << g;
  }
  EXPECT_NE(bob_id, bob2_id) << "a guest's id is its connection's";
  EXPECT_NE(bob_id, eve_id);
  for (WsClient* c : {&ada, &bob, &eve}) c->join("general");

  ada.send_message("general", "a1", "from an account");
  auto m = bob.wait_for("message", [](const json::object& e) { return str(e, "cid") == "a1"; });
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "from"), "ada");
  EXPECT_EQ(str(*m, "uid"), id);
  bob.send_message("general", "b1", "from a guest");
  auto g = ada.wait_for("message", [](const json::object& e) { return str(e, "cid") == "b1"; });
  ASSERT_TRUE(g);
  EXPECT_EQ(str(*g, "uid"), bob_id);
  // The same cid from another user is another message.
  auto e1 = eve.send_message("general", "a1", "same cid, another user");
  EXPECT_NE(u64(e1, "seq"), u64(*m, "seq"));

  // On a new connection the account is the same id, and its retry is still a retry.
  WsClient again(server.port());
  EXPECT_EQ(str(again.request({{"type", "hello"}, {"token", token}}), "uid"), id);
  again.join("general");
  EXPECT_EQ(u64(again.send_message("general", "a1", "from an account"), "seq"), u64(*m, "seq"));
  auto h = again.full_history("general");
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(str(h[0], "uid"), id);
  EXPECT_EQ(str(h[1], "uid"), bob_id);
  EXPECT_EQ(str(h[2], "uid"), eve_id);
  // And after a restart, from the store.
  server.stop();
  server.restart();
  WsClient later(server.port());
  later.hello("zed");
  later.join("general");
  auto stored = later.full_history("general");
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(str(stored[0], "uid"), id);
  EXPECT_EQ(str(stored[0], "from"), "ada");
  EXPECT_EQ(str(stored[1], "uid"), bob_id);
}

// auth.max_sessions_per_user: a sign-in past it ends the oldest session, and the metric counts it.
TEST(Accounts, SigningInPastTheSessionCapEndsTheOldest) {
  ServerProcess server(with_accounts({"auth.max_sessions_per_user=2"}));
  auto first = register_user(server.port(), "ada", "correct horse");
  ASSERT_EQ(first.status, 201);
  std::this_thread::sleep_for(5ms);  // created_at is in ms: three sessions, three instants
  auto second = login(server.port(), "ada", "correct horse");
  std::this_thread::sleep_for(5ms);
  auto third = login(server.port(), "ada", "correct horse");
  ASSERT_EQ(third.status, 200);
  auto me = [&](const HttpResponse& r) {
    return api(server.port(), "GET", "/api/me", {}, cookie_header(session_cookie(r))).status;
  };
  EXPECT_EQ(me(first), 401) << "the oldest session ended";
  EXPECT_EQ(me(second), 200);
  EXPECT_EQ(me(third), 200);
  EXPECT_EQ(fetch_metric(server.port(), "parley_auth_sessions_evicted_total"), 1.0);
}

TEST(Accounts, AnEndedSessionClosesItsOpenSockets) {
  ServerProcess server(with_accounts({}));
  auto a = register_user(server.port(), "ada", "correct horse", true);
  auto b = login(server.port(), "ada", "correct horse", true);
  const std::string ta(a.json().as_object().at("token").as_string());
  const std::string tb(b.json().as_object().at("token").as_string());
  auto signed_in = [&](const std::string& token) {
    auto c = std::make_unique<WsClient>(server.port());
    auto w = c->request({{"type", "hello"}, {"token", token}});
    EXPECT_EQ(type_of(w), "welcome") << dump(w);
    return c;
  };
  auto on_a = signed_in(ta);
  auto on_b = signed_in(tb);
  WsClient guest(server.port());
  guest.hello("bob");
  // Signing out session a closes a's socket (1008), and only it.
  ASSERT_EQ(api(server.port(), "POST", "/api/logout", {}, "Authorization: Bearer " + ta + "\r\n").status, 204);
  EXPECT_FALSE(on_a->next(scaled(3s))) << "the signed-out socket is closed";
  expect_alive(*on_b);
  expect_alive(guest);
  // A password change from session c closes b's socket and keeps c's.
  auto c = login(server.port(), "ada", "correct horse", true);
  const std::string tc(c.json().as_object().at("token").as_string());
  auto on_c = signed_in(tc);
  ASSERT_EQ(
      api(server.port(), "POST", "/api/password", R"({"password":"correct horse","new_password":"battery staple"})",
          "Authorization: Bearer " + tc + "\r\n")
          .status,
      204);
  EXPECT_FALSE(on_b->next(scaled(3s)));
  expect_alive(*on_c);
}

TEST(Accounts, RegisteringANameClosesTheGuestsUsingIt) {
  ServerProcess server(with_accounts({}));
  WsClient guest(server.port());
  guest.hello("ada");
  WsClient lookalike(server.port());
  lookalike.hello("ADA");
  WsClient other(server.port());
  other.hello("bob");
  ASSERT_EQ(register_user(server.port(), "ada", "correct horse").status, 201);
  EXPECT_FALSE(guest.next(scaled(3s))) << "the guest's socket is closed";
  EXPECT_FALSE(lookalike.next(scaled(3s)));
  expect_alive(other);
  WsClient again(server.port());
  expect_error(again, {{"type", "hello"}, {"name", "ada"}}, "name_taken");
}

TEST(Accounts, SigningOutIsIdempotentAndClearsTheCookie) {
  ServerProcess server(with_accounts({}));
  auto reg = register_user(server.port(), "ada", "correct horse");
  const std::string cookie = session_cookie(reg);
  EXPECT_EQ(api(server.port(), "POST", "/api/logout", {}, cookie_header(cookie)).status, 204);
  auto again = api(server.port(), "POST", "/api/logout", {}, cookie_header(cookie));
  EXPECT_EQ(again.status, 204);
  EXPECT_NE(again.header("set-cookie").find("Max-Age=0"), std::string::npos) << "a dead cookie is cleared too";
  EXPECT_EQ(api(server.port(), "POST", "/api/logout").status, 204);
}

TEST(Accounts, RequestsBehindATokenHelloWaitForIt) {
  ServerProcess server(with_accounts({}));
  auto reg = register_user(server.port(), "ada", "correct horse", true);
  const std::string token(reg.json().as_object().at("token").as_string());
  WsClient c(server.port());
  // Pipelined: the join must not be answered hello_required while the token is checked.
  c.send_json({{"type", "hello"}, {"token", token}, {"ref", 1}});
  c.send_json({{"type", "join"}, {"room", "general"}, {"ref", 2}});
  auto first = c.next(scaled(3s));
  ASSERT_TRUE(first);
  EXPECT_EQ(type_of(*first), "welcome") << dump(*first);
  auto joined = c.wait_for("joined", {}, scaled(3s));
  EXPECT_TRUE(joined);
}

TEST(Accounts, AGuestCannotTakeAnAccountsName) {
  ServerProcess server(with_accounts({}));
  ASSERT_EQ(register_user(server.port(), "ada", "correct horse").status, 201);
  WsClient c(server.port());
  expect_error(c, {{"type", "hello"}, {"name", "ada"}}, "name_taken");
  expect_error(c, {{"type", "hello"}, {"name", "Ada"}}, "name_taken");
  EXPECT_EQ(str(c.hello("bob"), "user"), "bob");
}

TEST(Accounts, WithGuestsOffOnlyAccountsMaySayHello) {
  ServerProcess server(with_accounts({"auth.guests=false"}));
  WsClient c(server.port());
  expect_error(c, {{"type", "hello"}, {"name", "bob"}}, "unauthorized");
  auto reg = register_user(server.port(), "ada", "correct horse", true);
  auto welcome = c.request({{"type", "hello"}, {"token", reg.json().as_object().at("token").as_string()}});
  EXPECT_EQ(type_of(welcome), "welcome") << dump(welcome);
}

}  // namespace
}  // namespace parley::it
