#include "worker.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <random>

namespace bench {

std::uint64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

namespace {

constexpr std::uint64_t kControlTag = ~0ull;
constexpr std::size_t kReadBuffer = std::size_t{512} * 1024;

// Parses the unsigned decimal number right after `key` in [p, p+n); false if absent.
bool find_number(const char* p, std::size_t n, std::string_view key, std::uint64_t& out) {
  const void* hit = memmem(p, n, key.data(), key.size());
  if (!hit) return false;
  const char* q = static_cast<const char*>(hit) + key.size();
  const char* end = p + n;
  while (q < end && *q == ' ') ++q;
  std::uint64_t v = 0;
  const char* start = q;
  while (q < end && *q >= '0' && *q <= '9') v = v * 10 + static_cast<std::uint64_t>(*q++ - '0');
  if (q == start) return false;
  out = v;
  return true;
}

std::string_view find_string(const char* p, std::size_t n, std::string_view key) {
  const void* hit = memmem(p, n, key.data(), key.size());
  if (!hit) return {};
  const char* q = static_cast<const char*>(hit) + key.size();
  const char* end = p + n;
  const char* start = q;
  while (q < end && *q != '"') ++q;
  return {start, static_cast<std::size_t>(q - start)};
}

bool starts_with(const char* p, std::size_t n, std::string_view prefix) {
  return n >= prefix.size() && std::memcmp(p, prefix.data(), prefix.size()) == 0;
}

// The type of a server event: `{"type":"X"` is how every server here starts an event.
std::string_view event_type(const char* p, std::size_t n) {
  constexpr std::string_view head = "{\"type\":\"";
  if (starts_with(p, n, head)) {
    const char* q = p + head.size();
    const char* end = p + n;
    const char* s = q;
    while (q < end && *q != '"') ++q;
    return {s, static_cast<std::size_t>(q - s)};
  }
  return find_string(p, n, "\"type\":\"");
}

void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

Worker::Worker(WorkerConfig cfg, int control_fd) : cfg_(std::move(cfg)), ctl_(control_fd), rbuf_(kReadBuffer) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (cfg_.target.tls) {
    // wss: what a browser's TLS costs the server (the certificate is the test's own, not checked).
    tls_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_mode(tls_ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  if (ctl_ >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kControlTag;
    epoll_ctl(ep_, EPOLL_CTL_ADD, ctl_, &ev);
  }
  std::mt19937 rng(static_cast<unsigned>(now_ns()) ^ (cfg_.index * 2654435761u));
  const Layout& L = *cfg_.layout;
  if (cfg_.setup_only) {
    Conn c;
    c.global = 0;
    c.mask = rng() | 1;
    conns_.push_back(std::move(c));
  } else {
    for (std::size_t i = cfg_.index; i < L.size(); i += cfg_.workers) {
      Conn c;
      c.global = static_cast<std::uint32_t>(i);
      c.room = L.conn_room[i];
      c.pub = L.conn_pub[i];
      c.mask = rng() | 1;
      if (c.pub) pubs_.push_back(static_cast<std::uint32_t>(conns_.size()));
      conns_.push_back(std::move(c));
    }
  }
  for (std::uint32_t i = 0; i < conns_.size(); ++i) to_connect_.push_back(i);
  const std::size_t fixed = 1 + 19 + 1;  // "t" + ns + " "
  pad_.assign(cfg_.bytes > fixed ? cfg_.bytes - fixed : 0, 'x');
}

Worker::~Worker() {
  for (auto& c : conns_) {
    if (c.ssl != nullptr) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
  }
  if (tls_ctx_ != nullptr) SSL_CTX_free(tls_ctx_);
  if (ep_ >= 0) ::close(ep_);
}

std::uint64_t Worker::cpu_us() const {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& t) {
    return static_cast<std::uint64_t>(t.tv_sec) * 1000000ull + static_cast<std::uint64_t>(t.tv_usec);
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

void Worker::start_connects() {
  while (in_flight_ < cfg_.connect_concurrency && connect_next_ < to_connect_.size()) {
    Conn& c = conns_[to_connect_[connect_next_++]];
    ++in_flight_;
    open_conn(c);
  }
  if (connect_next_ == to_connect_.size()) {
    to_connect_.clear();
    connect_next_ = 0;
  }
}

void Worker::open_conn(Conn& c) {
  c.in.clear();
  c.frag.clear();
  c.out.clear();
  c.out_off = 0;
  c.want_out = false;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return fail(c, strerrorname_np(errno));
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Spread source addresses over 127.0.0.0/8 so that ephemeral ports never run out; the port is
  // chosen at connect time (per 4-tuple).
  setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  const std::uint32_t slot = c.global / 8000 + c.epoch * 16;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl((127u << 24) | ((cfg_.target.source_second & 0xFF) << 16) | ((slot / 250) << 8) |
                              (2u + slot % 250));  // 127.0.0.2, .3, … (127.<source_second>.x.y)
  if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return fail(c, strerrorname_np(errno));
  const auto& spread = cfg_.target.spread;
  const sockaddr_in& to = spread.empty() ? cfg_.target.addr : spread[c.global % spread.size()];
  const int r = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (r != 0 && errno != EINPROGRESS) return fail(c, strerrorname_np(errno));
  c.state = ConnState::connecting;
  if (tls_ctx_ != nullptr) {
    c.ssl = SSL_new(tls_ctx_);
    SSL_set_fd(c.ssl, c.fd);
    SSL_set_connect_state(c.ssl);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.want_out = true;
    return;
  }
  // Over loopback the kernel usually completes the handshake inside connect(): then the request
  // goes at once, as a browser's would, and the socket is watched for input only. Otherwise it
  // waits for EPOLLOUT (connected) first.
  const bool sent = send_upgrade(c);
  if (c.fd < 0) return;
  epoll_event ev{};
  ev.events = sent ? EPOLLIN : EPOLLIN | EPOLLOUT;
  ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
  epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  c.want_out = !sent;
}

bool Worker::send_upgrade(Conn& c) {
  // False if the socket is not connected yet (nothing sent); on any other error the connection fails.
  const std::string& req = upgrade_request();
  const ssize_t n = io_send(c, req.data(), req.size());
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)) return false;
  if (n < 0) {
    fail(c, strerrorname_np(errno));
    return false;
  }
  c.state = ConnState::handshake;
  if (static_cast<std::size_t>(n) < req.size()) {
    c.out.assign(req, static_cast<std::size_t>(n));  // the rest by flush(), on EPOLLOUT
    c.out_off = 0;
    return false;
  }
  return true;
}

void Worker::watch(Conn& c, bool out) {
  if (c.want_out == out) return;
  c.want_out = out;
  epoll_event ev{};
  ev.events = out ? EPOLLIN | EPOLLOUT : EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
  epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Worker::tls_step(Conn& c) {
  c.state = ConnState::tls;
  ERR_clear_error();
  const int r = SSL_do_handshake(c.ssl);
  if (r == 1) {
    if (send_upgrade(c)) return watch(c, false);
    if (c.fd >= 0) flush(c);  // a part sent: the rest now or on EPOLLOUT
    return;
  }
  switch (SSL_get_error(c.ssl, r)) {
    case SSL_ERROR_WANT_READ: return watch(c, false);
    case SSL_ERROR_WANT_WRITE: return watch(c, true);
    default: ERR_clear_error(); return fail(c, "tls");
  }
}

ssize_t Worker::io_send(Conn& c, const char* p, std::size_t n) {
  if (c.ssl == nullptr) return ::send(c.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  ERR_clear_error();
  std::size_t done = 0;
  const int r = SSL_write_ex(c.ssl, p, n, &done);
  if (r == 1) return static_cast<ssize_t>(done);
  const int e = SSL_get_error(c.ssl, r);
  ERR_clear_error();
  errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
  return -1;
}

ssize_t Worker::io_recv(Conn& c, char* p, std::size_t n) {
  if (c.ssl == nullptr) return ::recv(c.fd, p, n, 0);
  ERR_clear_error();
  std::size_t got = 0;
  const int r = SSL_read_ex(c.ssl, p, n, &got);
  if (r == 1) return static_cast<ssize_t>(got);
  const int e = SSL_get_error(c.ssl, r);
  ERR_clear_error();
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  errno = ECONNRESET;
  return -1;
}

const std::string& Worker::upgrade_request() {
  if (upgrade_request_.empty()) {
    upgrade_request_ =
        "GET " + cfg_.target.path + " HTTP/1.1\r\nHost: " + cfg_.target.host_header +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.v1\r\n\r\n";
  }
  return upgrade_request_;
}

void Worker::fail(Conn& c, const char* why) {
  if (why && c.state != ConnState::ready) ++error_codes_[std::string("connect_") + why];
  const bool was_connecting =
      c.state != ConnState::ready && c.state != ConnState::closing && c.state != ConnState::closed;
  if (c.late_join) {
    c.late_join = false;
    ++st_.join_failed;
    if (joins_in_flight_ > 0) --joins_in_flight_;
  }
  if (c.state == ConnState::ready) {
    --st_.ready;
    ++st_.closed;
  } else if (c.state == ConnState::closing) {
    ++st_.closed;
  } else {
    ++st_.failed;
  }
  if (c.ssl != nullptr) SSL_free(c.ssl);
  c.ssl = nullptr;
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.state = ConnState::closed;
  if (was_connecting && in_flight_ > 0) --in_flight_;
  if (cfg_.setup_only) {
    setup_failed_ = true;
    if (setup_error_.empty()) setup_error_ = "connection failed or closed";
  }
}

void Worker::mark_dirty(Conn& c) {
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(static_cast<std::uint32_t>(&c - conns_.data()));
  }
}

void Worker::send_frame(Conn& c, std::string_view payload, unsigned opcode) {
  const std::size_t n = payload.size();
  unsigned char hdr[14];
  std::size_t h = 0;
  hdr[h++] = static_cast<unsigned char>(0x80 | opcode);
  if (n < 126) {
    hdr[h++] = static_cast<unsigned char>(0x80 | n);
  } else if (n < 65536) {
    hdr[h++] = 0x80 | 126;
    hdr[h++] = static_cast<unsigned char>(n >> 8);
    hdr[h++] = static_cast<unsigned char>(n);
  } else {
    hdr[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) hdr[h++] = static_cast<unsigned char>(static_cast<std::uint64_t>(n) >> (8 * i));
  }
  std::memcpy(hdr + h, &c.mask, 4);
  h += 4;
  c.out.append(reinterpret_cast<const char*>(hdr), h);
  const std::size_t base = c.out.size();
  c.out.append(payload);
  auto* p = reinterpret_cast<unsigned char*>(c.out.data() + base);
  unsigned char m[4];
  std::memcpy(m, &c.mask, 4);
  for (std::size_t i = 0; i < n; ++i) p[i] ^= m[i & 3];
  mark_dirty(c);
}

void Worker::flush(Conn& c) {
  c.dirty = false;
  if (c.fd < 0 || c.out_off >= c.out.size()) return;
  while (c.out_off < c.out.size()) {
    const ssize_t n = io_send(c, c.out.data() + c.out_off, c.out.size() - c.out_off);
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.want_out) {
        c.want_out = true;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
      }
      return;
    }
    return fail(c);
  }
  c.out.clear();
  c.out_off = 0;
  if (c.want_out) {
    c.want_out = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }
}

void Worker::flush_dirty() {
  // flush() may not add to dirty_, so iterate by index over a stable list.
  for (std::size_t i = 0; i < dirty_.size(); ++i) flush(conns_[dirty_[i]]);
  dirty_.clear();
}

void Worker::on_event_fd(Conn& c, std::uint32_t events) {
  if (c.fd < 0) return;
  if (c.state == ConnState::connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(c, strerrorname_np(err));
    if (c.ssl != nullptr) return tls_step(c);
    if (send_upgrade(c)) {
      c.want_out = false;  // all sent: input only from now on
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
      epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
      return;
    }
    if (c.fd < 0) return;
    if (c.state == ConnState::connecting) return fail(c, "not_connected");
    flush(c);  // a part sent: the rest now or on EPOLLOUT
    return;
  }
  if (c.state == ConnState::tls) {
    if (events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP)) tls_step(c);
    return;
  }
  if (events & EPOLLIN) on_readable(c);
  if (c.fd >= 0 && (events & EPOLLOUT)) flush(c);
  if (c.fd >= 0 && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) fail(c);
}

