// docs/protocol.md is the wire contract: every example in it must be what the codec accepts
// (client lines, "C: ") or the shape of what the server emits (server lines, "S: "), and every
// request, event and error code must be documented.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/errc.hpp"

namespace {

namespace json = boost::json;
using parley::protocol::errc;

struct Doc {
  std::string text;
  std::vector<std::string> client, server;
};

const Doc& doc() {
  static const Doc d = [] {
    Doc d;
    std::ifstream in(PARLEY_PROTOCOL_MD);
    std::stringstream ss;
    ss << in.rdbuf();
    d.text = ss.str();
    std::istringstream lines(d.text);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("C: ", 0) == 0) d.client.push_back(line.substr(3));
      if (line.rfind("S: ", 0) == 0) d.server.push_back(line.substr(3));
    }
    return d;
  }();
  return d;
}

// The members of each server event: required, then optional. Mirrors src/node/*.cpp.
struct Schema {
  std::set<std::string> required, optional;
};
const std::map<std::string, Schema>& schemas() {
  static const std::map<std::string, Schema> s = {
      {"welcome", {{"user", "session", "server_time", "limits"}, {"ref"}}},
      {"pong", {{"server_time"}, {"ref"}}},
      {"rooms", {{"rooms"}, {"ref"}}},
      {"created", {{"room", "by"}, {"ref"}}},
      {"joined", {{"room", "last_seq", "members"}, {"truncated", "ref"}}},
      {"left", {{"room"}, {"ref"}}},
      {"presence", {{"room", "user", "state"}, {}}},
      {"message", {{"room", "seq", "from", "text", "ts"}, {"cid"}}},
      {"ack", {{"cid", "room", "seq", "ts"}, {"ref"}}},
      {"typing", {{"room", "user"}, {}}},
      {"history", {{"room", "messages", "has_more"}, {"ref"}}},
      {"error", {{"code", "message"}, {"ref", "retry_after_ms"}}},
  };
  return s;
}

TEST(ProtocolDoc, HasExamples) {
  ASSERT_FALSE(doc().text.empty()) << "cannot read " << PARLEY_PROTOCOL_MD;
  EXPECT_GE(doc().client.size(), 10u);
  EXPECT_GE(doc().server.size(), 15u);
}

TEST(ProtocolDoc, ClientExamplesParse) {
  for (const auto& line : doc().client) {
    auto r = parley::protocol::parse_request(line);
    if (auto* err = std::get_if<parley::protocol::RequestError>(&r)) {
      // An example may show a frame the codec refuses only when the next server line is that error.
      bool shown = false;
      const auto& server = doc().server;
      for (const auto& s : server)
        if (s.find("\"code\":\"" + std::string(parley::protocol::code_name(err->code)) + "\"") != std::string::npos)
          shown = true;
      EXPECT_TRUE(shown) << "client example does not parse (" << parley::protocol::code_name(err->code) << ": "
                         << err->message << "): " << line;
    }
  }
}

TEST(ProtocolDoc, EveryRequestTypeHasAnExample) {
  using parley::protocol::RequestType;
  for (auto t : {RequestType::hello, RequestType::rooms, RequestType::create, RequestType::join, RequestType::leave,
                 RequestType::send, RequestType::typing, RequestType::history, RequestType::ping}) {
    bool found = false;
    for (const auto& line : doc().client) {
      auto r = parley::protocol::parse_request(line);
      if (auto* req = std::get_if<parley::protocol::Request>(&r); req && req->type == t) found = true;
    }
    EXPECT_TRUE(found) << "no client example for " << parley::protocol::type_name(t);
  }
}

void check_message_object(const json::object& m, const std::string& line) {
  for (const char* k : {"room", "seq", "from", "text", "ts"}) EXPECT_TRUE(m.contains(k)) << k << " missing in " << line;
  EXPECT_FALSE(m.contains("type")) << "history messages carry no type: " << line;
}

TEST(ProtocolDoc, ServerExamplesMatchSchemas) {
  std::set<std::string> seen;
  for (const auto& line : doc().server) {
    std::error_code ec;
    json::value v = json::parse(line, ec);
    ASSERT_FALSE(ec) << "server example is not JSON: " << line;
    ASSERT_TRUE(v.is_object()) << line;
    const auto& o = v.as_object();
    ASSERT_TRUE(o.contains("type") && o.at("type").is_string()) << line;
    const std::string type(o.at("type").as_string());
    auto it = schemas().find(type);
    ASSERT_NE(it, schemas().end()) << "unknown event type " << type << ": " << line;
    seen.insert(type);
    for (const auto& k : it->second.required) EXPECT_TRUE(o.contains(k)) << type << " lacks " << k << ": " << line;
    for (const auto& [k, _] : o) {
      const std::string key(k);
      EXPECT_TRUE(key == "type" || it->second.required.count(key) || it->second.optional.count(key))
          << type << " has undocumented member " << key << ": " << line;
    }
    if (type == "error") {
      const std::string code(o.at("code").as_string());
      bool known = false;
      for (int e = static_cast<int>(errc::bad_json); e <= static_cast<int>(errc::internal); ++e)
        if (parley::protocol::code_name(static_cast<errc>(e)) == code) known = true;
      EXPECT_TRUE(known) << "unknown error code " << code;
      // The codec's own rendering of the same error has the same shape.
      auto again = json::parse(parley::protocol::error_event(errc::bad_request, "m", "1")).as_object();
      EXPECT_TRUE(again.contains("code") && again.contains("message") && again.contains("ref"));
    }
    if (type == "history")
      for (const auto& m : o.at("messages").as_array()) check_message_object(m.as_object(), line);
    if (type == "presence") {
      const std::string state(o.at("state").as_string());
      EXPECT_TRUE(state == "joined" || state == "left") << line;
    }
  }
  for (const auto& [type, _] : schemas()) EXPECT_TRUE(seen.count(type)) << "no server example of " << type;
}

TEST(ProtocolDoc, EveryErrorCodeIsDocumented) {
  for (int e = static_cast<int>(errc::bad_json); e <= static_cast<int>(errc::internal); ++e) {
    const std::string row = "| `" + std::string(parley::protocol::code_name(static_cast<errc>(e))) + "` |";
    EXPECT_NE(doc().text.find(row), std::string::npos) << "error code missing from the table: " << row;
  }
}

TEST(ProtocolDoc, EveryCloseCodeIsDocumented) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 1013})
    EXPECT_NE(doc().text.find("| " + std::to_string(code) + " |"), std::string::npos) << code;
}

}  // namespace
