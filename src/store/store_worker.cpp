#include "store/store_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <stdexcept>
#include <type_traits>

#include "protocol/errc.hpp"

namespace parley::store {

namespace {

using protocol::errc;
using Clock = std::chrono::steady_clock;

constexpr auto first_backoff = std::chrono::milliseconds(50);
constexpr auto max_backoff = std::chrono::milliseconds(2000);
// An idle worker checks its database this often (one round trip): /readyz follows an outage
// within about this long with no traffic at all.
constexpr auto probe_every = std::chrono::milliseconds(1000);

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

class StoreCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "store"; }
  std::string message(int value) const override {
    switch (static_cast<store_errc>(value)) {
      case store_errc::seq_taken: return "the seq is already stored with another message";
      case store_errc::over_quota: return "the uploader's files would pass its quota";
    }
    return "unknown store error";
  }
};

}  // namespace

const std::error_category& store_category() noexcept {
  static const StoreCategory category;
  return category;
}

StoreWorker::StoreWorker(StoreBackend& backend, StoreWorkerOptions options)
    : backend_(backend), options_(std::move(options)) {}

StoreWorker::~StoreWorker() { stop(); }

void StoreWorker::start() {
  thread_ = std::thread([this] { run(); });
  std::lock_guard lock(mutex_);  // read by submit() after its own turn with the lock
  thread_id_ = thread_.get_id();
}

