#include "protocol/ws_frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "protocol/utf8.hpp"
#include "ws_test_util.hpp"

namespace {

using parley::protocol::CloseCode;
using parley::protocol::FrameReader;
using parley::protocol::Opcode;
using Kind = FrameReader::Kind;
using namespace parley::test;

struct Ev {
  Kind kind;
  std::string payload;
  std::uint16_t code = 0;
  bool operator==(const Ev&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  static const char* names[] = {"text", "ping", "pong", "close"};
  return os << names[static_cast<int>(e.kind)] << "(" << ::testing::PrintToString(e.payload) << ", " << e.code << ")";
}

Ev text(std::string s) { return {Kind::text, std::move(s), 0}; }
Ev ping(std::string s) { return {Kind::ping, std::move(s), 0}; }
Ev pong(std::string s) { return {Kind::pong, std::move(s), 0}; }
Ev closed(std::uint16_t code, std::string reason = {}) { return {Kind::close, std::move(reason), code}; }

struct Result {
  std::vector<Ev> events;
  std::uint16_t code = 0;
};

constexpr std::size_t kMax = 64 * 1024;

// Feeds `bytes` cut at the ascending offsets `cuts`; the reader gets its own copy of each piece
// (it unmasks in place). Every call after a failure must repeat the same code.
Result feed(std::string_view bytes, const std::vector<std::size_t>& cuts, std::size_t max = kMax) {
  FrameReader reader(max);
  Result r;
  std::size_t prev = 0;
  auto piece = [&](std::size_t end) {
    std::string chunk(bytes.substr(prev, end - prev));
    prev = end;
    const std::uint16_t code = reader.consume(std::span<char>(chunk.data(), chunk.size()), [&](const FrameReader::Event&
                                                                                                   e) {
      EXPECT_EQ(r.code, 0) << "event after a failure";
      r.events.push_back(Ev{e.kind, std::string(e.payload), e.kind == Kind::close ? e.close_code : std::uint16_t{0}});
      return true;
    });
    if (r.code != 0) {
      EXPECT_EQ(code, r.code) << "failure code changed";
    }
    if (code != 0) r.code = code;
  };
  for (std::size_t c : cuts) piece(c);
  piece(bytes.size());
  return r;
}

Result feed_whole(std::string_view bytes, std::size_t max = kMax) { return feed(bytes, {}, max); }

// The same result whole, byte by byte, and split in two at every offset.
void expect_everywhere(std::string_view bytes, const std::vector<Ev>& events, std::uint16_t code = 0,
                       std::size_t max = kMax) {
  auto check = [&](const Result& r, const std::string& how) {
    EXPECT_EQ(r.events, events) << how;
    EXPECT_EQ(r.code, code) << how;
  };
  check(feed_whole(bytes, max), "whole");
  std::vector<std::size_t> all;
  for (std::size_t i = 1; i < bytes.size(); ++i) all.push_back(i);
  check(feed(bytes, all, max), "byte by byte");
  for (std::size_t i = 0; i <= bytes.size(); ++i) check(feed(bytes, {i}, max), "split at " + std::to_string(i));
  // Three pieces, a sample of cut pairs.
  for (std::size_t i = 1; i < bytes.size(); i += 3)
    for (std::size_t j = i; j < bytes.size(); j += 5)
      check(feed(bytes, {i, j}, max), "split at " + std::to_string(i) + "," + std::to_string(j));
}

void expect_code(std::string_view bytes, std::uint16_t code, std::size_t max = kMax) {
  const Result r = feed_whole(bytes, max);
  EXPECT_EQ(r.code, code);
  std::vector<std::size_t> all;
  for (std::size_t i = 1; i < bytes.size(); ++i) all.push_back(i);
  EXPECT_EQ(feed(bytes, all, max).code, code) << "byte by byte";
}

// ---------------------------------------------------------------------------------------------
// Messages

TEST(FrameReader, SingleTextFrame) { expect_everywhere(text_frame("hello"), {text("hello")}); }

TEST(FrameReader, EmptyTextFrame) { expect_everywhere(text_frame(""), {text("")}); }

TEST(FrameReader, Utf8TextFrame) {
  expect_everywhere(text_frame("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
                    {text("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")});
}

TEST(FrameReader, SeveralFramesInOneBuffer) {
  const std::string bytes =
      text_frame("one") + ctl_frame(0x9, "p") + text_frame("two") + ctl_frame(0xA, "") + text_frame("three");
  expect_everywhere(bytes, {text("one"), ping("p"), text("two"), pong(""), text("three")});
}

TEST(FrameReader, DifferentMasksIncludingZero) {
  for (std::uint32_t mask : {0u, 0xFFFFFFFFu, 0x01020304u, 0x80808080u}) {
    ClientFrame f{0x1, "masked with a key", true};
    f.mask = mask;
    expect_everywhere(encode(f), {text("masked with a key")});
  }
}

TEST(FrameReader, FragmentedText) {
  const std::string bytes = text_frame("Hel", false) + cont_frame("lo, ", false) + cont_frame("world");
  expect_everywhere(bytes, {text("Hello, world")});
}

TEST(FrameReader, FragmentedTextWithEmptyFragments) {
  const std::string bytes = text_frame("", false) + cont_frame("", false) + cont_frame("x", false) + cont_frame("");
  expect_everywhere(bytes, {text("x")});
}

TEST(FrameReader, TwoFragmentedMessagesInARow) {
  const std::string bytes =
      text_frame("a", false) + cont_frame("b") + text_frame("c", false) + cont_frame("d") + text_frame("e");
  expect_everywhere(bytes, {text("ab"), text("cd"), text("e")});
}

TEST(FrameReader, ControlFramesInsideAFragmentedMessage) {
  const std::string bytes = text_frame("a", false) + ctl_frame(0x9, "p1") + cont_frame("b", false) +
                            ctl_frame(0xA, "q") + ctl_frame(0x9, "") + cont_frame("c");
  expect_everywhere(bytes, {ping("p1"), pong("q"), ping(""), text("abc")});
}

TEST(FrameReader, CloseInsideAFragmentedMessage) {
  const std::string bytes = text_frame("a", false) + close_frame(1000, "bye");
  expect_everywhere(bytes, {closed(1000, "bye")});
}

TEST(FrameReader, PingAndPongPayloadsAreBytes) {
  std::string bin;
  for (int i = 0; i < 125; ++i) bin.push_back(static_cast<char>(0x80 + i));  // not UTF-8: allowed in control frames
  expect_everywhere(ctl_frame(0x9, bin) + ctl_frame(0xA, bin), {ping(bin), pong(bin)});
}

TEST(FrameReader, ControlFrameOf125BytesIsAccepted) {
  const std::string p(125, 'z');
  EXPECT_EQ(feed_whole(ctl_frame(0x9, p)).events, std::vector<Ev>{ping(p)});
}

// ---------------------------------------------------------------------------------------------
// Close frames

TEST(FrameReader, CloseWithCodeAndReason) { expect_everywhere(close_frame(1000, "bye"), {closed(1000, "bye")}); }

TEST(FrameReader, CloseWithCodeOnly) { expect_everywhere(close_frame(1001), {closed(1001, "")}); }

TEST(FrameReader, CloseWithoutPayloadIs1005) { expect_everywhere(ctl_frame(0x8, ""), {closed(1005, "")}); }

TEST(FrameReader, CloseWithOneBytePayloadIs1002) { expect_everywhere(ctl_frame(0x8, "\x03"), {}, 1002); }

TEST(FrameReader, CloseWithUtf8Reason) {
  expect_everywhere(close_frame(4000, "\xE2\x82\xAC bye"), {closed(4000, "\xE2\x82\xAC bye")});
}

TEST(FrameReader, CloseWithLongestReason) {
  const std::string reason(123, 'r');
  EXPECT_EQ(feed_whole(close_frame(1000, reason)).events, std::vector<Ev>{closed(1000, reason)});
}

TEST(FrameReader, InvalidCloseCodesAre1002) {
  for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    SCOPED_TRACE(code);
    expect_code(close_frame(code, "x"), 1002);
    expect_code(close_frame(code), 1002);
  }
}

TEST(FrameReader, ValidCloseCodesAreDelivered) {
  for (std::uint16_t code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
    SCOPED_TRACE(code);
    const Result r = feed_whole(close_frame(code, "ok"));
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.events, std::vector<Ev>{closed(code, "ok")});
  }
}

TEST(FrameReader, InvalidUtf8InCloseReasonIs1007) {
  expect_everywhere(close_frame(1000, "\xFF"), {}, 1007);
  expect_everywhere(close_frame(1000, "ok\xE2\x82"), {}, 1007);    // truncated sequence
  expect_everywhere(close_frame(1000, "\xED\xA0\x80"), {}, 1007);  // surrogate
}

// ---------------------------------------------------------------------------------------------
// Violations

TEST(FrameReader, RsvBitsAre1002) {
  for (std::uint8_t rsv = 1; rsv < 8; ++rsv) {
    SCOPED_TRACE(static_cast<int>(rsv));
    ClientFrame f{0x1, "hi", true};
    f.rsv = rsv;
    expect_code(encode(f), 1002);
    f.opcode = 0x9;
    expect_code(encode(f), 1002);
  }
}

TEST(FrameReader, UnmaskedFrameIs1002) {
  ClientFrame f{0x1, "hi", true};
  f.masked = false;
  expect_everywhere(encode(f), {}, 1002);
  f.opcode = 0x9;
  expect_everywhere(encode(f), {}, 1002);
}

TEST(FrameReader, UnknownOpcodesAre1002) {
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    SCOPED_TRACE(static_cast<int>(op));
    expect_code(encode(ClientFrame{op, "x", true}), 1002);
  }
}

