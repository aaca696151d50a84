#include "node/accounts.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "auth/token.hpp"
#include "core/names.hpp"
#include "net/upgrade.hpp"
#include "node/api_request.hpp"
#include "node/files.hpp"
#include "protocol/errc.hpp"
#include "protocol/events.hpp"
#include "protocol/json_writer.hpp"

namespace parley::node {

namespace json = boost::json;
using net::ApiRequest;
using net::ApiResponse;

using api::body_object;
using api::error;

namespace {

constexpr std::string_view cookie_name = net::session_cookie;
// A session's last_seen_at is written at most this often (not on every request).
constexpr std::int64_t touch_interval_ms = std::int64_t{3600} * 1000;

core::KeyedLimits::Options budget(double rate, double burst, std::size_t keys) {
  core::KeyedLimits::Options o;
  o.rates[static_cast<std::size_t>(core::KeyedLimits::Action::request)] = {rate, burst};
  o.max_keys = keys;
  return o;
}
ApiResponse store_error(std::error_code) {
  return error(503, "store_failed", "the accounts could not be reached; try again");
}

ApiResponse busy() {
  auto r = error(503, "overloaded", "too many sign-ins at once; try again in a moment");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::string user_json(const store::StoredUser& u) {
  protocol::JsonWriter w;
  w.str("id", u.id).str("name", u.name);
  return std::move(w).done();
}

std::string cookie(std::string_view token, std::int64_t max_age_ms, bool secure) {
  std::string c(cookie_name);
  c += "=";
  c += token;
  c += "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age_ms / 1000);
  if (secure) c += "; Secure";
  return c;
}

// A string field, or nullopt (answered 400 naming it).
std::optional<std::string> field(const json::object& o, std::string_view key, const net::ApiService::Respond& respond) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) {
    respond(error(400, "bad_request", std::string("the body needs a string \"") + std::string(key) + "\""));
    return std::nullopt;
  }
  return std::string(v->as_string());
}

// What a register or login body holds.
struct Credentials {
  std::string name;
  std::string password;
  bool want_token = false;
};

// 204 with the session cookie cleared: the answer to every request that ends this session.
ApiResponse signed_out(bool secure) {
  ApiResponse r{204, {}, {}};
  r.headers.emplace_back("Set-Cookie", cookie("", 0, secure));
  return r;
}

// The credentials of a register or login body, or nullopt (answered 400).
std::optional<Credentials> credentials(const ApiRequest& req, const net::ApiService::Respond& respond) {
  auto body = body_object(req, respond);
  if (!body) return std::nullopt;
  auto name = field(*body, "name", respond);
  if (!name) return std::nullopt;
  auto password = field(*body, "password", respond);
  if (!password) return std::nullopt;
  const auto* want = body->if_contains("token");
  return Credentials{std::move(*name), std::move(*password), want && want->is_bool() && want->as_bool()};
}

std::string_view password_message(auth::PasswordProblem p) {
  switch (p) {
    case auth::PasswordProblem::too_short: return "a password needs at least 8 characters";
    case auth::PasswordProblem::too_long: return "a password may have at most 1024 bytes";
    case auth::PasswordProblem::none: break;
  }
  return "";
}

}  // namespace

Accounts::Accounts(const auth::AuthOptions& options, store::Store& store, const core::Clock& clock,
                   std::shared_ptr<const auth::JwtVerifier> jwt)
    : options_(options),
      jwt_(std::move(jwt)),
      store_(store),
      clock_(clock),
      signin_by_address_(
          budget(options.signin_rate_per_address, options.signin_burst_per_address, options.max_tracked_keys)),
      signin_by_account_(
          budget(options.signin_rate_per_account, options.signin_burst_per_account, options.max_tracked_keys)),
      register_by_address_(
          budget(options.register_rate_per_address, options.register_burst_per_address, options.max_tracked_keys)),
      pool_(std::max(1U, options.hash_threads), std::max<std::size_t>(1, options.hash_queue), options.hash_nice) {
  options_.password.validate();
}

Accounts::~Accounts() { stop(); }

void Accounts::stop() { pool_.stop(); }

