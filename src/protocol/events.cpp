#include "protocol/events.hpp"

#include <cstdio>

#include "protocol/json_writer.hpp"

namespace parley::protocol {

namespace {

void with_ref(JsonWriter& w, std::string_view ref) {
  if (!ref.empty()) w.raw("ref", ref);
}

void message_members(JsonWriter& w, const MessageFields& m, bool with_kind) {
  w.str("room", m.room).unum("seq", m.seq);
  // A change in a history reply says what it is (an event says it by its type). A message that
  // answers another names it as reply_to.
  if (with_kind && !m.kind.empty()) w.str("kind", m.kind);
  if (!m.kind.empty()) w.unum("target", m.target);
  if (m.kind.empty() && m.target != 0) w.unum("reply_to", m.target);
  w.str("from", m.from);
  if (!m.from_id.empty()) w.str("uid", m.from_id);
  // A bot of the server API (core::is_server_id: "b_"), so that a client can mark it: its name
  // may be anything, and a reader must not take it for a person's.
  if (m.from_id.size() > 2 && m.from_id.starts_with("b_")) w.boolean("bot", true);
  // A delete carries no text; a deleted message "" (the store no longer has it); a react or an
  // unreact its emoji.
  if (m.kind == "react" || m.kind == "unreact") {
    w.str("emoji", m.text);
  } else if (m.kind != "delete") {
    w.str("text", m.text);
  }
  w.num("ts", m.ts);
  if (!m.cid.empty()) w.str("cid", m.cid);
  if (m.edited != 0) w.num("edited", m.edited);
  if (m.deleted) w.boolean("deleted", true);
  if (!m.reactions.empty()) w.raw("reactions", m.reactions);
  if (!m.files.empty()) w.raw("files", m.files);
}

}  // namespace

std::string welcome_event(std::string_view user, std::string_view uid, std::string_view session,
                          std::int64_t server_time, const WelcomeLimits& l, std::string_view ref) {
  JsonWriter limits;
  limits.unum("max_text_length", l.max_text_length)
      .unum("max_frame_bytes", l.max_frame_bytes)
      .num("send_rate", l.send_rate)
      .num("send_burst", l.send_burst)
      .unum("history_limit", l.history_limit)
      .unum("max_rooms", l.max_rooms)
      .unum("typing_interval_ms", l.typing_interval_ms)
      .unum("max_file_bytes", l.max_file_bytes)
      .unum("max_files_per_message", l.max_files_per_message)
      .unum("max_reaction_emoji", l.max_reaction_emoji)
      .unum("max_reactions_per_user", l.max_reactions_per_user);
  JsonWriter w("welcome");
  w.str("user", user)
      .str("uid", uid)
      .str("session", session)
      .num("server_time", server_time)
      .raw("limits", std::move(limits).done());
  with_ref(w, ref);
  return std::move(w).done();
}

std::string pong_event(std::int64_t server_time, std::string_view ref) {
  JsonWriter w("pong");
  w.num("server_time", server_time);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string rooms_event(std::span<const RoomSummary> rooms, std::string_view next, std::string_view ref) {
  std::string list = "[";
  for (const auto& r : rooms) {
    if (list.size() > 1) list.push_back(',');
    JsonWriter item;
    item.str("room", r.room).unum("members", r.members).unum("last_seq", r.last_seq);
    if (r.direct) {
      item.boolean("direct", true).str("with", r.with);
    } else if (r.private_room) {
      item.boolean("private", true);
    }
    if (!r.role.empty()) item.str("role", r.role);
    if (!r.title.empty()) item.str("title", r.title);
    if (!r.topic.empty()) item.str("topic", r.topic);
    if (r.read_state) item.unum("last_read", r.last_read).unum("unread", r.unread).unum("mentions", r.mentions);
    list += std::move(item).done();
  }
  list.push_back(']');
  JsonWriter w("rooms");
  w.raw("rooms", list);
  if (!next.empty()) w.str("next", next);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string created_event(std::string_view room, std::string_view by, std::string_view ref, bool private_room,
                          bool direct, std::string_view title, std::string_view topic) {
  JsonWriter w("created");
  w.str("room", room).str("by", by);
  if (direct) {
    w.boolean("direct", true);
  } else if (private_room) {
    w.boolean("private", true);
  }
  if (!title.empty()) w.str("title", title);
  if (!topic.empty()) w.str("topic", topic);
  with_ref(w, ref);
  return std::move(w).done();
}

namespace {
std::string name_list(std::span<const std::string_view> names) {
  std::string list = "[";
  for (const auto m : names) {
    if (list.size() > 1) list.push_back(',');
    append_json_string(list, m);
  }
  list.push_back(']');
  return list;
}
}  // namespace

std::string joined_event(std::string_view room, std::uint64_t last_seq, std::span<const std::string_view> members,
                         std::uint64_t member_count, bool truncated, std::string_view ref, std::string_view role,
                         bool private_room, std::string_view title, std::string_view topic) {
  JsonWriter w("joined");
  w.str("room", room).unum("last_seq", last_seq).raw("members", name_list(members)).unum("member_count", member_count);
  if (truncated) w.boolean("truncated", true);
  if (private_room) w.boolean("private", true);
  if (!role.empty()) w.str("role", role);
  if (!title.empty()) w.str("title", title);
  if (!topic.empty()) w.str("topic", topic);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string members_event(std::string_view room, std::span<const std::string_view> members, std::string_view next,
                          std::string_view ref) {
  JsonWriter w("members");
  w.str("room", room).raw("members", name_list(members));
  if (!next.empty()) w.str("next", next);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string roster_event(std::string_view room, std::span<const RosterEntry> members, std::string_view next,
                         std::string_view ref) {
  std::string list = "[";
  for (const auto& m : members) {
    if (list.size() > 1) list.push_back(',');
    JsonWriter item;
    item.str("user", m.user);
    if (!m.role.empty()) item.str("role", m.role);
    item.boolean("online", m.online);
    list += std::move(item).done();
  }
  list.push_back(']');
  JsonWriter w("roster");
  w.str("room", room).raw("members", list);
  if (!next.empty()) w.str("next", next);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string room_deleted_event(std::string_view room, std::string_view by, std::string_view ref) {
  JsonWriter w("room_deleted");
  w.str("room", room);
  if (!by.empty()) w.str("by", by);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string room_updated_event(std::string_view room, std::string_view title, std::string_view topic,
                               std::string_view by, std::string_view ref) {
  JsonWriter w("room_updated");
  w.str("room", room).str("title", title).str("topic", topic);
  if (!by.empty()) w.str("by", by);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string left_event(std::string_view room, std::string_view ref) {
  JsonWriter w("left");
  w.str("room", room);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string read_event(std::string_view room, std::uint64_t seq, std::uint64_t unread, std::uint64_t mentions,
                       std::string_view ref) {
  JsonWriter w("read");
  w.str("room", room).unum("seq", seq).unum("unread", unread).unum("mentions", mentions);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string seen_event(std::string_view room, std::span<const SeenEntry> reads) {
  std::string list = "[";
  for (const auto& r : reads) {
    if (list.size() > 1) list.push_back(',');
    JsonWriter item;
    item.str("user", r.user).unum("seq", r.seq);
    list += std::move(item).done();
  }
  list.push_back(']');
  JsonWriter w("seen");
  w.str("room", room).raw("reads", list);
  return std::move(w).done();
}

std::string removed_event(std::string_view room, std::string_view user, std::string_view by, bool banned,
                          std::string_view ref) {
  JsonWriter w("removed");
  w.str("room", room).str("user", user);
  if (!by.empty()) w.str("by", by);
  if (banned) w.boolean("banned", true);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string dm_event(std::string_view room, std::string_view user, std::string_view ref) {
  JsonWriter w("dm");
  w.str("room", room).str("user", user);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string invited_event(std::string_view room, std::string_view user, std::string_view ref, std::string_view by) {
  JsonWriter w("invited");
  w.str("room", room).str("user", user);
  if (!by.empty()) w.str("by", by);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string unbanned_event(std::string_view room, std::string_view user, std::string_view ref) {
  JsonWriter w("unbanned");
  w.str("room", room).str("user", user);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string role_event(std::string_view room, std::string_view user, std::string_view role, std::string_view ref) {
  JsonWriter w("role");
  w.str("room", room).str("user", user).str("role", role);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string ack_event(std::string_view room, std::string_view cid, std::uint64_t seq, std::int64_t ts,
                      std::string_view ref) {
  JsonWriter w("ack");
  w.str("cid", cid).str("room", room).unum("seq", seq).num("ts", ts);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string message_event(const MessageFields& m) {
  JsonWriter w(m.kind.empty() ? std::string_view("message") : m.kind);
  message_members(w, m, false);
  return std::move(w).done();
}

std::string message_object(const MessageFields& m) {
  JsonWriter w;
  message_members(w, m, true);
  return std::move(w).done();
}

std::string presence_event(std::string_view room, std::string_view user, bool joined) {
  JsonWriter w("presence");
  w.str("room", room).str("user", user).str("state", joined ? "joined" : "left");
  return std::move(w).done();
}

std::string typing_event(std::string_view room, std::string_view user) {
  JsonWriter w("typing");
  w.str("room", room).str("user", user);
  return std::move(w).done();
}

std::string history_event(std::string_view room, std::span<const MessageFields> messages, bool has_more,
                          std::string_view ref) {
  std::string list = "[";
  for (const auto& m : messages) {
    if (list.size() > 1) list.push_back(',');
    list += message_object(m);
  }
  list.push_back(']');
  JsonWriter w("history");
  w.str("room", room).raw("messages", list).boolean("has_more", has_more);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string search_results_event(std::string_view q, std::span<const SearchHitFields> hits, std::string_view next,
                                 std::string_view ref) {
  std::string list = "[";
  for (const auto& h : hits) {
    if (list.size() > 1) list.push_back(',');
    JsonWriter item;
    item.str("room", h.room).unum("seq", h.seq).str("from", h.from);
    if (!h.from_id.empty()) item.str("uid", h.from_id);
    item.str("text", h.text).num("ts", h.ts);
    list += std::move(item).done();
  }
  list.push_back(']');
  JsonWriter w("search_results");
  w.str("q", q).raw("hits", list);
  if (!next.empty()) w.str("next", next);
  with_ref(w, ref);
  return std::move(w).done();
}

std::string error_event(errc code, std::string_view message, std::string_view ref, std::string_view extra,
                        std::string_view rid) {
  JsonWriter w("error");
  w.str("code", code_name(code)).str("message", message.empty() ? default_message(code) : message);
  with_ref(w, ref);
  if (!rid.empty()) w.str("rid", rid);
  std::string out = std::move(w).done();
  if (!extra.empty()) {
    out.pop_back();
    out.push_back(',');
    out.append(extra);
    out.push_back('}');
  }
  return out;
}

std::string http_error_body(std::string_view code, std::string_view message) {
  JsonWriter w;
  w.str("code", code).str("message", message);
  return std::move(w).done();
}

std::string_view http_error_code(std::string_view body) {
  constexpr std::string_view head = R"({"code":")";
  if (!body.starts_with(head)) return {};
  body.remove_prefix(head.size());
  const auto end = body.find_first_of("\"\\");
  if (end == std::string_view::npos || body[end] != '"') return {};
  return body.substr(0, end);
}

std::string with_request_id(std::string body, std::string_view rid) {
  if (body.size() < 2 || body.front() != '{' || body.back() != '}') return body;
  body.pop_back();
  if (body.size() > 1) body.push_back(',');
  body += R"("rid":)";
  append_json_string(body, rid);
  body.push_back('}');
  return body;
}

namespace {
std::string two_decimals(double v) {
  if (!(v >= 0) || v > 1e15) v = 0;  // NaN, negative or absurd (a bad peer's stats): 0
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
}  // namespace

std::string admin_stats_event(std::int64_t time, std::span<const AdminNode> nodes, std::span<const AdminRoom> rooms,
                              std::string_view ref) {
  std::uint64_t rate_limit = 0, slow = 0;
  std::string list = "[";
  for (const auto& n : nodes) {
    if (n.up) rate_limit += n.rate_limit_closes, slow += n.slow_consumer_closes;
    JsonWriter closes;
    closes.unum("rate_limit", n.rate_limit_closes).unum("slow_consumer", n.slow_consumer_closes);
    JsonWriter w;
    w.str("id", n.id)
        .boolean("up", n.up)
        .boolean("self", n.self)
        .boolean("draining", n.draining)
        .num("heard_ms_ago", n.heard_ms_ago)
        .unum("connections", n.connections)
        .unum("rooms", n.rooms)
        .raw("deliveries_per_s", two_decimals(n.deliveries_per_s))
        .raw("commit_p99_ms", two_decimals(n.commit_p99_ms))
        .unum("broker_catchups", n.broker_catchups)
        .unum("rate_limited", n.rate_limited)
        .raw("closes", std::move(closes).done());
    if (list.size() > 1) list += ',';
    list += std::move(w).done();
  }
  list += ']';
  std::string room_list = "[";
  for (const auto& r : rooms) {
    JsonWriter w;
    w.str("room", r.room).unum("members", r.members).unum("members_here", r.members_here).unum("last_seq", r.last_seq);
    if (room_list.size() > 1) room_list += ',';
    room_list += std::move(w).done();
  }
  room_list += ']';
  JsonWriter closes;
  closes.unum("rate_limit", rate_limit).unum("slow_consumer", slow);
  JsonWriter w("admin_stats");
  w.num("time", time).raw("nodes", list).raw("rooms", room_list).raw("closes", std::move(closes).done());
  with_ref(w, ref);
  return std::move(w).done();
}

std::string admin_unwatched_event(std::string_view ref) {
  JsonWriter w("admin_unwatched");
  with_ref(w, ref);
  return std::move(w).done();
}

}  // namespace parley::protocol