TEST(FrameReader, ControlFrameOver125BytesIs1002) {
  for (std::uint8_t op : {0x8, 0x9, 0xA}) {
    SCOPED_TRACE(static_cast<int>(op));
    std::string p(126, 'x');
    if (op == 0x8) p[0] = '\x03', p[1] = '\xE8';
    expect_code(ctl_frame(op, p), 1002);
    // Even when the header alone has arrived.
    EXPECT_EQ(feed_whole(ctl_frame(op, p).substr(0, 4)).code, 1002);
  }
}

TEST(FrameReader, FragmentedControlFrameIs1002) {
  for (std::uint8_t op : {0x8, 0x9, 0xA}) {
    SCOPED_TRACE(static_cast<int>(op));
    expect_code(encode(ClientFrame{op, "", false}), 1002);
  }
}

TEST(FrameReader, ContinuationWithoutStartIs1002) {
  expect_everywhere(cont_frame("x"), {}, 1002);
  expect_everywhere(cont_frame("x", false), {}, 1002);
  // …also right after a complete message.
  expect_everywhere(text_frame("a") + cont_frame("b"), {text("a")}, 1002);
}

TEST(FrameReader, NewTextWhileFragmentedIs1002) {
  expect_everywhere(text_frame("a", false) + text_frame("b"), {}, 1002);
  expect_everywhere(text_frame("a", false) + ctl_frame(0x9, "p") + text_frame("b", false), {ping("p")}, 1002);
}

