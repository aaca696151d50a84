// The Store's search contract (src/store/store.hpp: search), one typed suite over every
// implementation: what history shows is what search finds (edits by their new text, deletes
// never), in the rooms asked for only, newest first, page by page.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "core/search.hpp"
#include "store_backends.hpp"

namespace parley::contract {
namespace {

using store::SearchHit;
using store::SearchPage;
using store::SearchQuery;
using store::Store;
using store::StoredRoom;
using K = core::MessageKind;

template <class Backend>
class StoreSearch : public StoreFixture<Backend> {
 protected:
  Store& s() { return *this->store_; }

  SearchPage search(const std::string& q, std::vector<std::string> rooms, std::size_t limit = 20,
                    std::optional<core::SearchCursor> before = std::nullopt) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, SearchPage>>>();
    auto fut = p->get_future();
    s().search(SearchQuery{.terms = core::search_terms(q), .rooms = std::move(rooms), .limit = limit, .before = before},
               [p](std::error_code ec, SearchPage page) {
                 p->set_value({ec, std::move(page)});
               });
    auto [ec, page] = wait_for(fut);
    EXPECT_FALSE(ec) << q << ": " << ec.message();
    return page;
  }
  // The hits as "room/seq".
  static std::vector<std::string> places(const SearchPage& page) {
    std::vector<std::string> out;
    for (const auto& h : page.hits) out.push_back(h.room + "/" + std::to_string(h.seq));
    return out;
  }
  static core::Message msg(const std::string& room, std::uint64_t seq, std::string text, std::int64_t ts = 0) {
    auto m = make_message(room, seq, std::move(text));
    if (ts) m.ts = ts;
    return m;
  }
  static core::Message change(const std::string& room, std::uint64_t seq, K kind, std::uint64_t target,
                              std::string text) {
    auto m = make_message(room, seq, text.empty() ? std::string("-") : std::move(text));
    if (kind == K::remove) m.text.clear();
    m.kind = kind;
    m.target = target;
    return m;
  }
  void rooms(std::initializer_list<const char*> ids) {
    for (const char* id : ids) s().create_room_now(StoredRoom{id, 0, 1, "x"});
  }
};

TYPED_TEST_SUITE(StoreSearch, Backends, BackendNames);

using Places = std::vector<std::string>;

TYPED_TEST(StoreSearch, FindsEveryTermByWordOrPrefixInTheRoomsAskedForOnly) {
  this->rooms({"a", "b", "c"});
  ASSERT_FALSE(append_sync(this->s(), {this->msg("a", 1, "Deploy failed on staging"), this->msg("a", 2, "lunch?"),
                                       this->msg("a", 3, "the deployment is done")}));
  ASSERT_FALSE(append_sync(this->s(), {this->msg("b", 1, "deploy succeeded"), this->msg("c", 1, "deploy the secret")}));
  // Same ts (make_message: base + seq): room, then seq, descending.
  EXPECT_EQ(this->places(this->search("deploy", {"a", "b"})), (Places{"a/3", "b/1", "a/1"}));  // prefix: deployment
  EXPECT_EQ(this->places(this->search("DEPLOY failed", {"a", "b"})), (Places{"a/1"}));
  EXPECT_EQ(this->places(this->search("fail", {"a", "b"})), (Places{"a/1"}));  // the last term, a prefix
  EXPECT_TRUE(this->search("fail deploy", {"a", "b"}).hits.empty());           // only the last term is a prefix
  EXPECT_EQ(this->places(this->search("failed depl", {"a", "b"})), (Places{"a/1"}));
  EXPECT_TRUE(this->search("secret", {"a", "b"}).hits.empty());  // c was not asked for
  EXPECT_EQ(this->places(this->search("secret", {"c"})), (Places{"c/1"}));
  EXPECT_TRUE(this->search("staging", {"b", "nowhere"}).hits.empty());
  EXPECT_TRUE(this->search("deploy", {}).hits.empty());
  EXPECT_TRUE(this->search("", {"a"}).hits.empty());

  const auto page = this->search("staging", {"a"});
  ASSERT_EQ(page.hits.size(), 1u);
  const SearchHit& h = page.hits[0];
  EXPECT_EQ(h.room, "a");
  EXPECT_EQ(h.seq, 1u);
  EXPECT_EQ(h.from, "ada");
  EXPECT_EQ(h.from_id, "u_ada");
  EXPECT_EQ(h.text, "Deploy failed on staging");
  EXPECT_EQ(h.ts, make_message("a", 1).ts);
  EXPECT_FALSE(page.next);
}

// Accents are folded on both stores (SQLite's remove_diacritics, PostgreSQL's unaccent), in the
// texts and in the terms.
TYPED_TEST(StoreSearch, AccentsAreFoldedInTextsAndTerms) {
  this->rooms({"f"});
  ASSERT_FALSE(append_sync(this->s(), {this->msg("f", 1, "Le DÉPLOIEMENT a échoué"), this->msg("f", 2, "deja vu")}));
  EXPECT_EQ(this->places(this->search("deploiement", {"f"})), (Places{"f/1"}));
  EXPECT_EQ(this->places(this->search("ECHOUE", {"f"})), (Places{"f/1"}));
  EXPECT_EQ(this->places(this->search("échou", {"f"})), (Places{"f/1"}));  // a prefix, accented
  EXPECT_EQ(this->places(this->search("déjà", {"f"})), (Places{"f/2"}));
  EXPECT_TRUE(this->search("deployment", {"f"}).hits.empty());
}

TYPED_TEST(StoreSearch, NewestFirstPageByPage) {
  this->rooms({"p", "q"});
  std::vector<core::Message> batch;
  // p: 25 pings at distinct times; q: 5 more, at the same times as p's 1..5 (the tie-break).
  for (std::uint64_t seq = 1; seq <= 25; ++seq) batch.push_back(this->msg("p", seq, "ping " + std::to_string(seq)));
  for (std::uint64_t seq = 1; seq <= 5; ++seq) batch.push_back(this->msg("q", seq, "ping from q"));
  ASSERT_FALSE(append_sync(this->s(), batch));
  Places all;
  std::optional<core::SearchCursor> before;
  int pages = 0;
  for (; pages < 10; ++pages) {
    const auto page = this->search("ping", {"p", "q"}, 7, before);
    ASSERT_LE(page.hits.size(), 7u);
    for (const auto& p : this->places(page)) all.push_back(p);
    if (!page.next) break;
    ASSERT_EQ(page.hits.size(), 7u);
    before = page.next;
    // The cursor survives its trip through the client.
    ASSERT_EQ(core::parse_cursor(core::encode_cursor(*before)), before);
  }
  EXPECT_EQ(pages, 4);  // 7 + 7 + 7 + 9: the last page of 30 hits is short and has no next
  Places expected;
  for (std::uint64_t seq = 25; seq >= 6; --seq) expected.push_back("p/" + std::to_string(seq));
  for (std::uint64_t seq = 5; seq >= 1; --seq) {
    expected.push_back("q/" + std::to_string(seq));
    expected.push_back("p/" + std::to_string(seq));
  }
  EXPECT_EQ(all, expected);
  // Exactly a page's worth: no next.
  EXPECT_FALSE(this->search("ping", {"q"}, 5).next);
  EXPECT_TRUE(this->search("ping", {"q"}, 4).next);
}

// The order is the messages' times, whatever order they were indexed in: a room whose older
// messages come after another's newer ones, an old message edited (its new text at its old
// place), many messages of one millisecond in several rooms, cut by pages anywhere.
TYPED_TEST(StoreSearch, TheOrderIsTheMessagesTimesWhicheverWasIndexedFirst) {
  this->rooms({"new", "old", "tie1", "tie2", "tie3"});
  using T = StoreSearch<TypeParam>;
  const std::int64_t t = 1'700'000'000'000;
  std::vector<core::Message> batch;
  for (std::uint64_t seq = 1; seq <= 6; ++seq)
    batch.push_back(T::msg("new", seq, "oscar new " + std::to_string(seq), t + 100 + static_cast<std::int64_t>(seq)));
  ASSERT_FALSE(append_sync(this->s(), batch));
  ASSERT_EQ(this->search("oscar", {"new"}).hits.size(), 6u);  // indexed before the older ones below
  batch.clear();
  for (std::uint64_t seq = 1; seq <= 4; ++seq)
    batch.push_back(T::msg("old", seq, "oscar old " + std::to_string(seq), t + static_cast<std::int64_t>(seq)));
  for (const char* room : {"tie1", "tie2", "tie3"})
    for (std::uint64_t seq = 1; seq <= 12; ++seq) batch.push_back(T::msg(room, seq, "oscar tie", t + 50));
  ASSERT_FALSE(append_sync(this->s(), batch));
  ASSERT_FALSE(append_sync(this->s(), {T::change("old", 5, K::edit, 2, "oscar old two, edited")}));

  Places expected;
  for (std::uint64_t seq = 6; seq >= 1; --seq) expected.push_back("new/" + std::to_string(seq));
  for (const char* room : {"tie3", "tie2", "tie1"})
    for (std::uint64_t seq = 12; seq >= 1; --seq) expected.push_back(std::string(room) + "/" + std::to_string(seq));
  for (std::uint64_t seq = 4; seq >= 1; --seq) expected.push_back("old/" + std::to_string(seq));
  const std::vector<std::string> all_rooms{"new", "old", "tie1", "tie2", "tie3"};
  EXPECT_EQ(this->places(this->search("oscar", all_rooms, 100)), expected);
  for (const std::size_t limit : {1u, 5u, 7u, 13u}) {
    Places paged;
    std::optional<core::SearchCursor> before;
    for (int pages = 0; pages < 100; ++pages) {
      const auto page = this->search("oscar", all_rooms, limit, before);
      for (const auto& p : this->places(page)) paged.push_back(p);
      if (!page.next) break;
      before = page.next;
    }
    EXPECT_EQ(paged, expected) << "pages of " << limit;
  }
  EXPECT_EQ(this->places(this->search("edited", all_rooms)), (Places{"old/2"}));
  // A cursor from before every message, and one past them all: nothing, and everything.
  EXPECT_TRUE(this->search("oscar", all_rooms, 10, core::SearchCursor{.ts = 0, .room = "", .seq = 0}).hits.empty());
  EXPECT_TRUE(this->search("oscar", all_rooms, 10, core::SearchCursor{.ts = -5, .room = "", .seq = 0}).hits.empty());
  EXPECT_EQ(
      this->search("oscar", all_rooms, 100, core::SearchCursor{.ts = INT64_MAX, .room = "", .seq = 0}).hits.size(),
      expected.size());
}

TYPED_TEST(StoreSearch, AnEditedMessageByItsNewTextOnlyAndADeletedOneNever) {
  this->rooms({"r"});
  using T = StoreSearch<TypeParam>;
  // An edit in the same batch as its message, and one in a later batch.
  ASSERT_FALSE(append_sync(this->s(), {T::msg("r", 1, "alpha original"), T::change("r", 2, K::edit, 1, "alpha bravo"),
                                       T::msg("r", 3, "charlie one")}));
  ASSERT_FALSE(append_sync(this->s(), {T::change("r", 4, K::edit, 3, "delta two")}));
  auto check = [&] {
    EXPECT_TRUE(this->search("original", {"r"}).hits.empty());
    EXPECT_TRUE(this->search("charlie", {"r"}).hits.empty());
    const auto bravo = this->search("bravo", {"r"});  // the message, never the edit entry
    ASSERT_EQ(this->places(bravo), (Places{"r/1"}));
    EXPECT_EQ(bravo.hits[0].text, "alpha bravo");
    EXPECT_EQ(this->places(this->search("delta", {"r"})), (Places{"r/3"}));
  };
  check();
  this->reopen();
  check();
  // A retried edit changes nothing; a delete takes the message out, with its edits' texts.
  ASSERT_FALSE(append_sync(this->s(), {T::change("r", 2, K::edit, 1, "alpha bravo")}));
  ASSERT_FALSE(append_sync(this->s(), {T::change("r", 5, K::remove, 1, ""), T::msg("r", 6, "echo bravo")}));
  EXPECT_EQ(this->places(this->search("bravo", {"r"})), (Places{"r/6"}));
  EXPECT_TRUE(this->search("alpha", {"r"}).hits.empty());
  // An edit after the delete is refused by the store (history shows nothing): still not found.
  ASSERT_FALSE(append_sync(this->s(), {T::change("r", 7, K::edit, 1, "foxtrot")}));
  EXPECT_TRUE(this->search("foxtrot", {"r"}).hits.empty());
  // Reactions are not text.
  ASSERT_FALSE(append_sync(this->s(), {T::change("r", 8, K::react, 6, "thumbsup")}));
  EXPECT_TRUE(this->search("thumbsup", {"r"}).hits.empty());
  this->reopen();
  EXPECT_EQ(this->places(this->search("bravo", {"r"})), (Places{"r/6"}));
  EXPECT_TRUE(this->search("alpha", {"r"}).hits.empty());
}

TYPED_TEST(StoreSearch, ADeletedRoomsMessagesAreGone) {
  this->rooms({"gone", "kept"});
  ASSERT_FALSE(append_sync(this->s(), {this->msg("gone", 1, "golf hotel"), this->msg("kept", 1, "golf india")}));
  ASSERT_FALSE(delete_sync(this->s(), "gone"));
  EXPECT_EQ(this->places(this->search("golf", {"gone", "kept"})), (Places{"kept/1"}));
  // A new room of the same id starts with nothing of the old one.
  ASSERT_FALSE(create_sync(this->s(), StoredRoom{"gone", 0, 2, "y"}));
  ASSERT_FALSE(append_sync(this->s(), {this->msg("gone", 1, "golf juliet")}));
  const auto page = this->search("golf", {"gone"});
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(page.hits[0].text, "golf juliet");
}

TYPED_TEST(StoreSearch, AnyTermIsAWordNeverSyntax) {
  this->rooms({"r"});
  ASSERT_FALSE(append_sync(this->s(), {this->msg("r", 1, "NEAR the OR gate: text * and \"quotes\"")}));
  // What core::search_terms makes of hostile input.
  for (const char* q : {"\"",       "\"\"",   "*",       "NEAR(", "NEAR(a b)", "OR", "a OR b", "-x", "text:near",
                        "^near",    "near:*", "'or'",    "a & b", "!a",        "(",  ")",      "\\", "\xf0\x9f\x9a\x80",
                        "\xc3\xa9", "AND",    "NOT gate"}) {
    this->search(q, {"r"});  // never an error
  }
  EXPECT_EQ(this->places(this->search("near", {"r"})), (Places{"r/1"}));
  EXPECT_EQ(this->places(this->search("or gate", {"r"})), (Places{"r/1"}));
  EXPECT_EQ(this->places(this->search("text:near", {"r"})), (Places{"r/1"}));  // two words, no column filter
  EXPECT_EQ(this->places(this->search("\"quotes\"", {"r"})), (Places{"r/1"}));
  // Terms straight to the store (not through search_terms): quotes and operators stay words.
  for (std::vector<std::string> terms :
       std::vector<std::vector<std::string>>{{"a\"b"},
                                             {"\""},
                                             {"x*"},
                                             {"NEAR("},
                                             {"it's"},
                                             {"\\"},
                                             {"a:*"},
                                             {"'", "&", "|"},
                                             {"text:near"},
                                             {"ŉ"},
                                             {"ʼ", "gate"},
                                             {"gate", "ʼ"}}) {  // letters that unaccent makes "'n" and "'"
    auto p = std::make_shared<std::promise<std::error_code>>();
    auto fut = p->get_future();
    this->s().search(SearchQuery{.terms = terms, .rooms = {"r"}, .limit = 5},
                     [p](std::error_code ec, SearchPage) { p->set_value(ec); });
    EXPECT_FALSE(wait_for(fut)) << terms[0];
  }
}

TYPED_TEST(StoreSearch, RoomsAreTakenAsTheyAreNeverAsSyntax) {
  this->rooms({"r", "a\"b", "c\\d", "e,f", "{g}"});
  for (const char* room : {"r", "a\"b", "c\\d", "e,f", "{g}"})
    ASSERT_FALSE(append_sync(this->s(), {this->msg(room, 1, "kilo")}));
  EXPECT_EQ(this->places(this->search("kilo", {"a\"b", "c\\d", "e,f", "{g}"})),
            (Places{"{g}/1", "e,f/1", "c\\d/1", "a\"b/1"}));
  EXPECT_EQ(this->places(this->search("kilo", {"r\",\"a"})), Places{});
}

// SQLite's index is a database of its own (sqlite_search_index.hpp), read from the messages after
// their commits: these are its own cases.
class SqliteSearchIndexTest : public ::testing::Test {
 protected:
  SqliteSearchIndexTest() {
    char tmpl[] = "/tmp/parley-search-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  ~SqliteSearchIndexTest() override {
    s_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path path() const { return dir_ / "parley.db"; }
  std::filesystem::path index_path() const { return dir_ / "parley.search.db"; }
  void open() { s_ = std::make_unique<store::SqliteStore>(store::SqliteOptions{path(), "NORMAL", 100000, 10000}); }
  void close() { s_.reset(); }
  std::pair<std::error_code, SearchPage> try_search(std::vector<std::string> terms, std::vector<std::string> rooms,
                                                    std::size_t limit = 10) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, SearchPage>>>();
    auto fut = p->get_future();
    s_->search(SearchQuery{.terms = std::move(terms), .rooms = std::move(rooms), .limit = limit},
               [p](std::error_code ec, SearchPage page) {
                 p->set_value({ec, std::move(page)});
               });
    return wait_for(fut);
  }
  SearchPage search(std::vector<std::string> terms, std::vector<std::string> rooms, std::size_t limit = 10) {
    auto [ec, page] = try_search(std::move(terms), std::move(rooms), limit);
    EXPECT_FALSE(ec) << ec.message();
    return page;
  }
  // Runs SQL on a file with no store open.
  static void sql(const std::filesystem::path& file, const char* text) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, text, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db) << " in " << text;
    sqlite3_close(db);
  }
  static int count(const std::filesystem::path& file, const char* query) {
    sqlite3* db = nullptr;
    int n = -1;
    if (sqlite3_open(file.c_str(), &db) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, query, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
  }
  void store_lima() {
    s_->create_room_now(StoredRoom{"r", 0, 1, "x"});
    auto edit = make_message("r", 3, "lima new");
    edit.kind = K::edit;
    edit.target = 1;
    ASSERT_FALSE(append_sync(*s_, {make_message("r", 1, "lima old"), make_message("r", 2, "lima mike"), edit}));
  }
  void expect_lima() {
    const auto page = search({"lima"}, {"r"});
    ASSERT_EQ(page.hits.size(), 2u);
    EXPECT_EQ(page.hits[0].text, "lima mike");
    EXPECT_EQ(page.hits[1].text, "lima new");
    EXPECT_TRUE(search({"old"}, {"r"}).hits.empty());
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> s_;
};

// The commits never touch the index: it is its own file, and the messages' database has none.
TEST_F(SqliteSearchIndexTest, IsAFileOfItsOwnBesideTheMessages) {
  open();
  store_lima();
  expect_lima();
  close();
  EXPECT_TRUE(std::filesystem::exists(index_path()));
  EXPECT_EQ(count(path(), "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%search%'"), 0);
  EXPECT_EQ(count(index_path(), "SELECT COUNT(*) FROM docs"), 2);
  EXPECT_EQ(count(index_path(), "SELECT seq FROM marks WHERE room = 'r'"), 3);
}

// A document's id holds its message's millisecond (sqlite_search.cpp, block_bits): a millisecond
// holds 1,024 of them, the rest go on into the next one. Every message of a crowded millisecond is
// found, once, page by page, and those of the millisecond before still follow them.
TEST_F(SqliteSearchIndexTest, AMillisecondOfMoreMessagesThanItsIdsHoldIsFoundWhole) {
  open();
  s_->create_room_now(StoredRoom{"r", 0, 1, "x"});
  const std::int64_t t = 1'700'000'000'000;
  std::vector<core::Message> batch;
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    auto m = make_message("r", seq, "romeo early");
    m.ts = t - 1;
    batch.push_back(std::move(m));
  }
  for (std::uint64_t seq = 4; seq <= 1203; ++seq) {
    auto m = make_message("r", seq, "romeo crowd");
    m.ts = t;
    batch.push_back(std::move(m));
  }
  ASSERT_FALSE(append_sync(*s_, batch));
  std::set<std::uint64_t> seen;
  std::vector<std::uint64_t> order;
  std::optional<core::SearchCursor> before;
  for (int pages = 0; pages < 100; ++pages) {
    auto p = std::make_shared<std::promise<std::pair<std::error_code, SearchPage>>>();
    auto fut = p->get_future();
    s_->search(SearchQuery{.terms = {"romeo"}, .rooms = {"r"}, .limit = 50, .before = before},
               [p](std::error_code ec, SearchPage page) {
                 p->set_value({ec, std::move(page)});
               });
    auto [ec, page] = wait_for(fut);
    ASSERT_FALSE(ec);
    for (const auto& h : page.hits) {
      EXPECT_TRUE(seen.insert(h.seq).second) << "seq " << h.seq << " twice";
      order.push_back(h.seq);
    }
    if (!page.next) break;
    before = page.next;
  }
  EXPECT_EQ(seen.size(), 1203u);
  ASSERT_EQ(order.size(), 1203u);
  EXPECT_EQ((std::vector<std::uint64_t>(order.end() - 3, order.end())), (std::vector<std::uint64_t>{3, 2, 1}));
}

