// The Store's account contract (src/store/store.hpp: users and sign-in sessions), one typed suite
// over every implementation, as store_contract_test.cpp is for rooms and messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <thread>

#include "protocol/errc.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using protocol::errc;
using store::Store;
using store::StoredSession;
using store::StoredUser;
using SessionAndUser = std::pair<StoredSession, StoredUser>;

std::error_code done_sync(const std::function<void(Store::Done)>& call) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  call([p](std::error_code ec) { p->set_value(ec); });
  return wait_for(f);
}

template <class T>
std::pair<std::error_code, T> value_sync(const std::function<void(std::function<void(std::error_code, T)>)>& call) {
  auto p = std::make_shared<std::promise<std::pair<std::error_code, T>>>();
  auto f = p->get_future();
  call([p](std::error_code ec, T value) { p->set_value({ec, std::move(value)}); });
  return wait_for(f);
}

StoredUser user(const std::string& id, const std::string& key, std::int64_t at = 1000) {
  return StoredUser{id, "Name of " + key, key, "$argon2id$v=19$m=19456,t=2,p=1$" + id, at, false};
}

StoredSession session(const std::string& digest, const std::string& user_id, std::int64_t created,
                      std::int64_t expires) {
  return StoredSession{digest, user_id, created, created, expires, "Mozilla/5.0 (" + digest + ")"};
}

template <class Backend>
class StoreAccounts : public StoreFixture<Backend> {
 protected:
  Store& s() { return *this->store_; }

  std::error_code create_user(const StoredUser& u) {
    return done_sync([&](Store::Done d) { s().create_user(u, std::move(d)); });
  }
  std::pair<std::error_code, std::optional<StoredUser>> find_by_key(const std::string& key) {
    return value_sync<std::optional<StoredUser>>(
        [&](Store::FindUserDone d) { s().find_user_by_name_key(key, std::move(d)); });
  }
  std::pair<std::error_code, std::optional<StoredUser>> find_by_id(const std::string& id) {
    return value_sync<std::optional<StoredUser>>([&](Store::FindUserDone d) { s().find_user(id, std::move(d)); });
  }
  std::error_code set_password(const std::string& id, const std::string& hash, const std::string& keep) {
    return done_sync([&](Store::Done d) { s().set_password(id, hash, keep, std::move(d)); });
  }
  std::error_code delete_user(const std::string& id) {
    return done_sync([&](Store::Done d) { s().delete_user(id, std::move(d)); });
  }
  std::error_code create_session(const StoredSession& x, std::size_t cap = 50) {
    return create_session_evicting(x, cap).first;
  }
  // The answer and how many older sessions it ended.
  std::pair<std::error_code, std::size_t> create_session_evicting(const StoredSession& x, std::size_t cap) {
    return value_sync<std::size_t>([&](Store::CreateSessionDone d) { s().create_session(x, cap, std::move(d)); });
  }
  std::optional<SessionAndUser> find_session(const std::string& digest, std::int64_t now) {
    auto [ec, found] = value_sync<std::optional<SessionAndUser>>(
        [&](Store::FindSessionDone d) { s().find_session(digest, now, std::move(d)); });
    EXPECT_FALSE(ec) << digest;
    return found;
  }
  std::error_code touch(const std::string& digest, std::int64_t seen, std::int64_t expires) {
    return done_sync([&](Store::Done d) { s().touch_session(digest, seen, expires, std::move(d)); });
  }
  std::vector<StoredSession> list(const std::string& id) {
    auto [ec, sessions] =
        value_sync<std::vector<StoredSession>>([&](Store::ListSessionsDone d) { s().list_sessions(id, std::move(d)); });
    EXPECT_FALSE(ec) << id;
    return sessions;
  }
  std::vector<std::string> digests(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& x : list(id)) out.push_back(x.token_digest);
    return out;
  }
  std::error_code revoke(const std::string& id, const std::string& digest) {
    return done_sync([&](Store::Done d) { s().revoke_session(id, digest, std::move(d)); });
  }
  std::error_code revoke_all(const std::string& id) {
    return done_sync([&](Store::Done d) { s().revoke_sessions(id, std::move(d)); });
  }
  std::error_code sweep(std::int64_t now) {
    return done_sync([&](Store::Done d) { s().sweep_sessions(now, std::move(d)); });
  }
};

