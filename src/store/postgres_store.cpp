#include "store/postgres_store.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <stdexcept>

#include "protocol/errc.hpp"

namespace parley::store {

namespace {

using protocol::errc;
using Clock = std::chrono::steady_clock;

// Schema versions, applied in order; schema_version records each one applied. Never edit one that
// has shipped: add the next.
constexpr const char* migrations[] = {
    R"sql(
    CREATE TABLE rooms (
      id text PRIMARY KEY,
      created_at bigint NOT NULL,
      created_by text NOT NULL
    );
    CREATE TABLE messages (
      room text NOT NULL,
      seq bigint NOT NULL,
      sender text NOT NULL,
      text text NOT NULL,
      ts bigint NOT NULL,
      cid text NOT NULL,
      PRIMARY KEY (room, seq)
    );
    )sql",
};

// Nodes starting together against one database take this advisory lock around their migrations.
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(7079686568)";  // "parley" digits

// 500 rows x 6 parameters: far below the protocol's 65,535 parameters per statement, large enough
// that a 10,000-message batch is 20 statements.
constexpr std::size_t chunk_rows = 500;
constexpr unsigned text_oid = 25;
constexpr unsigned int8_oid = 20;

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Statement parameters: strings go in binary format (their exact bytes: a NUL byte is rejected by
// the server instead of silently cutting the text short), integers as decimal text.
class Params {
 public:
  void text(const std::string& s) {
    values_.push_back(s.data());
    lengths_.push_back(static_cast<int>(s.size()));
    formats_.push_back(1);
    types_.push_back(text_oid);
  }
  void int8(std::int64_t v) {
    const std::string& s = ints_.emplace_back(std::to_string(v));  // deque: stable addresses
    values_.push_back(s.c_str());
    lengths_.push_back(0);
    formats_.push_back(0);
    types_.push_back(int8_oid);
  }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }
  const unsigned* types() const { return types_.data(); }
  void reserve(std::size_t n) {
    values_.reserve(n);
    lengths_.reserve(n);
    formats_.reserve(n);
    types_.reserve(n);
  }

 private:
  std::deque<std::string> ints_;
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
  std::vector<unsigned> types_;
};

std::int64_t clamp64(std::uint64_t v) { return static_cast<std::int64_t>(std::min<std::uint64_t>(v, INT64_MAX)); }

std::string insert_sql(std::size_t rows) {
  std::string sql = "INSERT INTO messages(room, seq, sender, text, ts, cid) VALUES ";
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t p = i * 6;
    if (i) sql += ',';
    sql += "($" + std::to_string(p + 1) + ",$" + std::to_string(p + 2) + ",$" + std::to_string(p + 3) + ",$" +
           std::to_string(p + 4) + ",$" + std::to_string(p + 5) + ",$" + std::to_string(p + 6) + ")";
  }
  sql += " ON CONFLICT (room, seq) DO NOTHING";
  return sql;
}

// libpq's messages span lines ("...\n\tIs the server running..."): one line per log entry.
std::string trimmed(const char* msg) {
  std::string s;
  for (const char* p = msg ? msg : ""; *p; ++p) {
    if (*p == '\n' || *p == '\t') {
      if (!s.empty() && s.back() != ' ') s += ' ';
    } else {
      s += *p;
    }
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.empty() ? "unknown error" : s;
}

std::string sqlstate(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}

// The conninfo without its password, for messages.
std::string describe(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string msg = "unparsable conninfo: " + trimmed(err);
    PQfreemem(err);
    return msg;
  }
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (!o->val || std::strcmp(o->keyword, "password") == 0) continue;
    if (!out.empty()) out += ' ';
    out += std::string(o->keyword) + "=" + o->val;
  }
  PQconninfoFree(opts);
  return out.empty() ? "libpq defaults" : out;
}

