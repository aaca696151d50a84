// Search (docs/protocol.md, "search") against the real binary: words and a prefix, newest first
// page by page, what history shows (an edit by its new text, a delete never), only the rooms the
// user may read (never a private room of others, nor one it was removed from) and is in (on this
// connection or another of its account's), hostile queries, and the budgets.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

std::string token_of(ServerProcess& server, const std::string& name) {
  auto reg = register_user(server.port(), name, "correct horse", true);
  EXPECT_EQ(reg.status, 201) << reg.body;
  return std::string(reg.json().as_object().at("token").as_string());
}

std::unique_ptr<WsClient> connect(ServerProcess& server, const std::string& token) {
  auto c = std::make_unique<WsClient>(server.port());
  auto w = c->request({{"type", "hello"}, {"token", token}});
  EXPECT_EQ(type_of(w), "welcome") << dump(w);
  return c;
}

std::unique_ptr<WsClient> session(ServerProcess& server, const std::string& name) {
  return connect(server, token_of(server, name));
}

json::object search(WsClient& c, json::object req) {
  req["type"] = "search";
  return c.request(std::move(req));
}

// The hits of a search as "room/seq" (fails the test if the answer is not search_results).
std::vector<std::string> places(WsClient& c, json::object req) {
  const std::string sent = dump(req);
  auto r = search(c, std::move(req));
  EXPECT_EQ(type_of(r), "search_results") << sent << " -> " << dump(r);
  std::vector<std::string> out;
  if (type_of(r) != "search_results") return out;
  for (const auto& v : r.at("hits").as_array())
    out.push_back(str(v.as_object(), "room") + "/" + std::to_string(u64(v.as_object(), "seq")));
  return out;
}

using Places = std::vector<std::string>;

// The hits in any order, sorted (hits of one millisecond are in room order: not the tests' point).
Places any_order(WsClient& c, json::object req) {
  auto out = places(c, std::move(req));
  std::sort(out.begin(), out.end());
  return out;
}

// Generous search budgets unless a test says otherwise.
ServerOptions options(std::vector<std::string> more = {}) {
  more.insert(more.begin(), {"limits.search_rate=1000", "limits.search_burst=1000"});
  return with_accounts(std::move(more));
}

TEST(Search, FindsWordsAndAPrefixNewestFirstPageByPage) {
  ServerProcess server(options());
  auto ada = session(server, "ada");
  ASSERT_EQ(type_of(ada->create("ops")), "created");
  ASSERT_EQ(type_of(ada->join("ops")), "joined");
  ASSERT_EQ(type_of(ada->join("general")), "joined");
  ada->send_message("ops", "o1", "Deploy failed on staging");
  ada->send_message("general", "g1", "lunch anyone?");
  ada->send_message("general", "g2", "the deployment is done");
  ada->send_message("ops", "o2", "deploy succeeded");

  EXPECT_EQ(any_order(*ada, {{"q", "deploy"}}), (Places{"general/2", "ops/1", "ops/2"}));
  EXPECT_EQ(places(*ada, {{"q", "DEPLOY fail"}}), (Places{"ops/1"}));
  EXPECT_EQ(places(*ada, {{"q", "deploy"}, {"room", "general"}}), (Places{"general/2"}));
  EXPECT_EQ(places(*ada, {{"q", "nothing like it"}}), Places{});

  auto r = search(*ada, {{"q", "deploy failed"}});
  ASSERT_EQ(type_of(r), "search_results") << dump(r);
  EXPECT_EQ(str(r, "q"), "deploy failed");
  ASSERT_EQ(r.at("hits").as_array().size(), 1u);
  const auto& hit = r.at("hits").as_array()[0].as_object();
  EXPECT_EQ(str(hit, "room"), "ops");
  EXPECT_EQ(str(hit, "from"), "ada");
  EXPECT_TRUE(str(hit, "uid").starts_with("u_")) << dump(hit);
  EXPECT_EQ(str(hit, "text"), "Deploy failed on staging");
  EXPECT_GT(hit.at("ts").to_number<std::int64_t>(), 0);
  EXPECT_FALSE(r.contains("next"));

  // Pages: 12 pings, 5 a page, newest first, each page after the last one's `next`.
  for (int i = 1; i <= 12; ++i) ada->send_message("general", "p" + std::to_string(i), "ping " + std::to_string(i));
  std::vector<std::string> all;
  std::string before;
  int pages = 0;
  for (; pages < 10; ++pages) {
    json::object req{{"q", "ping"}, {"limit", 5}};
    if (!before.empty()) req["before"] = before;
    auto page = search(*ada, req);
    ASSERT_EQ(type_of(page), "search_results") << dump(page);
    for (const auto& v : page.at("hits").as_array()) all.push_back(str(v.as_object(), "text"));
    if (!page.contains("next")) break;
    before = str(page, "next");
  }
  EXPECT_EQ(pages, 2);
  std::vector<std::string> expected;
  for (int i = 12; i >= 1; --i) expected.push_back("ping " + std::to_string(i));
  EXPECT_EQ(all, expected);
}

