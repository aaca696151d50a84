#pragma once
// One load-generating process: an epoll loop over its share of the client connections, each a
// hand-written minimal WebSocket client speaking protocol v1. Controlled by the coordinator
// through a line protocol on a socketpair (see main.cpp).
#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace bench {

std::uint64_t now_ns() noexcept;

// Who connection i of the whole run is: which room it joins (or none), whether it publishes.
struct Layout {
  std::vector<std::string> rooms;
  std::vector<std::uint32_t> room_members;  // members of each room over the whole run
  std::vector<std::int32_t> conn_room;      // -1: no room (idle)
  std::vector<bool> conn_pub;
  std::string name_prefix = "b";
  bool shared_names = false;  // every subscriber says hello with the same name
  // Non-empty: connection i says hello with the session token tokens[i] (an account's) instead
  // of a guest's name.
  std::vector<std::string> tokens;
  // cluster-scale: a connection with a room goes ready after hello without joining it; the
  // coordinator's `join` command joins them later (a bounded number in flight per worker).
  bool defer_join = false;
  // cluster-scale: per message (seq), how many members got it and the latest of their latencies.
  bool per_message = false;
  std::size_t size() const { return conn_room.size(); }
};

struct Target {
  sockaddr_in addr{};
  std::string host_header;  // "127.0.0.1:8080"
  std::string path = "/ws";
  bool tls = false;  // wss:// (and https:// for /metrics): the server's certificate is not checked
  // Non-empty (cluster-scale): connection i connects to spread[i % size] instead of addr, each a
  // node's own port, not a load balancer's.
  std::vector<sockaddr_in> spread;
  // The second octet of the clients' source addresses: 127.<source_second>.x.y.
  unsigned source_second = 0;
};

struct WorkerConfig {
  Target target;
  const Layout* layout = nullptr;
  unsigned index = 0;    // worker number
  unsigned workers = 1;  // connection i belongs to worker i % workers
  unsigned connect_concurrency = 512;
  std::size_t bytes = 100;  // message text length
  // --mix N (0: off): every Nth send of a publisher is a change of its newest acked message
  // instead, in turn an edit, a react and an unreact (issue 17's events in the store's mix).
  unsigned mix = 0;
  bool setup_only = false;  // the coordinator's own connection that creates rooms
};

// tls: the TLS handshake is under way (then the upgrade, as over TCP).
enum class ConnState : std::uint8_t { idle, connecting, tls, handshake, hello, joining, ready, closing, closed };

struct Conn {
  int fd = -1;
  ssl_st* ssl = nullptr;  // with Target::tls
  std::uint32_t global = 0;
  std::int32_t room = -1;
  bool pub = false;
  ConnState state = ConnState::idle;
  bool dirty = false;
  bool want_out = false;
  bool resuming = false;
  bool late_join = false;  // defer_join: its join is in flight
  bool has_seq = false;
  std::uint32_t mask = 0;
  std::uint32_t epoch = 0;  // reconnects so far
  std::uint64_t last_seq = 0;
  std::uint64_t sent = 0, acked = 0, errs = 0;
  std::uint64_t own_seq = 0;  // --mix: the seq of this publisher's newest acked message (not a change)
  std::uint64_t changes = 0;  // --mix: changes sent so far (which one comes next)
  std::string in;             // a partial frame (or the HTTP response while upgrading)
  std::string frag;           // a fragmented message
  std::string out;
  std::size_t out_off = 0;
};

struct WorkerStats {
  std::uint64_t ready = 0, failed = 0, closed = 0, sent = 0, acked = 0, errs = 0, delivered = 0, expected = 0, dups = 0,
                gaps = 0, maxack = 0, caught = 0, rejoined = 0, cpu_us = 0, events = 0, joined = 0, join_failed = 0;
};

class Worker {
 public:
  Worker(WorkerConfig cfg, int control_fd);
  ~Worker();
  int run();  // the worker process's main loop; returns the exit code

