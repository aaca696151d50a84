#pragma once
// Accounts: registration, sign-in and the sessions of signed-in users, over HTTP under /api/
// (docs/api.md), and the check of a session token for a WebSocket's hello.
//
// Who does what: the rules and secrets are auth/'s (password rules, argon2id, tokens); the rows
// are the Store's (users, sessions; the token itself is never stored, only its digest); every
// password hash and verification runs on the HashPool, never on an I/O thread or the store's.
// A request's steps hop from the loop (parse, budgets) to the pool (hash) to the store (rows) and
// back, each step a callback; the answer reaches the connection through ApiService::Respond.
//
// Threads: handle_api() and authenticate() are called on a loop thread; their callbacks run on a
// pool or store thread, so this class keeps no state but its thread-safe budgets.
// Budgets: sign-in attempts per client address and per account (a token bucket each: a burst,
// then one attempt per interval; over it 429 with Retry-After), registrations per address, and
// the pool's queue (past it 503 with Retry-After: hashing is the expensive part).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/hash_pool.hpp"
#include "auth/jwt.hpp"
#include "auth/options.hpp"
#include "auth/password.hpp"
#include "core/clock.hpp"
#include "core/keyed_limits.hpp"
#include "core/metrics.hpp"
#include "net/http_session.hpp"
#include "store/store.hpp"

namespace parley::node {

class Files;

// A signed-in user, as a session token proves.
struct SignedIn {
  store::StoredUser user;
  store::StoredSession session;
};

class Accounts final : public net::ApiService {
 public:
  // `jwt`: the verifier of the operator's JWTs (auth.jwt_*), or null: hello takes none.
  Accounts(const auth::AuthOptions& options, store::Store& store, const core::Clock& clock,
           std::shared_ptr<const auth::JwtVerifier> jwt = nullptr);
  ~Accounts();
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  void handle_api(net::ApiRequest request, Respond respond) override;
  bool upload_path(std::string_view method, std::string_view path) const override;
  net::UploadAdmission admit_upload(const net::ApiRequest& request, std::uint64_t content_length) override;

  // The user a session token names (from hello, or the cookie of an upgrade), or nullopt if it
  // names none: malformed, unknown, expired, revoked, or its user deleted. `done` runs on the
  // store's thread; ec set if the store could not answer.
  using AuthDone = std::function<void(std::error_code, std::optional<SignedIn>)>;
  void authenticate(std::string_view token, AuthDone done);

  // Whether hello takes the operator's JWTs (a verifier is configured).
  bool accepts_jwt() const noexcept { return jwt_ != nullptr; }
  // Checks an operator's JWT (no store: the signature and the claims are the whole proof). HS*
  // runs here, on the caller's thread (about 8 µs); RS* and ES* run on the pool (about 0.5 ms:
  // libjwt 1.10 parses the PEM key on every call, which OpenSSL 3 makes slow; docs/security.md),
  // so `done` runs on the caller's thread or a pool thread. nullopt: the pool's queue was full
  // (answer "busy, retry later"). Counted in jwt_* by outcome. Call only if accepts_jwt().
  using JwtDone = std::function<void(std::optional<auth::JwtResult>)>;
  void verify_jwt(std::string token, JwtDone done);

  const auth::AuthOptions& options() const noexcept { return options_; }

  // Sessions of `user_id` have ended (signed out, revoked, password changed, account deleted):
  // `digest` names the one that ended, or is empty for all of them but `keep`. Called on the
  // store's thread once the store has them gone; the node closes their open WebSockets. Set
  // before the node serves.
  using EndedHook = std::function<void(const std::string& user_id, const std::string& digest, const std::string& keep)>;
  void set_on_ended(EndedHook hook) { on_ended_ = std::move(hook); }
  // An account has taken a name (its name key, core::name_skeleton): guests online under that
  // name or a look-alike must go (they took it first, but a guest cannot keep an account's name).
  // Called on the store's thread. Set before the node serves.
  using RegisteredHook = std::function<void(const std::string& name_key)>;
  void set_on_registered(RegisteredHook hook) { on_registered_ = std::move(hook); }
  // Private rooms' passwords, on the same pool and, for checks, the same budgets as a sign-in (a
  // room password is a password to guess too). `done` runs on a pool thread, or at once with
  // rate_limited (retry_ms set: the budget of the address or the account is spent) or overloaded
  // (the pool's queue is full). A password the rules refuse is bad_password, with the rule's
  // message in `hash`.
  using RoomHashDone = std::function<void(std::error_code, std::int64_t retry_ms, std::string hash)>;
  void hash_room_password(std::string password, RoomHashDone done);
  using RoomCheckDone = std::function<void(std::error_code, std::int64_t retry_ms, bool matches)>;
  void check_room_password(std::string_view address, std::string_view user_id, std::string password, std::string hash,
                           RoomCheckDone done);

