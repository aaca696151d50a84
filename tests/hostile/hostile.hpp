#pragma once
// The hostile suite's tools: the node under attack with its default budgets, raw WebSocket
// clients that bind any loopback source address (one attacker, many addresses), a swarm of
// thousands of them on one epoll set, an honest client that keeps chatting and timing its round
// trips, and the server's resident memory sampled from /proc.
//
// Every test prints one line, `HOSTILE attack=… peak_rss_mb=… honest_p50_ms=… honest_max_ms=…
// bound=… seen=…`, and then asserts, unless PARLEY_HOSTILE_REPORT_ONLY=1: then it only measures,
// so that the same attacks can be run against an older binary (PARLEY_BIN=…/parley) for the
// "before" figures. Settings the binary does not know are then dropped, not refused.
#include <gtest/gtest.h>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace parley::hostile {

namespace json = boost::json;
using it::Ms;
using Clock = std::chrono::steady_clock;

// PARLEY_HOSTILE_REPORT_ONLY=1: measure and print, assert nothing.
bool report_only();
// Milliseconds on the steady clock.
std::int64_t now_ms();

// The honest client's address; attackers come from 127.1.0.0/16 (attacker_address(0) is 127.1.0.1).
inline constexpr const char* honest_address = "127.0.0.1";
std::string attacker_address(std::size_t i);

// The node's options: the binary's default budgets (the harness turns the per-address and
// per-user ones off for its other tests), `settings` on top, fewer log lines, and in report-only
// mode the settings an older binary does not know dropped.
it::ServerOptions node_options(std::vector<std::string> settings = {});

// A masked client text frame.
std::string text_frame(std::string_view payload);
std::string text_frame(const json::object& request);

// One server frame taken off the front of `bytes` (`used` is its length), or nullopt if it is not
// whole yet.
struct ServerFrame {
  int opcode = 0;
  std::string_view payload;
  std::uint16_t close_code() const;  // a close frame's code (1005 if none)
};
std::optional<ServerFrame> take_frame(std::string_view bytes, std::size_t& used);

// The server's memory, from /proc/<pid>/status, sampled every 20 ms on a thread of its own, and
// its open descriptors (/proc/<pid>/fd) every 100 ms.
class RssSampler {
 public:
  explicit RssSampler(int pid);
  ~RssSampler();
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;
  double now_mb() const { return now_kb_.load() / 1024.0; }
  // The larger of the highest sample and the kernel's high-water mark (VmHWM), read now (after
  // stop(): the sampling thread is the only other writer).
  double peak_mb();
  std::size_t peak_fds() const { return peak_fds_.load(); }
  void stop();

 private:
  void sample();
  void count_fds();
  int pid_;
  std::atomic<std::size_t> peak_fds_{0};
  std::atomic<long> now_kb_{0};
  std::atomic<long> peak_kb_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};
// Attacks stop early when the server's memory passes this (MB): the machine is shared, and an
// unbounded server has shown what it does long before.
inline constexpr double safety_cap_mb = 1024;

// One WebSocket client on a raw socket, from any loopback source address, with a deadline on
// every step. Nothing fails the test: each step says whether it worked.
class Peer {
 public:
  Peer() = default;
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // Connects from `from` and asks for the upgrade: the answer's HTTP status (101: open), or 0 if
  // none came within `timeout` (error() says what happened). `rcvbuf` sets SO_RCVBUF.
  int open(unsigned short port, const std::string& from, Ms timeout, int rcvbuf = 0);
  bool send_raw(std::string_view bytes, Ms timeout);
  bool send(const json::object& request, Ms timeout) { return send_raw(text_frame(request), timeout); }
  // Sends `request` with a fresh ref and waits for the event that carries it; other events stay
  // in events().
  std::optional<json::object> request(json::object request, Ms timeout);
  std::optional<json::object> next(Ms timeout);
  // Reads (dropping events) until the server's close frame and EOF, or `timeout`.
  void read_to_end(Ms timeout);
  // Reads at most `bytes_per_second` (a client that reads, slowly) until the close frame or EOF.
  void read_slowly(std::size_t bytes_per_second, Ms timeout);