void Accounts::sweep(std::int64_t now_ms) {
  if (now_ms < next_sweep_ms_) return;
  next_sweep_ms_ = now_ms + std::int64_t{10} * 60 * 1000;
  store_.sweep_sessions(now_ms, [](std::error_code) {});  // a failed sweep: the next one goes on
}

void Accounts::handle_api(ApiRequest req, Respond respond) {
  const std::string& m = req.method;
  const std::string& p = req.path;
  if (p.starts_with("/api/server/") && server_api_) return server_api_->handle_api(std::move(req), std::move(respond));
  if (p.starts_with("/api/admin/") && admin_api_) return admin_api_->handle_api(std::move(req), std::move(respond));
  if (files_ && files_->handles(p)) return files_->handle_api(std::move(req), std::move(respond));
  if (p == "/api/register") {
    if (m == "POST") return do_register(req, std::move(respond));
  } else if (p == "/api/login") {
    if (m == "POST") return do_login(req, std::move(respond));
  } else if (p == "/api/logout") {
    if (m == "POST") return do_logout(req, std::move(respond));
  } else if (p == "/api/me") {
    if (m == "GET" || m == "HEAD") return do_me(req, std::move(respond));
    if (m == "DELETE") return do_delete(req, std::move(respond));
  } else if (p == "/api/password") {
    if (m == "POST") return do_password(req, std::move(respond));
  } else if (p == "/api/sessions") {
    if (m == "GET" || m == "HEAD") return do_sessions(req, std::move(respond));
    if (m == "DELETE") return do_revoke(req, {}, std::move(respond));
  } else if (p.starts_with("/api/sessions/")) {
    if (m == "DELETE") return do_revoke(req, p.substr(std::string_view("/api/sessions/").size()), std::move(respond));
  } else {
    return respond(error(404, "not_found", "no such endpoint"));
  }
  respond(error(405, "method_not_allowed", "this endpoint does not take " + m));
}

bool Accounts::upload_path(std::string_view method, std::string_view path) const {
  return files_ && files_->upload_path(method, path);
}

net::UploadAdmission Accounts::admit_upload(const ApiRequest& request, std::uint64_t content_length) {
  if (!files_) return net::UploadAdmission{error(404, "not_found", "no such endpoint")};
  return files_->admit_upload(request, content_length);
}

bool Accounts::take(core::KeyedLimits& limits, std::string_view key, const Respond& respond) {
  std::int64_t retry_ms = 0;
  if (limits.take(key, core::KeyedLimits::Action::request, clock_.now_ms(), retry_ms)) return true;
  counters_.throttled.add();
  auto r = error(429, "rate_limited", "too many attempts; wait before trying again");
  r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, (retry_ms + 999) / 1000)));
  respond(std::move(r));
  return false;
}

void Accounts::hash_room_password(std::string password, RoomHashDone done) {
  using protocol::errc;
  if (const auto problem = auth::check_password(password); problem != auth::PasswordProblem::none)
    return done(errc::bad_password, 0, std::string(password_message(problem)));
  auto shared = std::make_shared<RoomHashDone>(std::move(done));
  const bool queued = pool_.submit([this, password = std::move(password), shared] {
    std::string encoded;
    try {
      encoded = auth::hash_password(password, options_.password);
    } catch (const std::exception&) {
      return (*shared)(errc::overloaded, 1000, {});  // out of memory for the hash: like a full pool
    }
    (*shared)({}, 0, std::move(encoded));
  });
  if (!queued) (*shared)(errc::overloaded, 1000, {});
}

void Accounts::check_room_password(std::string_view address, std::string_view user_id, std::string password,
                                   std::string hash, RoomCheckDone done) {
  using protocol::errc;
  const std::int64_t now = clock_.now_ms();
  std::int64_t retry_ms = 0;
  using A = core::KeyedLimits::Action;
  if (!signin_by_address_.take(address, A::request, now, retry_ms) ||
      !signin_by_account_.take(user_id, A::request, now, retry_ms)) {
    counters_.throttled.add();
    return done(errc::rate_limited, retry_ms, false);
  }
  auto shared = std::make_shared<RoomCheckDone>(std::move(done));
  const bool queued = pool_.submit([this, password = std::move(password), hash = std::move(hash), shared] {
    const bool ok = auth::verify_password(hash, password);
    if (!ok) counters_.signin_failures.add();
    (*shared)({}, 0, ok);
  });
  if (!queued) (*shared)(errc::overloaded, 1000, false);
}