std::vector<StoredRoom> StoreWorker::load_rooms() {
  std::promise<std::vector<StoredRoom>> done;
  submit(CallJob{[&] {
    try {
      done.set_value(backend_.load_rooms_now());
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  }});
  return done.get_future().get();
}

void StoreWorker::create_room_now(const StoredRoom& room) {
  std::promise<std::error_code> done;
  create_room(room, [&](std::error_code ec) { done.set_value(ec == errc::room_exists ? std::error_code() : ec); });
  if (auto ec = done.get_future().get())
    throw std::runtime_error("cannot create room " + room.id + ": " + ec.message());
}

void StoreWorker::delete_room(std::string room, Store::Done done) {
  submit(DeleteJob{std::move(room), std::move(done)});
}

void StoreWorker::create_room(StoredRoom room, Store::Done done) {
  submit(CreateJob{std::move(room), std::move(done)});
}

bool StoreWorker::has_capacity() const { return queued_.load(std::memory_order_relaxed) < options_.max_queue; }

void StoreWorker::append(std::vector<core::Message> batch, Store::Done done) {
  queued_.fetch_add(batch.size());
  submit(AppendJob{std::move(batch), std::move(done)});
}

void StoreWorker::read(std::string room, std::uint64_t after, std::uint64_t before, std::size_t limit,
                       Store::ReadDone done) {
  submit(ReadJob{std::move(room), after, before, limit, std::move(done)});
}

void StoreWorker::find_room(std::string room, Store::FindRoomDone done) {
  submit(FindRoomJob{std::move(room), std::move(done)});
}

template <class Attempt>
void StoreWorker::account(Store::Done done, Attempt attempt) {
  submit(AccountJob{[this, done = std::move(done), attempt = std::move(attempt)](StoreBackend* backend) {
    const std::error_code ec = backend ? attempt(*backend) : make_error_code(errc::store_failed);
    if (backend) note(ec != errc::store_failed);
    done(ec);
  }});
}

template <class Out, class Attempt>
void StoreWorker::account(std::function<void(std::error_code, Out)> done, Attempt attempt) {
  submit(AccountJob{[this, done = std::move(done), attempt = std::move(attempt)](StoreBackend* backend) {
    Out out{};
    const std::error_code ec = backend ? attempt(*backend, out) : make_error_code(errc::store_failed);
    if (backend) note(ec != errc::store_failed);
    if (ec) out = Out{};
    done(ec, std::move(out));
  }});
}

void StoreWorker::create_user(StoredUser user, Store::Done done) {
  account(std::move(done), [user = std::move(user)](StoreBackend& b) { return b.create_user_now(user); });
}

void StoreWorker::find_user_by_name_key(std::string name_key, Store::FindUserDone done) {
  account(std::move(done), [name_key = std::move(name_key)](StoreBackend& b, std::optional<StoredUser>& out) {
    return b.find_user_by_name_key_now(name_key, out);
  });
}

void StoreWorker::find_user(std::string id, Store::FindUserDone done) {
  account(std::move(done),
          [id = std::move(id)](StoreBackend& b, std::optional<StoredUser>& out) { return b.find_user_now(id, out); });
}

void StoreWorker::set_password(std::string user_id, std::string password_hash, std::string keep_session_digest,
                               Store::Done done) {
  account(std::move(done), [user_id = std::move(user_id), password_hash = std::move(password_hash),
                            keep = std::move(keep_session_digest)](StoreBackend& b) {
    return b.set_password_now(user_id, password_hash, keep);
  });
}

void StoreWorker::delete_user(std::string user_id, Store::Done done) {
  account(std::move(done), [user_id = std::move(user_id)](StoreBackend& b) { return b.delete_user_now(user_id); });
}

void StoreWorker::create_session(StoredSession session, std::size_t max_per_user, Store::CreateSessionDone done) {
  account(std::move(done), [session = std::move(session), max_per_user](StoreBackend& b, std::size_t& evicted) {
    return b.create_session_now(session, max_per_user, evicted);
  });
}

void StoreWorker::find_session(std::string token_digest, std::int64_t now_ms, Store::FindSessionDone done) {
  account(std::move(done), [token_digest = std::move(token_digest), now_ms](
                               StoreBackend& b, std::optional<std::pair<StoredSession, StoredUser>>& out) {
    return b.find_session_now(token_digest, now_ms, out);
  });
}

void StoreWorker::touch_session(std::string token_digest, std::int64_t last_seen_at, std::int64_t expires_at,
                                Store::Done done) {
  account(std::move(done), [token_digest = std::move(token_digest), last_seen_at, expires_at](StoreBackend& b) {
    return b.touch_session_now(token_digest, last_seen_at, expires_at);
  });
}

void StoreWorker::list_sessions(std::string user_id, Store::ListSessionsDone done) {
  account(std::move(done), [user_id = std::move(user_id)](StoreBackend& b, std::vector<StoredSession>& out) {
    return b.list_sessions_now(user_id, out);
  });
}

void StoreWorker::revoke_session(std::string user_id, std::string token_digest, Store::Done done) {
  account(std::move(done), [user_id = std::move(user_id), token_digest = std::move(token_digest)](StoreBackend& b) {
    return b.revoke_session_now(user_id, token_digest);
  });
}

void StoreWorker::revoke_sessions(std::string user_id, Store::Done done) {
  account(std::move(done), [user_id = std::move(user_id)](StoreBackend& b) { return b.revoke_sessions_now(user_id); });
}

void StoreWorker::sweep_sessions(std::int64_t now_ms, Store::Done done) {
  account(std::move(done), [now_ms](StoreBackend& b) { return b.sweep_sessions_now(now_ms); });
}

void StoreWorker::load_access(std::string room, Store::AccessDone done) {
  account(std::move(done),
          [room = std::move(room)](StoreBackend& b, StoredAccess& out) { return b.load_access_now(room, out); });
}

void StoreWorker::set_member(std::string room, StoredMember member, Store::Done done) {
  account(std::move(done), [room = std::move(room), member = std::move(member)](StoreBackend& b) {
    return b.set_member_now(room, member);
  });
}

void StoreWorker::remove_member(std::string room, std::string user_id, bool ban, Store::Done done) {
  account(std::move(done), [room = std::move(room), user_id = std::move(user_id), ban](StoreBackend& b) {
    return b.remove_member_now(room, user_id, ban);
  });
}

void StoreWorker::unban(std::string room, std::string user_id, Store::Done done) {
  account(std::move(done), [room = std::move(room), user_id = std::move(user_id)](StoreBackend& b) {
    return b.unban_now(room, user_id);
  });
}

void StoreWorker::load_roster(std::string room, std::size_t limit, Store::RosterDone done) {
  account(std::move(done), [room = std::move(room), limit](StoreBackend& b, std::vector<StoredRosterEntry>& out) {
    return b.load_roster_now(room, limit, out);
  });
}

void StoreWorker::set_room_info(std::string room, std::string title, std::string topic, Store::Done done) {
  account(std::move(done), [room = std::move(room), title = std::move(title), topic = std::move(topic)](
                               StoreBackend& b) { return b.set_room_info_now(room, title, topic); });
}

void StoreWorker::set_read(std::string user_id, std::string room, std::uint64_t seq, Store::SetReadDone done) {
  account(std::move(done),
          [user_id = std::move(user_id), room = std::move(room), seq](StoreBackend& b, std::uint64_t& stored) {
            return b.set_read_now(user_id, room, seq, stored);
          });
}

void StoreWorker::read_states(std::string user_id, std::string name_key, std::vector<std::string> rooms,
                              Store::ReadStatesDone done) {
  if (rooms.size() > Store::max_read_state_rooms) rooms.resize(Store::max_read_state_rooms);
  account(std::move(done), [user_id = std::move(user_id), name_key = std::move(name_key), rooms = std::move(rooms)](
                               StoreBackend& b, std::vector<StoredReadState>& out) {
    return b.read_states_now(user_id, name_key, rooms, out);
  });
}

void StoreWorker::room_reads(std::string room, std::size_t limit, Store::SeenDone done) {
  account(std::move(done), [room = std::move(room), limit](StoreBackend& b, std::vector<StoredSeen>& out) {
    return b.room_reads_now(room, limit, out);
  });
}

void StoreWorker::create_api_key(StoredApiKey key, Store::Done done) {
  account(std::move(done), [key = std::move(key)](StoreBackend& b) { return b.create_api_key_now(key); });
}

void StoreWorker::find_api_key(std::string id, Store::FindApiKeyDone done) {
  account(std::move(done), [id = std::move(id)](StoreBackend& b, std::optional<StoredApiKey>& out) {
    return b.find_api_key_now(id, out);
  });
}

void StoreWorker::list_api_keys(Store::ListApiKeysDone done) {
  account(std::move(done), [](StoreBackend& b, std::vector<StoredApiKey>& out) { return b.list_api_keys_now(out); });
}

void StoreWorker::revoke_api_key(std::string id, std::int64_t now_ms, Store::RevokeApiKeyDone done) {
  account(std::move(done), [id = std::move(id), now_ms](StoreBackend& b, bool& revoked) {
    return b.revoke_api_key_now(id, now_ms, revoked);
  });
}

void StoreWorker::touch_api_key(std::string id, std::int64_t now_ms, Store::Done done) {
  account(std::move(done), [id = std::move(id), now_ms](StoreBackend& b) { return b.touch_api_key_now(id, now_ms); });
}

void StoreWorker::put_file(StoredFile file, std::uint64_t quota_bytes, Store::Done done) {
  account(std::move(done),
          [file = std::move(file), quota_bytes](StoreBackend& b) { return b.put_file_now(file, quota_bytes); });
}

void StoreWorker::find_file(std::string id, Store::FindFileDone done) {
  account(std::move(done),
          [id = std::move(id)](StoreBackend& b, std::optional<StoredFile>& out) { return b.find_file_now(id, out); });
}

void StoreWorker::claim_files(std::string room, std::string uploader_id, std::string cid, std::vector<std::string> ids,
                              std::int64_t now_ms, Store::FilesDone done) {
  account(std::move(done), [room = std::move(room), uploader_id = std::move(uploader_id), cid = std::move(cid),
                            ids = std::move(ids), now_ms](StoreBackend& b, std::vector<StoredFile>& out) {
    return b.claim_files_now(room, uploader_id, cid, ids, now_ms, out);
  });
}

void StoreWorker::take_file_trash(std::int64_t unattached_before, std::size_t limit, Store::FileIdsDone done) {
  account(std::move(done), [unattached_before, limit](StoreBackend& b, std::vector<std::string>& out) {
    return b.take_file_trash_now(unattached_before, limit, out);
  });
}

void StoreWorker::flush() {
  std::promise<void> done;
  submit(CallJob{[&] { done.set_value(); }});
  done.get_future().wait();
}

void StoreWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) stop_deadline_ = Clock::now() + options_.stop_timeout;
    stopping_ = true;
  }
  // Wakes the idle loop, or a backoff wait that may now have to end at the deadline.
  wake_.notify_all();
  join();
}

