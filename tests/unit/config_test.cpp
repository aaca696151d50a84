#include "app/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

namespace {

namespace fs = std::filesystem;
using parley::app::apply_environment;
using parley::app::apply_file;
using parley::app::apply_setting;
using parley::app::Config;

// The message of the std::invalid_argument thrown by `f`, or "<no throw>".
template <class F>
std::string invalid_argument_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<other exception> ") + e.what();
  }
  return "<no throw>";
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// ---------------------------------------------------------------------------------------------
// apply_setting

TEST(Config, Defaults) {
  Config c;
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.limits.max_frame_bytes, 64u * 1024);
  EXPECT_EQ(c.limits.send_rate, 10.0);
}

TEST(Config, NumbersAndStrings) {
  Config c;
  apply_setting(c, "limits.max_frame_bytes", "1000");
  apply_setting(c, "limits.send_rate", "2.5");
  apply_setting(c, "limits.send_burst", "7");
  apply_setting(c, "server.threads", "3");
  apply_setting(c, "limits.hello_timeout_ms", "0");
  apply_setting(c, "rooms.recent_messages", "16");
  apply_setting(c, "server.listen", "0.0.0.0:9000");
  apply_setting(c, "server.web_dir", "");
  apply_setting(c, "store.synchronous", "FULL");
  EXPECT_EQ(c.limits.max_frame_bytes, 1000u);
  EXPECT_DOUBLE_EQ(c.limits.send_rate, 2.5);
  EXPECT_DOUBLE_EQ(c.limits.send_burst, 7.0);
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.limits.hello_timeout_ms, 0u);
  EXPECT_EQ(c.rooms.recent_messages, 16u);
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.web_dir, "");
  EXPECT_EQ(c.store_synchronous, "FULL");
}

TEST(Config, MaxSessionsPerUser) {
  Config c;
  EXPECT_EQ(c.auth.max_sessions_per_user, 50u);
  apply_setting(c, "auth.max_sessions_per_user", "3");
  EXPECT_EQ(c.auth.max_sessions_per_user, 3u);
  EXPECT_THROW(apply_setting(c, "auth.max_sessions_per_user", "-1"), std::invalid_argument);
}

TEST(Config, StringsAreTakenVerbatim) {
  Config c;
  apply_setting(c, "server.data_dir", " /tmp/with space = and=equals ");
  EXPECT_EQ(c.data_dir, " /tmp/with space = and=equals ");
}

TEST(Config, BadNumbersNameTheKey) {
  for (const char* v : {"", "abc", "12abc", "1.5", "0x10", "-1", "-0", "1e400", "99999999999999999999999"}) {
    SCOPED_TRACE(v);
    Config c;
    const std::string what = invalid_argument_of([&] { apply_setting(c, "limits.max_frame_bytes", v); });
    EXPECT_TRUE(contains(what, "limits.max_frame_bytes")) << what;
    EXPECT_EQ(c.limits.max_frame_bytes, 64u * 1024) << "a refused value must not be applied";
  }
}

TEST(Config, BadFloatsNameTheKey) {
  for (const char* v : {"", "fast", "1.5x", "-1", "-0.5", "1e400"}) {
    SCOPED_TRACE(v);
    Config c;
    const std::string what = invalid_argument_of([&] { apply_setting(c, "limits.send_rate", v); });
    EXPECT_TRUE(contains(what, "limits.send_rate")) << what;
    EXPECT_EQ(c.limits.send_rate, 10.0);
  }
}

TEST(Config, FloatsAcceptExponents) {
  Config c;
  apply_setting(c, "limits.send_rate", "1e2");
  EXPECT_DOUBLE_EQ(c.limits.send_rate, 100.0);
  apply_setting(c, "limits.send_rate", "0");
  EXPECT_DOUBLE_EQ(c.limits.send_rate, 0.0);
}

TEST(Config, NegativeWithLeadingSpaceIsRefused) {
  Config c;
  const std::string what = invalid_argument_of([&] { apply_setting(c, "limits.max_frame_bytes", " -5"); });
  if (what == "<no throw>") {
    ADD_FAILURE() << "accepted";
  }
  EXPECT_TRUE(contains(what, "limits.max_frame_bytes")) << what;
}

