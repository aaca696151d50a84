#include "hostile.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace parley::hostile {

using namespace std::chrono_literals;

namespace {

constexpr std::string_view upgrade_request_head =
    "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: parley.v1\r\n";

std::string upgrade_request(unsigned short port) {
  return std::string(upgrade_request_head) + "Host: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1000000));
}

// A non-blocking TCP socket from `from` (any port) to 127.0.0.1:port, connect started: the fd,
// or -1 with `error` set. *connected tells whether it completed at once.
int connect_from(const std::string& from, unsigned short port, int rcvbuf, bool* connected, std::string& error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // The port is picked at connect time, per 4-tuple: thousands of connections from one address.
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  if (::inet_pton(AF_INET, from.c_str(), &src.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    error = "bind " + from + ": " + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0) {
    *connected = true;
    return fd;
  }
  if (errno != EINPROGRESS) {
    error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return -1;
  }
  *connected = false;
  return fd;
}

std::string socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  return err == 0 ? std::string() : std::strerror(err);
}

// The JSON "code" of an HTTP error body, or "".
std::string body_code(const std::string& body) {
  std::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  return it::str(v.get_object(), "code");
}

// Splits a server text frame into its lines; calls f(line) for each.
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

std::optional<json::object> parse_object(std::string_view line) {
  std::error_code ec;
  auto v = json::parse(line, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

bool is_message_line(std::string_view line) { return line.starts_with(R"({"type":"message")"); }

}  // namespace

bool report_only() {
  static const bool on = [] {
    const char* v = std::getenv("PARLEY_HOSTILE_REPORT_ONLY");
    return v && *v && std::string_view(v) != "0";
  }();
  return on;
}

std::int64_t now_ms() { return std::chrono::duration_cast<Ms>(Clock::now().time_since_epoch()).count(); }

std::string attacker_address(std::size_t i) {
  return "127.1." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250);
}

it::ServerOptions node_options(std::vector<std::string> settings) {
  it::ServerOptions o;
  o.settings = std::move(settings);
  o.client_budgets = true;
  o.drop_unknown_settings = report_only();
  o.log_level = "warn";  // thousands of connections must not become thousands of log lines
  return o;
}

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

// ---------------------------------------------------------------------------------------------
// RssSampler

RssSampler::RssSampler(int pid) : pid_(pid) {
  sample();
  count_fds();
  thread_ = std::thread([this] {
    for (unsigned n = 1; !stop_.load(); ++n) {
      sample();
      if (n % 5 == 0) count_fds();
      std::this_thread::sleep_for(20ms);
    }
  });
}

void RssSampler::count_fds() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid_) + "/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++n;
  if (n > peak_fds_) peak_fds_ = n;
}

RssSampler::~RssSampler() { stop(); }

void RssSampler::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void RssSampler::sample() {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %ld", &kb) == 1) {
      now_kb_ = kb;
      if (kb > peak_kb_) peak_kb_ = kb;
    } else if (std::sscanf(line.c_str(), "VmHWM: %ld", &kb) == 1) {
      if (kb > peak_kb_) peak_kb_ = kb;
    }
  }
}

double RssSampler::peak_mb() {
  sample();
  return peak_kb_.load() / 1024.0;
}

// ---------------------------------------------------------------------------------------------
// Peer

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

// ---------------------------------------------------------------------------------------------
// Swarm

Swarm::Swarm(unsigned short port, std::size_t window)
    : port_(port), window_(window), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {}

Swarm::~Swarm() {
  for (std::size_t i = 0; i < conns_.size(); ++i)
    if (conns_[i].fd >= 0) ::close(conns_[i].fd);
  if (epoll_ >= 0) ::close(epoll_);
}

std::size_t Swarm::add(const std::string& from, std::size_t n, int rcvbuf) {
  const std::size_t first = conns_.size();
  for (std::size_t k = 0; k < n; ++k) {
    Conn c;
    c.from = from;
    c.rcvbuf = rcvbuf;
    conns_.push_back(std::move(c));
  }
  return first;
}

