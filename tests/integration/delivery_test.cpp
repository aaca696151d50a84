// Delivery: fan-out to many clients, order and exactly-once, lossless resume with `since`
// (from the ring, from SQLite, truncated past resume_limit), presence across users and tabs.
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <latch>
#include <mutex>
#include <sstream>

#include "common.hpp"

namespace parley::it {
namespace {

const std::vector<std::string> kFast = {"limits.send_rate=100000", "limits.send_burst=100000",
                                        "limits.request_rate=100000", "limits.request_burst=100000"};

std::vector<std::string> with(std::vector<std::string> more) {
  auto all = kFast;
  all.insert(all.end(), more.begin(), more.end());
  return all;
}

// Takes every queued message event of `room` from the client, in arrival order.
std::vector<std::uint64_t> take_message_seqs(WsClient& c, const std::string& room = "general") {
  std::vector<std::uint64_t> out;
  auto& q = c.events();
  for (auto it = q.begin(); it != q.end();) {
    if (type_of(*it) == "message" && str(*it, "room") == room) {
      out.push_back(u64(*it, "seq"));
      it = q.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

// Collects message seqs until `last` is seen (or timeout).
std::vector<std::uint64_t> collect_until(WsClient& c, std::uint64_t last, Ms timeout = 10s) {
  std::vector<std::uint64_t> got;
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    auto more = take_message_seqs(c);
    got.insert(got.end(), more.begin(), more.end());
    if (!got.empty() && got.back() >= last) break;
    if (c.closed()) break;
    c.pump(20ms);
  }
  return got;
}

// 200 members in four client threads, five senders: every member gets every message once, in
// seq order. A message is then 200 writes in one loop turn: by default the shard hands them to
// the kernel in one io_uring submission (node/send_batch), with server.writes=sendmsg one by one.
void two_hundred_clients(ServerOptions options) {
  ServerProcess server(std::move(options));
  constexpr int kGroups = 4, kPerGroup = 50, kSenders = 5, kPerSender = 40;
  constexpr std::uint64_t kTotal = kSenders * kPerSender;
  struct Group {
    std::shared_ptr<boost::asio::io_context> ioc = std::make_shared<boost::asio::io_context>(1);
    std::vector<std::unique_ptr<WsClient>> clients;
    std::vector<std::vector<std::uint64_t>> seqs;
    std::string error;
  };
  std::vector<Group> groups(kGroups);
  std::latch joined(kGroups + 1);
  std::latch go(1);
  std::vector<std::thread> threads;
  for (int g = 0; g < kGroups; ++g) {
    threads.emplace_back([&, g] {
      Group& grp = groups[g];
      bool counted = false;
      try {
        for (int i = 0; i < kPerGroup; ++i) {
          grp.clients.push_back(std::make_unique<WsClient>(server.port(), grp.ioc));
          grp.clients.back()->hello("u" + std::to_string(g) + "-" + std::to_string(i));
          grp.clients.back()->join("general");
        }
        grp.seqs.resize(grp.clients.size());
        joined.count_down();
        counted = true;
        go.wait();
        const auto deadline = std::chrono::steady_clock::now() + scaled(30s);
        for (;;) {
          bool all = true;
          for (std::size_t i = 0; i < grp.clients.size(); ++i) {
            auto more = take_message_seqs(*grp.clients[i]);
            grp.seqs[i].insert(grp.seqs[i].end(), more.begin(), more.end());
            if (grp.seqs[i].size() < kTotal) all = false;
          }
          if (all || std::chrono::steady_clock::now() > deadline) break;
          grp.clients[0]->pump(20ms);  // runs the group's io_context: every client of the group reads
        }
        // Anything more would be a duplicate.
        grp.clients[0]->pump(300ms);
        for (std::size_t i = 0; i < grp.clients.size(); ++i) {
          auto more = take_message_seqs(*grp.clients[i]);
          grp.seqs[i].insert(grp.seqs[i].end(), more.begin(), more.end());
        }
      } catch (const std::exception& e) {
        grp.error = e.what();
        if (!counted) joined.count_down();
      }
      grp.clients.clear();  // on the thread that runs their io_context
    });
  }
  joined.count_down();
  joined.wait();
  struct Sender {
    std::unique_ptr<WsClient> c;
    std::vector<std::uint64_t> ack_seqs;
    std::vector<std::uint64_t> seen;
    std::string error;
  };
  std::vector<Sender> senders(kSenders);
  bool setup_ok = true;
  for (auto& g : groups) setup_ok = setup_ok && g.error.empty();
  for (int s = 0; s < kSenders && setup_ok; ++s) {
    senders[s].c = std::make_unique<WsClient>(server.port());
    senders[s].c->hello("sender" + std::to_string(s));
    senders[s].c->join("general");
  }
  go.count_down();
  std::vector<std::thread> sthreads;
  for (int s = 0; s < kSenders && setup_ok; ++s) {
    sthreads.emplace_back([&, s] {
      Sender& me = senders[s];
      try {
        for (int i = 0; i < kPerSender; ++i) {
          auto ack = me.c->send_message("general", "s" + std::to_string(s) + "-" + std::to_string(i),
                                        "message " + std::to_string(i) + " from sender " + std::to_string(s));
          me.ack_seqs.push_back(u64(ack, "seq"));
        }
        me.seen = collect_until(*me.c, kTotal, 30s);
        me.c->pump(300ms);
        auto more = take_message_seqs(*me.c);
        me.seen.insert(me.seen.end(), more.begin(), more.end());
      } catch (const std::exception& e) {
        me.error = e.what();
      }
      me.c.reset();
    });
  }
  for (auto& t : sthreads) t.join();
  for (auto& t : threads) t.join();
  ASSERT_TRUE(setup_ok);
  const auto want = range(1, kTotal);
  int bad = 0;
  for (int g = 0; g < kGroups; ++g) {
    EXPECT_EQ(groups[g].error, "") << "group " << g;
    ASSERT_EQ(groups[g].seqs.size(), static_cast<std::size_t>(kPerGroup));
    for (int i = 0; i < kPerGroup; ++i) {
      if (groups[g].seqs[i] != want && ++bad <= 3) {
        ADD_FAILURE() << "client u" << g << "-" << i << " got " << groups[g].seqs[i].size()
                      << " message events, not 1.." << kTotal << " once each in order";
      }
    }
  }
  EXPECT_EQ(bad, 0) << "clients with a wrong sequence of messages";
  for (int s = 0; s < kSenders; ++s) {
    EXPECT_EQ(senders[s].error, "") << "sender " << s;
    EXPECT_EQ(senders[s].seen, want) << "sender " << s;
    ASSERT_EQ(senders[s].ack_seqs.size(), static_cast<std::size_t>(kPerSender));
    EXPECT_TRUE(std::is_sorted(senders[s].ack_seqs.begin(), senders[s].ack_seqs.end())) << "sender " << s;
  }
  EXPECT_EQ(fetch_metric(server.port(), "parley_messages_acked_total"), static_cast<double>(kTotal));
}

TEST(Delivery, TwoHundredClientsGetEveryMessageOnceInSeqOrder) { two_hundred_clients(ServerOptions{kFast}); }

TEST(Delivery, TheSameWithOneSendmsgPerWrite) {
  ServerOptions options{kFast};
  options.settings.push_back("server.writes=sendmsg");
  two_hundred_clients(std::move(options));
}

TEST(Resume, LosslessWhileMessagesKeepComing) {
  ServerProcess server(ServerOptions{kFast});
  WsClient bob(server.port());
  bob.hello("bob");
  bob.join("general");
  auto ada = std::make_unique<WsClient>(server.port());
  ada->hello("ada");
  ada->join("general");
  for (int i = 1; i <= 10; ++i) bob.send_message("general", "b" + std::to_string(i), "before " + std::to_string(i));
  auto first = collect_until(*ada, 10);
  ASSERT_EQ(first, range(1, 10));
  const std::uint64_t last_seen = first.back();
  ada->drop();
  ada.reset();
  for (int i = 11; i <= 40; ++i)
    bob.send_message("general", "b" + std::to_string(i), "while away " + std::to_string(i));

  // A sender keeps sending while ada's join is processed.
  std::atomic<bool> stop{false};
  std::uint64_t sender_last = 0;
  std::string sender_error;
  std::thread sender([&] {
    try {
      WsClient s(server.port());
      s.hello("carol");
      s.join("general");
      for (int i = 0; !stop.load() && i < 5000; ++i) {
        auto ack = s.send_message("general", "c" + std::to_string(i), "during join " + std::to_string(i));
        sender_last = u64(ack, "seq");
      }
    } catch (const std::exception& e) {
      sender_error = e.what();
    }
  });
  std::this_thread::sleep_for(50ms);
  WsClient back(server.port());
  back.hello("ada");
  auto joined = back.join("general", last_seen);
  EXPECT_GE(u64(joined, "last_seq"), 40u);
  EXPECT_FALSE(joined.contains("truncated")) << dump(joined);
  std::this_thread::sleep_for(200ms);
  stop = true;
  sender.join();
  ASSERT_EQ(sender_error, "");
  ASSERT_GT(sender_last, 40u);
  auto live = bob.send_message("general", "after", "live after resume");
  const std::uint64_t final_seq = u64(live, "seq");
  EXPECT_EQ(final_seq, sender_last + 1);
  auto got = collect_until(back, final_seq);
  EXPECT_EQ(got, range(last_seen + 1, final_seq)) << "joined.last_seq was " << u64(joined, "last_seq");
  EXPECT_TRUE(back.expect_no_event(200ms) || take_message_seqs(back).empty()) << "extra message events";
}

// ada reads 1..5, leaves; 50 more are sent; she rejoins with since=5.
struct GapSetup {
  ServerProcess server;
  WsClient bob;
  explicit GapSetup(std::vector<std::string> settings)
      : server(ServerOptions{with(std::move(settings))}), bob(server.port()) {
    bob.hello("bob");
    bob.join("general");
    {
      WsClient ada(server.port());
      ada.hello("ada");
      ada.join("general");
      for (int i = 1; i <= 5; ++i) bob.send_message("general", "b" + std::to_string(i), "t" + std::to_string(i));
      if (collect_until(ada, 5) != range(1, 5)) throw std::runtime_error("ada did not get 1..5");
    }
    for (int i = 6; i <= 55; ++i) bob.send_message("general", "b" + std::to_string(i), "t" + std::to_string(i));
  }
};

TEST(Resume, GapLargerThanTheRingComesFromTheStore) {
  GapSetup s({"rooms.recent_messages=16"});
  WsClient ada(s.server.port());
  ada.hello("ada");
  auto joined = ada.join("general", 5);
  EXPECT_EQ(u64(joined, "last_seq"), 55u);
  EXPECT_FALSE(joined.contains("truncated")) << dump(joined);
  auto gap = collect_until(ada, 55);
  EXPECT_EQ(gap, range(6, 55));
  // Content of the gap is right, not only the seqs.
  s.bob.send_message("general", "live", "live one");
  auto got = collect_until(ada, 56);
  EXPECT_EQ(got, range(56, 56));
  auto h = ada.full_history("general");
  ASSERT_EQ(h.size(), 56u);
  EXPECT_EQ(str(h[5], "text"), "t6");
  EXPECT_EQ(str(h[5], "cid"), "b6");
}

TEST(Resume, GapLargerThanResumeLimitIsTruncatedToTheNewest) {
  GapSetup s({"rooms.recent_messages=16", "limits.resume_limit=20"});
  WsClient ada(s.server.port());
  ada.hello("ada");
  auto joined = ada.join("general", 5);
  EXPECT_EQ(u64(joined, "last_seq"), 55u);
  ASSERT_TRUE(joined.contains("truncated")) << dump(joined);
  EXPECT_TRUE(joined.at("truncated").as_bool());
  auto gap = collect_until(ada, 55);
  EXPECT_EQ(gap, range(36, 55));
  s.bob.send_message("general", "live", "live one");
  EXPECT_EQ(collect_until(ada, 56), range(56, 56));
}

TEST(Resume, GapInTheRingButOverResumeLimitIsTruncated) {
  GapSetup s({"limits.resume_limit=20"});  // the ring holds everything
  WsClient ada(s.server.port());
  ada.hello("ada");
  auto joined = ada.join("general", 5);
  ASSERT_TRUE(joined.contains("truncated")) << dump(joined);
  EXPECT_EQ(collect_until(ada, 55), range(36, 55));
}

TEST(Resume, SinceBoundaries) {
  ServerProcess server(ServerOptions{kFast});
  WsClient bob(server.port());
  bob.hello("bob");
  bob.join("general");
  for (int i = 1; i <= 5; ++i) bob.send_message("general", "b" + std::to_string(i), "t");
  {
    WsClient a(server.port());
    a.hello("a");
    a.join("general", 0);
    EXPECT_EQ(collect_until(a, 5), range(1, 5)) << "since=0: everything";
  }
  {
    WsClient a(server.port());
    a.hello("a");
    a.join("general");
    EXPECT_TRUE(collect_until(a, 1, 300ms).empty()) << "no since: no backlog";
  }
  {
    WsClient a(server.port());
    a.hello("a");
    auto j = a.join("general", 1000);
    EXPECT_EQ(u64(j, "last_seq"), 5u);
    EXPECT_TRUE(collect_until(a, 1, 300ms).empty()) << "since past the end: no backlog";
    bob.send_message("general", "b6", "t");
    EXPECT_EQ(collect_until(a, 6), range(6, 6));
  }
  {
    WsClient a(server.port());
    a.hello("a");
    a.join("general", 6);
    EXPECT_TRUE(collect_until(a, 1, 300ms).empty()) << "since == last_seq: nothing";
  }
}

auto presence_of(const std::string& user, const std::string& state) {
  return [user, state](const json::object& e) { return str(e, "user") == user && str(e, "state") == state; };
}

TEST(Presence, TwoUsersAndTwoTabs) {
  ServerProcess server;
  WsClient ada1(server.port()), ada2(server.port()), bob(server.port());
  ada1.hello("ada");
  ada2.hello("ada");
  bob.hello("bob");
  auto j = ada1.join("general");
  EXPECT_EQ(j.at("members"), json::parse(R"(["ada"])"));
  auto jb = bob.join("general");
  EXPECT_EQ(jb.at("members"), json::parse(R"(["ada","bob"])"));
  auto p = ada1.wait_for("presence", presence_of("bob", "joined"));
  ASSERT_TRUE(p) << "ada did not see bob join";
  EXPECT_EQ(str(*p, "room"), "general");
  EXPECT_FALSE(bob.wait_for("presence", {}, 200ms)) << "bob was told of his own join";
  // ada's second tab: she is already present, nobody is told.
  auto j2 = ada2.join("general");
  EXPECT_EQ(j2.at("members"), json::parse(R"(["ada","bob"])"));
  EXPECT_FALSE(bob.wait_for("presence", {}, 300ms)) << "a second tab announced ada again";
  // One tab leaves: ada is still present.
  EXPECT_EQ(type_of(ada1.request({{"type", "leave"}, {"room", "general"}})), "left");
  EXPECT_FALSE(bob.wait_for("presence", {}, 300ms)) << "ada announced as left while her other tab is in";
  // Messages still reach the remaining tab, not the one that left.
  bob.send_message("general", "b1", "hi ada");
  EXPECT_TRUE(ada2.wait_for("message"));
  EXPECT_FALSE(ada1.wait_for("message", {}, 200ms));
  // The last tab disconnects: left.
  ada2.drop();
  auto gone = bob.wait_for("presence", presence_of("ada", "left"));
  ASSERT_TRUE(gone) << "bob was not told that ada left";
  auto rooms = bob.request({{"type", "rooms"}});
  EXPECT_EQ(u64(rooms.at("rooms").as_array()[0].as_object(), "members"), 1u) << dump(rooms);
  // ada comes back: joined again.
  ada1.join("general");
  EXPECT_TRUE(bob.wait_for("presence", presence_of("ada", "joined")));
}

// A batch window long enough that every join of these tests falls into one.
const ServerOptions kSlowPresence{{"rooms.presence_batch_ms=1000"}};

TEST(Presence, ACrowdArrivesInAFewFramesInOrder) {
  ServerProcess server(kSlowPresence);
  RawClient obs;
  ASSERT_TRUE(obs.connect(server.port()));
  ASSERT_EQ(obs.ws_upgrade().status, 101);
  obs.send(ws_frame(0x1, R"({"type":"hello","name":"obs"})"));
  obs.send(ws_frame(0x1, R"({"type":"join","room":"general"})"));
  // welcome and joined (the observer's own arrival is not announced to it).
  std::string seen;
  for (int i = 0; i < 2; ++i) {
    auto f = obs.read_frame(5s);
    ASSERT_TRUE(f);
    seen += f->payload + "\n";
  }
  ASSERT_NE(seen.find(R"("type":"joined")"), std::string::npos) << seen;
  constexpr int crowd = 30;
  auto io = std::make_shared<boost::asio::io_context>(1);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < crowd; ++i) {
    clients.push_back(std::make_unique<WsClient>(server.port(), io));
    clients.back()->hello("c" + std::to_string(i));
    clients.back()->join("general");
  }
  // Every arrival once, in the order of the joins, in far fewer frames than arrivals.
  std::vector<std::string> users;
  int frames = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (users.size() < crowd && std::chrono::steady_clock::now() < deadline) {
    auto f = obs.read_frame(3s);
    if (!f) break;
    ++frames;
    std::istringstream lines(f->payload);
    for (std::string line; std::getline(lines, line);) {
      auto e = json::parse(line).as_object();
      ASSERT_EQ(type_of(e), "presence") << line;
      EXPECT_EQ(str(e, "state"), "joined");
      users.push_back(str(e, "user"));
    }
  }
  ASSERT_EQ(users.size(), static_cast<std::size_t>(crowd));
  for (int i = 0; i < crowd; ++i) EXPECT_EQ(users[static_cast<std::size_t>(i)], "c" + std::to_string(i));
  EXPECT_LE(frames, 3) << "each arrival went out on its own";
}

TEST(Presence, AJoinerHearsOnlyWhatFollowsItsMembersList) {
  ServerProcess server(kSlowPresence);
  WsClient ada(server.port()), bob(server.port()), carol(server.port());
  ada.hello("ada");
  bob.hello("bob");
  carol.hello("carol");
  // All three inside one batch window: each one's `members` already shows the earlier arrivals.
  EXPECT_EQ(ada.join("general").at("members"), json::parse(R"(["ada"])"));
  EXPECT_EQ(bob.join("general").at("members"), json::parse(R"(["ada","bob"])"));
  EXPECT_EQ(carol.join("general").at("members"), json::parse(R"(["ada","bob","carol"])"));
  auto a1 = ada.wait_for("presence", {}, 3s);
  auto a2 = ada.wait_for("presence", {}, 3s);
  ASSERT_TRUE(a1 && a2) << "ada did not see bob and carol arrive";
  EXPECT_EQ(str(*a1, "user"), "bob");
  EXPECT_EQ(str(*a2, "user"), "carol");
  auto b1 = bob.wait_for("presence", {}, 3s);
  ASSERT_TRUE(b1) << "bob did not see carol arrive";
  EXPECT_EQ(str(*b1, "user"), "carol") << dump(*b1);
  EXPECT_FALSE(carol.wait_for("presence", {}, 300ms)) << "carol was told of arrivals her members list shows";
  EXPECT_FALSE(ada.wait_for("presence", {}, 200ms)) << "ada was told of her own arrival";
  EXPECT_FALSE(bob.wait_for("presence", {}, 200ms)) << "bob was told of an arrival his members list shows";
}

TEST(Presence, AnArrivalIsAnnouncedBeforeTheArrivingUsersFirstMessage) {
  ServerProcess server(ServerOptions{{"rooms.presence_batch_ms=5000"}});
  WsClient ada(server.port()), bob(server.port());
  ada.hello("ada");
  bob.hello("bob");
  ada.join("general");
  bob.join("general");
  bob.send_message("general", "b1", "hi");  // long before the batch is due
  auto first = ada.next(3s);
  ASSERT_TRUE(first) << "ada heard nothing";
  EXPECT_TRUE(presence_of("bob", "joined")(*first) && type_of(*first) == "presence") << dump(*first);
  auto second = ada.next(3s);
  ASSERT_TRUE(second);
  EXPECT_EQ(type_of(*second), "message") << dump(*second);
  // A user who joins and leaves inside one window hears nothing more of the room.
  WsClient dave(server.port()), carol(server.port());
  dave.hello("dave");
  carol.hello("carol");
  dave.join("general");
  EXPECT_EQ(type_of(dave.request({{"type", "leave"}, {"room", "general"}})), "left");
  carol.join("general");
  ada.send_message("general", "a1", "flush");
  EXPECT_TRUE(ada.wait_for("presence", presence_of("dave", "joined"), 3s));
  EXPECT_TRUE(ada.wait_for("presence", presence_of("dave", "left"), 3s));
  EXPECT_TRUE(ada.wait_for("presence", presence_of("carol", "joined"), 3s));
  EXPECT_FALSE(dave.wait_for("presence", {}, 300ms)) << "dave heard of the room after leaving it";
}

TEST(Presence, BatchOfZeroAnnouncesEachChangeAtOnce) {
  ServerProcess server(ServerOptions{{"rooms.presence_batch_ms=0"}});
  WsClient ada(server.port()), bob(server.port());
  ada.hello("ada");
  bob.hello("bob");
  ada.join("general");
  bob.join("general");
  EXPECT_TRUE(ada.wait_for("presence", presence_of("bob", "joined"), 2s));
  EXPECT_FALSE(bob.wait_for("presence", {}, 200ms)) << "bob was told of his own join";
}

}  // namespace
}  // namespace parley::it
