#pragma once
// SqliteStore: the embedded default. One file in the data directory (and the search index, a
// file beside it: sqlite_search_index.hpp), WAL mode, one thread (a StoreWorker) that owns the
// connection and commits every append queued since its last commit in one transaction (group
// commit): under load a batch holds thousands of messages for the price of one commit. A failed
// commit is retried until it succeeds; at stop() it fails at once (a local file that fails is not
// waited for).
// Checkpoints (copying the WAL into the database file, with two fsyncs) run on a second thread
// with its own connection, so that commits rarely wait for the disk: only every 4,000 WAL pages
// does the writer finish a checkpoint's last few pages itself, which lets the WAL start over.
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <thread>

#include "store/searcher.hpp"
#include "store/store.hpp"
#include "store/store_worker.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace parley::store {

struct SqliteOptions {
  std::filesystem::path path;           // the database file
  std::string synchronous = "NORMAL";   // NORMAL: durable against a crashed process; FULL: also power loss
  std::size_t max_queue = 100000;       // messages waiting for commit before sends are refused
  std::size_t max_batch = 10000;        // messages per transaction
  std::size_t checkpoint_pages = 1000;  // WAL pages that start a background checkpoint (SQLite's default)
  int search_nice = 0;                  // the searcher thread's niceness above the process's (Searcher)
  int search_share = 100;               // percent of its time the searcher indexes while behind (Searcher)
};

class SqliteStore final : public Store, private StoreBackend {
 public:
  // Opens (creating if needed) and migrates the database; throws std::runtime_error on failure.
  explicit SqliteStore(SqliteOptions options);
  ~SqliteStore() override;