// The searcher reads new entries on its own (no search needed), and says how far it is: the rooms
// it has still to read (parley_search_unindexed_rooms) and the entries it read.
TEST_F(SqliteSearchIndexTest, ReadsNewEntriesOnItsOwnAndCountsThem) {
  open();
  s_->create_room_now(StoredRoom{"x", 0, 1, "x"});
  s_->create_room_now(StoredRoom{"y", 0, 1, "x"});
  auto react = make_message("x", 3, "thumbsup");
  react.kind = K::react;
  react.target = 1;
  ASSERT_FALSE(append_sync(
      *s_, {make_message("x", 1, "one"), make_message("y", 1, "two"), make_message("x", 2, "three"), react}));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until &&
         (s_->stats().search_indexed < 4 || s_->stats().search_unindexed_rooms > 0))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s_->stats().search_indexed, 4u);  // every entry, the react included (it indexes nothing)
  EXPECT_EQ(s_->stats().search_unindexed_rooms, 0u);
  close();
  EXPECT_EQ(count(index_path(), "SELECT COUNT(*) FROM docs"), 3);
}

// Edits and deletes in every shape a catch-up can read them (a message and its edits in one
// read, a message edited twice in one read, an edit then a delete, a delete of a message never
// indexed, many changes of many messages) leave an index that FTS5's own integrity check accepts
// (each document's postings as its text says, no posting left behind), and finds each message by
// its text now only.
TEST_F(SqliteSearchIndexTest, ChangesInEveryShapeLeaveAConsistentIndex) {
  open();
  s_->create_room_now(StoredRoom{"r", 0, 1, "x"});
  auto change = [](std::uint64_t seq, K kind, std::uint64_t target, std::string text) {
    auto m = make_message("r", seq, std::move(text));
    m.kind = kind;
    m.target = target;
    return m;
  };
  std::uint64_t seq = 0;
  std::vector<core::Message> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(make_message("r", ++seq, "papa " + std::to_string(i)));  // 1-50
  batch.push_back(change(++seq, K::edit, 1, "quebec one"));                                             // 51
  batch.push_back(change(++seq, K::edit, 1, "romeo one"));                                              // 52
  batch.push_back(change(++seq, K::edit, 2, "quebec two"));                                             // 53
  batch.push_back(change(++seq, K::remove, 2, ""));                                                     // 54
  ASSERT_FALSE(append_sync(*s_, batch));
  EXPECT_EQ(search({"romeo"}, {"r"}).hits.size(), 1u);  // read: 1-54
  batch.clear();
  for (std::uint64_t t = 3; t <= 40; ++t) batch.push_back(change(++seq, K::edit, t, "sierra " + std::to_string(t)));
  for (std::uint64_t t = 3; t <= 20; ++t) batch.push_back(change(++seq, K::edit, t, "tango " + std::to_string(t)));
  for (std::uint64_t t = 15; t <= 25; ++t) batch.push_back(change(++seq, K::remove, t, ""));
  batch.push_back(make_message("r", ++seq, "uniform"));
  batch.push_back(change(seq + 1, K::remove, seq, ""));  // deleted before it was ever read
  ++seq;
  ASSERT_FALSE(append_sync(*s_, batch));
  EXPECT_EQ(search({"tango"}, {"r"}, 100).hits.size(), 12u);   // 3-14: 15-20 deleted
  EXPECT_EQ(search({"sierra"}, {"r"}, 100).hits.size(), 15u);  // 26-40
  EXPECT_EQ(search({"papa"}, {"r"}, 100).hits.size(), 10u);    // 41-50
  EXPECT_TRUE(search({"quebec"}, {"r"}).hits.empty());
  EXPECT_TRUE(search({"uniform"}, {"r"}).hits.empty());
  close();
  sql(index_path(), "INSERT INTO docs_fts(docs_fts, rank) VALUES ('integrity-check', 1)");
  EXPECT_EQ(count(index_path(), "SELECT COUNT(*) FROM docs"), 1 + 12 + 15 + 10);
}

