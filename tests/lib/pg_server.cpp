#include "pg_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace parley::test {

namespace {

// The newest /usr/lib/postgresql/<version>/bin holding initdb (PARLEY_PG_BINDIR overrides).
std::filesystem::path find_bindir() {
  if (const char* env = std::getenv("PARLEY_PG_BINDIR"))
    return std::filesystem::exists(std::filesystem::path(env) / "initdb") ? env : "";
  std::filesystem::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto bin = entry.path() / "bin";
    const int version = std::atoi(entry.path().filename().c_str());
    if (std::filesystem::exists(bin / "initdb") && std::filesystem::exists(bin / "pg_ctl") && version > best_version) {
      best = bin;
      best_version = version;
    }
  }
  return best;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string tail(const std::filesystem::path& file, std::size_t bytes = 2000) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

}  // namespace

std::string PgServer::unavailable_reason() {
  if (find_bindir().empty())
    return "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)";
  if (::geteuid() == 0 && !::getpwnam("postgres"))
    return "running as root but there is no `postgres` user to run PostgreSQL as";
  return {};
}

PgServer::PgServer() : bin_(find_bindir()), port_(free_port()) {
  if (bin_.empty()) throw std::runtime_error(unavailable_reason());
  char tmpl[] = "/tmp/parley-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  data_ = dir_ / "data";
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot hand " + dir_.string() + " to the postgres user");
  }
  try {
    run({(bin_ / "initdb").string(), "-D", data_.string(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
         "-N"});
    start();
  } catch (...) {
    std::filesystem::remove_all(dir_);
    throw;
  }
}

PgServer::~PgServer() {
  try {
    if (running_) stop();
  } catch (...) {
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PgServer::start() {
  // fsync off: a test server never outlives a machine crash; an immediate stop is a process
  // crash, which the OS page cache survives.
  const std::string options = "-p " + std::to_string(port_) + " -k " + dir_.string() +
                              " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50";
  run({(bin_ / "pg_ctl").string(), "-D", data_.string(), "-l", (dir_ / "server.log").string(), "-w", "-t", "60", "-o",
       options, "start"});
  running_ = true;
}

void PgServer::stop() {
  run({(bin_ / "pg_ctl").string(), "-D", data_.string(), "-m", "fast", "-w", "stop"});
  running_ = false;
}

void PgServer::kill() {
  run({(bin_ / "pg_ctl").string(), "-D", data_.string(), "-m", "immediate", "-w", "stop"});
  running_ = false;
}

std::string PgServer::conninfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

void PgServer::run(const std::vector<std::string>& args) {
  std::vector<std::string> full;
  if (::geteuid() == 0) full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), args.begin(), args.end());
  const auto log = dir_ / "commands.log";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    // The postgres user may not be able to enter the test's working directory.
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (auto& a : full) cmd += a + " ";
    throw std::runtime_error("command failed: " + cmd + "\n" + tail(log) + "\nserver log:\n" +
                             tail(dir_ / "server.log"));
  }
}

void PgServer::create_database(const std::string& name) { query("postgres", "CREATE DATABASE \"" + name + "\""); }

std::vector<std::vector<std::string>> PgServer::query(const std::string& database, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo(database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("connect: " + err);
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string err = PQerrorMessage(conn);
    PQclear(r);
    PQfinish(conn);
    throw std::runtime_error(sql + ": " + err);
  }
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r); ++i) {
    auto& row = rows.emplace_back();
    for (int c = 0; c < PQnfields(r); ++c) row.emplace_back(PQgetvalue(r, i, c), PQgetlength(r, i, c));
  }
  PQclear(r);
  PQfinish(conn);
  return rows;
}

}  // namespace parley::test
