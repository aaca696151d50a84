#include "core/room_log.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using parley::core::Message;
using parley::core::RoomLog;
using parley::core::sender_key;

Message msg(std::string text, std::string cid = {}, std::string from = "ada") {
  Message m;
  m.room = "general";
  m.from = std::move(from);
  m.text = std::move(text);
  m.ts = 1'700'000'000'000;
  m.cid = std::move(cid);
  return m;
}

// Assigns and commits `n` messages "m<seq>" with cids "c<seq>".
void add(RoomLog& log, int n) {
  for (int i = 0; i < n; ++i) {
    const std::uint64_t next = log.last_assigned() + 1;
    Message m = msg("m" + std::to_string(next), "c" + std::to_string(next));
    log.assign(m);
    EXPECT_EQ(m.seq, next);
    log.commit(std::move(m));
  }
}

std::uint64_t seq_of(const parley::core::EventPtr& e) { return json::parse(*e).at("seq").to_number<std::uint64_t>(); }

std::vector<std::uint64_t> seqs(const std::vector<parley::core::EventPtr>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(seq_of(e));
  return out;
}

std::vector<std::uint64_t> seqs(const std::vector<const Message*>& msgs) {
  std::vector<std::uint64_t> out;
  for (const auto* m : msgs) out.push_back(m->seq);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (auto s = from; s <= to; ++s) out.push_back(s);
  return out;
}

std::vector<Message> stored(std::uint64_t from, std::uint64_t to) {
  std::vector<Message> out;
  for (auto s = from; s <= to; ++s) {
    Message m = msg("m" + std::to_string(s), "c" + std::to_string(s));
    m.seq = s;
    out.push_back(m);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sequencing

TEST(RoomLog, StartsEmpty) {
  RoomLog log(8, 8);
  EXPECT_EQ(log.last_assigned(), 0u);
  EXPECT_EQ(log.last_committed(), 0u);
  EXPECT_EQ(log.ring_first_seq(), 1u);
  EXPECT_TRUE(log.covers_after(0));
  EXPECT_TRUE(log.events_after(0).empty());
}

TEST(RoomLog, AssignThenCommitInOrder) {
  RoomLog log(8, 8);
  Message a = msg("a"), b = msg("b");
  log.assign(a);
  log.assign(b);
  EXPECT_EQ(a.seq, 1u);
  EXPECT_EQ(b.seq, 2u);
  EXPECT_EQ(log.last_assigned(), 2u);
  EXPECT_EQ(log.last_committed(), 0u);  // assigned is not yet committed
  EXPECT_TRUE(log.events_after(0).empty());
  const auto& ea = log.commit(a);
  EXPECT_EQ(ea.message.seq, 1u);
  EXPECT_EQ(ea.message.text, "a");
  ASSERT_TRUE(ea.event);
  EXPECT_EQ(seq_of(ea.event), 1u);
  EXPECT_EQ(log.last_committed(), 1u);
  log.commit(b);
  EXPECT_EQ(log.last_committed(), 2u);
  EXPECT_EQ(seqs(log.events_after(0)), range(1, 2));
}

// An append the store refused leaves its seqs unstored; the next commit starts the ring again
// (its run has no hole), and what is older comes from the store. Found by bench/mix.sh: an edit
// after a refused append indexed the ring past its end.
TEST(RoomLog, AHoleInTheCommittedSeqsStartsTheRingAgain) {
  RoomLog log(8, 8);
  Message a = msg("a"), b = msg("b"), c = msg("c"), d = msg("d");
  for (Message* m : {&a, &b, &c, &d}) log.assign(*m);
  log.commit(a);
  log.commit(b);
  // c (seq 3) was refused by the store: never committed.
  log.commit(d);
  EXPECT_EQ(log.last_committed(), 4u);
  EXPECT_EQ(log.ring_first_seq(), 4u);
  ASSERT_NE(log.find(4), nullptr);
  EXPECT_EQ(log.find(4)->text, "d");
  EXPECT_EQ(log.find(2), nullptr);  // older than the ring: the store's
  EXPECT_EQ(log.find(3), nullptr);
  EXPECT_FALSE(log.covers_after(1));
  EXPECT_TRUE(log.covers_after(3));
  EXPECT_EQ(seqs(log.events_after(3)), range(4, 4));
  Message edit = msg("d2");
  edit.kind = parley::core::MessageKind::edit;
  edit.target = 4;
  log.assign(edit);
  log.commit(edit);
  EXPECT_EQ(log.find(4)->text, "d2");
}

TEST(RoomLog, RingEvictsOldest) {
  RoomLog log(4, 100);
  add(log, 10);
  EXPECT_EQ(log.ring_first_seq(), 7u);
  EXPECT_EQ(seqs(log.events_after(6)), range(7, 10));
}

TEST(RoomLog, ZeroRingCapacityMeansOne) {
  RoomLog log(0, 100);
  add(log, 3);
  EXPECT_EQ(log.ring_first_seq(), 3u);
  EXPECT_EQ(seqs(log.events_after(2)), range(3, 3));
}

// ---------------------------------------------------------------------------------------------
// covers_after / events_after

TEST(RoomLog, CoversAfterEdges) {
  RoomLog log(4, 100);
  add(log, 10);                       // ring: 7..10
  EXPECT_TRUE(log.covers_after(10));  // nothing newer
  EXPECT_TRUE(log.covers_after(11));  // ahead of the room (client from the future)
  EXPECT_TRUE(log.covers_after(1000));
  EXPECT_TRUE(log.covers_after(9));
  EXPECT_TRUE(log.covers_after(6));   // exactly at the ring start: 7.. is in the ring
  EXPECT_FALSE(log.covers_after(5));  // 6 was evicted
  EXPECT_FALSE(log.covers_after(0));
}

TEST(RoomLog, CoversAfterEmptyRoom) {
  RoomLog log(4, 100);
  EXPECT_TRUE(log.covers_after(0));
  EXPECT_TRUE(log.covers_after(5));
}

TEST(RoomLog, EventsAfterEdges) {
  RoomLog log(4, 100);
  add(log, 10);
  EXPECT_TRUE(log.events_after(10).empty());
  EXPECT_TRUE(log.events_after(11).empty());
  EXPECT_TRUE(log.events_after(UINT64_MAX).empty());
  EXPECT_EQ(seqs(log.events_after(9)), range(10, 10));
  EXPECT_EQ(seqs(log.events_after(6)), range(7, 10));
  EXPECT_EQ(seqs(log.events_after(7)), range(8, 10));
}

TEST(RoomLog, EventsAfterIsIdenticalSharedJson) {
  RoomLog log(4, 100);
  add(log, 2);
  const auto a = log.events_after(0);
  const auto b = log.events_after(0);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].get(), b[0].get());  // serialised once, shared by every delivery
}