TEST(FrameReader, BinaryWhileFragmentedIs1002) {
  expect_everywhere(text_frame("a", false) + encode(ClientFrame{0x2, "b", true}), {}, 1002);
}

TEST(FrameReader, BinaryIs1003) {
  expect_everywhere(encode(ClientFrame{0x2, "\x01\x02", true}), {}, 1003);
  expect_everywhere(text_frame("ok") + encode(ClientFrame{0x2, "", true}), {text("ok")}, 1003);
}

TEST(FrameReader, InvalidUtf8TextIs1007) {
  expect_everywhere(text_frame("\xFF"), {}, 1007);
  expect_everywhere(text_frame("ok\xC0\x80"), {}, 1007);
  expect_everywhere(text_frame("\xED\xA0\x80"), {}, 1007);
  expect_everywhere(text_frame("abc\xE2\x82"), {}, 1007);  // ends inside a code point
}

TEST(FrameReader, Utf8SequenceSplitAcrossFragmentsIsValid) {
  expect_everywhere(text_frame("\xE2", false) + cont_frame("\x82", false) + cont_frame("\xAC"), {text("\xE2\x82\xAC")});
  expect_everywhere(text_frame("x\xF0\x9F", false) + ctl_frame(0x9, "") + cont_frame("\x98\x80y"),
                    {ping(""), text("x\xF0\x9F\x98\x80y")});
}

TEST(FrameReader, InvalidUtf8SplitAcrossFragmentsIs1007) {
  expect_everywhere(text_frame("\xE2", false) + cont_frame("\x28"), {}, 1007);
  expect_everywhere(text_frame("\xED", false) + cont_frame("\xA0\x80"), {}, 1007);  // surrogate, split after the lead
  // A message that ends inside a code point.
  expect_everywhere(text_frame("ok", false) + cont_frame("\xE2\x82"), {}, 1007);
}

TEST(FrameReader, InvalidUtf8InAFirstFragmentFailsBeforeTheMessageEnds) {
  // Fail fast: no need to wait for the final fragment.
  EXPECT_EQ(feed_whole(text_frame("\xFF", false)).code, 1007);
  EXPECT_EQ(feed_whole(text_frame("ok", false) + cont_frame("\xC0", false)).code, 1007);
}

