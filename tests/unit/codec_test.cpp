#include "protocol/codec.hpp"
#include "protocol/events.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "protocol/utf8.hpp"

namespace {

namespace json = boost::json;
using parley::protocol::errc;
using parley::protocol::parse_request;
using parley::protocol::Request;
using parley::protocol::RequestError;
using parley::protocol::RequestType;

Request ok(std::string_view frame) {
  auto r = parse_request(frame);
  if (auto* e = std::get_if<RequestError>(&r)) {
    ADD_FAILURE() << "parse_request(" << frame << ") failed: " << parley::protocol::code_name(e->code) << ": "
                  << e->message;
    return {};
  }
  return std::get<Request>(r);
}

RequestError err(std::string_view frame) {
  auto r = parse_request(frame);
  if (auto* e = std::get_if<RequestError>(&r)) return *e;
  ADD_FAILURE() << "parse_request(" << frame << ") succeeded";
  return {errc::internal, {}, {}};
}

// ---------------------------------------------------------------------------------------------
// Every request type

TEST(Codec, Hello) {
  const Request r = ok(R"({"type":"hello","name":"ada"})");
  EXPECT_EQ(r.type, RequestType::hello);
  EXPECT_EQ(r.name, "ada");
  EXPECT_TRUE(r.ref.empty());
}

TEST(Codec, HelloNameIsUnescaped) {
  EXPECT_EQ(ok(R"({"type":"hello","name":"a\"d\u00e9\ud83d\ude00"})").name, "a\"d\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(Codec, Rooms) { EXPECT_EQ(ok(R"({"type":"rooms"})").type, RequestType::rooms); }

TEST(Codec, Ping) { EXPECT_EQ(ok(R"({"type":"ping"})").type, RequestType::ping); }

TEST(Codec, Create) {
  const Request r = ok(R"({"type":"create","room":"ops"})");
  EXPECT_EQ(r.type, RequestType::create);
  EXPECT_EQ(r.room, "ops");
}

TEST(Codec, JoinWithoutSince) {
  const Request r = ok(R"({"type":"join","room":"general"})");
  EXPECT_EQ(r.type, RequestType::join);
  EXPECT_EQ(r.room, "general");
  EXPECT_FALSE(r.since.has_value());
}

TEST(Codec, JoinWithSince) {
  EXPECT_EQ(ok(R"({"type":"join","room":"general","since":40})").since, 40u);
  EXPECT_EQ(ok(R"({"type":"join","room":"general","since":0})").since, 0u);
  EXPECT_EQ(ok(R"({"type":"join","room":"g","since":18446744073709551615})").since, 18446744073709551615ull);
  EXPECT_EQ(ok(R"({"type":"join","room":"g","since":41.0})").since, 41u);  // an integral double is an integer
  EXPECT_EQ(ok(R"({"type":"join","room":"g","since":4e1})").since, 40u);
}

TEST(Codec, JoinWithNullSinceIsAbsent) {
  EXPECT_FALSE(ok(R"({"type":"join","room":"g","since":null})").since.has_value());
}

TEST(Codec, Leave) {
  const Request r = ok(R"({"type":"leave","room":"general"})");
  EXPECT_EQ(r.type, RequestType::leave);
  EXPECT_EQ(r.room, "general");
}

TEST(Codec, Send) {
  const Request r = ok(R"({"type":"send","room":"general","cid":"c-17","text":"hi \u2603\n"})");
  EXPECT_EQ(r.type, RequestType::send);
  EXPECT_EQ(r.room, "general");
  EXPECT_EQ(r.cid, "c-17");
  EXPECT_EQ(r.text, "hi \xE2\x98\x83\n");
}

TEST(Codec, SendWithEmptyTextParses) {
  // Emptiness is the node's rule (errc::empty_text), not the codec's.
  EXPECT_EQ(ok(R"({"type":"send","room":"r","cid":"c","text":""})").text, "");
}

TEST(Codec, Typing) {
  const Request r = ok(R"({"type":"typing","room":"general"})");
  EXPECT_EQ(r.type, RequestType::typing);
  EXPECT_EQ(r.room, "general");
}

TEST(Codec, HistoryWithBeforeAndLimit) {
  const Request r = ok(R"({"type":"history","room":"general","before":41,"limit":50})");
  EXPECT_EQ(r.type, RequestType::history);
  EXPECT_EQ(r.room, "general");
  EXPECT_EQ(r.before, 41u);
  EXPECT_EQ(r.limit, 50u);
}

TEST(Codec, HistoryWithoutBeforeAndLimit) {
  const Request r = ok(R"({"type":"history","room":"general"})");
  EXPECT_FALSE(r.before.has_value());
  EXPECT_FALSE(r.limit.has_value());
}

// update_room: a title or topic left out is nullopt (stays as it is), "" clears it.
TEST(Codec, UpdateRoomTellsAnAbsentFieldFromAnEmptyOne) {
  Request r = ok(R"({"type":"update_room","room":"ops","title":"Operations"})");
  EXPECT_EQ(r.type, RequestType::update_room);
  EXPECT_EQ(r.room, "ops");
  EXPECT_EQ(r.title, std::optional<std::string>("Operations"));
  EXPECT_FALSE(r.topic.has_value());
  r = ok(R"({"type":"update_room","room":"ops","topic":"","title":null})");
  EXPECT_FALSE(r.title.has_value());
  EXPECT_EQ(r.topic, std::optional<std::string>(""));
  EXPECT_EQ(err(R"({"type":"update_room","room":"ops","title":7})").code, errc::bad_request);
  EXPECT_EQ(err(R"({"type":"update_room","title":"x"})").code, errc::bad_request);
  r = ok(R"({"type":"create","room":"ops","title":"Operations","topic":"deploys"})");
  EXPECT_EQ(r.title, std::optional<std::string>("Operations"));
  EXPECT_EQ(r.topic, std::optional<std::string>("deploys"));
}

TEST(Codec, Read) {
  auto r = ok(R"({"type":"read","room":"desk","seq":41,"ref":5})");
  EXPECT_EQ(r.type, RequestType::read);
  EXPECT_EQ(r.room, "desk");
  EXPECT_EQ(r.seq, 41u);
  EXPECT_EQ(r.ref, "5");
  EXPECT_EQ(err(R"({"type":"read","room":"desk","seq":0})").code, errc::bad_request);
  EXPECT_EQ(err(R"({"type":"read","room":"desk"})").code, errc::bad_request);
  EXPECT_EQ(err(R"({"type":"read","room":"desk","seq":"41"})").code, errc::bad_request);
  EXPECT_EQ(err(R"({"type":"read","seq":41})").code, errc::bad_request);
}

TEST(Codec, DeleteRoomAndRoster) {
  EXPECT_EQ(ok(R"({"type":"delete_room","room":"ops"})").type, RequestType::delete_room);
  EXPECT_EQ(err(R"({"type":"delete_room"})").code, errc::bad_request);
  const Request r = ok(R"({"type":"roster","room":"ops","after":"+ada","limit":2})");
  EXPECT_EQ(r.type, RequestType::roster);
  EXPECT_EQ(r.after, "+ada");
  EXPECT_EQ(r.limit, std::optional<std::uint64_t>(2));
}

TEST(Codec, TypeNames) {
  for (auto t : {RequestType::hello, RequestType::rooms, RequestType::create, RequestType::join, RequestType::leave,
                 RequestType::send, RequestType::typing, RequestType::history, RequestType::ping,
                 RequestType::delete_room, RequestType::roster}) {
    const std::string name(parley::protocol::type_name(t));
    std::string frame = R"({"type":")" + name + R"(","name":"n","room":"r","cid":"c","text":"t"})";
    EXPECT_EQ(ok(frame).type, t) << name;
  }
}

TEST(Codec, UnknownFieldsAreIgnored) {
  const Request r = ok(R"({"type":"send","room":"r","cid":"c","text":"t","future":{"x":[1,2,3]},"n":null})");
  EXPECT_EQ(r.text, "t");
  EXPECT_EQ(ok(R"({"v":2,"type":"ping","extra":true})").type, RequestType::ping);
}

TEST(Codec, FieldsOfOtherTypesAreIgnored) {
  // `since` on a send means nothing: it must not be validated or stored.
  const Request r = ok(R"({"type":"send","room":"r","cid":"c","text":"t","since":"x","name":5})");
  EXPECT_FALSE(r.since.has_value());
  EXPECT_TRUE(r.name.empty());
}

TEST(Codec, WhitespaceAroundJson) { EXPECT_EQ(ok(" \n\t{ \"type\" : \"ping\" }\r\n ").type, RequestType::ping); }

// ---------------------------------------------------------------------------------------------
// ref

TEST(Codec, StringRefIsEchoedAsJsonText) {
  EXPECT_EQ(ok(R"({"type":"ping","ref":"r-1"})").ref, R"("r-1")");
  EXPECT_EQ(ok(R"({"type":"ping","ref":""})").ref, R"("")");
}

TEST(Codec, StringRefWithEscapesStaysValidJson) {
  const std::string ref = ok(R"({"type":"ping","ref":"a\"b\\c\u0001\u00e9"})").ref;
  EXPECT_EQ(json::parse(ref), json::value("a\"b\\c\x01\xC3\xA9"));
}

TEST(Codec, IntegerRefIsEchoedAsJsonText) {
  EXPECT_EQ(ok(R"({"type":"ping","ref":17})").ref, "17");
  EXPECT_EQ(ok(R"({"type":"ping","ref":0})").ref, "0");
  EXPECT_EQ(ok(R"({"type":"ping","ref":-5})").ref, "-5");
  EXPECT_EQ(ok(R"({"type":"ping","ref":18446744073709551615})").ref, "18446744073709551615");
}

TEST(Codec, RefOf64CharactersIsAccepted) {
  const std::string r64(64, 'r');
  EXPECT_EQ(ok(R"({"type":"ping","ref":")" + r64 + "\"}").ref, "\"" + r64 + "\"");
}

