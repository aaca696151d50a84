#pragma once
// Store: where messages, rooms, accounts and sign-in sessions are durable. One interface, two implementations with one
// contract test suite (tests/contract/store_contract_test.cpp): SqliteStore (the embedded default) and
// PostgresStore (a cluster).
//
// Threads: start-up calls (open, load_rooms, create_room_now) run before any I/O thread. Every
// other call may come from any thread; the work runs on the store's own thread, and its
// completion handler is called there, in submission order. Callers post back to their executor.
// Ordering: appends commit in submission order; a read sees every append whose completion ran.
// Every call runs in submission order, account calls among the others: a find sees every write
// submitted before it.
// Accounts: rows only. The password hash and the session token's digest arrive computed, as
// opaque strings; the store never sees a password or a token. An account call is not retried
// through an outage: it answers errc::store_failed at once, as a user is waiting.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "core/message.hpp"
#include "core/room_access.hpp"
#include "core/search.hpp"

namespace parley::store {

// Answers of the store that are not protocol errors (protocol::errc): what its caller must act on.
enum class store_errc {
  // append: a message's (room, seq) is already stored with another message (another sender or
  // cid): its seq was handed out twice (a broker failover while its commit was in flight; see
  // docs/architecture.md, "Failover without seq reuse"). This message is not stored.
  seq_taken = 1,
  // put_file: the uploader's files would pass its quota of bytes (files.max_bytes_per_account).
  over_quota = 2,
};

const std::error_category& store_category() noexcept;
inline std::error_code make_error_code(store_errc e) noexcept { return {static_cast<int>(e), store_category()}; }

// A member of a room with a role (core::Role), and since when (ms since epoch).
struct StoredMember {
  std::string user_id;
  core::Role role = core::Role::member;
  std::int64_t since = 0;
};

struct StoredRoom {
  std::string id;
  std::uint64_t last_seq = 0;
  std::int64_t created_at = 0;
  std::string created_by;
  // Access (core::RoomAccess): a private room is listed to and joined by its members only, with
  // its password (an argon2id hash; empty: by invitation only).
  core::RoomKind kind = core::RoomKind::public_room;
  std::string password_hash{};
  // A direct conversation's two accounts, "id\tname" per line (the names as they were when it
  // began): who it is with, for the room list. Empty for other rooms.
  std::string peers{};
  // What members see of it (set_room_info, `update_room`): a display title (empty: the id is shown)
  // and a topic. Stored with the room; create_room stores them too.
  std::string title{};
  std::string topic{};
  // create_room: the creator's account id, made the room's owner in the same step (empty: a
  // guest's or the operator's room, without an owner); and `members` are made members (a direct
  // conversation's two), in the same step too.
  std::string owner_id{};
  // load_rooms and find_room: the room's members (oldest first, at most max_loaded_members) and
  // bans, as load_access answers them.
  std::vector<StoredMember> members{};
  std::vector<std::string> banned{};
};

// A room's members and bans (load_access), at most Store::max_loaded_members members.
struct StoredAccess {
  std::vector<StoredMember> members;
  std::vector<std::string> banned;
};

// A room's member as the room's roster shows it: its account's name (as registered) and role.
struct StoredRosterEntry {
  std::string user_id;
  std::string name;
  core::Role role = core::Role::member;
};

// An account. Kept when deleted (messages refer to its id), without its name key and hash.
struct StoredUser {
  std::string id;               // opaque, stable ("u_..."), never reused
  std::string name;             // display name as registered
  std::string name_key;         // the key names are unique under (the caller's folding: skeleton), among live users
  std::string password_hash;    // encoded argon2id; empty for a deleted user
  std::int64_t created_at = 0;  // ms since epoch
  bool deleted = false;
};

// A signed-in session. Expired ones are removed lazily (find_session drops the one it is asked
// for) and by sweep_sessions, which the node calls periodically: the table does not grow without
// bound.
struct StoredSession {
  std::string token_digest;  // hex digest of the session token (the token itself is never stored)
  std::string user_id;
  std::int64_t created_at = 0, last_seen_at = 0, expires_at = 0;  // ms since epoch
  std::string label;  // e.g. the User-Agent, at most 200 bytes (the caller truncates)
};

// A key of the server API (docs/api.md): the operator's backend, or a bot. Only the digest of its
// secret is stored; a revoked key keeps its row (revoked_at set), so that the list still shows
// it and its id is never given out again.
struct StoredApiKey {
  std::string id;             // public: "pk_" and random hex; the key is "<id>.<secret>"
  std::string secret_digest;  // hex digest of the secret (auth::token_digest); never the secret
  std::string name;           // the operator's label: what moderation through it is done by
  std::string scopes;         // comma-separated: publish, rooms, members, admin
  std::int64_t created_at = 0;
  std::int64_t revoked_at = 0;    // 0: live
  std::int64_t last_used_at = 0;  // 0: never (written at most once a minute: touch_api_key)
};

// A user's read state in a room (read_states): the last seq it read, and what came after it.
struct StoredReadState {
  std::string room;
  std::uint64_t last_read = 0;  // 0: never read (or not stored)
  // Messages after last_read by others (not edits, deletes or deleted messages), counting the
  // newest Store::max_counted_unread of them at most; and how many of those mention the user.
  std::uint64_t unread = 0;
  std::uint64_t mentions = 0;
};

// One user's read mark in a room (room_reads): for "seen by".
struct StoredSeen {
  std::string user_id;
  std::string name;  // the account's name (a deleted account's marks are left out)
  std::uint64_t seq = 0;
};

// A search (Store::search): every term (core::search_terms) in a message's text, the last one as
// a prefix; in these rooms only (the caller decides which the user may read); at most `limit`
// hits, before `before` if set.
struct SearchQuery {
  std::vector<std::string> terms;
  std::vector<std::string> rooms;
  std::size_t limit = 20;
  std::optional<core::SearchCursor> before{};
};

// A message a search found, as it is now (its text after its latest edit).
struct SearchHit {
  std::string room;
  std::uint64_t seq = 0;
  std::string from;
  std::string from_id;
  std::string text;
  std::int64_t ts = 0;
};

struct SearchPage {
  std::vector<SearchHit> hits;
  std::optional<core::SearchCursor> next{};  // set when there may be more hits: the last one's place
};

struct StoreStats {
  std::uint64_t batches = 0;
  std::uint64_t messages = 0;
  std::uint64_t batch_micros_total = 0;  // sum of commit times
  std::uint64_t queued = 0;              // messages waiting for commit now
  std::uint64_t failures = 0;            // failed commits (each retried)
  // Health: operations in a row (commits, reads, lookups, idle probes) that could not reach the
  // database (0: the last one did), and how long the operation under way has run (0: idle).
  std::uint64_t failing = 0;
  std::uint64_t busy_ms = 0;
  // The search index (store/searcher.hpp): rooms with entries it has not read, entries read.
  std::uint64_t search_unindexed_rooms = 0;
  std::uint64_t search_indexed = 0;
  std::uint64_t search_index_micros = 0;  // time spent reading into the index
};

// 5 s: longer than any commit of max_batch messages takes on a healthy database; a stopped
// (SIGSTOP) or unreachable server holds the store thread in a call that long.
inline constexpr std::uint64_t store_stall_ms = 5000;

// Whether a store with these stats can serve reads and commits now (/readyz).
inline bool store_serving(const StoreStats& s) { return s.failing == 0 && s.busy_ms < store_stall_ms; }

// An uploaded file (docs/api.md, "Files"): its row; its bytes are the node's FileStore's.
struct StoredFile {
  std::string id;  // "f_" and 32 hex
  std::string room;
  std::string uploader_id;  // an account's id
  std::string name;         // as uploaded, 1..255 bytes of UTF-8
  std::string type;         // by content (libmagic), e.g. "image/png"
  std::uint64_t size = 0;   // bytes as served (an image re-encoded without its metadata)
  unsigned width = 0;       // an image's size in pixels, else 0
  unsigned height = 0;
  bool thumb = false;  // has a thumbnail
  // "" while no message carries it; then the cid of the send that took it (the message is the
  // one of its uploader with that cid in its room).
  std::string claim;
  std::int64_t created_at = 0;
};

class Store {
 public:
  using Done = std::function<void(std::error_code)>;
  using ReadDone = std::function<void(std::error_code, std::vector<core::Message>)>;
  using FindRoomDone = std::function<void(std::error_code, std::optional<StoredRoom>)>;
  using FindUserDone = std::function<void(std::error_code, std::optional<StoredUser>)>;
  using FindSessionDone = std::function<void(std::error_code, std::optional<std::pair<StoredSession, StoredUser>>)>;
  using ListSessionsDone = std::function<void(std::error_code, std::vector<StoredSession>)>;
  using AccessDone = std::function<void(std::error_code, StoredAccess)>;
  using RosterDone = std::function<void(std::error_code, std::vector<StoredRosterEntry>)>;
  using FindApiKeyDone = std::function<void(std::error_code, std::optional<StoredApiKey>)>;
  using ListApiKeysDone = std::function<void(std::error_code, std::vector<StoredApiKey>)>;
  using SetReadDone = std::function<void(std::error_code, std::uint64_t stored)>;
  using ReadStatesDone = std::function<void(std::error_code, std::vector<StoredReadState>)>;
  using SeenDone = std::function<void(std::error_code, std::vector<StoredSeen>)>;
  using SearchDone = std::function<void(std::error_code, SearchPage)>;
  // `revoked`: a live key of that id was revoked now (false: none, or revoked already).
  using RevokeApiKeyDone = std::function<void(std::error_code, bool revoked)>;
  // `evicted`: the user's older sessions deleted to keep it within its cap.
  using CreateSessionDone = std::function<void(std::error_code, std::size_t evicted)>;