TEST(FrameReader, MessageAtTheLimitIsAccepted) {
  const std::string p(100, 'm');
  expect_everywhere(text_frame(p), {text(p)}, 0, 100);
  expect_everywhere(text_frame(p.substr(0, 60), false) + cont_frame(p.substr(60)), {text(p)}, 0, 100);
}

TEST(FrameReader, MessageOverTheLimitIs1009) {
  expect_code(text_frame(std::string(101, 'm')), 1009, 100);
  expect_code(text_frame(std::string(60, 'm'), false) + cont_frame(std::string(41, 'm')), 1009, 100);
  expect_code(text_frame(std::string(40, 'm'), false) + cont_frame(std::string(40, 'm'), false) +
                  cont_frame(std::string(21, 'm')),
              1009, 100);
}

TEST(FrameReader, OversizedFrameIsRefusedOnItsHeader) {
  // Only the header of a 1000-byte frame has arrived: the limit is enforced without buffering it.
  const std::string bytes = text_frame(std::string(1000, 'x'));
  EXPECT_EQ(feed_whole(bytes.substr(0, 8), 100).code, 1009);
  EXPECT_EQ(
      feed_whole(text_frame(std::string(60, 'm'), false) + cont_frame(std::string(200, 'm')).substr(0, 8), 100).code,
      1009);
}

TEST(FrameReader, ControlFramesDoNotCountAgainstTheMessageLimit) {
  const std::string p(100, 'm');
  const std::string big_ping(125, 'p');
  expect_everywhere(text_frame(p.substr(0, 50), false) + ctl_frame(0x9, big_ping) + cont_frame(p.substr(50)),
                    {ping(big_ping), text(p)}, 0, 100);
}

TEST(FrameReader, SixteenBitLength) {
  for (std::size_t n : {126u, 200u, 65535u}) {
    SCOPED_TRACE(n);
    const std::string p(n, 'a');
    const std::string bytes = text_frame(p);
    ASSERT_EQ(static_cast<unsigned char>(bytes[1]), 0x80 | 126);
    EXPECT_EQ(feed_whole(bytes, 1 << 20).events, std::vector<Ev>{text(p)});
    EXPECT_EQ(feed(bytes, {1, 2, 3, 4, 5, 8, 100}, 1 << 20).events, std::vector<Ev>{text(p)});
  }
}

TEST(FrameReader, SixtyFourBitLength) {
  for (std::size_t n : {65536u, 70000u}) {
    SCOPED_TRACE(n);
    std::string p(n, 'b');
    p[n / 2] = 'X';
    const std::string bytes = text_frame(p);
    ASSERT_EQ(static_cast<unsigned char>(bytes[1]), 0x80 | 127);
    EXPECT_EQ(feed_whole(bytes, 1 << 20).events, std::vector<Ev>{text(p)});
    EXPECT_EQ(feed(bytes, {1, 2, 5, 9, 10, 13, 14, 15, 1000, n}, 1 << 20).events, std::vector<Ev>{text(p)});
  }
}

TEST(FrameReader, SixtyFourBitLengthWithTopBitSetIs1002) {
  std::string bytes = "\x81\xFF";
  bytes += std::string("\x80\x00\x00\x00\x00\x00\x00\x05", 8);
  bytes += "\x00\x00\x00\x00hello";
  expect_code(bytes, 1002);
  // …whatever the limit: the top bit is checked before the size.
  EXPECT_EQ(feed_whole(bytes, std::numeric_limits<std::size_t>::max()).code, 1002);
}

