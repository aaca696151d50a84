// docs/protocol.md is the wire contract: its examples are checked against the codec.
//  - every client line ("C: …") parses, unless the next server line is an error the codec itself
//    produces (bad_json, bad_request, unknown_type): then it fails with that code, message and ref;
//  - every server line ("S: …") is one JSON object with a type, and byte for byte what the
//    encoder of that type (protocol/events.hpp) writes from the example's own values;
//  - the error table lists every errc code, and the close-code table only codes a peer may send.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <deque>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/message.hpp"
#include "protocol/codec.hpp"
#include "protocol/errc.hpp"
#include "protocol/events.hpp"
#include "protocol/http_request.hpp"
#include "protocol/ws_frame.hpp"

namespace {

namespace json = boost::json;
using parley::protocol::errc;

struct Line {
  int number;
  char who;  // 'C' or 'S'
  std::string text;
};

std::string read_doc() {
  std::ifstream in(PARLEY_DOCS_DIR "/protocol.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Line> example_lines(const std::string& doc) {
  std::vector<Line> out;
  std::istringstream in(doc);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.size() > 3 && (line[0] == 'C' || line[0] == 'S') && line[1] == ':' && line[2] == ' ')
      out.push_back({n, line[0], line.substr(3)});
  }
  return out;
}

std::optional<errc> errc_named(std::string_view name) {
  for (int i = static_cast<int>(errc::bad_json); i <= static_cast<int>(errc::internal); ++i) {
    if (parley::protocol::code_name(static_cast<errc>(i)) == name) return static_cast<errc>(i);
  }
  return std::nullopt;
}

class ProtocolDoc : public ::testing::Test {
 protected:
  void SetUp() override {
    doc_ = read_doc();
    ASSERT_FALSE(doc_.empty()) << "cannot read " PARLEY_DOCS_DIR "/protocol.md";
    lines_ = example_lines(doc_);
  }
  std::string doc_;
  std::vector<Line> lines_;
};

TEST_F(ProtocolDoc, HasExamples) {
  int clients = 0, servers = 0;
  for (const auto& l : lines_) (l.who == 'C' ? clients : servers)++;
  EXPECT_GE(clients, 10);
  EXPECT_GE(servers, 10);
}

TEST_F(ProtocolDoc, ClientExamplesParseOrFailAsDocumented) {
  for (std::size_t i = 0; i < lines_.size(); ++i) {
    const Line& c = lines_[i];
    if (c.who != 'C') continue;
    SCOPED_TRACE("docs/protocol.md:" + std::to_string(c.number) + ": " + c.text);
    const auto result = parley::protocol::parse_request(c.text);
    // The reply documented right after it, if it is an error the codec is responsible for.
    std::optional<json::object> codec_error;
    if (i + 1 < lines_.size() && lines_[i + 1].who == 'S') {
      boost::system::error_code ec;
      json::value reply = json::parse(lines_[i + 1].text, ec);
      if (!ec && reply.is_object() && reply.as_object().contains("code") && reply.at("type") == "error") {
        const auto code = errc_named(std::string(reply.at("code").as_string()));
        if (code == errc::bad_json || code == errc::bad_request || code == errc::unknown_type)
          codec_error = reply.as_object();
      }
    }
    if (!codec_error) {
      const auto* req = std::get_if<parley::protocol::Request>(&result);
      ASSERT_NE(req, nullptr) << parley::protocol::code_name(std::get<parley::protocol::RequestError>(result).code)
                              << ": " << std::get<parley::protocol::RequestError>(result).message;
      // The request's ref comes back verbatim.
      const json::value v = json::parse(c.text);
      if (v.as_object().contains("ref")) {
        EXPECT_EQ(json::parse(req->ref), v.at("ref"));
      }
      continue;
    }
    const auto* err = std::get_if<parley::protocol::RequestError>(&result);
    ASSERT_NE(err, nullptr) << "documented as an error, but it parses";
    EXPECT_EQ(parley::protocol::code_name(err->code), std::string_view(codec_error->at("code").as_string()));
    EXPECT_EQ(err->message, std::string_view(codec_error->at("message").as_string()));
    if (codec_error->contains("ref")) {
      ASSERT_FALSE(err->ref.empty());
      EXPECT_EQ(json::parse(err->ref), codec_error->at("ref"));
    } else {
      EXPECT_TRUE(err->ref.empty());
    }
  }
}