std::string column(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

std::int64_t int_column(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

}  // namespace

PostgresStore::PostgresStore(PostgresOptions options) : options_(std::move(options)) {
  const auto deadline = Clock::now() + options_.connect_timeout;
  auto backoff = std::chrono::milliseconds(100);
  std::string err;
  while (!connect_once(err)) {
    if (Clock::now() + backoff > deadline)
      throw std::runtime_error("cannot connect to PostgreSQL (" + describe(options_.conninfo) + ") within " +
                               std::to_string(options_.connect_timeout.count()) + " ms: " + err);
    spdlog::warn("store: PostgreSQL not reachable yet, retrying in {} ms: {}", backoff.count(), err);
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
  try {
    migrate();
  } catch (...) {
    disconnect();
    throw;
  }
  thread_ = std::thread([this] { run(); });
}

PostgresStore::~PostgresStore() {
  stop();
  disconnect();
}

bool PostgresStore::connect_once(std::string& err) {
  disconnect();
  // Defaults first: the operator's conninfo (expanded from "dbname") overrides any of them.
  const char* keys[] = {"connect_timeout",     "client_encoding",  "application_name", "keepalives", "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "dbname",           nullptr};
  const char* values[] = {"5", "UTF8", "parley", "1", "10", "5", "3", options_.conninfo.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    err = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    disconnect();
    return false;
  }
  // Prepared per connection: a reconnect prepares them again.
  const std::pair<const char*, std::string> statements[] = {
      {"parley_insert_messages", insert_sql(chunk_rows)},
      {"parley_select_one", "SELECT sender, text, ts, cid FROM messages WHERE room = $1 AND seq = $2"},
      {"parley_select_range",
       "SELECT seq, sender, text, ts, cid FROM messages WHERE room = $1 AND seq > $2 AND seq < $3 "
       "ORDER BY seq DESC LIMIT $4"},
      {"parley_insert_room",
       "INSERT INTO rooms(id, created_at, created_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"},
      {"parley_select_room",
       "SELECT created_at, created_by, COALESCE((SELECT MAX(seq) FROM messages WHERE room = $1), 0) FROM rooms "
       "WHERE id = $1"},
  };
  for (const auto& [name, sql] : statements) {
    Result r(PQprepare(conn_, name, sql.c_str(), 0, nullptr));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      const std::string state = sqlstate(r.get());
      // 42P01 (no such table) before the first migration: prepared again after it.
      if (state == "42P01") continue;
      err = std::string("prepare ") + name + ": " + trimmed(PQerrorMessage(conn_));
      disconnect();
      return false;
    }
  }
  return true;
}

bool PostgresStore::ensure_connected(std::string& err) {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK) return true;
  if (!connect_once(err)) return false;
  spdlog::info("store: reconnected to PostgreSQL ({})", describe(options_.conninfo));
  return true;
}

void PostgresStore::disconnect() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void PostgresStore::migrate() {
  auto exec = [this](const char* sql) {
    Result r(PQexec(conn_, sql));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const std::string msg = trimmed(PQerrorMessage(conn_));
      Result(PQexec(conn_, "ROLLBACK"));
      throw std::runtime_error(std::string("PostgreSQL schema migration failed: ") + msg);
    }
    return r;
  };
  exec("BEGIN");
  exec(migration_lock);
  exec("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at bigint NOT NULL)");
  Result v = exec("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  const int version = static_cast<int>(int_column(v.get(), 0, 0));
  const int latest = static_cast<int>(std::size(migrations));
  if (version > latest) {
    Result(PQexec(conn_, "ROLLBACK"));
    throw std::runtime_error("database schema version " + std::to_string(version) + " is newer than this binary's " +
                             std::to_string(latest));
  }
  for (int n = version; n < latest; ++n) {
    exec(migrations[n]);
    const std::string record = "INSERT INTO schema_version(version, applied_at) VALUES (" + std::to_string(n + 1) +
                               ", (extract(epoch from now()) * 1000)::bigint)";
    exec(record.c_str());
    spdlog::info("store: applied PostgreSQL schema migration {}", n + 1);
  }
  exec("COMMIT");
  // Statements over tables the migrations just created: here, or by another node while this one
  // connected (connect_once skipped them while the tables did not exist yet).
  Result described(PQdescribePrepared(conn_, "parley_insert_room"));
  if (version < latest || PQresultStatus(described.get()) != PGRES_COMMAND_OK) {
    std::string err;
    if (!connect_once(err)) throw std::runtime_error("PostgreSQL reconnect after migration failed: " + err);
  }
}

std::vector<StoredRoom> PostgresStore::load_rooms() {
  std::promise<std::vector<StoredRoom>> done;
  submit(CallJob{[&] {
    try {
      done.set_value(load_rooms_now());
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  }});
  return done.get_future().get();
}

std::vector<StoredRoom> PostgresStore::load_rooms_now() {
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) continue;
    Result r(PQexec(conn_,
                    "SELECT id, created_at, created_by, "
                    "COALESCE((SELECT MAX(seq) FROM messages m WHERE m.room = r.id), 0) FROM rooms r ORDER BY id"));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
      std::vector<StoredRoom> rooms;
      for (int i = 0; i < PQntuples(r.get()); ++i)
        rooms.push_back(StoredRoom{column(r.get(), i, 0), static_cast<std::uint64_t>(int_column(r.get(), i, 3)),
                                   int_column(r.get(), i, 1), column(r.get(), i, 2)});
      return rooms;
    }
    err = trimmed(PQerrorMessage(conn_));
    if (PQstatus(conn_) == CONNECTION_OK) break;
  }
  throw std::runtime_error("cannot load rooms from PostgreSQL: " + err);
}

