#pragma once
#include "app/config.hpp"

namespace parley::app {

// Runs a node until SIGTERM or SIGINT, then drains: stops accepting, /readyz false, closes every
// session with 1001, commits everything queued, exits. Returns the process exit code.
int run_server(Config config);

}  // namespace parley::app
