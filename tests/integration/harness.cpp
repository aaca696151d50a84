#include "harness.hpp"

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#ifndef PARLEY_BINARY
#error "PARLEY_BINARY must name the parley executable"
#endif
#ifndef PARLEY_WEB_DIR
#error "PARLEY_WEB_DIR must name the web directory"
#endif
#ifndef PARLEY_IT_TIME_SCALE
#define PARLEY_IT_TIME_SCALE 1
#endif

namespace parley::it {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void close_fds_from(int first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  const long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (max > 0 ? max : 65536); ++fd) ::close(static_cast<int>(fd));
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

int time_scale() {
  static const int scale = [] {
    if (const char* s = std::getenv("PARLEY_IT_TIME_SCALE")) {
      const int v = std::atoi(s);
      if (v > 0) return v;
    }
    return PARLEY_IT_TIME_SCALE;
  }();
  return scale;
}

bool eventually(const std::function<bool()>& cond, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// ---------------------------------------------------------------------------------------------
// ServerProcess

std::string parley_binary() {
  if (const char* bin = std::getenv("PARLEY_BIN"); bin && *bin) return bin;
  return PARLEY_BINARY;
}

const std::vector<std::string>& parley_config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    const RunResult r = run_parley({"config-keys"});
    if (r.exit_code != 0) fail("parley config-keys failed: " + r.output);
    // Lines are "key = default    # what it is".
    std::istringstream in(r.output);
    std::string line;
    while (std::getline(in, line)) {
      const auto eq = line.find(" = ");
      if (eq != std::string::npos && eq > 0) out.push_back(line.substr(0, eq));
    }
    return out;
  }();
  return keys;
}

