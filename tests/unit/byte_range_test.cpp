// net::parse_byte_range (RFC 9110 14.1.2): the one range of a file answer, or the whole file when
// the header asks what this server does not take, or "unsatisfiable" past the file's end.
#include "net/byte_range.hpp"

#include <gtest/gtest.h>

namespace parley::net {
namespace {

using K = ByteRange::Kind;

void expect_part(std::string_view header, std::uint64_t size, std::uint64_t first, std::uint64_t last) {
  const auto r = parse_byte_range(header, size);
  EXPECT_EQ(r.kind, K::part) << header;
  EXPECT_EQ(r.first, first) << header;
  EXPECT_EQ(r.last, last) << header;
}

TEST(ByteRange, OneRangeInEachOfItsThreeForms) {
  expect_part("bytes=0-9", 100, 0, 9);
  expect_part("bytes=10-", 100, 10, 99);
  expect_part("bytes=-5", 100, 95, 99);
  expect_part("bytes=99-99", 100, 99, 99);
  expect_part("BYTES=1-2", 100, 1, 2);  // the unit is case-insensitive
  expect_part(" bytes= 3 - 4 ", 100, 3, 4);
}

TEST(ByteRange, PastTheEndIsClampedOrUnsatisfiable) {
  expect_part("bytes=90-1000", 100, 90, 99);
  expect_part("bytes=-1000", 100, 0, 99);  // a suffix longer than the file: all of it
  EXPECT_EQ(parse_byte_range("bytes=100-", 100).kind, K::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=100-200", 100).kind, K::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=-0", 100).kind, K::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=0-", 0).kind, K::unsatisfiable);
  EXPECT_EQ(content_range(parse_byte_range("bytes=100-", 100), 100), "bytes */100");
  EXPECT_EQ(content_range(parse_byte_range("bytes=-5", 100), 100), "bytes 95-99/100");
}

TEST(ByteRange, WhatThisServerDoesNotTakeIsTheWholeFile) {
  for (std::string_view h : {"", "bytes=", "bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=-",
                             "bytes=+1-2", "bytes=0x1-2", "bytes 0-1", "bytes=99999999999999999999-", "bytes=1-2-3"})
    EXPECT_EQ(parse_byte_range(h, 100).kind, K::whole) << h;
}

}  // namespace
}  // namespace parley::net
