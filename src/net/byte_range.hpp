#pragma once
// One byte range of a file answer (RFC 9110 14: Range, Content-Range, If-Range), and the body
// that sends it from disk in pieces, as beast's file_body sends a whole file (Boost 1.81's cannot
// start past the beginning).
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace parley::net {

// What a Range header asks of a representation of `size` bytes.
struct ByteRange {
  enum class Kind {
    whole,          // no Range, or one this server does not take (several ranges, another unit,
                    // bad syntax: RFC 9110 14.2 lets a server ignore it): 200 with every byte
    part,           // 206 with bytes first..last (inclusive)
    unsatisfiable,  // 416 with "Content-Range: bytes */size"
  };
  Kind kind = Kind::whole;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

ByteRange parse_byte_range(std::string_view header, std::uint64_t size);

// "bytes first-last/size", or "bytes */size" for an unsatisfiable range.
std::string content_range(const ByteRange& range, std::uint64_t size);

// A file's bytes [offset, offset + length) as an HTTP body.
struct FileRangeBody {
  struct value_type {
    boost::beast::file file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };

  static std::uint64_t size(const value_type& body) { return body.length; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) {
      remain_ = body_.length;
      body_.file.seek(body_.offset, ec);
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec);

   private:
    value_type& body_;
    std::uint64_t remain_ = 0;
    char buf_[16384];
  };
};

}  // namespace parley::net
