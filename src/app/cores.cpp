#include "app/cores.hpp"

#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

namespace parley::app {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  for (;;) {
    const auto next = s.find(sep, at);
    out.push_back(s.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
    if (next == std::string_view::npos) return out;
    at = next + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

std::optional<long long> to_int(std::string_view s) {
  s = trim(s);
  long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool has_token(std::string_view list, std::string_view token) {
  const auto parts = split(list, ',');
  return std::find(parts.begin(), parts.end(), token) != parts.end();
}

// A mounted cgroup hierarchy: the cgroup path at its root and where it is mounted.
struct Mount {
  std::string root, point;
};

// The directory of cgroup `path` in `m`, or the mount point if the path is not below its root
// (a cgroup namespace can show paths relative to another root).
std::string dir_of(const Mount& m, std::string_view path) {
  std::string_view rel = path;
  if (m.root != "/") {
    if (path.substr(0, m.root.size()) != m.root) return m.point;
    rel = path.substr(m.root.size());
  }
  std::string dir = m.point;
  if (!rel.empty() && rel != "/") dir += std::string(rel);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Calls `visit` with `dir` and each of its parents up to `top`.
template <class F>
void walk_up(std::string dir, const std::string& top, F visit) {
  for (;;) {
    visit(dir);
    if (dir == top || dir.size() <= top.size()) return;
    const auto slash = dir.rfind('/');
    if (slash == std::string::npos || slash == 0) return;
    dir.resize(slash);
  }
}

}  // namespace

std::optional<double> cfs_quota_cpus(std::string_view quota, std::string_view period) {
  const auto q = to_int(quota), p = to_int(period);
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;  // -1: no limit
  return static_cast<double>(*q) / static_cast<double>(*p);
}

std::optional<double> cpu_max_cpus(std::string_view cpu_max) {
  // "max 100000" is no limit: "max" is not a quota.
  const auto parts = split(trim(cpu_max), ' ');
  return parts.size() == 2 ? cfs_quota_cpus(parts[0], parts[1]) : std::nullopt;
}

std::optional<double> cgroup_cpu_limit(const ReadFile& read) {
  // /proc/self/cgroup: "0::/path" (v2), "4:cpu,cpuacct:/path" (v1).
  std::optional<std::string> v2_path, v1_path;
  const std::string cgroups = read("/proc/self/cgroup");  // the views below point into it
  for (const auto line : split(cgroups, '\n')) {
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const auto id = line.substr(0, first), controllers = line.substr(first + 1, second - first - 1);
    const auto path = line.substr(second + 1);
    if (id == "0" && controllers.empty()) v2_path = std::string(path);
    if (has_token(controllers, "cpu")) v1_path = std::string(path);
  }
  // /proc/self/mountinfo: "id parent major:minor root point options [optional…] - type source super".
  std::optional<Mount> v2_mount, v1_mount;
  const std::string mounts = read("/proc/self/mountinfo");
  for (const auto line : split(mounts, '\n')) {
    const auto f = split(line, ' ');
    const auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 5 || dash == f.end() || std::distance(dash, f.end()) < 4) continue;
    const auto type = *(dash + 1), super = *(dash + 3);
    if (type == "cgroup2" && !v2_mount) v2_mount = Mount{std::string(f[3]), std::string(f[4])};
    if (type == "cgroup" && has_token(super, "cpu") && !v1_mount)
      v1_mount = Mount{std::string(f[3]), std::string(f[4])};
  }
  std::optional<double> best;
  auto keep = [&](std::optional<double> v) {
    if (v && (!best || *v < *best)) best = v;
  };
  // Both when both are mounted (a hybrid host has the cpu controller on one of them only).
  if (v2_path && v2_mount)
    walk_up(dir_of(*v2_mount, *v2_path), v2_mount->point,
            [&](const std::string& dir) { keep(cpu_max_cpus(read(dir + "/cpu.max"))); });
  if (v1_path && v1_mount)
    walk_up(dir_of(*v1_mount, *v1_path), v1_mount->point, [&](const std::string& dir) {
      keep(cfs_quota_cpus(read(dir + "/cpu.cfs_quota_us"), read(dir + "/cpu.cfs_period_us")));
    });
  return best;
}

namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::string();
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

std::size_t usable_memory_bytes(const ReadFile& read) {
  std::size_t total = 0;
  std::istringstream meminfo(read("/proc/meminfo"));
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      total = static_cast<std::size_t>(std::strtoull(line.c_str() + 9, nullptr, 10)) * 1024;  // kB
      break;
    }
  }
  // cgroup v2: "0::/path" names the process's cgroup; its memory.max is "max" or bytes.
  std::istringstream cgroups(read("/proc/self/cgroup"));
  for (std::string line; std::getline(cgroups, line);) {
    if (line.rfind("0::", 0) != 0) continue;
    const std::string max = read("/sys/fs/cgroup" + line.substr(3) + "/memory.max");
    if (!max.empty() && std::isdigit(static_cast<unsigned char>(max[0]))) {
      const auto limit = static_cast<std::size_t>(std::strtoull(max.c_str(), nullptr, 10));
      if (limit > 0 && (total == 0 || limit < total)) total = limit;
    }
  }
  return total;
}

std::size_t default_memory_budget() { return usable_memory_bytes(read_file) / 5 * 4; }

unsigned usable_cores() {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    cores = static_cast<unsigned>(CPU_COUNT(&set));
  const auto limit = cgroup_cpu_limit(read_file);
  if (limit) {
    const unsigned allowed = std::max(1u, static_cast<unsigned>(std::ceil(*limit - 1e-9)));
    if (allowed < cores) {
      spdlog::info("server: {} I/O threads, as the cgroup allows {:.2f} CPUs ({} cores usable)", allowed, *limit,
                   cores);
      cores = allowed;
    }
  }
  return cores;
}

}  // namespace parley::app