TEST(RoomLog, AssignedButUncommittedIsNotDelivered) {
  RoomLog log(8, 100);
  add(log, 3);
  Message m = msg("pending");
  log.assign(m);
  EXPECT_EQ(log.last_assigned(), 4u);
  EXPECT_EQ(seqs(log.events_after(0)), range(1, 3));
  EXPECT_TRUE(log.covers_after(3));
}

// ---------------------------------------------------------------------------------------------
// newest_before

TEST(RoomLog, NewestBeforeUpperBound) {
  RoomLog log(100, 100);
  add(log, 10);
  auto r = log.newest_before(11, 3);  // the caller's "latest page": before = committed + 1
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(8, 10));
  r = log.newest_before(5, 3);
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(2, 4));
  r = log.newest_before(2, 3);
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(1, 1));
  r = log.newest_before(1, 3);  // nothing before the first message
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(RoomLog, NewestBeforeBeyondCommittedIsClamped) {
  RoomLog log(100, 100);
  add(log, 10);
  Message pending = msg("p");
  log.assign(pending);  // seq 11, not committed: not history
  auto r = log.newest_before(1000, 5);
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(6, 10));
}

TEST(RoomLog, NewestBeforeLimitLargerThanAvailable) {
  RoomLog log(100, 100);
  add(log, 10);
  auto r = log.newest_before(11, 50);
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(1, 10));
}

