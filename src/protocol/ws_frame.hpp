#pragma once
// RFC 6455 framing, without I/O. The server side only: it reads masked client frames and writes
// unmasked frames. Beast does the HTTP upgrade; after that Parley owns the bytes on the socket so
// that a whole loop turn of events can go out in one frame and one write (see DESIGN.md).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/utf8.hpp"

namespace parley::protocol {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// The close codes Parley sends; docs/protocol.md lists what a client should do for each.
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  no_status = 1005,
  invalid_payload = 1007,
  policy_violation = 1008,
  message_too_big = 1009,
  internal_error = 1011,
  service_restart = 1012,
  try_again_later = 1013,
};

// True for codes a peer may put in a close frame (RFC 6455 7.4).
bool is_valid_close_code(std::uint16_t code) noexcept;

// Largest header of a server frame: 2 bytes + 8 bytes of extended length, no mask.
inline constexpr std::size_t max_header_size = 10;
std::size_t header_size(std::size_t payload_size) noexcept;
// Writes the header of a final, unmasked frame; returns its size. `out` holds max_header_size.
std::size_t write_header(char* out, Opcode op, std::size_t payload_size) noexcept;
// A whole control frame (payload ≤ 125 bytes); a close frame's payload is the code and reason.
std::string make_control_frame(Opcode op, std::string_view payload);
std::string make_close_payload(CloseCode code, std::string_view reason);
// XORs `n` bytes with the 4-byte masking key (RFC 6455 5.3), starting at key offset 0.
void unmask(char* p, std::size_t n, const char (&mask)[4]) noexcept;

// Reads client frames from the bytes of a socket, keeping at most one partial frame and one
// partial message between calls.
class FrameReader {
 public:
  enum class Kind { text, ping, pong, close };

  struct Event {
    Kind kind;
    std::string_view payload;      // valid only during the callback; for close: the reason
    std::uint16_t close_code = 0;  // for close: the peer's code, 1005 when it sent none
  };

  explicit FrameReader(std::size_t max_message_bytes) : max_message_(max_message_bytes) {}

  // Parses `data` (unmasked in place) and calls on_event(const Event&) -> bool for each complete
  // message and control frame; a false return stops parsing. Returns 0 when all is well, or the
  // close code a protocol violation calls for (1002, 1003, 1007, 1009); the reader is then done.
  template <class OnEvent>
  std::uint16_t consume(std::span<char> data, OnEvent&& on_event);

  // Bytes buffered for an incomplete frame or message (bounded by the message limit).
  std::size_t buffered() const noexcept { return partial_.size() + message_.size(); }
  void release_memory() noexcept;

 private:
  enum class Step { need_more, frame, fail };
  struct Frame {
    bool fin;
    Opcode op;
    std::span<char> payload;
  };
  // Parses one frame at the start of `data`; on Step::frame sets `frame` and `used`.
  Step parse(std::span<char> data, Frame& frame, std::size_t& used);
  // Handles one frame; returns false to stop, with failure_ set on a violation.
  template <class OnEvent>
  bool handle(const Frame& frame, OnEvent& on_event);

  std::size_t max_message_;
  std::string partial_;  // bytes of a frame not yet complete
  std::string message_;  // payload of a fragmented text message so far
  bool in_message_ = false;
  Utf8Validator utf8_;
  std::uint16_t failure_ = 0;
};

template <class OnEvent>
std::uint16_t FrameReader::consume(std::span<char> data, OnEvent&& on_event) {
  if (failure_) return failure_;
  std::span<char> buf = data;
  bool from_partial = false;
  if (!partial_.empty()) {
    partial_.append(data.data(), data.size());
    buf = std::span<char>(partial_.data(), partial_.size());
    from_partial = true;
  }
  std::size_t pos = 0;
  bool stopped = false;
  while (pos < buf.size()) {
    Frame frame{};
    std::size_t used = 0;
    const Step step = parse(buf.subspan(pos), frame, used);
    if (step == Step::fail) return failure_;
    if (step == Step::need_more) break;
    pos += used;
    if (!handle(frame, on_event)) {
      stopped = true;
      break;
    }
  }
  if (failure_) return failure_;
  if (stopped) {
    partial_.clear();
    return 0;
  }
  if (from_partial) {
    partial_.erase(0, pos);
  } else if (pos < buf.size()) {
    partial_.assign(buf.data() + pos, buf.size() - pos);
  }
  return 0;
}

template <class OnEvent>
bool FrameReader::handle(const Frame& frame, OnEvent& on_event) {
  const std::string_view payload(frame.payload.data(), frame.payload.size());
  switch (frame.op) {
    case Opcode::ping: return on_event(Event{Kind::ping, payload});
    case Opcode::pong: return on_event(Event{Kind::pong, payload});
    case Opcode::close: {
      if (payload.size() == 1) {
        failure_ = 1002;
        return false;
      }
      std::uint16_t code = 1005;
      std::string_view reason;
      if (payload.size() >= 2) {
        code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
        reason = payload.substr(2);
        if (!is_valid_close_code(code)) {
          failure_ = 1002;
          return false;
        }
        if (!is_valid_utf8(reason)) {
          failure_ = 1007;
          return false;
        }
      }
      return on_event(Event{Kind::close, reason, code});
    }
    case Opcode::binary:
      failure_ = 1003;  // protocol v1 is JSON text only
      return false;
    case Opcode::text:
    case Opcode::continuation: {
      if (!utf8_.feed(payload)) {
        failure_ = 1007;
        return false;
      }
      if (!frame.fin) {
        message_.append(payload);
        in_message_ = true;
        return true;
      }
      if (!utf8_.complete()) {
        failure_ = 1007;
        return false;
      }
      utf8_.reset();
      bool go_on;
      if (in_message_) {
        message_.append(payload);
        in_message_ = false;
        go_on = on_event(Event{Kind::text, message_});
        message_.clear();
      } else {
        go_on = on_event(Event{Kind::text, payload});
      }
      return go_on;
    }
  }
  failure_ = 1002;
  return false;
}

}  // namespace parley::protocol