bool Accounts::hash(std::function<void()> work, const Respond& respond) {
  if (pool_.submit(std::move(work))) return true;
  respond(busy());
  return false;
}

void Accounts::do_register(const ApiRequest& req, Respond respond) {
  auto in = credentials(req, respond);
  if (!in) return;
  const bool want_token = in->want_token;
  core::NameError why{};
  auto name = core::normalize_name(in->name, &why);
  if (!name) return respond(error(400, "bad_name", core::describe(why)));
  if (const auto problem = auth::check_password(in->password); problem != auth::PasswordProblem::none)
    return respond(error(400, "bad_password", password_message(problem)));
  if (!take(register_by_address_, req.address, respond)) return;
  store::StoredUser user;
  user.id = auth::new_user_id();
  user.name_key = core::name_skeleton(*name);
  user.name = std::move(*name);
  user.created_at = clock_.now_ms();
  hash(
      [this, req, respond, want_token, user = std::move(user), password = std::move(in->password)]() mutable {
        try {
          user.password_hash = auth::hash_password(password, options_.password);
        } catch (const std::exception&) {
          return respond(busy());  // out of memory for the hash: like a full pool
        }
        store_.create_user(user, [this, req, respond, want_token, user](std::error_code ec) mutable {
          if (ec == protocol::errc::name_taken)
            return respond(error(409, "name_taken", "another account has this name, or one that looks like it"));
          if (ec) return respond(store_error(ec));
          counters_.registered.add();
          if (on_registered_) on_registered_(user.name_key);
          start_session(std::move(user), req, want_token, 201, std::move(respond));
        });
      },
      respond);
}

void Accounts::do_login(const ApiRequest& req, Respond respond) {
  auto in = credentials(req, respond);
  if (!in) return;
  const bool want_token = in->want_token;
  if (!take(signin_by_address_, req.address, respond)) return;
  // A name no account can have is a wrong name; its key is the skeleton of what was sent.
  auto name = core::normalize_name(in->name);
  const std::string key = core::name_skeleton(name ? *name : in->name);
  if (!take(signin_by_account_, key, respond)) return;
  store_.find_user_by_name_key(key, [this, req, respond, want_token, password = std::move(in->password)](
                                        std::error_code ec, std::optional<store::StoredUser> user) mutable {
    if (ec) return respond(store_error(ec));
    hash(
        [this, req, respond, want_token, password = std::move(password), user = std::move(user)]() mutable {
          // An unknown name costs a verification too, so that timing does not tell which names exist.
          // A banned account's hash is behind a prefix (auth::is_banned_hash): the password is
          // checked against the hash itself, so that only its owner learns of the ban.
          const bool banned = user && auth::is_banned_hash(user->password_hash);
          const std::string encoded = user ? user->password_hash.substr(banned ? auth::banned_hash_prefix.size() : 0)
                                           : auth::dummy_hash(options_.password);
          const bool ok = auth::verify_password(encoded, password) && user;
          if (!ok) {
            counters_.signin_failures.add();
            return respond(error(401, "bad_credentials", "wrong name or password"));
          }
          if (banned) return respond(error(403, "banned", "this account is banned"));
          counters_.signins.add();
          start_session(std::move(*user), req, want_token, 200, std::move(respond));
        },
        respond);
  });
}

void Accounts::start_session(store::StoredUser user, const ApiRequest& req, bool want_token, unsigned status,
                             Respond respond) {
  const std::string token = auth::mint_token();
  store::StoredSession s;
  s.token_digest = auth::token_digest(token);
  s.user_id = user.id;
  s.created_at = s.last_seen_at = clock_.now_ms();
  s.expires_at = s.created_at + options_.session_ttl_ms;
  s.label = req.user_agent.substr(0, std::min<std::size_t>(req.user_agent.size(), 200));
  const bool secure = req.secure;
  // Past auth.max_sessions_per_user the user's oldest sessions end, in the same transaction. (A
  // WebSocket open with one of them stays until it closes: the store does not say which ended.)
  store_.create_session(s, options_.max_sessions_per_user,
                        [this, token, want_token, status, secure, user = std::move(user), respond = std::move(respond)](
                            std::error_code ec, std::size_t evicted) {
                          if (evicted > 0) counters_.sessions_evicted.add(evicted);
                          if (ec) return respond(store_error(ec));
                          protocol::JsonWriter w;
                          w.raw("user", user_json(user));
                          if (want_token) w.str("token", token);
                          ApiResponse r{status, std::move(w).done(), {}};
                          r.headers.emplace_back("Set-Cookie", cookie(token, options_.session_ttl_ms, secure));
                          respond(std::move(r));
                        });
}