void Worker::on_readable(Conn& c) {
  // TLS reads a record at a time, and what it has decrypted raises no epoll event: read on until
  // it would block.
  for (int i = 0; (c.ssl != nullptr || i < 4) && c.fd >= 0; ++i) {
    const ssize_t n = io_recv(c, rbuf_.data(), rbuf_.size());
    if (n > 0) {
      consume(c, rbuf_.data(), static_cast<std::size_t>(n));
      if (c.ssl == nullptr && static_cast<std::size_t>(n) < rbuf_.size()) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return fail(c, n == 0 ? "eof" : strerrorname_np(errno));  // EOF or error
  }
}

void Worker::consume(Conn& c, const char* data, std::size_t n) {
  if (c.state == ConnState::handshake) {
    c.in.append(data, n);
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > 16384) fail(c);
      return;
    }
    if (c.in.compare(0, 12, "HTTP/1.1 101") != 0) {
      if (cfg_.setup_only) setup_error_ = "upgrade refused: " + c.in.substr(0, c.in.find("\r\n"));
      return fail(c, "upgrade_refused");
    }
    std::string rest = c.in.substr(end + 4);
    c.in.clear();
    c.state = ConnState::hello;
    std::string hello;
    if (!cfg_.setup_only && !cfg_.layout->tokens.empty()) {
      // An account: its session token says who it is.
      hello = "{\"type\":\"hello\",\"token\":\"" + cfg_.layout->tokens[c.global];
    } else {
      hello = "{\"type\":\"hello\",\"name\":\"" + cfg_.layout->name_prefix;
      if (cfg_.setup_only)
        hello += "setup";
      else if (c.pub)
        hello += "p" + std::to_string(c.global);
      else if (cfg_.layout->shared_names)
        hello += "s";
      else
        hello += std::to_string(c.global);
    }
    hello += "\"}";
    send_frame(c, hello);
    if (!rest.empty()) consume(c, rest.data(), rest.size());
    return;
  }
  if (c.in.empty()) {
    const std::size_t used = parse_frames(c, data, n);
    if (c.fd >= 0 && used < n) c.in.assign(data + used, n - used);
  } else {
    c.in.append(data, n);
    const std::size_t used = parse_frames(c, c.in.data(), c.in.size());
    if (c.fd >= 0) c.in.erase(0, used);
  }
}