ServerProcess::ServerProcess(ServerOptions options) : options_(std::move(options)) {
  char tmpl[] = "/tmp/parley-it-XXXXXX";
  if (!::mkdtemp(tmpl)) fail("mkdtemp failed");
  dir_ = tmpl;
  data_dir_ = dir_ + "/data";
  stdout_path_ = dir_ + "/stdout.log";
  stderr_path_ = dir_ + "/stderr.log";
  start();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  const std::string reports = sanitizer_reports();
  if (!reports.empty()) ADD_FAILURE() << "the server's stderr has sanitizer/crash reports:\n" << reports;
  if (::testing::Test::HasFailure()) {
    std::string err = stderr_text();
    if (err.size() > 12000) err = "…" + err.substr(err.size() - 12000);
    std::fprintf(stderr, "---- server stderr (%s) ----\n%s\n---- end of server stderr ----\n", stderr_path_.c_str(),
                 err.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void ServerProcess::start() {
  if (pid_ > 0) fail("server already running");
  const std::string listen = "127.0.0.1:" + std::to_string(port_);
  const std::string argv0 = parley_binary();
  std::vector<std::string> args = {
      argv0,         "serve",           "--listen",     listen,      "--data",
      data_dir_,     "--web",           PARLEY_WEB_DIR, "--threads", std::to_string(options_.threads),
      "--log-level", options_.log_level};
  // A handler that throws is a failed test, not a logged line (the server's default).
  std::vector<std::string> settings = {"server.fail_fast=true"};
  // A test's clients all come from 127.0.0.1, as many users behind one address would: the
  // per-address and per-user budgets are off unless a test keeps them (client_budgets: hostile/).
  if (!options_.client_budgets) {
    settings.insert(settings.end(), {"limits.max_connections_per_address=0", "limits.connect_rate_per_address=0",
                                     "limits.send_rate_per_address=0", "limits.request_rate_per_address=0",
                                     "limits.send_rate_per_user=0", "limits.room_create_rate=0"});
  }
  settings.insert(settings.end(), options_.settings.begin(), options_.settings.end());
  std::unordered_set<std::string> known;
  if (options_.drop_unknown_settings) known.insert(parley_config_keys().begin(), parley_config_keys().end());
  for (const auto& s : settings) {
    if (options_.drop_unknown_settings && !known.contains(s.substr(0, s.find('=')))) {
      if (starts_ == 0)
        std::fprintf(stderr, "note: %s does not know the setting %s: not passed\n", argv0.c_str(), s.c_str());
      continue;
    }
    args.push_back("--set");
    args.push_back(s);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int out = ::open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) fail("cannot open log files in " + dir_);
  if (starts_ > 0) {
    const std::string banner = "\n==== restart " + std::to_string(starts_) + " ====\n";
    (void)!::write(err, banner.data(), banner.size());
  }
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork failed");
  if (pid == 0) {
    ::dup2(out, 1);
    ::dup2(err, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    // Client sockets of this test must not live on in the server.
    close_fds_from(3);
    if (options_.max_files > 0) {
      const rlimit r{options_.max_files, options_.max_files};
      if (::setrlimit(RLIMIT_NOFILE, &r) != 0) _exit(126);
    }
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(out);
  ::close(err);
  pid_ = pid;
  ++starts_;
  const auto deadline = Clock::now() + scaled(15s);
  const std::string marker = "parley: listening on 127.0.0.1:";
  for (;;) {
    const std::string text = read_file(stdout_path_);
    if (auto at = text.find(marker); at != std::string::npos) {
      const auto eol = text.find('\n', at);
      if (eol != std::string::npos) {
        port_ = static_cast<unsigned short>(std::stoul(text.substr(at + marker.size(), eol - at - marker.size())));
        return;
      }
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail("parley exited (status " + std::to_string(decode_status(status)) + ") before listening:\n" + stderr_text());
    }
    if (Clock::now() > deadline) fail("parley did not print its listening line in time:\n" + stderr_text());
    std::this_thread::sleep_for(5ms);
  }
}

void ServerProcess::signal_term() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

int ServerProcess::wait_exit(Ms wait) {
  if (pid_ <= 0) return -1;
  const auto deadline = Clock::now() + wait;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return decode_status(status);
    }
    if (Clock::now() > deadline) return -1;
    std::this_thread::sleep_for(5ms);
  }
}

int ServerProcess::terminate(Ms wait) {
  signal_term();
  return wait_exit(wait);
}

void ServerProcess::stop() {
  const int code = terminate(scaled(10s));
  if (code == -1) {
    kill9();
    fail("parley did not exit within 10 s of SIGTERM");
  }
  if (code != 0) fail("parley exited with " + std::to_string(code) + " after SIGTERM");
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ServerProcess::stderr_text() const { return read_file(stderr_path_); }

std::string ServerProcess::sanitizer_reports() const {
  const std::string text = stderr_text();
  static const char* markers[] = {"WARNING: ThreadSanitizer",
                                  "ERROR: AddressSanitizer",
                                  "ERROR: LeakSanitizer",
                                  "runtime error:",
                                  "SUMMARY: UndefinedBehaviorSanitizer",
                                  "unhandled exception"};
  std::string out;
  for (const char* m : markers) {
    std::size_t at = 0;
    while ((at = text.find(m, at)) != std::string::npos) {
      out += text.substr(at > 200 ? at - 200 : 0, 3000) + "\n...\n";
      at += std::strlen(m);
      if (out.size() > 20000) return out;
    }
  }
  return out;
}

RunResult run_parley(const std::vector<std::string>& args, Ms timeout) {
  char tmpl[] = "/tmp/parley-run-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) fail("mkstemp failed");
  std::vector<std::string> all = {parley_binary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    close_fds_from(3);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fd);
  RunResult r;
  const auto deadline = Clock::now() + scaled(timeout);
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      r.exit_code = decode_status(status);
      break;
    }
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  r.output = read_file(tmpl);
  ::unlink(tmpl);
  return r;
}

// ---------------------------------------------------------------------------------------------
// HTTP

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

json::value HttpResponse::json() const {
  std::error_code ec;
  auto v = json::parse(body, ec);
  if (ec) fail("response body is not JSON: " + body);
  return v;
}

std::optional<HttpResponse> parse_http_response(const std::string& bytes, std::size_t* used, bool no_body) {
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  HttpResponse r;
  std::istringstream head(bytes.substr(0, end));
  std::string line;
  std::getline(head, line);
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) fail("bad status line: " + line);
  r.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r.headers[lower(line.substr(0, colon))] = value;
  }
  std::size_t body_at = end + 4;
  if (r.status == 101 || no_body) {
    if (used) *used = body_at;
    return r;
  }
  const std::string cl = r.header("content-length");
  if (!cl.empty()) {
    const std::size_t n = std::stoul(cl);
    if (bytes.size() < body_at + n) return std::nullopt;
    r.body = bytes.substr(body_at, n);
    if (used) *used = body_at + n;
    return r;
  }
  if (used == nullptr) {  // read to EOF
    r.body = bytes.substr(body_at);
    return r;
  }
  *used = body_at;
  return r;
}

HttpResponse http_raw(unsigned short port, const std::string& request, Ms timeout) {
  RawClient c;
  if (!c.connect(port)) fail("cannot connect to port " + std::to_string(port));
  c.send(request);
  const bool head = request.rfind("HEAD ", 0) == 0;  // a response to HEAD has no body
  bool eof = false;
  const auto deadline = Clock::now() + scaled(timeout);
  for (;;) {
    std::size_t used = 0;
    if (head) {
      if (auto r = parse_http_response(c.buffer(), &used, true)) return *r;
    }
    if (auto r = parse_http_response(c.buffer(), &used);
        r && (!r->header("content-length").empty() || r->status == 101))
      return *r;
    if (eof) {
      if (auto r = parse_http_response(c.buffer(), nullptr)) return *r;
      fail("connection closed before a complete response: " + c.buffer());
    }
    if (Clock::now() > deadline) fail("no complete HTTP response in time: " + c.buffer());
    const std::string more = c.read_some(20ms);
    if (more.empty() && c.fd() >= 0) {
      pollfd p{c.fd(), POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        char tmp[1];
        if (::recv(c.fd(), tmp, 1, MSG_PEEK) == 0) eof = true;
      }
    }
  }
}

HttpResponse http_get(unsigned short port, const std::string& path, Ms timeout) {
  return http_raw(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout);
}

std::optional<double> metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

std::optional<double> fetch_metric(unsigned short port, const std::string& name) {
  return metric(http_get(port, "/metrics").body, name);
}

// ---------------------------------------------------------------------------------------------
// RawClient

RawClient::~RawClient() { close(); }

bool RawClient::connect(unsigned short port, int rcvbuf) {
  close();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket() failed");
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // A plain Asio endpoint gives the address; the socket stays a POSIX one for poll() timeouts.
  const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), port);
  if (::connect(fd, ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
    ::close(fd);
    return false;
  }
  fd_ = fd;
  buf_.clear();
  return true;
}