void Accounts::authenticate(std::string_view token, AuthDone done) {
  if (!auth::looks_like_token(token)) return done({}, std::nullopt);
  const std::int64_t now = clock_.now_ms();
  store_.find_session(auth::token_digest(token), now,
                      [this, now, done = std::move(done)](
                          std::error_code ec, std::optional<std::pair<store::StoredSession, store::StoredUser>> found) {
                        if (ec) return done(ec, std::nullopt);
                        if (!found) return done({}, std::nullopt);
                        auto& [session, user] = *found;
                        // Sliding expiry, written at most once an interval.
                        if (now - session.last_seen_at >= touch_interval_ms) {
                          session.last_seen_at = now;
                          session.expires_at = now + options_.session_ttl_ms;
                          store_.touch_session(session.token_digest, now, session.expires_at, [](std::error_code) {});
                        }
                        done({}, SignedIn{std::move(user), std::move(session)});
                      });
}

void Accounts::verify_jwt(std::string token, JwtDone done) {
  const auto check = [this](const std::string& token) {
    auth::JwtResult r = jwt_->verify(token, clock_.now_ms());
    if (r.ok())
      counters_.jwt_ok.add();
    else if (r.problem == auth::JwtProblem::expired)
      counters_.jwt_expired.add();
    else
      counters_.jwt_invalid.add();
    return r;
  };
  if (auth::jwt_uses_secret(jwt_->algorithm())) return done(check(token));
  auto answer = std::make_shared<JwtDone>(std::move(done));
  if (!pool_.submit([check, answer, token = std::move(token)] { (*answer)(check(token)); })) (*answer)(std::nullopt);
}

void Accounts::with_user(const ApiRequest& req, Respond respond, std::function<void(SignedIn, Respond)> then) {
  const std::string_view token = api::session_token(req);
  if (token.empty()) return respond(error(401, "unauthorized", "sign in first"));
  authenticate(token, [respond = std::move(respond), then = std::move(then)](std::error_code ec,
                                                                             std::optional<SignedIn> who) mutable {
    if (ec) return respond(store_error(ec));
    if (!who) return respond(error(401, "unauthorized", "the session has ended; sign in again"));
    then(std::move(*who), std::move(respond));
  });
}

void Accounts::do_me(const ApiRequest& req, Respond respond) {
  with_user(req, std::move(respond), [](const SignedIn& who, const Respond& respond) {
    protocol::JsonWriter w;
    w.raw("user", user_json(who.user));
    respond(ApiResponse{200, std::move(w).done(), {}});
  });
}

void Accounts::do_logout(const ApiRequest& req, Respond respond) {
  const bool secure = req.secure;
  // Signing out is idempotent: without a live session (none sent, a malformed one, one already
  // ended) the answer is the same 204, and the cookie a browser still holds is cleared.
  authenticate(api::session_token(req), [this, secure, respond = std::move(respond)](std::error_code ec,
                                                                                     std::optional<SignedIn> in) {
    if (ec) return respond(store_error(ec));
    if (!in) return respond(signed_out(secure));
    const SignedIn& who = *in;
    store_.revoke_session(who.user.id, who.session.token_digest, [this, who, respond, secure](std::error_code ec) {
      if (ec) return respond(store_error(ec));
      ended(who.user.id, who.session.token_digest);
      respond(signed_out(secure));
    });
  });
}