TEST(FrameReader, HugeSixtyFourBitLengthIs1009) {
  std::string bytes = "\x81\xFF";
  bytes += std::string("\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8);
  expect_code(bytes, 1009);
}

TEST(FrameReader, NonFinalTextFrameCountsTowardTheLimitOnTheHeader) {
  // 200 bytes announced in a 16-bit length, limit 150.
  EXPECT_EQ(feed_whole(text_frame(std::string(200, 'q'), false).substr(0, 4), 150).code, 1009);
}

// ---------------------------------------------------------------------------------------------
// Call semantics

TEST(FrameReader, FalseFromOnEventStopsParsing) {
  FrameReader reader(kMax);
  std::string bytes = text_frame("a") + text_frame("b") + text_frame("c");
  int calls = 0;
  const auto code = reader.consume(std::span<char>(bytes.data(), bytes.size()), [&](const FrameReader::Event& e) {
    ++calls;
    EXPECT_EQ(e.payload, "a");
    return false;
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(calls, 1);
}

TEST(FrameReader, FalseFromOnEventStopsParsingOfBufferedPartialData) {
  FrameReader reader(kMax);
  const std::string all = close_frame(1000) + text_frame("after close");
  std::string first = all.substr(0, 3);
  std::string rest = all.substr(3);
  std::vector<Ev> events;
  auto on_event = [&](const FrameReader::Event& e) {
    events.push_back(Ev{e.kind, std::string(e.payload), e.close_code});
    return e.kind != Kind::close;
  };
  EXPECT_EQ(reader.consume(std::span<char>(first.data(), first.size()), on_event), 0);
  EXPECT_EQ(reader.consume(std::span<char>(rest.data(), rest.size()), on_event), 0);
  EXPECT_EQ(events, std::vector<Ev>{closed(1000)});
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, FailureIsStickyAndDeliversNothingMore) {
  FrameReader reader(kMax);
  std::string bad = encode(ClientFrame{0x2, "x", true});
  int calls = 0;
  auto on_event = [&](const FrameReader::Event&) { return ++calls, true; };
  EXPECT_EQ(reader.consume(std::span<char>(bad.data(), bad.size()), on_event), 1003);
  std::string good = text_frame("fine");
  EXPECT_EQ(reader.consume(std::span<char>(good.data(), good.size()), on_event), 1003);
  EXPECT_EQ(calls, 0);
}

TEST(FrameReader, BufferedCountsPartialFrameAndMessage) {
  FrameReader reader(kMax);
  auto on_event = [](const FrameReader::Event&) { return true; };
  std::string frag = text_frame("12345", false);
  EXPECT_EQ(reader.consume(std::span<char>(frag.data(), frag.size()), on_event), 0);
  EXPECT_EQ(reader.buffered(), 5u);  // the message so far
  std::string part = cont_frame("678").substr(0, 4);
  EXPECT_EQ(reader.consume(std::span<char>(part.data(), part.size()), on_event), 0);
  EXPECT_EQ(reader.buffered(), 9u);  // plus 4 bytes of a frame
  std::string rest = cont_frame("678").substr(4);
  std::string got;
  EXPECT_EQ(reader.consume(std::span<char>(rest.data(), rest.size()),
                           [&](const FrameReader::Event& e) {
                             got = e.payload;
                             return true;
                           }),
            0);
  EXPECT_EQ(got, "12345678");
  EXPECT_EQ(reader.buffered(), 0u);
  reader.release_memory();
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, ReleaseMemoryKeepsAPartialFrame) {
  FrameReader reader(kMax);
  auto on_event = [](const FrameReader::Event&) { return true; };
  const std::string whole = text_frame("partial");
  std::string a = whole.substr(0, 5);
  EXPECT_EQ(reader.consume(std::span<char>(a.data(), a.size()), on_event), 0);
  reader.release_memory();
  std::string b = whole.substr(5);
  std::string got;
  EXPECT_EQ(reader.consume(std::span<char>(b.data(), b.size()),
                           [&](const FrameReader::Event& e) {
                             got = e.payload;
                             return true;
                           }),
            0);
  EXPECT_EQ(got, "partial");
}

TEST(FrameReader, EmptyInputDoesNothing) {
  FrameReader reader(kMax);
  std::string empty;
  EXPECT_EQ(reader.consume(std::span<char>(empty.data(), 0),
                           [](const FrameReader::Event&) {
                             ADD_FAILURE();
                             return true;
                           }),
            0);
}

// ---------------------------------------------------------------------------------------------
// Server side helpers

TEST(WsFrame, IsValidCloseCodeExhaustive) {
  const std::set<int> valid_14xx = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014};
  for (int c = 0; c <= 0xFFFF; ++c) {
    const bool expected = valid_14xx.count(c) || (c >= 3000 && c <= 4999);
    ASSERT_EQ(parley::protocol::is_valid_close_code(static_cast<std::uint16_t>(c)), expected) << c;
  }
}

TEST(WsFrame, HeaderSize) {
  using parley::protocol::header_size;
  EXPECT_EQ(header_size(0), 2u);
  EXPECT_EQ(header_size(125), 2u);
  EXPECT_EQ(header_size(126), 4u);
  EXPECT_EQ(header_size(65535), 4u);
  EXPECT_EQ(header_size(65536), 10u);
  EXPECT_EQ(header_size(std::size_t{1} << 40), 10u);
}

TEST(WsFrame, WriteHeaderDecodes) {
  for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 1000000u}) {
    for (Opcode op : {Opcode::text, Opcode::binary, Opcode::close, Opcode::ping, Opcode::pong}) {
      SCOPED_TRACE(std::to_string(n) + " op " + std::to_string(static_cast<int>(op)));
      char hdr[parley::protocol::max_header_size];
      const std::size_t h = parley::protocol::write_header(hdr, op, n);
      EXPECT_EQ(h, parley::protocol::header_size(n));
      std::string frame(hdr, h);
      frame.append(n, 'x');
      const auto frames = decode_server(frame);
      ASSERT_TRUE(frames.has_value());
      ASSERT_EQ(frames->size(), 1u);
      const ServerFrame& f = frames->front();
      EXPECT_TRUE(f.fin);
      EXPECT_EQ(f.rsv, 0);
      EXPECT_FALSE(f.masked);
      EXPECT_EQ(f.opcode, static_cast<std::uint8_t>(op));
      EXPECT_EQ(f.header_size, h);
      EXPECT_EQ(f.payload.size(), n);
    }
  }
}

