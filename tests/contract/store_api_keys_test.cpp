// The Store's server API keys contract (src/store/store.hpp: create, find, list, revoke, touch),
// one typed suite over every implementation.
#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "protocol/errc.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using store::Store;
using store::StoredApiKey;

template <class Backend>
class StoreApiKeys : public StoreFixture<Backend> {
 protected:
  Store& s() { return *this->store_; }

  std::error_code create(const StoredApiKey& k) {
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto fut = p->get_future();
    s().create_api_key(k, [p](std::error_code ec) { p->set_value(ec); });
    return wait_for(fut);
  }
  std::optional<StoredApiKey> find(const std::string& id) {
    auto p = std::make_shared<std::promise<std::optional<StoredApiKey>>>();
    auto fut = p->get_future();
    s().find_api_key(id, [p](std::error_code ec, std::optional<StoredApiKey> k) {
      EXPECT_FALSE(ec) << ec.message();
      p->set_value(std::move(k));
    });
    return wait_for(fut);
  }
  std::vector<StoredApiKey> list() {
    auto p = std::make_shared<std::promise<std::vector<StoredApiKey>>>();
    auto fut = p->get_future();
    s().list_api_keys([p](std::error_code ec, std::vector<StoredApiKey> keys) {
      EXPECT_FALSE(ec) << ec.message();
      p->set_value(std::move(keys));
    });
    return wait_for(fut);
  }
  bool revoke(const std::string& id, std::int64_t now) {
    auto p = std::make_shared<std::promise<bool>>();
    auto fut = p->get_future();
    s().revoke_api_key(id, now, [p](std::error_code ec, bool revoked) {
      EXPECT_FALSE(ec) << ec.message();
      p->set_value(revoked);
    });
    return wait_for(fut);
  }
  std::error_code touch(const std::string& id, std::int64_t now) {
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto fut = p->get_future();
    s().touch_api_key(id, now, [p](std::error_code ec) { p->set_value(ec); });
    return wait_for(fut);
  }
};

TYPED_TEST_SUITE(StoreApiKeys, Backends, BackendNames);

StoredApiKey key(const std::string& id, std::int64_t created_at) {
  return StoredApiKey{id, std::string(64, 'a') + "", "backend " + id, "publish,members", created_at, 0, 0};
}

TYPED_TEST(StoreApiKeys, AKeyIsFoundByItsIdAndSurvivesARestart) {
  ASSERT_FALSE(this->create(key("pk_00000000000000a1", 1'700'000'000'000)));
  for (int round = 0; round < 2; ++round) {
    auto found = this->find("pk_00000000000000a1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->secret_digest, std::string(64, 'a'));
    EXPECT_EQ(found->name, "backend pk_00000000000000a1");
    EXPECT_EQ(found->scopes, "publish,members");
    EXPECT_EQ(found->created_at, 1'700'000'000'000);
    EXPECT_EQ(found->revoked_at, 0);
    EXPECT_EQ(found->last_used_at, 0);
    EXPECT_FALSE(this->find("pk_00000000000000b2"));
    this->reopen();
  }
}

TYPED_TEST(StoreApiKeys, ASecondKeyOfTheSameIdIsRefused) {
  ASSERT_FALSE(this->create(key("pk_00000000000000a1", 1)));
  auto other = key("pk_00000000000000a1", 2);
  other.secret_digest = std::string(64, 'b');
  EXPECT_EQ(this->create(other), make_error_code(protocol::errc::store_failed));
  EXPECT_EQ(this->find("pk_00000000000000a1")->secret_digest, std::string(64, 'a'));
}

TYPED_TEST(StoreApiKeys, ListsNewestFirstWithRevokedOnes) {
  ASSERT_FALSE(this->create(key("pk_00000000000000a1", 1)));
  ASSERT_FALSE(this->create(key("pk_00000000000000a2", 3)));
  ASSERT_FALSE(this->create(key("pk_00000000000000a3", 2)));
  ASSERT_TRUE(this->revoke("pk_00000000000000a3", 50));
  const auto keys = this->list();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].id, "pk_00000000000000a2");
  EXPECT_EQ(keys[1].id, "pk_00000000000000a3");
  EXPECT_EQ(keys[1].revoked_at, 50);
  EXPECT_EQ(keys[2].id, "pk_00000000000000a1");
}

TYPED_TEST(StoreApiKeys, RevokingIsOnceAndLasts) {
  ASSERT_FALSE(this->create(key("pk_00000000000000a1", 1)));
  EXPECT_TRUE(this->revoke("pk_00000000000000a1", 100));
  EXPECT_FALSE(this->revoke("pk_00000000000000a1", 200));  // revoked already: its time stays
  EXPECT_FALSE(this->revoke("pk_00000000000000ff", 200));  // no such key
  this->reopen();
  auto found = this->find("pk_00000000000000a1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->revoked_at, 100);
}

TYPED_TEST(StoreApiKeys, TouchSetsLastUsedAndAMissingKeyIsNoError) {
  ASSERT_FALSE(this->create(key("pk_00000000000000a1", 1)));
  ASSERT_FALSE(this->touch("pk_00000000000000a1", 77));
  EXPECT_EQ(this->find("pk_00000000000000a1")->last_used_at, 77);
  EXPECT_FALSE(this->touch("pk_00000000000000ff", 77));
}

}  // namespace
}  // namespace parley::contract
