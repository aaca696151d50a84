#pragma once
// The fuzz entry points, shared by the libFuzzer binaries (fuzz_<name>, Clang only) and by
// fuzz_smoke (every compiler, run by CTest). Each returns 0 and abort()s when an oracle fails.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace parley::fuzz {

int ws_frame(const std::uint8_t* data, std::size_t size);
int parse_request(const std::uint8_t* data, std::size_t size);
int upgrade_request(const std::uint8_t* data, std::size_t size);
int server_events(const std::uint8_t* data, std::size_t size);
int proxy_header(const std::uint8_t* data, std::size_t size);

// ws_frame also feeds inputs up to this size byte by byte (quadratic-ish at -O0: fuzz_smoke lowers it).
extern std::size_t byte_by_byte_limit;

// Known bugs in src/ are tolerated by the oracles unless PARLEY_FUZZ_STRICT is set in the
// environment, so that a fuzzing run looks past them (see the report in tests/fuzz/README.md).
inline bool strict() {
  static const bool on = std::getenv("PARLEY_FUZZ_STRICT") != nullptr;
  return on;
}

[[noreturn]] inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n", file, line, what);
  std::abort();
}

}  // namespace parley::fuzz

#define FUZZ_CHECK(cond)                                          \
  do {                                                            \
    if (!(cond)) ::parley::fuzz::fail(__FILE__, __LINE__, #cond); \
  } while (0)
