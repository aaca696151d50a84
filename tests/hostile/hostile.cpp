#include "hostile.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace parley::hostile {

using namespace std::chrono_literals;

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