std::size_t Worker::parse_frames(Conn& c, const char* data, std::size_t n) {
  std::size_t pos = 0;
  while (c.fd >= 0 && n - pos >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(data + pos);
    const bool fin = p[0] & 0x80;
    const unsigned op = p[0] & 0x0F;
    const bool masked = p[1] & 0x80;
    std::uint64_t len = p[1] & 0x7F;
    std::size_t h = 2;
    if (len == 126) {
      if (n - pos < 4) break;
      len = (static_cast<std::uint64_t>(p[2]) << 8) | p[3];
      h = 4;
    } else if (len == 127) {
      if (n - pos < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      h = 10;
    }
    if (masked) {
      fail(c);  // servers never mask
      break;
    }
    if (n - pos - h < len) break;
    const char* payload = data + pos + h;
    const auto plen = static_cast<std::size_t>(len);
    pos += h + plen;
    switch (op) {
      case 0x1:
      case 0x2:
        if (fin)
          on_text(c, payload, plen);
        else
          c.frag.assign(payload, plen);
        break;
      case 0x0:
        c.frag.append(payload, plen);
        if (fin) {
          std::string whole = std::move(c.frag);
          c.frag.clear();
          on_text(c, whole.data(), whole.size());
        }
        break;
      case 0x8: {
        int code =
            plen >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]) : 1005;
        ++close_codes_[code];
        if (c.state != ConnState::closing) {
          std::string echo = plen >= 2 ? std::string(payload, 2) : std::string();
          send_frame(c, echo, 0x8);
          flush(c);
        }
        fail(c);
        break;
      }
      case 0x9: send_frame(c, std::string_view(payload, plen), 0xA); break;
      default: break;
    }
  }
  return pos;
}