TEST(RoomLog, NewestBeforeLimitZero) {
  RoomLog log(100, 100);
  add(log, 10);
  auto r = log.newest_before(11, 0);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(RoomLog, NewestBeforeEmptyRoom) {
  RoomLog log(100, 100);
  auto r = log.newest_before(1, 10);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  r = log.newest_before(100, 10);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

TEST(RoomLog, NewestBeforeRingNotReachingBackIsNullopt) {
  RoomLog log(4, 100);
  add(log, 10);  // ring: 7..10
  auto r = log.newest_before(11, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(7, 10));
  EXPECT_FALSE(log.newest_before(11, 5));  // would need 6
}

TEST(RoomLog, NewestBeforeAtTheRingStart) {
  RoomLog log(4, 100);
  add(log, 10);  // ring: 7..10
  auto r = log.newest_before(8, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(7, 7));
  EXPECT_FALSE(log.newest_before(7, 1));  // 6 is gone
  EXPECT_FALSE(log.newest_before(8, 2));
  EXPECT_FALSE(log.newest_before(3, 100));
}

TEST(RoomLog, NewestBeforePointsIntoTheRing) {
  RoomLog log(4, 100);
  add(log, 5);
  auto r = log.newest_before(6, 2);
  ASSERT_TRUE(r && r->size() == 2);
  EXPECT_EQ((*r)[0]->text, "m4");
  EXPECT_EQ((*r)[1]->text, "m5");
  EXPECT_EQ((*r)[1]->cid, "c5");
}

// ---------------------------------------------------------------------------------------------
// cids

TEST(RoomLog, FindCidAfterAssign) {
  RoomLog log(8, 8);
  Message m = msg("hi", "c-17");
  m.ts = 1234;
  log.assign(m);
  auto hit = log.find_cid(sender_key("", "ada"), "c-17");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->seq, 1u);
  EXPECT_EQ(hit->ts, 1234);
  EXPECT_FALSE(log.find_cid(sender_key("", "bob"), "c-17"));  // cids are per sender
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c-18"));
}

TEST(RoomLog, CidKeyCannotBeForgedByConcatenation) {
  RoomLog log(8, 8);
  Message m = msg("hi", "bc", "a");
  log.assign(m);
  EXPECT_TRUE(log.find_cid(sender_key("", "a"), "bc"));
  EXPECT_FALSE(log.find_cid(sender_key("", "ab"), "c"));
}

TEST(RoomLog, EmptyCidIsNotRemembered) {
  RoomLog log(8, 8);
  Message m = msg("hi", "");
  log.assign(m);
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), ""));
}

TEST(RoomLog, DedupeWindowEvictsOldest) {
  RoomLog log(100, 3);
  add(log, 5);  // cids c1..c5
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c1"));
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c2"));
  for (int s = 3; s <= 5; ++s) {
    auto hit = log.find_cid(sender_key("", "ada"), "c" + std::to_string(s));
    ASSERT_TRUE(hit) << s;
    EXPECT_EQ(hit->seq, static_cast<std::uint64_t>(s));
  }
}

// The window's slots are reused in turn, each key overwritten in place by one of another length
// (a short key in a slot that held a long one, and back): after many turns it still holds exactly
// the newest cids, and a released log starts over.
TEST(RoomLog, DedupeWindowReusesItsSlotsOverManyTurns) {
  RoomLog log(4, 5);
  const auto cid = [](int i) { return (i % 2 ? std::string(40, 'x') : std::string("s")) + std::to_string(i); };
  const auto sender = [](int i) { return i % 3 ? std::string("ada") : std::string(30, 'b'); };
  for (int i = 1; i <= 53; ++i) {
    Message m = msg("t", cid(i), sender(i));
    log.assign(m);
    log.commit(m);
  }
  for (int i = 1; i <= 53; ++i) {
    auto hit = log.find_cid(sender_key("", sender(i)), cid(i));
    if (i <= 48) {
      EXPECT_FALSE(hit) << i;
    } else {
      ASSERT_TRUE(hit) << i;
      EXPECT_EQ(hit->seq, static_cast<std::uint64_t>(i));
    }
    EXPECT_FALSE(log.find_cid(sender_key("", sender(i) + "z"), cid(i))) << i;  // another sender's
  }
  Message moved = msg("t", cid(50), sender(50));
  moved.seq = 99;
  log.move_cid(moved);
  EXPECT_EQ(log.find_cid(sender_key("", sender(50)), cid(50))->seq, 99u);
  log.release();
  EXPECT_FALSE(log.find_cid(sender_key("", sender(53)), cid(53)));
  Message again = msg("t", cid(53), sender(53));
  log.assign(again);
  EXPECT_EQ(log.find_cid(sender_key("", sender(53)), cid(53))->seq, again.seq);
}