// A damaged index (broken pages behind a readable header: it opens, and its statements fail with
// SQLITE_CORRUPT) is made again from the messages by the first call that finds it so, and read
// again from the start: a search finds everything again within seconds, and FTS5's integrity check
// accepts the new file.
TEST_F(SqliteSearchIndexTest, ADamagedIndexIsMadeAgainFromTheMessages) {
  // Damaged from its second page on (FTS5's own tables unreadable: found when the store opens), or
  // in the leaf pages of its `docs` only (found by the searcher's first read of one of them).
  for (const bool whole : {true, false}) {
    SCOPED_TRACE(whole ? "from the second page" : "the docs' leaves");
    open();
    store_lima();
    std::vector<core::Message> filler;
    for (std::uint64_t i = 0; i < 3000; ++i)
      filler.push_back(make_message("f", i + 1, "xray yankee zulu " + std::to_string(i)));
    s_->create_room_now(StoredRoom{"f", 0, 1, "x"});
    ASSERT_FALSE(append_sync(*s_, filler));
    expect_lima();
    EXPECT_EQ(search({"zulu"}, {"f"}, 5).hits.size(), 5u);
    close();
    {
      std::vector<int> pages;  // 1-based, of 4096 bytes
      if (whole) {
        const auto size = static_cast<int>(std::filesystem::file_size(index_path()));
        for (int page = 2; page <= size / 4096; ++page) pages.push_back(page);
      } else {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(index_path().c_str(), &db), SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT pageno FROM dbstat WHERE name = 'docs' AND pagetype = 'leaf'", -1, &st,
                                     nullptr),
                  SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) pages.push_back(sqlite3_column_int(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
      }
      ASSERT_GT(pages.size(), 4u);
      std::fstream f(index_path(), std::ios::in | std::ios::out | std::ios::binary);
      const std::string junk(4096, '\xa5');
      for (int page : pages) {
        f.seekp(static_cast<std::streamoff>(page - 1) * 4096);
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
      }
    }
    open();
    std::size_t hits = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (hits != 2 && std::chrono::steady_clock::now() < until) {
      auto [ec, page] = try_search({"lima"}, {"r"});
      hits = ec ? 0 : page.hits.size();  // the call that finds the damage answers store_failed
      if (hits != 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(hits, 2u);
    expect_lima();
    EXPECT_EQ(search({"zulu"}, {"f"}, 5).hits.size(), 5u);
    close();
    sql(index_path(), "INSERT INTO docs_fts(docs_fts, rank) VALUES ('integrity-check', 1)");
    EXPECT_EQ(count(index_path(), "SELECT seq FROM marks WHERE room = 'r'"), 3);
    EXPECT_EQ(count(index_path(), "SELECT seq FROM marks WHERE room = 'f'"), 3000);
    for (const char* tail : {"", "-wal", "-shm"}) std::filesystem::remove(path().string() + tail);
    for (const char* tail : {"", "-wal", "-shm"}) std::filesystem::remove(index_path().string() + tail);
  }
}

// A lost index, or one of another version, is made again from the messages.
TEST_F(SqliteSearchIndexTest, ALostOrForeignIndexIsMadeAgain) {
  open();
  store_lima();
  close();
  for (const char* tail : {"", "-wal", "-shm"}) std::filesystem::remove(index_path().string() + tail);
  open();
  expect_lima();
  close();
  sql(index_path(), "DELETE FROM docs; PRAGMA user_version = 99");
  open();
  expect_lima();
}

// What a search returns is the messages' now: a message changed behind the index's back (here by
// hand, with no entry for the index to read) is shown as it is, or not at all.
TEST_F(SqliteSearchIndexTest, AHitIsTheMessageAsItIsNowNeverTheIndexsCopy) {
  open();
  store_lima();
  expect_lima();
  close();
  sql(path(), "UPDATE messages SET text = 'lima changed' WHERE room = 'r' AND seq = 2");
  open();
  auto page = search({"mike"}, {"r"});  // found by its indexed text, shown by its text now
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(page.hits[0].text, "lima changed");
  close();
  sql(path(), "UPDATE messages SET text = '', deleted = 1 WHERE room = 'r' AND seq = 2");
  open();
  page = search({"lima"}, {"r"}, 1);
  ASSERT_EQ(page.hits.size(), 0u);  // the newest hit is gone: left out, its place kept for the next page
  ASSERT_TRUE(page.next);
  auto p = std::make_shared<std::promise<SearchPage>>();
  auto fut = p->get_future();
  s_->search(SearchQuery{.terms = {"lima"}, .rooms = {"r"}, .limit = 1, .before = page.next},
             [p](std::error_code, SearchPage next) { p->set_value(std::move(next)); });
  const auto next = wait_for(fut);
  ASSERT_EQ(next.hits.size(), 1u);
  EXPECT_EQ(next.hits[0].text, "lima new");
}

// A room of more entries than the searcher reads in one transaction is caught up to its end before
// a search of it, its oldest message found; a stop in the middle of reading loses nothing.
TEST_F(SqliteSearchIndexTest, ALongBacklogIsReadToItsEndBeforeASearch) {
  open();
  s_->create_room_now(StoredRoom{"big", 0, 1, "x"});
  std::vector<core::Message> batch;
  for (std::uint64_t seq = 1; seq <= 20000; ++seq)
    batch.push_back(make_message("big", seq, seq == 1 ? "oldest november" : "filler " + std::to_string(seq)));
  ASSERT_FALSE(append_sync(*s_, batch));
  close();  // perhaps before the searcher read them all
  open();
  const auto page = search({"november"}, {"big"});
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(page.hits[0].seq, 1u);
  close();
  EXPECT_EQ(count(index_path(), "SELECT COUNT(*) FROM docs"), 20000);
}

// Migration 13 removes the index migration 10 kept in the messages' database (triggers and all),
// and the messages it indexed are found through the new one.
TEST_F(SqliteSearchIndexTest, TheOldInDatabaseIndexIsRemoved) {
  open();
  store_lima();
  close();
  for (const char* tail : {"", "-wal", "-shm"}) std::filesystem::remove(index_path().string() + tail);
  // Back to version 12: migration 10's index as it was (and 14 and 15 undone).
  sql(path(),
      "ALTER TABLE messages DROP COLUMN reactions; ALTER TABLE messages DROP COLUMN reactions_spill; "
      "ALTER TABLE messages DROP COLUMN last_edit; CREATE INDEX messages_target ON messages(room, target) WHERE target "
      "> 0; "
      "CREATE TABLE search_docs (id INTEGER PRIMARY KEY, room TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT "
      "NULL, UNIQUE (room, seq)); "
      "CREATE VIRTUAL TABLE message_search USING fts5(text, content='', tokenize='unicode61 remove_diacritics 2'); "
      "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN NEW.kind = 0 AND NEW.deleted = 0 BEGIN "
      "INSERT INTO search_docs(room, seq, ts) VALUES (NEW.room, NEW.seq, NEW.ts); "
      "INSERT INTO message_search(rowid, text) VALUES (last_insert_rowid(), NEW.text); END; "
      "CREATE TRIGGER messages_search_update AFTER UPDATE OF text, deleted ON messages WHEN OLD.kind = 0 BEGIN "
      "SELECT 1; END; "
      "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages WHEN OLD.kind = 0 BEGIN SELECT 1; END; "
      "PRAGMA user_version = 12");
  open();
  expect_lima();
  ASSERT_FALSE(append_sync(*s_, {make_message("r", 4, "lima oscar")}));
  EXPECT_EQ(search({"oscar"}, {"r"}).hits.size(), 1u);
  close();
  EXPECT_EQ(count(path(), "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%search%'"), 0);
  EXPECT_EQ(count(path(), "PRAGMA user_version"), 15);
}

}  // namespace
}  // namespace parley::contract