void Worker::on_text(Conn& c, const char* p, std::size_t n) {
  const char* end = p + n;
  while (p < end && c.fd >= 0) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    if (line_end > p) on_line(c, p, static_cast<std::size_t>(line_end - p));
    p = nl ? nl + 1 : end;
  }
}

void Worker::on_line(Conn& c, const char* p, std::size_t n) {
  ++st_.events;
  const std::string_view type = event_type(p, n);
  // An edit, delete or reaction (--mix) is an entry of the room's sequence too: delivered in its
  // order like a message (its text carries no send time, so it adds no latency sample).
  if (type == "message" || type == "edit" || type == "delete" || type == "react" || type == "unreact") {
    std::uint64_t seq = 0;
    if (!find_number(p, n, "\"seq\":", seq)) return;
    if (c.has_seq && seq <= c.last_seq) {
      ++st_.dups;
      return;
    }
    if (c.has_seq && seq > c.last_seq + 1) st_.gaps += seq - c.last_seq - 1;
    c.last_seq = seq;
    c.has_seq = true;
    ++st_.delivered;
    std::uint64_t sent_ns = 0;
    if (type == "message" && find_number(p, n, "\"text\":\"t", sent_ns)) {
      const std::uint64_t now = now_ns();
      const std::uint64_t lat = now > sent_ns ? now - sent_ns : 0;
      lat_.record(lat);
      if (cfg_.layout->per_message) {
        SeqSeen& s = seen_[seq];
        ++s.count;
        s.max_ns = std::max(s.max_ns, lat);
      }
    }
    return;
  }
  if (type == "ack") {
    std::uint64_t seq = 0;
    find_number(p, n, "\"seq\":", seq);
    if (seq > st_.maxack) st_.maxack = seq;
    ++c.acked;
    ++st_.acked;
    if (c.room >= 0) st_.expected += cfg_.layout->room_members[static_cast<std::size_t>(c.room)];
    const std::string_view cid = find_string(p, n, "\"cid\":\"");
    const auto dot = cid.find('.');
    if (cfg_.mix > 0 && dot != std::string_view::npos) {
      std::uint64_t k = 0;
      std::from_chars(cid.data(), cid.data() + dot, k);
      if (!is_change(k) && seq > c.own_seq) c.own_seq = seq;
    }
    if (dot != std::string_view::npos) {
      std::uint64_t sent_ns = 0;
      std::from_chars(cid.data() + dot + 1, cid.data() + cid.size(), sent_ns);
      const std::uint64_t now = now_ns();
      ack_lat_.record(now > sent_ns ? now - sent_ns : 0);
    }
    if (window_ > 0) refill(c, now_ns());
    return;
  }
  if (type == "welcome") {
    if (cfg_.setup_only) {
      // A few at a time: the server answers at most limits.max_requests_in_flight (8) at once
      // per connection and refuses the rest.
      while (setup_sent_ < setup_rooms_.size() && setup_sent_ < 4) setup_create(c);
      c.state = ConnState::ready;
      return;
    }
    if (c.room < 0 || cfg_.layout->defer_join) return on_ready(c);
    c.state = ConnState::joining;
    std::string join = "{\"type\":\"join\",\"room\":\"" + cfg_.layout->rooms[static_cast<std::size_t>(c.room)] + "\"";
    if (c.resuming && c.has_seq) {
      join += ",\"since\":";
      append_u64(join, c.last_seq);
    }
    join += "}";
    send_frame(c, join);
    return;
  }
  if (type == "joined") {
    if (c.late_join) {  // defer_join: a ready connection's join, asked by the coordinator
      std::uint64_t last = 0;
      find_number(p, n, "\"last_seq\":", last);
      c.last_seq = last;
      c.has_seq = true;
      c.late_join = false;
      ++st_.joined;
      if (joins_in_flight_ > 0) --joins_in_flight_;
      return start_joins();
    }
    if (!c.resuming || !c.has_seq) {
      std::uint64_t last = 0;
      find_number(p, n, "\"last_seq\":", last);
      c.last_seq = last;
      c.has_seq = true;
    }
    if (c.resuming) ++st_.rejoined;
    return on_ready(c);
  }
  if (type == "created") {
    if (cfg_.setup_only) {
      ++setup_answers_;
      if (setup_sent_ < setup_rooms_.size()) setup_create(c);
    }
    return;
  }
  if (type == "error") {
    const std::string_view code = find_string(p, n, "\"code\":\"");
    ++error_codes_[std::string(code)];
    if (cfg_.setup_only) {
      if (code == "room_exists") {
        ++setup_answers_;
        if (setup_sent_ < setup_rooms_.size()) setup_create(c);
      } else {
        setup_failed_ = true;
        setup_error_ = std::string(p, n);
      }
      return;
    }
    if (c.late_join) {  // its join refused: the connection is no member
      ++error_codes_["join_" + std::string(code)];
      return fail(c);
    }
    if (c.state == ConnState::ready && c.pub && c.sent > c.acked + c.errs) {
      ++c.errs;
      ++st_.errs;
      if (window_ > 0) refill(c, now_ns());
    } else if (c.state != ConnState::ready) {
      fail(c);
    }
    return;
  }
  // presence, typing, pong, rooms, ...: ignored.
}