void RawClient::send(std::string_view bytes) {
  if (!try_send(bytes)) fail("raw send failed: " + std::string(std::strerror(errno)));
}

bool RawClient::try_send(std::string_view bytes) {
  if (fd_ < 0) return false;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string RawClient::read_some(Ms timeout) {
  if (fd_ < 0) return {};
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return {};
  char tmp[65536];
  const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) return {};
  buf_.append(tmp, static_cast<std::size_t>(n));
  return std::string(tmp, static_cast<std::size_t>(n));
}

std::string RawClient::read_until_eof(Ms timeout, bool* eof) {
  std::string out;
  if (eof) *eof = false;
  if (fd_ < 0) return out;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    if (left.count() <= 0) return out;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (eof) *eof = true;
      return out;
    }
    out.append(tmp, static_cast<std::size_t>(n));
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

bool RawClient::closed_within(Ms timeout) {
  bool eof = false;
  read_until_eof(timeout, &eof);
  return eof;
}

std::optional<HttpResponse> RawClient::read_http_response(Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::size_t used = 0;
    if (auto r = parse_http_response(buf_, &used); r && (r->status == 101 || !r->header("content-length").empty())) {
      buf_.erase(0, used);
      return r;
    }
    const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    bool eof = false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 50))) > 0) {
      char tmp[65536];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0)
        eof = true;
      else
        buf_.append(tmp, static_cast<std::size_t>(n));
    }
    if (eof) return std::nullopt;
  }
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

HttpResponse RawClient::ws_upgrade(const std::string& path, const std::string& extra_headers) {
  send("GET " + path +
       " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
       "Sec-WebSocket-Protocol: parley.v1\r\n" +
       extra_headers + "\r\n");
  auto r = read_http_response(scaled(5s));
  if (!r) fail("no response to the WebSocket upgrade: " + buf_);
  return *r;
}

std::uint16_t RawClient::Frame::close_code() const {
  if (payload.size() < 2) return 1005;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                    static_cast<unsigned char>(payload[1]));
}