void StoreWorker::join() {
  // Once, whoever comes first; the others (a second stop(), the destructor's) wait for it.
  std::call_once(joined_, [this] {
    if (thread_.joinable()) thread_.join();
  });
}

StoreStats StoreWorker::stats() const {
  const std::int64_t since = busy_since_ns_.load(std::memory_order_relaxed);
  const std::int64_t now = steady_ns();
  const auto busy_ns = since == 0 || now < since ? 0 : now - since;
  return StoreStats{.batches = batches_.load(std::memory_order_relaxed),
                    .messages = messages_.load(std::memory_order_relaxed),
                    .batch_micros_total = batch_micros_.load(std::memory_order_relaxed),
                    .queued = queued_.load(std::memory_order_relaxed),
                    .failures = failures_.load(std::memory_order_relaxed),
                    .failing = failing_.load(std::memory_order_relaxed),
                    .busy_ms = static_cast<std::uint64_t>(busy_ns / 1000000)};
}

void StoreWorker::note(bool ok) {
  if (ok)
    failing_.store(0, std::memory_order_relaxed);
  else
    failing_.fetch_add(1, std::memory_order_relaxed);
}

void StoreWorker::busy(bool on) {
  busy_since_ns_.store(on ? std::max<std::int64_t>(steady_ns(), 1) : 0, std::memory_order_relaxed);
}