void Worker::setup_create(Conn& c) {
  send_frame(c, "{\"type\":\"create\",\"room\":\"" + setup_rooms_[setup_sent_++] + "\"}");
}

void Worker::on_ready(Conn& c) {
  c.state = ConnState::ready;
  c.resuming = false;
  ++st_.ready;
  if (in_flight_ > 0) --in_flight_;
  if (window_ > 0 && c.pub) refill(c, now_ns());
}

bool Worker::is_change(std::uint64_t k) const { return cfg_.mix > 0 && k % cfg_.mix == cfg_.mix - 1; }

void Worker::send_message(Conn& c, std::uint64_t now) {
  std::string m;
  m.reserve(96 + pad_.size());
  if (is_change(c.sent) && c.own_seq > 0) {
    // An edit (a text of the same length), a react or an unreact of the newest acked message:
    // each a new entry of the room's sequence, stored and acked like a message.
    static constexpr const char* kinds[] = {"edit", "react", "unreact"};
    const std::uint64_t kind = c.changes++ % 3;
    m += "{\"type\":\"";
    m += kinds[kind];
    m += "\",\"room\":\"";
    m += cfg_.layout->rooms[static_cast<std::size_t>(c.room)];
    m += "\",\"seq\":";
    append_u64(m, c.own_seq);
    m += ",\"cid\":\"";
    append_u64(m, c.sent);
    m += '.';
    append_u64(m, now);
    if (kind == 0) {
      m += "\",\"text\":\"e";
      m.append(19, '0');
      m += ' ';
      m += pad_;
      m += "\"}";
    } else {
      m += "\",\"emoji\":\"\\ud83d\\udc4d\"}";
    }
    ++c.sent;
    ++st_.sent;
    return send_frame(c, m);
  }
  // (A change's turn before anything was acked goes to a message; its ack is not taken as one.)
  m += "{\"type\":\"send\",\"room\":\"";
  m += cfg_.layout->rooms[static_cast<std::size_t>(c.room)];
  m += "\",\"cid\":\"";
  append_u64(m, c.sent);
  m += '.';
  append_u64(m, now);
  m += "\",\"text\":\"t";
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, now);
  // Fixed width, so every message has exactly the requested length.
  const auto len = static_cast<std::size_t>(r.ptr - digits);
  if (len < 19) m.append(19 - len, '0');
  m.append(digits, r.ptr);
  m += ' ';
  m += pad_;
  m += "\"}";
  ++c.sent;
  ++st_.sent;
  send_frame(c, m);
}