TEST(Codec, RefLimitCountsCharactersNotBytes) {
  // docs/protocol.md: "a string of at most 64 characters". 40 × "é" is 40 characters, 80 bytes.
  std::string ref;
  for (int i = 0; i < 40; ++i) ref += "\xC3\xA9";
  auto r = parse_request(R"({"type":"ping","ref":")" + ref + "\"}");
  ASSERT_TRUE(std::holds_alternative<Request>(r));
  EXPECT_EQ(std::get<Request>(r).ref, "\"" + ref + "\"");
  std::string too_long;
  for (int i = 0; i < 65; ++i) too_long += "\xC3\xA9";
  EXPECT_EQ(err(R"({"type":"ping","ref":")" + too_long + "\"}").code, errc::bad_request);
}

TEST(Codec, BadRefIsBadRequest) {
  for (const char* ref : {R"({"a":1})", "[1]", "1.5", "true", "null",
                          R"("rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr")"}) {
    SCOPED_TRACE(ref);
    const RequestError e = err(std::string(R"({"type":"ping","ref":)") + ref + "}");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_NE(e.message.find("ref"), std::string::npos) << e.message;
    EXPECT_TRUE(e.ref.empty());  // an unusable ref is not echoed
  }
}

TEST(Codec, RefIsKeptOnLaterErrors) {
  EXPECT_EQ(err(R"({"ref":"x","type":"join"})").ref, R"("x")");
  EXPECT_EQ(err(R"({"type":"nope","ref":9})").ref, "9");
  EXPECT_EQ(err(R"({"ref":"y"})").ref, R"("y")");
}