void StoreWorker::submit(Job job) {
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
        else if constexpr (std::is_same_v<J, AccountJob>)
          j.fn(nullptr);
        else if constexpr (std::is_same_v<J, CallJob>) {
          // The thread may still be draining: a flush waits for it to end, and start-up work may
          // use the backend only once the thread is gone. From the thread itself (a completion
          // during the drain) it runs now.
          if (std::this_thread::get_id() != thread_id_) join();
          j.fn();
        } else if constexpr (std::is_same_v<J, AppendJob>) {
          queued_.fetch_sub(j.batch.size());
          j.done(errc::store_failed);
        } else
          j.done(errc::store_failed);
      },
      job);
}

bool StoreWorker::keep_retrying() {
  std::lock_guard lock(mutex_);
  return !stopping_ || Clock::now() < stop_deadline_;
}

void StoreWorker::wait_backoff(std::chrono::milliseconds& backoff) {
  if (options_.wait) {
    options_.wait(backoff);
  } else {
    // stop() ends the wait early: with no time left to retry the next attempt is the last, and
    // with some it need not outlast the deadline.
    std::unique_lock lock(mutex_);
    const bool was_stopping = stopping_;
    auto until = Clock::now() + backoff;
    if (stopping_) until = std::min(until, stop_deadline_);
    wake_.wait_until(lock, until, [&] { return stopping_ != was_stopping; });
  }
  backoff = std::min(backoff * 2, max_backoff);
}

void StoreWorker::run() {
  std::deque<Job> work;
  for (;;) {
    bool idle = false;
    {
      std::unique_lock lock(mutex_);
      idle = !wake_.wait_for(lock, probe_every, [&] { return stopping_ || !jobs_.empty(); });
      if (!idle) {
        if (jobs_.empty() && stopping_) return;
        work.swap(jobs_);
      }
    }
    if (idle) {
      // Nothing to do for a second: check that the database could serve the next job, so that
      // the store's health (/readyz) follows it without traffic, and comes back after an outage.
      std::string err;
      busy(true);
      const bool ok = backend_.probe_now(err);
      busy(false);
      if (!ok && failing_.load(std::memory_order_relaxed) == 0)
        spdlog::warn("store: the database cannot serve: {}", err);
      note(ok);
      continue;
    }
    // Consecutive appends share one transaction; other jobs run in between, in order.
    std::vector<AppendJob*> appends;
    std::size_t batched = 0;
    auto commit_pending = [&] {
      if (!appends.empty()) commit(appends);
      appends.clear();
      batched = 0;
    };
    for (Job& job : work) {
      busy(true);
      if (auto* a = std::get_if<AppendJob>(&job)) {
        if (batched + a->batch.size() > options_.max_batch) commit_pending();
        appends.push_back(a);
        batched += a->batch.size();
        continue;
      }
      commit_pending();
      if (auto* c = std::get_if<CreateJob>(&job)) {
        c->done(create(c->room));
      } else if (auto* d = std::get_if<DeleteJob>(&job)) {
        d->done(remove(d->room));
      } else if (auto* r = std::get_if<ReadJob>(&job)) {
        std::vector<core::Message> out;
        auto ec = backend_.read_now(r->room, r->after, r->before, r->limit, out);
        note(!ec);
        r->done(ec, std::move(out));
      } else if (auto* fr = std::get_if<FindRoomJob>(&job)) {
        std::optional<StoredRoom> found;
        auto ec = backend_.find_room_now(fr->room, found);
        note(!ec);
        fr->done(ec, std::move(found));
      } else if (auto* f = std::get_if<CallJob>(&job)) {
        f->fn();
      } else if (auto* acc = std::get_if<AccountJob>(&job)) {
        acc->fn(&backend_);
      }
      busy(false);
    }
    busy(true);
    commit_pending();
    busy(false);
    work.clear();
  }
}

