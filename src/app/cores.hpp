#pragma once
// How many I/O threads `server.threads = 0` means: the cores this process may run on (its
// affinity mask: taskset, a container's cpuset), capped by its cgroup's CPU bandwidth limit
// (`docker run --cpus`, a Kubernetes CPU limit), rounded up. A container allowed 2 CPUs on a
// 32-core host gets 2 I/O threads, not 32 that take turns on its quota and are throttled
// together.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace parley::app {

// The CPUs a cgroup v2 `cpu.max` allows ("150000 100000" → 1.5); nullopt for "max …" (no limit)
// or text that is not a limit.
std::optional<double> cpu_max_cpus(std::string_view cpu_max);

// The same from cgroup v1's `cpu.cfs_quota_us` and `cpu.cfs_period_us` (a quota of -1: no limit).
std::optional<double> cfs_quota_cpus(std::string_view quota, std::string_view period);

// Reads a whole file; empty if it cannot.
using ReadFile = std::function<std::string(const std::string& path)>;

// The tightest CPU limit on this process: of its cgroup and every ancestor up to the root of the
// mounted hierarchy (cgroup v2, else v1's `cpu` controller), found through /proc/self/cgroup and
// /proc/self/mountinfo. nullopt when there is none. `read` is the file system (tests give their
// own).
std::optional<double> cgroup_cpu_limit(const ReadFile& read);

// The I/O threads for server.threads = 0 (at least 1).
unsigned usable_cores();

// The memory this process may use: its cgroup v2 `memory.max` (the process's own cgroup), or
// else the machine's MemTotal. `read` is the file system (tests give their own).
std::size_t usable_memory_bytes(const ReadFile& read);
// limits.max_memory_bytes = 0: 80% of that.
std::size_t default_memory_budget();

}  // namespace parley::app
