#include "protocol/frame_buffer.hpp"

#include <cstring>
#include <utility>

namespace parley::protocol {

void FrameBuffer::add_event(std::string_view event) {
  if (open_ == npos) {
    open_ = buf_.size();
    buf_.append(max_header_size, '\0');
  } else {
    buf_.push_back('\n');
  }
  buf_.append(event);
}

void FrameBuffer::add_control(Opcode op, std::string_view payload) {
  seal_open_frame();
  buf_.append(make_control_frame(op, payload));
}

std::string_view FrameBuffer::seal() {
  seal_open_frame();
  return std::string_view(buf_).substr(begin_);
}

void FrameBuffer::seal_open_frame() {
  if (open_ == npos) return;
  const std::size_t payload_at = open_ + max_header_size;
  const std::size_t n = buf_.size() - payload_at;
  const std::size_t h = header_size(n);
  char* base = buf_.data();
  if (open_ == 0 && begin_ == 0) {
    // First frame in the buffer: write the header just before the payload and start there.
    write_header(base + max_header_size - h, Opcode::text, n);
    begin_ = max_header_size - h;
  } else {
    // A frame after a control frame (rare): close the gap left by the reserved space.
    write_header(base + open_, Opcode::text, n);
    std::memmove(base + open_ + h, base + payload_at, n);
    buf_.resize(open_ + h + n);
  }
  open_ = npos;
}

void FrameBuffer::clear() noexcept {
  buf_.clear();
  open_ = npos;
  begin_ = 0;
}

void FrameBuffer::release_memory() noexcept {
  if (buf_.empty()) std::string().swap(buf_);
}

void FrameBuffer::swap(FrameBuffer& other) noexcept {
  buf_.swap(other.buf_);
  std::swap(open_, other.open_);
  std::swap(begin_, other.begin_);
}

}  // namespace parley::protocol