  std::vector<StoredRoom> load_rooms() override;
  void create_room_now(const StoredRoom& room) override;
  void create_room(StoredRoom room, Done done) override;
  void delete_room(std::string room, Done done) override;
  bool has_capacity() const override;
  void append(std::vector<core::Message> batch, Done done) override;
  void read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit, ReadDone done) override;
  void find_room(std::string room, FindRoomDone done) override;
  void create_user(StoredUser user, Done done) override;
  void find_user_by_name_key(std::string name_key, FindUserDone done) override;
  void find_user(std::string id, FindUserDone done) override;
  void set_password(std::string user_id, std::string password_hash, std::string keep_session_digest,
                    Done done) override;
  void delete_user(std::string user_id, Done done) override;
  void create_session(StoredSession session, std::size_t max_per_user, CreateSessionDone done) override;
  void find_session(std::string token_digest, std::int64_t now_ms, FindSessionDone done) override;
  void touch_session(std::string token_digest, std::int64_t last_seen_at, std::int64_t expires_at, Done done) override;
  void list_sessions(std::string user_id, ListSessionsDone done) override;
  void revoke_session(std::string user_id, std::string token_digest, Done done) override;
  void revoke_sessions(std::string user_id, Done done) override;
  void sweep_sessions(std::int64_t now_ms, Done done) override;
  void load_access(std::string room, AccessDone done) override;
  void set_member(std::string room, StoredMember member, Done done) override;
  void remove_member(std::string room, std::string user_id, bool ban, Done done) override;
  void unban(std::string room, std::string user_id, Done done) override;
  void load_roster(std::string room, std::size_t limit, RosterDone done) override;
  void set_room_info(std::string room, std::string title, std::string topic, Done done) override;
  void set_read(std::string user_id, std::string room, std::uint64_t seq, SetReadDone done) override;
  void read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                   ReadStatesDone done) override;
  void room_reads(std::string room, std::size_t limit, SeenDone done) override;
  void search(SearchQuery query, SearchDone done) override;
  void create_api_key(StoredApiKey key, Done done) override;
  void find_api_key(std::string id, FindApiKeyDone done) override;
  void list_api_keys(ListApiKeysDone done) override;
  void revoke_api_key(std::string id, std::int64_t now_ms, RevokeApiKeyDone done) override;
  void touch_api_key(std::string id, std::int64_t now_ms, Done done) override;
  void put_file(StoredFile file, std::uint64_t quota_bytes, Done done) override;
  void find_file(std::string id, FindFileDone done) override;
  void claim_files(std::string room, std::string uploader_id, std::string cid, std::vector<std::string> ids,
                   std::int64_t now_ms, FilesDone done) override;
  void take_file_trash(std::int64_t unattached_before, std::size_t limit, FileIdsDone done) override;
  void flush() override;
  void stop() override;
  StoreStats stats() const override;

  // Background checkpoint passes run, and checkpoints the writer finished between transactions.
  std::uint64_t checkpoint_passes() const noexcept { return checkpoint_passes_.load(std::memory_order_relaxed); }
  std::uint64_t checkpoint_finishes() const noexcept { return checkpoint_finishes_.load(std::memory_order_relaxed); }

 private:
  Outcome try_commit(std::span<Append> appends, std::string& err) override;
  // The row stored under m's (room, seq), compared with m (try_commit, after an insert skipped
  // it): this very message (a retry), another one (seq_taken), or the read failed.
  enum class Stored { same, taken, failed };
  Stored stored_as(const core::Message& m);
  Outcome try_create_room(const StoredRoom& room, std::error_code& result, std::string& err) override;
  Outcome try_delete_room(const std::string& room, std::string& err) override;
  std::error_code read_now(const std::string& room, std::uint64_t after, std::uint64_t before, std::size_t limit,
                           std::vector<core::Message>& out) override;
  std::error_code find_room_now(const std::string& room, std::optional<StoredRoom>& out) override;
  std::vector<StoredRoom> load_rooms_now() override;
  // Accounts: sqlite_accounts.cpp.
  std::error_code create_user_now(const StoredUser& user) override;
  std::error_code find_user_by_name_key_now(const std::string& name_key, std::optional<StoredUser>& out) override;
  std::error_code find_user_now(const std::string& id, std::optional<StoredUser>& out) override;
  std::error_code set_password_now(const std::string& user_id, const std::string& password_hash,
                                   const std::string& keep_session_digest) override;
  std::error_code delete_user_now(const std::string& user_id) override;
  std::error_code create_session_now(const StoredSession& session, std::size_t max_per_user,
                                     std::size_t& evicted) override;
  std::error_code find_session_now(const std::string& token_digest, std::int64_t now_ms,
                                   std::optional<std::pair<StoredSession, StoredUser>>& out) override;
  std::error_code touch_session_now(const std::string& token_digest, std::int64_t last_seen_at,
                                    std::int64_t expires_at) override;
  std::error_code list_sessions_now(const std::string& user_id, std::vector<StoredSession>& out) override;
  std::error_code revoke_session_now(const std::string& user_id, const std::string& token_digest) override;
  std::error_code revoke_sessions_now(const std::string& user_id) override;
  std::error_code sweep_sessions_now(std::int64_t now_ms) override;
  // Room access: sqlite_access.cpp.
  std::error_code load_access_now(const std::string& room, StoredAccess& out) override;
  std::error_code set_member_now(const std::string& room, const StoredMember& member) override;
  std::error_code remove_member_now(const std::string& room, const std::string& user_id, bool ban) override;
  std::error_code unban_now(const std::string& room, const std::string& user_id) override;
  std::error_code load_roster_now(const std::string& room, std::size_t limit,
                                  std::vector<StoredRosterEntry>& out) override;
  std::error_code set_room_info_now(const std::string& room, const std::string& title,
                                    const std::string& topic) override;
  // Server API keys: sqlite_api_keys.cpp.
  std::error_code set_read_now(const std::string& user_id, const std::string& room, std::uint64_t seq,
                               std::uint64_t& stored) override;
  std::error_code read_states_now(const std::string& user_id, const std::string& name_key,
                                  const std::vector<std::string>& rooms, std::vector<StoredReadState>& out) override;
  std::error_code room_reads_now(const std::string& room, std::size_t limit, std::vector<StoredSeen>& out) override;
  std::error_code create_api_key_now(const StoredApiKey& key) override;
  std::error_code find_api_key_now(const std::string& id, std::optional<StoredApiKey>& out) override;
  std::error_code list_api_keys_now(std::vector<StoredApiKey>& out) override;
  std::error_code revoke_api_key_now(const std::string& id, std::int64_t now_ms, bool& revoked) override;
  std::error_code touch_api_key_now(const std::string& id, std::int64_t now_ms) override;
  // Files: sqlite_files.cpp. Inside a transaction: the files of a message (a delete entry's
  // target) or of a room to the trash, their rows gone.
  bool trash_message_files(const std::string& room, std::int64_t seq);
  bool trash_room_files(const std::string& room);
  std::error_code put_file_now(const StoredFile& file, std::uint64_t quota_bytes) override;
  std::error_code find_file_now(const std::string& id, std::optional<StoredFile>& out) override;
  std::error_code claim_files_now(const std::string& room, const std::string& uploader_id, const std::string& cid,
                                  const std::vector<std::string>& ids, std::int64_t now_ms,
                                  std::vector<StoredFile>& out) override;
  std::error_code take_file_trash_now(std::int64_t unattached_before, std::size_t limit,
                                      std::vector<std::string>& out) override;
  void prepare_accounts();
  std::vector<sqlite3_stmt*> account_statements() const;
  // Runs `steps` (each true on success) in one write transaction; false (rolled back) if any fails.
  bool in_transaction(std::initializer_list<std::function<bool()>> steps);
  // Logs what failed (never a value: a hash or digest may be among them); store_failed.
  std::error_code failed(const char* what);
  // Runs a one-key query of a users row (`stmt` selects user_columns, first placeholder the key).
  std::error_code select_one_user(sqlite3_stmt* stmt, const std::string& key, const char* what,
                                  std::optional<StoredUser>& out);

  void run_checkpointer();
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);
  void exec(const char* sql);
  void migrate();

  SqliteOptions options_;
  sqlite3* db_ = nullptr;
  static constexpr std::size_t insert_rows = 32;
  // A message's reactions on its row up to this many bytes (about eight, with ids), the rest rows
  // of their own: a row past about 1 KB spills to overflow pages, each one more page to write.
  static constexpr std::size_t inline_reactions_bytes = 480;
  sqlite3_stmt* insert_message_ = nullptr;
  sqlite3_stmt* insert_messages_ = nullptr;  // insert_rows rows at once
  sqlite3_stmt* apply_edit_ = nullptr;       // an edit stored: its target's text and edited time
  sqlite3_stmt* apply_delete_ = nullptr;     // a delete stored: its target's text gone, deleted
  sqlite3_stmt* clear_edit_ = nullptr;       // ... and the texts of its edits, one by one
  sqlite3_stmt* edit_before_ = nullptr;      // an edit's message (not deleted): its newest edit
  sqlite3_stmt* link_edit_ = nullptr;        // an edit: the edit of its message before it
  sqlite3_stmt* reactions_of_ = nullptr;     // a message's reactions on its row, and whether it spilled
  sqlite3_stmt* set_reactions_ = nullptr;    // ... changed
  sqlite3_stmt* select_one_ = nullptr;       // a stored row, compared with one whose insert it skipped
  sqlite3_stmt* apply_react_ = nullptr;      // a react stored: its reaction made
  sqlite3_stmt* apply_unreact_ = nullptr;    // an unreact stored: its reaction removed
  sqlite3_stmt* clear_reactions_ = nullptr;  // a delete stored: the target's reactions removed
  sqlite3_stmt* delete_room_reactions_ = nullptr;
  sqlite3_stmt* insert_room_ = nullptr;
  sqlite3_stmt* select_range_ = nullptr;
  sqlite3_stmt* select_room_ = nullptr;
  sqlite3_stmt* delete_messages_ = nullptr;
  sqlite3_stmt* delete_room_ = nullptr;
  sqlite3_stmt* insert_owner_ = nullptr;
  sqlite3_stmt* delete_room_members_ = nullptr;
  sqlite3_stmt* delete_room_bans_ = nullptr;
  sqlite3_stmt* delete_read_marks_ = nullptr;
  sqlite3_stmt* insert_user_ = nullptr;
  sqlite3_stmt* select_user_by_key_ = nullptr;
  sqlite3_stmt* select_user_ = nullptr;
  sqlite3_stmt* update_password_ = nullptr;
  sqlite3_stmt* mark_user_deleted_ = nullptr;
  sqlite3_stmt* delete_other_sessions_ = nullptr;  // of a user, but one
  sqlite3_stmt* delete_user_sessions_ = nullptr;
  sqlite3_stmt* insert_session_ = nullptr;
  sqlite3_stmt* select_session_ = nullptr;
  sqlite3_stmt* delete_expired_session_ = nullptr;
  sqlite3_stmt* touch_session_ = nullptr;
  sqlite3_stmt* select_sessions_ = nullptr;
  sqlite3_stmt* delete_session_ = nullptr;  // of a user
  sqlite3_stmt* sweep_sessions_ = nullptr;
  sqlite3_stmt* evict_sessions_ = nullptr;  // a user's oldest, beyond a cap

  // The store thread: it alone uses db_ and the statements above.
  StoreWorker worker_;

  // The background checkpointer: its own connection and thread. The commit hook (writer thread)
  // asks it for a pass every checkpoint_pages new WAL frames; once the WAL is 4 × that long and
  // a pass left only a few frames, the writer (finish_wanted_) copies those between two
  // transactions, and the WAL starts over.
  sqlite3* checkpoint_db_ = nullptr;
  std::thread checkpointer_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;    // guarded by checkpoint_mutex_
  bool checkpoint_running_ = false;   // a pass or the writer's finish is on; guarded by checkpoint_mutex_
  bool checkpoint_stopping_ = false;  // guarded by checkpoint_mutex_
  std::atomic<bool> finish_wanted_{false};
  std::atomic<std::size_t> backfilled_{0};  // WAL frames in the database after the last pass
  std::atomic<std::uint64_t> checkpoint_passes_{0};
  std::atomic<std::uint64_t> checkpoint_finishes_{0};

  // Searches and the search index (searcher.hpp, sqlite_search_index.hpp): out of the commits,
  // which mark their rooms for it.
  std::unique_ptr<Searcher> searcher_;
};

}  // namespace parley::store
