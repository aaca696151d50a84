#pragma once
// StoreWorker: the store thread both stores share. A store (SqliteStore, PostgresStore) is a
// StoreBackend that does one thing once against its database; the worker decides when, in what
// order, in what groups, how often after a failure, and what a caller hears once it has stopped.
//
// Threads: every call may come from any thread. The backend is called on the worker's thread only
// (or, once stop() has joined it, by a start-up call on its caller's: nobody else is left), so it
// owns its connection without a lock. Completion handlers run on the worker's thread, in
// submission order; one that blocks holds up every job behind it, and one must not call flush()
// or stop(), which would wait for itself.
// Ordering: jobs run in submission order. Consecutive appends share one commit of at most
// max_batch messages (one append larger than that commits alone); any other job ends the group,
// so a read sees every append submitted before it.
// Failures: a commit that fails is retried with the same rows after 50 ms, doubling to 2 s: an
// assigned seq is never skipped. A commit the database rejects as data is retried append by
// append, so that only the append holding the bad row fails. A creation is retried the same way;
// reads and lookups answer at once, as their callers wait. Account calls (users, sessions) are
// not retried either, writes included: a user is waiting for the answer, and store_failed now
// beats a page that hangs through an outage (the user tries again). They run one by one between
// the other jobs, never inside an append group.
// Stop: stop() lets the queue drain, then joins the thread. A commit or creation failing after
// stop() is retried until stop_timeout has passed since, then fails with errc::store_failed
// (nothing unacknowledged is claimed stored). Once stop() has begun every call fails on its
// caller's thread at once, except flush() and start-up calls: they wait for the drain to end.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <variant>
#include <vector>

#include "store/store.hpp"

namespace parley::store {

// One database, one attempt at a time, from one thread at a time (see Threads above).
class StoreBackend {
 public:
  enum class Outcome {
    ok,
    retry,     // connection lost, database busy, disk full: the same attempt may succeed later
    rejected,  // the database refuses it as data: retrying cannot help
  };
  // One append of a commit: its messages (seqs assigned, any rooms) and the answer its completion
  // gets if the commit succeeds. Cleared before each attempt; a backend sets it to fail this
  // append alone in a commit that otherwise succeeds.
  struct Append {
    const std::vector<core::Message>* messages = nullptr;
    std::error_code result;
  };

  virtual ~StoreBackend() = default;

  // Commits every message of `appends` in one transaction, or none of them; err says why not.
  virtual Outcome try_commit(std::span<Append> appends, std::string& err) = 0;
  // ok: `result` holds the answer ({}, errc::room_exists, or errc::store_failed already logged);
  // retry and rejected: err says why.
  virtual Outcome try_create_room(const StoredRoom& room, std::error_code& result, std::string& err) = 0;
  // The room and its messages gone, in one transaction (none of it on failure).
  virtual Outcome try_delete_room(const std::string& room, std::string& err) = 0;
  // One answer, not retried through an outage: the caller is waiting. Errors are logged here.
  virtual std::error_code read_now(const std::string& room, std::uint64_t after, std::uint64_t before,
                                   std::size_t limit, std::vector<core::Message>& out) = 0;
  virtual std::error_code find_room_now(const std::string& room, std::optional<StoredRoom>& out) = 0;
  // Start-up; throws std::runtime_error when the rooms cannot be read.
  virtual std::vector<StoredRoom> load_rooms_now() = 0;
  // Whether the database can serve now (a cheap round trip; a connection that cannot serve is
  // opened again); err says why not. The worker calls it while idle, to keep Store::stats()'s
  // health true without traffic. A backend with nothing to check (a local file) keeps this one.
  virtual bool probe_now(std::string& err) {
    (void)err;
    return true;
  }