TEST(Config, OutOfRangeForTheFieldIsRefused) {
  Config c;
  const std::string what = invalid_argument_of([&] { apply_setting(c, "limits.hello_timeout_ms", "4294967296"); });
  const std::string what_threads = invalid_argument_of([&] { apply_setting(c, "server.threads", "4294967297"); });
  if (what == "<no throw>" || what_threads == "<no throw>") {
    ADD_FAILURE() << "accepted";
  }
  EXPECT_TRUE(contains(what, "limits.hello_timeout_ms")) << what;
  EXPECT_TRUE(contains(what_threads, "server.threads")) << what_threads;
}

TEST(Config, NanAndInfinityAreRefused) {
  for (const char* v : {"nan", "inf", "infinity"}) {
    SCOPED_TRACE(v);
    Config c;
    const std::string what = invalid_argument_of([&] { apply_setting(c, "limits.send_rate", v); });
    if (what == "<no throw>") {
      ADD_FAILURE() << "accepted: " << c.limits.send_rate;
    }
    EXPECT_TRUE(contains(what, "limits.send_rate")) << what;
  }
}

TEST(Config, UnknownKey) {
  Config c;
  const std::string what = invalid_argument_of([&] { apply_setting(c, "limits.bogus", "1"); });
  EXPECT_TRUE(contains(what, "limits.bogus")) << what;
  EXPECT_TRUE(contains(invalid_argument_of([&] { apply_setting(c, "", "1"); }), "unknown"));
  EXPECT_NE(invalid_argument_of([&] { apply_setting(c, "LIMITS.SEND_RATE", "1"); }), "<no throw>");
}

TEST(Config, KeysAreUniqueAndDocumented) {
  Config c;
  std::set<std::string> seen;
  for (const auto& k : parley::app::config_keys(c)) {
    EXPECT_TRUE(seen.insert(k.key).second) << "duplicate " << k.key;
    EXPECT_FALSE(k.help.empty()) << k.key;
    EXPECT_EQ(std::count(k.key.begin(), k.key.end(), '.'), 1) << k.key;  // section.name
    EXPECT_TRUE(k.set && k.get) << k.key;
  }
  EXPECT_GE(seen.size(), 28u);
}

TEST(Config, GetThenSetRoundTrips) {
  Config c;
  apply_setting(c, "limits.send_rate", "2.25");
  for (auto& k : parley::app::config_keys(c)) {
    const std::string before = k.get();
    k.set(before);
    EXPECT_EQ(k.get(), before) << k.key;
  }
  EXPECT_DOUBLE_EQ(c.limits.send_rate, 2.25);
}

TEST(Config, DescribeListsEveryKey) {
  Config c;
  apply_setting(c, "limits.max_frame_bytes", "1234");
  apply_setting(c, "limits.send_rate", "2.5");
  const std::string d = parley::app::describe(c);
  for (const auto& k : parley::app::config_keys(c)) EXPECT_TRUE(contains(d, "  " + k.key + " = ")) << k.key;
  EXPECT_TRUE(contains(d, "  limits.max_frame_bytes = 1234\n")) << d;
  EXPECT_TRUE(contains(d, "  limits.send_rate = 2.5\n")) << d;
  EXPECT_TRUE(contains(d, "  limits.send_burst = 20\n")) << d;  // no trailing zeros
  EXPECT_TRUE(contains(d, "  server.listen = 127.0.0.1:8080\n")) << d;
}

// ---------------------------------------------------------------------------------------------
// apply_file

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("parley-config-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& toml) {
    const fs::path p = dir_ / ("c" + std::to_string(n_++) + ".toml");
    std::ofstream(p) << toml;
    return p.string();
  }
  fs::path dir_;
  int n_ = 0;
};

