// parley-bench: the load generator of the Parley benchmark suite (see bench/README.md).
//
//   parley-bench <scenario> --port P [--server-pid PID[,PID...]] [options]
//
// Scenarios: fanout, fanout-core, saturate, idle, rooms, storm, storm-names, store, cluster,
// cluster-saturate (storm-names: storm with a name per client, whatever --shared-names says),
// fanout-auth, saturate-auth (fanout and saturate with every connection signed in: the generator
// registers an account per connection over /api/register and says hello with its session token;
// --guest runs the same scenario with guests, for the paired comparison), signin (concurrent
// POST /api/login on a few accounts: logins/s and logins per server CPU-second) and fanout-signin
// (fanout measured without, then with, that sign-in load running alongside), and cluster-scale
// (issue 18: tens of thousands of clients straight to several nodes' ports, idle, then all in one
// room with one sender: per message, the time until every member has it).
// Each prints one JSON line on stdout (also appended to <out-dir>/<scenario>.json) and a human
// summary on stderr. cluster and cluster-saturate are fanout and saturate pointed at a load
// balancer in front of several nodes; fanout-core is fanout with the server on one core and the
// generator on another (bench/run pins them): the same runs, recorded under their own names.
//
// The coordinator (this process) forks --procs worker processes; each owns connections
// i % procs == its index and runs one epoll loop. They are driven through a line protocol on a
// socketpair: stat, rate R, window W, hreset, storm, target SEQ, hist, join, sreset, seqs, quit.
// Every run connects only to 127.0.0.0/8 and is bounded in time (--max-seconds).
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "histogram.hpp"
#include "http_load.hpp"
#include "server_metrics.hpp"
#include "worker.hpp"

#ifndef PARLEY_BENCH_RESULTS_DIR
#define PARLEY_BENCH_RESULTS_DIR "bench/results"
#endif
#ifndef PARLEY_SOURCE_DIR
#define PARLEY_SOURCE_DIR "."
#endif

namespace {

using bench::Histogram;
using bench::Layout;
using bench::now_ns;
using bench::WorkerStats;

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string scenario;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/ws";
  std::string server = "parley";  // label of the server under test
  std::string tag;                // free-form run label
  std::vector<int> server_pids;
  // cluster-scale: each node's port and its pid, in the same order (connection i goes to node
  // i % nodes); --server-pid then names every process of the cluster (the total CPU).
  std::vector<int> ports;
  std::vector<int> node_pids;
  // cluster-broker: a name for each --server-pid (same order), for the per-process CPU.
  std::vector<std::string> labels;
  double join_timeout = 180;  // cluster-scale: how long every connection may take to join
  std::string out_dir = PARLEY_BENCH_RESULTS_DIR;
  unsigned procs = 1;
  unsigned concurrency = 512;  // connects in flight per process
  std::string room = "general";
  std::size_t subscribers = 1000;
  std::size_t publishers = 10;
  double rate = 100;  // messages/s over all publishers (fanout, storm)
  std::size_t bytes = 100;
  double duration = 10;
  double warmup = 1;
  std::vector<unsigned> windows{1, 4, 16, 64};
  unsigned window = 32;  // store
  unsigned mix = 0;      // store: every Nth send a change (edit, react, unreact); 0: messages only
  std::size_t connections = 18000;
  double hold = 5;
  std::size_t rooms = 2000;
  std::size_t members = 5;
  double member_rate = 0.2;  // messages/s per member (rooms)
  bool shared_names = false;
  bool tls = false;  // --tls: wss:// and https://
  double max_seconds = 300;
  double storm_timeout = 60;
  double drain_timeout = 10;  // after sending stops: how long to wait for every delivery  // storm: how long to wait
                              // for every client to be back and caught up
  // Accounts (fanout-auth, saturate-auth, --auth; signin, fanout-signin).
  bool auth = false;        // every connection says hello with a session token
  std::string tokens_file;  // the tokens, one per line, instead of registering accounts
  unsigned register_concurrency = 32;
  std::size_t accounts = 16;        // signin: the accounts signed in to, in turn
  unsigned signin_concurrency = 8;  // signin: logins in flight
  unsigned signin_addresses = 8;    // signin: source addresses 127.0.5.2, .3, …
};

constexpr const char* kPassword = "parley-bench password";

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "parley-bench: %s\n"
               "usage: parley-bench "
               "<fanout|fanout-core|saturate|idle|idle-scale|rooms|storm|storm-names|store|cluster|cluster-saturate|"
               "fanout-auth|saturate-auth|signin|fanout-signin|cluster-scale|cluster-broker> --port P [options]\n"
               "  --host 127.x.y.z  --path /ws  --server NAME  --tag TEXT  --server-pid PID[,PID..]\n"
               "  --out-dir DIR (default %s; '-' for none)  --procs N  --concurrency N\n"
               "  --room ID  --subscribers N  --publishers N  --rate MSGS_PER_S  --bytes N\n"
               "  --duration S  --warmup S  --windows 1,4,16  --window N  --mix N  --connections N  --hold S\n"
               "  --rooms N  --members N  --member-rate R  --shared-names  --tls  --max-seconds S  --storm-timeout S  "
               "--drain-timeout S\n"
               "  --auth | --guest  --tokens FILE  --register-concurrency N  --accounts N  --signin-concurrency N  "
               "--signin-addresses N\n"
               "  cluster-scale: --ports P,P,..  --node-pids PID,PID,..  --join-timeout S\n"
               "  cluster-broker: --ports P,P,..  --rooms N  --members N  --window N  --labels NAME,NAME,.. (one a "
               "--server-pid)\n",
               why.c_str(), PARLEY_BENCH_RESULTS_DIR);
  std::exit(2);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage("missing scenario");
  Options o;
  o.scenario = argv[1];
  o.auth = o.scenario == "fanout-auth" || o.scenario == "saturate-auth";
  static const char* known[] = {"fanout",        "fanout-core",   "saturate",      "idle",    "rooms",
                                "storm",         "storm-names",   "store",         "cluster", "cluster-saturate",
                                "idle-scale",    "fanout-auth",   "saturate-auth", "signin",  "fanout-signin",
                                "cluster-scale", "cluster-broker"};
  if (std::none_of(std::begin(known), std::end(known), [&](const char* k) { return o.scenario == k; }))
    usage("unknown scenario '" + o.scenario + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value for " + a);
      return argv[++i];
    };
    try {
      if (a == "--host")
        o.host = val();
      else if (a == "--port")
        o.port = std::stoi(val());
      else if (a == "--path")
        o.path = val();
      else if (a == "--server")
        o.server = val();
      else if (a == "--tag")
        o.tag = val();
      else if (a == "--server-pid")
        for (auto& p : split(val(), ',')) o.server_pids.push_back(std::stoi(p));
      else if (a == "--ports")
        for (auto& p : split(val(), ',')) o.ports.push_back(std::stoi(p));
      else if (a == "--node-pids")
        for (auto& p : split(val(), ',')) o.node_pids.push_back(std::stoi(p));
      else if (a == "--labels")
        o.labels = split(val(), ',');
      else if (a == "--join-timeout")
        o.join_timeout = std::stod(val());
      else if (a == "--out-dir")
        o.out_dir = val();
      else if (a == "--procs")
        o.procs = static_cast<unsigned>(std::stoul(val()));
      else if (a == "--concurrency")
        o.concurrency = static_cast<unsigned>(std::stoul(val()));
      else if (a == "--room")
        o.room = val();
      else if (a == "--subscribers")
        o.subscribers = std::stoul(val());
      else if (a == "--publishers")
        o.publishers = std::stoul(val());
      else if (a == "--rate")
        o.rate = std::stod(val());
      else if (a == "--bytes")
        o.bytes = std::stoul(val());
      else if (a == "--duration")
        o.duration = std::stod(val());
      else if (a == "--warmup")
        o.warmup = std::stod(val());
      else if (a == "--windows") {
        o.windows.clear();
        for (auto& w : split(val(), ',')) o.windows.push_back(static_cast<unsigned>(std::stoul(w)));
      } else if (a == "--window")
        o.window = static_cast<unsigned>(std::stoul(val()));
      else if (a == "--mix")
        o.mix = static_cast<unsigned>(std::stoul(val()));
      else if (a == "--connections")
        o.connections = std::stoul(val());
      else if (a == "--hold")
        o.hold = std::stod(val());
      else if (a == "--rooms")
        o.rooms = std::stoul(val());
      else if (a == "--members")
        o.members = std::stoul(val());
      else if (a == "--member-rate")
        o.member_rate = std::stod(val());
      else if (a == "--shared-names")
        o.shared_names = true;
      else if (a == "--tls")
        o.tls = true;
      else if (a == "--max-seconds")
        o.max_seconds = std::stod(val());
      else if (a == "--storm-timeout")
        o.storm_timeout = std::stod(val());
      else if (a == "--drain-timeout")
        o.drain_timeout = std::stod(val());
      else if (a == "--auth")
        o.auth = true;
      else if (a == "--guest")
        o.auth = false;
      else if (a == "--tokens") {
        o.tokens_file = val();
        o.auth = true;
      } else if (a == "--register-concurrency")
        o.register_concurrency = static_cast<unsigned>(std::stoul(val()));
      else if (a == "--accounts")
        o.accounts = std::stoul(val());
      else if (a == "--signin-concurrency")
        o.signin_concurrency = static_cast<unsigned>(std::stoul(val()));
      else if (a == "--signin-addresses")
        o.signin_addresses = static_cast<unsigned>(std::stoul(val()));
      else
        usage("unknown option " + a);
    } catch (const std::logic_error&) {
      usage("bad value for " + a);
    }
  }
  if (o.scenario == "cluster-scale") {
    if (o.ports.empty()) usage("cluster-scale needs --ports P,P,... (each node's port)");
    if (!o.node_pids.empty() && o.node_pids.size() != o.ports.size())
      usage("--node-pids: one pid per port of --ports, in the same order");
    if (o.port == 0) o.port = o.ports[0];
  }
  if (o.scenario == "cluster-broker") {
    if (o.ports.empty()) usage("cluster-broker needs --ports P,P,... (each node's port)");
    if (!o.labels.empty() && o.labels.size() != o.server_pids.size())
      usage("--labels: one name per pid of --server-pid, in the same order");
    if (o.port == 0) o.port = o.ports[0];
    if (o.members == 0 || o.rooms == 0) usage("cluster-broker needs --rooms and --members above 0");
  }
  for (int p : o.ports)
    if (p <= 0 || p > 65535) usage("bad port in --ports");
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (o.procs == 0) o.procs = 1;
  in_addr a{};
  if (inet_pton(AF_INET, o.host.c_str(), &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
    usage("--host must be an IPv4 loopback address (127.0.0.0/8)");
  if (o.bytes < 21) o.bytes = 21;
  if (o.scenario == "storm-names") o.shared_names = false;  // its point: a name per client
  if (o.accounts == 0) o.accounts = 1;
  if (o.signin_addresses == 0 || o.signin_addresses > 250) usage("--signin-addresses: 1 to 250");
  return o;
}

// ---------------------------------------------------------------------------------------------
// The server under test, seen from /proc.

struct Probe {
  std::vector<int> pids;
  long ticks = sysconf(_SC_CLK_TCK);

  double cpu_s() const {
    double total = 0;
    for (int pid : pids) {
      std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
      std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      const auto rp = s.rfind(')');
      if (rp == std::string::npos) continue;
      std::istringstream in(s.substr(rp + 2));
      std::string field;
      std::vector<std::string> fields;
      while (in >> field) fields.push_back(field);
      // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
      if (fields.size() > 12)
        total += static_cast<double>(std::stoull(fields[11]) + std::stoull(fields[12])) / static_cast<double>(ticks);
    }
    return total;
  }
  double rss_kb() const {
    double total = 0;
    for (int pid : pids) {
      std::ifstream f("/proc/" + std::to_string(pid) + "/status");
      std::string line;
      while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) total += std::stod(line.substr(6));
    }
    return total;
  }
  bool any() const { return !pids.empty(); }
};