  // Account rows (store.hpp states each contract). One answer, not retried through an outage:
  // the caller is waiting. Errors are logged here, never with a hash or a digest in them.
  virtual std::error_code create_user_now(const StoredUser& user) = 0;
  virtual std::error_code find_user_by_name_key_now(const std::string& name_key, std::optional<StoredUser>& out) = 0;
  virtual std::error_code find_user_now(const std::string& id, std::optional<StoredUser>& out) = 0;
  virtual std::error_code set_password_now(const std::string& user_id, const std::string& password_hash,
                                           const std::string& keep_session_digest) = 0;
  virtual std::error_code delete_user_now(const std::string& user_id) = 0;
  // Store::create_session; `evicted` as its CreateSessionDone hears it.
  virtual std::error_code create_session_now(const StoredSession& session, std::size_t max_per_user,
                                             std::size_t& evicted) = 0;
  virtual std::error_code find_session_now(const std::string& token_digest, std::int64_t now_ms,
                                           std::optional<std::pair<StoredSession, StoredUser>>& out) = 0;
  virtual std::error_code touch_session_now(const std::string& token_digest, std::int64_t last_seen_at,
                                            std::int64_t expires_at) = 0;
  virtual std::error_code list_sessions_now(const std::string& user_id, std::vector<StoredSession>& out) = 0;
  virtual std::error_code revoke_session_now(const std::string& user_id, const std::string& token_digest) = 0;
  virtual std::error_code revoke_sessions_now(const std::string& user_id) = 0;
  virtual std::error_code sweep_sessions_now(std::int64_t now_ms) = 0;
  virtual std::error_code load_access_now(const std::string& room, StoredAccess& out) = 0;
  virtual std::error_code set_member_now(const std::string& room, const StoredMember& member) = 0;
  virtual std::error_code remove_member_now(const std::string& room, const std::string& user_id, bool ban) = 0;
  virtual std::error_code unban_now(const std::string& room, const std::string& user_id) = 0;
  virtual std::error_code load_roster_now(const std::string& room, std::size_t limit,
                                          std::vector<StoredRosterEntry>& out) = 0;
  virtual std::error_code set_room_info_now(const std::string& room, const std::string& title,
                                            const std::string& topic) = 0;
  virtual std::error_code set_read_now(const std::string& user_id, const std::string& room, std::uint64_t seq,
                                       std::uint64_t& stored) = 0;
  virtual std::error_code read_states_now(const std::string& user_id, const std::string& name_key,
                                          const std::vector<std::string>& rooms, std::vector<StoredReadState>& out) = 0;
  virtual std::error_code room_reads_now(const std::string& room, std::size_t limit, std::vector<StoredSeen>& out) = 0;
  virtual std::error_code create_api_key_now(const StoredApiKey& key) = 0;
  virtual std::error_code find_api_key_now(const std::string& id, std::optional<StoredApiKey>& out) = 0;
  virtual std::error_code list_api_keys_now(std::vector<StoredApiKey>& out) = 0;
  virtual std::error_code revoke_api_key_now(const std::string& id, std::int64_t now_ms, bool& revoked) = 0;
  virtual std::error_code touch_api_key_now(const std::string& id, std::int64_t now_ms) = 0;
  virtual std::error_code put_file_now(const StoredFile& file, std::uint64_t quota_bytes) = 0;
  virtual std::error_code find_file_now(const std::string& id, std::optional<StoredFile>& out) = 0;
  virtual std::error_code claim_files_now(const std::string& room, const std::string& uploader_id,
                                          const std::string& cid, const std::vector<std::string>& ids,
                                          std::int64_t now_ms, std::vector<StoredFile>& out) = 0;
  virtual std::error_code take_file_trash_now(std::int64_t unattached_before, std::size_t limit,
                                              std::vector<std::string>& out) = 0;
};

struct StoreWorkerOptions {
  std::size_t max_queue = 100000;  // messages waiting for commit before has_capacity() is false
  std::size_t max_batch = 10000;   // messages per commit
  // How long after stop() a failing commit or creation is still retried before it fails with
  // errc::store_failed; 0: not at all.
  std::chrono::milliseconds stop_timeout{0};
  // Tests: called instead of waiting out a retry's backoff (which otherwise waits on the clock,
  // cut short by stop()).
  std::function<void(std::chrono::milliseconds)> wait{};
};

class StoreWorker {
 public:
  StoreWorker(StoreBackend& backend, StoreWorkerOptions options);
  ~StoreWorker();  // stop()
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Starts the thread: the last step of the store's constructor, once the backend is ready.
  void start();

