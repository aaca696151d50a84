// parley: the chat server. `parley serve` runs a node; see README.md and docs/operations.md.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "app/admin.hpp"
#include "app/allocator.hpp"
#include "app/config.hpp"
#include "app/server.hpp"
#include "net/log.hpp"
#include "net/upgrade.hpp"
#include "store/store.hpp"

// The sanitizer builds (CMakeLists.txt PARLEY_SANITIZE) read these before main. libvips and the
// GLib under it are not instrumented, and GLib locks with its own futex calls, which
// ThreadSanitizer cannot see: every hand-over between the files pool's threads and libvips's own
// would be reported as a race (seen in Files.* under TSan), in its codecs' code too (libpng, zlib,
// ...). Reports with a frame in those libraries are suppressed, and the interceptors leave their
// calls alone; a race in Parley's own code still shows (Parley itself calls none of them but
// libvips). LeakSanitizer: libvips keeps its caches (operations, types) for the process.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libvips.so\n"
         "race:libvips.so\n"
         "called_from_lib:libglib-2.0.so\n"
         "race:libglib-2.0.so\n"
         "called_from_lib:libgobject-2.0.so\n"
         "race:libgobject-2.0.so\n"
         "called_from_lib:libgio-2.0.so\n"
         "race:libgio-2.0.so\n"
         "called_from_lib:libgmodule-2.0.so\n"
         "race:libgmodule-2.0.so\n"
         "called_from_lib:libpng16.so\n"
         "race:libpng16.so\n"
         "called_from_lib:libspng.so\n"
         "race:libspng.so\n"
         "called_from_lib:libjpeg.so\n"
         "race:libjpeg.so\n"
         "called_from_lib:libwebp.so\n"
         "race:libwebp.so\n"
         "called_from_lib:libwebpmux.so\n"
         "race:libwebpmux.so\n"
         "called_from_lib:libwebpdemux.so\n"
         "race:libwebpdemux.so\n"
         "called_from_lib:libsharpyuv.so\n"
         "race:libsharpyuv.so\n"
         "called_from_lib:libexif.so\n"
         "race:libexif.so\n"
         "called_from_lib:liblcms2.so\n"
         "race:liblcms2.so\n"
         "called_from_lib:libtiff.so\n"
         "race:libtiff.so\n"
         "called_from_lib:libheif.so\n"
         "race:libheif.so\n"
         "called_from_lib:libcgif.so\n"
         "race:libcgif.so\n"
         "called_from_lib:libexpat.so\n"
         "race:libexpat.so\n"
         "called_from_lib:liborc-0.4.so\n"
         "race:liborc-0.4.so\n"
         "called_from_lib:libz.so\n"
         "race:libz.so\n";
}
#endif
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libvips.so.42\nleak:libglib-2.0.so.0\nleak:libgobject-2.0.so.0\n";
}
#endif

