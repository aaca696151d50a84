#pragma once
#include <functional>
#include <string>

#include "app/config.hpp"

namespace parley::app {

// Runs a node until SIGTERM or SIGINT, then drains: stops accepting, /readyz false, closes every
// session with 1001, commits everything queued, exits. Returns the process exit code. On SIGHUP,
// `reread_log_level` (if set) says the log level the configuration names now (it throws
// std::exception for a file that no longer parses), and the node changes to it.
int run_server(Config config, std::function<std::string()> reread_log_level = {});

}  // namespace parley::app