  std::deque<json::object>& events() { return events_; }
  std::optional<std::uint16_t> close_code() const { return close_; }
  bool eof() const { return eof_; }
  bool is_open() const { return fd_ >= 0 && !eof_ && !close_; }
  const std::string& error() const { return error_; }
  const std::string& refusal() const { return refusal_; }  // the JSON code of a refused upgrade
  std::size_t bytes_read() const { return bytes_read_; }
  std::size_t pongs() const { return pongs_; }  // WebSocket pongs received
  int fd() const { return fd_; }
  // A close frame (if the connection is open), then the socket.
  void close();

 private:
  // Reads what comes until `deadline` (one recv of at most `max` bytes); false on timeout or EOF.
  bool read_once(Clock::time_point deadline, std::size_t max = 1 << 16);
  void parse();

  int fd_ = -1;
  std::string in_;
  std::deque<json::object> events_;
  std::optional<std::uint16_t> close_;
  bool eof_ = false;
  bool upgraded_ = false;
  std::int64_t next_ref_ = 1;
  std::size_t bytes_read_ = 0;
  std::size_t pongs_ = 0;
  std::string error_;
  std::string refusal_;
};

// Many WebSocket clients on one epoll set, driven by run_for() on the calling thread. Connections
// are opened at most `window` at a time (a connect storm, not a SYN flood the kernel drops).
class Swarm {
 public:
  enum class State { waiting, connecting, upgrading, open, closed };
  struct Conn {
    int fd = -1;
    std::string from;
    int rcvbuf = 0;
    State state = State::waiting;
    int status = 0;       // the upgrade's HTTP status (0: none came)
    std::string refusal;  // the JSON code of a refused upgrade
    std::string error;    // a failed connect or write
    std::string in, out;
    bool reading = true;            // false: a client that stopped reading its socket
    bool keep_after_close = false;  // on the server's close frame, wait for its EOF (else close at once)
    std::optional<std::uint16_t> close_code;
    std::int64_t started_ms = 0, open_ms = 0, close_frame_ms = 0, eof_ms = 0;
    std::map<std::string, std::size_t> seen;  // event type, or "error:<code>"
    std::size_t messages = 0;                 // "message" events: counted, not parsed
    std::size_t bytes_in = 0;
  };

  explicit Swarm(unsigned short port, std::size_t window = 1000);
  ~Swarm();
  Swarm(const Swarm&) = delete;
  Swarm& operator=(const Swarm&) = delete;

  // Adds `n` connections from `from` (opened by run_for); returns the index of the first.
  std::size_t add(const std::string& from, std::size_t n, int rcvbuf = 0);
  // Queues bytes for connection i (written as its socket takes them; dropped once it is closed).
  void send(std::size_t i, std::string_view bytes);
  void set_reading(std::size_t i, bool on);
  void drop(std::size_t i);  // closes the socket, no close frame
  // Runs the loop for `d`, or until `done` holds; `tick` runs every `period` (and once first).
  void run_for(Ms d, const std::function<bool()>& done = {}, Ms period = Ms(0), const std::function<void()>& tick = {});

  std::size_t size() const { return conns_.size(); }
  Conn& operator[](std::size_t i) { return conns_[i]; }
  std::size_t count(State s) const;
  std::size_t with_status(int status) const;
  std::size_t unanswered() const;                   // opened, no answer to the upgrade yet
  std::map<std::string, std::size_t> seen() const;  // over every connection
  std::size_t close_codes(std::uint16_t code) const;
  // Every parsed event but "message" (which is only counted); and each upgrade.
  std::function<void(std::size_t, const json::object&)> on_event;
  // Lines to count as "skipped" without parsing them (a broadcast every connection gets).
  std::function<bool(std::string_view)> skip_line;
  std::function<void(std::size_t)> on_open;

 private:
  void start_connect(std::size_t i);
  void on_ready(std::size_t i, std::uint32_t events);
  void read_some(std::size_t i);
  void write_some(std::size_t i);
  void parse(std::size_t i);
  void finish(std::size_t i);  // the socket is closed: state closed
  void watch(std::size_t i);   // epoll interest from the connection's state

