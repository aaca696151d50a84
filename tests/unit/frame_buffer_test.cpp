#include "protocol/frame_buffer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ws_test_util.hpp"

namespace {

using parley::protocol::FrameBuffer;
using parley::protocol::Opcode;
using parley::test::decode_server;
using parley::test::ServerFrame;

std::vector<ServerFrame> decode_all(std::string_view bytes) {
  auto frames = decode_server(bytes);
  EXPECT_TRUE(frames.has_value()) << "sealed bytes do not end on a frame boundary";
  return frames.value_or(std::vector<ServerFrame>{});
}

void expect_text(const ServerFrame& f, const std::string& payload) {
  EXPECT_TRUE(f.fin);
  EXPECT_EQ(f.rsv, 0);
  EXPECT_FALSE(f.masked);
  EXPECT_EQ(f.opcode, 0x1);
  EXPECT_EQ(f.payload, payload);
}

TEST(FrameBuffer, StartsEmpty) {
  FrameBuffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.seal().empty());
}

TEST(FrameBuffer, OneEventIsOneTextFrame) {
  FrameBuffer b;
  b.add_event(R"({"type":"pong"})");
  EXPECT_FALSE(b.empty());
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], R"({"type":"pong"})");
}

TEST(FrameBuffer, EventsAreJoinedWithNewlines) {
  FrameBuffer b;
  b.add_event("{\"a\":1}");
  b.add_event("{\"b\":2}");
  b.add_event("{\"c\":3}");
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "{\"a\":1}\n{\"b\":2}\n{\"c\":3}");
}

TEST(FrameBuffer, HeaderForEveryLengthClass) {
  for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 200000u}) {
    SCOPED_TRACE(n);
    FrameBuffer b;
    std::string payload(n, 'e');
    if (n > 2) payload[n - 1] = 'Z', payload[0] = 'A';
    b.add_event(payload);
    const std::string_view bytes = b.seal();
    EXPECT_EQ(bytes.size(), parley::protocol::header_size(n) + n);
    const auto frames = decode_all(bytes);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].header_size, parley::protocol::header_size(n));
    expect_text(frames[0], payload);
  }
}

TEST(FrameBuffer, JoinedEventsCrossingALengthClass) {
  // Two events of 63 bytes: 127 bytes with the newline, so the header needs the 16-bit form.
  FrameBuffer b;
  b.add_event(std::string(63, 'a'));
  b.add_event(std::string(63, 'b'));
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].header_size, 4u);
  expect_text(frames[0], std::string(63, 'a') + "\n" + std::string(63, 'b'));
}

TEST(FrameBuffer, ControlFramesBetweenEventsKeepOrder) {
  for (std::size_t n : {5u, 130u, 70000u}) {
    SCOPED_TRACE(n);
    FrameBuffer b;
    const std::string e1(n, '1'), e2(n, '2'), e3(n, '3');
    b.add_event(e1);
    b.add_event(e2);
    b.add_control(Opcode::pong, "p");
    b.add_event(e3);
    b.add_control(Opcode::close,
                  "\x03\xE8"
                  "bye");
    b.add_event("{}");
    const auto frames = decode_all(b.seal());
    ASSERT_EQ(frames.size(), 5u);
    expect_text(frames[0], e1 + "\n" + e2);
    EXPECT_EQ(frames[1].opcode, 0xA);
    EXPECT_TRUE(frames[1].fin);
    EXPECT_EQ(frames[1].payload, "p");
    expect_text(frames[2], e3);
    EXPECT_EQ(frames[3].opcode, 0x8);
    EXPECT_EQ(frames[3].payload,
              "\x03\xE8"
              "bye");
    expect_text(frames[4], "{}");
  }
}

TEST(FrameBuffer, ControlFrameFirst) {
  FrameBuffer b;
  b.add_control(Opcode::ping, "");
  b.add_event("x");
  b.add_control(Opcode::ping, "2");
  const std::string_view bytes = b.seal();
  EXPECT_EQ(bytes, std::string_view("\x89\x00"
                                    "\x81\x01x"
                                    "\x89\x01"
                                    "2",
                                    8));
}