  // list_sessions answers at most this many: a budget on one reply, whatever a user piled up.
  static constexpr std::size_t max_listed_sessions = 100;
  // sweep_sessions deletes at most this many rows per call, so one sweep never holds the store
  // thread (and every message waiting behind it) for long; the next call goes on.
  static constexpr std::size_t max_swept_sessions = 10000;

  virtual ~Store() = default;

  virtual std::vector<StoredRoom> load_rooms() = 0;
  // Creates a room synchronously at start-up (the default room); no-op when it exists.
  virtual void create_room_now(const StoredRoom& room) = 0;

  // Stores a new room; errc::room_exists if the store has one of that id already (created
  // elsewhere: in a cluster another node's, or one whose record the broker lost). A row with the
  // same created_at and created_by is this very creation, stored by an attempt whose answer was
  // lost (a dropped connection): that is success.
  virtual void create_room(StoredRoom room, Done done) = 0;
  // Deletes a room and every message of it; success if there was no such room. Appends
  // submitted before it are committed first (and deleted with it).
  virtual void delete_room(std::string room, Done done) = 0;
  // False while the queue of appends holds its limit: callers refuse new sends (errc::overloaded)
  // before assigning a seq. Checked, not reserved: a turn's worth of appends may overshoot.
  virtual bool has_capacity() const = 0;
  // Queues a batch of messages (seqs assigned, any rooms). A failed commit is retried until it
  // succeeds or the store stops: an assigned seq is never skipped. A (room, seq) already stored
  // is checked to hold this very message (same sender, sender id, cid, time and text, or the
  // text it was edited to): then it is success (a retry, or another node's recovery of it);
  // otherwise the append answers store_errc::seq_taken, its other messages stored nonetheless.
  virtual void append(std::vector<core::Message> batch, Done done) = 0;
  // The newest `limit` messages of `room` with after < seq < before, ascending. before = 0 means
  // no upper bound.
  virtual void read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit, ReadDone done) = 0;
  // The room as stored (last_seq: its highest stored seq), or nullopt without an error if the
  // store has no such room. For a cluster node asked for a room it has not heard of, when the
  // broker's room index does not have it or does not answer (Node::find_room): a room is stored
  // before it is announced.
  virtual void find_room(std::string room, FindRoomDone done) = 0;