TEST_F(ConfigFile, SectionsBecomeKeys) {
  Config c;
  apply_file(c, write(R"(
# a comment
[server]
listen = "0.0.0.0:9000"
threads = 4
default_room = ""

[limits]
send_rate = 2.5
send_burst = 3      # an integer for a float key
max_frame_bytes = 1024

[rooms]
recent_messages = 10

[store]
synchronous = "FULL"
)"));
  EXPECT_EQ(c.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.default_room, "");
  EXPECT_DOUBLE_EQ(c.limits.send_rate, 2.5);
  EXPECT_DOUBLE_EQ(c.limits.send_burst, 3.0);
  EXPECT_EQ(c.limits.max_frame_bytes, 1024u);
  EXPECT_EQ(c.rooms.recent_messages, 10u);
  EXPECT_EQ(c.store_synchronous, "FULL");
  EXPECT_EQ(c.data_dir, "./data");  // untouched
}

TEST_F(ConfigFile, DottedKeysAndInlineTables) {
  Config c;
  apply_file(c, write("limits.max_text_length = 99\nrooms = { dedupe_window = 5 }\n"));
  EXPECT_EQ(c.limits.max_text_length, 99u);
  EXPECT_EQ(c.rooms.dedupe_window, 5u);
}

TEST_F(ConfigFile, EmptyFileChangesNothing) {
  Config c;
  apply_file(c, write(""));
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
}

TEST_F(ConfigFile, WrongTypeNamesTheKey) {
  for (const char* toml : {"[limits]\nmax_frame_bytes = \"big\"\n", "[limits]\nmax_frame_bytes = -1\n",
                           "[limits]\nmax_frame_bytes = 1.5\n", "[limits]\nmax_frame_bytes = true\n",
                           "[limits]\nmax_frame_bytes = [1, 2]\n", "[limits]\nmax_frame_bytes = { a = 1 }\n",
                           "[limits]\nmax_frame_bytes = 1979-05-27\n"}) {
    SCOPED_TRACE(toml);
    Config c;
    const std::string what = invalid_argument_of([&] { apply_file(c, write(toml)); });
    EXPECT_TRUE(contains(what, "limits.max_frame_bytes")) << what;
  }
}

TEST_F(ConfigFile, TopLevelScalarIsRefused) {
  Config c;
  const std::string what = invalid_argument_of([&] { apply_file(c, write("listen = \"x\"\n")); });
  EXPECT_TRUE(contains(what, "listen")) << what;
}

TEST_F(ConfigFile, UnknownKeyIsRefused) {
  Config c;
  const std::string what = invalid_argument_of([&] { apply_file(c, write("[limits]\nbogus = 1\n")); });
  EXPECT_TRUE(contains(what, "limits.bogus")) << what;
  const std::string what2 = invalid_argument_of([&] { apply_file(c, write("[nosuch]\nkey = 1\n")); });
  EXPECT_TRUE(contains(what2, "nosuch.key")) << what2;
}

TEST_F(ConfigFile, SyntaxErrorNamesTheFile) {
  Config c;
  const std::string path = write("[limits\nmax_frame_bytes = \n");
  const std::string what = invalid_argument_of([&] { apply_file(c, path); });
  EXPECT_TRUE(contains(what, path)) << what;
}

TEST_F(ConfigFile, MissingFileIsAnError) {
  Config c;
  const std::string path = (dir_ / "missing.toml").string();
  const std::string what = invalid_argument_of([&] { apply_file(c, path); });
  EXPECT_NE(what, "<no throw>");
  EXPECT_TRUE(contains(what, "missing.toml")) << what;
}

// ---------------------------------------------------------------------------------------------
// load_jwt_verifier: the key file read once, and the combinations that are configuration errors.

TEST_F(ConfigFile, JwtIsOffWithoutAKeyFile) {
  Config c;
  EXPECT_EQ(parley::app::load_jwt_verifier(c.auth), nullptr);
  c.auth.jwt_algorithm = "HS256";
  EXPECT_NE(invalid_argument_of([&] { (void)parley::app::load_jwt_verifier(c.auth); }).find("auth.jwt_algorithm"),
            std::string::npos)
      << "an algorithm without a key is a mistake, not JWTs off";
}

TEST_F(ConfigFile, JwtSecretFileLessItsTrailingNewline) {
  Config c;
  c.auth.jwt_algorithm = "HS256";
  // 32 bytes and a newline: the newline is not counted, so 31 and a newline is too short.
  c.auth.jwt_secret_file = write(std::string(32, 'k') + "\n");
  const auto v = parley::app::load_jwt_verifier(c.auth);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->algorithm(), parley::auth::JwtAlgorithm::hs256);
  c.auth.jwt_secret_file = write(std::string(31, 'k') + "\n");
  EXPECT_NE(invalid_argument_of([&] { (void)parley::app::load_jwt_verifier(c.auth); }).find("at least 32 bytes"),
            std::string::npos);
}