TEST(WsFrame, WriteHeaderExactBytes) {
  char hdr[10];
  ASSERT_EQ(parley::protocol::write_header(hdr, Opcode::text, 5), 2u);
  EXPECT_EQ(std::string(hdr, 2), std::string("\x81\x05"));
  ASSERT_EQ(parley::protocol::write_header(hdr, Opcode::text, 300), 4u);
  EXPECT_EQ(std::string(hdr, 4), std::string("\x81\x7E\x01\x2C", 4));
  ASSERT_EQ(parley::protocol::write_header(hdr, Opcode::close, 0x123456), 10u);
  EXPECT_EQ(std::string(hdr, 10), std::string("\x88\x7F\x00\x00\x00\x00\x00\x12\x34\x56", 10));
}

TEST(WsFrame, MakeControlFrame) {
  const std::string f = parley::protocol::make_control_frame(Opcode::ping, "abc");
  EXPECT_EQ(f, std::string("\x89\x03"
                           "abc"));
  EXPECT_EQ(parley::protocol::make_control_frame(Opcode::pong, ""), std::string("\x8A\x00", 2));
  const auto frames = decode_server(parley::protocol::make_control_frame(Opcode::pong, std::string(125, 'p')));
  ASSERT_TRUE(frames && frames->size() == 1);
  EXPECT_EQ((*frames)[0].payload, std::string(125, 'p'));
}

TEST(WsFrame, MakeControlFrameTruncatesTo125) {
  const auto frames = decode_server(parley::protocol::make_control_frame(Opcode::ping, std::string(300, 'p')));
  ASSERT_TRUE(frames && frames->size() == 1);
  EXPECT_EQ((*frames)[0].payload.size(), 125u);
  EXPECT_EQ((*frames)[0].header_size, 2u);
}

TEST(WsFrame, MakeClosePayload) {
  EXPECT_EQ(parley::protocol::make_close_payload(CloseCode::normal, ""), std::string("\x03\xE8"));
  EXPECT_EQ(parley::protocol::make_close_payload(CloseCode::try_again_later, "slow consumer"),
            std::string("\x03\xF5"
                        "slow consumer"));
  EXPECT_EQ(parley::protocol::make_close_payload(CloseCode::message_too_big, std::string(200, 'r')).size(), 125u);
  // A close frame built from it is one a client accepts.
  const std::string frame = parley::protocol::make_control_frame(
      Opcode::close, parley::protocol::make_close_payload(CloseCode::going_away, "bye"));
  const auto frames = decode_server(frame);
  ASSERT_TRUE(frames && frames->size() == 1);
  EXPECT_EQ((*frames)[0].opcode, 0x8);
  EXPECT_EQ((*frames)[0].payload, std::string("\x03\xE9"
                                              "bye"));
}

TEST(WsFrame, MakeClosePayloadKeepsTheReasonValidUtf8WhenTruncating) {
  // 122 ASCII bytes and a 3-byte character: the 123-byte cut falls inside the character.
  const std::string reason = std::string(122, 'r') + "\xE2\x82\xAC";
  const std::string p = parley::protocol::make_close_payload(CloseCode::normal, reason);
  EXPECT_TRUE(parley::protocol::is_valid_utf8(std::string_view(p).substr(2)));
  EXPECT_EQ(p.size(), 2u + 122u);  // the whole character is dropped, not half of it
  EXPECT_LE(p.size(), 125u);
}

}  // namespace
