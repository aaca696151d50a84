#include "protocol/ws_frame.hpp"

#include <cstring>

#include "protocol/utf8.hpp"

namespace parley::protocol {

bool is_valid_close_code(std::uint16_t code) noexcept {
  if (code >= 3000 && code <= 4999) return true;  // registered and private codes
  switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
    case 1012:
    case 1013:
    case 1014: return true;
    default: return false;  // 1004-1006 and 1015 must never be sent; the rest are unassigned
  }
}

std::size_t header_size(std::size_t n) noexcept { return n < 126 ? 2 : n <= 0xFFFF ? 4 : 10; }

std::size_t write_header(char* out, Opcode op, std::size_t n) noexcept {
  out[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
  if (n < 126) {
    out[1] = static_cast<char>(n);
    return 2;
  }
  if (n <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<char>(n >> 8);
    out[3] = static_cast<char>(n);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<char>(static_cast<std::uint64_t>(n) >> (56 - 8 * i));
  return 10;
}

std::string make_control_frame(Opcode op, std::string_view payload) {
  if (payload.size() > 125) payload = payload.substr(0, 125);
  std::string frame(2 + payload.size(), '\0');
  write_header(frame.data(), op, payload.size());
  if (!payload.empty()) std::memcpy(frame.data() + 2, payload.data(), payload.size());  // data() may be null
  return frame;
}

std::string make_close_payload(CloseCode code, std::string_view reason) {
  reason = utf8_prefix(reason, 123);  // a control frame's payload is at most 125 bytes
  const auto c = static_cast<std::uint16_t>(code);
  std::string p;
  p.reserve(2 + reason.size());
  p.push_back(static_cast<char>(c >> 8));
  p.push_back(static_cast<char>(c & 0xFF));
  p.append(reason);
  return p;
}

void unmask(char* p, std::size_t n, const char (&mask)[4]) noexcept {
  // Eight bytes at a time: the mask repeats every four, so two copies of it make a word.
  std::uint64_t m8;
  char m[8] = {mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]};
  std::memcpy(&m8, m, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= m8;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) p[i] ^= mask[i & 3];
}

void FrameReader::release_memory() noexcept {
  if (partial_.empty()) std::string().swap(partial_);
  if (message_.empty()) std::string().swap(message_);
}

FrameReader::Step FrameReader::parse(std::span<char> data, Frame& frame, std::size_t& used) {
  if (data.size() < 2) return Step::need_more;
  const auto b0 = static_cast<std::uint8_t>(data[0]);
  const auto b1 = static_cast<std::uint8_t>(data[1]);
  const bool fin = b0 & 0x80;
  const auto op = static_cast<Opcode>(b0 & 0x0F);
  const bool control = (b0 & 0x08) != 0;
  if (b0 & 0x70) return failure_ = 1002, Step::fail;     // no extension negotiated: RSV must be 0
  if (!(b1 & 0x80)) return failure_ = 1002, Step::fail;  // client frames must be masked
  switch (op) {
    case Opcode::continuation:
      if (!in_message_) return failure_ = 1002, Step::fail;
      break;
    case Opcode::text:
    case Opcode::binary:
      if (in_message_) return failure_ = 1002, Step::fail;
      break;
    case Opcode::close:
    case Opcode::ping:
    case Opcode::pong: break;
    default: return failure_ = 1002, Step::fail;
  }
  std::uint64_t len = b1 & 0x7F;
  std::size_t pos = 2;
  if (control && (!fin || len > 125)) return failure_ = 1002, Step::fail;
  if (len == 126) {
    if (data.size() < 4) return Step::need_more;
    len = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(data[2])) << 8) | static_cast<std::uint8_t>(data[3]);
    pos = 4;
  } else if (len == 127) {
    if (data.size() < 10) return Step::need_more;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<std::uint8_t>(data[2 + i]);
    if (len >> 63) return failure_ = 1002, Step::fail;
    pos = 10;
  }
  // Refuse an oversized message as soon as its header says so, before buffering any of it.
  if (!control && (len > max_message_ || message_.size() + len > max_message_)) {
    return failure_ = 1009, Step::fail;
  }
  if (data.size() < pos + 4 + len) return Step::need_more;
  char mask[4];
  std::memcpy(mask, data.data() + pos, 4);
  pos += 4;
  char* p = data.data() + pos;
  unmask(p, static_cast<std::size_t>(len), mask);
  frame = Frame{fin, op, std::span<char>(p, static_cast<std::size_t>(len))};
  used = pos + static_cast<std::size_t>(len);
  return Step::frame;
}

}  // namespace parley::protocol