void Swarm::start_connect(std::size_t i) {
  Conn& c = conns_[i];
  c.started_ms = now_ms();
  bool connected = false;
  c.fd = connect_from(c.from, port_, c.rcvbuf, &connected, c.error);
  if (c.fd < 0) {
    c.state = State::closed;
    return;
  }
  ++starting_;
  c.out.insert(0, upgrade_request(port_));
  c.state = connected ? State::upgrading : State::connecting;
  if (connected) write_some(i);
  if (c.state != State::closed) watch(i);
}

void Swarm::watch(std::size_t i) {
  Conn& c = conns_[i];
  if (c.fd < 0) return;
  std::uint32_t want = 0;
  if (c.reading || c.state == State::upgrading) want |= EPOLLIN | EPOLLRDHUP;
  if (c.state == State::connecting || !c.out.empty()) want |= EPOLLOUT;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = i;
  // Registered or not, one of the two calls works; a socket nobody waits on is taken off (a
  // client that stopped reading must not wake the loop for its hang-up).
  if (want == 0) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    return;
  }
  if (::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev) != 0) ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
}

void Swarm::finish(std::size_t i) {
  Conn& c = conns_[i];
  if (c.state == State::connecting || c.state == State::upgrading) --starting_;
  if (c.fd >= 0) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
  }
  c.state = State::closed;
  c.out.clear();
  c.out.shrink_to_fit();
  c.in.clear();  // its memory stays: parse() may be reading it
}

void Swarm::drop(std::size_t i) {
  if (conns_[i].state == State::waiting) {
    conns_[i].state = State::closed;
    return;
  }
  finish(i);
}

void Swarm::send(std::size_t i, std::string_view bytes) {
  Conn& c = conns_[i];
  if (c.state == State::closed || !c.error.empty()) return;
  const bool was_empty = c.out.empty();
  c.out.append(bytes);
  if (was_empty && (c.state == State::open || c.state == State::upgrading)) {
    write_some(i);
    if (c.state != State::closed) watch(i);
  }
}

void Swarm::set_reading(std::size_t i, bool on) {
  conns_[i].reading = on;
  watch(i);
}

void Swarm::write_some(std::size_t i) {
  Conn& c = conns_[i];
  std::size_t off = 0;
  while (off < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + off, c.out.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    c.error = std::string("send: ") + std::strerror(errno);
    off = c.out.size();  // nothing more goes out; what comes in is still read
  }
  c.out.erase(0, off);
}

void Swarm::read_some(std::size_t i) {
  Conn& c = conns_[i];
  char buf[1 << 16];
  for (int k = 0; k < 8 && c.fd >= 0; ++k) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      c.eof_ms = now_ms();
      if (n < 0 && c.error.empty()) c.error = std::string("recv: ") + std::strerror(errno);
      if (c.state == State::upgrading && !c.in.empty()) {
        try {
          if (auto r = it::parse_http_response(c.in, nullptr)) {
            c.status = r->status;
            c.refusal = body_code(r->body);
          }
        } catch (const std::exception&) {
        }
      }
      return finish(i);
    }
    c.bytes_in += static_cast<std::size_t>(n);
    c.in.append(buf, static_cast<std::size_t>(n));
    parse(i);
    if (static_cast<std::size_t>(n) < sizeof buf) return;
  }
}