TYPED_TEST_SUITE(StoreAccounts, Backends, BackendNames);

void expect_same_user(const std::optional<StoredUser>& got, const StoredUser& want) {
  ASSERT_TRUE(got) << want.id;
  EXPECT_EQ(got->id, want.id);
  EXPECT_EQ(got->name, want.name);
  EXPECT_EQ(got->name_key, want.name_key);
  EXPECT_EQ(got->password_hash, want.password_hash);
  EXPECT_EQ(got->created_at, want.created_at);
  EXPECT_EQ(got->deleted, want.deleted);
}

TYPED_TEST(StoreAccounts, CreatedUsersAreFoundByNameKeyAndByIdAndSurviveARestart) {
  StoredUser ada = user("u_ada", "ada", 1'700'000'000'123);
  ada.name = "Zoë 👋 o'brien \"q\"";
  const StoredUser bob = user("u_bob", "b0b");
  ASSERT_FALSE(this->create_user(ada));
  ASSERT_FALSE(this->create_user(bob));
  for (int round = 0; round < 2; ++round) {
    auto [ec, by_key] = this->find_by_key("ada");
    EXPECT_FALSE(ec);
    expect_same_user(by_key, ada);
    auto [ec2, by_id] = this->find_by_id("u_bob");
    EXPECT_FALSE(ec2);
    expect_same_user(by_id, bob);
    // Not there is an answer, not a failure; keys and ids are compared exactly.
    for (const std::string key : {"Ada", "nobody", "", "ada' OR '1'='1"}) {
      auto [ec3, none] = this->find_by_key(key);
      EXPECT_FALSE(ec3) << key;
      EXPECT_FALSE(none) << key;
    }
    auto [ec4, none] = this->find_by_id("u_nobody");
    EXPECT_FALSE(ec4);
    EXPECT_FALSE(none);
    this->reopen();
  }
}

TYPED_TEST(StoreAccounts, ALiveUserWithTheSameNameKeyMakesTheNameTaken) {
  const StoredUser ada = user("u_1", "ada");
  ASSERT_FALSE(this->create_user(ada));
  EXPECT_EQ(this->create_user(user("u_2", "ada")), errc::name_taken);
  // The same row again is this creation retried (an answer lost with a connection): success.
  EXPECT_FALSE(this->create_user(ada));
  // Another user under a stored id is a bug, not a taken name.
  EXPECT_EQ(this->create_user(user("u_1", "someone-else")), errc::store_failed);
  auto [ec, found] = this->find_by_key("ada");
  expect_same_user(found, ada);
  auto [ec2, none] = this->find_by_id("u_2");
  EXPECT_FALSE(none);
  auto [ec3, none2] = this->find_by_key("someone-else");
  EXPECT_FALSE(none2);
}

TYPED_TEST(StoreAccounts, ADeletedUserFreesItsNameAndIsStillFoundByIdAsDeleted) {
  ASSERT_FALSE(this->create_user(user("u_old", "ada")));
  ASSERT_FALSE(this->create_session(session("d1", "u_old", 10, 1000)));
  ASSERT_FALSE(this->create_session(session("d2", "u_old", 20, 1000)));
  EXPECT_FALSE(this->delete_user("u_old"));
  EXPECT_FALSE(this->delete_user("u_old")) << "deleting a deleted user is done";
  EXPECT_EQ(this->delete_user("u_never"), errc::no_such_user);

  for (int round = 0; round < 2; ++round) {
    auto [ec, by_key] = this->find_by_key("ada");
    EXPECT_FALSE(ec);
    EXPECT_FALSE(by_key);
    auto [ec2, by_id] = this->find_by_id("u_old");
    EXPECT_FALSE(ec2);
    ASSERT_TRUE(by_id);
    EXPECT_TRUE(by_id->deleted);
    EXPECT_EQ(by_id->name, "Name of ada");  // messages still show who wrote them
    EXPECT_TRUE(by_id->password_hash.empty());
    EXPECT_TRUE(by_id->name_key.empty());
    EXPECT_TRUE(this->list("u_old").empty()) << "its sessions went with it";
    EXPECT_FALSE(this->find_session("d1", 100));
    this->reopen();
  }
  // Nothing can be done as a deleted user.
  EXPECT_EQ(this->set_password("u_old", "new", ""), errc::no_such_user);
  EXPECT_EQ(this->create_session(session("d3", "u_old", 30, 1000)), errc::no_such_user);
  EXPECT_EQ(this->create_session(session("d4", "u_never", 30, 1000)), errc::no_such_user);
  EXPECT_TRUE(this->list("u_old").empty());

  // The name is free; a second deleted holder of it does not block it either.
  ASSERT_FALSE(this->create_user(user("u_new", "ada")));
  ASSERT_FALSE(this->delete_user("u_new"));
  const StoredUser third = user("u_third", "ada");
  ASSERT_FALSE(this->create_user(third));
  auto [ec, by_key] = this->find_by_key("ada");
  expect_same_user(by_key, third);
}