  // Requests under /api/server/ go to `api` (the server API: node/server_api.hpp), not to the
  // accounts. Set before the node serves.
  void set_server_api(net::ApiService* api) noexcept { server_api_ = api; }
  // And those under /api/admin/ to the admin API (node/admin_api.hpp).
  void set_admin_api(net::ApiService* api) noexcept { admin_api_ = api; }
  // And uploads and fetches of files (node/files.hpp).
  void set_files(Files* files) noexcept { files_ = files; }

  // Stops the hashing pool (what it holds still answers). Before the store stops.
  void stop();
  // Called about once a second (one thread): every ten minutes, expired sessions leave the store.
  void sweep(std::int64_t now_ms);

  struct Counters {
    core::SharedCounter registered;        // accounts made
    core::SharedCounter signins;           // sign-ins that succeeded
    core::SharedCounter signin_failures;   // wrong name or password
    core::SharedCounter throttled;         // attempts refused by a budget (429)
    core::SharedCounter jwt_ok;            // hellos with a valid JWT
    core::SharedCounter jwt_expired;       // with a JWT past its exp
    core::SharedCounter jwt_invalid;       // with a JWT refused for any other reason
    core::SharedCounter sessions_evicted;  // oldest sessions ended by auth.max_sessions_per_user
  };
  const Counters& counters() const noexcept { return counters_; }
  const auth::HashPool& pool() const noexcept { return pool_; }

 private:
  void do_register(const net::ApiRequest& req, Respond respond);
  void do_login(const net::ApiRequest& req, Respond respond);
  void do_logout(const net::ApiRequest& req, Respond respond);
  void do_me(const net::ApiRequest& req, Respond respond);
  void do_sessions(const net::ApiRequest& req, Respond respond);
  void do_revoke(const net::ApiRequest& req, std::string digest, Respond respond);
  void do_password(const net::ApiRequest& req, Respond respond);
  void do_delete(const net::ApiRequest& req, Respond respond);
  // Runs `then` with the request's signed-in user, or answers 401.
  void with_user(const net::ApiRequest& req, Respond respond, std::function<void(SignedIn, Respond)> then);
  // A new session for `user`; answers `status` with the user, the cookie and (if asked) the token.
  void start_session(store::StoredUser user, const net::ApiRequest& req, bool want_token, unsigned status,
                     Respond respond);
  // Takes a token from `limits` for `key`; false after answering 429.
  bool take(core::KeyedLimits& limits, std::string_view key, const Respond& respond);
  // Queues `work` on the pool; false after answering 503.
  bool hash(std::function<void()> work, const Respond& respond);

  auth::AuthOptions options_;
  std::shared_ptr<const auth::JwtVerifier> jwt_;
  store::Store& store_;
  const core::Clock& clock_;
  core::KeyedLimits signin_by_address_;
  core::KeyedLimits signin_by_account_;
  core::KeyedLimits register_by_address_;
  Counters counters_;
  std::int64_t next_sweep_ms_ = 0;  // sweep()'s thread only
  EndedHook on_ended_;
  RegisteredHook on_registered_;
  net::ApiService* server_api_ = nullptr;
  net::ApiService* admin_api_ = nullptr;
  Files* files_ = nullptr;
  void ended(const std::string& user_id, const std::string& digest, const std::string& keep = {}) const {
    if (on_ended_) on_ended_(user_id, digest, keep);
  }
  auth::HashPool pool_;  // last: its threads go first
};

}  // namespace parley::node