void Swarm::parse(std::size_t i) {
  Conn& c = conns_[i];
  if (c.state == State::upgrading) {
    std::size_t used = 0;
    std::optional<it::HttpResponse> r;
    try {
      r = it::parse_http_response(c.in, &used);
    } catch (const std::exception& e) {
      c.error = e.what();
      return finish(i);
    }
    if (!r) return;
    if (r->status != 101 && r->header("content-length").empty()) return;  // the body comes with EOF
    c.status = r->status;
    --starting_;
    if (r->status != 101) {
      c.refusal = body_code(r->body);
      c.state = State::open;  // counted in starting_ no more
      return finish(i);
    }
    c.state = State::open;
    c.open_ms = now_ms();
    c.in.erase(0, used);
    if (on_open) on_open(i);
    if (c.state != State::open) return;
  }
  std::size_t at = 0;
  std::size_t used = 0;
  while (auto f = take_frame(std::string_view(c.in).substr(at), used)) {
    at += used;
    if (f->opcode == 1 || f->opcode == 0) {
      for_each_line(f->payload, [&](std::string_view line) {
        if (c.state == State::closed) return;  // on_event dropped it
        if (is_message_line(line)) {
          ++c.messages;
          return;
        }
        if (skip_line && skip_line(line)) {
          ++c.seen["skipped"];
          return;
        }
        auto o = parse_object(line);
        if (!o) {
          ++c.seen["bad_line"];
          return;
        }
        const std::string type = it::str(*o, "type");
        ++c.seen[type == "error" ? "error:" + it::str(*o, "code") : type];
        if (on_event) on_event(i, *o);
      });
    } else if (f->opcode == 8) {
      c.close_code = f->close_code();
      c.close_frame_ms = now_ms();
      if (!c.keep_after_close) return finish(i);
    }
    if (conns_[i].state == State::closed) return;
  }
  c.in.erase(0, at);
}

void Swarm::on_ready(std::size_t i, std::uint32_t events) {
  Conn& c = conns_[i];
  if (c.fd < 0) return;
  if (c.state == State::connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (const std::string err = socket_error(c.fd); !err.empty()) {
      c.error = "connect: " + err;
      return finish(i);
    }
    c.state = State::upgrading;
  }
  if ((events & EPOLLOUT) && !c.out.empty()) write_some(i);
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && (c.reading || c.state == State::upgrading))
    read_some(i);
  if (c.state != State::closed) watch(i);
}

void Swarm::run_for(Ms d, const std::function<bool()>& done, Ms period, const std::function<void()>& tick) {
  const auto deadline = Clock::now() + d;
  auto next_tick = Clock::now();
  bool ticked = false;
  epoll_event events[1024];
  for (;;) {
    while (starting_ < window_ && next_to_start_ < conns_.size()) {
      const std::size_t i = next_to_start_++;
      if (conns_[i].state == State::waiting) start_connect(i);
    }
    if (tick && Clock::now() >= next_tick && (period.count() > 0 || !ticked)) {
      tick();
      ticked = true;
      next_tick += period;
      if (next_tick < Clock::now()) next_tick = Clock::now() + period;
    }
    if (done && done()) return;
    const auto now = Clock::now();
    if (now >= deadline) return;
    auto until = deadline;
    if (tick && period.count() > 0) until = std::min(until, next_tick);
    const int wait = std::min(10, ms_left(until));
    const int n = ::epoll_wait(epoll_, events, 1024, wait);
    for (int k = 0; k < n; ++k) on_ready(static_cast<std::size_t>(events[k].data.u64), events[k].events);
  }
}

std::size_t Swarm::count(State s) const {
  return static_cast<std::size_t>(
      std::count_if(conns_.begin(), conns_.end(), [&](const Conn& c) { return c.state == s; }));
}

std::size_t Swarm::with_status(int status) const {
  return static_cast<std::size_t>(
      std::count_if(conns_.begin(), conns_.end(), [&](const Conn& c) { return c.status == status; }));
}

std::size_t Swarm::unanswered() const {
  return static_cast<std::size_t>(std::count_if(
      conns_.begin(), conns_.end(), [](const Conn& c) { return c.status == 0 && c.state != State::waiting; }));
}

std::map<std::string, std::size_t> Swarm::seen() const {
  std::map<std::string, std::size_t> all;
  for (const auto& c : conns_)
    for (const auto& [k, v] : c.seen) all[k] += v;
  return all;
}

