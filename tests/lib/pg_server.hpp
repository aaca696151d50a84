#pragma once
// PgServer: a throwaway PostgreSQL server for tests, from the Debian packages. initdb into a
// temporary directory and run it on a free loopback port; as root, both run as the `postgres`
// user (PostgreSQL refuses to run as root). The destructor stops it and removes the directory.
#include <filesystem>
#include <string>
#include <vector>

namespace parley::test {

class PgServer {
 public:
  // Empty when a server can run here; otherwise why not (binaries absent, no postgres user).
  static std::string unavailable_reason();

  // initdb and start; throws std::runtime_error with the tail of the log on failure.
  PgServer();
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  void start();  // pg_ctl start -w (same port and data)
  void stop();   // pg_ctl stop -m fast
  void kill();   // pg_ctl stop -m immediate: as abrupt as a crash, connections cut
  int port() const { return port_; }
  std::string conninfo(const std::string& database = "postgres") const;

  void create_database(const std::string& name);
  // Runs `sql` on `database` over its own connection; returns the rows as text. Throws on error.
  std::vector<std::vector<std::string>> query(const std::string& database, const std::string& sql);

 private:
  void run(const std::vector<std::string>& args);

  std::filesystem::path dir_, data_, bin_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace parley::test