  unsigned short port_;
  std::size_t window_;
  int epoll_ = -1;
  std::vector<Conn> conns_;
  std::size_t next_to_start_ = 0;
  std::size_t starting_ = 0;  // connecting or upgrading
};

// Keeps chatting through an attack, as a user would: one connection that sends a message and
// waits for its ack every `send_every`, and every `newcomer_every` a newcomer that connects,
// says hello, joins, sends and waits for its ack. Every round trip is timed: the upgrade, hello →
// welcome, join → joined, send → ack.
class Honest {
 public:
  struct Options {
    std::string room = "honest";
    Ms send_every = Ms(150);
    Ms newcomer_every = Ms(700);  // 0: no newcomers
    Ms timeout = Ms(10000);       // a round trip that takes longer counts as this long, and fails
  };
  struct Acked {
    std::uint64_t seq;
    std::string cid;
  };

  Honest(unsigned short port, Options options);
  ~Honest();
  Honest(const Honest&) = delete;
  Honest& operator=(const Honest&) = delete;

  void start();  // the chatting thread
  void stop();

  // After stop():
  const std::vector<double>& latencies_ms() const { return latencies_; }
  double p50_ms() const;
  double max_ms() const;
  const std::vector<std::string>& failures() const { return failures_; }
  // Upgrades of newcomers answered with another status than 101 (503: the node is full), by status.
  const std::map<int, std::size_t>& refusals() const { return refusals_; }
  std::size_t acked() const { return acked_.size(); }
  // The acked messages that a fresh client does not find in the room's history.
  std::vector<std::string> missing_from_history() const;

 private:
  bool connect_main();
  void run();
  void newcomer(int n);
  void timed(double ms) { latencies_.push_back(ms); }
  bool send_and_ack(Peer& p, const std::string& user);

  unsigned short port_;
  Options options_;
  Peer main_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  int next_cid_ = 0;
  std::vector<double> latencies_;
  std::vector<std::string> failures_;
  std::map<int, std::size_t> refusals_;
  std::vector<Acked> acked_;
};

// Reads a room's whole history (as `user`, from the honest address): seq → cid.
std::map<std::uint64_t, std::string> read_history(unsigned short port, const std::string& room, const std::string& user,
                                                  std::string* error);

// A metric of the node's /metrics, or nullopt.
std::optional<double> metric_of(unsigned short port, const std::string& name);

// The suite's fixture: the node, its memory, the honest client, the line, the common promises.
class HostileTest : public ::testing::Test {
 protected:
  // Starts the node with default budgets and `settings` on top; samples its memory.
  void start_node(std::vector<std::string> settings = {}, unsigned long max_files = 0);
  unsigned short port() const { return node_->port(); }
  bool over_safety_cap() const { return rss_ && rss_->now_mb() > safety_cap_mb; }
  // The honest client: connected, its room created and joined, now chatting.
  void start_honest(Honest::Options options = {});
  // Stops the honest client and sampling, checks the node, reads the history and prints the
  // HOSTILE line (`seen`: what the attacker got, as key:value,…).
  void finish(const std::string& attack, const std::string& bound, const std::string& seen);
  // What every attack must leave intact, asserted unless report-only: the node alive and
  // answering, its peak RSS under `rss_bound_mb`, every honest round trip within `deadline` and
  // none failed (newcomers refused with a status in `tolerated` excepted), nothing acked missing.
  void expect_node_held(double rss_bound_mb, Ms deadline, const std::vector<int>& tolerated = {});
  bool asserting() const { return !report_only(); }

  std::unique_ptr<it::ServerProcess> node_;
  std::unique_ptr<RssSampler> rss_;
  std::unique_ptr<Honest> honest_;
  double peak_mb_ = 0;
  bool alive_ = false;
  std::string alive_error_;
  std::vector<std::string> missing_;
};

// "a:1,b:2" from a map of counts (keys without spaces).
std::string counts(const std::map<std::string, std::size_t>& m);

}  // namespace parley::hostile
