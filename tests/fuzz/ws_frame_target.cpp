// FrameReader::consume over arbitrary bytes. Oracles:
//  - the same events and the same close code whether the bytes arrive whole, in random chunks or
//    byte by byte;
//  - every event is well formed (text is valid UTF-8 within the limit; control payloads ≤ 125;
//    close codes valid, reasons valid UTF-8); the close code is 0, 1002, 1003, 1007 or 1009;
//  - the reader's buffer stays bounded;
//  - stopping after the k-th event delivers exactly the first k events;
//  - what the server writes (FrameBuffer, make_control_frame), masked the way a client would,
//    reads back as the same events.
// Input layout: byte 0 picks the message limit, byte 1 seeds the chunking, the rest is the stream.
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fuzz_targets.hpp"
#include "protocol/frame_buffer.hpp"
#include "protocol/utf8.hpp"
#include "protocol/ws_frame.hpp"

namespace parley::fuzz {

namespace {

using protocol::FrameReader;
using Kind = FrameReader::Kind;

struct Ev {
  Kind kind;
  std::string payload;
  std::uint16_t code;
  bool operator==(const Ev&) const = default;
};

struct Run {
  std::vector<Ev> events;
  std::uint16_t code = 0;
};

std::uint64_t next(std::uint64_t& s) {
  s += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = s;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void check_event(const FrameReader::Event& e, std::size_t max) {
  switch (e.kind) {
    case Kind::text:
      FUZZ_CHECK(e.payload.size() <= max);
      FUZZ_CHECK(protocol::is_valid_utf8(e.payload));
      break;
    case Kind::ping:
    case Kind::pong: FUZZ_CHECK(e.payload.size() <= 125); break;
    case Kind::close:
      FUZZ_CHECK(e.payload.size() <= 123);
      FUZZ_CHECK(protocol::is_valid_utf8(e.payload));
      if (e.close_code == 1005)
        FUZZ_CHECK(e.payload.empty());
      else
        FUZZ_CHECK(protocol::is_valid_close_code(e.close_code));
      break;
  }
}

// Feeds `stream` in chunks whose sizes come from `sizes` (0 = the rest); returns the events.
Run feed(std::string_view stream, std::size_t max, std::uint64_t seed, int mode) {
  FrameReader reader(max);
  Run run;
  std::size_t pos = 0;
  std::uint64_t s = seed;
  while (pos < stream.size()) {
    std::size_t n = stream.size() - pos;
    if (mode == 1) n = std::min<std::size_t>(n, 1 + next(s) % 64);
    if (mode == 2) n = 1;
    std::string chunk(stream.substr(pos, n));
    pos += n;
    const std::uint16_t code = reader.consume(std::span<char>(chunk.data(), chunk.size()), [&](const FrameReader::Event&
                                                                                                   e) {
      FUZZ_CHECK(run.code == 0);
      check_event(e, max);
      run.events.push_back(Ev{e.kind, std::string(e.payload), e.kind == Kind::close ? e.close_code : std::uint16_t{0}});
      return true;
    });
    if (run.code) FUZZ_CHECK(code == run.code);  // sticky
    if (code) {
      FUZZ_CHECK(code == 1002 || code == 1003 || code == 1007 || code == 1009);
      run.code = code;
    } else {
      FUZZ_CHECK(reader.buffered() <= max + 131);
    }
    if (mode == 0 || (pos & 0xFF) == 0) reader.release_memory();
  }
  return run;
}

std::string mask_server_frames(std::string_view server, std::uint32_t key) {
  // Re-encode unmasked server frames as masked client frames.
  std::string out;
  std::size_t pos = 0;
  while (pos < server.size()) {
    FUZZ_CHECK(server.size() - pos >= 2);
    const auto b1 = static_cast<std::uint8_t>(server[pos + 1]);
    FUZZ_CHECK((b1 & 0x80) == 0);  // the server never masks
    std::size_t h = 2;
    std::uint64_t n = b1 & 0x7F;
    if (n == 126) {
      h = 4;
      n = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(server[pos + 2])) << 8) |
          static_cast<std::uint8_t>(server[pos + 3]);
    } else if (n == 127) {
      h = 10;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<std::uint8_t>(server[pos + 2 + i]);
    }
    FUZZ_CHECK(server.size() - pos - h >= n);
    out.append(server.substr(pos, h));
    out[out.size() - h + 1] = static_cast<char>(out[out.size() - h + 1] | 0x80);
    const char k[4] = {static_cast<char>(key >> 24), static_cast<char>(key >> 16), static_cast<char>(key >> 8),
                       static_cast<char>(key)};
    out.append(k, 4);
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(server[pos + h + i] ^ k[i & 3]));
    pos += h + static_cast<std::size_t>(n);
  }
  return out;
}

}  // namespace

std::size_t byte_by_byte_limit = 4096;

int ws_frame(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::size_t limits[] = {16, 125, 1000, 65536};
  const std::size_t max = limits[data[0] & 3];
  const std::uint64_t seed = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  const Run whole = feed(stream, max, seed, 0);
  const Run chunked = feed(stream, max, seed, 1);
  FUZZ_CHECK(chunked.events == whole.events);
  FUZZ_CHECK(chunked.code == whole.code);
  if (stream.size() <= byte_by_byte_limit) {
    const Run bytes = feed(stream, max, seed, 2);
    FUZZ_CHECK(bytes.events == whole.events);
    FUZZ_CHECK(bytes.code == whole.code);
  }

  // Stop after the k-th event: exactly the first k events, and nothing after.
  if (!whole.events.empty()) {
    const std::size_t k = 1 + seed % whole.events.size();
    FrameReader reader(max);
    std::string copy(stream);
    std::size_t seen = 0;
    const std::uint16_t code =
        reader.consume(std::span<char>(copy.data(), copy.size()), [&](const FrameReader::Event& e) {
          FUZZ_CHECK(seen < k);
          FUZZ_CHECK(whole.events[seen].kind == e.kind && whole.events[seen].payload == e.payload);
          return ++seen < k;
        });
    FUZZ_CHECK(seen == k);
    FUZZ_CHECK(code == 0);  // stopping is not a violation
  }

  // Server → client round trip of what was read.
  protocol::FrameBuffer out;
  std::vector<Ev> expected;
  std::string joined;
  bool open_text = false;
  auto flush_text = [&] {
    if (open_text) expected.push_back(Ev{Kind::text, joined, 0});
    joined.clear();
    open_text = false;
  };
  for (const Ev& e : whole.events) {
    switch (e.kind) {
      case Kind::text:
        out.add_event(e.payload);
        if (open_text) joined.push_back('\n');
        joined += e.payload;
        open_text = true;
        break;
      case Kind::ping:
      case Kind::pong:
        flush_text();
        out.add_control(e.kind == Kind::ping ? protocol::Opcode::ping : protocol::Opcode::pong, e.payload);
        expected.push_back(e);
        break;
      case Kind::close:
        flush_text();
        out.add_control(protocol::Opcode::close,
                        e.code == 1005
                            ? std::string()
                            : protocol::make_close_payload(static_cast<protocol::CloseCode>(e.code), e.payload));
        expected.push_back(e);
        break;
    }
  }
  flush_text();
  std::uint64_t key_seed = seed;
  const std::string client = mask_server_frames(out.seal(), static_cast<std::uint32_t>(next(key_seed)));
  const Run back = feed(client, std::size_t{1} << 24, seed, 0);
  FUZZ_CHECK(back.code == 0);
  FUZZ_CHECK(back.events == expected);
  return 0;
}

}  // namespace parley::fuzz
