#include "protocol/frame_buffer.hpp"

#include <cstring>
#include <utility>

namespace parley::protocol {

void FrameBuffer::open_or_separate() {
  if (open_ == npos) {
    open_ = buf_.size();
    buf_.append(max_header_size, '\0');
  } else {
    buf_.push_back('\n');
  }
}

void FrameBuffer::add_event(std::string_view event) {
  open_or_separate();
  buf_.append(event);
}

void FrameBuffer::add_shared(Shared events) {
  open_or_separate();
  const std::size_t n = events->size();
  if (!shared_) shared_ = std::make_unique<SharedPart>();
  shared_->refs.push_back(Ref{buf_.size(), std::move(events)});
  shared_->bytes += n;
  shared_->open_bytes += n;
}

void FrameBuffer::add_control(Opcode op, std::string_view payload) {
  seal_open_frame();
  buf_.append(make_control_frame(op, payload));
}

std::string_view FrameBuffer::seal() {
  seal_open_frame();
  flatten();
  return std::string_view(buf_).substr(begin_);
}

void FrameBuffer::pieces(std::vector<std::string_view>& out) {
  seal_open_frame();
  const std::string_view all(buf_);
  std::size_t pos = begin_;
  if (shared_)
    for (const Ref& r : shared_->refs) {
      if (r.at > pos) out.push_back(all.substr(pos, r.at - pos));
      pos = r.at;
      if (!r.data->empty()) out.emplace_back(*r.data);
    }
  if (all.size() > pos) out.push_back(all.substr(pos));
}

void FrameBuffer::seal_open_frame() {
  if (open_ == npos) return;
  const std::size_t payload_at = open_ + max_header_size;
  const std::size_t own = buf_.size() - payload_at;
  const std::size_t n = own + (shared_ ? shared_->open_bytes : 0);
  const std::size_t h = header_size(n);
  char* base = buf_.data();
  if (open_ == 0 && begin_ == 0) {
    // First frame in the buffer: write the header just before the payload and start there.
    write_header(base + max_header_size - h, Opcode::text, n);
    begin_ = max_header_size - h;
  } else {
    // A frame after a control frame (rare): close the gap left by the reserved space.
    write_header(base + open_, Opcode::text, n);
    std::memmove(base + open_ + h, base + payload_at, own);
    buf_.resize(open_ + h + own);
    const std::size_t gap = max_header_size - h;
    if (shared_)
      for (Ref& r : shared_->refs)
        if (r.at >= payload_at) r.at -= gap;
  }
  open_ = npos;
  if (shared_) shared_->open_bytes = 0;
}

void FrameBuffer::flatten() {
  if (!shared_ || shared_->refs.empty()) return;
  std::string out;
  out.reserve(buf_.size() - begin_ + shared_->bytes);
  std::size_t pos = begin_;
  for (const Ref& r : shared_->refs) {
    out.append(buf_, pos, r.at - pos);
    out.append(*r.data);
    pos = r.at;
  }
  out.append(buf_, pos, std::string::npos);
  buf_.swap(out);
  begin_ = 0;
  shared_->refs.clear();
  shared_->bytes = 0;
}

void FrameBuffer::clear() noexcept {
  buf_.clear();
  if (shared_) {
    shared_->refs.clear();
    shared_->bytes = 0;
    shared_->open_bytes = 0;
  }
  open_ = npos;
  begin_ = 0;
}

void FrameBuffer::release_memory() noexcept {
  if (buf_.empty()) std::string().swap(buf_);
  if (shared_ && shared_->refs.empty()) shared_.reset();
}

void FrameBuffer::swap(FrameBuffer& other) noexcept {
  buf_.swap(other.buf_);
  shared_.swap(other.shared_);
  std::swap(open_, other.open_);
  std::swap(begin_, other.begin_);
}

}  // namespace parley::protocol