TYPED_TEST(StoreAccounts, FindSessionAnswersOnlyALiveSessionOfALiveUser) {
  const StoredUser ada = user("u_ada", "ada");
  ASSERT_FALSE(this->create_user(ada));
  ASSERT_FALSE(this->create_user(user("u_gone", "gone")));
  StoredSession live = session("live", "u_ada", 100, 5000);
  live.last_seen_at = 150;
  ASSERT_FALSE(this->create_session(live));
  ASSERT_FALSE(this->create_session(session("expired", "u_ada", 100, 1000)));
  ASSERT_FALSE(this->create_session(session("of-gone", "u_gone", 100, 5000)));

  auto found = this->find_session("live", 1000);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->first.token_digest, "live");
  EXPECT_EQ(found->first.user_id, "u_ada");
  EXPECT_EQ(found->first.created_at, 100);
  EXPECT_EQ(found->first.last_seen_at, 150);
  EXPECT_EQ(found->first.expires_at, 5000);
  EXPECT_EQ(found->first.label, live.label);
  expect_same_user(found->second, ada);

  EXPECT_FALSE(this->find_session("unknown", 1000));
  EXPECT_FALSE(this->find_session("", 1000));
  EXPECT_TRUE(this->find_session("live", 4999));
  EXPECT_FALSE(this->find_session("expired", 1000));
  // The expired row was removed when it was asked for.
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"live"}));
  EXPECT_FALSE(this->find_session("live", 5000)) << "expires_at <= now is expired";
  EXPECT_TRUE(this->list("u_ada").empty());
  ASSERT_TRUE(this->find_session("of-gone", 1000));
  // The user's deletion ends its sessions, whatever rows might be left.
  ASSERT_FALSE(this->delete_user("u_gone"));
  EXPECT_FALSE(this->find_session("of-gone", 1000));
}

TYPED_TEST(StoreAccounts, TouchSessionSlidesTheExpiryButDoesNotReviveAnExpiredSession) {
  ASSERT_FALSE(this->create_user(user("u_ada", "ada")));
  ASSERT_FALSE(this->create_session(session("d", "u_ada", 100, 1000)));
  EXPECT_FALSE(this->touch("d", 900, 1900));
  auto found = this->find_session("d", 1500);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->first.last_seen_at, 900);
  EXPECT_EQ(found->first.expires_at, 1900);
  EXPECT_EQ(found->first.created_at, 100);

  EXPECT_FALSE(this->touch("d", 1900, 2900)) << "expired at 1900: not brought back";
  EXPECT_FALSE(this->find_session("d", 1901));
  EXPECT_FALSE(this->touch("nowhere", 1, 2)) << "a session that is gone is no error";
}

