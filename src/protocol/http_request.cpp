#include "protocol/http_request.hpp"

#include <algorithm>

namespace parley::protocol {

namespace {

bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_one_of(char c, std::string_view set) { return set.find(c) != std::string_view::npos; }

// RFC 3986 2.3 and 2.2.
bool is_unreserved(char c) { return is_alnum(c) || is_one_of(c, "-._~"); }
bool is_sub_delim(char c) { return is_one_of(c, "!$&'()*+,;="); }
// RFC 9110 5.6.2.
bool is_tchar(char c) { return is_alnum(c) || is_one_of(c, "!#$%&'*+-.^_`|~"); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// reg-name = *( unreserved / pct-encoded / sub-delims )
bool valid_reg_name(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!is_unreserved(s[i]) && !is_sub_delim(s[i])) {
      return false;
    }
  }
  return true;
}

bool valid_port(std::string_view s) { return std::all_of(s.begin(), s.end(), is_digit); }

// Transfer-Encoding as this server understands it: `chunked`, alone and once. Any other coding
// is one it does not understand (501); a list with no coding, an empty element or chunked twice
// says nothing reliable about the body's length (400).
RequestRefusal transfer_coding_refusal(std::string_view list) {
  bool unsupported = false, empty = false;
  std::size_t chunked = 0;
  while (true) {
    const auto comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (item.empty())
      empty = true;
    else if (iequals(item, "chunked"))
      ++chunked;
    else
      unsupported = true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (unsupported) return RequestRefusal::unsupported_transfer_coding;
  if (empty || chunked != 1) return RequestRefusal::bad_transfer_encoding;
  return RequestRefusal::none;
}

}  // namespace

bool has_obs_fold(std::string_view bytes) {
  std::size_t at = 0;
  while (true) {
    const auto eol = bytes.find("\r\n", at);
    if (eol == std::string_view::npos) return false;
    if (eol == at) return false;  // the empty line: the head ends here
    at = eol + 2;
    if (at < bytes.size() && (bytes[at] == ' ' || bytes[at] == '\t')) return true;
  }
}

bool valid_host(std::string_view value) {
  std::string_view port;
  bool has_port = false;
  if (!value.empty() && value.front() == '[') {
    // IP-literal: an IPv6 address or IPvFuture, checked for its characters only.
    const auto close = value.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : value.substr(1, close - 1))
      if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    const auto colon = value.find(':');
    if (colon != std::string_view::npos) {
      has_port = true;
      port = value.substr(colon + 1);
      value = value.substr(0, colon);
    }
    if (!valid_reg_name(value)) return false;  // also IPv4 addresses
  }
  return !has_port || valid_port(port);
}

bool valid_token_list(std::string_view value) {
  while (true) {
    const auto comma = value.find(',');
    const std::string_view item = trim(value.substr(0, comma));
    if (!std::all_of(item.begin(), item.end(), is_tchar)) return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

RequestRefusal check_request(const RequestFraming& r) {
  if (r.transfer_encoding_lines > 0) {
    if (r.content_length) return RequestRefusal::transfer_encoding_with_content_length;
    if (!r.http11) return RequestRefusal::transfer_encoding_in_http10;
    if (const auto refusal = transfer_coding_refusal(r.transfer_encoding); refusal != RequestRefusal::none)
      return refusal;
  }
  if (r.host_lines > 1) return RequestRefusal::multiple_hosts;
  if (r.host_lines == 0) return r.http11 ? RequestRefusal::missing_host : RequestRefusal::none;
  if (!valid_host(r.host)) return RequestRefusal::bad_host;
  return RequestRefusal::none;
}

HttpAnswer answer_for(RequestRefusal refusal) {
  switch (refusal) {
    case RequestRefusal::none: break;
    case RequestRefusal::transfer_encoding_with_content_length:
      return {400, "bad_framing", "Transfer-Encoding and Content-Length in one request"};
    case RequestRefusal::transfer_encoding_in_http10:
      return {400, "bad_framing", "Transfer-Encoding in an HTTP/1.0 request"};
    case RequestRefusal::unsupported_transfer_coding:
      return {501, "unsupported_transfer_coding", "the only transfer coding supported is chunked"};
    case RequestRefusal::bad_transfer_encoding: return {400, "bad_framing", "Transfer-Encoding must be chunked, once"};
    case RequestRefusal::missing_host: return {400, "bad_host", "an HTTP/1.1 request needs a Host header"};
    case RequestRefusal::multiple_hosts: return {400, "bad_host", "more than one Host header"};
    case RequestRefusal::bad_host: return {400, "bad_host", "invalid Host header"};
  }
  return {400, "bad_request", "malformed HTTP request"};  // not a refusal: never asked
}

}  // namespace parley::protocol
