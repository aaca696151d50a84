#pragma once
// Background threads yield to message delivery where cores are short (the hash pool, the store's
// searcher): Linux keeps a niceness per thread, and raising it needs no privilege.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace parley::core {

// Raises the calling thread's niceness by `nice` (0: unchanged; at most 19 in all). Where that
// fails (a seccomp profile), the thread runs at the process's.
inline void raise_thread_niceness(int nice) {
  if (nice <= 0) return;
  const auto tid = static_cast<id_t>(::gettid());
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(19, now + nice));
}

}  // namespace parley::core
