#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hostile.hpp"
#include "socket_io.hpp"

namespace parley::hostile {

using namespace std::chrono_literals;
using namespace io;

std::string text_frame(std::string_view payload) { return it::ws_frame(1, payload); }
std::string text_frame(const json::object& request) { return it::ws_frame(1, json::serialize(request)); }

std::uint16_t ServerFrame::close_code() const {
  if (payload.size() < 2) return 1005;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                    static_cast<unsigned char>(payload[1]));
}

std::optional<ServerFrame> take_frame(std::string_view bytes, std::size_t& used) {
  if (bytes.size() < 2) return std::nullopt;
  const auto b0 = static_cast<unsigned char>(bytes[0]);
  const auto b1 = static_cast<unsigned char>(bytes[1]);
  std::uint64_t len = b1 & 0x7F;
  std::size_t pos = 2;
  if (len == 126) {
    if (bytes.size() < 4) return std::nullopt;
    len =
        (static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[2])) << 8) | static_cast<unsigned char>(bytes[3]);
    pos = 4;
  } else if (len == 127) {
    if (bytes.size() < 10) return std::nullopt;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(bytes[2 + static_cast<std::size_t>(i)]);
    pos = 10;
  }
  if (b1 & 0x80) pos += 4;  // a server never masks; tolerated
  if (bytes.size() < pos + len) return std::nullopt;
  used = pos + static_cast<std::size_t>(len);
  return ServerFrame{b0 & 0x0F, bytes.substr(pos, static_cast<std::size_t>(len))};
}

Peer::~Peer() { close(); }

void Peer::close() {
  if (fd_ < 0) return;
  if (upgraded_ && !eof_ && !close_) {
    const std::string f = it::ws_frame(8, it::ws_close_payload(1000));
    [[maybe_unused]] const auto n = ::send(fd_, f.data(), f.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  ::close(fd_);
  fd_ = -1;
}

int Peer::open(unsigned short port, const std::string& from, Ms timeout, int rcvbuf) {
  close();
  in_.clear();
  events_.clear();
  close_.reset();
  eof_ = upgraded_ = false;
  error_.clear();
  refusal_.clear();
  const auto deadline = Clock::now() + timeout;
  bool connected = false;
  fd_ = connect_from(from, port, rcvbuf, &connected, error_);
  if (fd_ < 0) return 0;
  if (!connected) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) {
      error_ = "connect: no answer in time";
      return 0;
    }
    if (const std::string err = socket_error(fd_); !err.empty()) {
      error_ = "connect: " + err;
      return 0;
    }
  }
  if (!send_raw(upgrade_request(port), std::chrono::duration_cast<Ms>(deadline - Clock::now()))) return 0;
  for (;;) {
    std::size_t used = 0;
    std::optional<it::HttpResponse> r;
    try {
      r = it::parse_http_response(in_, &used);
      if (r && r->status != 101 && r->header("content-length").empty()) r.reset();
      if (!r && eof_ && !in_.empty()) r = it::parse_http_response(in_, nullptr);
    } catch (const std::exception& e) {
      error_ = std::string("bad answer to the upgrade: ") + e.what();
      return 0;
    }
    if (r) {
      if (r->status == 101) {
        upgraded_ = true;
        in_.erase(0, used);
        parse();
      } else {
        refusal_ = body_code(r->body);
      }
      return r->status;
    }
    if (eof_) {
      error_ = "closed before answering the upgrade";
      return 0;
    }
    if (!read_once(deadline)) {
      if (!eof_) {
        error_ = "no answer to the upgrade in time";
        return 0;
      }
    }
  }
}

bool Peer::send_raw(std::string_view bytes, Ms timeout) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, ms_left(deadline)) <= 0) {
        error_ = "send: the socket took nothing in time";
        return false;
      }
      continue;
    }
    error_ = std::string("send: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool Peer::read_once(Clock::time_point deadline, std::size_t max) {
  if (fd_ < 0 || eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, ms_left(deadline));
  if (r <= 0) return false;
  char buf[1 << 16];
  const ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, max), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) {
    eof_ = true;
    if (n < 0) error_ = std::string("recv: ") + std::strerror(errno);
    return false;
  }
  bytes_read_ += static_cast<std::size_t>(n);
  in_.append(buf, static_cast<std::size_t>(n));
  if (upgraded_) parse();
  return true;
}

void Peer::parse() {
  std::size_t at = 0;
  std::size_t used = 0;
  while (auto f = take_frame(std::string_view(in_).substr(at), used)) {
    at += used;
    if (f->opcode == 1 || f->opcode == 0) {
      for_each_line(f->payload, [&](std::string_view line) {
        if (auto o = parse_object(line)) events_.push_back(std::move(*o));
      });
    } else if (f->opcode == 8) {
      close_ = f->close_code();
    } else if (f->opcode == 10) {
      ++pongs_;
    }
  }
  in_.erase(0, at);
}

std::optional<json::object> Peer::request(json::object request, Ms timeout) {
  const std::int64_t ref = next_ref_++;
  request["ref"] = ref;
  const auto deadline = Clock::now() + timeout;
  if (!send(request, timeout)) return std::nullopt;
  std::size_t scanned = 0;
  for (;;) {
    for (; scanned < events_.size(); ++scanned) {
      const auto& e = events_[scanned];
      if (auto it = e.find("ref"); it != e.end() && it->value().is_int64() && it->value().get_int64() == ref) {
        json::object found = e;
        events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(scanned));
        return found;
      }
    }
    if (close_ || eof_) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    read_once(deadline);
  }
}

std::optional<json::object> Peer::next(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (events_.empty()) {
    if (close_ || eof_ || Clock::now() >= deadline) return std::nullopt;
    read_once(deadline);
  }
  json::object e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void Peer::read_to_end(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!eof_ && Clock::now() < deadline) {
    read_once(deadline);
    events_.clear();
  }
}

void Peer::read_slowly(std::size_t bytes_per_second, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::size_t per_step = std::max<std::size_t>(1, bytes_per_second / 50);  // every 20 ms
  while (!eof_ && !close_ && Clock::now() < deadline) {
    const auto step_end = Clock::now() + 20ms;
    std::size_t got = 0;
    while (got < per_step && !eof_ && !close_) {
      const std::size_t before = bytes_read_;
      if (!read_once(std::min(step_end, deadline), per_step - got)) break;
      got += bytes_read_ - before;
    }
    events_.clear();
    std::this_thread::sleep_until(step_end);
  }
}

}  // namespace parley::hostile