TEST(Search, FindsWhatHistoryShowsAnEditByItsNewTextADeleteNever) {
  ServerProcess server(options());
  auto ada = session(server, "ada");
  ASSERT_EQ(type_of(ada->join("general")), "joined");
  ada->send_message("general", "m1", "the original wording");
  ada->send_message("general", "m2", "to be removed entirely");
  auto e = ada->request({{"type", "edit"}, {"room", "general"}, {"seq", 1}, {"text", "the corrected wording"}});
  ASSERT_EQ(type_of(e), "ack") << dump(e);
  auto d = ada->request({{"type", "delete"}, {"room", "general"}, {"seq", 2}});
  ASSERT_EQ(type_of(d), "ack") << dump(d);
  EXPECT_EQ(places(*ada, {{"q", "original"}}), Places{});
  EXPECT_EQ(places(*ada, {{"q", "corrected"}}), (Places{"general/1"}));
  EXPECT_EQ(places(*ada, {{"q", "wording"}}), (Places{"general/1"}));  // the message, not its edit
  EXPECT_EQ(places(*ada, {{"q", "removed"}}), Places{});
  auto r = search(*ada, {{"q", "corrected"}});
  EXPECT_EQ(str(r.at("hits").as_array()[0].as_object(), "text"), "the corrected wording");
}