  // Accounts (see Accounts above). Every failure not named here is errc::store_failed.
  //
  // Stores a new user (deleted false). errc::name_taken if a live user has the same name_key; the
  // database decides (a unique key), so of two concurrent registrations on any nodes exactly one
  // succeeds. A stored row with the same id and the same fields is this very creation, stored by
  // an attempt whose answer was lost: success. Another user of the same id is a bug: store_failed.
  virtual void create_user(StoredUser user, Done done) = 0;
  // The live user of that name_key, or nullopt without an error.
  virtual void find_user_by_name_key(std::string name_key, FindUserDone done) = 0;
  // The user of that id, deleted ones too (deleted true, name_key and password_hash empty):
  // messages from a deleted user still show as such. nullopt without an error if none.
  virtual void find_user(std::string id, FindUserDone done) = 0;
  // Replaces the hash and, in the same transaction, deletes every session of the user but
  // keep_session_digest (empty: all of them): a password change signs out everywhere else.
  // errc::no_such_user if there is no live user of that id.
  virtual void set_password(std::string user_id, std::string password_hash, std::string keep_session_digest,
                            Done done) = 0;
  // Marks the user deleted, clears its hash, frees its name (its name_key no longer blocks a
  // registration) and deletes its sessions, in one transaction; the row stays. Success if it is
  // deleted already; errc::no_such_user if no user ever had that id.
  virtual void delete_user(std::string user_id, Done done) = 0;