TEST(RoomLog, DedupeWindowZeroRemembersNothing) {
  RoomLog log(100, 0);
  add(log, 2);
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c1"));
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c2"));
}

TEST(RoomLog, RepeatedCidKeepsTheFirstSeq) {
  RoomLog log(100, 10);
  Message a = msg("a", "same");
  Message b = msg("b", "same");
  log.assign(a);
  log.assign(b);
  EXPECT_EQ(log.find_cid(sender_key("", "ada"), "same")->seq, 1u);
}

// ---------------------------------------------------------------------------------------------
// restore

TEST(RoomLog, RestoreSetsSeqsAndRing) {
  RoomLog log(4, 100);
  log.restore(10, stored(3, 10));
  EXPECT_EQ(log.last_assigned(), 10u);
  EXPECT_EQ(log.last_committed(), 10u);
  EXPECT_EQ(log.ring_first_seq(), 7u);  // only the newest 4 fit
  EXPECT_EQ(seqs(log.events_after(6)), range(7, 10));
  EXPECT_TRUE(log.covers_after(6));
  EXPECT_FALSE(log.covers_after(5));
  Message m = msg("next");
  log.assign(m);
  EXPECT_EQ(m.seq, 11u);
  log.commit(m);
  EXPECT_EQ(seqs(log.events_after(9)), range(10, 11));
}

TEST(RoomLog, RestoreRemembersCidsBeyondTheRing) {
  RoomLog log(2, 100);
  log.restore(10, stored(3, 10));
  auto hit = log.find_cid(sender_key("", "ada"), "c3");  // not in the ring, still deduplicated
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->seq, 3u);
  EXPECT_TRUE(log.find_cid(sender_key("", "ada"), "c10"));
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c2"));
}

TEST(RoomLog, RestoreRespectsTheDedupeWindow) {
  RoomLog log(100, 2);
  log.restore(10, stored(3, 10));
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c8"));
  EXPECT_TRUE(log.find_cid(sender_key("", "ada"), "c9"));
  EXPECT_TRUE(log.find_cid(sender_key("", "ada"), "c10"));
}

TEST(RoomLog, RestoreReplacesEverything) {
  RoomLog log(4, 100);
  add(log, 3);
  log.restore(0, {});
  EXPECT_EQ(log.last_assigned(), 0u);
  EXPECT_EQ(log.last_committed(), 0u);
  EXPECT_TRUE(log.events_after(0).empty());
  EXPECT_FALSE(log.find_cid(sender_key("", "ada"), "c1"));
}

TEST(RoomLog, RestoreWithoutMessagesButWithASeq) {
  RoomLog log(4, 100);
  log.restore(50, {});
  EXPECT_EQ(log.last_committed(), 50u);
  EXPECT_EQ(log.ring_first_seq(), 51u);
  EXPECT_TRUE(log.covers_after(50));
  EXPECT_FALSE(log.covers_after(49));
  EXPECT_FALSE(log.newest_before(51, 1));  // the store must answer
  Message m = msg("x");
  log.assign(m);
  EXPECT_EQ(m.seq, 51u);
}