TEST(FrameBuffer, ControlFrameAloneHasExactBytes) {
  FrameBuffer b;
  b.add_control(Opcode::close, std::string("\x03\xE8", 2));
  EXPECT_EQ(b.seal(), std::string_view("\x88\x02\x03\xE8", 4));
}

TEST(FrameBuffer, ControlPayloadIsCappedAt125) {
  FrameBuffer b;
  b.add_control(Opcode::ping, std::string(200, 'x'));
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload.size(), 125u);
}

TEST(FrameBuffer, SealTwiceIsStable) {
  FrameBuffer b;
  b.add_event("abc");
  const std::string first(b.seal());
  EXPECT_EQ(std::string(b.seal()), first);
}

TEST(FrameBuffer, EventsAfterSealStartANewFrame) {
  FrameBuffer b;
  b.add_event("one");
  (void)b.seal();
  b.add_event("two");
  b.add_event("three");
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 2u);
  expect_text(frames[0], "one");
  expect_text(frames[1], "two\nthree");
}

TEST(FrameBuffer, BigFirstFrameThenMore) {
  // A first frame with a 10-byte header leaves no gap in front; the next frame must still follow.
  FrameBuffer b;
  const std::string big(70000, 'B');
  b.add_event(big);
  (void)b.seal();
  b.add_event("small");
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 2u);
  expect_text(frames[0], big);
  expect_text(frames[1], "small");
}

TEST(FrameBuffer, ClearEmptiesAndResets) {
  FrameBuffer b;
  b.add_control(Opcode::ping, "x");
  b.add_event("abc");
  (void)b.seal();
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.seal().empty());
  b.add_event("fresh");
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "fresh");
}

TEST(FrameBuffer, ClearWithAnOpenFrame) {
  FrameBuffer b;
  b.add_event("dropped");
  b.clear();
  b.add_event("kept");
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "kept");
}

TEST(FrameBuffer, SwapExchangesEverything) {
  FrameBuffer a, b;
  a.add_event("a1");
  b.add_control(Opcode::pong, "");
  b.add_event("b1");
  a.swap(b);
  a.add_event("b2");
  b.add_event("a2");
  auto fa = decode_all(a.seal());
  auto fb = decode_all(b.seal());
  ASSERT_EQ(fa.size(), 2u);
  EXPECT_EQ(fa[0].opcode, 0xA);
  expect_text(fa[1], "b1\nb2");
  ASSERT_EQ(fb.size(), 1u);
  expect_text(fb[0], "a1\na2");
}

TEST(FrameBuffer, SwapLikeTheSessionDoes) {
  // pending → inflight, seal inflight, then clear it while pending fills.
  FrameBuffer pending, inflight;
  pending.add_event("e1");
  inflight.swap(pending);
  const std::string sent(inflight.seal());
  pending.add_event("e2");
  inflight.clear();
  EXPECT_TRUE(inflight.empty());
  auto frames = decode_all(sent);
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "e1");
  frames = decode_all(pending.seal());
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "e2");
}

TEST(FrameBuffer, ReleaseMemoryOnlyWhenEmpty) {
  FrameBuffer b;
  b.add_event(std::string(100000, 'x'));
  const std::size_t before = b.capacity();
  b.release_memory();  // not empty: keeps everything
  EXPECT_EQ(b.capacity(), before);
  EXPECT_EQ(decode_all(b.seal()).size(), 1u);
  b.clear();
  EXPECT_GE(b.capacity(), 100000u);  // clear keeps the capacity for the next burst
  b.release_memory();
  EXPECT_LT(b.capacity(), 100u);
  b.add_event("again");
  const auto frames = decode_all(b.seal());
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "again");
}

