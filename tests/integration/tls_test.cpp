// TLS on the node's own port (server.tls_cert, server.tls_key): https and wss with a certificate
// made here, for 127.0.0.1, by a CA made here; Secure cookies; a client that speaks plain HTTP to
// the port; a reader too slow for the socket (TLS writes resumed where they stopped); the
// certificate replaced on SIGHUP, and a broken one refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common.hpp"

namespace parley::it {
namespace {

namespace fs = std::filesystem;

// ---- certificates ----------------------------------------------------------------------------

struct KeyPair {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
};

std::string pem_of(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string pem_of(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A P-256 key and a certificate for `cn`, signed by `issuer` (self-signed if null: a CA).
KeyPair make_cert(const std::string& cn, const KeyPair* issuer, long serial) {
  KeyPair kp;
  kp.key.reset(EVP_EC_gen("P-256"));
  kp.cert.reset(X509_new());
  X509* c = kp.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 3600);
  X509_set_pubkey(c, kp.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
  if (issuer == nullptr) {
    add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c, c, NID_key_usage, "critical,keyCertSign");
  } else {
    add_ext(c, issuer_cert, NID_subject_alt_name, "IP:127.0.0.1");
    add_ext(c, issuer_cert, NID_ext_key_usage, "serverAuth");
  }
  X509_sign(c, issuer != nullptr ? issuer->key.get() : kp.key.get(), EVP_sha256());
  return kp;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

// A CA, and the node's certificate and key in files (`generation` tells certificates apart).
class Pki {
 public:
  Pki()
      : dir_(fs::temp_directory_path() / ("parley-tls-" + std::to_string(::getpid()) + "-" + std::to_string(next_++))) {
    fs::create_directories(dir_);
    ca_ = make_cert("parley test CA", nullptr, 1);
    issue(1);
  }
  ~Pki() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A new certificate for the node, with serial `serial`, written over the old files.
  void issue(long serial) {
    auto kp = make_cert("127.0.0.1", &ca_, serial);
    write_file(cert_path(), pem_of(kp.cert.get()));
    write_file(key_path(), pem_of(kp.key.get()));
  }
  fs::path cert_path() const { return dir_ / "cert.pem"; }
  fs::path key_path() const { return dir_ / "key.pem"; }
  X509* ca() const { return ca_.cert.get(); }
  std::vector<std::string> settings() const {
    return {"server.tls_cert=" + cert_path().string(), "server.tls_key=" + key_path().string()};
  }

 private:
  static inline int next_ = 0;
  fs::path dir_;
  KeyPair ca_;
};

// ---- a blocking TLS client --------------------------------------------------------------------

class TlsClient {
 public:
  // Connects, verifies the node's certificate against `ca` (name: 127.0.0.1), handshakes.
  // `prefix`: bytes sent in the clear before the handshake (a proxy's PROXY header).
  TlsClient(unsigned short port, X509* ca, int rcvbuf = 0, const std::string& prefix = {}) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{5 * time_scale(), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    if (!prefix.empty() &&
        ::send(fd_, prefix.data(), prefix.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(prefix.size()))
      return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "127.0.0.1");
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool ok() const { return ok_; }
  long serial() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    const long s = ASN1_INTEGER_get(X509_get0_serialNumber(peer));
    X509_free(peer);
    return s;
  }
  void send(std::string_view bytes) {
    std::size_t n = 0;
    ASSERT_EQ(SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n), 1);
  }
  // At least one byte more into the buffer, false on timeout, EOF or error.
  bool fill() {
    char buf[16384];
    std::size_t n = 0;
    if (SSL_read_ex(ssl_, buf, sizeof buf, &n) != 1) return false;
    buf_.append(buf, n);
    return true;
  }
  std::optional<HttpResponse> http(const std::string& request) {
    send(request);
    return read_http();
  }
  std::optional<HttpResponse> read_http() {
    for (;;) {
      std::size_t used = 0;
      if (auto r = parse_http_response(buf_, &used)) {
        buf_.erase(0, used);
        return r;
      }
      if (!fill()) return std::nullopt;
    }
  }
  // The upgrade to /ws; true on 101.
  bool upgrade() {
    auto r = http(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return r && r->status == 101;
  }
  void send_event(const json::object& e) { send(ws_frame(0x1, serialize(e))); }
  // The next event of a server text frame (frames may hold several, '\n'-separated).
  std::optional<json::object> next() {
    while (events_.empty()) {
      auto payload = next_text();
      if (!payload) return std::nullopt;
      std::size_t start = 0;
      while (start < payload->size()) {
        const std::size_t end = std::min(payload->find('\n', start), payload->size());
        events_.push_back(json::parse(payload->substr(start, end - start)).as_object());
        start = end + 1;
      }
    }
    auto e = std::move(events_.front());
    events_.erase(events_.begin());
    return e;
  }
  // The next event of `type` (others skipped).
  std::optional<json::object> next_of(const std::string& type) {
    while (auto e = next()) {
      if (type_of(*e) == type) return e;
      if (type_of(*e) == "error") ADD_FAILURE() << "unexpected " << dump(*e);
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> next_text() {
    for (;;) {
      if (buf_.size() >= 2) {
        const auto b1 = static_cast<unsigned char>(buf_[1]);
        std::size_t len = b1 & 0x7f, header = 2;
        if (len == 126 && buf_.size() >= 4) {
          len = (static_cast<unsigned char>(buf_[2]) << 8) | static_cast<unsigned char>(buf_[3]);
          header = 4;
        } else if (len == 127 && buf_.size() >= 10) {
          len = 0;
          for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[i]);
          header = 10;
        }
        if ((b1 & 0x7f) < 126 || header > 2) {
          if (buf_.size() >= header + len) {
            const int opcode = static_cast<unsigned char>(buf_[0]) & 0x0f;
            std::string payload = buf_.substr(header, len);
            buf_.erase(0, header + len);
            if (opcode == 0x1) return payload;
            if (opcode == 0x8) return std::nullopt;
            continue;  // a ping: not answered here
          }
        }
      }
      if (!fill()) return std::nullopt;
    }
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
  std::vector<json::object> events_;
};

json::object hello(const std::string& name) { return {{"type", "hello"}, {"name", name}}; }

// ---- tests ------------------------------------------------------------------------------------

TEST(Tls, HttpsServesThePageHealthAndMetrics) {
  Pki pki;
  ServerProcess server{ServerOptions{pki.settings()}};
  TlsClient c(server.port(), pki.ca());
  ASSERT_TRUE(c.ok()) << "TLS handshake with the node failed";
  auto health = c.http("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  // The same connection, kept alive: the page, then the metrics.
  auto page = c.http("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<html"), std::string::npos);
  auto metrics = c.http("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(metrics);
  EXPECT_GE(metric(metrics->body, "parley_tls_handshakes_total{result=\"ok\"}").value_or(0), 1);
}

TEST(Tls, WssClientsChat) {
  Pki pki;
  ServerProcess server{ServerOptions{pki.settings()}};
  TlsClient ada(server.port(), pki.ca()), bob(server.port(), pki.ca());
  ASSERT_TRUE(ada.ok() && bob.ok());
  ASSERT_TRUE(ada.upgrade() && bob.upgrade());
  ada.send_event(hello("ada"));
  bob.send_event(hello("bob"));
  ASSERT_TRUE(ada.next_of("welcome"));
  ASSERT_TRUE(bob.next_of("welcome"));
  ada.send_event({{"type", "join"}, {"room", "general"}});
  bob.send_event({{"type", "join"}, {"room", "general"}});
  ASSERT_TRUE(ada.next_of("joined"));
  ASSERT_TRUE(bob.next_of("joined"));
  // Texts longer than a TLS record (16 KiB) in one frame: several records, read back whole.
  ada.send_event({{"type", "send"}, {"room", "general"}, {"text", "hello over wss"}, {"cid", "c1"}});
  auto m = bob.next_of("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(str(*m, "text"), "hello over wss");
  EXPECT_EQ(str(*m, "from"), "ada");
  auto ack = ada.next_of("ack");
  ASSERT_TRUE(ack);
  EXPECT_EQ(str(*ack, "cid"), "c1");
}

// An upgrade the fast path leaves to Beast (two Cookie lines) over TLS: Beast's TLS stream hands
// the connection to the WebSocket session, with a frame that came in the same write as the request.
TEST(Tls, AnUpgradeThroughTheHttpSessionGoesOnWithTheSameTls) {
  Pki pki;
  ServerProcess server{ServerOptions{pki.settings()}};
  TlsClient c(server.port(), pki.ca());
  ASSERT_TRUE(c.ok());
  // The frame in a TLS record of its own, which Beast's stream may have read and not decrypted.
  c.send(
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Cookie: a=1\r\nCookie: b=2\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  c.send(ws_frame(0x1, serialize(hello("beast"))));
  auto r = c.read_http();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 101);
  auto w = c.next_of("welcome");
  ASSERT_TRUE(w);
  EXPECT_EQ(str(*w, "user"), "beast");
  c.send_event({{"type", "ping"}});
  EXPECT_TRUE(c.next_of("pong"));
}

// A reader that stops reading fills the server's socket: TLS writes stop half-way through a record
// and must go on with the same bytes. Everything arrives, in order, intact.
TEST(Tls, ASlowWssReaderGetsEveryMessageIntact) {
  Pki pki;
  auto settings = pki.settings();
  settings.insert(settings.end(),
                  {"limits.send_rate=100000", "limits.send_burst=100000", "limits.request_rate=100000",
                   "limits.request_burst=100000", "limits.max_outbound_bytes=16777216", "limits.max_text_length=4000"});
  ServerProcess server{ServerOptions{settings}};
  TlsClient reader(server.port(), pki.ca(), 4096), writer(server.port(), pki.ca());
  ASSERT_TRUE(reader.ok() && writer.ok());
  ASSERT_TRUE(reader.upgrade() && writer.upgrade());
  reader.send_event(hello("reader"));
  writer.send_event(hello("writer"));
  ASSERT_TRUE(reader.next_of("welcome"));
  ASSERT_TRUE(writer.next_of("welcome"));
  reader.send_event({{"type", "join"}, {"room", "general"}});
  ASSERT_TRUE(reader.next_of("joined"));
  writer.send_event({{"type", "join"}, {"room", "general"}});
  ASSERT_TRUE(writer.next_of("joined"));
  constexpr int count = 1500;  // 6 MB: more than the kernel buffers of both sockets hold (tcp_wmem max 4 MB)
  for (int i = 0; i < count; ++i) {
    const std::string text = std::to_string(i) + ":" + std::string(3990, static_cast<char>('a' + i % 26));
    writer.send_event({{"type", "send"}, {"room", "general"}, {"text", text}, {"cid", "c" + std::to_string(i)}});
  }
  for (int i = 0; i < count; ++i) ASSERT_TRUE(writer.next_of("ack")) << "ack " << i;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server's writes stall meanwhile
  for (int i = 0; i < count; ++i) {
    auto m = reader.next_of("message");
    ASSERT_TRUE(m) << "message " << i;
    const std::string text = str(*m, "text");
    EXPECT_EQ(text, std::to_string(i) + ":" + std::string(3990, static_cast<char>('a' + i % 26))) << "message " << i;
    EXPECT_EQ(u64(*m, "seq"), static_cast<std::uint64_t>(i + 1));
  }
}

TEST(Tls, SessionCookiesAreSecureOverHttps) {
  Pki pki;
  auto options = with_accounts(pki.settings());
  ServerProcess server{options};
  TlsClient c(server.port(), pki.ca());
  ASSERT_TRUE(c.ok());
  const std::string body = R"({"name":"secure-ada","password":"correct horse battery"})";
  auto r =
      c.http("POST /api/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  const std::string cookie = r->header("set-cookie");
  EXPECT_NE(cookie.find("parley_session="), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
}

std::string register_request(const std::string& name) {
  const std::string body = R"({"name":")" + name + R"(","password":"correct horse battery"})";
  return "POST /api/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// TLS ends at HAProxy (deploy/haproxy.cfg): its send-proxy-v2-ssl says that the client's
// connection was TLS, and the node's cookies are Secure though the node speaks plain HTTP.
TEST(Tls, BehindATlsTerminatingProxyCookiesAreSecure) {
  ServerProcess server{with_accounts({"server.trusted_proxies=127.0.0.1"})};
  auto tls_client = http_raw(server.port(), proxy_v2(203, 0, 113, 7, 40000, true) + register_request("proxied-ada"));
  EXPECT_EQ(tls_client.status, 201) << tls_client.body;
  EXPECT_NE(tls_client.header("set-cookie").find("; Secure"), std::string::npos) << tls_client.header("set-cookie");
  auto plain_client = http_raw(server.port(), proxy_v2(203, 0, 113, 8) + register_request("proxied-bob"));
  EXPECT_EQ(plain_client.status, 201) << plain_client.body;
  EXPECT_EQ(plain_client.header("set-cookie").find("Secure"), std::string::npos) << plain_client.header("set-cookie");
  // From an address that is no trusted proxy the header is no header: the request is refused.
  ServerProcess untrusting{with_accounts({})};
  auto forged = http_raw(untrusting.port(), proxy_v2(203, 0, 113, 9, 40000, true) + register_request("forger"));
  EXPECT_NE(forged.status, 201);
}

// TLS passed through a TCP proxy (mode tcp, send-proxy-v2): the PROXY header comes in the clear
// before the handshake, and names the client whose budgets count.
TEST(Tls, ThroughATcpProxyThePlainProxyHeaderComesFirst) {
  Pki pki;
  auto settings = pki.settings();
  settings.insert(settings.end(), {"server.trusted_proxies=127.0.0.1", "limits.max_connections_per_address=1"});
  ServerProcess server{ServerOptions{settings}};
  TlsClient a(server.port(), pki.ca(), 0, proxy_v2(203, 0, 113, 1));
  TlsClient b(server.port(), pki.ca(), 0, proxy_v2(203, 0, 113, 2));
  TlsClient a_again(server.port(), pki.ca(), 0, proxy_v2(203, 0, 113, 1));
  ASSERT_TRUE(a.ok() && b.ok() && a_again.ok());
  EXPECT_TRUE(a.upgrade());
  EXPECT_TRUE(b.upgrade()) << "another client";
  auto third = a_again.http(
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 429) << "the first client's second connection";
}

TEST(Tls, PlainHttpOnTheTlsPortIsToldToUseHttps) {
  Pki pki;
  ServerProcess server{ServerOptions{pki.settings()}};
  auto r = http_get(server.port(), "/healthz");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().as_object().at("code").as_string(), "tls_required") << r.body;
  // Bytes that are neither TLS nor HTTP: closed, counted as a failed handshake.
  RawClient raw;
  ASSERT_TRUE(raw.connect(server.port()));
  raw.send(std::string("\x01\x02\x03\x04", 4));
  EXPECT_TRUE(raw.closed_within(scaled(3s)));
  // The node goes on serving TLS.
  TlsClient c(server.port(), pki.ca());
  EXPECT_TRUE(c.ok());
}

TEST(Tls, SighupReloadsTheCertificateAndKeepsTheOldOneIfTheNewOneIsBroken) {
  Pki pki;
  ServerProcess server{ServerOptions{pki.settings()}};
  TlsClient before(server.port(), pki.ca());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before.serial(), 1);
  ASSERT_TRUE(before.upgrade());
  before.send_event(hello("before"));
  ASSERT_TRUE(before.next_of("welcome"));

  pki.issue(2);
  ::kill(server.pid(), SIGHUP);
  ASSERT_TRUE(eventually(
      [&] {
        TlsClient c(server.port(), pki.ca());
        return c.ok() && c.serial() == 2;
      },
      scaled(5s)))
      << "the new certificate is not served after SIGHUP";
  // A connection made before goes on with the old one.
  before.send_event({{"type", "ping"}});
  EXPECT_TRUE(before.next_of("pong"));

  // A key that does not match: refused, the certificate of serial 2 stays in use.
  auto other = make_cert("127.0.0.1", nullptr, 9);
  write_file(pki.key_path(), pem_of(other.key.get()));
  ::kill(server.pid(), SIGHUP);
  ASSERT_TRUE(eventually(
      [&] {
        TlsClient c(server.port(), pki.ca());
        if (!c.ok()) return false;
        auto m = c.http("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        return m && metric(m->body, "parley_tls_reloads_total{result=\"failed\"}").value_or(0) == 1;
      },
      scaled(5s)));
  TlsClient after(server.port(), pki.ca());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.serial(), 2);
  EXPECT_NE(server.stderr_text().find("not reloaded"), std::string::npos);
}

TEST(Tls, AMissingOrMismatchedCertificateStopsTheStart) {
  Pki pki;
  const std::string data = (fs::temp_directory_path() / ("parley-tls-data-" + std::to_string(::getpid()))).string();
  auto r = run_parley({"serve", "--listen", "127.0.0.1:0", "--data", data, "--set",
                       "server.tls_cert=/nonexistent/cert.pem", "--set", "server.tls_key=" + pki.key_path().string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/cert.pem"), std::string::npos) << r.output;
  auto half = run_parley(
      {"serve", "--listen", "127.0.0.1:0", "--data", data, "--set", "server.tls_cert=" + pki.cert_path().string()});
  EXPECT_FALSE(fs::exists(data)) << "a node that cannot start made its data directory";
  EXPECT_NE(half.exit_code, 0);
  EXPECT_NE(half.output.find("server.tls_key"), std::string::npos) << half.output;
}

}  // namespace
}  // namespace parley::it