// ---------------------------------------------------------------------------------------------
// The worker processes.

struct Fleet {
  std::vector<pid_t> pids;
  std::vector<int> fds;
  std::vector<std::string> bufs;

  void start(const Options& o, const Layout& layout, const bench::Target& target) {
    for (unsigned w = 0; w < o.procs; ++w) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw std::runtime_error("socketpair failed");
      std::fflush(nullptr);
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::close(sv[0]);
        for (int fd : fds) ::close(fd);
        bench::WorkerConfig cfg;
        cfg.target = target;
        cfg.layout = &layout;
        cfg.index = w;
        cfg.workers = o.procs;
        cfg.connect_concurrency = o.concurrency;
        cfg.bytes = o.bytes;
        cfg.mix = o.mix;
        int rc = 1;
        {
          bench::Worker worker(cfg, sv[1]);
          rc = worker.run();
        }
        std::_Exit(rc);
      }
      ::close(sv[1]);
      pids.push_back(pid);
      fds.push_back(sv[0]);
      bufs.emplace_back();
    }
  }

  void send_all(const std::string& cmd) {
    const std::string line = cmd + "\n";
    for (int fd : fds)
      if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        throw std::runtime_error("a worker is gone");
  }

  std::string read_line(std::size_t w) {
    const auto deadline = now_ns() + 30'000'000'000ull;
    for (;;) {
      const auto nl = bufs[w].find('\n');
      if (nl != std::string::npos) {
        std::string line = bufs[w].substr(0, nl);
        bufs[w].erase(0, nl + 1);
        return line;
      }
      pollfd p{fds[w], POLLIN, 0};
      const auto left = deadline > now_ns() ? (deadline - now_ns()) / 1'000'000 : 0;
      if (left == 0 || poll(&p, 1, static_cast<int>(left)) <= 0) throw std::runtime_error("a worker did not answer");
      char buf[65536];
      const ssize_t n = ::read(fds[w], buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("a worker died");
      bufs[w].append(buf, static_cast<std::size_t>(n));
    }
  }

  WorkerStats stat() {
    send_all("stat");
    WorkerStats sum;
    for (std::size_t w = 0; w < fds.size(); ++w) {
      std::istringstream in(read_line(w));
      std::string head;
      in >> head;
      WorkerStats s;
      for (std::uint64_t* f :
           {&s.ready, &s.failed, &s.closed, &s.sent, &s.acked, &s.errs, &s.delivered, &s.expected, &s.dups, &s.gaps,
            &s.maxack, &s.caught, &s.rejoined, &s.cpu_us, &s.events, &s.joined, &s.join_failed})
        in >> *f;
      sum.ready += s.ready;
      sum.failed += s.failed;
      sum.closed += s.closed;
      sum.sent += s.sent;
      sum.acked += s.acked;
      sum.errs += s.errs;
      sum.delivered += s.delivered;
      sum.expected += s.expected;
      sum.dups += s.dups;
      sum.gaps += s.gaps;
      sum.maxack = std::max(sum.maxack, s.maxack);
      sum.caught += s.caught;
      sum.rejoined += s.rejoined;
      sum.cpu_us += s.cpu_us;
      sum.events += s.events;
      sum.joined += s.joined;
      sum.join_failed += s.join_failed;
    }
    return sum;
  }

  // cluster-scale: per message (seq), the members that got it and the latest latency among them
  // (nanoseconds), over every worker.
  struct Seen {
    std::uint64_t count = 0, max_ns = 0;
  };
  std::map<std::uint64_t, Seen> seqs() {
    send_all("seqs");
    std::map<std::uint64_t, Seen> out;
    for (std::size_t w = 0; w < fds.size(); ++w) {
      std::istringstream in(read_line(w));
      std::string head, list;
      in >> head >> list;
      if (list == "-") continue;
      for (const auto& item : split(list, ',')) {
        const auto a = item.find(':'), b = item.rfind(':');
        Seen& s = out[std::stoull(item.substr(0, a))];
        s.count += std::stoull(item.substr(a + 1, b - a - 1));
        s.max_ns = std::max<std::uint64_t>(s.max_ns, std::stoull(item.substr(b + 1)));
      }
    }
    return out;
  }

  struct Hist {
    Histogram lat, ack;
    std::map<std::string, std::uint64_t> errors;
    std::map<std::string, std::uint64_t> closes;
  };
  Hist hist() {
    send_all("hist");
    Hist h;
    for (std::size_t w = 0; w < fds.size(); ++w) {
      std::istringstream in(read_line(w));
      std::string head, lat, ack, errors, closes;
      in >> head >> lat >> ack >> errors >> closes;
      h.lat.merge_serialized(lat);
      h.ack.merge_serialized(ack);
      for (auto pair : {std::make_pair(&errors, &h.errors), std::make_pair(&closes, &h.closes)}) {
        if (*pair.first == "-") continue;
        for (auto& item : split(*pair.first, ',')) {
          const auto c = item.rfind(':');
          (*pair.second)[item.substr(0, c)] += std::stoull(item.substr(c + 1));
        }
      }
    }
    return h;
  }

  void stop() {
    try {
      send_all("quit");
    } catch (const std::exception&) {
    }
    const auto deadline = now_ns() + 5'000'000'000ull;
    for (pid_t p : pids) {
      int status = 0;
      while (waitpid(p, &status, WNOHANG) == 0) {
        if (now_ns() > deadline) {
          kill(p, SIGKILL);
          waitpid(p, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    for (int fd : fds) ::close(fd);
    pids.clear();
    fds.clear();
  }
};

// ---------------------------------------------------------------------------------------------
// A small JSON writer for the result line.

class Json {
 public:
  Json& num(const std::string& k, double v) {
    key(k);
    char buf[48];
    if (std::isfinite(v)) {
      if (v == std::floor(v) && std::fabs(v) < 1e15)
        std::snprintf(buf, sizeof buf, "%.0f", v);
      else
        std::snprintf(buf, sizeof buf, "%.6g", v);
    } else {
      std::snprintf(buf, sizeof buf, "null");
    }
    out_ += buf;
    return *this;
  }
  Json& str(const std::string& k, const std::string& v) {
    key(k);
    out_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out_ += '\\';
      if (static_cast<unsigned char>(c) < 0x20) continue;
      out_ += c;
    }
    out_ += '"';
    return *this;
  }
  Json& boolean(const std::string& k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
  }
  Json& raw(const std::string& k, const std::string& json) {
    key(k);
    out_ += json;
    return *this;
  }
  std::string done() const { return "{" + out_ + "}"; }

 private:
  void key(const std::string& k) {
    if (!out_.empty()) out_ += ',';
    out_ += '"' + k + "\":";
  }
  std::string out_;
};

std::string latency_json(const Histogram& h) {
  Json j;
  j.num("count", static_cast<double>(h.total()));
  j.num("p50", h.quantile(0.5) / 1000.0);
  j.num("p90", h.quantile(0.9) / 1000.0);
  j.num("p99", h.quantile(0.99) / 1000.0);
  j.num("p999", h.quantile(0.999) / 1000.0);
  j.num("max", static_cast<double>(h.max()) / 1000.0);
  return j.done();
}

std::string map_json(const std::map<std::string, std::uint64_t>& m) {
  Json j;
  for (const auto& [k, v] : m) j.num(k, static_cast<double>(v));
  return j.done();
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void sleep_s(double s) {
  if (s > 0) std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(s * 1e6)));
}

double secs(std::uint64_t a, std::uint64_t b) { return static_cast<double>(b - a) / 1e9; }

// ---------------------------------------------------------------------------------------------
// Scenarios

struct Snapshot {
  std::uint64_t t = 0;
  WorkerStats s;
  double server_cpu = 0;
};

class Run {
 public:
  explicit Run(Options o) : o_(std::move(o)) {
    probe_.pids = o_.server_pids;
    target_.addr.sin_family = AF_INET;
    target_.addr.sin_port = htons(static_cast<std::uint16_t>(o_.port));
    inet_pton(AF_INET, o_.host.c_str(), &target_.addr.sin_addr);
    target_.host_header = o_.host + ":" + std::to_string(o_.port);
    target_.path = o_.path;
    target_.tls = o_.tls;
    for (int port : o_.ports) {
      sockaddr_in a = target_.addr;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      target_.spread.push_back(a);
    }
    // cluster-scale: clients from 127.1.x.y (not 127.0.0.1, which the nodes trust as their load
    // balancer's address and so expect a PROXY header from).
    if (o_.scenario == "cluster-scale" || o_.scenario == "cluster-broker") target_.source_second = 1;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "b%04x", static_cast<unsigned>(now_ns() / 1000) & 0xFFFF);
    layout_.name_prefix = prefix;
    layout_.shared_names = o_.shared_names;
    deadline_ = now_ns() + static_cast<std::uint64_t>(o_.max_seconds * 1e9);
    load_start_ = loadavg();
  }

  int main() {
    const std::string& sc = o_.scenario;
    if (sc == "cluster") {
      if (!std::filesystem::exists(std::filesystem::path(PARLEY_SOURCE_DIR) / "scripts" / "cluster")) {
        std::fprintf(
            stderr,
            "parley-bench cluster: needs the cluster launcher (scripts/cluster), which is not in this tree yet.\n"
            "Start the cluster with it, then run: parley-bench cluster --port <haproxy port> --server-pid <pids>\n");
        return 3;
      }
    }
    const bool closed_loop = sc == "saturate" || sc == "cluster-saturate" || sc == "saturate-auth";
    const bool fanout = sc == "fanout" || sc == "fanout-core" || sc == "cluster" || sc == "fanout-auth";
    if (fanout || closed_loop || sc == "storm" || sc == "storm-names" || sc == "fanout-signin")
      one_room_layout(o_.subscribers, o_.publishers);
    else if (sc == "idle" || sc == "idle-scale")
      no_room_layout(o_.connections);
    else if (sc == "rooms" || sc == "cluster-broker")
      rooms_layout();
    else if (sc == "store")
      store_layout();
    else if (sc == "cluster-scale")
      scale_layout();
    json_.str("scenario", sc).str("server", o_.server).str("tag", o_.tag).str("time", iso_now());
    params();
    try {
      if (fanout || sc == "rooms")
        open_loop();
      else if (sc == "fanout-signin")
        fanout_signin();
      else if (sc == "signin")
        signin();
      else if (closed_loop)
        saturate();
      else if (sc == "idle" || sc == "idle-scale")
        idle();
      else if (sc == "storm" || sc == "storm-names")
        storm();
      else if (sc == "store" || sc == "cluster-broker")
        store();
      else if (sc == "cluster-scale")
        cluster_scale();
    } catch (const std::exception& e) {
      fleet_.stop();
      std::fprintf(stderr, "parley-bench %s: %s\n", sc.c_str(), e.what());
      json_.str("error", e.what());
      ok_ = false;
      emit();
      return 1;
    }
    fleet_.stop();
    emit();
    return ok_ ? 0 : 1;
  }

 private:
  // --- layouts
  void one_room_layout(std::size_t n, std::size_t pubs) {
    layout_.rooms = {o_.room};
    layout_.room_members = {static_cast<std::uint32_t>(n)};
    for (std::size_t i = 0; i < n; ++i) {
      layout_.conn_room.push_back(0);
      layout_.conn_pub.push_back(i < pubs);
    }
  }
  void no_room_layout(std::size_t n) {
    layout_.conn_room.assign(n, -1);
    layout_.conn_pub.assign(n, false);
  }
  void rooms_layout() {
    for (std::size_t r = 0; r < o_.rooms; ++r) {
      layout_.rooms.push_back(layout_.name_prefix + "-r" + std::to_string(r));
      layout_.room_members.push_back(static_cast<std::uint32_t>(o_.members));
    }
    for (std::size_t i = 0; i < o_.rooms * o_.members; ++i) {
      layout_.conn_room.push_back(static_cast<std::int32_t>(i / o_.members));
      layout_.conn_pub.push_back(true);
    }
    create_ = true;
  }
  // cluster-scale: every connection a member of one room (joined later, by the `join` command);
  // the first is the one that sends. The members share one name, so that a join is a presence
  // change only for the first of them (see cluster_scale()).
  void scale_layout() {
    one_room_layout(o_.connections, 1);
    layout_.defer_join = true;
    layout_.per_message = true;
    layout_.shared_names = true;
    o_.shared_names = true;
  }
  void store_layout() {
    const std::size_t k = std::max<std::size_t>(1, std::min(o_.rooms, o_.publishers));
    for (std::size_t r = 0; r < k; ++r) {
      layout_.rooms.push_back(k == 1 ? o_.room : layout_.name_prefix + "-s" + std::to_string(r));
      layout_.room_members.push_back(0);
    }
    for (std::size_t i = 0; i < o_.publishers; ++i) {
      layout_.conn_room.push_back(static_cast<std::int32_t>(i % k));
      layout_.conn_pub.push_back(true);
      layout_.room_members[i % k]++;
    }
    create_ = k > 1;
  }

  void params() {
    Json p;
    p.str("host", o_.host).num("port", o_.port).num("procs", o_.procs);
    const std::string& sc = o_.scenario;
    // Who the connections are: guests (a name) or accounts (a session token in hello).
    if (sc != "signin") p.str("auth", o_.auth ? (o_.tokens_file.empty() ? "tokens" : "tokens-file") : "guest");
    if (sc == "signin" || sc == "fanout-signin")
      p.num("accounts", static_cast<double>(o_.accounts))
          .num("signin_concurrency", o_.signin_concurrency)
          .num("signin_addresses", o_.signin_addresses);
    if (sc == "signin") {
      p.num("duration_s", o_.duration).num("warmup_s", o_.warmup);
      json_.raw("params", p.done());
      return;
    }
    if (sc == "cluster-scale") {
      p.num("connections", static_cast<double>(o_.connections))
          .num("nodes", static_cast<double>(o_.ports.size()))
          .num("hold_s", o_.hold)
          .num("rate", o_.rate)
          .num("bytes", static_cast<double>(o_.bytes))
          .num("duration_s", o_.duration)
          .num("concurrency", o_.concurrency)
          .str("room", o_.room)
          .str("sources", "127.1.x.y");
    } else if (sc == "idle" || sc == "idle-scale") {
      p.num("connections", static_cast<double>(o_.connections)).num("hold_s", o_.hold);
    } else if (sc == "rooms") {
      p.num("rooms", static_cast<double>(o_.rooms))
          .num("members", static_cast<double>(o_.members))
          .num("member_rate", o_.member_rate)
          .num("bytes", static_cast<double>(o_.bytes))
          .num("duration_s", o_.duration);
    } else if (sc == "cluster-broker") {
      p.num("rooms", static_cast<double>(o_.rooms))
          .num("members", static_cast<double>(o_.members))
          .num("nodes", static_cast<double>(o_.ports.size()))
          .num("window", o_.window)
          .num("bytes", static_cast<double>(o_.bytes))
          .num("duration_s", o_.duration)
          .str("sources", "127.1.x.y");
    } else if (sc == "store") {
      p.num("publishers", static_cast<double>(o_.publishers))
          .num("rooms", static_cast<double>(layout_.rooms.size()))
          .num("window", o_.window)
          .num("mix", o_.mix)
          .num("bytes", static_cast<double>(o_.bytes))
          .num("duration_s", o_.duration);
    } else {
      p.str("room", o_.room)
          .num("subscribers", static_cast<double>(o_.subscribers))
          .num("publishers", static_cast<double>(o_.publishers))
          .num("bytes", static_cast<double>(o_.bytes))
          .num("duration_s", o_.duration);
      if (sc == "saturate" || sc == "cluster-saturate" || sc == "saturate-auth") {
        std::string w = "[";
        for (auto x : o_.windows) w += (w.size() > 1 ? "," : "") + std::to_string(x);
        p.raw("windows", w + "]");
      } else {
        p.num("rate", o_.rate);
      }
    }
    p.boolean("shared_names", o_.shared_names);
    json_.raw("params", p.done());
  }

  // --- helpers
  void check_deadline() const {
    if (now_ns() > deadline_) throw std::runtime_error("--max-seconds reached");
  }
  Snapshot snap() {
    check_deadline();
    Snapshot s;
    s.s = fleet_.stat();
    s.t = now_ns();
    s.server_cpu = probe_.cpu_s();
    return s;
  }

  void start_workers() {
    if (o_.auth) authenticate_all();
    if (create_) {
      std::string err;
      bench::WorkerConfig cfg;
      cfg.target = target_;
      cfg.layout = &layout_;
      if (!bench::Worker::create_rooms(cfg, layout_.rooms, err)) throw std::runtime_error("creating rooms: " + err);
    }
    fleet_.start(o_, layout_, target_);
  }

  // Waits until every connection is ready (or failed); returns the seconds it took.
  double wait_connected(double timeout_s) {
    const auto t0 = now_ns();
    const std::size_t n = layout_.size();
    std::uint64_t cpu0 = 0, cpu1 = 0;
    bool first = true;
    for (;;) {
      const auto s = fleet_.stat();
      if (first) cpu0 = s.cpu_us;
      first = false;
      cpu1 = s.cpu_us;
      if (s.ready + s.failed >= n) {
        connect_.ready = s.ready;
        connect_.failed = s.failed;
        break;
      }
      if (secs(t0, now_ns()) > timeout_s) {
        connect_.ready = s.ready;
        connect_.failed = s.failed + (n - s.ready - s.failed);
        break;
      }
      check_deadline();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    connect_.seconds = secs(t0, now_ns());
    Json c;
    c.num("connections", static_cast<double>(n))
        .num("ready", static_cast<double>(connect_.ready))
        .num("failed", static_cast<double>(connect_.failed))
        .num("seconds", connect_.seconds)
        .num("per_s", connect_.seconds > 0 ? static_cast<double>(connect_.ready) / connect_.seconds : 0)
        .num("generator_cpu_pct", connect_.seconds > 0 ? static_cast<double>(cpu1 - cpu0) / 1e4 / connect_.seconds : 0);
    json_.raw("connect", c.done());
    if (connect_.ready == 0) {
      std::string why;
      try {
        for (const auto& [k, v] : fleet_.hist().errors) why += " " + k + "=" + std::to_string(v);
      } catch (const std::exception&) {
      }
      throw std::runtime_error("no connection could be opened" + (why.empty() ? std::string() : ":" + why));
    }
    if (connect_.failed > 0)
      std::fprintf(stderr, "warning: %llu connections failed\n", static_cast<unsigned long long>(connect_.failed));
    return connect_.seconds;
  }

  // After sending stops: waits until every acked message reached every member (or the timeout).
  Snapshot drain(double timeout_s) {
    const auto t0 = now_ns();
    Snapshot s = snap();
    while (secs(t0, s.t) < timeout_s) {
      if (s.s.sent == s.s.acked + s.s.errs && s.s.delivered + s.s.gaps >= s.s.expected) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      s = snap();
    }
    return s;
  }

  void generator_json(const Snapshot& a, const Snapshot& b) {
    Json g;
    const double cpu = static_cast<double>(b.s.cpu_us - a.s.cpu_us) / 1e6;
    g.num("procs", o_.procs).num("cpu_s", cpu).num("cpu_pct", 100.0 * cpu / secs(a.t, b.t));
    json_.raw("generator", g.done());
    gen_cpu_pct_ = 100.0 * cpu / secs(a.t, b.t);
  }

  void server_json(const Snapshot& a, const Snapshot& b, double deliveries) {
    if (!probe_.any()) return;
    Json s;
    const double cpu = b.server_cpu - a.server_cpu;
    s.num("cpu_s", cpu).num("cpu_pct", 100.0 * cpu / secs(a.t, b.t));
    if (deliveries > 0) s.num("cpu_s_per_million_deliveries", cpu / (deliveries / 1e6));
    s.num("rss_kb", probe_.rss_kb());
    json_.raw("server_stats", s.done());
  }

  // The machine's CPU time from /proc/stat, in clock ticks: busy (all but idle and iowait) and total.
  struct MachineCpu {
    double busy = 0, total = 0;
  };
  static MachineCpu machine_cpu() {
    std::ifstream f("/proc/stat");
    std::string cpu;
    f >> cpu;
    MachineCpu m;
    double v = 0;
    for (int i = 0; i < 8 && f >> v; ++i) {  // user … steal (guest is inside user)
      m.total += v;
      if (i != 3 && i != 4) m.busy += v;  // fields 4 and 5: idle, iowait
    }
    return m;
  }
  // cluster-broker: each --server-pid's CPU seconds (utime + stime), read now.
  std::vector<double> per_process_cpu() const {
    std::vector<double> out;
    out.reserve(o_.server_pids.size());
    for (int pid : o_.server_pids) out.push_back(Probe{{pid}}.cpu_s());
    return out;
  }
  // `processes`: every --server-pid's share of a core over the measured window, with its label.
  void processes_json(const std::vector<double>& before, const std::vector<double>& after, double dt) {
    std::string arr = "[";
    for (std::size_t i = 0; i < o_.server_pids.size() && i < before.size() && i < after.size(); ++i) {
      Json p;
      p.num("pid", o_.server_pids[i])
          .str("label", i < o_.labels.size() ? o_.labels[i] : std::to_string(o_.server_pids[i]))
          .num("cpu_s", after[i] - before[i])
          .num("cpu_pct", dt > 0 ? 100.0 * (after[i] - before[i]) / dt : 0);
      arr += (i ? "," : "") + p.done();
    }
    json_.raw("processes", arr + "]");
  }

  void loss_json(const Snapshot& end, const Fleet::Hist& h) {
    const double loss = end.s.expected > end.s.delivered ? static_cast<double>(end.s.expected - end.s.delivered) : 0;
    Json l;
    l.num("expected", static_cast<double>(end.s.expected))
        .num("delivered", static_cast<double>(end.s.delivered))
        .num("lost", loss)
        .num("gaps", static_cast<double>(end.s.gaps))
        .num("duplicates", static_cast<double>(end.s.dups))
        .num("unacked", static_cast<double>(end.s.sent - end.s.acked - end.s.errs))
        .num("send_errors", static_cast<double>(end.s.errs))
        .num("closed", static_cast<double>(end.s.closed));
    json_.raw("delivery", l.done());
    json_.raw("errors", map_json(h.errors)).raw("close_codes", map_json(h.closes));
    lost_ = loss;
    if (end.s.dups > 0 || loss > 0) ok_ = false;
  }

  // fanout / cluster / rooms: publishers at a fixed total rate.
  void open_loop() {
    start_workers();
    wait_connected(120);
    std::size_t pubs = 0;
    for (bool p : layout_.conn_pub) pubs += p;
    const double total_rate = o_.scenario == "rooms" ? o_.member_rate * static_cast<double>(pubs) : o_.rate;
    fleet_.send_all("rate " + std::to_string(total_rate / static_cast<double>(std::max<std::size_t>(pubs, 1))));
    sleep_s(o_.warmup);
    fleet_.send_all("hreset");
    // One server (not a balancer in front of several): its own delivery latency, if it has one.
    const bool one_server = o_.scenario != "cluster";
    const auto m0 = one_server ? bench::scrape_latency(target_) : std::nullopt;
    const Snapshot a = snap();
    sleep_s(o_.duration);
    const Snapshot b = snap();
    const auto m1 = m0 ? bench::scrape_latency(target_) : std::nullopt;
    fleet_.send_all("rate 0");
    const Snapshot c = drain(o_.drain_timeout);
    const auto h = fleet_.hist();
    const double dt = secs(a.t, b.t);
    const double delivered = static_cast<double>(b.s.delivered - a.s.delivered);
    Json r;
    r.num("target_msgs_per_s", total_rate)
        .num("sent_per_s", static_cast<double>(b.s.sent - a.s.sent) / dt)
        .num("acked_per_s", static_cast<double>(b.s.acked - a.s.acked) / dt)
        .num("delivered_per_s", delivered / dt)
        .num("seconds", dt);
    json_.raw("result", r.done()).raw("latency_us", latency_json(h.lat)).raw("ack_latency_us", latency_json(h.ack));
    if (m0 && m1) {
      // From the server's histograms (exponential buckets: interpolated, so indicative).
      auto quantiles = [](const bench::ServerHistogram& d) {
        Json s;
        s.num("count", static_cast<double>(d.count()))
            .num("p50", d.quantile(0.5) * 1e6)
            .num("p90", d.quantile(0.9) * 1e6)
            .num("p99", d.quantile(0.99) * 1e6);
        return s.done();
      };
      json_.raw("server_delivery_us", quantiles(m1->delivery.since(m0->delivery)));
      if (m0->commit && m1->commit) json_.raw("server_commit_us", quantiles(m1->commit->since(*m0->commit)));
    }
    loss_json(c, h);
    server_json(a, b, delivered);
    generator_json(a, b);
    summary_ = o_.scenario + " " + o_.server + ": " + fmt(delivered / dt) + " deliveries/s (" +
               fmt(static_cast<double>(b.s.sent - a.s.sent) / dt) + " msgs/s sent), latency p50 " +
               fmt(h.lat.quantile(0.5) / 1e3) + " us p99 " + fmt(h.lat.quantile(0.99) / 1e3) + " us p99.9 " +
               fmt(h.lat.quantile(0.999) / 1e3) + " us, lost " + fmt(lost_) + ", dups " +
               fmt(static_cast<double>(c.s.dups));
  }

  // saturate: closed loop, increasing windows; the best rate with zero loss.
  void saturate() {
    start_workers();
    wait_connected(120);
    std::string phases = "[";
    double best = 0, best_cpu = 0;
    Histogram best_lat;
    std::uint64_t lost_before = 0, closed_before = 0;
    Snapshot first{}, last{};
    bool have_first = false;
    std::string lines;
    for (unsigned w : o_.windows) {
      fleet_.send_all("window " + std::to_string(w));
      sleep_s(std::min(1.0, o_.warmup));
      fleet_.send_all("hreset");
      const Snapshot a = snap();
      if (!have_first) {
        first = a;
        have_first = true;
      }
      sleep_s(o_.duration);
      const Snapshot b = snap();
      fleet_.send_all("window 0");
      const Snapshot c = drain(o_.drain_timeout);
      last = c;
      const auto h = fleet_.hist();
      const double dt = secs(a.t, b.t);
      const double delivered = static_cast<double>(b.s.delivered - a.s.delivered);
      const double rate = delivered / dt;
      const std::uint64_t lost_total = c.s.expected > c.s.delivered ? c.s.expected - c.s.delivered : 0;
      const std::uint64_t lost = lost_total - std::min(lost_total, lost_before);
      const std::uint64_t closed = c.s.closed - closed_before;
      lost_before = lost_total;
      closed_before = c.s.closed;
      const double cpu = b.server_cpu - a.server_cpu;
      const double cpu_per_m = delivered > 0 ? cpu / (delivered / 1e6) : 0;
      const double gen_cpu = static_cast<double>(b.s.cpu_us - a.s.cpu_us) / 1e6;
      Json ph;
      ph.num("window", w)
          .num("inflight", static_cast<double>(w * o_.publishers))
          .num("delivered_per_s", rate)
          .num("msgs_per_s", static_cast<double>(b.s.acked - a.s.acked) / dt)
          .num("lost", static_cast<double>(lost))
          .num("closed", static_cast<double>(closed))
          .num("duplicates", static_cast<double>(c.s.dups));
      if (probe_.any()) ph.num("server_cpu_pct", 100.0 * cpu / dt).num("server_cpu_s_per_million", cpu_per_m);
      ph.num("generator_cpu_pct", 100.0 * gen_cpu / dt).raw("latency_us", latency_json(h.lat));
      phases += (phases.size() > 1 ? "," : "") + ph.done();
      lines += "  window " + std::to_string(w) + ": " + fmt(rate) + " deliveries/s, lost " + std::to_string(lost) +
               ", server CPU " + (probe_.any() ? fmt(cpu_per_m) + " s per million" : "n/a") + ", generator CPU " +
               fmt(100.0 * gen_cpu / dt) + "%, p99 " + fmt(h.lat.quantile(0.99) / 1e3) + " us\n";
      if (lost == 0 && closed == 0 && rate > best) {
        best = rate;
        best_cpu = cpu_per_m;
        best_lat = h.lat;
      }
      if (lost > 0 || closed > 0) break;  // past the zero-loss point
    }
    phases += "]";
    Json r;
    r.num("best_delivered_per_s", best);
    if (probe_.any() && best > 0) r.num("server_cpu_s_per_million_deliveries", best_cpu);
    json_.raw("result", r.done()).raw("phases", phases).raw("latency_us", latency_json(best_lat));
    const auto h = fleet_.hist();
    loss_json(last, h);
    generator_json(first, last);
    summary_ = o_.scenario + " " + o_.server + ": best " + fmt(best) + " deliveries/s with zero loss" +
               (probe_.any() ? ", " + fmt(best_cpu) + " server CPU s per million deliveries" : "") + "\n" + lines;
  }

  // Kernel slab memory in KB (/proc/meminfo): what the machine's sockets cost besides the
  // processes' RSS (struct tcp_sock, inode, file, epoll item).
  static double slab_kb() {
    std::FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "Slab: %lf kB", &kb) == 1) break;
    std::fclose(f);
    return kb;
  }

  // idle-scale is the same measurement, run by bench/run at several sizes: the per-connection
  // cost must stay flat as N grows.
  void idle() {
    const double rss0 = probe_.rss_kb();
    const double slab0 = slab_kb();
    start_workers();
    wait_connected(300);
    sleep_s(2);  // let the server settle (allocator, timers)
    const double rss1 = probe_.rss_kb();
    const double slab1 = slab_kb();
    const Snapshot a = snap();
    sleep_s(o_.hold);
    const Snapshot b = snap();
    const double n = static_cast<double>(connect_.ready);
    Json r;
    r.num("connections", n).num("connect_per_s", n / connect_.seconds);
    // Both ends of each loopback connection are sockets of this machine: half is the server's.
    if (slab1 > 0) r.num("kernel_slab_per_socket_bytes", (slab1 - slab0) * 1024.0 / (2 * n));
    if (probe_.any()) {
      r.num("rss_before_kb", rss0)
          .num("rss_after_kb", rss1)
          .num("rss_per_conn_bytes", (rss1 - rss0) * 1024.0 / n)
          .num("idle_cpu_pct", 100.0 * (b.server_cpu - a.server_cpu) / secs(a.t, b.t));
    }
    json_.raw("result", r.done());
    generator_json(a, b);
    if (connect_.failed > 0) ok_ = false;
    summary_ = "idle " + o_.server + ": " + fmt(n) + " connections at " + fmt(n / connect_.seconds) + "/s" +
               (probe_.any() ? ", " + fmt((rss1 - rss0) * 1024.0 / n) + " B server RSS per connection, idle CPU " +
                                   fmt(100.0 * (b.server_cpu - a.server_cpu) / secs(a.t, b.t)) + "%"
                             : "");
  }

  // cluster-scale (issue 18): --connections clients connected straight to the nodes' own ports
  // (connection i to node i % nodes; a load balancer would need two descriptors per client), from
  // source addresses 127.1.x.y. Phase 1, idle: the connect rate over the whole ramp, each node's
  // RSS per connection (VmRSS after − before, over its connections), the cluster's CPU while
  // idle for --hold. Phase 2: every client joins one room (connect_concurrency joins in flight
  // per worker; one user name for all but the sender, so that only the first join is a presence
  // change), then one client sends --rate messages/s for --duration: per message the time until
  // every member has it (the latest of the members' send → receive), and per delivery.
  void cluster_scale() {
    const std::size_t nodes = o_.ports.size();
    std::vector<Probe> node(nodes);
    for (std::size_t k = 0; k < o_.node_pids.size(); ++k) node[k].pids = {o_.node_pids[k]};
    auto node_rss = [&] {
      std::vector<double> v;
      v.reserve(node.size());
      for (const auto& p : node) v.push_back(p.rss_kb());
      return v;
    };
    auto node_cpu = [&] {
      std::vector<double> v;
      v.reserve(node.size());
      for (const auto& p : node) v.push_back(p.cpu_s());
      return v;
    };
    const std::vector<double> rss0 = node_rss();
    const double slab0 = slab_kb();
    start_workers();
    wait_connected(std::min(300.0, o_.max_seconds));
    sleep_s(2);  // let the nodes settle (allocator, timers)
    const std::vector<double> rss1 = node_rss();
    const double slab1 = slab_kb();
    const std::vector<double> cpu_a = node_cpu();
    const Snapshot a = snap();
    sleep_s(o_.hold);
    const Snapshot b = snap();
    const std::vector<double> cpu_b = node_cpu();
    const double idle_dt = secs(a.t, b.t);
    // Connections per node: connection i went to node i % nodes (a failed one is counted, and
    // the run then reports ok=false).
    std::vector<double> conns(nodes, 0);
    for (std::size_t i = 0; i < layout_.size(); ++i) conns[i % nodes] += 1;

    // Phase 2: everyone into one room.
    const std::vector<double> cpu_j0 = node_cpu();
    const double cluster_j0 = probe_.cpu_s();
    const auto j0 = now_ns();
    fleet_.send_all("join");
    Snapshot j = snap();
    while (j.s.joined < j.s.ready && secs(j0, j.t) < o_.join_timeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      j = snap();
    }
    const double join_s = secs(j0, j.t);
    const double join_cluster_cpu = probe_.cpu_s() - cluster_j0;
    const std::vector<double> cpu_j1 = node_cpu();
    const std::uint64_t members = j.s.joined;
    fleet_.send_all("hreset");
    fleet_.send_all("sreset");
    // Each node's own view of its sweeps (parley_delivery_seconds: from a message's arrival from
    // Redis to the last of its writes handed to the kernel), apart from the generator's reading.
    std::vector<bench::Target> node_target(nodes, target_);
    for (std::size_t k = 0; k < nodes; ++k) node_target[k].addr = target_.spread[k];
    std::vector<std::optional<bench::ServerLatency>> m0(nodes);
    for (std::size_t k = 0; k < nodes; ++k) m0[k] = bench::scrape_latency(node_target[k]);
    const std::vector<double> cpu_c = node_cpu();
    const Snapshot c = snap();
    fleet_.send_all("rate " + std::to_string(o_.rate));  // one sender
    sleep_s(o_.duration);
    fleet_.send_all("rate 0");
    const Snapshot d = snap();
    const std::vector<double> cpu_d = node_cpu();
    const std::vector<double> rss2 = node_rss();
    std::vector<std::optional<bench::ServerLatency>> m1(nodes);
    for (std::size_t k = 0; k < nodes; ++k)
      if (m0[k]) m1[k] = bench::scrape_latency(node_target[k]);
    // Drain: every acked message to every member, or the timeout.
    Snapshot e = d;
    const auto want = [&](const Snapshot& s) { return (s.s.acked - c.s.acked) * members; };
    while (e.s.delivered - c.s.delivered < want(e) && secs(d.t, e.t) < o_.drain_timeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      e = snap();
    }
    const auto seen = fleet_.seqs();
    const auto h = fleet_.hist();
    const double send_dt = secs(c.t, d.t);

    // Per message: the latest member's latency, for the messages every member got.
    std::vector<double> all_ms;
    std::uint64_t incomplete = 0;
    for (const auto& [seq, s] : seen) {
      if (s.count >= members)
        all_ms.push_back(static_cast<double>(s.max_ns) / 1e3);
      else
        ++incomplete;
    }
    std::sort(all_ms.begin(), all_ms.end());
    auto rank = [&](double q) {  // nearest rank
      if (all_ms.empty()) return 0.0;
      const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(all_ms.size())));
      return all_ms[std::min(all_ms.size() - 1, i == 0 ? 0 : i - 1)];
    };

    double rss_sum = 0, conn_sum = 0, node_idle_cpu = 0;
    std::string per_node = "[";
    for (std::size_t k = 0; k < nodes; ++k) {
      Json n;
      n.num("port", o_.ports[k]).num("connections", conns[k]);
      if (m0[k] && m1[k]) {
        const auto dh = m1[k]->delivery.since(m0[k]->delivery);
        Json sd;
        sd.num("count", static_cast<double>(dh.count()))
            .num("p50", dh.quantile(0.5) * 1e6)
            .num("p99", dh.quantile(0.99) * 1e6);
        n.raw("server_delivery_us", sd.done());
      }
      if (node[k].any()) {
        const double per_conn = conns[k] > 0 ? (rss1[k] - rss0[k]) * 1024.0 / conns[k] : 0;
        rss_sum += rss1[k] - rss0[k];
        conn_sum += conns[k];
        node_idle_cpu += 100.0 * (cpu_b[k] - cpu_a[k]) / idle_dt;
        n.num("pid", o_.node_pids[k])
            .num("rss_before_kb", rss0[k])
            .num("rss_idle_kb", rss1[k])
            .num("rss_per_conn_bytes", per_conn)
            .num("idle_cpu_pct", 100.0 * (cpu_b[k] - cpu_a[k]) / idle_dt)
            .num("join_cpu_s", cpu_j1[k] - cpu_j0[k])
            .num("rss_in_room_kb", rss2[k])
            .num("room_cpu_pct", 100.0 * (cpu_d[k] - cpu_c[k]) / send_dt);
      }
      per_node += (k ? "," : "") + n.done();
    }
    per_node += "]";
    const double n_ready = static_cast<double>(connect_.ready);
    const double delivered = static_cast<double>(e.s.delivered - c.s.delivered);
    const double expected = static_cast<double>(want(e));
    const double lost = expected > delivered ? expected - delivered : 0;
    Json r;
    r.num("connections", n_ready)
        .num("connect_seconds", connect_.seconds)
        .num("connect_per_s", n_ready / connect_.seconds);
    if (conn_sum > 0) r.num("rss_per_conn_bytes", rss_sum * 1024.0 / conn_sum).num("node_idle_cpu_pct", node_idle_cpu);
    if (probe_.any()) r.num("idle_cpu_pct", 100.0 * (b.server_cpu - a.server_cpu) / idle_dt);
    if (slab1 > 0) r.num("kernel_slab_per_socket_bytes", (slab1 - slab0) * 1024.0 / (2 * n_ready));
    r.num("members", static_cast<double>(members))
        .num("join_failed", static_cast<double>(j.s.join_failed))
        .num("join_seconds", join_s)
        .num("joins_per_s", join_s > 0 ? static_cast<double>(members) / join_s : 0);
    if (probe_.any()) r.num("join_cluster_cpu_s", join_cluster_cpu);
    r.num("messages", static_cast<double>(d.s.acked - c.s.acked))
        .num("messages_seen", static_cast<double>(seen.size()))
        .num("messages_to_all", static_cast<double>(all_ms.size()))
        .num("delivered_per_s", static_cast<double>(d.s.delivered - c.s.delivered) / send_dt);
    if (probe_.any()) r.num("room_cpu_pct", 100.0 * (d.server_cpu - c.server_cpu) / send_dt);
    Json all;
    all.num("count", static_cast<double>(all_ms.size()))
        .num("p50", rank(0.5))
        .num("p99", rank(0.99))
        .num("max", all_ms.empty() ? 0 : all_ms.back());
    json_.raw("result", r.done())
        .raw("nodes", per_node)
        .raw("all_members_us", all.done())
        .raw("latency_us", latency_json(h.lat));
    Json l;
    l.num("expected", expected)
        .num("delivered", delivered)
        .num("lost", lost)
        .num("gaps", static_cast<double>(e.s.gaps))
        .num("duplicates", static_cast<double>(e.s.dups))
        .num("incomplete_messages", static_cast<double>(incomplete))
        .num("send_errors", static_cast<double>(e.s.errs - c.s.errs))
        .num("closed", static_cast<double>(e.s.closed));
    json_.raw("delivery", l.done()).raw("errors", map_json(h.errors)).raw("close_codes", map_json(h.closes));
    generator_json(a, e);
    lost_ = lost;
    if (connect_.failed > 0 || j.s.join_failed > 0 || members < j.s.ready || lost > 0 || incomplete > 0 ||
        e.s.dups > 0 || all_ms.empty())
      ok_ = false;
    summary_ = "cluster-scale " + o_.server + ": " + fmt(n_ready) + " connections on " + std::to_string(nodes) +
               " nodes at " + fmt(n_ready / connect_.seconds) + "/s" +
               (conn_sum > 0 ? ", " + fmt(rss_sum * 1024.0 / conn_sum) +
                                   " B node RSS per connection, nodes' idle CPU " + fmt(node_idle_cpu) + "%"
                             : "") +
               "\n  " + std::to_string(members) + " members joined in " + fmt(join_s) + " s; " +
               std::to_string(all_ms.size()) + " messages to all: p50 " + fmt(rank(0.5) / 1e3) + " ms p99 " +
               fmt(rank(0.99) / 1e3) + " ms; per delivery p50 " + fmt(h.lat.quantile(0.5) / 1e6) + " ms p99 " +
               fmt(h.lat.quantile(0.99) / 1e6) + " ms; lost " + fmt(lost) + ", incomplete " +
               std::to_string(incomplete);
  }

  void storm() {
    start_workers();
    wait_connected(120);
    const std::size_t n = layout_.size();
    const std::size_t subs = n - std::min(n, o_.publishers);
    fleet_.send_all("rate " + std::to_string(o_.rate / static_cast<double>(std::max<std::size_t>(o_.publishers, 1))));
    sleep_s(std::max(1.0, o_.warmup));
    const Snapshot a = snap();
    fleet_.send_all("target " + std::to_string(a.s.maxack));
    fleet_.send_all("hreset");
    const auto t0 = now_ns();
    fleet_.send_all("storm");
    double back_s = -1, caught_s = -1;
    Snapshot s = snap();
    while (secs(t0, s.t) < o_.storm_timeout) {
      if (back_s < 0 && s.s.ready >= n) back_s = secs(t0, s.t);
      if (caught_s < 0 && s.s.caught >= subs && s.s.ready >= n) caught_s = secs(t0, s.t);
      if (back_s >= 0 && caught_s >= 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      s = snap();
    }
    sleep_s(1);
    fleet_.send_all("rate 0");
    const Snapshot c = drain(o_.drain_timeout);
    const auto h = fleet_.hist();
    Json r;
    r.num("clients", static_cast<double>(subs))
        .num("target_seq", static_cast<double>(a.s.maxack))
        .num("reconnected_s", back_s)
        .num("caught_up_s", caught_s)
        .num("rejoined", static_cast<double>(c.s.rejoined))
        .num("reconnects_per_s", back_s > 0 ? static_cast<double>(subs) / back_s : 0);
    json_.raw("result", r.done()).raw("latency_us", latency_json(h.lat));
    loss_json(c, h);
    server_json(a, c, 0);
    generator_json(a, c);
    if (back_s < 0 || caught_s < 0) ok_ = false;
    summary_ = "storm " + o_.server + ": " + std::to_string(subs) + " clients back in " + fmt(back_s) +
               " s, caught up in " + fmt(caught_s) + " s, lost " + fmt(lost_) + ", dups " +
               fmt(static_cast<double>(c.s.dups));
  }

  void store() {
    start_workers();
    wait_connected(120);
    fleet_.send_all("window " + std::to_string(o_.window));
    sleep_s(o_.warmup);
    fleet_.send_all("hreset");
    const Snapshot a = snap();
    const std::vector<double> per0 = per_process_cpu();
    const MachineCpu m0 = machine_cpu();
    sleep_s(o_.duration);
    const Snapshot b = snap();
    const std::vector<double> per1 = per_process_cpu();
    const MachineCpu m1 = machine_cpu();
    fleet_.send_all("window 0");
    const Snapshot c = drain(o_.drain_timeout);
    const auto h = fleet_.hist();
    const double dt = secs(a.t, b.t);
    const double acks = static_cast<double>(b.s.acked - a.s.acked) / dt;
    Json r;
    r.num("acked_per_s", acks)
        .num("delivered_per_s", static_cast<double>(b.s.delivered - a.s.delivered) / dt)
        .num("send_errors_per_s", static_cast<double>(b.s.errs - a.s.errs) / dt)
        .num("seconds", dt);
    json_.raw("result", r.done()).raw("ack_latency_us", latency_json(h.ack)).raw("latency_us", latency_json(h.lat));
    loss_json(c, h);
    server_json(a, b, static_cast<double>(b.s.acked - a.s.acked));
    generator_json(a, b);
    if (o_.scenario == "cluster-broker") {
      processes_json(per0, per1, secs(a.t, b.t));
      // The whole machine over the window (every process, this run's and anyone else's): whether
      // the cores were the bound.
      const double busy = m1.busy - m0.busy, all = m1.total - m0.total;
      Json mj;
      mj.num("cores", static_cast<double>(std::thread::hardware_concurrency()))
          .num("busy_pct", all > 0 ? 100.0 * busy / all * std::thread::hardware_concurrency() : 0);
      json_.raw("machine", mj.done());
      summary_ = "cluster-broker " + o_.server + ": " + fmt(acks) + " acked messages/s, " +
                 fmt(static_cast<double>(b.s.delivered - a.s.delivered) / dt) + " delivered/s, ack p50 " +
                 fmt(h.ack.quantile(0.5) / 1e3) + " us p99 " + fmt(h.ack.quantile(0.99) / 1e3) + " us";
      return;
    }
    summary_ = "store " + o_.server + ": " + fmt(acks) + " acked messages/s, ack latency p50 " +
               fmt(h.ack.quantile(0.5) / 1e3) + " us p99 " + fmt(h.ack.quantile(0.99) / 1e3) + " us, errors/s " +
               fmt(static_cast<double>(b.s.errs - a.s.errs) / dt);
  }

  // --- accounts

  static std::uint32_t loopback(unsigned third, unsigned fourth) { return (127u << 24) | (third << 8) | fourth; }

  // Registers each of `names` (password kPassword) over /api/register and returns their session
  // tokens, in order. The requests come from 250 source addresses (127.0.4.x), so that the
  // server's default registration budget per address (5 at once) holds up to 1,250 accounts; a
  // 503 (the hash pool's queue is full) or a 429 is retried; any other refusal, or the time limit,
  // ends the run: the scenario needs every account.
  std::vector<std::string> register_accounts(const std::vector<std::string>& names, double timeout_s,
                                             const char* what) {
    std::vector<std::string> tokens(names.size());
    std::vector<std::size_t> todo;
    for (std::size_t i = names.size(); i-- > 0;) todo.push_back(i);
    std::size_t got = 0, retries = 0;
    std::string refusal;
    const auto t0 = now_ns();
    const double cpu0 = probe_.cpu_s();
    std::atomic<bool> stop{false};
    const auto deadline = std::min(deadline_, t0 + static_cast<std::uint64_t>(timeout_s * 1e9));
    bench::run_http(
        target_, o_.register_concurrency,
        [&](bench::HttpRequest& r) {
          if (todo.empty() || !refusal.empty()) return false;
          const std::size_t i = todo.back();
          todo.pop_back();
          r.id = i;
          r.path = "/api/register";
          r.body = "{\"name\":\"" + names[i] + "\",\"password\":\"" + kPassword + "\",\"token\":true}";
          r.source = loopback(4, 2 + static_cast<unsigned>(i % 250));
          return true;
        },
        [&](const bench::HttpRequest& r, bench::HttpAnswer&& a) {
          if (a.status == 201) {
            tokens[r.id] = bench::json_string(a.body, "token");
            ++got;
          } else if (a.status == 503 || a.status == 429 || a.status == 0) {
            ++retries;
            todo.push_back(r.id);
            // A full queue empties at the pool's pace; do not spin on it.
            if (a.status != 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          } else if (refusal.empty()) {
            refusal = "register " + names[r.id] + ": " + std::to_string(a.status) + " " + a.body;
          }
        },
        stop, deadline);
    const double dt = secs(t0, now_ns());
    Json j;
    j.num("accounts", static_cast<double>(names.size()))
        .num("registered", static_cast<double>(got))
        .num("retries", static_cast<double>(retries))
        .num("seconds", dt)
        .num("per_s", dt > 0 ? static_cast<double>(got) / dt : 0);
    if (probe_.any()) j.num("server_cpu_s", probe_.cpu_s() - cpu0);
    json_.raw(std::string("register_") + what, j.done());
    std::fprintf(stderr, "registered %zu accounts (%s) in %.2f s, %zu retries\n", got, what, dt, retries);
    if (!refusal.empty()) throw std::runtime_error(refusal);
    if (got < names.size())
      throw std::runtime_error("registered " + std::to_string(got) + " of " + std::to_string(names.size()) +
                               " accounts within " + fmt(timeout_s) + " s");
    for (const auto& t : tokens)
      if (t.empty()) throw std::runtime_error("/api/register answered without a token");
    return tokens;
  }

  // One account per connection, named as that connection's guest would be: its token from
  // --tokens, or from registering it.
  void authenticate_all() {
    const std::size_t n = layout_.size();
    if (!o_.tokens_file.empty()) {
      std::ifstream f(o_.tokens_file);
      std::string line;
      while (layout_.tokens.size() < n && std::getline(f, line))
        if (!line.empty()) layout_.tokens.push_back(line);
      if (layout_.tokens.size() < n)
        throw std::runtime_error(o_.tokens_file + ": " + std::to_string(layout_.tokens.size()) + " tokens for " +
                                 std::to_string(n) + " connections");
      return;
    }
    std::vector<std::string> names;
    for (std::size_t i = 0; i < n; ++i)
      names.push_back(layout_.name_prefix + (layout_.conn_pub[i] ? "p" : "") + std::to_string(i));
    layout_.tokens = register_accounts(names, 120, "connections");
  }

  // The sign-in load: POST /api/login on signin_accounts_ in turn, signin_concurrency at once,
  // from signin_addresses source addresses (127.0.5.x), on a thread of the coordinator until
  // stopped. Counters are read while it runs; the latency histogram only after stop().
  struct SigninLoad {
    std::atomic<bool> stop{false};
    std::atomic<bool> measuring{false};
    std::atomic<std::uint64_t> ok{0}, bad_credentials{0}, rate_limited{0}, overloaded{0}, other{0}, failed{0};
    Histogram lat;  // sign-in latency while measuring
    std::thread thread;
  };
  struct SigninCounts {
    std::uint64_t ok = 0, bad_credentials = 0, rate_limited = 0, overloaded = 0, other = 0, failed = 0;
    std::uint64_t t = 0;
    double server_cpu = 0;
  };
  SigninCounts signin_counts(const SigninLoad& l) {
    check_deadline();
    SigninCounts c;
    c.ok = l.ok.load();
    c.bad_credentials = l.bad_credentials.load();
    c.rate_limited = l.rate_limited.load();
    c.overloaded = l.overloaded.load();
    c.other = l.other.load();
    c.failed = l.failed.load();
    c.t = now_ns();
    c.server_cpu = probe_.cpu_s();
    return c;
  }
  void prepare_signin_accounts() {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < o_.accounts; ++i) names.push_back(layout_.name_prefix + "a" + std::to_string(i));
    // At the server's cost (by default argon2id's interactive: ~tens of ms each): few accounts.
    register_accounts(names, 120, "signin_accounts");
    signin_names_ = std::move(names);
  }
  void start_signin(SigninLoad& l) {
    l.thread = std::thread([this, &l] {
      std::uint64_t i = 0;
      bench::run_http(
          target_, o_.signin_concurrency,
          [&](bench::HttpRequest& r) {
            r.path = "/api/login";
            r.body = "{\"name\":\"" + signin_names_[i % signin_names_.size()] + "\",\"password\":\"" + kPassword +
                     "\",\"token\":true}";
            r.source = loopback(5, 2 + static_cast<unsigned>(i % o_.signin_addresses));
            r.id = i++;
            return true;
          },
          [&](const bench::HttpRequest&, bench::HttpAnswer&& a) {
            switch (a.status) {
              case 200: ++l.ok; break;
              case 401: ++l.bad_credentials; break;
              case 429: ++l.rate_limited; break;
              case 503: ++l.overloaded; break;
              case 0: ++l.failed; break;
              default: ++l.other; break;
            }
            if (l.measuring.load(std::memory_order_relaxed)) l.lat.record(a.latency_ns);
            // Refused at once: wait as a client told Retry-After would, a little, rather than spin.
            if (a.status == 429 || a.status == 503) std::this_thread::sleep_for(std::chrono::milliseconds(10));
          },
          l.stop, deadline_);
    });
  }
  static void stop_signin(SigninLoad& l) {
    l.stop = true;
    if (l.thread.joinable()) l.thread.join();
  }
  // Sign-ins between two counts: logins/s, server CPU, logins per server CPU-second, refusals.
  static std::string signin_json(const SigninCounts& a, const SigninCounts& b, const Histogram* lat) {
    const double dt = secs(a.t, b.t);
    const double cpu = b.server_cpu - a.server_cpu;
    const auto ok = static_cast<double>(b.ok - a.ok);
    Json j;
    j.num("logins", ok)
        .num("logins_per_s", ok / dt)
        .num("seconds", dt)
        .num("server_cpu_s", cpu)
        .num("server_cpu_pct", 100.0 * cpu / dt)
        .num("logins_per_cpu_s", cpu > 0 ? ok / cpu : 0)
        .num("bad_credentials", static_cast<double>(b.bad_credentials - a.bad_credentials))
        .num("rate_limited_429", static_cast<double>(b.rate_limited - a.rate_limited))
        .num("overloaded_503", static_cast<double>(b.overloaded - a.overloaded))
        .num("other_status", static_cast<double>(b.other - a.other))
        .num("no_answer", static_cast<double>(b.failed - a.failed));
    if (lat) j.raw("latency_us", latency_json(*lat));
    return j.done();
  }

  // signin: sign-ins at the hash pool's pace for --duration after --warmup. Per core: logins per
  // server CPU-second (all of the server's threads: HTTP, hashing, the session's commit).
  void signin() {
    prepare_signin_accounts();
    SigninLoad l;
    start_signin(l);
    try {
      sleep_s(o_.warmup);
      const SigninCounts a = signin_counts(l);
      l.measuring = true;
      sleep_s(o_.duration);
      const SigninCounts b = signin_counts(l);
      stop_signin(l);
      json_.raw("result", signin_json(a, b, nullptr)).raw("latency_us", latency_json(l.lat));
      if (probe_.any()) {
        Json s;
        s.num("cpu_s", b.server_cpu - a.server_cpu)
            .num("cpu_pct", 100.0 * (b.server_cpu - a.server_cpu) / secs(a.t, b.t))
            .num("rss_kb", probe_.rss_kb());
        json_.raw("server_stats", s.done());
      }
      const double dt = secs(a.t, b.t), cpu = b.server_cpu - a.server_cpu;
      const auto ok = static_cast<double>(b.ok - a.ok);
      if (ok == 0 || b.failed > a.failed || b.other > a.other) ok_ = false;
      summary_ = "signin " + o_.server + ": " + fmt(ok / dt) + " logins/s, server CPU " + fmt(cpu) + " s in " +
                 fmt(dt) + " s: " + (cpu > 0 ? fmt(ok / cpu) : std::string("-")) + " logins per CPU-second; p50 " +
                 fmt(l.lat.quantile(0.5) / 1e6) + " ms p99 " + fmt(l.lat.quantile(0.99) / 1e6) + " ms; 401 " +
                 std::to_string(b.bad_credentials - a.bad_credentials) + ", 429 " +
                 std::to_string(b.rate_limited - a.rate_limited) + ", 503 " +
                 std::to_string(b.overloaded - a.overloaded);
    } catch (...) {
      stop_signin(l);
      throw;
    }
  }

  // fanout-signin: the fanout open loop measured three times on the same connections: alone
  // ("quiet"), with the sign-in load running alongside ("signin"), alone again ("after"): paired
  // within the run, so the machine's load is alike for all. Does a burst of sign-ins stall
  // message delivery?
  void fanout_signin() {
    prepare_signin_accounts();
    start_workers();
    wait_connected(120);
    const double total_rate = o_.rate;
    fleet_.send_all("rate " +
                    std::to_string(total_rate / static_cast<double>(std::max<std::size_t>(o_.publishers, 1))));
    sleep_s(o_.warmup);
    SigninLoad l;
    auto phase = [&](const char* name, std::string& out_summary) {
      fleet_.send_all("hreset");
      const auto m0 = bench::scrape_latency(target_);
      const Snapshot a = snap();
      const SigninCounts la = signin_counts(l);
      l.measuring = true;
      sleep_s(o_.duration);
      const Snapshot b = snap();
      const SigninCounts lb = signin_counts(l);
      l.measuring = false;
      const auto m1 = m0 ? bench::scrape_latency(target_) : std::nullopt;
      const auto h = fleet_.hist();
      const double dt = secs(a.t, b.t);
      const double delivered = static_cast<double>(b.s.delivered - a.s.delivered);
      Json p;
      p.num("delivered_per_s", delivered / dt).num("seconds", dt).raw("latency_us", latency_json(h.lat));
      if (m0 && m1) {
        const auto d = m1->delivery.since(m0->delivery);
        Json s;
        s.num("count", static_cast<double>(d.count()))
            .num("p50", d.quantile(0.5) * 1e6)
            .num("p99", d.quantile(0.99) * 1e6);
        p.raw("server_delivery_us", s.done());
      }
      if (probe_.any()) p.num("server_cpu_pct", 100.0 * (b.server_cpu - a.server_cpu) / dt);
      if (l.thread.joinable()) p.raw("signin", signin_json(la, lb, nullptr));
      out_summary += std::string("  ") + name + ": " + fmt(delivered / dt) + " deliveries/s, p50 " +
                     fmt(h.lat.quantile(0.5) / 1e3) + " us p99 " + fmt(h.lat.quantile(0.99) / 1e3) + " us p99.9 " +
                     fmt(h.lat.quantile(0.999) / 1e3) + " us; " + fmt(static_cast<double>(lb.ok - la.ok) / dt) +
                     " logins/s, 503 " + std::to_string(lb.overloaded - la.overloaded) + "\n";
      return p.done();
    };
    std::string lines;
    try {
      const std::string quiet = phase("quiet", lines);
      start_signin(l);
      sleep_s(1);  // the pool's queue fills within the first few logins
      const std::string loaded = phase("signin", lines);
      stop_signin(l);
      // Alone again, once the logins still queued on the server are done: with one phase on
      // each side of the loaded one, a drift in the machine's load does not pass for an effect.
      sleep_s(1);
      const std::string after = phase("after", lines);
      json_.raw("result", "{\"quiet\":" + quiet + ",\"signin\":" + loaded + ",\"after\":" + after + "}");
      json_.raw("login_latency_us", latency_json(l.lat));
    } catch (...) {
      stop_signin(l);
      throw;
    }
    fleet_.send_all("rate 0");
    const Snapshot c = drain(o_.drain_timeout);
    loss_json(c, fleet_.hist());
    summary_ = "fanout-signin " + o_.server + ": fanout alone, with sign-ins at the hash pool's limit, alone again\n" +
               lines + "  lost " + fmt(lost_) + ", dups " + fmt(static_cast<double>(c.s.dups));
  }

  static std::string fmt(double v) {
    char buf[32];
    if (std::fabs(v) >= 100)
      std::snprintf(buf, sizeof buf, "%.0f", v);
    else
      std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }

  static double loadavg() {
    std::ifstream f("/proc/loadavg");
    double l = 0;
    f >> l;
    return l;
  }

  void emit() {
    // The machine is shared: the 1-minute load average says how noisy this run was.
    json_.num("loadavg_start", load_start_).num("loadavg_end", loadavg());
    json_.boolean("ok", ok_);
    const std::string line = json_.done();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (!summary_.empty()) {
      std::fprintf(stderr, "%s", summary_.c_str());
      if (summary_.back() != '\n') std::fprintf(stderr, "\n");
      if (gen_cpu_pct_ > 80)
        std::fprintf(stderr, "  note: the generator used %.0f%% of a core per process; it may be the bottleneck\n",
                     gen_cpu_pct_ / o_.procs);
    }
    if (o_.out_dir != "-" && !o_.out_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(o_.out_dir, ec);
      std::ofstream f(std::filesystem::path(o_.out_dir) / (o_.scenario + ".json"), std::ios::app);
      f << line << "\n";
    }
  }

  Options o_;
  Layout layout_;
  bench::Target target_;
  Probe probe_;
  Fleet fleet_;
  Json json_;
  bool create_ = false;
  bool ok_ = true;
  double lost_ = 0;
  double gen_cpu_pct_ = 0;
  double load_start_ = 0;
  std::string summary_;
  std::uint64_t deadline_ = 0;
  std::vector<std::string> signin_names_;  // signin, fanout-signin: the accounts signed in to
  struct {
    std::uint64_t ready = 0, failed = 0;
    double seconds = 0;
  } connect_;
};

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Options o = parse(argc, argv);
  // A hard bound on the whole run, whatever happens to the server.
  alarm(static_cast<unsigned>(o.max_seconds + 60));
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  // Each worker process holds its share of the connections: past its descriptor limit the last
  // connects would fail with EMFILE, which says nothing about the server.
  const bool many = o.scenario == "idle" || o.scenario == "idle-scale" || o.scenario == "cluster-scale";
  if (many && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (o.connections + o.procs - 1) / o.procs + 64 > rl.rlim_cur)
    usage("--procs " + std::to_string(o.procs) + ": " + std::to_string((o.connections + o.procs - 1) / o.procs) +
          " connections a process, past its descriptor limit of " + std::to_string(rl.rlim_cur) + ": use more --procs");
  return Run(std::move(o)).main();
}