void StoreWorker::commit(std::span<AppendJob*> jobs) {
  std::vector<StoreBackend::Append> appends;
  appends.reserve(jobs.size());
  std::size_t n = 0;
  for (auto* j : jobs) {
    appends.push_back({&j->batch, {}});
    n += j->batch.size();
  }
  auto backoff = first_backoff;
  for (;;) {
    for (auto& a : appends) a.result = {};
    std::string err;
    const auto t0 = Clock::now();
    const auto outcome = backend_.try_commit(appends, err);
    if (outcome == StoreBackend::Outcome::ok) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
      batches_.fetch_add(1, std::memory_order_relaxed);
      messages_.fetch_add(n, std::memory_order_relaxed);
      batch_micros_.fetch_add(static_cast<std::uint64_t>(us.count()), std::memory_order_relaxed);
      queued_.fetch_sub(n);
      note(true);
      for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i]->done(appends[i].result);
      return;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (outcome == StoreBackend::Outcome::retry) note(false);
    if (outcome == StoreBackend::Outcome::rejected) {
      // Retrying the batch would fail forever. Commit each append on its own so only the one
      // holding the bad row fails.
      if (jobs.size() > 1) {
        spdlog::warn("store: batch of {} appends rejected ({}); committing them one by one", jobs.size(), err);
        for (auto*& j : jobs) commit(std::span(&j, 1));
        return;
      }
      spdlog::error("store: append of {} messages rejected by the database: {}", n, err);
      queued_.fetch_sub(n);
      jobs.front()->done(errc::store_failed);
      return;
    }
    // Retried with the same seqs: skipping them would leave a hole in the room.
    if (!keep_retrying()) {
      spdlog::error("store: commit of {} messages failed at shutdown: {}", n, err);
      queued_.fetch_sub(n);
      for (auto* j : jobs) j->done(errc::store_failed);
      return;
    }
    spdlog::error("store: commit of {} messages failed, retrying in {} ms: {}", n, backoff.count(), err);
    wait_backoff(backoff);
  }
}

template <class Attempt>
std::error_code StoreWorker::retried(const char* what, const std::string& room, Attempt&& attempt) {
  auto backoff = first_backoff;
  for (;;) {
    std::string err;
    const auto outcome = attempt(err);
    if (outcome != StoreBackend::Outcome::retry) note(true);  // the database answered
    if (outcome == StoreBackend::Outcome::ok) return {};
    if (outcome == StoreBackend::Outcome::rejected) {
      spdlog::error("store: cannot {} room {}: {}", what, room, err);
      return errc::store_failed;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    note(false);
    if (!keep_retrying()) {
      spdlog::error("store: cannot {} room {}: {}", what, room, err);
      return errc::store_failed;
    }
    spdlog::error("store: cannot {} room {}, retrying in {} ms: {}", what, room, backoff.count(), err);
    wait_backoff(backoff);
  }
}

std::error_code StoreWorker::create(const StoredRoom& room) {
  std::error_code result;
  if (auto ec =
          retried("create", room.id, [&](std::string& err) { return backend_.try_create_room(room, result, err); }))
    return ec;
  return result;
}

std::error_code StoreWorker::remove(const std::string& room) {
  return retried("delete", room, [&](std::string& err) { return backend_.try_delete_room(room, err); });
}

}  // namespace parley::store