std::optional<RawClient::Frame> RawClient::read_frame(Ms timeout, bool* eof) {
  if (eof) *eof = false;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // Try to parse a whole frame from buf_.
    if (buf_.size() >= 2) {
      const auto b0 = static_cast<unsigned char>(buf_[0]);
      const auto b1 = static_cast<unsigned char>(buf_[1]);
      std::uint64_t len = b1 & 0x7F;
      std::size_t pos = 2;
      bool complete = true;
      if (len == 126) {
        if (buf_.size() < 4)
          complete = false;
        else
          len = (static_cast<std::uint64_t>(static_cast<unsigned char>(buf_[2])) << 8) |
                static_cast<unsigned char>(buf_[3]),
          pos = 4;
      } else if (len == 127) {
        if (buf_.size() < 10)
          complete = false;
        else {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[2 + i]);
          pos = 10;
        }
      }
      const bool masked = b1 & 0x80;
      if (complete && buf_.size() >= pos + (masked ? 4 : 0) + len) {
        Frame f;
        f.fin = b0 & 0x80;
        f.opcode = b0 & 0x0F;
        char mask[4] = {0, 0, 0, 0};
        if (masked) {
          std::memcpy(mask, buf_.data() + pos, 4);
          pos += 4;
        }
        f.payload = buf_.substr(pos, static_cast<std::size_t>(len));
        for (std::size_t i = 0; i < f.payload.size(); ++i) f.payload[i] ^= mask[i & 3];
        buf_.erase(0, pos + static_cast<std::size_t>(len));
        return f;
      }
    }
    const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    if (left.count() <= 0 || fd_ < 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (eof) *eof = true;
      return std::nullopt;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

std::optional<std::uint16_t> RawClient::read_close(Ms timeout, std::vector<Frame>* seen) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    bool eof = false;
    auto f = read_frame(left, &eof);
    if (!f) return std::nullopt;
    if (seen) seen->push_back(*f);
    if (f->opcode == 8) return f->close_code();
  }
}

std::string ws_frame(int opcode, std::string_view payload, bool fin, bool mask, int rsv) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0F)));
  const std::uint64_t n = payload.size();
  const char m = mask ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f.push_back(static_cast<char>(m | static_cast<char>(n)));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 0; i < 8; ++i) f.push_back(static_cast<char>(n >> (56 - 8 * i)));
  }
  const char key[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
  if (mask) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(mask ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return f;
}

std::string ws_close_payload(std::uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

// ---------------------------------------------------------------------------------------------
// WsClient

struct WsClient::Impl {
  std::shared_ptr<asio::io_context> ioc;
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer rbuf;
  std::deque<json::object> events;
  bool reading = false;
  bool writing = false;
  bool closed = false;  // the read side failed or the close frame came
  bool broken = false;  // a write did not complete in time: no further writes
  std::optional<std::uint16_t> code;
  std::string reason;
  beast::error_code read_ec;
  std::string subprotocol;
  std::int64_t next_ref = 1;

  explicit Impl(std::shared_ptr<asio::io_context> c) : ioc(std::move(c)), ws(*ioc) {}

  // Runs the io_context until done() or timeout; false on timeout.
  bool run_until(const std::function<bool()>& done, Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      const auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) return false;
      if (ioc->stopped()) ioc->restart();
      ioc->run_one_for(std::chrono::duration_cast<std::chrono::microseconds>(left) + std::chrono::microseconds(1));
    }
    return true;
  }

  void start_read() {
    reading = true;
    ws.async_read(rbuf, [this](beast::error_code ec, std::size_t) {
      reading = false;
      if (ec) {
        closed = true;
        read_ec = ec;
        if (ec == websocket::error::closed) {
          code = ws.reason().code;
          reason = std::string(ws.reason().reason.data(), ws.reason().reason.size());
        }
        return;
      }
      const std::string data = beast::buffers_to_string(rbuf.data());
      rbuf.consume(rbuf.size());
      if (!ws.got_text()) ADD_FAILURE() << "the server sent a binary frame";
      std::size_t start = 0;
      while (start <= data.size()) {
        const auto nl = data.find('\n', start);
        const std::string_view line(data.data() + start, (nl == std::string::npos ? data.size() : nl) - start);
        if (!line.empty()) {
          std::error_code jec;
          auto v = json::parse(line, jec);
          if (jec || !v.is_object())
            ADD_FAILURE() << "the server sent a line that is not a JSON object: " << line;
          else
            events.push_back(std::move(v.get_object()));
        } else {
          ADD_FAILURE() << "the server sent an empty line in a frame: [" << data << "]";
        }
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      start_read();
    });
  }

  void write(std::string_view text, bool binary) {
    if (broken) fail("write on a client whose previous write did not complete");
    if (closed) return;  // the server closed us; the test looks at the close
    // Heap state: if the write times out, its handler may still run later (in drop()).
    struct State {
      std::string bytes;
      bool done = false;
    };
    auto st = std::make_shared<State>(State{std::string(text), false});
    ws.binary(binary);
    writing = true;
    ws.async_write(asio::buffer(st->bytes), [this, st](beast::error_code, std::size_t) {
      // A failed write means the connection is closing: the read side reports how.
      st->done = true;
      writing = false;
    });
    if (!run_until([&] { return st->done; }, scaled(10s))) {
      broken = true;
      fail("a WebSocket write did not complete in 10 s");
    }
  }

  void drop() {
    beast::error_code ec;
    ws.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    ws.next_layer().close(ec);
    run_until([this] { return !reading && !writing; }, 2s);
    closed = true;
  }
};

WsClient::WsClient(unsigned short port, std::shared_ptr<asio::io_context> shared, int rcvbuf)
    : impl_(std::make_unique<Impl>(shared ? std::move(shared) : std::make_shared<asio::io_context>(1))) {
  auto& s = impl_->ws.next_layer();
  s.open(tcp::v4());
  if (rcvbuf > 0) s.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
  beast::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), ec);
  if (ec) fail("connect to port " + std::to_string(port) + ": " + ec.message());
  impl_->ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(http::field::sec_websocket_protocol, "parley.v1");
    req.set(http::field::user_agent, "parley-integration-test");
  }));
  struct State {
    websocket::response_type res;
    beast::error_code ec;
    bool done = false;
  };
  auto st = std::make_shared<State>();
  impl_->ws.async_handshake(st->res, "127.0.0.1:" + std::to_string(port), "/ws", [st](beast::error_code e) {
    st->ec = e;
    st->done = true;
  });
  if (!impl_->run_until([&] { return st->done; }, scaled(10s))) {
    beast::error_code ignored;
    s.close(ignored);
    impl_->run_until([&] { return st->done; }, 2s);
    fail("WebSocket handshake timed out");
  }
  if (st->ec) fail("WebSocket handshake failed: " + st->ec.message());
  impl_->subprotocol = std::string(st->res[http::field::sec_websocket_protocol]);
  impl_->start_read();
}

