#include "protocol/codec.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"

namespace parley::protocol {

namespace json = boost::json;

std::string_view type_name(RequestType t) noexcept {
  switch (t) {
    case RequestType::hello: return "hello";
    case RequestType::rooms: return "rooms";
    case RequestType::create: return "create";
    case RequestType::join: return "join";
    case RequestType::leave: return "leave";
    case RequestType::send: return "send";
    case RequestType::typing: return "typing";
    case RequestType::history: return "history";
    case RequestType::members: return "members";
    case RequestType::ping: return "ping";
    case RequestType::invite: return "invite";
    case RequestType::remove: return "remove";
    case RequestType::unban: return "unban";
    case RequestType::set_role: return "set_role";
    case RequestType::update_room: return "update_room";
    case RequestType::delete_room: return "delete_room";
    case RequestType::roster: return "roster";
    case RequestType::dm: return "dm";
    case RequestType::edit: return "edit";
    case RequestType::delete_message: return "delete";
    case RequestType::react: return "react";
    case RequestType::unreact: return "unreact";
    case RequestType::admin_watch: return "admin_watch";
    case RequestType::admin_unwatch: return "admin_unwatch";
    case RequestType::read: return "read";
    case RequestType::search: return "search";
  }
  return "?";
}

namespace {

std::optional<RequestType> lookup_type(std::string_view s) {
  static constexpr std::pair<std::string_view, RequestType> table[] = {
      {"hello", RequestType::hello},
      {"rooms", RequestType::rooms},
      {"create", RequestType::create},
      {"join", RequestType::join},
      {"leave", RequestType::leave},
      {"send", RequestType::send},
      {"typing", RequestType::typing},
      {"history", RequestType::history},
      {"ping", RequestType::ping},
      {"members", RequestType::members},
      {"invite", RequestType::invite},
      {"remove", RequestType::remove},
      {"unban", RequestType::unban},
      {"set_role", RequestType::set_role},
      {"dm", RequestType::dm},
      {"update_room", RequestType::update_room},
      {"delete_room", RequestType::delete_room},
      {"roster", RequestType::roster},
      {"edit", RequestType::edit},
      {"delete", RequestType::delete_message},
      {"react", RequestType::react},
      {"unreact", RequestType::unreact},
      {"admin_watch", RequestType::admin_watch},
      {"admin_unwatch", RequestType::admin_unwatch},
      {"read", RequestType::read},
      {"search", RequestType::search},
  };
  for (const auto& [name, type] : table)
    if (name == s) return type;
  return std::nullopt;
}

struct Fields {
  const json::object& obj;
  std::string missing;  // first problem found, as a message

  bool string(std::string_view key, std::string& out, bool required = true) {
    const json::value* v = obj.if_contains(key);
    if (!v) {
      if (required && missing.empty()) missing = "missing field: " + std::string(key);
      return !required;
    }
    if (!v->is_string()) {
      if (missing.empty()) missing = "field must be a string: " + std::string(key);
      return false;
    }
    out.assign(v->get_string().data(), v->get_string().size());
    return true;
  }

  // An optional string whose absence differs from "" (title, topic).
  bool maybe_string(std::string_view key, std::optional<std::string>& out) {
    const json::value* v = obj.if_contains(key);
    if (!v || v->is_null()) return true;
    std::string s;
    if (!string(key, s)) return false;
    out = std::move(s);
    return true;
  }

  bool flag(std::string_view key, bool& out) {
    const json::value* v = obj.if_contains(key);
    if (!v || v->is_null()) return true;  // optional: false
    if (!v->is_bool()) {
      if (missing.empty()) missing = "field must be true or false: " + std::string(key);
      return false;
    }
    out = v->get_bool();
    return true;
  }

  // An optional array of strings, each 1..128 bytes, at most `max` of them.
  bool strings(std::string_view key, std::vector<std::string>& out, std::size_t max) {
    const json::value* v = obj.if_contains(key);
    if (!v || v->is_null()) return true;
    if (!v->is_array() || v->get_array().size() > max) {
      if (missing.empty())
        missing = "field must be an array of at most " + std::to_string(max) + " strings: " + std::string(key);
      return false;
    }
    for (const json::value& e : v->get_array()) {
      if (!e.is_string() || e.get_string().empty() || e.get_string().size() > 128) {
        if (missing.empty()) missing = "field must be an array of non-empty strings: " + std::string(key);
        return false;
      }
      out.emplace_back(e.get_string().data(), e.get_string().size());
    }
    return true;
  }

