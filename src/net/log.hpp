#pragma once
// The node's log lines: spdlog underneath, in one of two formats (server.log_format). Text, the
// default, is for a person at a terminal; JSON (one object per line: ts, level, msg, node, then
// the line's fields) is for a log collector. A line's structured fields (room, user, conn, code,
// rid, ...) are passed apart from its message, so that a JSON line carries them as members and a
// text line appends them as key=value. Whatever a field holds (a room or user name is a
// client's choice: quotes, newlines, control bytes, invalid UTF-8), the line stays one line; in
// JSON the message is escaped too, and every line is one valid object (a text message is
// written as it is: the start-up configuration is several lines on purpose).
//
// Threads: write() may be called from any thread (spdlog's logger is thread-safe; the fields go
// to the formatter through a thread-local while the calling thread formats its own line).
#include <spdlog/spdlog.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace parley::net::log {

enum class Format { text, json };

// One structured field: a string, or a number (written without quotes in JSON).
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, std::uint64_t v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)), number(true) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), number(true) {}
  std::string_view key;  // our own identifier: [a-z_]
  std::string value;
  bool number = false;
};

// "text" or "json" (server.log_format) into `out`; false for anything else.
bool parse_format(std::string_view name, Format& out) noexcept;

// Makes the default logger write `format` to `sink` (null: stderr), at `level`, naming `node`
// (JSON: a "node" member on every line; empty: none). Called once, at start-up, before the
// threads (tests: again, with a sink of their own).
void install(Format format, spdlog::level::level_enum level, std::string node = {}, spdlog::sink_ptr sink = nullptr);
// Sets the node's name after install() (a cluster's node id is known once the broker is made).
void set_node(std::string node);

// The level named `name` (trace, debug, info, warn, error, critical, off), or false.
bool parse_level(std::string_view name, spdlog::level::level_enum& out) noexcept;
// The level now, by name ("info").
std::string_view level_name(spdlog::level::level_enum level) noexcept;
// Changes the level of the running node, from any thread, and logs the change at warn (whatever
// the new level) saying `by` whom ("SIGHUP", "admin socket"). False, and nothing changed, for an
// unknown name.
bool change_level(std::string_view name, std::string_view by);

// Logs `message` with `fields` at `level` (nothing is built when the level is off). A field with
// an empty value is left out (not known where the line is written).
void write(spdlog::level::level_enum level, std::string_view message, std::initializer_list<Field> fields);

// A request id for an error answer (an `error` event's and an /api/ error's `rid`): this
// process's random prefix and a counter, "3f2a91c0-1b": short, unique on this node for its life,
// and unlikely to repeat on another node or after a restart.
std::string new_request_id();

// The formatter of JSON lines (install() uses it; tests format with it directly).
std::unique_ptr<spdlog::formatter> json_formatter();

}  // namespace parley::net::log