TYPED_TEST(StoreAccounts, SetPasswordReplacesTheHashAndKeepsOnlyTheNamedSession) {
  ASSERT_FALSE(this->create_user(user("u_ada", "ada")));
  ASSERT_FALSE(this->create_user(user("u_bob", "bob")));
  for (const std::string d : {"a1", "a2", "a3"}) ASSERT_FALSE(this->create_session(session(d, "u_ada", 100, 9000)));
  ASSERT_FALSE(this->create_session(session("b1", "u_bob", 100, 9000)));

  EXPECT_FALSE(this->set_password("u_ada", "$argon2id$new", "a2"));
  auto [ec, ada] = this->find_by_id("u_ada");
  ASSERT_TRUE(ada);
  EXPECT_EQ(ada->password_hash, "$argon2id$new");
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"a2"}));
  EXPECT_TRUE(this->find_session("a2", 200));
  EXPECT_FALSE(this->find_session("a1", 200));
  EXPECT_EQ(this->digests("u_bob"), (std::vector<std::string>{"b1"})) << "another user's sessions stay";

  // Empty: signed out everywhere. Keeping another user's session keeps nothing of this one.
  EXPECT_FALSE(this->set_password("u_ada", "$argon2id$newer", ""));
  EXPECT_TRUE(this->list("u_ada").empty());
  ASSERT_FALSE(this->create_session(session("a4", "u_ada", 100, 9000)));
  EXPECT_FALSE(this->set_password("u_ada", "$argon2id$newest", "b1"));
  EXPECT_TRUE(this->list("u_ada").empty());
  EXPECT_EQ(this->digests("u_bob"), (std::vector<std::string>{"b1"}));

  EXPECT_EQ(this->set_password("u_nobody", "h", ""), errc::no_such_user);
}

TYPED_TEST(StoreAccounts, ListSessionsIsNewestFirstAndAtMostTheBudget) {
  ASSERT_FALSE(this->create_user(user("u_ada", "ada")));
  ASSERT_FALSE(this->create_user(user("u_bob", "bob")));
  const int n = static_cast<int>(Store::max_listed_sessions) + 5;
  // Submitted out of created_at order, without waiting: the answers come in order anyway. A cap
  // above them all: this is about listing, not the cap.
  for (int i = n; i >= 1; --i)
    this->s().create_session(session("ada-" + std::to_string(i), "u_ada", i, 1'000'000), n,
                             [](std::error_code ec, std::size_t evicted) {
                               EXPECT_FALSE(ec);
                               EXPECT_EQ(evicted, 0u);
                             });
  ASSERT_FALSE(this->create_session(session("bob-1", "u_bob", 50, 1'000'000)));
  const auto sessions = this->list("u_ada");
  ASSERT_EQ(sessions.size(), Store::max_listed_sessions);
  for (std::size_t k = 0; k < sessions.size(); ++k) {
    EXPECT_EQ(sessions[k].created_at, n - static_cast<int>(k));
    EXPECT_EQ(sessions[k].user_id, "u_ada");
  }
  EXPECT_EQ(this->digests("u_bob"), (std::vector<std::string>{"bob-1"}));
  EXPECT_TRUE(this->list("u_nobody").empty());
}

TYPED_TEST(StoreAccounts, RevokeSessionTouchesOnlyTheUsersOwnSession) {
  ASSERT_FALSE(this->create_user(user("u_ada", "ada")));
  ASSERT_FALSE(this->create_user(user("u_eve", "eve")));
  ASSERT_FALSE(this->create_session(session("ada-1", "u_ada", 1, 9000)));
  ASSERT_FALSE(this->create_session(session("ada-2", "u_ada", 2, 9000)));
  ASSERT_FALSE(this->create_session(session("eve-1", "u_eve", 1, 9000)));

  // Eve names Ada's digest: success, and nothing changes.
  EXPECT_FALSE(this->revoke("u_eve", "ada-1"));
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"ada-2", "ada-1"}));
  EXPECT_TRUE(this->find_session("ada-1", 10));
  EXPECT_FALSE(this->revoke("u_eve", "no-such-digest"));

  EXPECT_FALSE(this->revoke("u_ada", "ada-1"));
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"ada-2"}));
  EXPECT_FALSE(this->find_session("ada-1", 10));
  EXPECT_EQ(this->digests("u_eve"), (std::vector<std::string>{"eve-1"}));
}

