// Send floods: a hundred connections, each within its own send rate, from one address, or as one
// user from a hundred addresses. Against a node with its default budgets, while an honest client
// chats in a room of its own.
#include <algorithm>

#include "hostile.hpp"

namespace parley::hostile {
namespace {

using namespace std::chrono_literals;

class SendFlood : public HostileTest {
 protected:
  struct Result {
    std::size_t attempts = 0;
    std::size_t acked = 0;
    std::size_t limited = 0;
    std::size_t missing = 0;  // acked messages not in history
    double seconds = 0;
    std::string stopped = "time";
  };

  // Each connection (from address_of(i), named name_of(i)) joins `general` and sends at its own
  // limit: its burst of 20 at once, then 10 a second, for three seconds.
  Result flood(std::size_t connections, const std::function<std::string(std::size_t)>& address_of,
               const std::function<std::string(std::size_t)>& name_of) {
    Result r;
    Swarm swarm(port());
    for (std::size_t i = 0; i < connections; ++i) swarm.add(address_of(i), 1);
    std::vector<bool> joined(connections, false);
    std::vector<int> next(connections, 0);
    std::vector<std::pair<std::uint64_t, std::string>> acks;
    auto send_one = [&](std::size_t i) {
      const std::string cid = "f" + std::to_string(i) + "-" + std::to_string(next[i]++);
      swarm.send(
          i, text_frame(json::object{{"type", "send"}, {"room", "general"}, {"cid", cid}, {"text", "flood " + cid}}));
      ++r.attempts;
    };
    swarm.on_open = [&](std::size_t i) {
      swarm.send(i, text_frame(json::object{{"type", "hello"}, {"name", name_of(i)}}) +
                        text_frame(json::object{{"type", "join"}, {"room", "general"}}));
    };
    swarm.on_event = [&](std::size_t i, const json::object& e) {
      const std::string type = it::type_of(e);
      if (type == "joined" && !joined[i]) {
        joined[i] = true;
        for (int k = 0; k < 20; ++k) send_one(i);
      } else if (type == "ack") {
        acks.emplace_back(it::u64(e, "seq"), it::str(e, "cid"));
      } else if (it::str(e, "code") == "rate_limited") {
        ++r.limited;
      }
    };
    const auto t0 = Clock::now();
    swarm.run_for(
        3s,
        [&] {
          if (over_safety_cap()) r.stopped = "safety_cap";
          return over_safety_cap();
        },
        100ms,
        [&] {
          for (std::size_t i = 0; i < connections; ++i)
            if (joined[i] && swarm[i].state == Swarm::State::open) send_one(i);
        });
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    swarm.run_for(1s, [&] { return acks.size() + r.limited >= r.attempts; });  // the last answers
    r.acked = acks.size();
    for (std::size_t i = 0; i < swarm.size(); ++i) swarm.drop(i);
    // Nothing acked to the attacker is lost either.
    std::string error;
    const auto history = read_history(port(), "general", "auditor-general", &error);
    for (const auto& [seq, cid] : acks) {
      auto it = history.find(seq);
      if (it == history.end() || it->second != cid) ++r.missing;
    }
    if (!error.empty()) {
      ADD_FAILURE() << "reading general's history: " << error;
      r.missing = acks.size();
    }
    return r;
  }

  static std::string seen(const Result& r) {
    return "attempts:" + std::to_string(r.attempts) + ",acked:" + std::to_string(r.acked) +
           ",rate_limited:" + std::to_string(r.limited) + ",acked_missing:" + std::to_string(r.missing) +
           ",stopped:" + r.stopped;
  }
};

// 100 connections from one address, 100 users. Before: 100 x 10 sends a second (and 100 x 20 at
// once), each stored and fanned out to every member. Now: limits.send_rate_per_address, 100 a
// second, a burst of 200, for the whole address.
TEST_F(SendFlood, FromOneAddress) {
  start_node();
  start_honest();
  const Result r = flood(
      100, [](std::size_t) { return attacker_address(0); }, [](std::size_t i) { return "flood-" + std::to_string(i); });
  finish("sends_one_address", "limits.send_rate_per_address", seen(r));
  expect_node_held(200, 2000ms);
  if (!asserting()) return;
  EXPECT_LE(static_cast<double>(r.acked), 200 + 100 * (r.seconds + 0.5));
  EXPECT_GT(r.limited, 0U);
  EXPECT_EQ(r.missing, 0U);
}

// 100 connections from 100 addresses, all one user. Now: limits.send_rate_per_user, 20 a second,
// a burst of 40, over all of the user's connections.
TEST_F(SendFlood, AsOneUser) {
  start_node();
  start_honest();
  const Result r = flood(100, attacker_address, [](std::size_t) { return std::string("mallory"); });
  finish("sends_one_user", "limits.send_rate_per_user", seen(r));
  expect_node_held(200, 2000ms);
  if (!asserting()) return;
  EXPECT_LE(static_cast<double>(r.acked), 40 + 20 * (r.seconds + 0.5));
  EXPECT_GT(r.limited, 0U);
  EXPECT_EQ(r.missing, 0U);
}

}  // namespace
}  // namespace parley::hostile
