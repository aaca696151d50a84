#include "net/tls.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace parley::net {

namespace {

// The newest OpenSSL error on this thread, as text ("unknown" if it left none); clears the queue.
std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// ALPN: HTTP/1.1 is all the node speaks. A client that offers only h2 gets no ALPN answer, which
// it may take as "HTTP/1.1 anyway" (browsers do) or hang up.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void*) {
  static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

TlsContext::TlsContext(TlsOptions options) : options_(std::move(options)), ctx_(load(options_)) {}

TlsContext::~TlsContext() = default;

std::shared_ptr<SSL_CTX> TlsContext::load(const TlsOptions& options) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) throw std::runtime_error("TLS: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Renegotiation is a way for a client to make the server do handshakes' work over and over on
  // one connection; nobody needs it. The kernel may take the record layer (kTLS) where it can.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_ENABLE_KTLS);
  // Partial writes: a session hands over what the socket takes and keeps the rest queued, as on
  // plain TCP. Released buffers: an idle connection holds no 16 KiB read and write buffers
  // (about 34 KiB a connection otherwise; the node holds hundreds of thousands).
  SSL_CTX_set_mode(ctx.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert.c_str()) != 1)
    throw std::runtime_error("TLS certificate " + options.cert.string() + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("TLS key " + options.key.string() + ": " + openssl_error());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw std::runtime_error("TLS key " + options.key.string() + " does not match the certificate " +
                             options.cert.string() + ": " + openssl_error());
  return ctx;
}

SSL* TlsContext::accept(int fd) const {
  std::shared_ptr<SSL_CTX> ctx;
  {
    std::lock_guard lock(mutex_);
    ctx = ctx_;
  }
  SSL* ssl = SSL_new(ctx.get());  // holds its own reference to the context
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

bool TlsContext::reload(std::string& error) {
  try {
    auto fresh = load(options_);
    std::lock_guard lock(mutex_);
    ctx_ = std::move(fresh);
  } catch (const std::exception& e) {
    error = e.what();
    metrics_.reload_failures.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  metrics_.reloads.fetch_add(1, std::memory_order_relaxed);
  return true;
}

TlsLink::~TlsLink() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees the socket BIO, not the socket (BIO_NOCLOSE)
}

TlsLink::Step TlsLink::handshake() {
  ERR_clear_error();
  const int r = SSL_accept(ssl_);
  if (r == 1) {
    auto& m = context_.metrics();
    m.handshakes.fetch_add(1, std::memory_order_relaxed);
    if (BIO_get_ktls_send(SSL_get_wbio(ssl_))) m.ktls_send.fetch_add(1, std::memory_order_relaxed);
    return Step::done;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ: return Step::want_read;
    case SSL_ERROR_WANT_WRITE: return Step::want_write;
    default:
      ERR_clear_error();
      context_.metrics().handshake_failures.fetch_add(1, std::memory_order_relaxed);
      return Step::failed;
  }
}

Received TlsLink::read(std::span<char> buf) noexcept {
  read_wants_write_ = false;
  ERR_clear_error();
  std::size_t n = 0;
  const int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
  if (r == 1) return {Received::State::data, n};
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ: return {Received::State::would_block};
    case SSL_ERROR_WANT_WRITE: read_wants_write_ = true; return {Received::State::would_block};
    default:  // close_notify, EOF, a reset, a bad record: the connection is over
      ERR_clear_error();
      return {Received::State::closed};
  }
}

bool TlsLink::has_pending() const noexcept { return SSL_has_pending(ssl_) == 1; }

std::size_t TlsLink::write(std::span<const iovec> iov, int& error) {
  error = 0;
  const char* data = nullptr;
  std::size_t size = 0;
  if (iov.size() == 1) {
    data = static_cast<const char*>(iov[0].iov_base);
    size = iov[0].iov_len;
  } else {
    scratch_.clear();
    for (const auto& v : iov) scratch_.append(static_cast<const char*>(v.iov_base), v.iov_len);
    data = scratch_.data();
    size = scratch_.size();
  }
  std::size_t done = 0;
  while (done < size) {
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_write_ex(ssl_, data + done, size - done, &n);
    if (r == 1) {  // with partial writes: a record (16 KiB at most) is out
      done += n;
      continue;
    }
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_WRITE:
      case SSL_ERROR_WANT_READ: break;  // the rest when the socket is ready again
      case SSL_ERROR_SYSCALL: error = errno != 0 ? errno : EPIPE; break;
      default: error = EPROTO; break;
    }
    ERR_clear_error();
    break;
  }
  // A burst's scratch goes back: an idle client pins no memory.
  if (scratch_.capacity() > std::size_t{64} * 1024) std::string().swap(scratch_);
  return done;
}

SSL* TlsLink::release() noexcept { return std::exchange(ssl_, nullptr); }

}  // namespace parley::net