  // Stores a new session and, in the same transaction, deletes the user's oldest sessions (by
  // created_at, then last_seen_at) so that it keeps at most max_per_user (at least 1) counting the
  // new one, which is always kept; `done` hears how many were deleted. Sessions otherwise grow
  // until they expire: one account signing in from a script must not fill the table. Two nodes
  // creating sessions of one user at once may leave one over the cap until the next sign-in.
  // errc::no_such_user if its user is not live (deleted since it signed in); nothing is deleted.
  virtual void create_session(StoredSession session, std::size_t max_per_user, CreateSessionDone done) = 0;
  // The session and its user; nullopt without an error if there is no such session, if it has
  // expired (expires_at <= now_ms: the row is deleted then), or if its user is deleted.
  virtual void find_session(std::string token_digest, std::int64_t now_ms, FindSessionDone done) = 0;
  // Sliding expiry: sets last_seen_at and expires_at. An expired session (expires_at <=
  // last_seen_at) is not brought back, and a session that is gone is no error: the next
  // find_session answers nullopt either way.
  virtual void touch_session(std::string token_digest, std::int64_t last_seen_at, std::int64_t expires_at,
                             Done done) = 0;
  // The user's sessions, newest (created_at) first, at most max_listed_sessions of them. Expired
  // sessions not swept yet are listed too: the caller compares expires_at with its clock.
  virtual void list_sessions(std::string user_id, ListSessionsDone done) = 0;
  // Deletes one session of this user. The digest of another user's session, or of none, is a
  // silent success that changes nothing: the caller cannot learn that it exists.
  virtual void revoke_session(std::string user_id, std::string token_digest, Done done) = 0;
  // Deletes every session of the user.
  virtual void revoke_sessions(std::string user_id, Done done) = 0;
  // Deletes sessions with expires_at <= now_ms, at most max_swept_sessions of them.
  virtual void sweep_sessions(std::int64_t now_ms, Done done) = 0;

  // Room access: rows only, answered at once like the account calls (never retried through an
  // outage). The node decides who may do what (core::RoomAccess) and keeps the room's rows in
  // memory while it owns the room.
  //
  // A room can hold at most this many members (the node refuses more); load_access reads at most
  // as many, the oldest first.
  static constexpr std::size_t max_loaded_members = 100000;
  // The room's members (oldest first) and bans.
  virtual void load_access(std::string room, AccessDone done) = 0;
  // Makes the user a member of the room with member.role (a member already: the role changes).
  virtual void set_member(std::string room, StoredMember member, Done done) = 0;
  // The user is no longer a member (success if it was not one); with `ban`, also banned, in the
  // same transaction.
  virtual void remove_member(std::string room, std::string user_id, bool ban, Done done) = 0;
  // Lifts the user's ban (success if there was none).
  virtual void unban(std::string room, std::string user_id, Done done) = 0;
  // The room's members with their accounts' names, in name order (then id), at most `limit`:
  // those whose account is deleted, or has no row here (an operator's JWT account), are left out.
  virtual void load_roster(std::string room, std::size_t limit, RosterDone done) = 0;
  // Sets the room's title and topic (both: the caller passes the ones it keeps). Answered at once
  // like the access calls; success if there is no such room (deleted meanwhile: nothing to show).
  virtual void set_room_info(std::string room, std::string title, std::string topic, Done done) = 0;

