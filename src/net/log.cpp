#include "net/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <ctime>
#include <mutex>
#include <random>

#include "protocol/json_writer.hpp"

namespace parley::net::log {

namespace {

std::atomic<Format> current_format{Format::text};
std::mutex node_mutex;
std::string node_name;  // guarded by node_mutex

// The fields of the line this thread is logging now (write() sets them around its call into
// spdlog, whose synchronous sinks format on the calling thread).
thread_local const std::initializer_list<Field>* line_fields = nullptr;

}  // namespace

std::string_view level_name(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

namespace {

// A text line's field value: bare when it is plain printable ASCII, else quoted and escaped as
// a JSON string (a newline in a room name must not start a forged line).
void append_text_value(std::string& out, std::string_view v) {
  bool bare = !v.empty();
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '=' || c == '\\') {
      bare = false;
      break;
    }
  }
  if (bare)
    out.append(v);
  else
    protocol::append_json_string_lossy(out, v);
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out;
    out.reserve(160 + msg.payload.size());
    out += "{\"ts\":\"";
    const auto since = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
    const std::time_t t = secs.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    out.append(stamp, n);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
    out += frac;
    out += "\",\"level\":\"";
    out += level_name(msg.level);
    out += "\",\"msg\":";
    protocol::append_json_string_lossy(out, std::string_view(msg.payload.data(), msg.payload.size()));
    {
      const std::lock_guard lock(node_mutex);
      if (!node_name.empty()) {
        out += ",\"node\":";
        protocol::append_json_string_lossy(out, node_name);
      }
    }
    if (line_fields) {
      for (const Field& f : *line_fields) {
        if (f.value.empty()) continue;
        out += ",\"";
        out.append(f.key);
        out += "\":";
        if (f.number)
          out += f.value;
        else
          protocol::append_json_string_lossy(out, f.value);
      }
    }
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

bool parse_format(std::string_view name, Format& out) noexcept {
  if (name == "text") {
    out = Format::text;
    return true;
  }
  if (name == "json") {
    out = Format::json;
    return true;
  }
  return false;
}

bool parse_level(std::string_view name, spdlog::level::level_enum& out) noexcept {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> names[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},       {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn},      {"error", spdlog::level::err},
      {"err", spdlog::level::err},     {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  for (const auto& [n, l] : names) {
    if (n == name) {
      out = l;
      return true;
    }
  }
  return false;
}

bool change_level(std::string_view name, std::string_view by) {
  spdlog::level::level_enum level{};
  if (!parse_level(name, level)) return false;
  auto* logger = spdlog::default_logger_raw();
  const auto old = logger->level();
  // Logged at warn before a change to a quieter level, after one to a louder level: either way
  // the line is written whenever warn is.
  const auto say = [&] {
    write(spdlog::level::warn, "log level changed", {{"from", level_name(old)}, {"to", level_name(level)}, {"by", by}});
  };
  if (level == old) {
    write(spdlog::level::info, "log level unchanged", {{"level", level_name(level)}, {"by", by}});
    return true;
  }
  if (level > old) say();
  spdlog::set_level(level);
  if (level < old) say();
  return true;
}

std::unique_ptr<spdlog::formatter> json_formatter() { return std::make_unique<JsonFormatter>(); }

void install(Format format, spdlog::level::level_enum level, std::string node, spdlog::sink_ptr sink) {
  set_node(std::move(node));
  spdlog::drop("parley");
  std::shared_ptr<spdlog::logger> logger;
  if (sink) {
    logger = std::make_shared<spdlog::logger>("parley", std::move(sink));
    spdlog::register_logger(logger);
  } else if (format == Format::json) {
    logger = spdlog::stderr_logger_mt("parley");
  } else {
    logger = spdlog::stderr_color_mt("parley");
  }
  if (format == Format::json) logger->set_formatter(json_formatter());
  current_format.store(format);
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);
}

void set_node(std::string node) {
  const std::lock_guard lock(node_mutex);
  node_name = std::move(node);
}

void write(spdlog::level::level_enum level, std::string_view message, std::initializer_list<Field> fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  if (current_format.load(std::memory_order_relaxed) == Format::json) {
    line_fields = &fields;
    logger->log(level, spdlog::string_view_t(message.data(), message.size()));
    line_fields = nullptr;
    return;
  }
  std::string line(message);
  for (const Field& f : fields) {
    if (f.value.empty()) continue;
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    append_text_value(line, f.value);
  }
  logger->log(level, spdlog::string_view_t(line.data(), line.size()));
}

std::string new_request_id() {
  static const std::uint32_t prefix = [] {
    std::random_device random;
    return static_cast<std::uint32_t>(random());
  }();
  static std::atomic<std::uint64_t> counter{0};
  const std::uint64_t count = counter.fetch_add(1, std::memory_order_relaxed) + 1;
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%08x-%llx", static_cast<unsigned>(prefix),
                              static_cast<unsigned long long>(count));
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace parley::net::log
