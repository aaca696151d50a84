#pragma once
// The server's memory allocator: jemalloc in the builds without sanitizers (CMakeLists.txt,
// PARLEY_JEMALLOC), else the C library's. docs/operations.md ("File descriptors and memory") says
// why, and how to tune it.
#include <string>

namespace parley::app {

// What allocates: its name, version and the settings it runs with (for --version and the log).
std::string allocator_description();

}  // namespace parley::app