TEST(RoomLog, NewestBeforeAfterRestore) {
  RoomLog log(4, 100);
  log.restore(10, stored(1, 10));
  auto r = log.newest_before(11, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ(seqs(*r), range(7, 10));
  EXPECT_FALSE(log.newest_before(11, 5));
}

TEST(RoomLog, RestoreWithLastSeqAheadOfTheMessagesStaysInBounds) {
  // If the store's last seq is ahead of the newest message it returned (e.g. a read that raced a
  // write, or a hole), the ring no longer ends at last_committed(): index arithmetic must not
  // leave the ring.
  RoomLog log(8, 100);
  log.restore(10, stored(1, 5));
  EXPECT_FALSE(log.covers_after(0));       // seqs 6..10 are not in memory: read the store
  EXPECT_FALSE(log.newest_before(11, 3));  // same for history
  EXPECT_TRUE(log.covers_after(10));
  ASSERT_TRUE(log.find_cid(sender_key("", "ada"), "c3"));  // the cids of what was returned are still remembered
  EXPECT_EQ(log.find_cid(sender_key("", "ada"), "c3")->seq, 3u);
}

// ---------------------------------------------------------------------------------------------
// JSON

TEST(Message, EventParsesBack) {
  Message m = msg("hi \"there\"\n\xE2\x82\xAC", "c-1", "\xC3\xA9milie");
  m.seq = 43;
  m.ts = 1'700'000'000'123;
  const json::value v = json::parse(parley::core::message_event(m));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("type"), "message");
  EXPECT_EQ(o.at("room"), "general");
  EXPECT_EQ(o.at("seq").to_number<std::uint64_t>(), 43u);
  EXPECT_EQ(o.at("from"), "\xC3\xA9milie");
  EXPECT_EQ(o.at("text"), "hi \"there\"\n\xE2\x82\xAC");
  EXPECT_EQ(o.at("ts").to_number<std::int64_t>(), 1'700'000'000'123);
  EXPECT_EQ(o.at("cid"), "c-1");
  EXPECT_EQ(o.size(), 7u);
}

TEST(Message, EventCarriesTheSendersUidAfterFrom) {
  Message m = msg("x", "c", "ada");
  m.seq = 3;
  m.ts = 9;
  m.from_id = "u_0123";
  EXPECT_EQ(parley::core::message_event(m),
            R"({"type":"message","room":"general","seq":3,"from":"ada","uid":"u_0123","text":"x","ts":9,"cid":"c"})");
  m.from_id = "x_\"odd\"\n";
  const json::value v = json::parse(parley::core::message_object(m));
  EXPECT_EQ(v.at("uid"), "x_\"odd\"\n");
}

TEST(Message, EventWithoutUidOmitsIt) {
  Message m = msg("x", "c");  // stored before messages carried ids
  m.seq = 1;
  const json::value v = json::parse(parley::core::message_event(m));
  EXPECT_FALSE(v.as_object().contains("uid"));
}

TEST(Message, WelcomeCarriesTheUid) {
  const parley::protocol::WelcomeLimits limits{1, 2, 3, 4, 5, 6, 7};
  const json::value v = json::parse(parley::protocol::welcome_event("ada", "g_00ff", "s-1", 10, limits, {}));
  EXPECT_EQ(v.at("user"), "ada");
  EXPECT_EQ(v.at("uid"), "g_00ff");
}

TEST(Message, SenderKeyIsTheIdOrAGuestsName) {
  using parley::core::sender_key;
  EXPECT_EQ(sender_key("u_1", "ada"), "u_1");
  EXPECT_EQ(sender_key("u_1", "ada lovelace"), sender_key("u_1", "ada")) << "an account's follows it";
  EXPECT_NE(sender_key("u_1", "ada"), sender_key("u_2", "ada")) << "one name, two users";
  EXPECT_EQ(sender_key("g_aa", "bob"), sender_key("g_bb", "bob")) << "a guest is its name";
  EXPECT_EQ(sender_key("", "bob"), sender_key("g_aa", "bob"));
  EXPECT_NE(sender_key("", "u_1"), sender_key("u_1", "ada")) << "a name never equals an id";
}

TEST(Message, EventWithoutCidOmitsIt) {
  Message m = msg("x", "");
  m.seq = 1;
  const json::value v = json::parse(parley::core::message_event(m));
  EXPECT_FALSE(v.as_object().contains("cid"));
}

TEST(Message, ObjectIsTheEventWithoutType) {
  Message m = msg("x", "c");
  m.seq = 7;
  json::value ev = json::parse(parley::core::message_event(m));
  const json::value obj = json::parse(parley::core::message_object(m));
  EXPECT_FALSE(obj.as_object().contains("type"));
  ev.as_object().erase("type");
  EXPECT_EQ(ev, obj);
}

TEST(Message, RingEventIsTheMessageEvent) {
  RoomLog log(4, 4);
  Message m = msg("hello", "c9");
  log.assign(m);
  const auto& entry = log.commit(m);
  EXPECT_EQ(*entry.event, parley::core::message_event(m));
}

}  // namespace