void Worker::refill(Conn& c, std::uint64_t now) {
  if (c.state != ConnState::ready || !c.pub) return;
  while (c.sent - c.acked - c.errs < window_) send_message(c, now);
}

void Worker::pace(std::uint64_t now) {
  if (rate_per_pub_ <= 0 || pubs_.empty()) return;
  const double local_rate = rate_per_pub_ * static_cast<double>(pubs_.size());
  const auto due = static_cast<std::uint64_t>(static_cast<double>(now - rate_t0_) * local_rate / 1e9);
  // Far behind (a stall): skip ahead rather than send a burst that is not the asked-for rate.
  std::uint64_t budget = std::max<std::uint64_t>(100, pubs_.size());
  while (rate_sent_ < due && budget-- > 0) {
    Conn& c = conns_[pubs_[rr_++ % pubs_.size()]];
    ++rate_sent_;
    if (c.state == ConnState::ready) send_message(c, now);
  }
  if (rate_sent_ < due) rate_sent_ = due;
}

void Worker::storm() {
  // Every subscriber drops its connection at once (RST, as after a crash or a network cut), then
  // reconnects and resumes with join since=<last seq>.
  for (std::uint32_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    if (c.pub || c.state != ConnState::ready) continue;
    linger lg{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(c.fd);
    c.fd = -1;
    c.dirty = false;
    c.state = ConnState::idle;
    c.resuming = true;
    ++c.epoch;
    --st_.ready;
    to_connect_.push_back(i);
  }
  dirty_.erase(std::remove_if(dirty_.begin(), dirty_.end(), [&](std::uint32_t i) { return conns_[i].fd < 0; }),
               dirty_.end());
  start_connects();
}

void Worker::start_joins() {
  const Layout& L = *cfg_.layout;
  while (joins_in_flight_ < cfg_.connect_concurrency && join_next_ < to_join_.size()) {
    Conn& c = conns_[to_join_[join_next_++]];
    if (c.state != ConnState::ready || c.room < 0 || c.late_join) continue;
    c.late_join = true;
    ++joins_in_flight_;
    send_frame(c, "{\"type\":\"join\",\"room\":\"" + L.rooms[static_cast<std::size_t>(c.room)] + "\"}");
  }
}

WorkerStats Worker::stats() {
  WorkerStats s = st_;
  s.cpu_us = cpu_us();
  s.caught = 0;
  for (const auto& c : conns_)
    if (!c.pub && c.state == ConnState::ready && c.has_seq && c.last_seq >= target_seq_) ++s.caught;
  return s;
}

void Worker::reply(const std::string& line) {
  std::string out = line + "\n";
  std::size_t off = 0;
  while (off < out.size()) {
    const ssize_t n = ::write(ctl_, out.data() + off, out.size() - off);
    if (n > 0)
      off += static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR)
      continue;
    else {
      quit_ = true;
      return;
    }
  }
}