TEST(FrameBuffer, SizeAccountsForQueuedBytes) {
  FrameBuffer b;
  b.add_event(std::string(1000, 'x'));
  EXPECT_GE(b.size(), 1000u);
  EXPECT_LE(b.size(), 1000u + parley::protocol::max_header_size);
}

// Shared events (add_shared) give the same bytes as copied ones, through seal() and pieces().
std::string join(const std::vector<std::string_view>& pieces) {
  std::string out;
  for (auto p : pieces) out.append(p);
  return out;
}

std::shared_ptr<const std::string> shared(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

TEST(FrameBuffer, SharedEventsGiveTheSameBytesAsCopiedOnes) {
  for (std::size_t n : {0u, 1u, 60u, 125u, 126u, 70000u}) {
    SCOPED_TRACE(n);
    const std::string big(n, 'b');
    FrameBuffer copied, by_ref, by_ref_pieces;
    for (FrameBuffer* b : {&copied, &by_ref, &by_ref_pieces}) b->add_event("{\"ack\":1}");
    copied.add_event("{\"m\":1}\n{\"m\":2}");
    copied.add_event(big);
    copied.add_event("tail");
    for (FrameBuffer* b : {&by_ref, &by_ref_pieces}) {
      b->add_shared(shared("{\"m\":1}\n{\"m\":2}"));
      b->add_shared(shared(big));
      b->add_event("tail");
    }
    EXPECT_EQ(by_ref.size(), copied.size());
    const std::string expected(copied.seal());
    EXPECT_EQ(std::string(by_ref.seal()), expected);
    std::vector<std::string_view> pieces;
    by_ref_pieces.pieces(pieces);
    EXPECT_EQ(join(pieces), expected);
    const auto frames = decode_all(expected);
    ASSERT_EQ(frames.size(), 1u);
    expect_text(frames[0], "{\"ack\":1}\n{\"m\":1}\n{\"m\":2}\n" + big + "\ntail");
  }
}

TEST(FrameBuffer, SharedEventsAfterAControlFrame) {
  // The second text frame's header is written where its reserved space was; the shared event
  // after it must move with the payload.
  FrameBuffer copied, by_ref;
  for (FrameBuffer* b : {&copied, &by_ref}) {
    b->add_event("first");
    b->add_control(Opcode::ping, "");
    b->add_event("x");
  }
  copied.add_event("shared one");
  by_ref.add_shared(shared("shared one"));
  for (FrameBuffer* b : {&copied, &by_ref}) b->add_event("own");
  const std::string expected(copied.seal());
  std::vector<std::string_view> pieces;
  by_ref.pieces(pieces);
  EXPECT_EQ(join(pieces), expected);
  EXPECT_EQ(std::string(by_ref.seal()), expected);  // seal after pieces: same bytes, now contiguous
  const auto frames = decode_all(expected);
  ASSERT_EQ(frames.size(), 3u);
  expect_text(frames[0], "first");
  EXPECT_EQ(frames[1].opcode, 0x9);
  expect_text(frames[2], "x\nshared one\nown");
}

TEST(FrameBuffer, SharedEventsAreNotCopiedAndSurviveTheirOwner) {
  FrameBuffer b;
  auto ev = shared("{\"type\":\"message\"}");
  const char* at = ev->data();
  b.add_shared(ev);
  ev.reset();  // the buffer keeps its reference
  std::vector<std::string_view> pieces;
  b.pieces(pieces);
  ASSERT_EQ(pieces.size(), 2u);  // header, then the shared bytes themselves
  EXPECT_EQ(pieces[1].data(), at);
  const auto frames = decode_all(join(pieces));
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "{\"type\":\"message\"}");
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
}

TEST(FrameBuffer, SwapCarriesSharedEvents) {
  FrameBuffer pending, inflight;
  pending.add_shared(shared("e1"));
  inflight.swap(pending);
  EXPECT_TRUE(pending.empty());
  const auto frames = decode_all(inflight.seal());
  ASSERT_EQ(frames.size(), 1u);
  expect_text(frames[0], "e1");
}

}  // namespace