std::size_t Swarm::close_codes(std::uint16_t code) const {
  return static_cast<std::size_t>(
      std::count_if(conns_.begin(), conns_.end(), [&](const Conn& c) { return c.close_code == code; }));
}

// ---------------------------------------------------------------------------------------------
// Honest

Honest::Honest(unsigned short port, Options options) : port_(port), options_(std::move(options)) {
  if (!connect_main()) ADD_FAILURE() << "the honest client could not start: " << failures_.back();
  failures_.clear();
  latencies_.clear();
}

Honest::~Honest() { stop(); }

bool Honest::connect_main() {
  const auto timeout = options_.timeout;
  const int status = main_.open(port_, honest_address, timeout);
  if (status != 101) {
    failures_.push_back("honest upgrade: status " + std::to_string(status) + " " + main_.refusal() + main_.error());
    return false;
  }
  auto w = main_.request({{"type", "hello"}, {"name", "honest"}}, timeout);
  if (!w || it::type_of(*w) != "welcome") {
    failures_.push_back("honest hello: " + (w ? it::dump(*w) : "no answer"));
    return false;
  }
  auto c = main_.request({{"type", "create"}, {"room", options_.room}}, timeout);
  if (!c || (it::type_of(*c) != "created" && it::str(*c, "code") != "room_exists")) {
    failures_.push_back("honest create: " + (c ? it::dump(*c) : "no answer"));
    return false;
  }
  auto j = main_.request({{"type", "join"}, {"room", options_.room}}, timeout);
  if (!j || it::type_of(*j) != "joined") {
    failures_.push_back("honest join: " + (j ? it::dump(*j) : "no answer"));
    return false;
  }
  main_.events().clear();
  return true;
}

void Honest::start() {
  thread_ = std::thread([this] { run(); });
}

void Honest::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool Honest::send_and_ack(Peer& p, const std::string& user) {
  const std::string cid = user + "-" + std::to_string(next_cid_++);
  const auto t0 = Clock::now();
  auto r = p.request({{"type", "send"}, {"room", options_.room}, {"cid", cid}, {"text", "still here: " + cid}},
                     options_.timeout);
  const double ms = ms_since(t0);
  if (!r) {
    timed(static_cast<double>(options_.timeout.count()));
    failures_.push_back(
        "send " + cid + ": no ack in " + std::to_string(static_cast<long>(ms)) + " ms" +
        (p.close_code() ? " (closed " + std::to_string(*p.close_code()) + ")" : (p.eof() ? " (connection lost)" : "")));
    return false;
  }
  timed(ms);
  if (it::type_of(*r) != "ack") {
    failures_.push_back("send " + cid + ": " + it::dump(*r));
    return false;
  }
  acked_.push_back(Acked{it::u64(*r, "seq"), cid});
  return true;
}

void Honest::newcomer(int n) {
  Peer p;
  const std::string user = "newcomer-" + std::to_string(n);
  auto t0 = Clock::now();
  const int status = p.open(port_, honest_address, options_.timeout);
  const double ms = ms_since(t0);
  if (status == 0) {
    timed(static_cast<double>(options_.timeout.count()));
    failures_.push_back(user + ": no answer to the upgrade (" + p.error() + ")");
    return;
  }
  timed(ms);
  if (status != 101) {
    ++refusals_[status];
    return;
  }
  for (const auto& req :
       {json::object{{"type", "hello"}, {"name", user}}, json::object{{"type", "join"}, {"room", options_.room}}}) {
    t0 = Clock::now();
    auto r = p.request(req, options_.timeout);
    if (!r) {
      timed(static_cast<double>(options_.timeout.count()));
      failures_.push_back(user + ": no answer to " + it::dump(req));
      return;
    }
    timed(ms_since(t0));
    const std::string want = it::str(req, "type") == "hello" ? "welcome" : "joined";
    if (it::type_of(*r) != want) {
      failures_.push_back(user + ": " + it::dump(req) + " -> " + it::dump(*r));
      return;
    }
  }
  send_and_ack(p, user);
  p.close();
}