int main(int argc, char** argv) try {
  using parley::app::Config;
  CLI::App app{"Parley: a real-time chat server"};
  app.set_version_flag(
      "--version", std::string("parley ") + PARLEY_VERSION + "\nallocator: " + parley::app::allocator_description());
  app.require_subcommand(1);

  Config config;
  std::string config_file;
  std::string listen, data_dir, web_dir, log_level, log_format;
  unsigned threads = 0;
  bool threads_set = false;
  std::vector<std::string> settings;
  bool print_config = false;

  auto* serve = app.add_subcommand("serve", "run a chat node");
  serve->add_option("-c,--config", config_file, "TOML configuration file");
  serve->add_option("--listen", listen, "address:port (default 127.0.0.1:8080; port 0 picks one)");
  serve->add_option("--data", data_dir, "data directory (default ./data)");
  serve->add_option("--web", web_dir, "web UI directory");
  serve->add_option("--threads", threads, "I/O threads (default: one per core)")->each([&](const std::string&) {
    threads_set = true;
  });
  serve->add_option("--log-level", log_level, "trace, debug, info, warn, error");
  serve->add_option("--log-format", log_format, "text (default) or json");
  serve->add_option("--set", settings, "any setting, as key=value (e.g. limits.send_rate=20); repeatable");
  serve->add_flag("--print-config", print_config, "print the effective configuration and exit");
  auto* keys = app.add_subcommand("config-keys", "list every configuration key with its default");
  auto* admin = app.add_subcommand("admin", "send a command to the node running on a data directory");
  std::vector<std::string> admin_args;
  std::string admin_data = "./data";
  admin
      ->add_option("command", admin_args,
                   "delete-room ROOM | delete-message ROOM SEQ | api-key-create NAME SCOPES | api-key-list | "
                   "api-key-revoke ID | log-level [LEVEL]")
      ->required();
  admin->add_option("--data", admin_data, "the node's data directory (default ./data)");
  std::string admin_url, admin_token;
  admin->add_option("--url", admin_url,
                    "the admin API of a node, http://HOST:PORT, instead of the data directory's socket: nodes | rooms "
                    "[LIMIT] | delete-room ROOM | delete-message ROOM SEQ | disconnect USER | ban USER | unban USER | "
                    "drain NODE");
  admin->add_option("--token", admin_token,
                    "with --url: an API key with the admin scope, or an admin's session token (default: "
                    "$PARLEY_ADMIN_TOKEN)");

  CLI11_PARSE(app, argc, argv);

  if (admin->parsed() && !admin_url.empty()) {
    if (admin_token.empty())
      if (const char* t = std::getenv("PARLEY_ADMIN_TOKEN")) admin_token = t;
    return parley::app::run_admin_http(admin_args, admin_url, admin_token);
  }
  if (admin->parsed()) return parley::app::run_admin(admin_args, admin_data);
  if (keys->parsed()) {
    for (auto& k : parley::app::config_keys(config))
      std::cout << k.key << " = " << k.get() << "    # " << k.help << "\n";
    return 0;
  }
  // The settings in their order of precedence: file < environment < flags. Run once at start-up,
  // and again on SIGHUP for the log level (a fresh Config: a setting removed from the file since
  // falls back to its default).
  const auto configure = [&](Config& c) {
    if (!config_file.empty()) parley::app::apply_file(c, config_file);
    parley::app::apply_environment(c);
    if (!listen.empty()) c.listen = listen;
    if (!data_dir.empty()) c.data_dir = data_dir;
    if (!web_dir.empty()) c.web_dir = web_dir;
    if (threads_set) c.threads = threads;
    if (!log_level.empty()) c.log_level = log_level;
    if (!log_format.empty()) c.log_format = log_format;
    for (const auto& s : settings) {
      const auto eq = s.find('=');
      if (eq == std::string::npos) throw std::invalid_argument("--set needs key=value, got '" + s + "'");
      parley::app::apply_setting(c, s.substr(0, eq), s.substr(eq + 1));
    }
  };
  try {
    configure(config);
    if (config.web_dir.empty())
      config.web_dir = std::filesystem::exists("web/index.html") ? "web" : PARLEY_SOURCE_WEB_DIR;
    spdlog::level::level_enum level{};
    if (!parley::net::log::parse_level(config.log_level, level))
      throw std::invalid_argument("server.log_level: unknown level '" + config.log_level + "'");
    parley::net::log::Format format{};
    if (!parley::net::log::parse_format(config.log_format, format))
      throw std::invalid_argument("server.log_format: text or json, not '" + config.log_format + "'");
    if (config.store_checkpoint_pages == 0) throw std::invalid_argument("store.checkpoint_pages: at least 1");
    if (config.broker_request_timeout_ms < 100) throw std::invalid_argument("broker.request_timeout_ms: at least 100");
    if (config.writes != "io_uring" && config.writes != "sendmsg")
      throw std::invalid_argument("server.writes: io_uring or sendmsg, not '" + config.writes + "'");
    (void)parley::net::OriginPolicy(config.allowed_origins);  // throws naming a bad entry
    config.auth.password.validate();
    if (config.auth.hash_threads == 0) throw std::invalid_argument("auth.hash_threads: at least 1");
    if (config.auth.hash_queue == 0) throw std::invalid_argument("auth.hash_queue: at least 1");
    if (config.auth.hash_nice < 0 || config.auth.hash_nice > 19) throw std::invalid_argument("auth.hash_nice: 0 to 19");
    if (config.store_search_nice < 0 || config.store_search_nice > 19)
      throw std::invalid_argument("store.search_nice: 0 to 19");
    if (config.store_search_share < 1 || config.store_search_share > 100)
      throw std::invalid_argument("store.search_share: 1 to 100");
    if (config.auth.max_sessions_per_user == 0) throw std::invalid_argument("auth.max_sessions_per_user: at least 1");
    if (config.limits.max_room_members > parley::store::Store::max_loaded_members)
      throw std::invalid_argument("limits.max_room_members: at most " +
                                  std::to_string(parley::store::Store::max_loaded_members));
    parley::net::log::install(format, level);
    if (print_config) {
      std::cout << parley::app::describe(config);
      return 0;
    }
    spdlog::info("allocator: {}", parley::app::allocator_description());
    spdlog::info("effective configuration:\n{}", parley::app::describe(config));
    // SIGHUP: the log level as the file, the environment and the flags say now.
    auto reread_log_level = [configure]() {
      Config fresh;
      configure(fresh);
      return fresh.log_level;
    };
    return parley::app::run_server(std::move(config), reread_log_level);
  } catch (const std::exception& e) {
    std::cerr << "parley: " << e.what() << "\n";
    return 2;
  }
} catch (const std::exception& e) {
  // A failure outside the configuration (the command line's parser, the terminal).
  std::cerr << "parley: " << e.what() << "\n";
  return 1;
}