WsClient::~WsClient() {
  if (impl_) impl_->drop();
}

const std::string& WsClient::subprotocol() const { return impl_->subprotocol; }

void WsClient::send_text(std::string_view text) { impl_->write(text, false); }
void WsClient::send_binary(std::string_view bytes) { impl_->write(bytes, true); }

std::string WsClient::serialize(const json::value& v) { return json::serialize(v); }

std::optional<json::object> WsClient::next(Ms timeout) {
  auto& im = *impl_;
  im.run_until([&] { return !im.events.empty() || (im.closed && !im.reading); }, timeout);
  if (im.events.empty()) return std::nullopt;
  json::object e = std::move(im.events.front());
  im.events.pop_front();
  return e;
}

std::optional<json::object> WsClient::wait_for(std::string_view type, std::function<bool(const json::object&)> pred,
                                               Ms timeout) {
  auto& im = *impl_;
  std::size_t scanned = 0;
  std::optional<json::object> found;
  auto look = [&] {
    for (; scanned < im.events.size(); ++scanned) {
      const auto& e = im.events[scanned];
      if ((type.empty() || type_of(e) == type) && (!pred || pred(e))) {
        found = e;
        im.events.erase(im.events.begin() + static_cast<std::ptrdiff_t>(scanned));
        return true;
      }
    }
    return im.closed && !im.reading;
  };
  im.run_until(look, timeout);
  return found;
}

bool WsClient::expect_no_event(Ms d) {
  auto& im = *impl_;
  im.run_until([&] { return !im.events.empty(); }, d);
  return im.events.empty();
}

void WsClient::pump(Ms d) {
  auto& im = *impl_;
  if (im.ioc->stopped()) im.ioc->restart();
  if (d.count() == 0) {
    im.ioc->poll();
    return;
  }
  im.run_until([] { return false; }, d);
}

std::deque<json::object>& WsClient::events() { return impl_->events; }

void WsClient::clear() {
  pump();
  impl_->events.clear();
}