void PostgresStore::create_room_now(const StoredRoom& room) {
  std::promise<std::error_code> done;
  create_room(room, [&](std::error_code ec) { done.set_value(ec == errc::room_exists ? std::error_code() : ec); });
  if (auto ec = done.get_future().get())
    throw std::runtime_error("cannot create room " + room.id + ": " + ec.message());
}

void PostgresStore::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  // Stopped: fail the job on the caller's thread.
  std::visit(
      [this](auto& j) {
        using J = std::decay_t<decltype(j)>;
        if constexpr (std::is_same_v<J, ReadJob>)
          j.done(errc::store_failed, {});
        else if constexpr (std::is_same_v<J, FindRoomJob>)
          j.done(errc::store_failed, std::nullopt);
        else if constexpr (std::is_same_v<J, CallJob>)
          j.fn();  // the store thread has exited
        else if constexpr (std::is_same_v<J, AppendJob>) {
          queued_.fetch_sub(j.batch.size());
          j.done(errc::store_failed);
        } else
          j.done(errc::store_failed);
      },
      job);
}

void PostgresStore::create_room(StoredRoom room, Done done) { submit(CreateJob{std::move(room), std::move(done)}); }

bool PostgresStore::has_capacity() const { return queued_.load(std::memory_order_relaxed) < options_.max_queue; }

void PostgresStore::append(std::vector<core::Message> batch, Done done) {
  queued_.fetch_add(batch.size());
  submit(AppendJob{std::move(batch), std::move(done), {}});
}

void PostgresStore::read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit,
                         ReadDone done) {
  submit(ReadJob{std::move(room), after, before, limit, std::move(done)});
}

void PostgresStore::find_room(std::string room, FindRoomDone done) {
  submit(FindRoomJob{std::move(room), std::move(done)});
}

void PostgresStore::flush() {
  std::promise<void> done;
  submit(CallJob{[&] { done.set_value(); }});
  done.get_future().wait();
}

void PostgresStore::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) stop_deadline_ = Clock::now() + options_.stop_timeout;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

StoreStats PostgresStore::stats() const {
  return StoreStats{batches_.load(std::memory_order_relaxed), messages_.load(std::memory_order_relaxed),
                    batch_micros_.load(std::memory_order_relaxed), queued_.load(std::memory_order_relaxed),
                    failures_.load(std::memory_order_relaxed)};
}

bool PostgresStore::keep_retrying() {
  std::lock_guard lock(mutex_);
  return !stopping_ || Clock::now() < stop_deadline_;
}

void PostgresStore::sleep_backoff(std::chrono::milliseconds& backoff) {
  std::this_thread::sleep_for(backoff);
  backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
}

void PostgresStore::run() {
  std::deque<Job> work;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty() && stopping_) return;
      work.swap(jobs_);
    }
    // Consecutive appends share one transaction; other jobs run in between, in order.
    std::vector<AppendJob*> appends;
    std::size_t batched = 0;
    auto commit_pending = [&] {
      if (!appends.empty()) commit_appends(appends);
      appends.clear();
      batched = 0;
    };
    for (Job& job : work) {
      if (auto* a = std::get_if<AppendJob>(&job)) {
        if (batched + a->batch.size() > options_.max_batch) commit_pending();
        appends.push_back(a);
        batched += a->batch.size();
        continue;
      }
      commit_pending();
      if (auto* c = std::get_if<CreateJob>(&job)) {
        c->done(insert_room(c->room));
      } else if (auto* r = std::get_if<ReadJob>(&job)) {
        std::vector<core::Message> out;
        auto ec = read_now(*r, out);
        r->done(ec, std::move(out));
      } else if (auto* fr = std::get_if<FindRoomJob>(&job)) {
        std::optional<StoredRoom> found;
        auto ec = find_room_now(fr->room, found);
        fr->done(ec, std::move(found));
      } else if (auto* f = std::get_if<CallJob>(&job)) {
        f->fn();
      }
    }
    commit_pending();
    work.clear();
  }
}