TEST(Search, OnlyTheRoomsTheUserMayRead) {
  ServerProcess server(options());
  const std::string ada_token = token_of(server, "ada");
  auto ada = connect(server, ada_token);
  auto bob = session(server, "bob");
  WsClient guest(server.port());
  guest.hello("dora");
  // ada's private room; bob is invited, then removed.
  ASSERT_EQ(type_of(ada->request({{"type", "create"}, {"room", "secret"}, {"private", true}})), "created");
  ASSERT_EQ(type_of(ada->join("secret")), "joined");
  ada->send_message("secret", "s1", "launch code alpha");
  ASSERT_EQ(type_of(ada->join("general")), "joined");
  ada->send_message("general", "g1", "launch party on friday");

  // bob has joined nothing, and is in no private room: nothing.
  EXPECT_EQ(places(*bob, {{"q", "launch"}}), Places{});
  ASSERT_EQ(type_of(bob->join("general")), "joined");
  EXPECT_EQ(places(*bob, {{"q", "launch"}}), (Places{"general/1"}));
  expect_error(*bob, {{"type", "search"}, {"q", "launch"}, {"room", "secret"}}, "not_joined");
  EXPECT_EQ(any_order(*ada, {{"q", "launch"}}), (Places{"general/1", "secret/1"}));
  // ada's new connection has joined nothing: the rooms she is a member of (her private room) and
  // those her other session is in (general), until it leaves.
  auto ada2 = connect(server, ada_token);
  EXPECT_EQ(any_order(*ada2, {{"q", "launch"}}), (Places{"general/1", "secret/1"}));
  ASSERT_EQ(type_of(ada->request({{"type", "leave"}, {"room", "general"}})), "left");
  EXPECT_EQ(places(*ada2, {{"q", "launch"}}), (Places{"secret/1"}));
  ASSERT_EQ(type_of(ada->join("general")), "joined");

  // Invited, bob finds secret's messages (a member), joined or not.
  ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "secret"}, {"user", "bob"}})), "invited");
  EXPECT_EQ(places(*bob, {{"q", "alpha"}}), (Places{"secret/1"}));
  ASSERT_EQ(type_of(bob->join("secret")), "joined");
  EXPECT_EQ(places(*bob, {{"q", "alpha"}, {"room", "secret"}}), (Places{"secret/1"}));
  // Removed: never again, with or without `room`.
  ASSERT_EQ(type_of(ada->request({{"type", "remove"}, {"room", "secret"}, {"user", "bob"}})), "removed");
  ASSERT_TRUE(bob->wait_for("removed"));
  EXPECT_EQ(places(*bob, {{"q", "alpha"}}), Places{});
  EXPECT_EQ(places(*bob, {{"q", "launch"}}), (Places{"general/1"}));
  expect_error(*bob, {{"type", "search"}, {"q", "alpha"}, {"room", "secret"}}, "not_joined");
  // Invited again and banned: never again either.
  ASSERT_EQ(type_of(ada->request({{"type", "invite"}, {"room", "secret"}, {"user", "bob"}})), "invited");
  EXPECT_EQ(places(*bob, {{"q", "alpha"}}), (Places{"secret/1"}));
  ASSERT_EQ(type_of(ada->request({{"type", "remove"}, {"room", "secret"}, {"user", "bob"}, {"ban", true}})), "removed");
  EXPECT_EQ(places(*bob, {{"q", "alpha"}}), Places{});

  // A guest: the rooms its connection joined; another guest's under the same name are not its own.
  EXPECT_EQ(places(guest, {{"q", "launch"}}), Places{});
  ASSERT_EQ(type_of(guest.join("general")), "joined");
  EXPECT_EQ(places(guest, {{"q", "launch"}}), (Places{"general/1"}));
  expect_error(guest, {{"type", "search"}, {"q", "alpha"}, {"room", "secret"}}, "not_joined");
  WsClient guest2(server.port());
  guest2.hello("dora");
  EXPECT_EQ(places(guest2, {{"q", "launch"}}), Places{});
}

