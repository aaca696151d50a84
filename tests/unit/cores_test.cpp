// server.threads = 0: the cgroup's CPU limit, read from cgroup v2 and v1 file systems given as
// maps of path → contents (the layouts of a Docker container, a systemd slice, a hybrid host).
#include "app/cores.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace parley::app {
namespace {

ReadFile files(std::map<std::string, std::string> fs) {
  return [fs = std::move(fs)](const std::string& path) {
    const auto it = fs.find(path);
    return it == fs.end() ? std::string() : it->second;
  };
}

// A mountinfo line: root and mount point of a cgroup file system of `type` with `super` options.
std::string mount(const std::string& root, const std::string& point, const std::string& type,
                  const std::string& super) {
  return "30 25 0:26 " + root + " " + point + " rw,nosuid,nodev,noexec,relatime shared:4 - " + type + " " + type + " " +
         super + "\n";
}

TEST(Cores, CpuMaxIsQuotaOverPeriod) {
  EXPECT_DOUBLE_EQ(cpu_max_cpus("150000 100000\n").value(), 1.5);
  EXPECT_DOUBLE_EQ(cpu_max_cpus("50000 100000").value(), 0.5);
  EXPECT_FALSE(cpu_max_cpus("max 100000\n"));  // no limit
  EXPECT_FALSE(cpu_max_cpus(""));
  EXPECT_FALSE(cpu_max_cpus("150000"));
  EXPECT_FALSE(cpu_max_cpus("0 100000"));
  EXPECT_FALSE(cpu_max_cpus("abc 100000"));
}

TEST(Cores, CfsQuotaIsQuotaOverPeriod) {
  EXPECT_DOUBLE_EQ(cfs_quota_cpus("200000\n", "100000\n").value(), 2.0);
  EXPECT_FALSE(cfs_quota_cpus("-1\n", "100000\n"));  // no limit
  EXPECT_FALSE(cfs_quota_cpus("", "100000"));
  EXPECT_FALSE(cfs_quota_cpus("200000", "0"));
}

TEST(Cores, DockerContainerOnCgroupV2) {
  // docker run --cpus 1.5: the container's cgroup is the root of its namespace.
  const auto read = files({{"/proc/self/cgroup", "0::/\n"},
                           {"/proc/self/mountinfo", "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
                                                        mount("/", "/sys/fs/cgroup", "cgroup2", "rw,nsdelegate")},
                           {"/sys/fs/cgroup/cpu.max", "150000 100000\n"}});
  EXPECT_DOUBLE_EQ(cgroup_cpu_limit(read).value(), 1.5);
}

TEST(Cores, TheTightestAncestorWins) {
  // A service in a slice: the slice allows 2 CPUs, the service itself is unlimited.
  const auto read = files({{"/proc/self/cgroup", "0::/system.slice/parley.service\n"},
                           {"/proc/self/mountinfo", mount("/", "/sys/fs/cgroup", "cgroup2", "rw")},
                           {"/sys/fs/cgroup/system.slice/parley.service/cpu.max", "max 100000\n"},
                           {"/sys/fs/cgroup/system.slice/cpu.max", "200000 100000\n"}});
  EXPECT_DOUBLE_EQ(cgroup_cpu_limit(read).value(), 2.0);
}

TEST(Cores, CgroupV1CpuController) {
  // A hybrid host (like the development machine): the cpu controller on v1, v2 mounted empty.
  const auto read =
      files({{"/proc/self/cgroup", "4:memory:/x\n1:cpu,cpuacct:/docker/abc\n0::/\n"},
             {"/proc/self/mountinfo", mount("/", "/sys/fs/cgroup/unified", "cgroup2", "rw") +
                                          mount("/", "/sys/fs/cgroup/memory", "cgroup", "rw,memory") +
                                          mount("/", "/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct")},
             {"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n"},
             {"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n"},
             {"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n"},
             {"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n"}});
  EXPECT_DOUBLE_EQ(cgroup_cpu_limit(read).value(), 3.0);
}

TEST(Cores, AMountRootedBelowTheHierarchyIsWalkedFromItsRoot) {
  // v1 inside a container without a cgroup namespace: the mount's root is the container's cgroup.
  const auto read = files({{"/proc/self/cgroup", "1:cpu:/docker/abc\n"},
                           {"/proc/self/mountinfo", mount("/docker/abc", "/sys/fs/cgroup/cpu", "cgroup", "rw,cpu")},
                           {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "100000\n"},
                           {"/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n"}});
  EXPECT_DOUBLE_EQ(cgroup_cpu_limit(read).value(), 1.0);
}

TEST(Cores, NoLimitAnywhereIsNone) {
  EXPECT_FALSE(cgroup_cpu_limit(files({})));  // no /proc (or unreadable)
  const auto read = files({{"/proc/self/cgroup", "0::/user.slice\n"},
                           {"/proc/self/mountinfo", mount("/", "/sys/fs/cgroup", "cgroup2", "rw")},
                           {"/sys/fs/cgroup/user.slice/cpu.max", "max 100000\n"}});
  EXPECT_FALSE(cgroup_cpu_limit(read));
}

TEST(Cores, UsableCoresIsAtLeastOne) { EXPECT_GE(usable_cores(), 1u); }

}  // namespace
}  // namespace parley::app