void PostgresStore::commit_appends(std::vector<AppendJob*>& jobs) {
  std::size_t n = 0;
  for (auto* j : jobs) n += j->batch.size();
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    const auto t0 = Clock::now();
    std::string err;
    Outcome outcome = ensure_connected(err) ? try_commit(jobs, err) : Outcome::connection_lost;
    if (outcome == Outcome::ok) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
      batches_.fetch_add(1, std::memory_order_relaxed);
      messages_.fetch_add(n, std::memory_order_relaxed);
      batch_micros_.fetch_add(static_cast<std::uint64_t>(us.count()), std::memory_order_relaxed);
      queued_.fetch_sub(n);
      for (auto* j : jobs) j->done(j->result);
      return;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (outcome == Outcome::data_error) {
      // The server refuses a row as data: retrying the batch would fail forever. Commit each
      // append on its own so only the one holding the bad row fails.
      if (jobs.size() > 1) {
        spdlog::warn("store: batch of {} appends rejected ({}); committing them one by one", jobs.size(), err);
        for (auto* j : jobs) {
          std::vector<AppendJob*> one{j};
          commit_appends(one);
        }
        return;
      }
      spdlog::error("store: append of {} messages rejected by PostgreSQL: {}", n, err);
      queued_.fetch_sub(n);
      jobs.front()->done(errc::store_failed);
      return;
    }
    // Connection lost or a transient error: retry with the same seqs (skipping them would leave
    // a hole). If the COMMIT itself was cut off, the retry finds the rows and does not duplicate.
    if (!keep_retrying()) {
      spdlog::error("store: commit of {} messages failed at shutdown: {}", n, err);
      queued_.fetch_sub(n);
      for (auto* j : jobs) j->done(errc::store_failed);
      return;
    }
    spdlog::error("store: commit of {} messages failed, retrying in {} ms: {}", n, backoff.count(), err);
    sleep_backoff(backoff);
  }
}

PostgresStore::Outcome PostgresStore::classify_failure(const PGresult* r, std::string& err) {
  err = trimmed(PQerrorMessage(conn_));
  const std::string state = sqlstate(r);
  // Class 22 (data exception, e.g. a NUL byte in a text) and 54 (program limit): this row can
  // never be stored. The transaction is rolled back; the connection is fine.
  if (PQstatus(conn_) == CONNECTION_OK && (state.starts_with("22") || state.starts_with("54"))) {
    Result(PQexec(conn_, "ROLLBACK"));
    return Outcome::data_error;
  }
  // Anything else: start over on a fresh connection, whatever state this one is in.
  const bool lost = PQstatus(conn_) != CONNECTION_OK || state.starts_with("08") || state.starts_with("57P");
  disconnect();
  return lost ? Outcome::connection_lost : Outcome::failed;
}

PostgresStore::Outcome PostgresStore::try_commit(std::vector<AppendJob*>& jobs, std::string& err) {
  for (auto* j : jobs) j->result = {};
  {
    Result r(PQexec(conn_, "BEGIN"));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return classify_failure(r.get(), err);
  }
  std::vector<const core::Message*> rows;
  std::vector<AppendJob*> owners;
  for (auto* j : jobs) {
    for (const auto& m : j->batch) {
      rows.push_back(&m);
      owners.push_back(j);
      if (rows.size() == chunk_rows) {
        if (auto o = insert_chunk(rows.data(), rows.size(), owners, err); o != Outcome::ok) return o;
        rows.clear();
        owners.clear();
      }
    }
  }
  if (!rows.empty()) {
    if (auto o = insert_chunk(rows.data(), rows.size(), owners, err); o != Outcome::ok) return o;
  }
  Result r(PQexec(conn_, "COMMIT"));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return classify_failure(r.get(), err);
  return Outcome::ok;
}

PostgresStore::Outcome PostgresStore::insert_chunk(const core::Message* const* rows, std::size_t n,
                                                   std::vector<AppendJob*>& owners, std::string& err) {
  Params p;
  p.reserve(n * 6);
  for (std::size_t i = 0; i < n; ++i) {
    const core::Message& m = *rows[i];
    p.text(m.room);
    p.int8(clamp64(m.seq));
    p.text(m.from);
    p.text(m.text);
    p.int8(m.ts);
    p.text(m.cid);
  }
  Result r(
      n == chunk_rows
          ? PQexecPrepared(conn_, "parley_insert_messages", p.size(), p.values(), p.lengths(), p.formats(), 0)
          : PQexecParams(conn_, insert_sql(n).c_str(), p.size(), p.types(), p.values(), p.lengths(), p.formats(), 0));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return classify_failure(r.get(), err);
  if (static_cast<std::size_t>(std::strtoull(PQcmdTuples(r.get()), nullptr, 10)) == n) return Outcome::ok;

  // Some (room, seq) were already stored: by this very batch before its connection died (an
  // ambiguous commit, now retried), or by another node recovering the same message. The same
  // message is fine; a different one under the same seq fails the append that carried it.
  for (std::size_t i = 0; i < n; ++i) {
    const core::Message& m = *rows[i];
    Params q;
    q.text(m.room);
    q.int8(clamp64(m.seq));
    Result s(PQexecPrepared(conn_, "parley_select_one", q.size(), q.values(), q.lengths(), q.formats(), 0));
    if (PQresultStatus(s.get()) != PGRES_TUPLES_OK) return classify_failure(s.get(), err);
    const bool same = PQntuples(s.get()) == 1 && column(s.get(), 0, 0) == m.from && column(s.get(), 0, 1) == m.text &&
                      int_column(s.get(), 0, 2) == m.ts && column(s.get(), 0, 3) == m.cid;
    if (!same) {
      spdlog::error("store: {} seq {} is already stored with a different message; append refused", m.room, m.seq);
      owners[i]->result = errc::store_failed;
    }
  }
  return Outcome::ok;
}

