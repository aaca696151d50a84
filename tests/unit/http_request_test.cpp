// The RFC 9112 rules both paths to an HTTP answer apply (protocol/http_request.hpp).
#include "protocol/http_request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using parley::protocol::answer_for;
using parley::protocol::check_request;
using parley::protocol::has_obs_fold;
using parley::protocol::RequestFraming;
using parley::protocol::RequestRefusal;
using parley::protocol::valid_host;
using parley::protocol::valid_token_list;

TEST(HttpRequest, ObsFoldIsALineStartingWithABlankInsideTheHead) {
  EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\tc\r\n\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\n Host: x\r\n\r\n"));  // the first field line too
  // Only inside the head: a body or the next request may start with anything.
  EXPECT_FALSE(has_obs_fold("POST / HTTP/1.1\r\nHost: x\r\n\r\n  body\r\n two"));
  // The session asks it of what its buffer holds once the parser has taken the request line:
  // the field lines, or only the empty line that ends a head without fields.
  EXPECT_FALSE(has_obs_fold("\r\n  body"));
  EXPECT_TRUE(has_obs_fold("A: b\r\n c\r\n\r\n"));
  // A fold whose next byte has not come yet is not known yet (the parser waits for the head).
  EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\nA: b\r\n"));
  EXPECT_TRUE(has_obs_fold("GET / HTTP/1.1\r\nA: b\r\n "));
  EXPECT_FALSE(has_obs_fold(""));
}

TEST(HttpRequest, Hosts) {
  for (const char* ok : {"", "x", "example.com", "example.com:443", "127.0.0.1:8080", "[::1]", "[::1]:80",
                         "[v1.fe80::a+en1]", "a%41b", "xn--bcher-kva.example", ":80", "x:", "a-b_c~d.e!$&'()*+,;="})
    EXPECT_TRUE(valid_host(ok)) << ok;
  for (const char* bad : {"a b", "a/b", "a?b", "a#b", "a@b", "x:8o", "x:80:80", "[::1", "[]", "[::1]x", "[::1]:a",
                          "a%4", "a%zz", "\"x\"", "a\tb"})
    EXPECT_FALSE(valid_host(bad)) << bad;
}

TEST(HttpRequest, TokenLists) {
  for (const char* ok : {"", "upgrade", "keep-alive, Upgrade", " , upgrade,, ", "\tclose\t"})
    EXPECT_TRUE(valid_token_list(ok)) << ok;
  for (const char* bad : {"upgrade x", "upgrade, @@", "\"upgrade\"", "a;b", "a=b"})
    EXPECT_FALSE(valid_token_list(bad)) << bad;
}

RequestFraming http11(std::string_view host = "x") {
  RequestFraming r;
  r.host_lines = 1;
  r.host = host;
  return r;
}

RequestFraming with_coding(std::string_view list) {
  RequestFraming r = http11();
  r.transfer_encoding_lines = 1;
  r.transfer_encoding = list;
  return r;
}

TEST(HttpRequest, TransferCodings) {
  EXPECT_EQ(check_request(with_coding("chunked")), RequestRefusal::none);
  EXPECT_EQ(check_request(with_coding(" Chunked\t")), RequestRefusal::none);
  for (const char* unknown : {"xchunked", "gzip", "identity", "gzip, chunked", "chunked, gzip", "chunked;a=1"})
    EXPECT_EQ(check_request(with_coding(unknown)), RequestRefusal::unsupported_transfer_coding) << unknown;
  for (const char* bad : {"", " ", "chunked, chunked", "chunked,", ", chunked"})
    EXPECT_EQ(check_request(with_coding(bad)), RequestRefusal::bad_transfer_encoding) << bad;
  RequestFraming both = with_coding("chunked");
  both.content_length = true;
  EXPECT_EQ(check_request(both), RequestRefusal::transfer_encoding_with_content_length);
  both.transfer_encoding = "xchunked";  // the conflict is decided first
  EXPECT_EQ(check_request(both), RequestRefusal::transfer_encoding_with_content_length);
  RequestFraming old = with_coding("chunked");
  old.http11 = false;
  EXPECT_EQ(check_request(old), RequestRefusal::transfer_encoding_in_http10);
  // Content-Length alone is Beast's to check.
  RequestFraming length = http11();
  length.content_length = true;
  EXPECT_EQ(check_request(length), RequestRefusal::none);
}

TEST(HttpRequest, Hosts11And10) {
  EXPECT_EQ(check_request(http11()), RequestRefusal::none);
  RequestFraming none = http11();
  none.host_lines = 0;
  EXPECT_EQ(check_request(none), RequestRefusal::missing_host);
  none.http11 = false;
  EXPECT_EQ(check_request(none), RequestRefusal::none);  // HTTP/1.0 may leave it out
  RequestFraming two = http11();
  two.host_lines = 2;
  EXPECT_EQ(check_request(two), RequestRefusal::multiple_hosts);
  two.http11 = false;
  EXPECT_EQ(check_request(two), RequestRefusal::multiple_hosts);  // but not send two
  EXPECT_EQ(check_request(http11("a b")), RequestRefusal::bad_host);
  // The framing is decided before the Host: its refusal says the body's length is unknown.
  RequestFraming both = with_coding("xchunked");
  both.host_lines = 0;
  EXPECT_EQ(check_request(both), RequestRefusal::unsupported_transfer_coding);
}

TEST(HttpRequest, Answers) {
  EXPECT_EQ(answer_for(RequestRefusal::unsupported_transfer_coding).status, 501);
  for (auto r : {RequestRefusal::transfer_encoding_with_content_length, RequestRefusal::transfer_encoding_in_http10,
                 RequestRefusal::bad_transfer_encoding}) {
    EXPECT_EQ(answer_for(r).status, 400);
    EXPECT_EQ(answer_for(r).code, "bad_framing");
  }
  for (auto r : {RequestRefusal::missing_host, RequestRefusal::multiple_hosts, RequestRefusal::bad_host}) {
    EXPECT_EQ(answer_for(r).status, 400);
    EXPECT_EQ(answer_for(r).code, "bad_host");
  }
}

}  // namespace
