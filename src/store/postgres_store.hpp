#pragma once
// PostgresStore: the cluster store. Same contract as SqliteStore (see store.hpp): one thread (a
// StoreWorker) owns one libpq connection and commits every append queued since its last commit in
// one transaction (group commit, multi-row INSERTs). Several nodes share one database; each node's
// store only writes the (room, seq) pairs its broker assigned to it.
//
// Start: the migrations run in one transaction under an advisory lock (nodes starting together
// serialise: the later ones find the schema current), and only then are the statements prepared,
// all of them or the start fails. A statement that later fails because the connection lacks it
// (26000) or sees a changed schema (42P01, 42703, 0A000) is run again once on a new connection,
// on every call path; an idle store checks its connection once a second (probe_now).
// Failures: a lost connection is re-opened with backoff and the batch is retried with the same
// seqs; nothing is acked before its COMMIT returned. Inserts are `ON CONFLICT DO NOTHING` and every
// skipped row is compared with the stored one: a commit that succeeded just before the connection
// died (an ambiguous commit) is recognised on the retry and not duplicated; a *different* message
// already stored under the same (room, seq) fails only its own append (store_errc::seq_taken). A row
// the server rejects as data (class 22, e.g. a NUL byte in the text) fails only its own append too,
// so one bad message cannot wedge the queue.
// Account calls (postgres_accounts.cpp) run once more on a fresh connection when theirs was lost
// during the call (a server restarted while the node was idle), then answer store_failed: every
// one of them may run twice, a creation recognising its own row as rooms do.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/searcher.hpp"
#include "store/store.hpp"
#include "store/store_worker.hpp"

struct pg_conn;
struct pg_result;

namespace parley::store {

struct PostgresOptions {
  std::string conninfo;            // libpq key=value string or postgresql:// URI
  std::size_t max_queue = 100000;  // messages waiting for commit before sends are refused
  std::size_t max_batch = 10000;   // messages per transaction
  int search_nice = 0;             // the searcher thread's niceness above the process's (Searcher)
  int search_share = 100;          // percent of its time the searcher indexes while behind (Searcher)
  // Start-up: how long the constructor keeps trying to reach the server before it throws.
  std::chrono::milliseconds connect_timeout{10000};
  // stop(): how long queued writes keep being retried against an unreachable server before they
  // fail with errc::store_failed (nothing unacknowledged is claimed to be stored).
  std::chrono::milliseconds stop_timeout{10000};
};

// The search index of migration 13 (postgres_search.cpp), on a connection of its own.
std::unique_ptr<SearchIndex> postgres_search_index(const std::string& conninfo);

class PostgresStore final : public Store, private StoreBackend {
 public:
  // Connects (with bounded retry) and applies pending schema migrations; throws
  // std::runtime_error with the server's message when it cannot.
  explicit PostgresStore(PostgresOptions options);
  ~PostgresStore() override;

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

 private:
  Outcome try_commit(std::span<Append> appends, std::string& err) override;
  Outcome try_create_room(const StoredRoom& room, std::error_code& result, std::string& err) override;
  Outcome try_delete_room(const std::string& room, std::string& err) override;
  std::error_code read_now(const std::string& room, std::uint64_t after, std::uint64_t before, std::size_t limit,
                           std::vector<core::Message>& out) override;
  std::error_code find_room_now(const std::string& room, std::optional<StoredRoom>& out) override;
  std::vector<StoredRoom> load_rooms_now() override;
  // Accounts: postgres_accounts.cpp.
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
  // Room access: postgres_access.cpp.
  std::error_code load_access_now(const std::string& room, StoredAccess& out) override;
  std::error_code set_member_now(const std::string& room, const StoredMember& member) override;
  std::error_code remove_member_now(const std::string& room, const std::string& user_id, bool ban) override;
  std::error_code unban_now(const std::string& room, const std::string& user_id) override;
  std::error_code load_roster_now(const std::string& room, std::size_t limit,
                                  std::vector<StoredRosterEntry>& out) override;
  std::error_code set_room_info_now(const std::string& room, const std::string& title,
                                    const std::string& topic) override;
  // Server API keys: postgres_accounts.cpp.
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
  // Files: postgres_accounts.cpp.
  std::error_code put_file_now(const StoredFile& file, std::uint64_t quota_bytes) override;
  std::error_code find_file_now(const std::string& id, std::optional<StoredFile>& out) override;
  std::error_code claim_files_now(const std::string& room, const std::string& uploader_id, const std::string& cid,
                                  const std::vector<std::string>& ids, std::int64_t now_ms,
                                  std::vector<StoredFile>& out) override;
  std::error_code take_file_trash_now(std::int64_t unattached_before, std::size_t limit,
                                      std::vector<std::string>& out) override;
  // The account statements, prepared with the others on every connection.
  static std::vector<std::pair<const char*, std::string>> account_statements();
  // Runs an account operation (op() answers, or nullopt when a statement failed) on a live
  // connection, and once more on a fresh one if the connection was lost during it: every account
  // operation may run twice (a creation recognises its own row). Not more: a user is waiting.
  template <class Op>
  std::error_code account_call(const char* what, Op&& op);

  Outcome insert_chunk(const core::Message* const* rows, std::size_t n, std::vector<Append*>& owners, std::string& err);
  // Rows an INSERT found stored already: the same entry is fine, another one fails its append.
  Outcome check_stored(const core::Message* const* rows, std::size_t n, std::vector<Append*>& owners, std::string& err);
  // A batch's edits, deletes, reacts and unreacts, in (room, seq) order: each stored, and applied
  // to its target if it was not stored before (one call: parley_apply_changes).
  Outcome insert_changes(std::span<const std::pair<const core::Message*, Append*>> changes, std::string& err);
  // Classifies a failed statement (a row refused as data, or anything else: retried); rolls back
  // or drops the connection accordingly.
  Outcome classify_failure(const pg_result* r, std::string& err);

  // Connects; with `prepare`, prepares every statement (the schema must be current: after
  // migrate()) and fails unless all of them are.
  bool connect_once(std::string& err, bool prepare = true);
  bool prepare_statements(std::string& err);
  // Whether the connection lacks any of the statements prepare_statements() prepared (one query).
  bool statements_missing();
  // Whether a failed statement's cure is a new connection: the connection is lost, or it lacks
  // a prepared statement or sees a schema its statements do not fit.
  bool reconnect_after(const pg_result* r);
  bool probe_now(std::string& err) override;
  bool ensure_connected(std::string& err);
  void disconnect();
  // Ends the open transaction; its answer does not matter (an error leaves nothing open).
  void rollback();
  void migrate();

  PostgresOptions options_;
  pg_conn* conn_ = nullptr;    // touched by the store thread only (and the constructor before it)
  std::int64_t prepared_ = 0;  // statements prepare_statements() prepared on conn_
  // Tests (PARLEY_TEST_PG_PREPARE_PAUSE_MS): a pause while preparing, after the statements a join
  // reads with and before the others: the window in which another node's migration once
  // committed (tests/cluster/cold_start_test.cpp). Unset in production: no pause.
  std::chrono::milliseconds prepare_pause_{0};
  StoreWorker worker_;  // the store thread
  // Searches and the search index (searcher.hpp, postgres_search.cpp): out of the commits, which
  // mark their rooms for it; a connection of its own.
  std::unique_ptr<Searcher> searcher_;
};

}  // namespace parley::store
