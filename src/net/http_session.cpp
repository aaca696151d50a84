#include "net/http_session.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "net/byte_range.hpp"
#include "net/log.hpp"
#include "net/loop.hpp"
#include "net/static_files.hpp"
#include "net/tls.hpp"
#include "net/upgrade.hpp"
#include "net/ws_session.hpp"
#include "protocol/events.hpp"
#include "protocol/http_request.hpp"
#include "protocol/json_writer.hpp"

namespace parley::net {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// After an answer that closes the connection, how long and how much of what the client still
// sends is read and dropped before the socket is closed (see linger()).
constexpr std::chrono::seconds linger_time{2};
constexpr std::size_t linger_bytes = std::size_t{64} * 1024;
// An error's log line quotes at most this much of the path (a client chooses its length).
constexpr std::size_t max_logged_path = 256;
// A request body but an upload's (ApiService::upload_path): /api/ bodies are small JSON objects.
constexpr std::uint64_t api_body_limit = std::uint64_t{16} * 1024;

// Beast's own refusals of a request's framing (Content-Length with chunked, in either order;
// Transfer-Encoding after Content-Length; a bad or repeated Content-Length).
constexpr protocol::HttpAnswer conflicting_framing{400, "bad_framing",
                                                   "conflicting Transfer-Encoding or Content-Length"};
constexpr protocol::HttpAnswer bad_content_length{400, "bad_framing", "invalid Content-Length"};

// Headers on every answer but the 101: a policy (page_policy or data_policy), no framing for
// browsers that predate frame-ancestors, no MIME sniffing, and no Referer sent from the page to
// the sites its messages link to.
template <class Fields>
void set_security_headers(Fields& fields, std::string_view policy) {
  fields.set("Content-Security-Policy", policy);
  fields.set("X-Frame-Options", "DENY");
  fields.set("X-Content-Type-Options", "nosniff");
  fields.set("Referrer-Policy", "no-referrer");
}

// What RFC 9112 asks of a request's framing fields, from what Beast read; `joined` holds the
// Transfer-Encoding list when it spans several lines.
protocol::RequestFraming framing_of(const http::request<http::string_body>& req, std::string& joined) {
  protocol::RequestFraming f;
  f.http11 = req.version() >= 11;  // Beast reads 1.0 and 1.1 only
  for (const auto& field : req) {
    const std::string_view value(field.value().data(), field.value().size());
    switch (field.name()) {
      case http::field::host:
        if (f.host_lines++ == 0) f.host = value;
        break;
      case http::field::transfer_encoding:
        if (f.transfer_encoding_lines++ > 0) joined += ", ";
        joined += value;
        break;
      case http::field::content_length: f.content_length = true; break;
      default: break;
    }
  }
  f.transfer_encoding = joined;
  return f;
}

using TlsStream = boost::asio::ssl::stream<beast::tcp_stream>;

// The socket of a session's stream, and what times its operations out.
beast::tcp_stream& lowest(beast::tcp_stream& s) { return s; }
beast::tcp_stream& lowest(TlsStream& s) { return s.next_layer(); }

// A TLS stream's SSL object, to go on with the WebSocket session on the bare socket `fd`: the
// records Asio has read and not decrypted yet are decrypted into `leftover` first. Null (the
// connection is dropped) if a record is only partly here: nothing after Asio could finish it.
SSL* take_ssl(TlsStream& s, int fd, std::string& leftover) {
  SSL* ssl = s.native_handle();
  char buf[4096];
  while (SSL_has_pending(ssl) == 1 || BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0) {
    std::size_t n = 0;
    if (SSL_read_ex(ssl, buf, sizeof buf, &n) != 1) break;
    leftover.append(buf, n);
  }
  if (BIO_ctrl_pending(SSL_get_rbio(ssl)) > 0) return nullptr;
  SSL_up_ref(ssl);                 // the stream frees its reference when the session goes
  if (SSL_set_fd(ssl, fd) != 1) {  // the socket itself, instead of Asio's BIO pair
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  using Clock = std::chrono::steady_clock;

  // `initial`: bytes of the first request already read; `deadline`: when it must be complete.
  HttpSession(Loop& loop, const HttpOptions& options, Stream stream, std::string_view initial,
              Clock::time_point deadline, Admission::Ticket ticket)
      : loop_(loop),
        options_(options),
        stream_(std::move(stream)),
        first_deadline_(deadline),
        ticket_(std::move(ticket)) {
    buffer_.commit(boost::asio::buffer_copy(buffer_.prepare(initial.size()), boost::asio::buffer(initial)));
  }

  void run() { do_read(); }

 private:
  const core::Limits& limits() const { return loop_.limits(); }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits().max_header_bytes));
    // /api/ bodies are small JSON objects (api_body_limit), set once the header is read: an
    // upload's is another (its Content-Length must not be refused by this one first).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    // Bounds the whole request, so that a client trickling headers cannot hold the connection.
    if (first_deadline_) {
      lowest(stream_).expires_at(*first_deadline_);
      first_deadline_.reset();
    } else {
      lowest(stream_).expires_after(std::chrono::milliseconds(limits().handshake_timeout_ms));
    }
    read_header();
  }

  // Parses what the buffer holds, reading more until the request's header is whole (as
  // http::async_read_header would). Beast joins folded header lines (obs-fold) silently, so the
  // bytes are looked at before the parser sees them; it parses the field lines only once all of
  // them are here, and the request line alone before that.
  void read_header() {
    while (!parser_->is_header_done()) {
      const auto data = buffer_.data();
      const std::string_view bytes(static_cast<const char*>(data.data()),
                                   std::min(data.size(), limits().max_header_bytes));
      if (protocol::has_obs_fold(bytes)) return refuse(protocol::folded_header_answer);
      beast::error_code ec;
      buffer_.consume(parser_->put(data, ec));
      if (ec == http::error::need_more) return read_more();
      if (ec) return on_error(ec);
    }
    on_header();
  }

  void read_more() {
    stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, 65536)),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec == boost::asio::error::eof)
                                return self->on_error(self->parser_->got_some() ? http::error::partial_message
                                                                                : http::error::end_of_stream);
                              if (ec) return self->on_error(ec);
                              self->read_header();
                            });
  }

  // The header is whole: refuse what RFC 9112 forbids and Beast let through, before any of the
  // body is read (its length may be the very thing in doubt), then read the body.
  void on_header() {
    std::string joined;
    const protocol::RequestFraming framing = framing_of(parser_->get(), joined);
    if (const auto refusal = protocol::check_request(framing); refusal != protocol::RequestRefusal::none)
      return refuse(protocol::answer_for(refusal));
    // Accepted, a Transfer-Encoding is "chunked": Beast must read the body as chunked too.
    if (framing.transfer_encoding_lines > 0 && !parser_->chunked())
      return refuse(protocol::answer_for(protocol::RequestRefusal::bad_transfer_encoding));
    if (options_.api) {
      const auto& req = parser_->get();
      const std::string_view target(req.target().data(), req.target().size());
      const std::string_view path = target.substr(0, target.find('?'));
      if (path.starts_with("/api/") && !beast::websocket::is_upgrade(req) &&
          options_.api->upload_path(std::string_view(req.method_string()), path))
        return start_upload(target, path);
    }
    if (const auto length = parser_->content_length(); length && *length > api_body_limit)
      return send_error(http::status::payload_too_large, "body_too_large", "request body too large", false);
    parser_->body_limit(api_body_limit);
    if (parser_->is_done()) return on_request();
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_error(ec);
      self->on_request();
    });
  }

  void on_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == boost::asio::error::operation_aborted || ec == boost::asio::error::connection_reset ||
        ec == boost::asio::error::eof) {
      return close();
    }
    if (ec == http::error::header_limit)
      return send_error(http::status::request_header_fields_too_large, "header_too_large", "request header too large",
                        false);
    if (ec == http::error::body_limit)
      return send_error(http::status::payload_too_large, "body_too_large", "request body too large", false);
    if (ec == http::error::bad_transfer_encoding) return refuse(conflicting_framing);
    if (ec == http::error::bad_content_length || ec == http::error::multiple_content_length)
      return refuse(parser_ && parser_->chunked() ? conflicting_framing : bad_content_length);
    send_error(http::status::bad_request, "bad_request", "malformed HTTP request", false);
  }

  // A refused request: its answer, and the connection closed after it.
  void refuse(const protocol::HttpAnswer& answer) {
    send_error(static_cast<http::status>(answer.status), answer.code, answer.message, false);
  }

  void on_request() {
    loop_.metrics().http_requests.add();
    auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    request_path_.assign(path.substr(0, max_logged_path));
    if (beast::websocket::is_upgrade(req)) return upgrade(req, path);
    const bool keep = req.keep_alive();
    if (path.starts_with("/api/")) return api(req, target, path, keep);
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return send_error(http::status::method_not_allowed, "method_not_allowed", "only GET and HEAD", keep);
    }
    const HttpService& service = *options_.service;
    if (path == "/healthz") return send_json(http::status::ok, R"({"status":"ok"})", keep);
    if (path == "/readyz") {
      if (service.draining())
        return send_json(http::status::service_unavailable, R"({"ready":false,"reason":"draining"})", keep);
      if (!service.ready()) {
        protocol::JsonWriter w;
        w.boolean("ready", false).str("reason", service.unready_reason());
        return send_json(http::status::service_unavailable, std::move(w).done(), keep);
      }
      return send_json(http::status::ok, R"({"ready":true})", keep);
    }
    if (path == "/metrics")
      return send_text(http::status::ok, service.metrics_text(), "text/plain; version=0.0.4", keep);
    if (path == "/ws") {
      return send_error(http::status::upgrade_required, "upgrade_required", "connect with a WebSocket client", keep);
    }
    serve_file(req, target, keep);
  }

  // /api/: the layer above answers, perhaps later and from another thread; this connection reads
  // nothing more until it has. A request from a page of another origin is refused here (a
  // browser sends Origin with every POST and DELETE, and with a cross-origin GET): with cookies
  // for sessions, that is the defence against cross-site request forgery, beside SameSite.
  void api(http::request<http::string_body>& req, std::string_view target, std::string_view path, bool keep) {
    if (!options_.api) return send_error(http::status::not_found, "not_found", "no such endpoint", keep);
    if (!origin_allowed(req)) {
      loop_.metrics().origin_refusals.add();
      return send_error(http::status::forbidden, "forbidden_origin", "this page's origin may not call this API", keep);
    }
    ApiRequest r = api_request(req, target, path);
    r.body = std::move(req.body());
    dispatch_api(std::move(r), keep);
  }

  bool origin_allowed(const http::request_header<>& req) const {
    const auto origins = req.count(http::field::origin);
    return origins <= 1 &&
           options_.origins.allows(origins ? std::optional(std::string_view(req[http::field::origin])) : std::nullopt,
                                   req[http::field::host]);
  }

  // What the layer above reads of a request (its body aside).
  ApiRequest api_request(const http::request_header<>& req, std::string_view target, std::string_view path) const {
    ApiRequest r;
    r.method = std::string(req.method_string());
    r.path = std::string(path);
    if (const auto q = target.find('?'); q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
    for (const auto& field : req) {
      if (field.name() != http::field::cookie) continue;
      if (!r.cookie.empty()) r.cookie += "; ";
      r.cookie += std::string_view(field.value().data(), field.value().size());
    }
    r.authorization = std::string(req[http::field::authorization]);
    r.user_agent = std::string(req[http::field::user_agent]);
    r.address = ticket_.address();
    r.secure = ticket_.secure();
    return r;
  }

  void dispatch_api(ApiRequest&& r, bool keep) {
    // An upload's budget slot is given back when the answer comes, before it is written: the
    // layer above copies the request into its steps, and a copy dying after the answer would hold
    // the slot past it (a client's next upload, sent on the answer, refused 429).
    auto slot = std::make_shared<std::shared_ptr<void>>(std::move(r.slot));
    // The answer comes back to this connection's loop (the loop outlives the node's Accounts).
    options_.api->handle_api(std::move(r), [self = this->shared_from_this(), keep, slot](ApiResponse res) {
      slot->reset();
      auto& context = self->loop_.context();
      boost::asio::post(context,
                        [self, keep, res = std::move(res)]() mutable { self->api_answer(std::move(res), keep); });
    });
  }

  // An upload (ApiService::upload_path): its header is here, its body not read. Refused at once
  // (the connection then closes: the body is never read) or read into the file the layer above
  // names, in pieces, then handed over as any /api/ request is.
  void start_upload(std::string_view target, std::string_view path) {
    loop_.metrics().http_requests.add();
    auto& req = parser_->get();
    request_path_.assign(path.substr(0, max_logged_path));
    if (!origin_allowed(req)) {
      loop_.metrics().origin_refusals.add();
      return send_error(http::status::forbidden, "forbidden_origin", "this page's origin may not call this API", false);
    }
    const auto length = parser_->content_length();
    if (parser_->chunked() || !length)
      return send_error(http::status::length_required, "length_required",
                        "an upload needs a Content-Length (chunked bodies are refused)", false);
    const bool keep = req.keep_alive();
    if (*length == 0) return send_error(http::status::bad_request, "bad_request", "the file is empty", keep);
    ApiRequest r = api_request(req, target, path);
    UploadAdmission a = options_.api->admit_upload(r, *length);
    if (a.refusal) return api_answer(std::move(*a.refusal), false);
    upload_.emplace(std::move(*parser_));
    parser_.reset();
    upload_->body_limit(a.max_bytes);
    beast::error_code ec;
    upload_->get().body().open(a.file.c_str(), beast::file_mode::write, ec);
    if (ec) {
      upload_.reset();
      return send_error(http::status::service_unavailable, "store_failed", "the upload could not be stored", false);
    }
    r.body_file = a.file;
    r.body_size = *length;
    r.slot = std::move(a.slot);
    lowest(stream_).expires_after(a.timeout);
    // A client that waits to be told to send the body (curl does, past 1 MiB) is told so now.
    if (beast::iequals(upload_->get()[http::field::expect], "100-continue")) {
      auto go = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      return http::async_write(
          stream_, *go,
          [self = this->shared_from_this(), go, r = std::move(r), keep](beast::error_code ec, std::size_t) mutable {
            if (!ec) return self->read_upload(std::move(r), keep);
            self->upload_.reset();
            std::error_code ignored;
            std::filesystem::remove(r.body_file, ignored);
            self->close();
          });
    }
    read_upload(std::move(r), keep);
  }

  void read_upload(ApiRequest r, bool keep) {
    http::async_read(
        stream_, buffer_, *upload_,
        [self = this->shared_from_this(), r = std::move(r), keep](beast::error_code ec, std::size_t) mutable {
          self->upload_->get().body().close();
          self->upload_.reset();
          if (ec) {
            std::error_code ignored;
            std::filesystem::remove(r.body_file, ignored);
            if (ec == http::error::body_limit)
              return self->send_error(http::status::payload_too_large, "file_too_large",
                                      "the file is larger than this server takes", false);
            return self->on_error(ec);
          }
          lowest(self->stream_).expires_never();
          self->dispatch_api(std::move(r), keep);
        });
  }

  void api_answer(ApiResponse res, bool keep) {
    if (!res.file.empty() && res.status < 300) return file_answer(res, keep);
    std::string rid;
    if (res.status >= 400) {
      rid = res.rid.empty() ? log_error(res.status, protocol::http_error_code(res.body)) : res.rid;
      res.body = protocol::with_request_id(std::move(res.body), rid);
    }
    auto out = make_json(static_cast<http::status>(res.status), std::move(res.body), keep);
    if (!rid.empty()) out->set("X-Request-Id", rid);
    if (res.status == 204) {
      out->erase(http::field::content_type);
      out->body().clear();
      out->prepare_payload();
    }
    for (auto& [name, value] : res.headers) out->insert(name, value);
    write(out, keep);  // without the body for HEAD
  }

  // An uploaded file (ApiResponse::file), from disk in pieces, under file_policy: the whole file,
  // or the one byte range a GET or HEAD asks (RFC 9110 14; a video's seek, a resumed download).
  void file_answer(const ApiResponse& res, bool keep) {
    FileRangeBody::value_type body;
    beast::error_code ec;
    body.file.open(res.file.c_str(), beast::file_mode::scan, ec);
    const std::uint64_t size = ec ? 0 : body.file.size(ec);
    if (ec) {
      // The store has the file and this node's files.dir has not its bytes: in a cluster, most
      // likely a files.dir the nodes do not share. Said to the operator once a minute at most.
      static std::atomic<std::int64_t> last_said{0};
      const std::int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
      std::int64_t said = last_said.load(std::memory_order_relaxed);
      if ((said == 0 || now - said >= 60) && last_said.compare_exchange_strong(said, now, std::memory_order_relaxed)) {
        spdlog::warn("files: {} is in the store but cannot be read here ({}); is files.dir shared by every node?",
                     res.file.string(), ec.message());
      }
      return send_error(http::status::not_found, "no_such_file", "no such file", keep);
    }
    // An uploaded file's bytes never change once stored: its name on disk (the file's id, its
    // thumbnail's) is a strong validator, the ETag an If-Range must name for its Range to count.
    const std::string etag = "\"" + res.file.filename().string() + "\"";
    ByteRange range;
    if (parser_ && parser_->is_header_done()) {
      const auto& req = parser_->get();
      if (req.count(http::field::range) == 1 &&
          (req.count(http::field::if_range) == 0 || req[http::field::if_range] == etag))
        range = parse_byte_range(req[http::field::range], size);
    }
    if (range.kind == ByteRange::Kind::unsatisfiable) {
      auto out = make_error(http::status::range_not_satisfiable, "bad_range",
                            "the range asked starts past the file's end (" + std::to_string(size) + " bytes)", keep);
      out->set(http::field::content_range, content_range(range, size));
      return write(out, keep);
    }
    const bool part = range.kind == ByteRange::Kind::part;
    body.offset = part ? range.first : 0;
    body.length = part ? range.last - range.first + 1 : size;
    auto out = std::make_shared<http::response<FileRangeBody>>(
        std::piecewise_construct, std::make_tuple(std::move(body)),
        std::make_tuple(part ? http::status::partial_content : static_cast<http::status>(res.status), 11));
    out->set(http::field::server, "parley");
    set_security_headers(*out, file_policy);
    for (auto& [name, value] : res.headers) out->set(name, value);
    out->set(http::field::accept_ranges, "bytes");
    out->set(http::field::etag, etag);
    if (part) out->set(http::field::content_range, content_range(range, size));
    out->content_length(out->body().length);
    out->keep_alive(keep);
    write(out, keep);  // without the body for HEAD
  }

  void serve_file(const http::request<http::string_body>& req, std::string_view target, bool keep) {
    auto file = resolve_static(options_.web_root, target);
    if (!file) return send_error(http::status::not_found, "not_found", "no such file", keep);
    http::file_body::value_type body;
    beast::error_code ec;
    body.open(file->c_str(), beast::file_mode::scan, ec);
    if (ec) return send_error(http::status::not_found, "not_found", "no such file", keep);
    const auto size = body.size();
    auto res = std::make_shared<http::response<http::file_body>>(
        std::piecewise_construct, std::make_tuple(std::move(body)), std::make_tuple(http::status::ok, req.version()));
    res->set(http::field::server, "parley");
    res->set(http::field::content_type, mime_type(*file));
    res->set(http::field::cache_control, "no-cache");
    set_security_headers(*res, page_policy);
    res->content_length(size);
    res->keep_alive(keep);
    write(res, keep);  // without the body for HEAD
  }

  void upgrade(http::request<http::string_body>& req, std::string_view path) {
    const std::string_view key(req[http::field::sec_websocket_key]);
    // Two Origin headers are refused: which one a browser meant cannot be known.
    const auto origins = req.count(http::field::origin);
    const bool origin_ok =
        origins <= 1 &&
        options_.origins.allows(origins ? std::optional(std::string_view(req[http::field::origin])) : std::nullopt,
                                req[http::field::host]);
    switch (refusal_of(path, req[http::field::sec_websocket_version], key, options_.service->closing(), origin_ok)) {
      case Refusal::none: break;
      case Refusal::not_found:
        return send_error(http::status::not_found, "not_found", "WebSocket endpoint is /ws", false);
      case Refusal::draining:
        return send_error(http::status::service_unavailable, "draining", "the server is shutting down; reconnect",
                          false);
      case Refusal::bad_version: {
        auto res = make_error(http::status::upgrade_required, "bad_version", "WebSocket version 13 is required", false);
        res->set(http::field::sec_websocket_version, "13");
        return write(res, false);
      }
      case Refusal::bad_key:
        return send_error(http::status::bad_request, "bad_handshake", "missing or invalid Sec-WebSocket-Key", false);
      case Refusal::bad_origin:
        loop_.metrics().origin_refusals.add();
        return send_error(http::status::forbidden, "forbidden_origin",
                          "this page's origin may not open a WebSocket here (server.allowed_origins)", false);
    }
    switch (options_.admission->admit(ticket_)) {
      case Admission::Verdict::ok: break;
      case Admission::Verdict::address_limit: {
        auto res = make_error(http::status::too_many_requests, "too_many_connections",
                              "too many connections from your address; try again later", false);
        res->set(http::field::retry_after, "1");
        return write(res, false);
      }
      case Admission::Verdict::shedding: {
        auto res = make_error(http::status::service_unavailable, "overloaded",
                              "the server is overloaded; try again later", false);
        res->set(http::field::retry_after, "1");
        return write(res, false);
      }
    }

    auto res = std::make_shared<http::response<http::empty_body>>(http::status::switching_protocols, req.version());
    res->set(http::field::server, "parley");
    res->set(http::field::upgrade, "websocket");
    res->set(http::field::connection, "Upgrade");
    res->set(http::field::sec_websocket_accept, accept_key(key));
    if (offers_subprotocol(req[http::field::sec_websocket_protocol]))
      res->set(http::field::sec_websocket_protocol, subprotocol);
    std::string cookies;
    for (const auto& field : req) {
      if (field.name() != http::field::cookie) continue;
      if (!cookies.empty()) cookies += "; ";
      cookies += std::string_view(field.value().data(), field.value().size());
    }
    lowest(stream_).expires_after(std::chrono::milliseconds(limits().handshake_timeout_ms));
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, credential = upgrade_credential(cookies)](
                          beast::error_code ec, std::size_t) mutable {
                        if (ec) return self->close();
                        lowest(self->stream_).expires_never();
                        // Bytes after the request (a client may send its first frame at once) go to the session.
                        auto data = self->buffer_.data();
                        std::string leftover(static_cast<const char*>(data.data()), data.size());
                        auto& loop = self->loop_;
                        // The socket leaves Asio's reactor for the loop's poller.
                        boost::system::error_code release_ec;
                        const int fd = lowest(self->stream_).release_socket().release(release_ec);
                        if (release_ec) return;
                        std::unique_ptr<TlsLink> tls;
                        if constexpr (std::is_same_v<Stream, TlsStream>) {
                          SSL* ssl = take_ssl(self->stream_, fd, leftover);
                          if (ssl == nullptr) {
                            ::close(fd);
                            return;
                          }
                          tls = std::make_unique<TlsLink>(ssl, *self->options_.tls);
                        }
                        auto session =
                            std::make_shared<WsSession>(loop, loop.next_connection_id(), fd, 0, std::move(leftover),
                                                        std::move(self->ticket_), std::move(tls));
                        session->set_credential(std::move(credential));
                        session->start();
                      });
  }

  std::shared_ptr<http::response<http::string_body>> make_json(http::status status, std::string body, bool keep) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "parley");
    res->set(http::field::content_type, "application/json");
    res->set(http::field::cache_control, "no-store");
    set_security_headers(*res, data_policy);
    res->body() = std::move(body);
    res->prepare_payload();
    res->keep_alive(keep);
    return res;
  }

  void send_json(http::status status, std::string body, bool keep) {
    write(make_json(status, std::move(body), keep), keep);
  }

  void send_error(http::status status, std::string_view code, std::string_view message, bool keep) {
    write(make_error(status, code, message, keep), keep);
  }

  // An error answer: its body and X-Request-Id carry a new request id, which its log line has.
  std::shared_ptr<http::response<http::string_body>> make_error(http::status status, std::string_view code,
                                                                std::string_view message, bool keep) {
    const std::string rid = log_error(static_cast<unsigned>(status), code);
    auto res = make_json(status, protocol::with_request_id(protocol::http_error_body(code, message), rid), keep);
    res->set("X-Request-Id", rid);
    return res;
  }

  // An error answer's request id, new, and its log line (net/log.hpp). Level: the server's
  // failure (5xx) warn; a client's mistake at /api/ info; a budget's refusal (429) and any other
  // path's 4xx (a scanner's 404s) debug.
  std::string log_error(unsigned status, std::string_view code) {
    std::string rid = log::new_request_id();
    const auto level = status >= 500                                         ? spdlog::level::warn
                       : status != 429 && request_path_.starts_with("/api/") ? spdlog::level::info
                                                                             : spdlog::level::debug;
    log::write(level, "http error", {{"code", code}, {"rid", rid}, {"status", status}, {"path", request_path_}});
    return rid;
  }

  void send_text(http::status status, std::string body, std::string_view type, bool keep) {
    auto res = make_json(status, std::move(body), keep);
    res->set(http::field::content_type, type);
    write(res, keep);
  }

  template <class Response>
  void write(std::shared_ptr<Response> res, bool keep) {
    // RFC 9110 9.3.2: the answer to HEAD is the GET answer's header (Content-Length included)
    // without its body; sent, the client would read the body as the next answer.
    if constexpr (!std::is_same_v<Response, http::response<http::empty_body>>) {
      if (parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head) {
        auto head = std::make_shared<http::response<http::empty_body>>();
        head->base() = res->base();
        return write(head, keep);
      }
    }
    http::async_write(stream_, *res, [self = this->shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      if (!keep) return self->linger();
      self->do_read();
    });
  }

  // The end of a connection after an answer that closed it (Connection: close, HTTP/1.0, a
  // refused request). The client may still be sending: the refused request's body, a request
  // behind it. Closing a socket with unread bytes makes the kernel reset the connection, and a
  // reset can destroy the answer before the client reads it. So: stop sending (the client sees
  // the answer end), then read and drop what comes, for at most linger_time and linger_bytes
  // (nothing of it is parsed), and close when the client does.
  void linger() {
    beast::error_code ec;
    lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    buffer_.clear();
    lowest(stream_).expires_after(linger_time);
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > linger_bytes) return self->close();
                              self->drain();
                            });
  }

  void close() {
    beast::error_code ec;
    lowest(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest(stream_).close();
  }

  Loop& loop_;
  const HttpOptions& options_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::file_body>> upload_;  // an upload's, while its body is read
  std::optional<Clock::time_point> first_deadline_;
  Admission::Ticket ticket_;  // the socket's place in the node's budget, handed to the WsSession
  std::size_t lingered_ = 0;  // bytes dropped after the last answer
  std::string request_path_;  // the path of the request being answered (its error's log line)
};

}  // namespace

void serve_http(Loop& loop, const HttpOptions& options, tcp::socket socket, std::string_view initial,
                std::chrono::steady_clock::time_point deadline, Admission::Ticket ticket) {
  std::make_shared<HttpSession<beast::tcp_stream>>(loop, options, beast::tcp_stream(std::move(socket)), initial,
                                                   deadline, std::move(ticket))
      ->run();
}

void serve_https(Loop& loop, const HttpOptions& options, tcp::socket socket, SSL* ssl, std::string_view initial,
                 std::chrono::steady_clock::time_point deadline, Admission::Ticket ticket) {
  // The stream takes `ssl` over (its handshake done) and reads through a BIO pair of its own.
  std::make_shared<HttpSession<TlsStream>>(loop, options, TlsStream(beast::tcp_stream(std::move(socket)), ssl), initial,
                                           deadline, std::move(ticket))
      ->run();
}

}  // namespace parley::net