// ---------------------------------------------------------------------------------------------
// Bad frames

TEST(Codec, NotJsonIsBadJson) {
  for (const char* frame : {"", " ", "hello", "{", "{\"type\":\"ping\"", "{\"type\":\"ping\"}}", "{'type':'ping'}",
                            "{\"type\":\"ping\",}", "\xFF", "{\"type\":\"ping\"} {}"}) {
    SCOPED_TRACE(frame);
    const RequestError e = err(frame);
    EXPECT_EQ(e.code, errc::bad_json);
    EXPECT_FALSE(e.message.empty());
    EXPECT_TRUE(e.ref.empty());
  }
}

TEST(Codec, JsonThatIsNotAnObjectIsBadJson) {
  for (const char* frame : {"[]", R"([{"type":"ping"}])", "1", "\"ping\"", "null", "true", "-0.5"}) {
    SCOPED_TRACE(frame);
    EXPECT_EQ(err(frame).code, errc::bad_json);
  }
}

TEST(Codec, InvalidUtf8InsideAStringIsBadJson) {
  EXPECT_EQ(err("{\"type\":\"hello\",\"name\":\"\xC0\x80\"}").code, errc::bad_json);
  EXPECT_EQ(err("{\"type\":\"hello\",\"name\":\"\xED\xA0\x80\"}").code, errc::bad_json);
}

TEST(Codec, DeepNestingIsRefused) {
  std::string deep = R"({"type":"ping","x":)";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "}";
  EXPECT_EQ(err(deep).code, errc::bad_json);
}

