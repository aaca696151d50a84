#pragma once
// Writes the server's JSON events straight into a string: the hot path serialises a message once
// per room, not once per recipient, and without building a DOM.
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::protocol {

// Appends `s` as a JSON string literal (quotes included). `s` must be valid UTF-8.
void append_json_string(std::string& out, std::string_view s);
// The same for bytes that may not be UTF-8 (a log line quoting what a client sent): each byte
// that does not start a valid sequence becomes U+FFFD, so that the output is always one valid
// JSON string, whatever the input.
void append_json_string_lossy(std::string& out, std::string_view s);
// `s` with each byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

class JsonWriter {
 public:
  // Starts an object; with a type, `"type":"<type>"` is its first member.
  explicit JsonWriter(std::string_view type = {});

  JsonWriter& str(std::string_view key, std::string_view value);
  JsonWriter& num(std::string_view key, std::int64_t value);
  JsonWriter& unum(std::string_view key, std::uint64_t value);
  JsonWriter& boolean(std::string_view key, bool value);
  // A member whose value is already JSON text (an echoed ref, a nested object or array).
  JsonWriter& raw(std::string_view key, std::string_view json);

  std::string done() &&;

 private:
  void key(std::string_view k);
  std::string out_;
  bool first_ = true;
};

}  // namespace parley::protocol
