#include "node/errors.hpp"

#include "net/log.hpp"
#include "protocol/events.hpp"

namespace parley::node {

spdlog::level::level_enum error_log_level(protocol::errc code) noexcept {
  using protocol::errc;
  switch (code) {
    case errc::store_failed:
    case errc::unavailable:
    case errc::overloaded:
    case errc::internal: return spdlog::level::warn;
    case errc::rate_limited: return spdlog::level::debug;
    default: return spdlog::level::info;
  }
}

std::string error_reply(protocol::errc code, std::string_view message, std::string_view ref, std::string_view extra,
                        ErrorContext where) {
  const std::string rid = net::log::new_request_id();
  const std::string_view text = message.empty() ? protocol::default_message(code) : message;
  const auto level = error_log_level(code);
  // Fields the caller did not know are empty: the line leaves them out. An id with the top bit
  // set is a server API request waiting on a shard (Shard::add_waiter), not a connection.
  net::log::write(
      level, "error sent",
      {{"code", protocol::code_name(code)},
       {"rid", rid},
       where.conn == 0 || (where.conn >> 63) != 0 ? net::log::Field("conn", "") : net::log::Field("conn", where.conn),
       {"uid", where.user},
       {"room", where.room},
       {"detail", text}});
  return protocol::error_event(code, message, ref, extra, rid);
}

}  // namespace parley::node