TEST(Codec, LargeFrameBeyondTheStackBufferParses) {
  const std::string big(20000, 'x');
  EXPECT_EQ(ok(R"({"type":"send","room":"r","cid":"c","text":")" + big + "\"}").text, big);
}

TEST(Codec, MissingTypeIsBadRequest) {
  for (const char* frame : {"{}", R"({"room":"r"})", R"({"type":5})", R"({"type":null})", R"({"type":["ping"]})"}) {
    SCOPED_TRACE(frame);
    const RequestError e = err(frame);
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_NE(e.message.find("type"), std::string::npos) << e.message;
  }
}

TEST(Codec, UnknownTypeKeepsRef) {
  const RequestError e = err(R"({"type":"dance","ref":"r7"})");
  EXPECT_EQ(e.code, errc::unknown_type);
  EXPECT_EQ(e.ref, R"("r7")");
  EXPECT_NE(e.message.find("dance"), std::string::npos) << e.message;
}

TEST(Codec, TypeIsCaseSensitive) { EXPECT_EQ(err(R"({"type":"PING"})").code, errc::unknown_type); }

TEST(Codec, UnknownTypeMessageIsBounded) {
  const RequestError e = err(R"({"type":")" + std::string(1000, 't') + "\"}");
  EXPECT_EQ(e.code, errc::unknown_type);
  EXPECT_LT(e.message.size(), 100u);
}

TEST(Codec, UnknownTypeMessageIsValidUtf8) {
  // 31 ASCII bytes then a 3-byte character: a 32-byte cut falls inside it.
  const RequestError e = err(R"({"type":")" + std::string(31, 't') + "\xE2\x82\xAC" + "\"}");
  EXPECT_EQ(e.code, errc::unknown_type);
  EXPECT_TRUE(parley::protocol::is_valid_utf8(e.message)) << ::testing::PrintToString(e.message);
}

struct MissingCase {
  const char* frame;
  const char* field;
};

TEST(Codec, HelloTakesANameOrAToken) {
  // Neither is the session cookie's hello (the server decides: bad_name without one).
  const Request bare = ok(R"({"type":"hello"})");
  EXPECT_TRUE(bare.name.empty() && bare.token.empty());
  EXPECT_EQ(ok(R"({"type":"hello","token":"abc"})").token, "abc");
  EXPECT_EQ(ok(R"({"type":"hello","name":"ada"})").name, "ada");
  EXPECT_EQ(err(R"({"type":"hello","token":5})").code, errc::bad_request);
  EXPECT_EQ(err(R"({"type":"hello","name":5})").code, errc::bad_request);
}

TEST(Codec, MissingFieldsAreBadRequestNamingTheField) {
  for (const MissingCase& c : std::initializer_list<MissingCase>{
           {R"({"type":"create"})", "room"},
           {R"({"type":"join"})", "room"},
           {R"({"type":"join","since":3})", "room"},
           {R"({"type":"leave"})", "room"},
           {R"({"type":"typing"})", "room"},
           {R"({"type":"history"})", "room"},
           {R"({"type":"send","cid":"c","text":"t"})", "room"},
           {R"({"type":"send","room":"r","text":"t"})", "cid"},
           {R"({"type":"send","room":"r","cid":"c"})", "text"},
       }) {
    SCOPED_TRACE(c.frame);
    const RequestError e = err(c.frame);
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_NE(e.message.find(c.field), std::string::npos) << e.message;
  }
}

TEST(Codec, MistypedFieldsAreBadRequestNamingTheField) {
  for (const MissingCase& c : std::initializer_list<MissingCase>{
           {R"({"type":"hello","name":5})", "name"},
           {R"({"type":"hello","name":null})", "name"},
           {R"({"type":"hello","name":["ada"]})", "name"},
           {R"({"type":"create","room":{}})", "room"},
           {R"({"type":"join","room":1})", "room"},
           {R"({"type":"join","room":"g","since":"40"})", "since"},
           {R"({"type":"join","room":"g","since":true})", "since"},
           {R"({"type":"join","room":"g","since":[1]})", "since"},
           {R"({"type":"send","room":"r","cid":7,"text":"t"})", "cid"},
           {R"({"type":"send","room":"r","cid":"c","text":false})", "text"},
           {R"({"type":"history","room":"r","before":"1"})", "before"},
           {R"({"type":"history","room":"r","limit":{}})", "limit"},
           {R"({"type":"history","room":"r","before":1,"limit":-1})", "limit"},
       }) {
    SCOPED_TRACE(c.frame);
    const RequestError e = err(c.frame);
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_NE(e.message.find(c.field), std::string::npos) << e.message;
  }
}

