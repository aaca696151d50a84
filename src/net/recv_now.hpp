#pragma once
// One non-blocking read of a socket whose readiness the loop's poller reported: the handshake
// and the WebSocket session read the same way, and tell the same three outcomes apart.
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <span>

namespace parley::net {

struct Received {
  enum class State { data, would_block, closed };
  State state;
  std::size_t bytes = 0;  // with data: how many landed in the buffer (at least 1)
};

// closed: the peer closed (EOF) or the socket failed (a reset); an interrupted call is retried.
inline Received recv_now(int fd, std::span<char> buf) noexcept {
  for (;;) {
    const ssize_t got = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (got > 0) return {Received::State::data, static_cast<std::size_t>(got)};
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {Received::State::would_block};
    return {Received::State::closed};
  }
}

}  // namespace parley::net