TYPED_TEST(StoreAccounts, RevokeSessionsEndsEveryOneOfThatUserOnly) {
  ASSERT_FALSE(this->create_user(user("u_ada", "ada")));
  ASSERT_FALSE(this->create_user(user("u_bob", "bob")));
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(this->create_session(session("a" + std::to_string(i), "u_ada", i, 9000)));
  ASSERT_FALSE(this->create_session(session("b", "u_bob", 1, 9000)));
  EXPECT_FALSE(this->revoke_all("u_ada"));
  EXPECT_TRUE(this->list("u_ada").empty());
  EXPECT_FALSE(this->find_session("a0", 10));
  EXPECT_EQ(this->digests("u_bob"), (std::vector<std::string>{"b"}));
  EXPECT_FALSE(this->revoke_all("u_nobody"));
  // The user stays; only its sessions are gone.
  auto [ec, ada] = this->find_by_key("ada");
  EXPECT_TRUE(ada);
}

TYPED_TEST(StoreAccounts, SweepRemovesOnlyExpiredSessions) {
  ASSERT_FALSE(this->create_user(user("u_ada", "ada")));
  ASSERT_FALSE(this->create_user(user("u_bob", "bob")));
  ASSERT_FALSE(this->create_session(session("old-1", "u_ada", 1, 500)));
  ASSERT_FALSE(this->create_session(session("old-2", "u_bob", 1, 1000)));
  ASSERT_FALSE(this->create_session(session("new-1", "u_ada", 2, 1001)));
  ASSERT_FALSE(this->create_session(session("new-2", "u_bob", 2, 99999)));
  EXPECT_FALSE(this->sweep(1000));
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"new-1"}));
  EXPECT_EQ(this->digests("u_bob"), (std::vector<std::string>{"new-2"}));
  EXPECT_FALSE(this->sweep(1000)) << "nothing to sweep is done";
  EXPECT_FALSE(this->sweep(100000));
  EXPECT_TRUE(this->list("u_ada").empty());
  EXPECT_TRUE(this->list("u_bob").empty());
}

TYPED_TEST(StoreAccounts, UsersAndSessionsSurviveARestart) {
  const StoredUser ada = user("u_ada", "ada");
  ASSERT_FALSE(this->create_user(ada));
  ASSERT_FALSE(this->create_user(user("u_gone", "gone")));
  ASSERT_FALSE(this->delete_user("u_gone"));
  ASSERT_FALSE(this->create_session(session("s1", "u_ada", 10, 9000)));
  ASSERT_FALSE(this->create_session(session("s2", "u_ada", 20, 9000)));
  ASSERT_FALSE(this->touch("s1", 30, 9500));
  this->reopen();
  auto [ec, by_key] = this->find_by_key("ada");
  expect_same_user(by_key, ada);
  auto [ec2, gone] = this->find_by_id("u_gone");
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->deleted);
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"s2", "s1"}));
  auto s1 = this->find_session("s1", 100);
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->first.last_seen_at, 30);
  EXPECT_EQ(s1->first.expires_at, 9500);
  EXPECT_EQ(this->create_user(user("u_other", "ada")), errc::name_taken);
  EXPECT_FALSE(this->create_user(user("u_other", "gone")));
}

TYPED_TEST(StoreAccounts, OfTwoConcurrentRegistrationsOfOneNameExactlyOneSucceeds) {
  // Two stores on one database (two nodes of a cluster; two processes on one SQLite file): the
  // database decides, not a read before the write.
  auto other = this->backend_->open();
  constexpr int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    const std::string key = "name-" + std::to_string(round);
    std::error_code first, second;
    std::thread a([&] { first = this->create_user(user("u_a" + std::to_string(round), key)); });
    std::thread b([&] {
      second = done_sync([&](Store::Done d) { other->create_user(user("u_b" + std::to_string(round), key), d); });
    });
    a.join();
    b.join();
    const int ok = (first ? 0 : 1) + (second ? 0 : 1);
    EXPECT_EQ(ok, 1) << key << ": " << first.message() << " / " << second.message();
    EXPECT_TRUE(first == errc::name_taken || second == errc::name_taken) << key;
    auto [ec, found] = this->find_by_key(key);
    ASSERT_TRUE(found) << key;
    EXPECT_EQ(found->id, first ? "u_b" + std::to_string(round) : "u_a" + std::to_string(round));
  }
}