void Honest::run() {
  auto next_newcomer = Clock::now() + options_.newcomer_every;
  int n = 0;
  while (!stop_.load()) {
    if (!main_.is_open()) {
      failures_.push_back("the honest connection was closed" +
                          (main_.close_code() ? " with " + std::to_string(*main_.close_code()) : std::string()));
      if (!connect_main()) {
        std::this_thread::sleep_for(200ms);
        continue;
      }
    }
    send_and_ack(main_, "honest");
    main_.events().clear();
    if (options_.newcomer_every.count() > 0 && Clock::now() >= next_newcomer) {
      newcomer(n++);
      next_newcomer = Clock::now() + options_.newcomer_every;
    }
    std::this_thread::sleep_for(options_.send_every);
  }
}

double Honest::p50_ms() const {
  if (latencies_.empty()) return -1;
  std::vector<double> v = latencies_;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

double Honest::max_ms() const {
  if (latencies_.empty()) return -1;
  return *std::max_element(latencies_.begin(), latencies_.end());
}

std::vector<std::string> Honest::missing_from_history() const {
  std::string error;
  const auto history = read_history(port_, options_.room, "auditor", &error);
  if (!error.empty()) return {"history could not be read: " + error};
  std::vector<std::string> missing;
  for (const auto& a : acked_) {
    auto it = history.find(a.seq);
    if (it == history.end() || it->second != a.cid)
      missing.push_back("seq " + std::to_string(a.seq) + " (" + a.cid + ")" +
                        (it == history.end() ? " absent" : " holds " + it->second));
  }
  return missing;
}

std::map<std::uint64_t, std::string> read_history(unsigned short port, const std::string& room, const std::string& user,
                                                  std::string* error) {
  std::map<std::uint64_t, std::string> out;
  Peer p;
  const auto timeout = it::scaled(10s);
  if (const int status = p.open(port, honest_address, timeout); status != 101) {
    *error = "upgrade: " + std::to_string(status) + " " + p.refusal() + p.error();
    return out;
  }
  auto w = p.request({{"type", "hello"}, {"name", user}}, timeout);
  auto j = p.request({{"type", "join"}, {"room", room}}, timeout);
  if (!w || !j || it::type_of(*j) != "joined") {
    *error = "join " + room + ": " + (j ? it::dump(*j) : "no answer");
    return out;
  }
  std::optional<std::uint64_t> before;
  for (int page = 0; page < 10000; ++page) {
    json::object req{{"type", "history"}, {"room", room}, {"limit", 100}};
    if (before) req["before"] = *before;
    auto r = p.request(req, timeout);
    if (r && it::str(*r, "code") == "rate_limited") {
      std::this_thread::sleep_for(Ms(it::i64(*r, "retry_after_ms") + 10));
      continue;
    }
    if (!r || it::type_of(*r) != "history") {
      *error = "history: " + (r ? it::dump(*r) : "no answer");
      return out;
    }
    const auto& messages = r->at("messages").as_array();
    for (const auto& m : messages) out[it::u64(m.as_object(), "seq")] = it::str(m.as_object(), "cid");
    if (messages.empty() || !r->at("has_more").as_bool()) break;
    before = it::u64(messages.front().as_object(), "seq");
  }
  return out;
}

std::optional<double> metric_of(unsigned short port, const std::string& name) {
  try {
    return it::fetch_metric(port, name);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string counts(const std::map<std::string, std::size_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    if (!out.empty()) out += ',';
    out += k + ":" + std::to_string(v);
  }
  return out.empty() ? "-" : out;
}

// ---------------------------------------------------------------------------------------------
// HostileTest

void HostileTest::start_node(std::vector<std::string> settings, unsigned long max_files) {
  auto options = node_options(std::move(settings));
  options.max_files = max_files;
  node_ = std::make_unique<it::ServerProcess>(std::move(options));
  rss_ = std::make_unique<RssSampler>(node_->pid());
}

void HostileTest::start_honest(Honest::Options options) {
  honest_ = std::make_unique<Honest>(port(), std::move(options));
  honest_->start();
}

namespace {
bool process_alive(int pid) {
  if (pid <= 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}
}  // namespace

void HostileTest::finish(const std::string& attack, const std::string& bound, const std::string& seen) {
  if (honest_) honest_->stop();
  if (rss_) rss_->stop();
  peak_mb_ = rss_ ? rss_->peak_mb() : 0;
  alive_ = false;
  if (!process_alive(node_->pid())) {
    alive_error_ = "the server process is gone";
  } else {
    // Answering too: /healthz, a little patience for a node that is still closing the attack's
    // connections (it may be at max_connections for a moment).
    const auto deadline = Clock::now() + it::scaled(5s);
    do {
      try {
        const auto r = it::http_get(port(), "/healthz", 2s);
        alive_ = r.status == 200;
        alive_error_ = alive_ ? "" : "/healthz answered " + std::to_string(r.status);
      } catch (const std::exception& e) {
        alive_error_ = std::string("/healthz: ") + e.what();
      }
      if (!alive_) std::this_thread::sleep_for(200ms);
    } while (!alive_ && Clock::now() < deadline);
  }
  if (alive_ && honest_) missing_ = honest_->missing_from_history();
  char line[1024];
  std::snprintf(line, sizeof line,
                "HOSTILE attack=%s peak_rss_mb=%.0f honest_p50_ms=%.1f honest_max_ms=%.1f bound=%s seen=%s",
                attack.c_str(), peak_mb_, honest_ ? honest_->p50_ms() : -1.0, honest_ ? honest_->max_ms() : -1.0,
                bound.c_str(), seen.c_str());
  std::printf("%s\n", line);
  std::fflush(stdout);
  if (const char* file = std::getenv("PARLEY_HOSTILE_REPORT"); file && *file)
    std::ofstream(file, std::ios::app) << line << "\n";
  if (honest_) {
    std::fprintf(stderr, "honest: %zu round trips, %zu acked, %zu failures, %zu missing, alive: %s\n",
                 honest_->latencies_ms().size(), honest_->acked(), honest_->failures().size(), missing_.size(),
                 alive_ ? "yes" : alive_error_.c_str());
    for (std::size_t i = 0; i < honest_->failures().size() && i < 5; ++i)
      std::fprintf(stderr, "  honest failure: %s\n", honest_->failures()[i].c_str());
    for (const auto& [status, n] : honest_->refusals())
      std::fprintf(stderr, "  newcomers refused %d: %zu\n", status, n);
  }
}

void HostileTest::expect_node_held(double rss_bound_mb, Ms deadline, const std::vector<int>& tolerated) {
  if (!asserting()) return;
  EXPECT_TRUE(alive_) << "the node must survive the attack: " << alive_error_;
  EXPECT_LT(peak_mb_, rss_bound_mb) << "the node's peak RSS, in MB";
  if (!honest_) return;
  EXPECT_GT(honest_->acked(), 0U) << "the honest client got nothing acked";
  EXPECT_LE(honest_->max_ms(), static_cast<double>(it::scaled(deadline).count()))
      << "the honest client's slowest round trip, in ms";
  for (const auto& f : honest_->failures()) ADD_FAILURE() << "honest client: " << f;
  for (const auto& [status, n] : honest_->refusals())
    EXPECT_TRUE(std::find(tolerated.begin(), tolerated.end(), status) != tolerated.end())
        << n << " newcomers refused with " << status;
  for (const auto& m : missing_) ADD_FAILURE() << "acked and missing from history: " << m;
}

}  // namespace parley::hostile