  // Used by the coordinator for room creation before the workers start.
  static bool create_rooms(const WorkerConfig& cfg, const std::vector<std::string>& rooms, std::string& error);

 private:
  void start_connects();
  void open_conn(Conn& c);
  bool send_upgrade(Conn& c);  // sends the upgrade request if connected; false if it must wait
  void tls_step(Conn& c);      // drives the TLS handshake on; sends the upgrade once it is done
  void watch(Conn& c, bool out);
  // send/recv, or through the connection's TLS: -1 with errno EAGAIN when it would block.
  ssize_t io_send(Conn& c, const char* p, std::size_t n);
  ssize_t io_recv(Conn& c, char* p, std::size_t n);
  const std::string& upgrade_request();
  void on_event_fd(Conn& c, std::uint32_t events);
  void on_writable(Conn& c);
  void on_readable(Conn& c);
  void consume(Conn& c, const char* data, std::size_t n);
  std::size_t parse_frames(Conn& c, const char* data, std::size_t n);
  void on_text(Conn& c, const char* p, std::size_t n);
  void on_line(Conn& c, const char* p, std::size_t n);
  void on_ready(Conn& c);
  void fail(Conn& c, const char* why = nullptr);
  void send_frame(Conn& c, std::string_view payload, unsigned opcode = 1);
  void mark_dirty(Conn& c);
  void flush_dirty();
  void flush(Conn& c);
  void send_message(Conn& c, std::uint64_t now);
  void setup_create(Conn& c);             // the setup connection's next create
  bool is_change(std::uint64_t k) const;  // --mix: whether a publisher's k-th send is a change
  void pace(std::uint64_t now);
  void refill(Conn& c, std::uint64_t now);
  void storm();
  void start_joins();  // defer_join: joins up to connect_concurrency at once
  bool on_control();
  void handle_command(const std::string& line);
  void reply(const std::string& line);
  WorkerStats stats();
  std::uint64_t cpu_us() const;

  WorkerConfig cfg_;
  ssl_ctx_st* tls_ctx_ = nullptr;  // with Target::tls
  int ctl_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  std::vector<std::uint32_t> pubs_;        // indices into conns_
  std::vector<std::uint32_t> to_connect_;  // queue of conns_ indices
  std::size_t connect_next_ = 0;
  unsigned in_flight_ = 0;  // connects not yet ready or failed
  std::vector<std::uint32_t> dirty_;
  std::vector<char> rbuf_;
  std::string ctl_in_;
  WorkerStats st_;
  Histogram lat_;      // send → message received
  Histogram ack_lat_;  // send → ack
  std::map<std::string, std::uint64_t> error_codes_;
  std::map<int, std::uint64_t> close_codes_;
  // defer_join: connections still to join, and joins in flight.
  std::vector<std::uint32_t> to_join_;
  std::size_t join_next_ = 0;
  unsigned joins_in_flight_ = 0;
  // per_message: seq → members that got it, and the latest send → receive latency among them.
  struct SeqSeen {
    std::uint64_t count = 0, max_ns = 0;
  };
  std::map<std::uint64_t, SeqSeen> seen_;
  // Sending.
  double rate_per_pub_ = 0;  // open loop (msgs/s per publisher)
  std::uint64_t rate_t0_ = 0, rate_sent_ = 0;
  std::size_t rr_ = 0;
  unsigned window_ = 0;  // closed loop: un-acked messages per publisher
  std::uint64_t target_seq_ = 0;
  std::string pad_;
  std::string upgrade_request_;  // built once: every connection sends the same
  bool quit_ = false;
  // Setup mode (room creation).
  std::vector<std::string> setup_rooms_;
  std::size_t setup_answers_ = 0;
  std::size_t setup_sent_ = 0;  // creates sent so far (a few in flight at a time)
  bool setup_failed_ = false;
  std::string setup_error_;
};

}  // namespace bench