  // Read state (docs/protocol.md, "Read state"): one mark per (account, room), rows only, answered
  // at once like the access calls. Guests have none (their ids last a connection).
  //
  // read_states counts at most this many of a room's unread messages (the newest): a user who
  // never read a busy room costs one bounded scan, and clients show "99+".
  static constexpr std::size_t max_counted_unread = 100;
  // read_states answers for at most this many rooms per call (a page of the room list).
  static constexpr std::size_t max_read_state_rooms = 200;
  // Raises the user's mark in the room to `seq` (never lowers it: a late or repeated call
  // changes nothing); `done` hears the mark as stored now.
  virtual void set_read(std::string user_id, std::string room, std::uint64_t seq, SetReadDone done) = 0;
  // The user's read state in each of `rooms` (in that order; past max_read_state_rooms, the rest
  // are left out): its mark, and the messages after it by others, and those mentioning the
  // account whose name key is `name_key` (core::mentions; empty: none counted).
  virtual void read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                           ReadStatesDone done) = 0;
  // The room's read marks with their accounts' names, highest seq first, at most `limit`.
  virtual void room_reads(std::string room, std::size_t limit, SeenDone done) = 0;

  // Search (docs/protocol.md, "search"), answered at once like the access calls (never retried
  // through an outage). The messages of `query.rooms` (kind message, not deleted; an edited one by
  // its text now, never an earlier one) holding every term, newest first (ts, then room, then seq,
  // all descending), at most query.limit of them. Rooms past max_searched_rooms are left out;
  // no terms or no rooms: no hits. Case is folded; SQLite also folds diacritics, PostgreSQL not.
  static constexpr std::size_t max_searched_rooms = 1000;
  virtual void search(SearchQuery query, SearchDone done) = 0;

  // Server API keys: rows only, answered at once like the account calls. The node checks a key
  // by its id and the digest of its secret on every request (no cache: a revocation holds on
  // every node at once).
  //
  // list_api_keys answers at most this many: keys are the operator's, made by hand.
  static constexpr std::size_t max_listed_api_keys = 1000;
  // Stores a new key (revoked_at 0). Another key of the same id is store_failed (ids are random).
  virtual void create_api_key(StoredApiKey key, Done done) = 0;
  // The key of that id, revoked ones too (the caller checks revoked_at); nullopt without an
  // error if none.
  virtual void find_api_key(std::string id, FindApiKeyDone done) = 0;
  // Every key, newest (created_at) first, at most max_listed_api_keys.
  virtual void list_api_keys(ListApiKeysDone done) = 0;
  // Sets revoked_at of the live key of that id.
  virtual void revoke_api_key(std::string id, std::int64_t now_ms, RevokeApiKeyDone done) = 0;
  // Sets last_used_at (a key that is gone is no error).
  virtual void touch_api_key(std::string id, std::int64_t now_ms, Done done) = 0;

  // Files (docs/api.md, "Files"): rows only (the bytes are the node's), answered at once like
  // the account calls. A file leaves with the message that carries it (a delete entry of its
  // sequence, the room's deletion), and unattached after files.unattached_ttl_ms; its id then
  // goes to a trash that take_file_trash empties, so that the node removes its bytes.
  using FindFileDone = std::function<void(std::error_code, std::optional<StoredFile>)>;
  using FilesDone = std::function<void(std::error_code, std::vector<StoredFile>)>;
  using FileIdsDone = std::function<void(std::error_code, std::vector<std::string>)>;
  // Stores a new upload (claim ""), unless its uploader's files would then hold more than
  // `quota_bytes` (store_errc::over_quota).
  virtual void put_file(StoredFile file, std::uint64_t quota_bytes, Done done) = 0;
  // The file of that id, or nullopt without an error.
  virtual void find_file(std::string id, FindFileDone done) = 0;
  // A send's files, taken for the message `cid` of `uploader_id` in `room`, in one transaction:
  // each must be that user's upload to that room, unattached or taken by the same cid (a retry);
  // else errc::no_such_file and none is taken. Answers the files in the order of `ids`. A taken
  // file is attached when a message of its uploader with that cid is stored in its room; until
  // then it counts as taken at `now_ms` (a retry takes it again, at its own time).
  virtual void claim_files(std::string room, std::string uploader_id, std::string cid, std::vector<std::string> ids,
                           std::int64_t now_ms, FilesDone done) = 0;
  // Moves to the trash the files unattached since before `unattached_before` (ms), and those taken
  // before it by a send whose message was never stored (refused after the take: rate, access,
  // overload; the client never retried), then answers (and removes from the trash) at most `limit`
  // of its ids.
  virtual void take_file_trash(std::int64_t unattached_before, std::size_t limit, FileIdsDone done) = 0;

  // Blocks until everything queued so far has committed and its completions ran.
  virtual void flush() = 0;
  // Flushes, then stops the store thread. Later calls fail with errc::store_failed.
  virtual void stop() = 0;
  virtual StoreStats stats() const = 0;
};

}  // namespace parley::store

template <>
struct std::is_error_code_enum<parley::store::store_errc> : std::true_type {};
