// Every server event encoder (protocol/events.hpp) over arbitrary strings and numbers. The input
// is cut into fields at 0xFF bytes (never part of UTF-8); fields that are not valid UTF-8 are
// left out, as the encoders require valid UTF-8 (the codec and the node check it first). Oracles:
//  - every event is one JSON object with no raw newline (a frame holds several events, one per
//    line: a newline inside one would split it, and the client would read two broken events);
//  - its type is the event's, and every string and number reads back as it went in;
//  - a ref, which is JSON text from the codec, comes back as that same JSON value.
#include <algorithm>
#include <boost/json.hpp>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_targets.hpp"
#include "protocol/events.hpp"
#include "protocol/utf8.hpp"

namespace parley::fuzz {

namespace {

namespace json = boost::json;

json::object parse_event(const std::string& event, std::string_view type) {
  FUZZ_CHECK(event.find('\n') == std::string::npos);
  boost::system::error_code ec;
  json::value v = json::parse(event, ec);
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(v.is_object());
  FUZZ_CHECK(v.as_object().at("type").is_string() && v.as_object().at("type").get_string() == type);
  return std::move(v.as_object());
}

bool same(const json::value& v, std::string_view s) { return v.is_string() && v.get_string() == s; }

}  // namespace

int server_events(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string_view> f;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::uint64_t number = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 8); ++i) number = (number << 8) | data[i];
  std::size_t at = 0;
  while (at <= in.size()) {
    const auto end = std::min(in.find('\xFF', at), in.size());
    const auto field = in.substr(at, end - at);
    if (protocol::is_valid_utf8(field)) f.push_back(field);
    at = end + 1;
  }
  while (f.size() < 6) f.push_back({});
  const std::int64_t signed_number = static_cast<std::int64_t>(number);

  // A ref as the codec hands it over: a JSON string or integer.
  const std::string ref = (number & 1) ? std::to_string(signed_number) : json::serialize(json::string(f[5]));
  const json::value ref_value = json::parse(ref);

  const protocol::MessageFields m{f[0], number, f[1], f[2], signed_number, f[3], f[4]};
  for (const bool typed : {true, false}) {
    const std::string out = typed ? protocol::message_event(m) : protocol::message_object(m);
    FUZZ_CHECK(out.find('\n') == std::string::npos);
    const json::value v = json::parse(out);
    const auto& o = v.as_object();
    FUZZ_CHECK(typed == o.contains("type"));
    FUZZ_CHECK(same(o.at("room"), m.room) && same(o.at("from"), m.from) && same(o.at("text"), m.text));
    FUZZ_CHECK(o.at("seq").to_number<std::uint64_t>() == m.seq && o.at("ts").to_number<std::int64_t>() == m.ts);
    FUZZ_CHECK(m.cid.empty() ? !o.contains("cid") : same(o.at("cid"), m.cid));
    FUZZ_CHECK(m.from_id.empty() ? !o.contains("uid") : same(o.at("uid"), m.from_id));
  }

  {
    auto o = parse_event(protocol::ack_event(f[0], f[1], number, signed_number, ref), "ack");
    FUZZ_CHECK(same(o.at("room"), f[0]) && same(o.at("cid"), f[1]) && o.at("ref") == ref_value);
    FUZZ_CHECK(o.at("seq").to_number<std::uint64_t>() == number);
  }
  {
    const std::vector<std::string_view> members(f.begin(), f.end());
    auto o = parse_event(protocol::joined_event(f[0], number, members, number / 3, number & 2, ref), "joined");
    FUZZ_CHECK(o.at("member_count").to_number<std::uint64_t>() == number / 3);
    const auto& list = o.at("members").as_array();
    FUZZ_CHECK(list.size() == members.size());
    for (std::size_t i = 0; i < members.size(); ++i) FUZZ_CHECK(same(list[i], members[i]));
    FUZZ_CHECK(o.contains("truncated") == static_cast<bool>(number & 2));
  }
  {
    auto o = parse_event(protocol::presence_event(f[0], f[1], number & 1), "presence");
    FUZZ_CHECK(same(o.at("user"), f[1]) && same(o.at("state"), (number & 1) ? "joined" : "left"));
  }
  {
    auto o = parse_event(protocol::typing_event(f[0], f[1]), "typing");
    FUZZ_CHECK(same(o.at("room"), f[0]) && same(o.at("user"), f[1]));
  }
  {
    auto o = parse_event(protocol::created_event(f[0], f[1], ref), "created");
    FUZZ_CHECK(same(o.at("by"), f[1]) && o.at("ref") == ref_value);
  }
  {
    auto o = parse_event(protocol::left_event(f[0], {}), "left");
    FUZZ_CHECK(same(o.at("room"), f[0]) && !o.contains("ref"));
  }
  {
    const protocol::RoomSummary rooms[] = {{f[0], number, number / 2}, {f[1], 0, 0}};
    auto o = parse_event(protocol::rooms_event(rooms, f[2], ref), "rooms");
    FUZZ_CHECK(same(o.at("rooms").as_array()[1].at("room"), f[1]));
    FUZZ_CHECK(f[2].empty() ? !o.contains("next") : same(o.at("next"), f[2]));
    const std::vector<std::string_view> names(f.begin(), f.end());
    auto m = parse_event(protocol::members_event(f[0], names, f[3], ref), "members");
    FUZZ_CHECK(m.at("members").as_array().size() == names.size());
  }
  {
    const protocol::MessageFields page[] = {m, m};
    auto o = parse_event(protocol::history_event(f[4], page, number & 1, ref), "history");
    FUZZ_CHECK(o.at("messages").as_array().size() == 2 && same(o.at("messages").as_array()[0].at("text"), m.text));
  }
  {
    const protocol::WelcomeLimits limits{number, number, signed_number, signed_number, 1, 2, 3};
    auto o = parse_event(protocol::welcome_event(f[0], f[2], f[1], signed_number, limits, ref), "welcome");
    FUZZ_CHECK(same(o.at("user"), f[0]) && same(o.at("uid"), f[2]) &&
               o.at("limits").at("max_text_length").to_number<std::uint64_t>() == number);
  }
  {
    auto o = parse_event(protocol::pong_event(signed_number, ref), "pong");
    FUZZ_CHECK(o.at("server_time").to_number<std::int64_t>() == signed_number);
  }
  {
    auto o = parse_event(protocol::error_event(protocol::errc::bad_request, f[2], ref), "error");
    FUZZ_CHECK(same(o.at("message"), f[2].empty() ? protocol::default_message(protocol::errc::bad_request) : f[2]));
    const json::value body = json::parse(protocol::http_error_body(f[0], f[1]));
    FUZZ_CHECK(same(body.at("code"), f[0]) && same(body.at("message"), f[1]));
  }
  return 0;
}

}  // namespace parley::fuzz
