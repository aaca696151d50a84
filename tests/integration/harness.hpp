#pragma once
// Integration harness: the real `parley` binary on a free loopback port (ServerProcess), a real
// WebSocket client built on Boost.Beast (WsClient), and a raw TCP client for hand-made bytes
// (RawClient). Every wait is bounded; every child process is killed in the end.
//
// WsClient keeps one async read outstanding on its own io_context (or one shared by a group of
// clients) and makes progress only while the test waits on it (next, wait_for, expect_no_event,
// send_json, pump): a read is never cancelled, so the stream stays usable after a timeout, and a
// client that the test does not pump does not read its socket (used for the slow-consumer test).
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace parley::it {

namespace json = boost::json;
using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// Sanitizer builds run several times slower: every harness timeout is multiplied by this.
int time_scale();
inline Ms scaled(Ms d) { return d * time_scale(); }

// ---------------------------------------------------------------------------------------------
// The server process.

struct ServerOptions {
  std::vector<std::string> settings;  // "key=value", each passed as --set key=value
  unsigned threads = 2;
  std::string log_level = "info";
  // The binary's own per-address and per-user budgets (its defaults, or what `settings` says).
  // Off by default: a test's clients all come from 127.0.0.1, as many users behind one address
  // would. The hostile suite keeps them: a node's defaults are what it attacks.
  bool client_budgets = false;
  // Drop every setting whose key the binary does not list in `config-keys`, with a note on
  // stderr, instead of letting the server refuse to start: for running a suite against an older
  // binary (PARLEY_BIN) that predates some keys.
  bool drop_unknown_settings = false;
  // RLIMIT_NOFILE of the server process (0: this process's): a node that runs out of descriptors.
  unsigned long max_files = 0;
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();  // kill -9 if still running; prints the server's stderr if the test failed
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the binary (port 0 the first time, the same port afterwards) and waits for the
  // "parley: listening on" line. Fails the test (fatally) if it does not come in time.
  void start();
  // SIGTERM, wait up to `wait` for exit; returns the exit status (as from waitpid; -1 timeout).
  int terminate(Ms wait = 10s);
  // SIGTERM and ASSERT exit code 0 within 10 s.
  void stop();
  void kill9();
  void restart() { start(); }
  // Sends SIGTERM without waiting (for drain tests); wait_exit() collects the status.
  void signal_term();
  int wait_exit(Ms wait);  // exit code, 128+signal, or -1 on timeout
  bool running() const { return pid_ > 0; }

  unsigned short port() const { return port_; }
  int pid() const { return pid_; }  // -1 when not running
  const std::string& data_dir() const { return data_dir_; }
  std::string stderr_text() const;
  // Sanitizer or crash reports found in the server's stderr (empty if none).
  std::string sanitizer_reports() const;

 private:
  ServerOptions options_;
  std::string dir_;  // temp dir holding data/ and logs
  std::string data_dir_;
  std::string stdout_path_, stderr_path_;
  int pid_ = -1;
  unsigned short port_ = 0;
  int starts_ = 0;
};

// Path of the binary under test: $PARLEY_BIN if set (an older build, to measure it with the same
// tests), else the one this build made.
std::string parley_binary();
// The keys `parley config-keys` lists for the binary under test (asked once).
const std::vector<std::string>& parley_config_keys();
// Runs the binary with `args` to completion (bounded); returns exit code and stdout+stderr.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult run_parley(const std::vector<std::string>& args, Ms timeout = 10s);

// ---------------------------------------------------------------------------------------------
// HTTP over a raw socket.

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const;
  json::value json() const;
};
// Sends `request` (complete bytes) on a fresh connection and reads the response (the request
// should say Connection: close, or the body is read by Content-Length).
HttpResponse http_raw(unsigned short port, const std::string& request, Ms timeout = 5s);
HttpResponse http_get(unsigned short port, const std::string& path, Ms timeout = 5s);
// Reads one response from bytes (status line, headers, body by Content-Length; none if no_body,
// as for HEAD).
std::optional<HttpResponse> parse_http_response(const std::string& bytes, std::size_t* used = nullptr,
                                                bool no_body = false);
// The value of a metric line "name value" in Prometheus text.
std::optional<double> metric(const std::string& text, const std::string& name);
std::optional<double> fetch_metric(unsigned short port, const std::string& name);

// ---------------------------------------------------------------------------------------------
// A raw TCP client: any bytes, read with timeouts.

