#include "http_load.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace bench {
namespace {

struct Slot {
  int fd = -1;
  HttpRequest req;
  std::string out;
  std::size_t out_off = 0;
  std::string in;
  std::uint64_t t0 = 0;
};

// The status and body of a whole answer in `in`; false while it is incomplete (`eof`: the server
// closed, so what is there is all there is).
bool parse_answer(const std::string& in, bool eof, HttpAnswer& a) {
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  if (in.compare(0, 5, "HTTP/") != 0 || in.size() < 12) return false;
  a.status = static_cast<unsigned>(std::strtoul(in.c_str() + 9, nullptr, 10));
  std::size_t length = std::string::npos;
  for (std::size_t at = in.find("\r\n"); at < head_end; at = in.find("\r\n", at + 2)) {
    if (strncasecmp(in.c_str() + at + 2, "content-length:", 15) == 0)
      length = std::strtoul(in.c_str() + at + 17, nullptr, 10);
  }
  const std::size_t body_at = head_end + 4;
  if (length != std::string::npos) {
    if (in.size() < body_at + length) return false;
    a.body = in.substr(body_at, length);
    return true;
  }
  if (!eof) return false;
  a.body = in.substr(body_at);
  return true;
}

}  // namespace

std::string json_string(const std::string& body, const std::string& key) {
  const std::string k = "\"" + key + "\":\"";
  const auto at = body.find(k);
  if (at == std::string::npos) return {};
  const auto start = at + k.size();
  const auto end = body.find('"', start);
  return end == std::string::npos ? std::string() : body.substr(start, end - start);
}

void run_http(const Target& target, unsigned concurrency, const std::function<bool(HttpRequest&)>& next,
              const std::function<void(const HttpRequest&, HttpAnswer&&)>& done, const std::atomic<bool>& stop,
              std::uint64_t deadline_ns) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return;
  std::vector<Slot> slots(std::max(1U, concurrency));
  bool more = true;
  unsigned busy = 0;

  auto finish = [&](Slot& s, HttpAnswer&& a) {
    ::close(s.fd);  // also takes it out of the epoll set
    s.fd = -1;
    --busy;
    a.latency_ns = now_ns() - s.t0;
    done(s.req, std::move(a));
  };
  auto fail = [&](Slot& s, const char* why) {
    HttpAnswer a;
    a.error = why;
    finish(s, std::move(a));
  };
  auto start = [&](Slot& s) {
    s.req = HttpRequest{};
    if (!next(s.req)) {
      more = false;
      return;
    }
    ++busy;
    s.t0 = now_ns();
    s.in.clear();
    s.out = "POST " + s.req.path + " HTTP/1.1\r\nHost: " + target.host_header +
            "\r\nUser-Agent: parley-bench\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
            std::to_string(s.req.body.size()) + "\r\n\r\n" + s.req.body;
    s.out_off = 0;
    s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) return fail(s, strerrorname_np(errno));
    int one = 1;
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s.req.source != 0) {
      setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(s.req.source);
      if (::bind(s.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return fail(s, strerrorname_np(errno));
    }
    if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&target.addr), sizeof target.addr) != 0 &&
        errno != EINPROGRESS)
      return fail(s, strerrorname_np(errno));
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(&s - slots.data());
    epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
  };
  auto on_event = [&](Slot& s, std::uint32_t events) {
    if (s.out_off < s.out.size() && (events & EPOLLOUT)) {
      while (s.out_off < s.out.size()) {
        const ssize_t n = ::send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off, MSG_NOSIGNAL);
        if (n > 0) {
          s.out_off += static_cast<std::size_t>(n);
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return fail(s, n < 0 ? strerrorname_np(errno) : "send");
      }
      if (s.out_off == s.out.size()) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = static_cast<std::uint64_t>(&s - slots.data());
        epoll_ctl(ep, EPOLL_CTL_MOD, s.fd, &ev);
      }
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
      if (n > 0) {
        s.in.append(buf, static_cast<std::size_t>(n));
        HttpAnswer a;
        if (parse_answer(s.in, false, a)) return finish(s, std::move(a));
        if (s.in.size() > (1u << 20)) return fail(s, "answer too long");
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      HttpAnswer a;
      if (n == 0 && parse_answer(s.in, true, a)) return finish(s, std::move(a));
      return fail(s, n == 0 ? "closed without an answer" : strerrorname_np(errno));
    }
  };

  std::vector<epoll_event> events(slots.size());
  while (!stop.load(std::memory_order_relaxed) && now_ns() < deadline_ns) {
    for (auto& s : slots)
      if (more && s.fd < 0) start(s);
    if (!more && busy == 0) break;
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 20);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      Slot& s = slots[events[static_cast<std::size_t>(i)].data.u64];
      if (s.fd >= 0) on_event(s, events[static_cast<std::size_t>(i)].events);
    }
  }
  for (auto& s : slots)
    if (s.fd >= 0) ::close(s.fd);
  ::close(ep);
}

}  // namespace bench