namespace {

using parley::core::ChangeRefusal;
using parley::core::MessageKind;

Message change(MessageKind kind, std::uint64_t target, std::string text, std::string cid, std::string from = "ada") {
  Message m = msg(std::move(text), std::move(cid), std::move(from));
  m.kind = kind;
  m.target = target;
  return m;
}

// Edits and deletes in the ring: the target as it is now, its event encoded again (a resume from
// the ring sends no deleted text), the change's own event typed after its kind.
TEST(RoomLogChanges, TheRingShowsTheMessageAsItsChangesLeftIt) {
  RoomLog log(16, 100);
  add(log, 2);
  Message e = change(MessageKind::edit, 1, "m1 edited", "e1");
  e.ts += 5;
  log.assign(e);
  const auto& edit = log.commit(e);
  EXPECT_EQ(json::parse(*edit.event).at("type"), "edit");
  EXPECT_EQ(log.find(1)->text, "m1 edited");
  EXPECT_EQ(log.find(1)->edited, e.ts);
  EXPECT_EQ(json::parse(*log.events_after(0)[0]).at("text"), "m1 edited");
  Message d = change(MessageKind::remove, 1, "", "d1");
  log.assign(d);
  log.commit(d);
  EXPECT_TRUE(log.find(1)->deleted);
  EXPECT_EQ(log.find(1)->text, "");
  EXPECT_EQ(log.find(3)->text, "") << "the deleted message's edit keeps no text of it";
  for (const auto& ev : log.events_after(0)) EXPECT_EQ(ev->find("m1 edited"), std::string::npos) << *ev;
  // An edit after the delete changes nothing; nothing past the ring is found.
  Message late = change(MessageKind::edit, 1, "back", "e2");
  log.assign(late);
  log.commit(late);
  EXPECT_EQ(log.find(1)->text, "");
  EXPECT_EQ(log.find(99), nullptr);
  // A cid is one change: the same cid for another target is not a retry.
  Message other = change(MessageKind::edit, 2, "m1 edited", "x");
  EXPECT_NE(RoomLog::content_hash(e), RoomLog::content_hash(other));
}

TEST(RoomLogChanges, WhoMayChangeAMessage) {
  Message m = msg("hi", "c1", "bob");
  m.seq = 1;
  m.from_id = "u_bob";
  const std::string bob = sender_key("u_bob", "bob"), ada = sender_key("u_ada", "ada");
  EXPECT_EQ(parley::core::may_change(MessageKind::edit, bob, &m, false), ChangeRefusal::none);
  EXPECT_EQ(parley::core::may_change(MessageKind::edit, ada, &m, true), ChangeRefusal::forbidden);
  EXPECT_EQ(parley::core::may_change(MessageKind::remove, ada, &m, false), ChangeRefusal::forbidden);
  EXPECT_EQ(parley::core::may_change(MessageKind::remove, ada, &m, true), ChangeRefusal::none);
  EXPECT_EQ(parley::core::may_change(MessageKind::edit, bob, nullptr, false), ChangeRefusal::no_such_message);
  Message edit = change(MessageKind::edit, 1, "x", "e");
  EXPECT_EQ(parley::core::may_change(MessageKind::remove, ada, &edit, true), ChangeRefusal::no_such_message);
  m.deleted = true;
  EXPECT_EQ(parley::core::may_change(MessageKind::remove, bob, &m, false), ChangeRefusal::deleted);
  // A guest is its name: another connection of the same guest name is the author.
  Message guest = msg("hi", "c2", "cy");
  guest.from_id = "g_0123456789abcdef";
  EXPECT_EQ(parley::core::may_change(MessageKind::edit, sender_key("g_fedcba9876543210", "cy"), &guest, false),
            ChangeRefusal::none);
}

}  // namespace