TEST(Search, HostileQueriesAreWordsOrBadRequestsNeverFailures) {
  ServerProcess server(options());
  auto ada = session(server, "ada");
  ASSERT_EQ(type_of(ada->join("general")), "joined");
  ada->send_message("general", "m1", "NEAR the OR gate: text * and \"quotes\" -- déjà vu 日本語 \xf0\x9f\x9a\x80");
  for (const char* q : {"\"",
                        "\"\"",
                        "*",
                        "NEAR(",
                        "NEAR(a b, 2)",
                        "OR",
                        "a OR b",
                        "-x",
                        "text:near",
                        "^near",
                        "near:*",
                        "'or'",
                        "a & b",
                        "!a",
                        "(",
                        ")",
                        "\\",
                        "{text}: near",
                        "near AND gate",
                        "NOT gate",
                        "\xf0\x9f\x9a\x80",
                        "日本",
                        "deja",
                        "a\"b",
                        "%",
                        "_",
                        "'; DROP TABLE messages; --"}) {
    auto r = search(*ada, {{"q", q}});
    const bool fine = type_of(r) == "search_results" ||
                      (type_of(r) == "error" && str(r, "code") == "bad_request");  // nothing but punctuation
    EXPECT_TRUE(fine) << q << " -> " << dump(r);
  }
  EXPECT_EQ(places(*ada, {{"q", "near"}}), (Places{"general/1"}));
  EXPECT_EQ(places(*ada, {{"q", "text:near"}}), (Places{"general/1"}));
  EXPECT_EQ(places(*ada, {{"q", "\"quotes\" OR"}}), (Places{"general/1"}));
  EXPECT_EQ(places(*ada, {{"q", "deja"}}), (Places{"general/1"}));  // SQLite folds accents
  EXPECT_EQ(places(*ada, {{"q", "日本語"}}), (Places{"general/1"}));
  EXPECT_EQ(places(*ada, {{"q", "vu \xf0\x9f\x9a\x80"}}), (Places{"general/1"}));  // an emoji separates words
  expect_error(*ada, {{"type", "search"}, {"q", "\xf0\x9f\x9a\x80"}}, "bad_request");
  expect_alive(*ada);

  // Refused with bad_request, each naming its field.
  expect_error(*ada, {{"type", "search"}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", 5}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", ""}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", " \"*() -- "}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", repeat("a", 201)}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", repeat("a ", 17)}}, "bad_request");
  EXPECT_EQ(type_of(search(*ada, {{"q", repeat("é", 200)}})), "search_results");  // characters, not bytes
  expect_error(*ada, {{"type", "search"}, {"q", "x"}, {"limit", 0}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", "x"}, {"limit", 51}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", "x"}, {"limit", -1}}, "bad_request");
  for (const char* bad : {"x", "1.2", "1.0.general", "a.b.c", "1.2.", ".1.general"}) {
    expect_error(*ada, {{"type", "search"}, {"q", "x"}, {"before", bad}}, "bad_request");
  }
  expect_error(*ada, {{"type", "search"}, {"q", "x"}, {"before", 5}}, "bad_request");
  expect_error(*ada, {{"type", "search"}, {"q", "x"}, {"room", "no spaces"}}, "bad_room");
  expect_error(*ada, {{"type", "search"}, {"q", "x"}, {"room", 7}}, "bad_request");
  // A cursor naming a room one may not read finds nothing there: the rooms are the server's.
  EXPECT_EQ(places(*ada, {{"q", "near"}, {"before", "99999999999999.1.secret"}}), (Places{"general/1"}));
  expect_alive(*ada);
}

TEST(Search, BudgetsRefuseWithRateLimitedAndCountInMetrics) {
  ServerProcess server(with_accounts({"limits.search_rate=0.001", "limits.search_burst=2"}));
  auto ada = session(server, "ada");
  ASSERT_EQ(type_of(ada->join("general")), "joined");
  EXPECT_EQ(type_of(search(*ada, {{"q", "x"}})), "search_results");
  EXPECT_EQ(type_of(search(*ada, {{"q", "x"}})), "search_results");
  auto r = search(*ada, {{"q", "x"}});
  ASSERT_EQ(type_of(r), "error") << dump(r);
  EXPECT_EQ(str(r, "code"), "rate_limited");
  EXPECT_GT(r.at("retry_after_ms").to_number<std::int64_t>(), 0);
  // Another connection has its own budget.
  auto bob = session(server, "bob");
  EXPECT_EQ(type_of(search(*bob, {{"q", "x"}})), "search_results");
  expect_alive(*ada);
  auto m = http_get(server.port(), "/metrics");
  EXPECT_NE(m.body.find("parley_searches_total 3"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("parley_searches_refused_total 1"), std::string::npos);
  EXPECT_NE(m.body.find("parley_search_seconds_count 3"), std::string::npos);
  EXPECT_NE(m.body.find("parley_searches_in_flight 0"), std::string::npos);
}

TEST(Search, SearchesAtOnceOverTheNodesBudgetAreOverloaded) {
  // No search at once: every one is refused, and nothing else is.
  ServerProcess server(options({"limits.max_searches_in_flight=0"}));
  auto ada = session(server, "ada");
  ASSERT_EQ(type_of(ada->join("general")), "joined");
  auto r = search(*ada, {{"q", "x"}});
  ASSERT_EQ(type_of(r), "error") << dump(r);
  EXPECT_EQ(str(r, "code"), "overloaded");
  EXPECT_TRUE(r.contains("retry_after_ms"));
  expect_alive(*ada);
}

}  // namespace
}  // namespace parley::it