  bool count(std::string_view key, std::optional<std::uint64_t>& out) {
    const json::value* v = obj.if_contains(key);
    if (!v || v->is_null()) return true;  // optional
    if (v->is_uint64()) {
      out = v->get_uint64();
      return true;
    }
    if (v->is_int64() && v->get_int64() >= 0) {
      out = static_cast<std::uint64_t>(v->get_int64());
      return true;
    }
    if (v->is_double()) {
      const double d = v->get_double();
      if (d >= 0 && d <= 9007199254740992.0 && d == static_cast<double>(static_cast<std::uint64_t>(d))) {
        out = static_cast<std::uint64_t>(d);
        return true;
      }
    }
    if (missing.empty()) missing = "field must be a non-negative integer: " + std::string(key);
    return false;
  }
};

}  // namespace

std::variant<Request, RequestError> parse_request(std::string_view frame) {
  // Client frames are small (the frame limit bounds them): parse into a stack buffer first.
  unsigned char scratch[4096];
  json::monotonic_resource mr(scratch, sizeof scratch);
  json::parse_options opts;
  opts.max_depth = 16;
  std::error_code ec;
  json::value root = json::parse(frame, ec, &mr, opts);
  if (ec || !root.is_object()) return RequestError{errc::bad_json, std::string(default_message(errc::bad_json)), {}};
  const json::object& obj = root.get_object();

  Request req;
  if (const json::value* ref = obj.if_contains("ref")) {
    if (ref->is_string() ? utf8_length(ref->get_string()) <= 64 : (ref->is_int64() || ref->is_uint64())) {
      req.ref = json::serialize(*ref);
    } else {
      return RequestError{errc::bad_request, "ref must be a string of at most 64 characters or an integer", {}};
    }
  }
  const json::value* type = obj.if_contains("type");
  if (!type || !type->is_string()) return RequestError{errc::bad_request, "missing field: type", req.ref};
  const auto t = lookup_type(type->get_string());
  if (!t)
    return RequestError{errc::unknown_type, "unknown request type: " + std::string(utf8_prefix(type->get_string(), 32)),
                        req.ref};
  req.type = *t;

  Fields f{obj, {}};
  bool ok = true;
  switch (req.type) {
    case RequestType::hello: ok = f.string("name", req.name, false) && f.string("token", req.token, false); break;
    case RequestType::rooms:
      ok = f.string("after", req.after, false) && f.string("q", req.query, false) && f.count("limit", req.limit);
      break;
    case RequestType::members:
    case RequestType::roster:
      ok = f.string("room", req.room) && f.string("after", req.after, false) && f.count("limit", req.limit);
      break;
    case RequestType::ping:
    case RequestType::admin_watch:
    case RequestType::admin_unwatch: break;
    case RequestType::create:
      ok = f.string("room", req.room) && f.flag("private", req.private_room) &&
           f.string("password", req.password, false) && f.maybe_string("title", req.title) &&
           f.maybe_string("topic", req.topic);
      break;
    case RequestType::update_room:
      ok = f.string("room", req.room) && f.maybe_string("title", req.title) && f.maybe_string("topic", req.topic);
      break;
    case RequestType::delete_room: ok = f.string("room", req.room); break;
    case RequestType::dm: ok = f.string("user", req.user); break;
    case RequestType::invite:
    case RequestType::unban: ok = f.string("room", req.room) && f.string("user", req.user); break;
    case RequestType::remove:
      ok = f.string("room", req.room) && f.string("user", req.user) && f.flag("ban", req.ban);
      break;
    case RequestType::set_role:
      ok = f.string("room", req.room) && f.string("user", req.user) && f.string("role", req.role);
      break;
    case RequestType::leave:
    case RequestType::typing: ok = f.string("room", req.room); break;
    case RequestType::join:
      ok = f.string("room", req.room) && f.count("since", req.since) && f.string("password", req.password, false);
      break;
    case RequestType::send: {
      std::optional<std::uint64_t> reply_to;
      ok = f.string("room", req.room) && f.string("cid", req.cid) && f.string("text", req.text) &&
           f.count("reply_to", reply_to) && f.strings("files", req.files, max_request_files);
      if (ok && reply_to && *reply_to == 0) {
        ok = false;
        f.missing = "reply_to must be at least 1";
      }
      if (ok) req.seq = reply_to.value_or(0);
      break;
    }
    case RequestType::history:
      ok = f.string("room", req.room) && f.count("before", req.before) && f.count("limit", req.limit);
      break;
    case RequestType::search:
      ok = f.string("q", req.query) && f.string("room", req.room, false) && f.string("before", req.after, false) &&
           f.count("limit", req.limit);
      break;
    case RequestType::read:
    case RequestType::edit:
    case RequestType::delete_message:
    case RequestType::react:
    case RequestType::unreact: {
      std::optional<std::uint64_t> seq;
      const bool change = req.type != RequestType::read;
      const bool reaction = req.type == RequestType::react || req.type == RequestType::unreact;
      ok = f.string("room", req.room) && f.count("seq", seq) && (!change || f.string("cid", req.cid, false)) &&
           (req.type != RequestType::edit || f.string("text", req.text)) && (!reaction || f.string("emoji", req.text));
      if (ok && !seq) {
        ok = false;
        f.missing = "missing field: seq";
      } else if (ok && *seq == 0) {
        ok = false;
        f.missing = "seq must be at least 1";
      }
      if (ok) req.seq = *seq;
      break;
    }
  }
  if (!ok) return RequestError{errc::bad_request, std::move(f.missing), req.ref};
  return req;
}

}  // namespace parley::protocol