// auth.max_sessions_per_user: creating a session past the cap ends the user's oldest (by
// created_at, then last_seen_at), in the same call; the new one is always kept, other users'
// sessions are not touched, and a refused creation ends nothing.
TYPED_TEST(StoreAccounts, CreatingASessionPastTheCapEndsTheOldest) {
  constexpr std::size_t cap = 4;
  ASSERT_FALSE(this->create_user(user("u_ada", "ada")));
  ASSERT_FALSE(this->create_user(user("u_bob", "bob")));
  ASSERT_FALSE(this->create_session(session("bob-1", "u_bob", 5, 100000), cap));
  // Created out of order: the oldest are by created_at, not by insertion. Two share created_at
  // 10; of them the one seen less recently is the older.
  StoredSession tie_old = session("t-old", "u_ada", 10, 100000), tie_new = session("t-new", "u_ada", 10, 100000);
  tie_old.last_seen_at = 11;
  tie_new.last_seen_at = 50;
  for (const auto& x : {session("s-30", "u_ada", 30, 100000), tie_new, session("s-40", "u_ada", 40, 100000), tie_old})
    ASSERT_EQ(this->create_session_evicting(x, cap), std::make_pair(std::error_code(), std::size_t{0}));
  // cap + 2 sessions in all: the two oldest go.
  EXPECT_EQ(this->create_session_evicting(session("s-50", "u_ada", 50, 100000), cap),
            std::make_pair(std::error_code(), std::size_t{1}));
  EXPECT_EQ(this->create_session_evicting(session("s-60", "u_ada", 60, 100000), cap),
            std::make_pair(std::error_code(), std::size_t{1}));
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"s-60", "s-50", "s-40", "s-30"}));
  EXPECT_FALSE(this->find_session("t-old", 1)) << "the oldest is gone";
  EXPECT_FALSE(this->find_session("t-new", 1));
  EXPECT_TRUE(this->find_session("s-60", 1)) << "the newest is kept";
  EXPECT_EQ(this->digests("u_bob"), std::vector<std::string>{"bob-1"}) << "another user's are not touched";
  // The new session is kept even if its times say it is the oldest (a clock stepped back).
  EXPECT_EQ(this->create_session_evicting(session("s-1", "u_ada", 1, 100000), cap),
            std::make_pair(std::error_code(), std::size_t{1}));
  EXPECT_EQ(this->digests("u_ada"), (std::vector<std::string>{"s-60", "s-50", "s-40", "s-1"}));
  // A cap of 1: the one new session alone.
  EXPECT_EQ(this->create_session_evicting(session("only", "u_ada", 70, 100000), 1),
            std::make_pair(std::error_code(), std::size_t{4}));
  EXPECT_EQ(this->digests("u_ada"), std::vector<std::string>{"only"});
  // A refused creation (its user deleted) ends nothing.
  ASSERT_FALSE(this->create_session(session("bob-2", "u_bob", 6, 100000), 1)) << "bob-1 goes";
  ASSERT_FALSE(this->delete_user("u_ada"));
  EXPECT_EQ(this->create_session_evicting(session("late", "u_ada", 80, 100000), 1).first, errc::no_such_user);
  EXPECT_EQ(this->digests("u_bob"), std::vector<std::string>{"bob-2"});
}

TYPED_TEST(StoreAccounts, AfterStopEveryAccountCallFailsAtOnce) {
  this->s().stop();
  std::optional<std::error_code> created, found, listed;
  this->s().create_user(user("u", "k"), [&](std::error_code ec) { created = ec; });
  this->s().find_session("d", 1, [&](std::error_code ec, std::optional<SessionAndUser> s) {
    found = ec;
    EXPECT_FALSE(s);
  });
  this->s().list_sessions("u", [&](std::error_code ec, std::vector<StoredSession>) { listed = ec; });
  ASSERT_TRUE(created && found && listed);
  EXPECT_EQ(*created, errc::store_failed);
  EXPECT_EQ(*found, errc::store_failed);
  EXPECT_EQ(*listed, errc::store_failed);
}

}  // namespace
}  // namespace parley::contract
