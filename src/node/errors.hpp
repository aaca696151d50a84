#pragma once
// The `error` events a node sends its clients. Each carries a request id (`rid`), and each is
// logged with the same id, so that an operator handed a screenshot of an error ("ref 3f2a91c0-1b")
// finds its log line, with the connection, user and room it concerned. The level says whose
// mistake it was: a server's failure (store_failed, unavailable, overloaded, internal) is a
// warning; a client's mistake is info; rate_limited is debug (a flooding client must not flood
// the log too).
#include <spdlog/common.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/errc.hpp"

namespace parley::node {

// What the error concerned, as far as the caller knows (empty, 0: not known there).
struct ErrorContext {
  std::string_view room = {};
  std::string_view user = {};  // the user id ("u_…", "g_…")
  std::uint64_t conn = 0;      // the connection id (SessionRef::id)
};

spdlog::level::level_enum error_log_level(protocol::errc code) noexcept;

// The error event (protocol::error_event) with a new rid, logged.
std::string error_reply(protocol::errc code, std::string_view message, std::string_view ref,
                        std::string_view extra = {}, ErrorContext where = {});
inline std::string error_reply(protocol::errc code, std::string_view message, std::string_view ref,
                               ErrorContext where) {
  return error_reply(code, message, ref, {}, where);
}

}  // namespace parley::node