TEST_F(ConfigFile, JwtKeyCombinationsThatAreErrors) {
  const std::string secret = write(std::string(64, 'k'));
  auto error_of = [](const parley::auth::AuthOptions& a) {
    return invalid_argument_of([&] { (void)parley::app::load_jwt_verifier(a); });
  };
  parley::auth::AuthOptions a;
  a.jwt_secret_file = secret;
  EXPECT_NE(error_of(a).find("auth.jwt_algorithm"), std::string::npos) << "no algorithm: none is guessed";
  a.jwt_algorithm = "hs256";
  EXPECT_NE(error_of(a).find("auth.jwt_algorithm"), std::string::npos) << "RFC 7518's spelling only";
  a.jwt_algorithm = "none";
  EXPECT_NE(error_of(a).find("auth.jwt_algorithm"), std::string::npos);
  a.jwt_algorithm = "RS256";
  EXPECT_NE(error_of(a).find("auth.jwt_public_key_file"), std::string::npos) << "RS256 takes a public key";
  a.jwt_public_key_file = secret;
  EXPECT_NE(error_of(a).find("one key"), std::string::npos) << "both files";
  a.jwt_secret_file.clear();
  a.jwt_public_key_file = (dir_ / "missing.pem").string();
  EXPECT_NE(error_of(a).find("cannot read"), std::string::npos);
  a.jwt_public_key_file = secret;
  EXPECT_NE(error_of(a).find("not a PEM public key"), std::string::npos);
  EXPECT_EQ(error_of(a).find("kkkk"), std::string::npos) << "never the key's bytes";
}

// ---------------------------------------------------------------------------------------------
// apply_environment

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

TEST(ConfigEnv, SetsKeys) {
  ScopedEnv a("PARLEY_LIMITS_SEND_RATE", "7.5");
  ScopedEnv b("PARLEY_SERVER_LISTEN", "127.0.0.1:0");
  ScopedEnv d("PARLEY_LIMITS_MAX_FRAME_BYTES", "2048");
  ScopedEnv e("PARLEY_ROOMS_DEDUPE_WINDOW", "5");
  Config c;
  apply_environment(c);
  EXPECT_DOUBLE_EQ(c.limits.send_rate, 7.5);
  EXPECT_EQ(c.listen, "127.0.0.1:0");
  EXPECT_EQ(c.limits.max_frame_bytes, 2048u);
  EXPECT_EQ(c.rooms.dedupe_window, 5u);
  EXPECT_EQ(c.data_dir, "./data");
}

TEST(ConfigEnv, NothingSetChangesNothing) {
  Config c;
  apply_environment(c);
  EXPECT_EQ(parley::app::describe(c), [] {
    Config d;
    return parley::app::describe(d);
  }());
}

TEST(ConfigEnv, BadValueNamesTheKey) {
  ScopedEnv a("PARLEY_LIMITS_SEND_RATE", "fast");
  Config c;
  const std::string what = invalid_argument_of([&] { apply_environment(c); });
  EXPECT_TRUE(contains(what, "limits.send_rate")) << what;
}

TEST(ConfigEnv, LowerCaseNamesAreNotRead) {
  ScopedEnv a("parley_limits_send_rate", "3");
  Config c;
  apply_environment(c);
  EXPECT_DOUBLE_EQ(c.limits.send_rate, 10.0);
}

}  // namespace