namespace {

// Reactions in the ring: each react or unreact changes the target's reactions once per user and
// emoji, the target's event is encoded again with them (a resume from the ring shows them), and
// a delete drops them; the stores' column form parses back to the same.
TEST(RoomLogChanges, TheRingKeepsEachMessagesReactionsOncePerUserAndEmoji) {
  RoomLog log(16, 100);
  add(log, 1);
  auto apply = [&](MessageKind kind, std::string emoji, std::string cid, std::string from, std::string id) {
    Message r = change(kind, 1, std::move(emoji), std::move(cid), std::move(from));
    r.from_id = std::move(id);
    log.assign(r);
    return log.commit(r).event;
  };
  const std::string thumbs = "\U0001F44D", party = "\U0001F389";
  auto event = apply(MessageKind::react, thumbs, "r1", "bob", "u_bob");
  EXPECT_EQ(json::parse(*event).at("type"), "react");
  EXPECT_EQ(std::string(json::parse(*event).at("emoji").as_string()), thumbs);
  apply(MessageKind::react, thumbs, "r2", "bob", "u_bob");  // again: once
  apply(MessageKind::react, thumbs, "r3", "cy", "g_0123456789abcdef");
  apply(MessageKind::react, party, "r4", "bob", "u_bob");
  // A guest is its name: cy's other connection takes cy's back.
  apply(MessageKind::unreact, thumbs, "r5", "cy", "g_fedcba9876543210");
  apply(MessageKind::unreact, party, "r6", "ada", "u_ada");  // not ada's: nothing
  const auto& reactions = log.find(1)->reactions;
  ASSERT_EQ(reactions.size(), 2u);
  EXPECT_EQ(reactions[0].emoji, thumbs);
  ASSERT_EQ(reactions[0].who.size(), 1u);
  EXPECT_EQ(reactions[0].who[0].from, "bob");
  EXPECT_EQ(reactions[1].emoji, party);
  const auto ring = json::parse(*log.events_after(0)[0]).as_object();
  EXPECT_EQ(json::serialize(ring.at("reactions")),
            R"([{"emoji":")" + thumbs + R"(","count":1,"users":[{"from":"bob","uid":"u_bob"}]},{"emoji":")" + party +
                R"(","count":1,"users":[{"from":"bob","uid":"u_bob"}]}])");
  // The stores' form of them parses back to the same.
  std::vector<parley::core::Reaction> parsed;
  parley::core::parse_reactions(thumbs +
                                    "\x1fu_bob\x1f"
                                    "bob\x1e" +
                                    party +
                                    "\x1fu_bob\x1f"
                                    "bob",
                                parsed);
  EXPECT_EQ(parley::core::reactions_json(parsed), parley::core::reactions_json(reactions));
  // A delete drops them; nothing reacts to it after.
  Message d = change(MessageKind::remove, 1, "", "d1");
  log.assign(d);
  log.commit(d);
  EXPECT_TRUE(log.find(1)->reactions.empty());
  apply(MessageKind::react, thumbs, "r7", "bob", "u_bob");
  EXPECT_TRUE(log.find(1)->reactions.empty());
  EXPECT_FALSE(json::parse(*log.events_after(0)[0]).as_object().contains("reactions"));
}

TEST(RoomLogChanges, AnyMemberReactsAndRepliesButNotToADeletedMessageOrAChange) {
  Message m = msg("hi", "c1", "bob");
  m.seq = 1;
  const std::string ada = sender_key("u_ada", "ada");
  for (auto kind : {MessageKind::react, MessageKind::unreact, MessageKind::message})
    EXPECT_EQ(parley::core::may_change(kind, ada, &m, false), ChangeRefusal::none);
  Message react = change(MessageKind::react, 1, "\U0001F44D", "r");
  EXPECT_EQ(parley::core::may_change(MessageKind::react, ada, &react, false), ChangeRefusal::no_such_message);
  EXPECT_EQ(parley::core::may_change(MessageKind::message, ada, nullptr, false), ChangeRefusal::no_such_message);
  m.deleted = true;
  EXPECT_EQ(parley::core::may_change(MessageKind::message, ada, &m, false), ChangeRefusal::deleted);
  // A reply's cid with another reply_to (or none) is not a retry.
  Message reply = msg("yes", "c2", "ada");
  reply.target = 1;
  Message plain = msg("yes", "c2", "ada");
  EXPECT_NE(RoomLog::content_hash(reply), RoomLog::content_hash(plain));
  EXPECT_EQ(RoomLog::content_hash(plain), RoomLog::text_hash("yes"));
}

}  // namespace