void Accounts::do_sessions(const ApiRequest& req, Respond respond) {
  with_user(req, std::move(respond), [this](const SignedIn& who, const Respond& respond) {
    store_.list_sessions(who.user.id, [respond, current = who.session.token_digest, now = clock_.now_ms()](
                                          std::error_code ec, const std::vector<store::StoredSession>& sessions) {
      if (ec) return respond(store_error(ec));
      std::string list = "[";
      for (const auto& s : sessions) {
        if (s.expires_at <= now) continue;  // ended, not swept yet
        protocol::JsonWriter w;
        w.str("id", s.token_digest)
            .num("created_at", s.created_at)
            .num("last_seen_at", s.last_seen_at)
            .num("expires_at", s.expires_at)
            .str("label", s.label)
            .boolean("current", s.token_digest == current);
        if (list.size() > 1) list += ",";
        list += std::move(w).done();
      }
      list += "]";
      protocol::JsonWriter w;
      w.raw("sessions", list);
      respond(ApiResponse{200, std::move(w).done(), {}});
    });
  });
}

void Accounts::do_revoke(const ApiRequest& req, std::string digest, Respond respond) {
  const bool secure = req.secure;
  with_user(req, std::move(respond),
            [this, digest = std::move(digest), secure](const SignedIn& who, const Respond& respond) {
              // All of them (sign out everywhere), or one; this one among them clears its cookie.
              const bool this_one = digest.empty() || digest == who.session.token_digest;
              auto answer = [this, respond, this_one, secure, user = who.user.id, digest](std::error_code ec) {
                if (ec) return respond(store_error(ec));
                ended(user, digest);  // another user's digest matches none of this user's sockets
                respond(this_one ? signed_out(secure) : ApiResponse{204, {}, {}});
              };
              if (digest.empty()) return store_.revoke_sessions(who.user.id, std::move(answer));
              store_.revoke_session(who.user.id, digest, std::move(answer));
            });
}

void Accounts::do_password(const ApiRequest& req, Respond respond) {
  auto body = body_object(req, respond);
  if (!body) return;
  auto old_password = field(*body, "password", respond);
  if (!old_password) return;
  auto new_password = field(*body, "new_password", respond);
  if (!new_password) return;
  if (const auto problem = auth::check_password(*new_password); problem != auth::PasswordProblem::none)
    return respond(error(400, "bad_password", password_message(problem)));
  with_user(req, std::move(respond),
            [this, old_password = std::move(*old_password), new_password = std::move(*new_password)](
                SignedIn who, const Respond& respond) mutable {
              if (!take(signin_by_account_, who.user.name_key, respond)) return;
              hash(
                  [this, who = std::move(who), respond, old_password = std::move(old_password),
                   new_password = std::move(new_password)]() mutable {
                    if (!auth::verify_password(who.user.password_hash, old_password)) {
                      counters_.signin_failures.add();
                      return respond(error(401, "bad_credentials", "wrong password"));
                    }
                    std::string encoded;
                    try {
                      encoded = auth::hash_password(new_password, options_.password);
                    } catch (const std::exception&) {
                      return respond(busy());
                    }
                    // Every other session ends: whoever knew the old password is signed out.
                    store_.set_password(
                        who.user.id, std::move(encoded), who.session.token_digest,
                        [this, respond, user = who.user.id, keep = who.session.token_digest](std::error_code ec) {
                          if (ec) return respond(store_error(ec));
                          ended(user, {}, keep);
                          respond(ApiResponse{204, {}, {}});
                        });
                  },
                  respond);
            });
}

void Accounts::do_delete(const ApiRequest& req, Respond respond) {
  auto body = body_object(req, respond);
  if (!body) return;
  auto password = field(*body, "password", respond);
  if (!password) return;
  const bool secure = req.secure;
  with_user(req, std::move(respond),
            [this, secure, password = std::move(*password)](SignedIn who, const Respond& respond) mutable {
              if (!take(signin_by_account_, who.user.name_key, respond)) return;
              hash(
                  [this, secure, who = std::move(who), respond, password = std::move(password)]() {
                    if (!auth::verify_password(who.user.password_hash, password)) {
                      counters_.signin_failures.add();
                      return respond(error(401, "bad_credentials", "wrong password"));
                    }
                    store_.delete_user(who.user.id, [this, respond, secure, user = who.user.id](std::error_code ec) {
                      if (ec) return respond(store_error(ec));
                      ended(user, {});
                      respond(signed_out(secure));
                    });
                  },
                  respond);
            });
}

}  // namespace parley::node
