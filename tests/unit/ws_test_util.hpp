#pragma once
// Helpers for the WebSocket tests: a client-side frame encoder (masked, as a browser sends) and a
// decoder for the server's unmasked frames, written independently of src/protocol/ws_frame.cpp so
// that the tests do not check the code against itself.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

enum class LenForm { shortest, force16, force64 };

struct ClientFrame {
  std::uint8_t opcode = 0x1;
  std::string payload;
  bool fin = true;
  std::uint8_t rsv = 0;  // the three RSV bits, 0..7
  bool masked = true;
  std::uint32_t mask = 0xA1B2C3D4;
  LenForm len_form = LenForm::shortest;
};

// The bytes of one client frame.
inline std::string encode(const ClientFrame& f) {
  std::string out;
  out.push_back(static_cast<char>((f.fin ? 0x80 : 0) | ((f.rsv & 7) << 4) | (f.opcode & 0x0F)));
  const std::uint64_t n = f.payload.size();
  const char mbit = f.masked ? static_cast<char>(0x80) : 0;
  LenForm form = f.len_form;
  if (form == LenForm::shortest) form = n < 126 ? LenForm::shortest : n <= 0xFFFF ? LenForm::force16 : LenForm::force64;
  if (form == LenForm::shortest) {
    out.push_back(static_cast<char>(mbit | static_cast<char>(n)));
  } else if (form == LenForm::force16) {
    out.push_back(static_cast<char>(mbit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(mbit | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  }
  const char key[4] = {static_cast<char>(f.mask >> 24), static_cast<char>(f.mask >> 16), static_cast<char>(f.mask >> 8),
                       static_cast<char>(f.mask)};
  if (f.masked) out.append(key, 4);
  for (std::size_t i = 0; i < f.payload.size(); ++i)
    out.push_back(f.masked ? static_cast<char>(f.payload[i] ^ key[i & 3]) : f.payload[i]);
  return out;
}

inline std::string text_frame(std::string_view payload, bool fin = true) {
  return encode(ClientFrame{0x1, std::string(payload), fin});
}
inline std::string cont_frame(std::string_view payload, bool fin = true) {
  return encode(ClientFrame{0x0, std::string(payload), fin});
}
inline std::string ctl_frame(std::uint8_t op, std::string_view payload) {
  return encode(ClientFrame{op, std::string(payload), true});
}
inline std::string close_frame(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return ctl_frame(0x8, p);
}

// One server frame, as a client would decode it.
struct ServerFrame {
  bool fin = false;
  std::uint8_t rsv = 0;
  std::uint8_t opcode = 0;
  bool masked = false;
  std::size_t header_size = 0;
  std::string payload;
};

// Decodes every frame of `bytes`; nullopt if the bytes do not end on a frame boundary.
inline std::optional<std::vector<ServerFrame>> decode_server(std::string_view bytes) {
  std::vector<ServerFrame> out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 2) return std::nullopt;
    ServerFrame f;
    const auto b0 = static_cast<std::uint8_t>(bytes[pos]);
    const auto b1 = static_cast<std::uint8_t>(bytes[pos + 1]);
    f.fin = b0 & 0x80;
    f.rsv = (b0 >> 4) & 7;
    f.opcode = b0 & 0x0F;
    f.masked = b1 & 0x80;
    std::uint64_t n = b1 & 0x7F;
    std::size_t h = 2;
    if (n == 126) {
      if (bytes.size() - pos < 4) return std::nullopt;
      n = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(bytes[pos + 2])) << 8) |
          static_cast<std::uint8_t>(bytes[pos + 3]);
      h = 4;
    } else if (n == 127) {
      if (bytes.size() - pos < 10) return std::nullopt;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<std::uint8_t>(bytes[pos + 2 + i]);
      h = 10;
    }
    if (f.masked) return std::nullopt;  // a server never masks
    if (bytes.size() - pos - h < n) return std::nullopt;
    f.header_size = h;
    f.payload.assign(bytes.substr(pos + h, static_cast<std::size_t>(n)));
    pos += h + static_cast<std::size_t>(n);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace parley::test
