#pragma once
// One HTTP/1.1 connection: health, readiness and metrics endpoints, the static web UI, and the
// WebSocket upgrade on /ws, after which the socket is handed to a WsSession.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <openssl/types.h>
#include <boost/asio/ip/tcp.hpp>

#include "net/admission.hpp"
#include "net/upgrade.hpp"

#include <chrono>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::net {

class Loop;
class TlsContext;

// What HTTP asks of the layer above (the node): whether to take new clients, and the metrics.
// Called on any loop thread.
class HttpService {
 public:
  // Draining: /readyz fails, so that the load balancer sends new clients elsewhere.
  virtual bool draining() const = 0;
  // Closing (the end of a drain): upgrades are refused with 503 as well.
  virtual bool closing() const = 0;
  // Accepting new clients: not draining, and whatever the node depends on reachable.
  virtual bool ready() const = 0;
  // Why not ready (not draining), for /readyz: "broker unreachable", "overloaded".
  virtual std::string_view unready_reason() const = 0;
  // The Prometheus text of /metrics.
  virtual std::string metrics_text() const = 0;

 protected:
  ~HttpService() = default;
};

// A request under /api/ (docs/api.md), read whole: what the layer above needs to answer it.
struct ApiRequest {
  std::string method;  // GET, POST, DELETE
  std::string path;    // "/api/login" (no query)
  std::string query;   // after '?', as sent
  std::string body;    // at most 16 KiB
  std::string cookie;  // the Cookie header (all of them, joined with "; ")
  std::string authorization;
  std::string user_agent;
  std::string address;  // the client's address key (Admission::address_key), for its budgets
  bool secure = false;  // came over TLS: cookies are Secure
  // An upload (ApiService::upload_path): its body, whole, in this file (the receiver removes or
  // keeps it), of body_size bytes; `slot` is what admit_upload answered, held by the session until
  // the answer comes (the handler gets the request without it).
  std::filesystem::path body_file = {};
  std::uint64_t body_size = 0;
  std::shared_ptr<void> slot = {};
};

struct ApiResponse {
  unsigned status = 200;
  std::string body;                                          // JSON; empty with 204
  std::vector<std::pair<std::string, std::string>> headers;  // Set-Cookie, Retry-After, ...
  // An error's request id when the layer above has logged it already (an owner's error event);
  // empty: the session mints one and logs the error. Either way an error's body and its
  // X-Request-Id header carry it.
  std::string rid = {};
  // A file to answer with instead of `body` (a 200 of GET /api/files/{id}): sent from disk in
  // pieces, under file_policy, its Content-Type and other headers in `headers`.
  std::filesystem::path file = {};
};

// What admit_upload answers: a refusal (sent at once, the body not read), or where to write the
// body and the budget's slot the upload holds until its answer.
struct UploadAdmission {
  std::optional<ApiResponse> refusal;
  std::filesystem::path file = {};
  std::shared_ptr<void> slot = {};
  std::chrono::milliseconds timeout{300000};  // the whole body must be read within this
  std::uint64_t max_bytes = 0;                // refused while reading past it (Content-Length is checked first)
};

// What /api/ asks of the layer above (the node's accounts). Called on the connection's loop
// thread; `respond` must be called exactly once, from any thread (it posts to the loop), and may
// be called after the connection has gone (then it does nothing). The connection reads no further
// request until it has been.
class ApiService {
 public:
  using Respond = std::function<void(ApiResponse)>;
  virtual void handle_api(ApiRequest request, Respond respond) = 0;
  // Uploads (docs/api.md, "Files"): a request to `path` by `method` whose body is a file, read
  // into a file as it arrives instead of into `body` (the 16 KiB limit is for the others). It
  // must have a Content-Length (else 411; chunked too); admit_upload decides from its header
  // (`request` has no body yet) whether it is read, on the loop thread.
  virtual bool upload_path(std::string_view method, std::string_view path) const {
    (void)method;
    (void)path;
    return false;
  }
  virtual UploadAdmission admit_upload(const ApiRequest& request, std::uint64_t content_length) {
    (void)request;
    (void)content_length;
    return UploadAdmission{ApiResponse{404, {}, {}}};
  }

 protected:
  ~ApiService() = default;
};

struct HttpOptions {
  std::filesystem::path web_root;
  HttpService* service = nullptr;
  Admission* admission = nullptr;  // shared by every loop of the node
  OriginPolicy origins;            // which pages may open a WebSocket or call /api/ (server.allowed_origins)
  ApiService* api = nullptr;       // /api/; none: 404
  TlsContext* tls = nullptr;       // server.tls_cert: every connection speaks TLS (https, wss)
};

// Takes a connected, non-blocking socket of the given protocol (IPv4 or IPv6): reads its first
// request, answers a WebSocket upgrade at once (net/handshake.cpp), and hands anything else to
// serve_http.
void start_http_session(Loop& loop, const HttpOptions& options, int fd, boost::asio::ip::tcp protocol,
                        Admission::Ticket ticket);

// Serves HTTP/1.1 on `socket` with Beast (health, readiness, metrics, the static UI, and the
// upgrades the fast path did not take), as if it had read `initial` itself; the first request
// must be whole by `deadline`.
void serve_http(Loop& loop, const HttpOptions& options, boost::asio::ip::tcp::socket socket, std::string_view initial,
                std::chrono::steady_clock::time_point deadline, Admission::Ticket ticket);
// The same over TLS: `ssl` is the connection's, its handshake done; `initial` is plaintext.
void serve_https(Loop& loop, const HttpOptions& options, boost::asio::ip::tcp::socket socket, SSL* ssl,
                 std::string_view initial, std::chrono::steady_clock::time_point deadline, Admission::Ticket ticket);

}  // namespace parley::net
