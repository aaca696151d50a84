// The Store's search contract (src/store/store.hpp: search), one typed suite over every
// implementation: what history shows is what search finds (edits by their new text, deletes
// never), in the rooms asked for only, newest first, page by page.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>

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
  for (std::vector<std::string> terms : std::vector<std::vector<std::string>>{
           {"a\"b"}, {"\""}, {"x*"}, {"NEAR("}, {"it's"}, {"\\"}, {"a:*"}, {"'", "&", "|"}, {"text:near"}}) {
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

// SQLite: migration 10 indexes the messages stored before it (a database of an older version).
TEST(SqliteSearchMigration, IndexesTheMessagesStoredBefore) {
  char tmpl[] = "/tmp/parley-search-XXXXXX";
  ASSERT_TRUE(::mkdtemp(tmpl));
  const std::filesystem::path path = std::filesystem::path(tmpl) / "parley.db";
  auto open = [&] { return std::make_unique<store::SqliteStore>(store::SqliteOptions{path, "NORMAL", 100000, 10000}); };
  {
    auto s = open();
    s->create_room_now(StoredRoom{"r", 0, 1, "x"});
    auto edit = make_message("r", 3, "lima new");
    edit.kind = K::edit;
    edit.target = 1;
    ASSERT_FALSE(append_sync(*s, {make_message("r", 1, "lima old"), make_message("r", 2, "lima mike"), edit}));
  }
  {
    // Back to version 9: no index (and migration 11's files undone).
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TRIGGER messages_files_attach; DROP TABLE files; DROP TABLE file_trash; ALTER TABLE "
                           "messages DROP COLUMN files; "
                           "DROP TRIGGER messages_search_insert; DROP TRIGGER messages_search_update; DROP TRIGGER "
                           "messages_search_delete; DROP TABLE message_search; DROP TABLE search_docs; PRAGMA "
                           "user_version = 9",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = open();
  auto p = std::make_shared<std::promise<SearchPage>>();
  auto fut = p->get_future();
  s->search(SearchQuery{.terms = {"lima"}, .rooms = {"r"}, .limit = 10},
            [p](std::error_code, SearchPage page) { p->set_value(std::move(page)); });
  const auto page = wait_for(fut);
  ASSERT_EQ(page.hits.size(), 2u);
  EXPECT_EQ(page.hits[0].text, "lima mike");
  EXPECT_EQ(page.hits[1].text, "lima new");
  s.reset();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace parley::contract
