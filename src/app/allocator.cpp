// Compiled into the parley executable only (not its libraries, which the tests link with the
// sanitizers' allocators or glibc's).
#include "app/allocator.hpp"

#if defined(PARLEY_WITH_JEMALLOC)
#include <jemalloc/jemalloc.h>

#include <cstddef>
#include <cstdint>
#include <string>

// jemalloc's settings, read once before the first allocation; MALLOC_CONF in the environment
// overrides any of them (docs/operations.md, "File descriptors and memory").
//  - background_thread: a thread of jemalloc's own gives freed pages back to the kernel on time,
//    not only when the server next allocates (an idle node would otherwise keep the pages of its
//    last burst);
//  - dirty_decay_ms 1000, muzzy_decay_ms 0: a page freed and not reused within a second goes back
//    to the kernel (MADV_DONTNEED) at once, so that RSS follows what is in use.
// Measured on the idle and store scenarios of bench/ (docs/operations.md has the figures).
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables,readability-identifier-naming): jemalloc's name
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

namespace parley::app {

namespace {
template <typename T>
bool read_option(const char* name, T& value) {
  std::size_t size = sizeof value;
  return mallctl(name, &value, &size, nullptr, 0) == 0;
}
}  // namespace

std::string allocator_description() {
  const char* version = nullptr;
  bool background = false;
  std::int64_t dirty_ms = 0;
  std::int64_t muzzy_ms = 0;
  std::string out = "jemalloc ";
  out += read_option("version", version) && version ? version : "?";
  if (read_option("opt.background_thread", background) && read_option("opt.dirty_decay_ms", dirty_ms) &&
      read_option("opt.muzzy_decay_ms", muzzy_ms)) {
    out += " (background_thread " + std::string(background ? "on" : "off") + ", dirty_decay_ms " +
           std::to_string(dirty_ms) + ", muzzy_decay_ms " + std::to_string(muzzy_ms) + ")";
  }
  return out;
}

}  // namespace parley::app

#else

namespace parley::app {

std::string allocator_description() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return "the sanitizer's";
#else
  return "the C library's malloc";
#endif
}

}  // namespace parley::app

#endif