TEST_F(ProtocolDoc, ServerExamplesAreJsonObjectsWithAType) {
  for (const Line& s : lines_) {
    if (s.who != 'S') continue;
    SCOPED_TRACE("docs/protocol.md:" + std::to_string(s.number) + ": " + s.text);
    boost::system::error_code ec;
    const json::value v = json::parse(s.text, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(v.is_object());
    ASSERT_TRUE(v.as_object().contains("type"));
    EXPECT_TRUE(v.at("type").is_string());
  }
}

TEST_F(ProtocolDoc, MessageExamplesAreWhatMessageEventWrites) {
  int checked = 0;
  for (const Line& s : lines_) {
    if (s.who != 'S') continue;
    const json::value v = json::parse(s.text);
    if (v.at("type") != "message") continue;
    SCOPED_TRACE("docs/protocol.md:" + std::to_string(s.number));
    const auto& o = v.as_object();
    parley::core::Message m;
    m.room = std::string(o.at("room").as_string());
    m.seq = o.at("seq").to_number<std::uint64_t>();
    m.from = std::string(o.at("from").as_string());
    m.text = std::string(o.at("text").as_string());
    m.ts = o.at("ts").to_number<std::int64_t>();
    if (o.contains("cid")) m.cid = std::string(o.at("cid").as_string());
    if (o.contains("uid")) m.from_id = std::string(o.at("uid").as_string());
    if (o.contains("reply_to")) m.target = o.at("reply_to").to_number<std::uint64_t>();  // a reply
    if (o.contains("files")) m.files = json::serialize(o.at("files"));                   // attachments
    EXPECT_EQ(parley::core::message_event(m), s.text);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST_F(ProtocolDoc, ErrorExamplesAreWhatErrorEventWrites) {
  int checked = 0;
  for (const Line& s : lines_) {
    if (s.who != 'S') continue;
    const json::value v = json::parse(s.text);
    if (v.at("type") != "error") continue;
    SCOPED_TRACE("docs/protocol.md:" + std::to_string(s.number));
    const auto& o = v.as_object();
    const auto code = errc_named(std::string(o.at("code").as_string()));
    ASSERT_TRUE(code) << "unknown code " << o.at("code");
    // Members after type, code, message and ref are the event's extra members, in order.
    std::string extra;
    for (const auto& kv : o) {
      if (kv.key() == "type" || kv.key() == "code" || kv.key() == "message" || kv.key() == "ref") continue;
      if (!extra.empty()) extra += ",";
      extra += json::serialize(json::string(kv.key())) + ":" + json::serialize(kv.value());
    }
    const std::string ref = o.contains("ref") ? json::serialize(o.at("ref")) : std::string();
    EXPECT_EQ(parley::protocol::error_event(*code, std::string_view(o.at("message").as_string()), ref, extra), s.text);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

namespace {

std::string_view str(const json::object& o, std::string_view key) { return o.at(key).as_string(); }
// An optional string member: empty when absent.
std::string_view opt(const json::object& o, std::string_view key) {
  return o.contains(key) ? str(o, key) : std::string_view();
}
bool flag(const json::object& o, std::string_view key) { return o.contains(key) && o.at(key).as_bool(); }
std::string ref_of(const json::object& o) { return o.contains("ref") ? json::serialize(o.at("ref")) : std::string(); }

// A message, an edit, a delete, a react or an unreact (`kind`: the event's type, or a history
// entry's `kind`). A message's target is its reply_to; a reaction's text its emoji.
parley::protocol::MessageFields message_of(const json::object& o, std::string_view kind = {}) {
  static std::deque<std::string> reactions;  // the fields' views of them outlive the call
  static std::deque<std::string> files;
  if (o.contains("kind")) kind = str(o, "kind");
  const char* target = kind.empty() ? "reply_to" : "target";
  reactions.push_back(o.contains("reactions") ? json::serialize(o.at("reactions")) : std::string());
  files.push_back(o.contains("files") ? json::serialize(o.at("files")) : std::string());
  return {str(o, "room"),
          o.at("seq").to_number<std::uint64_t>(),
          str(o, "from"),
          o.contains("emoji") ? opt(o, "emoji") : opt(o, "text"),
          o.at("ts").to_number<std::int64_t>(),
          opt(o, "cid"),
          opt(o, "uid"),
          kind,
          o.contains(target) ? o.at(target).to_number<std::uint64_t>() : 0,
          o.contains("edited") ? o.at("edited").to_number<std::int64_t>() : 0,
          flag(o, "deleted"),
          reactions.back(),
          files.back()};
}

// What the encoder of the event's type writes from the event's own values; nullopt for a type
// with no encoder.
std::optional<std::string> encode_like(const json::object& o) {
  namespace p = parley::protocol;
  const std::string_view type = str(o, "type");
  const std::string ref = ref_of(o);
  if (type == "welcome") {
    const auto& l = o.at("limits").as_object();
    auto n = [&](std::string_view k) { return l.at(k).to_number<std::uint64_t>(); };
    const p::WelcomeLimits limits{n("max_text_length"),
                                  n("max_frame_bytes"),
                                  l.at("send_rate").to_number<std::int64_t>(),
                                  l.at("send_burst").to_number<std::int64_t>(),
                                  n("history_limit"),
                                  n("max_rooms"),
                                  n("typing_interval_ms"),
                                  n("max_file_bytes"),
                                  n("max_files_per_message"),
                                  n("max_reaction_emoji"),
                                  n("max_reactions_per_user")};
    return p::welcome_event(str(o, "user"), str(o, "uid"), str(o, "session"),
                            o.at("server_time").to_number<std::int64_t>(), limits, ref);
  }
  if (type == "pong") return p::pong_event(o.at("server_time").to_number<std::int64_t>(), ref);
  if (type == "rooms") {
    std::vector<p::RoomSummary> rooms;
    for (const auto& r : o.at("rooms").as_array()) {
      p::RoomSummary item{str(r.as_object(), "room"),
                          r.at("members").to_number<std::uint64_t>(),
                          r.at("last_seq").to_number<std::uint64_t>(),
                          flag(r.as_object(), "private"),
                          flag(r.as_object(), "direct"),
                          opt(r.as_object(), "with"),
                          opt(r.as_object(), "role"),
                          opt(r.as_object(), "title"),
                          opt(r.as_object(), "topic")};
      if (r.as_object().contains("last_read")) {
        item.read_state = true;
        item.last_read = r.at("last_read").to_number<std::uint64_t>();
        item.unread = r.at("unread").to_number<std::uint64_t>();
        item.mentions = r.at("mentions").to_number<std::uint64_t>();
      }
      rooms.push_back(item);
    }
    return p::rooms_event(rooms, o.contains("next") ? str(o, "next") : std::string_view(), ref);
  }
  if (type == "created")
    return p::created_event(str(o, "room"), str(o, "by"), ref, flag(o, "private"), flag(o, "direct"), opt(o, "title"),
                            opt(o, "topic"));
  if (type == "dm") return p::dm_event(str(o, "room"), str(o, "user"), ref);
  if (type == "room_deleted") return p::room_deleted_event(str(o, "room"), opt(o, "by"), ref);
  if (type == "room_updated")
    return p::room_updated_event(str(o, "room"), str(o, "title"), str(o, "topic"), opt(o, "by"), ref);
  if (type == "joined") {
    std::vector<std::string_view> members;
    for (const auto& m : o.at("members").as_array()) members.push_back(m.as_string());
    return p::joined_event(str(o, "room"), o.at("last_seq").to_number<std::uint64_t>(), members,
                           o.at("member_count").to_number<std::uint64_t>(), flag(o, "truncated"), ref,
                           o.contains("role") ? str(o, "role") : std::string_view(), flag(o, "private"),
                           opt(o, "title"), opt(o, "topic"));
  }
  if (type == "members") {
    std::vector<std::string_view> members;
    for (const auto& m : o.at("members").as_array()) members.push_back(m.as_string());
    return p::members_event(str(o, "room"), members, o.contains("next") ? str(o, "next") : std::string_view(), ref);
  }
  if (type == "roster") {
    std::vector<p::RosterEntry> members;
    for (const auto& m : o.at("members").as_array())
      members.push_back({str(m.as_object(), "user"), opt(m.as_object(), "role"), flag(m.as_object(), "online")});
    return p::roster_event(str(o, "room"), members, opt(o, "next"), ref);
  }
  if (type == "left") return p::left_event(str(o, "room"), ref);
  if (type == "read")
    return p::read_event(str(o, "room"), o.at("seq").to_number<std::uint64_t>(),
                         o.at("unread").to_number<std::uint64_t>(), o.at("mentions").to_number<std::uint64_t>(), ref);
  if (type == "seen") {
    std::vector<p::SeenEntry> reads;
    for (const auto& r : o.at("reads").as_array())
      reads.push_back({str(r.as_object(), "user"), r.at("seq").to_number<std::uint64_t>()});
    return p::seen_event(str(o, "room"), reads);
  }
  if (type == "removed")
    return p::removed_event(str(o, "room"), str(o, "user"), o.contains("by") ? str(o, "by") : std::string_view(),
                            flag(o, "banned"), ref);
  if (type == "invited") return p::invited_event(str(o, "room"), str(o, "user"), ref, opt(o, "by"));
  if (type == "unbanned") return p::unbanned_event(str(o, "room"), str(o, "user"), ref);
  if (type == "role") return p::role_event(str(o, "room"), str(o, "user"), str(o, "role"), ref);
  if (type == "ack")
    return p::ack_event(str(o, "room"), str(o, "cid"), o.at("seq").to_number<std::uint64_t>(),
                        o.at("ts").to_number<std::int64_t>(), ref);
  if (type == "message") return p::message_event(message_of(o));
  if (type == "edit" || type == "delete" || type == "react" || type == "unreact")
    return p::message_event(message_of(o, type));
  if (type == "presence") return p::presence_event(str(o, "room"), str(o, "user"), str(o, "state") == "joined");
  if (type == "typing") return p::typing_event(str(o, "room"), str(o, "user"));
  if (type == "history") {
    std::vector<p::MessageFields> page;
    for (const auto& m : o.at("messages").as_array()) page.push_back(message_of(m.as_object()));
    return p::history_event(str(o, "room"), page, o.at("has_more").as_bool(), ref);
  }
  if (type == "search_results") {
    std::vector<p::SearchHitFields> hits;
    for (const auto& v : o.at("hits").as_array()) {
      const auto& h = v.as_object();
      hits.push_back({str(h, "room"), h.at("seq").to_number<std::uint64_t>(), str(h, "from"),
                      h.contains("uid") ? str(h, "uid") : std::string_view(), str(h, "text"),
                      h.at("ts").to_number<std::int64_t>()});
    }
    return p::search_results_event(str(o, "q"), hits, o.contains("next") ? str(o, "next") : std::string_view(), ref);
  }
  if (type == "admin_unwatched") return p::admin_unwatched_event(ref);
  if (type == "admin_stats") {
    std::vector<p::AdminNode> nodes;
    for (const auto& v : o.at("nodes").as_array()) {
      const auto& n = v.as_object();
      const auto& closes = n.at("closes").as_object();
      nodes.push_back({std::string(str(n, "id")), flag(n, "up"), flag(n, "self"), flag(n, "draining"),
                       n.at("heard_ms_ago").to_number<std::int64_t>(), n.at("connections").to_number<std::uint64_t>(),
                       n.at("rooms").to_number<std::uint64_t>(), n.at("deliveries_per_s").to_number<double>(),
                       n.at("commit_p99_ms").to_number<double>(), n.at("broker_catchups").to_number<std::uint64_t>(),
                       n.at("rate_limited").to_number<std::uint64_t>(),
                       closes.at("rate_limit").to_number<std::uint64_t>(),
                       closes.at("slow_consumer").to_number<std::uint64_t>()});
    }
    std::vector<p::AdminRoom> rooms;
    for (const auto& v : o.at("rooms").as_array()) {
      const auto& r = v.as_object();
      rooms.push_back({std::string(str(r, "room")), r.at("members").to_number<std::uint64_t>(),
                       r.at("members_here").to_number<std::uint64_t>(), r.at("last_seq").to_number<std::uint64_t>()});
    }
    return p::admin_stats_event(o.at("time").to_number<std::int64_t>(), nodes, rooms, ref);
  }
  if (type == "error") {
    std::string extra;
    for (const auto& kv : o) {
      if (kv.key() == "type" || kv.key() == "code" || kv.key() == "message" || kv.key() == "ref") continue;
      if (!extra.empty()) extra += ",";
      extra += json::serialize(json::string(kv.key())) + ":" + json::serialize(kv.value());
    }
    const auto code = errc_named(str(o, "code"));
    if (!code) return std::nullopt;
    return p::error_event(*code, str(o, "message"), ref, extra);
  }
  return std::nullopt;
}

}  // namespace

TEST_F(ProtocolDoc, ServerExamplesAreWhatTheirEncodersWrite) {
  std::set<std::string> types;
  for (const Line& s : lines_) {
    if (s.who != 'S') continue;
    SCOPED_TRACE("docs/protocol.md:" + std::to_string(s.number) + ": " + s.text);
    const json::value v = json::parse(s.text);
    const auto encoded = encode_like(v.as_object());
    ASSERT_TRUE(encoded) << "no encoder in protocol/events.hpp writes this event";
    EXPECT_EQ(*encoded, s.text);
    types.insert(std::string(v.at("type").as_string()));
  }
  // Every event type the server sends has an example.
  for (const char* type : {"welcome",  "pong",     "rooms",   "created",     "room_deleted",
                           "joined",   "members",  "left",    "ack",         "message",
                           "presence", "typing",   "history", "error",       "removed",
                           "invited",  "unbanned", "role",    "dm",          "room_updated",
                           "roster",   "edit",     "delete",  "admin_stats", "admin_unwatched",
                           "read",     "seen",     "react",   "unreact",     "search_results"})
    EXPECT_TRUE(types.count(type)) << "docs/protocol.md has no example of " << type;
}

TEST_F(ProtocolDoc, ErrorTableListsEveryCode) {
  std::set<std::string> documented;
  const std::regex row(R"(^\| `([a-z_]+)` \|)");
  std::istringstream in(doc_);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, row)) documented.insert(m[1]);
  }
  for (int i = static_cast<int>(errc::bad_json); i <= static_cast<int>(errc::internal); ++i) {
    const std::string name(parley::protocol::code_name(static_cast<errc>(i)));
    EXPECT_TRUE(documented.count(name)) << name << " is missing from the error table of docs/protocol.md";
  }
  // Codes documented ahead of the code (cluster mode) are allowed; list them so a reader sees them.
  for (const auto& name : documented) {
    if (!errc_named(name)) std::cout << "[ note ] documented but not in errc: " << name << "\n";
  }
}

TEST_F(ProtocolDoc, HttpErrorTableListsEveryRefusal) {
  // Rows "| status | `code` |" of the table of HTTP errors.
  std::set<std::pair<int, std::string>> documented;
  const std::regex row(R"(^\| ([1-5][0-9][0-9]) \| `([a-z_]+)` \|)");
  std::istringstream in(doc_);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, row)) documented.emplace(std::stoi(m[1]), m[2]);
  }
  using parley::protocol::RequestRefusal;
  std::vector<parley::protocol::HttpAnswer> answers{parley::protocol::folded_header_answer};
  for (int i = static_cast<int>(RequestRefusal::none) + 1; i <= static_cast<int>(RequestRefusal::bad_host); ++i)
    answers.push_back(parley::protocol::answer_for(static_cast<RequestRefusal>(i)));
  for (const auto& a : answers) {
    EXPECT_TRUE(documented.count({a.status, std::string(a.code)}))
        << a.status << " " << a.code << " is missing from the HTTP error table of docs/protocol.md";
  }
}

TEST_F(ProtocolDoc, CloseCodeTableHasOnlySendableCodes) {
  const std::regex row(R"(^\| (1[0-9]{3}|[34][0-9]{3}) \|)");
  std::istringstream in(doc_);
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    const int code = std::stoi(m[1]);
    EXPECT_TRUE(parley::protocol::is_valid_close_code(static_cast<std::uint16_t>(code))) << code;
    ++rows;
  }
  EXPECT_GE(rows, 5);
}

}  // namespace
