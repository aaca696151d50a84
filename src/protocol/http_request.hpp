#pragma once
// What RFC 9112 asks of a request's head that Boost.Beast 1.81's parser does not check, as both
// paths to an answer check it: the fast upgrade scan (handshake.hpp), which hands every request
// that fails here to the HTTP session, and the session (net/http_session.cpp), which refuses it.
// Pure: the session passes what its parser read as plain values.
#include <cstddef>
#include <string_view>

namespace parley::protocol {

// RFC 9112 5.2: whether a field line of the request head at the start of `bytes` is folded onto
// the line before it (obs-fold: a line that starts with a space or a tab after a CRLF). Looks no
// further than the head's end (the first empty line); `bytes` may start at the request line or
// at the first field line. Beast joins folded lines silently, so the session asks this of the
// bytes before its parser sees them.
bool has_obs_fold(std::string_view bytes);

// RFC 9110 7.2 and RFC 3986 3.2.2: a Host value is uri-host [ ":" port ] (empty is valid).
bool valid_host(std::string_view value);

// RFC 9110 5.6.1: a comma-separated list of tokens with optional blanks, empty elements allowed
// (what Beast requires of Connection and Proxy-Connection: it answers 400 to anything else).
bool valid_token_list(std::string_view value);

// A request's framing fields, as the parser read them. `transfer_encoding` is every
// Transfer-Encoding line's value joined with ", " (one list).
struct RequestFraming {
  bool http11 = true;
  std::size_t host_lines = 0;
  std::string_view host;  // the first Host line's value
  std::size_t transfer_encoding_lines = 0;
  std::string_view transfer_encoding;
  bool content_length = false;
};

// Why a request is refused, in the order the checks are made: its framing first (a refusal for
// it says the body's length is unknown), then its Host.
enum class RequestRefusal {
  none,
  // RFC 9112 6.1, 6.3: both framings at once (a request-smuggling shape).
  transfer_encoding_with_content_length,
  // RFC 9112 6.1: HTTP/1.0 has no Transfer-Encoding; a message with one has faulty framing.
  transfer_encoding_in_http10,
  // RFC 9112 6.1: a transfer coding the server does not understand (anything but chunked).
  unsupported_transfer_coding,
  // RFC 9112 6.3, 7: chunked not exactly once and last (empty list elements, "chunked, chunked").
  bad_transfer_encoding,
  // RFC 9112 3.2: an HTTP/1.1 request without a Host line, any request with two, or a bad value.
  missing_host,
  multiple_hosts,
  bad_host,
};
RequestRefusal check_request(const RequestFraming& request);

// The answer to a refusal: its status, JSON error code and message.
struct HttpAnswer {
  int status;
  std::string_view code;
  std::string_view message;
};
HttpAnswer answer_for(RequestRefusal refusal);

// The answer to a request with a folded header line.
inline constexpr HttpAnswer folded_header_answer{400, "folded_header",
                                                 "a header line starts with a space or tab (obs-fold)"};

}  // namespace parley::protocol
