#pragma once
// The outbound bytes of one WebSocket connection: complete server frames, the last of which may
// be an open text frame that further events are appended to (one JSON object per line). Sealing
// writes that frame's header into space reserved in front of it, so the buffer goes to the socket
// as it is: one contiguous write, no copy per event beyond the append.
#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/ws_frame.hpp"

namespace parley::protocol {

class FrameBuffer {
 public:
  // Appends one event to the open text frame, opening one if needed.
  void add_event(std::string_view event);
  // Appends a complete control frame after everything queued so far.
  void add_control(Opcode op, std::string_view payload);
  // Closes the open frame and returns every byte to write.
  std::string_view seal();

  bool empty() const noexcept { return buf_.empty(); }
  // Bytes queued, including reserved header space (close enough for accounting).
  std::size_t size() const noexcept { return buf_.size(); }
  std::size_t capacity() const noexcept { return buf_.capacity(); }
  void clear() noexcept;
  // Gives back memory kept from a burst, so that an idle connection holds no buffer.
  void release_memory() noexcept;
  void swap(FrameBuffer& other) noexcept;

 private:
  void seal_open_frame();

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::string buf_;
  std::size_t open_ = npos;  // offset of the open frame's reserved header space
  std::size_t begin_ = 0;    // first byte to write (after sealing the first frame)
};

}  // namespace parley::protocol
