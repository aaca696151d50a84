#pragma once
// One HTTP/1.1 connection: health, readiness and metrics endpoints, the static web UI, and the
// WebSocket upgrade on /ws, after which the socket is handed to a WsSession.
#include <filesystem>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

namespace parley::node {
class Shard;
}

namespace parley::net {

struct HttpOptions {
  std::filesystem::path web_root;
};

// Takes a connected, non-blocking socket of the given protocol (IPv4 or IPv6).
void start_http_session(node::Shard& shard, const HttpOptions& options, int fd, boost::asio::ip::tcp protocol);

}  // namespace parley::net