void Worker::handle_command(const std::string& line) {
  const auto sp = line.find(' ');
  const std::string cmd = line.substr(0, sp);
  const std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
  if (cmd == "stat") {
    const WorkerStats s = stats();
    std::string o = "stat";
    for (std::uint64_t v : {s.ready, s.failed, s.closed, s.sent, s.acked, s.errs, s.delivered, s.expected, s.dups,
                            s.gaps, s.maxack, s.caught, s.rejoined, s.cpu_us, s.events, s.joined, s.join_failed}) {
      o += ' ';
      append_u64(o, v);
    }
    reply(o);
  } else if (cmd == "rate") {
    rate_per_pub_ = std::stod(arg);
    rate_t0_ = now_ns();
    rate_sent_ = 0;
  } else if (cmd == "window") {
    window_ = static_cast<unsigned>(std::stoul(arg));
    const auto now = now_ns();
    if (window_ > 0)
      for (auto i : pubs_) refill(conns_[i], now);
  } else if (cmd == "hreset") {
    lat_.reset();
    ack_lat_.reset();
  } else if (cmd == "storm") {
    storm();
  } else if (cmd == "target") {
    target_seq_ = std::stoull(arg);
  } else if (cmd == "hist") {
    std::string errors;
    for (const auto& [code, count] : error_codes_)
      errors += (errors.empty() ? "" : ",") + (code.empty() ? "?" : code) + ":" + std::to_string(count);
    std::string closes;
    for (const auto& [code, count] : close_codes_)
      closes += (closes.empty() ? "" : ",") + std::to_string(code) + ":" + std::to_string(count);
    reply("hist " + lat_.serialize() + " " + ack_lat_.serialize() + " " + (errors.empty() ? "-" : errors) + " " +
          (closes.empty() ? "-" : closes));
  } else if (cmd == "join") {
    to_join_.clear();
    join_next_ = 0;
    for (std::uint32_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].state == ConnState::ready && conns_[i].room >= 0) to_join_.push_back(i);
    start_joins();
  } else if (cmd == "sreset") {
    seen_.clear();
  } else if (cmd == "seqs") {
    // seq:count:max_ns for every message seen since sreset ("-": none).
    std::string o = "seqs ";
    for (const auto& [seq, s] : seen_) {
      if (o.size() > 5) o += ',';
      append_u64(o, seq);
      o += ':';
      append_u64(o, s.count);
      o += ':';
      append_u64(o, s.max_ns);
    }
    if (o.size() == 5) o += '-';
    reply(o);
  } else if (cmd == "quit") {
    quit_ = true;
  }
}