  // The Store operations (store.hpp states their contract).
  std::vector<StoredRoom> load_rooms();
  void create_room_now(const StoredRoom& room);
  void create_room(StoredRoom room, Store::Done done);
  void delete_room(std::string room, Store::Done done);
  bool has_capacity() const;
  void append(std::vector<core::Message> batch, Store::Done done);
  void read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit, Store::ReadDone done);
  void find_room(std::string room, Store::FindRoomDone done);
  void create_user(StoredUser user, Store::Done done);
  void find_user_by_name_key(std::string name_key, Store::FindUserDone done);
  void find_user(std::string id, Store::FindUserDone done);
  void set_password(std::string user_id, std::string password_hash, std::string keep_session_digest, Store::Done done);
  void delete_user(std::string user_id, Store::Done done);
  void create_session(StoredSession session, std::size_t max_per_user, Store::CreateSessionDone done);
  void find_session(std::string token_digest, std::int64_t now_ms, Store::FindSessionDone done);
  void touch_session(std::string token_digest, std::int64_t last_seen_at, std::int64_t expires_at, Store::Done done);
  void list_sessions(std::string user_id, Store::ListSessionsDone done);
  void revoke_session(std::string user_id, std::string token_digest, Store::Done done);
  void revoke_sessions(std::string user_id, Store::Done done);
  void sweep_sessions(std::int64_t now_ms, Store::Done done);
  void load_access(std::string room, Store::AccessDone done);
  void set_member(std::string room, StoredMember member, Store::Done done);
  void remove_member(std::string room, std::string user_id, bool ban, Store::Done done);
  void unban(std::string room, std::string user_id, Store::Done done);
  void load_roster(std::string room, std::size_t limit, Store::RosterDone done);
  void set_room_info(std::string room, std::string title, std::string topic, Store::Done done);
  void set_read(std::string user_id, std::string room, std::uint64_t seq, Store::SetReadDone done);
  void read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                   Store::ReadStatesDone done);
  void room_reads(std::string room, std::size_t limit, Store::SeenDone done);
  void create_api_key(StoredApiKey key, Store::Done done);
  void find_api_key(std::string id, Store::FindApiKeyDone done);
  void list_api_keys(Store::ListApiKeysDone done);
  void revoke_api_key(std::string id, std::int64_t now_ms, Store::RevokeApiKeyDone done);
  void touch_api_key(std::string id, std::int64_t now_ms, Store::Done done);
  void put_file(StoredFile file, std::uint64_t quota_bytes, Store::Done done);
  void find_file(std::string id, Store::FindFileDone done);
  void claim_files(std::string room, std::string uploader_id, std::string cid, std::vector<std::string> ids,
                   std::int64_t now_ms, Store::FilesDone done);
  void take_file_trash(std::int64_t unattached_before, std::size_t limit, Store::FileIdsDone done);
  void flush();
  void stop();
  StoreStats stats() const;

 private:
  struct CreateJob {
    StoredRoom room;
    Store::Done done;
  };
  struct AppendJob {
    std::vector<core::Message> batch;
    Store::Done done;
  };
  struct ReadJob {
    std::string room;
    std::uint64_t after, before;
    std::size_t limit;
    Store::ReadDone done;
  };
  struct FindRoomJob {
    std::string room;
    Store::FindRoomDone done;
  };
  struct DeleteJob {
    std::string room;
    Store::Done done;
  };
  struct CallJob {
    std::function<void()> fn;  // flush, start-up work
  };
  // One account call: the backend to run it against, or nullptr once the store has stopped (it
  // then answers errc::store_failed).
  struct AccountJob {
    std::function<void(StoreBackend*)> fn;
  };
  using Job = std::variant<CreateJob, AppendJob, ReadJob, FindRoomJob, DeleteJob, CallJob, AccountJob>;

  void run();
  void submit(Job job);
  // Submits an AccountJob answering done with attempt(backend) (a write) or with
  // attempt(backend, out) and out (a lookup).
  template <class Attempt>
  void account(Store::Done done, Attempt attempt);
  template <class Out, class Attempt>
  void account(std::function<void(std::error_code, Out)> done, Attempt attempt);
  void commit(std::span<AppendJob*> jobs);
  std::error_code create(const StoredRoom& room);
  std::error_code remove(const std::string& room);
  // Runs attempt(err) (an Outcome) until ok, retrying through outages as a commit is; `what`
  // names it in the log.
  template <class Attempt>
  std::error_code retried(const char* what, const std::string& room, Attempt&& attempt);
  // False once stop() was called longer than stop_timeout ago.
  bool keep_retrying();
  void join();
  void wait_backoff(std::chrono::milliseconds& backoff);
  // Health (StoreStats::failing, busy_ms): an operation that reached the database or not; the
  // worker at work on a job (or a probe) from now, or idle.
  void note(bool ok);
  void busy(bool on);

  StoreBackend& backend_;
  StoreWorkerOptions options_;

  std::mutex mutex_;  // guards jobs_, stopping_, stop_deadline_; never held during backend work
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::thread thread_;
  std::thread::id thread_id_;  // set by start(), under mutex_
  std::once_flag joined_;

  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> failing_{0};
  std::atomic<std::int64_t> busy_since_ns_{0};  // steady clock; 0: idle
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> batch_micros_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace parley::store
