#pragma once
// SqliteStore: the embedded default. One file in the data directory, WAL mode, one thread that
// owns the connection and commits every append queued since its last commit in one transaction
// (group commit): under load a batch holds thousands of messages for the price of one commit.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <variant>

#include "store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace parley::store {

struct SqliteOptions {
  std::filesystem::path path;     // the database file
  std::string synchronous = "NORMAL";  // NORMAL: durable against a crashed process; FULL: also power loss
  std::size_t max_queue = 100000;  // messages waiting for commit before sends are refused
  std::size_t max_batch = 10000;   // messages per transaction
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) and migrates the database; throws std::runtime_error on failure.
  explicit SqliteStore(SqliteOptions options);
  ~SqliteStore() override;

  std::vector<StoredRoom> load_rooms() override;
  void create_room_now(const StoredRoom& room) override;
  void create_room(StoredRoom room, Done done) override;
  bool has_capacity() const override;
  void append(std::vector<core::Message> batch, Done done) override;
  void read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit,
            ReadDone done) override;
  void flush() override;
  void stop() override;
  StoreStats stats() const override;

 private:
  struct CreateJob { StoredRoom room; Done done; };
  struct AppendJob { std::vector<core::Message> batch; Done done; };
  struct ReadJob { std::string room; std::uint64_t after, before; std::size_t limit; ReadDone done; };
  struct FlushJob { std::function<void()> done; };
  using Job = std::variant<CreateJob, AppendJob, ReadJob, FlushJob>;

  void run();
  void submit(Job job);
  void commit_appends(std::vector<AppendJob*>& jobs);
  std::error_code insert_room(const StoredRoom& room);
  std::error_code read_now(const ReadJob& job, std::vector<core::Message>& out);
  void exec(const char* sql);
  void migrate();

  SqliteOptions options_;
  sqlite3* db_ = nullptr;
  static constexpr std::size_t insert_rows = 32;
  sqlite3_stmt* insert_message_ = nullptr;
  sqlite3_stmt* insert_messages_ = nullptr;  // insert_rows rows at once
  sqlite3_stmt* insert_room_ = nullptr;
  sqlite3_stmt* select_range_ = nullptr;

  std::mutex mutex_;  // guards jobs_ and stopping_; never held during SQLite work
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> batch_micros_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace parley::store
