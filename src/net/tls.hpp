#pragma once
// TLS on the node's own port (server.tls_cert, server.tls_key): https and wss on the same
// listener, with the same fast paths as plain TCP. OpenSSL 3 works straight on the socket (a
// socket BIO, no copy through memory BIOs): the handshake and the WebSocket session read and
// write through a TlsLink, and Beast's HTTP session through an asio::ssl::stream built around the
// same SSL object. With SSL_OP_ENABLE_KTLS, OpenSSL hands the record layer to the kernel where
// the kernel offers it (the `tls` module): then SSL_write is one sendmsg of plaintext; where not,
// OpenSSL encrypts in user space. Either way a session's turn is still one write call.
//
// TlsContext is the certificate, key and settings: shared by every loop, replaced whole on
// SIGHUP (reload()); a connection keeps the context it started with.
#include <openssl/ssl.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "net/recv_now.hpp"

namespace parley::net {

struct TlsOptions {
  std::filesystem::path cert;  // PEM: the certificate, then its chain
  std::filesystem::path key;   // PEM: its private key
};

// What TLS connections have done, for /metrics.
struct TlsMetrics {
  std::atomic<std::uint64_t> handshakes{0};          // completed
  std::atomic<std::uint64_t> handshake_failures{0};  // a peer that broke off or spoke no TLS
  std::atomic<std::uint64_t> ktls_send{0};           // handshakes after which the kernel encrypts
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reload_failures{0};
};

class TlsContext {
 public:
  // Loads the files now; throws std::runtime_error saying which file and why.
  explicit TlsContext(TlsOptions options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A new server-side SSL object on `fd` (in accept state), of the newest certificate; null if
  // OpenSSL cannot make one (out of memory).
  SSL* accept(int fd) const;
  // Reads the files again and, if they make a valid pair, uses them for new connections; on
  // failure keeps the old ones and returns false with `error` set. Any thread.
  bool reload(std::string& error);

  const TlsOptions& options() const noexcept { return options_; }
  TlsMetrics& metrics() const noexcept { return metrics_; }

 private:
  static std::shared_ptr<SSL_CTX> load(const TlsOptions& options);

  TlsOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<SSL_CTX> ctx_;  // under mutex_: swapped by reload()
  mutable TlsMetrics metrics_;
};

// One connection's TLS state on its socket. Non-blocking: every call does what the socket allows
// now and says what it waits for. Lives on the connection's loop thread.
class TlsLink {
 public:
  enum class Step : std::uint8_t { done, want_read, want_write, failed };

  TlsLink(SSL* ssl, const TlsContext& context) : ssl_(ssl), context_(context) {}
  ~TlsLink();
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  // Drives the handshake on (SSL_accept).
  Step handshake();
  // Plaintext into `buf`. would_block: wait for the socket to be readable (or writable, when
  // read_wants_write(): TLS may have to send before it can read on). Unlike a plain recv, less
  // than a buffer does not mean the socket is empty: read until would_block.
  Received read(std::span<char> buf) noexcept;
  bool read_wants_write() const noexcept { return read_wants_write_; }
  // Decrypted bytes or whole records already read from the socket: a read would not block.
  bool has_pending() const noexcept;
  // Writes the pieces' bytes (one record per 16 KiB); returns how many the socket took, with
  // `error` 0 if the rest waits for room (EAGAIN), else an errno. A retry after a partial write
  // must pass the same bytes from where it stopped (OpenSSL's rule; the session's queue keeps
  // them).
  std::size_t write(std::span<const iovec> iov, int& error);
  // Hands the SSL object over (to an asio::ssl::stream); this link no longer frees it.
  SSL* release() noexcept;
  SSL* native() const noexcept { return ssl_; }

 private:
  SSL* ssl_;
  const TlsContext& context_;
  std::string scratch_;  // the pieces of a write, gathered: one record, not one per piece
  bool read_wants_write_ = false;
};

}  // namespace parley::net
