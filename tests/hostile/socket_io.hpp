#pragma once
// What the suite's clients (Peer, Swarm) share of sockets and the wire: a connection from a chosen
// loopback address, the upgrade request, deadlines, and the lines of a server frame.
#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "hostile.hpp"

namespace parley::hostile::io {

// The upgrade request to /ws, offering parley.v1.
std::string upgrade_request(unsigned short port);
// Milliseconds until `deadline` (0 if past), and since `t0`.
int ms_left(Clock::time_point deadline);
double ms_since(Clock::time_point t0);
// A non-blocking TCP socket from `from` (any port) to 127.0.0.1:port, connect started: the fd,
// or -1 with `error` set. *connected tells whether it completed at once.
int connect_from(const std::string& from, unsigned short port, int rcvbuf, bool* connected, std::string& error);
// The socket's pending error, or "".
std::string socket_error(int fd);
// The JSON "code" of an HTTP error body, or "".
std::string body_code(const std::string& body);
std::optional<json::object> parse_object(std::string_view line);
// A "message" event: counted by the swarm, not parsed.
bool is_message_line(std::string_view line);

// Calls f(line) for each line of a server text frame (events are separated by \n).
template <class F>
void for_each_line(std::string_view text, F&& f) {
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    const std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty()) f(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

}  // namespace parley::hostile::io