json::object WsClient::request(json::object req, Ms timeout) {
  const std::int64_t ref = impl_->next_ref++;
  req["ref"] = ref;
  const std::string type =
      req.contains("type") && req.at("type").is_string() ? std::string(req.at("type").as_string()) : "?";
  send_json(req);
  auto& im = *impl_;
  std::optional<json::object> found;
  std::size_t scanned = 0;
  im.run_until(
      [&] {
        for (; scanned < im.events.size(); ++scanned) {
          const auto& e = im.events[scanned];
          if (auto it = e.find("ref"); it != e.end() && it->value().is_int64() && it->value().get_int64() == ref) {
            found = e;
            im.events.erase(im.events.begin() + static_cast<std::ptrdiff_t>(scanned));
            return true;
          }
        }
        return im.closed && !im.reading;
      },
      timeout);
  if (!found) {
    fail("no reply to " + type + " (ref " + std::to_string(ref) + ")" +
         (im.closed ? " — connection closed, code " + std::to_string(im.code.value_or(0)) : std::string()));
  }
  return *found;
}

json::object WsClient::hello(const std::string& name) {
  auto r = request({{"type", "hello"}, {"name", name}});
  if (type_of(r) != "welcome") fail("hello: expected welcome, got " + dump(r));
  return r;
}

json::object WsClient::join(const std::string& room, std::optional<std::uint64_t> since) {
  json::object req{{"type", "join"}, {"room", room}};
  if (since) req["since"] = *since;
  auto r = request(std::move(req));
  if (type_of(r) != "joined") fail("join " + room + ": expected joined, got " + dump(r));
  return r;
}

json::object WsClient::create(const std::string& room) {
  auto r = request({{"type", "create"}, {"room", room}});
  if (type_of(r) != "created") fail("create " + room + ": expected created, got " + dump(r));
  return r;
}

json::object WsClient::send_message(const std::string& room, const std::string& cid, const std::string& text) {
  auto r = request({{"type", "send"}, {"room", room}, {"cid", cid}, {"text", text}});
  if (type_of(r) != "ack") fail("send " + cid + ": expected ack, got " + dump(r));
  return r;
}

std::vector<json::object> WsClient::full_history(const std::string& room, std::uint64_t page) {
  std::vector<json::object> out;
  std::optional<std::uint64_t> before;
  for (int guard = 0; guard < 100000; ++guard) {
    json::object req{{"type", "history"}, {"room", room}, {"limit", page}};
    if (before) req["before"] = *before;
    auto r = request(std::move(req));
    if (type_of(r) != "history") fail("history: got " + dump(r));
    const auto& msgs = r.at("messages").as_array();
    std::vector<json::object> chunk;
    for (const auto& m : msgs) chunk.push_back(m.as_object());
    out.insert(out.begin(), chunk.begin(), chunk.end());
    if (!r.at("has_more").as_bool() || chunk.empty()) break;
    before = u64(chunk.front(), "seq");
  }
  return out;
}

std::optional<std::uint16_t> WsClient::expect_close(Ms timeout) {
  auto& im = *impl_;
  im.run_until([&] { return im.closed && !im.reading; }, timeout);
  if (!im.closed) return std::nullopt;
  return im.code;
}

bool WsClient::closed() const { return impl_->closed; }
std::optional<std::uint16_t> WsClient::close_code() const { return impl_->code; }
std::string WsClient::close_reason() const { return impl_->reason; }

void WsClient::close(std::uint16_t code, Ms timeout) {
  auto& im = *impl_;
  if (im.closed) return;
  auto done = std::make_shared<bool>(false);
  im.writing = true;
  im.ws.async_close(websocket::close_reason(code), [&im, done](beast::error_code) {
    *done = true;
    im.writing = false;
  });
  im.run_until([&] { return *done && !im.reading; }, timeout);
  im.closed = true;
}

void WsClient::drop() { impl_->drop(); }

// ---------------------------------------------------------------------------------------------
// Events

std::string type_of(const json::object& e) { return str(e, "type"); }

std::string str(const json::object& e, std::string_view key) {
  auto it = e.find(key);
  if (it == e.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

std::uint64_t u64(const json::object& e, std::string_view key) {
  auto it = e.find(key);
  if (it == e.end()) fail("no field '" + std::string(key) + "' in " + dump(e));
  const auto& v = it->value();
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  fail("field '" + std::string(key) + "' is not a non-negative integer in " + dump(e));
}

std::int64_t i64(const json::object& e, std::string_view key) {
  auto it = e.find(key);
  if (it == e.end()) fail("no field '" + std::string(key) + "' in " + dump(e));
  const auto& v = it->value();
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
  fail("field '" + std::string(key) + "' is not an integer in " + dump(e));
}

bool has(const json::object& e, std::string_view key) { return e.contains(key); }

std::string dump(const json::object& e) { return json::serialize(e); }

}  // namespace parley::it