TEST(Codec, NegativeOrFractionalCountsAreBadRequest) {
  for (const char* since : {"-1", "-9223372036854775808", "1.5", "0.1", "-0.5", "1e300", "18446744073709551616"}) {
    SCOPED_TRACE(since);
    const RequestError e = err(std::string(R"({"type":"join","room":"g","since":)") + since + "}");
    EXPECT_EQ(e.code, errc::bad_request);
    EXPECT_NE(e.message.find("since"), std::string::npos) << e.message;
  }
  EXPECT_EQ(err(R"({"type":"history","room":"g","before":2.5})").code, errc::bad_request);
}

// ---------------------------------------------------------------------------------------------
// error_event

TEST(Codec, ErrorEventParsesBack) {
  const std::string out =
      parley::protocol::error_event(errc::rate_limited, "slow \"down\"", R"("r1")", R"("retry_after_ms":500)");
  const json::value v = json::parse(out);
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("type"), "error");
  EXPECT_EQ(o.at("code"), "rate_limited");
  EXPECT_EQ(o.at("message"), "slow \"down\"");
  EXPECT_EQ(o.at("ref"), "r1");
  EXPECT_EQ(o.at("retry_after_ms").to_number<int>(), 500);
  EXPECT_EQ(o.size(), 5u);
}

TEST(Codec, ErrorEventDefaultsTheMessageAndOmitsAnEmptyRef) {
  const json::value v = json::parse(parley::protocol::error_event(errc::bad_room, "", ""));
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("code"), "bad_room");
  EXPECT_EQ(o.at("message"), json::value(std::string(parley::protocol::default_message(errc::bad_room))));
  EXPECT_FALSE(o.contains("ref"));
  EXPECT_EQ(o.size(), 3u);
}

TEST(Codec, ErrorEventCarriesItsRequestIdBeforeTheExtraMembers) {
  const std::string out = parley::protocol::error_event(errc::rate_limited, "", "7", R"("retry_after_ms":5)", "ab-1");
  EXPECT_NE(out.find(R"("ref":7,"rid":"ab-1","retry_after_ms":5})"), std::string::npos) << out;
  EXPECT_EQ(json::parse(out).at("rid"), "ab-1");
}

TEST(Codec, HttpErrorBodyCodeAndRequestId) {
  const std::string body = parley::protocol::http_error_body("not_found", "no \"such\" thing");
  EXPECT_EQ(parley::protocol::http_error_code(body), "not_found");
  EXPECT_EQ(parley::protocol::http_error_code(R"({"ready":false})"), "");
  EXPECT_EQ(parley::protocol::http_error_code(R"({"code":"unterminated)"), "");
  const std::string with = parley::protocol::with_request_id(body, "ab-2");
  const json::value v = json::parse(with);
  EXPECT_EQ(v.at("code"), "not_found");
  EXPECT_EQ(v.at("message"), "no \"such\" thing");
  EXPECT_EQ(v.at("rid"), "ab-2");
  EXPECT_EQ(parley::protocol::with_request_id("{}", "x"), R"({"rid":"x"})");
  EXPECT_EQ(parley::protocol::with_request_id("", "x"), "");  // not an object: unchanged
}

TEST(Codec, ErrorEventWithIntegerRef) {
  const json::value v = json::parse(parley::protocol::error_event(errc::not_joined, "x", "42"));
  EXPECT_EQ(v.at("ref").to_number<int>(), 42);
}

TEST(Codec, ErrorEventFromAParsedRequestError) {
  // What the node does: parse, then answer with the error, echoing the ref.
  for (const char* frame : {R"({"type":"join","ref":"a\"b"})", R"({"type":"what","ref":12})", "[]", R"({"ref":"r"})"}) {
    SCOPED_TRACE(frame);
    const RequestError e = err(frame);
    const std::string out = parley::protocol::error_event(e.code, e.message, e.ref);
    boost::system::error_code ec;
    const json::value v = json::parse(out, ec);
    ASSERT_FALSE(ec) << out;
    EXPECT_EQ(v.at("code"), json::value(std::string(parley::protocol::code_name(e.code))));
    if (!e.ref.empty()) {
      EXPECT_EQ(v.at("ref"), json::parse(e.ref));
    }
  }
}

}  // namespace