class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Returns false if the connection is refused.
  bool connect(unsigned short port, int rcvbuf = 0);
  void send(std::string_view bytes);
  bool try_send(std::string_view bytes);
  // Reads what arrives within `timeout` (at least one byte if any comes); empty on timeout or EOF.
  std::string read_some(Ms timeout);
  // Reads until EOF or `timeout`; sets *eof if the peer closed.
  std::string read_until_eof(Ms timeout, bool* eof);
  // True if the peer closes (EOF or reset) within `timeout`; data read meanwhile is discarded.
  bool closed_within(Ms timeout);
  // Waits for a complete HTTP response (status line, headers, body by Content-Length).
  std::optional<HttpResponse> read_http_response(Ms timeout);
  void close();
  int fd() const { return fd_; }
  std::string& buffer() { return buf_; }

  // WebSocket over raw bytes: the upgrade, hand-made frames, and the server's frames.
  // Sends the upgrade request and reads the 101; returns the response.
  HttpResponse ws_upgrade(const std::string& path = "/ws", const std::string& extra_headers = "");
  struct Frame {
    bool fin = true;
    int opcode = 0;
    std::string payload;
    std::uint16_t close_code() const;  // for a close frame (1005 if none)
  };
  // Reads the next server frame within `timeout`; nullopt on timeout or EOF (*eof set).
  std::optional<Frame> read_frame(Ms timeout, bool* eof = nullptr);
  // Reads frames until a close frame (answering nothing); returns its code, or nullopt.
  std::optional<std::uint16_t> read_close(Ms timeout, std::vector<Frame>* seen = nullptr);

 private:
  int fd_ = -1;
  std::string buf_;  // bytes read but not consumed
};

// Builds a client frame. mask=false builds an (illegal) unmasked frame; rsv is the 3 RSV bits.
std::string ws_frame(int opcode, std::string_view payload, bool fin = true, bool mask = true, int rsv = 0);
std::string ws_close_payload(std::uint16_t code, std::string_view reason = {});

// ---------------------------------------------------------------------------------------------
// A WebSocket client (Boost.Beast), speaking parley.v1.

class WsClient {
 public:
  // Connects and upgrades to /ws with subprotocol parley.v1 (fatal test failure otherwise).
  // `shared` lets a group of clients share one io_context pumped by one thread; `rcvbuf` sets
  // SO_RCVBUF before connecting (small for a client that stops reading).
  explicit WsClient(unsigned short port, std::shared_ptr<boost::asio::io_context> shared = nullptr, int rcvbuf = 0);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // The subprotocol the server selected.
  const std::string& subprotocol() const;

  void send_text(std::string_view text);     // one text frame, as is
  void send_binary(std::string_view bytes);  // one binary frame
  void send_json(const json::value& v) { send_text(serialize(v)); }
  // The next event (one JSON object), or nullopt on timeout or once the connection is closed.
  std::optional<json::object> next(Ms timeout = 5s);
  // Waits for an event of `type` (any type if empty) matching `pred` and takes it from the queue;
  // other events stay.
  std::optional<json::object> wait_for(std::string_view type, std::function<bool(const json::object&)> pred = {},
                                       Ms timeout = 5s);
  // True if the queue is still empty after `d` (events are still read and queued).
  bool expect_no_event(Ms d);
  // Processes what is ready without blocking (or for up to `d`).
  void pump(Ms d = 0ms);

  // Protocol helpers; each returns the reply and fails the test if it does not come.
  json::object hello(const std::string& name);
  json::object join(const std::string& room, std::optional<std::uint64_t> since = std::nullopt);
  json::object create(const std::string& room);
  // Sends and waits for the ack of `cid` (fails the test on an error event for it).
  json::object send_message(const std::string& room, const std::string& cid, const std::string& text);
  // Sends a request with a fresh numeric ref and waits for the reply (or error) carrying it.
  json::object request(json::object req, Ms timeout = 5s);
  // Fetches the whole history of a room by pages (ascending).
  std::vector<json::object> full_history(const std::string& room, std::uint64_t page = 100);

  // Reads (discarding events) until the server's close frame; returns its code, or nullopt if
  // the connection did not close within `timeout` (or closed without a close frame).
  std::optional<std::uint16_t> expect_close(Ms timeout = 5s);
  bool closed() const;
  std::optional<std::uint16_t> close_code() const;
  std::string close_reason() const;
  // Sends a close frame with `code` and waits for the echo.
  void close(std::uint16_t code = 1000, Ms timeout = 3s);
  // Closes the TCP connection without a closing handshake.
  void drop();

  // Events read and not yet taken (wait_for takes only the match; the rest stay, in order).
  std::deque<json::object>& events();
  // Pumps what is ready, then discards every queued event.
  void clear();
  static std::string serialize(const json::value& v);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Helpers on events.
std::string type_of(const json::object& e);
std::string str(const json::object& e, std::string_view key);
std::uint64_t u64(const json::object& e, std::string_view key);
std::int64_t i64(const json::object& e, std::string_view key);
bool has(const json::object& e, std::string_view key);
std::string dump(const json::object& e);

// Polls `cond` every 10 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& cond, Ms timeout);

}  // namespace parley::it