bool Worker::on_control() {
  char buf[4096];
  const ssize_t n = ::read(ctl_, buf, sizeof buf);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    return false;  // the coordinator is gone
  }
  ctl_in_.append(buf, static_cast<std::size_t>(n));
  std::size_t nl;
  while ((nl = ctl_in_.find('\n')) != std::string::npos) {
    std::string line = ctl_in_.substr(0, nl);
    ctl_in_.erase(0, nl + 1);
    handle_command(line);
  }
  return true;
}

int Worker::run() {
  start_connects();
  std::vector<epoll_event> events(1024);
  while (!quit_) {
    int timeout = 50;
    if (rate_per_pub_ > 0) timeout = 1;
    flush_dirty();
    const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0 && errno != EINTR) return 1;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      if (tag == kControlTag) {
        if (!on_control()) return 0;
        continue;
      }
      on_event_fd(conns_[static_cast<std::size_t>(tag)], events[static_cast<std::size_t>(i)].events);
    }
    if (rate_per_pub_ > 0) pace(now_ns());
    if (!to_connect_.empty()) start_connects();
    if (join_next_ < to_join_.size()) start_joins();
    if (cfg_.setup_only && (setup_failed_ || setup_answers_ >= setup_rooms_.size())) break;
  }
  flush_dirty();
  return 0;
}

bool Worker::create_rooms(const WorkerConfig& cfg, const std::vector<std::string>& rooms, std::string& error) {
  WorkerConfig c = cfg;
  c.setup_only = true;
  Worker w(c, -1);
  w.setup_rooms_ = rooms;
  const auto deadline = now_ns() + 60'000'000'000ull;
  w.start_connects();
  std::vector<epoll_event> events(16);
  while (!w.setup_failed_ && w.setup_answers_ < rooms.size() && now_ns() < deadline) {
    w.flush_dirty();
    const int n = epoll_wait(w.ep_, events.data(), static_cast<int>(events.size()), 50);
    for (int i = 0; i < n; ++i)
      w.on_event_fd(w.conns_[static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64)],
                    events[static_cast<std::size_t>(i)].events);
  }
  if (w.setup_answers_ >= rooms.size()) return true;
  error = w.setup_error_.empty() ? "timed out creating rooms" : w.setup_error_;
  return false;
}

}  // namespace bench
