#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hostile.hpp"
#include "socket_io.hpp"

namespace parley::hostile {

using namespace io;

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

}  // namespace parley::hostile