std::error_code PostgresStore::insert_room(const StoredRoom& room) {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    std::string err;
    if (ensure_connected(err)) {
      Params p;
      p.text(room.id);
      p.int8(room.created_at);
      p.text(room.created_by);
      Result r(PQexecPrepared(conn_, "parley_insert_room", p.size(), p.values(), p.lengths(), p.formats(), 0));
      if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
        if (std::string_view(PQcmdTuples(r.get())) != "0") return {};
        // ON CONFLICT DO NOTHING: the room is there. Ours, if an earlier attempt stored it and
        // its answer was lost with the connection; else another creation's.
        std::optional<StoredRoom> stored;
        if (auto ec = find_room_now(room.id, stored)) return ec;
        const bool ours = stored && stored->created_at == room.created_at && stored->created_by == room.created_by;
        return ours ? std::error_code() : std::error_code(errc::room_exists);
      }
      err = trimmed(PQerrorMessage(conn_));
      if (PQstatus(conn_) == CONNECTION_OK && sqlstate(r.get()).starts_with("22")) {
        spdlog::error("store: cannot create room {}: {}", room.id, err);
        return errc::store_failed;
      }
      disconnect();
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!keep_retrying()) {
      spdlog::error("store: cannot create room {}: {}", room.id, err);
      return errc::store_failed;
    }
    spdlog::error("store: creating room {} failed, retrying in {} ms: {}", room.id, backoff.count(), err);
    sleep_backoff(backoff);
  }
}

std::error_code PostgresStore::read_now(const ReadJob& job, std::vector<core::Message>& out) {
  // A read is not retried through an outage: the caller gets an error now, not a stalled reply.
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) break;
    Params p;
    p.text(job.room);
    p.int8(clamp64(job.after));
    p.int8(job.before == 0 ? std::numeric_limits<std::int64_t>::max() : clamp64(job.before));
    p.int8(clamp64(job.limit));
    Result r(PQexecPrepared(conn_, "parley_select_range", p.size(), p.values(), p.lengths(), p.formats(), 0));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
      const int rows = PQntuples(r.get());
      out.reserve(static_cast<std::size_t>(rows));
      for (int i = rows - 1; i >= 0; --i)
        out.push_back(core::Message{job.room, static_cast<std::uint64_t>(int_column(r.get(), i, 0)),
                                    column(r.get(), i, 1), column(r.get(), i, 2), int_column(r.get(), i, 3),
                                    column(r.get(), i, 4)});
      return {};
    }
    err = trimmed(PQerrorMessage(conn_));
    if (PQstatus(conn_) == CONNECTION_OK) break;  // a query error, not a lost connection
    disconnect();
  }
  spdlog::error("store: read of {} failed: {}", job.room, err);
  return errc::store_failed;
}

std::error_code PostgresStore::find_room_now(const std::string& room, std::optional<StoredRoom>& out) {
  // As a read: not retried through an outage (the node asking answers its client now).
  std::string err;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!ensure_connected(err)) break;
    Params p;
    p.text(room);
    Result r(PQexecPrepared(conn_, "parley_select_room", p.size(), p.values(), p.lengths(), p.formats(), 0));
    if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
      if (PQntuples(r.get()) == 1)
        out = StoredRoom{room, static_cast<std::uint64_t>(int_column(r.get(), 0, 2)), int_column(r.get(), 0, 0),
                         column(r.get(), 0, 1)};
      return {};
    }
    err = trimmed(PQerrorMessage(conn_));
    if (PQstatus(conn_) == CONNECTION_OK) break;  // a query error, not a lost connection
    disconnect();
  }
  spdlog::error("store: lookup of room {} failed: {}", room, err);
  return errc::store_failed;
}

}  // namespace parley::store
