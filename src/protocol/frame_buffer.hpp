#pragma once
// The outbound bytes of one WebSocket connection: complete server frames, the last of which may
// be an open text frame that further events are appended to (one JSON object per line). Sealing
// writes that frame's header into space reserved in front of it, so the buffer goes to the socket
// as it is: one contiguous write, no copy per event beyond the append.
//
// Events shared by many connections (a room's fan-out) are not copied at all: add_shared keeps a
// reference, and pieces() hands the socket the frame as a few spans (own bytes, shared bytes),
// for one scatter-gather write. The bytes on the wire are the same either way.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ws_frame.hpp"

namespace parley::protocol {

class FrameBuffer {
 public:
  using Shared = std::shared_ptr<const std::string>;

  // Appends one event to the open text frame, opening one if needed.
  void add_event(std::string_view event);
  // The same for one or more events ('\n'-separated) that other connections share: kept by
  // reference, not copied.
  void add_shared(Shared events);
  // Appends a complete control frame after everything queued so far.
  void add_control(Opcode op, std::string_view payload);
  // Closes the open frame and returns every byte to write, as one contiguous buffer (shared
  // events are copied in).
  std::string_view seal();
  // Closes the open frame and appends every byte to write to `out`, in order, as spans into this
  // buffer and the shared events it holds (valid until the buffer is changed).
  void pieces(std::vector<std::string_view>& out);

  bool empty() const noexcept { return buf_.empty(); }
  // Bytes queued, including reserved header space (close enough for accounting).
  std::size_t size() const noexcept { return buf_.size() + (shared_ ? shared_->bytes : 0); }
  std::size_t capacity() const noexcept { return buf_.capacity(); }
  void clear() noexcept;
  // Gives back memory kept from a burst, so that an idle connection holds no buffer.
  void release_memory() noexcept;
  void swap(FrameBuffer& other) noexcept;

 private:
  struct Ref {
    std::size_t at;  // the shared bytes come after buf_[0, at)
    Shared data;
  };
  // Allocated with the first shared event: a connection that only gets its own replies (most of
  // them, idle) pays one pointer for this.
  struct SharedPart {
    std::vector<Ref> refs;
    std::size_t bytes = 0;       // bytes of every shared event held
    std::size_t open_bytes = 0;  // of which in the open frame
  };
  void open_or_separate();
  void seal_open_frame();
  void flatten();

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::string buf_;
  std::unique_ptr<SharedPart> shared_;
  std::size_t open_ = npos;  // offset of the open frame's reserved header space
  std::size_t begin_ = 0;    // first byte to write (after sealing the first frame)
};

}  // namespace parley::protocol
