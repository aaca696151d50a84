// search (docs/protocol.md, "search"): the messages of the rooms the user may read, from the store.
//
// Which rooms is decided here, at the time of the search, never by the client: with `room`, that
// room if the session has joined it and the room's access lets the user in (history's check,
// and history's errors); without, every room of the node that the room's access lets the user
// into and that the user either has joined on this connection, or is in on another session of
// the same account now (another tab or device, on any node: the room's presence), or holds a role
// in (is a member of: private rooms and direct conversations, and public rooms it was made a
// member of). A guest holds no role: the rooms its connection has joined. A user removed or
// banned from a room has no role there, and its sessions have left it: its messages are never
// searched for it again. Each room is checked on its owner shard, where its access changes.
#include <algorithm>
#include <memory>

#include "core/room_access.hpp"
#include "core/search.hpp"
#include "node/errors.hpp"
#include "node/requests.hpp"
#include "node/room_owner.hpp"
#include "protocol/events.hpp"
#include "protocol/utf8.hpp"

namespace parley::node {

using protocol::errc;

namespace {
SessionRef ref_of(const Client& s) { return SessionRef{s.shard().index(), s.id()}; }
std::string retry_after(std::int64_t ms) { return "\"retry_after_ms\":" + std::to_string(ms); }
}  // namespace

void Requests::do_search(Client& s, protocol::Request& req) {
  const auto& l = ctx_.limits();
  if (protocol::utf8_length(req.query) > l.max_search_length)
    return send_error(s, errc::bad_request, req.ref,
                      "the query is longer than " + std::to_string(l.max_search_length) + " characters");
  std::vector<std::string> terms = core::search_terms(req.query);
  if (terms.empty()) return send_error(s, errc::bad_request, req.ref, "nothing to search for: the query has no words");
  if (terms.size() > core::max_search_terms)
    return send_error(s, errc::bad_request, req.ref,
                      "the query has more than " + std::to_string(core::max_search_terms) + " words");
  const std::size_t max = std::max<std::size_t>(l.search_limit, 1);
  if (req.limit && (*req.limit == 0 || *req.limit > max))
    return send_error(s, errc::bad_request, req.ref, "limit must be 1 to " + std::to_string(max));
  std::optional<core::SearchCursor> before;
  if (!req.after.empty()) {
    before = core::parse_cursor(req.after);
    if (!before) return send_error(s, errc::bad_request, req.ref, "before must be a search_results' next");
  }
  if (!req.room.empty() && !s.find_room(req.room)) return send_error(s, errc::not_joined, req.ref);
  // Budgets: this connection's searches per second, then the node's searches at once.
  std::int64_t wait_ms = 0;
  if (!s.search_bucket().take(ctx_.now_ms(), wait_ms)) {
    s.shard().metrics().rate_limited.add();
    s.shard().metrics().searches_refused.add();
    return send_error(s, errc::rate_limited, req.ref, "too many searches; slow down", retry_after(wait_ms));
  }
  if (ctx_.searches_in_flight.fetch_add(1, std::memory_order_relaxed) >= l.max_searches_in_flight) {
    ctx_.searches_in_flight.fetch_sub(1, std::memory_order_relaxed);
    s.shard().metrics().searches_refused.add();
    return send_error(s, errc::overloaded, req.ref, "too many searches at once; try again in a moment",
                      retry_after(1000));
  }
  ++s.in_flight;
  const std::int64_t started_ns = ctx_.clock().steady_ns();
  store::SearchQuery query{.terms = std::move(terms),
                           .rooms = {},
                           .limit = req.limit.value_or(std::min<std::size_t>(20, max)),
                           .before = std::move(before)};

  // The rooms: each candidate checked on its owner shard, gathered back on this one.
  struct Gather {
    unsigned pending = 0;
    store::SearchQuery query;
    std::string q, ref;
    SessionRef who;
    std::int64_t started_ns = 0;
    bool refused = false;  // `room` given, and the user may not read it (history's forbidden)
  };
  auto g = std::make_shared<Gather>();
  g->query = std::move(query);
  g->q = std::move(req.query);
  g->ref = std::move(req.ref);
  g->who = ref_of(s);
  g->started_ns = started_ns;
  g->pending = ctx_.shard_count();
  auto joined = std::make_shared<std::vector<std::string>>();
  for (const auto& r : s.rooms) joined->push_back(r.room);
  std::sort(joined->begin(), joined->end());
  const std::string only = req.room;
  // An account's sessions elsewhere (another tab, device or node) are in the rooms' presence under
  // its name, which no one else holds; a guest's or a JWT's name is not its own alone.
  const bool signed_in = core::is_account_id(s.user_id);
  Shard& home = s.shard();
  for (auto& sh : ctx_.shards) {
    Shard* shard = sh.get();
    shard->post([this, shard, &home, g, joined, only, user_id = s.user_id, name = signed_in ? s.user : std::string()] {
      std::vector<std::string> mine;
      bool refused = false;
      auto readable = [&](const OwnedRoom& r) {
        // As `rooms` lists them: an idle room (its log unloaded) keeps its access.
        return r.state != OwnedRoom::State::creating && r.state != OwnedRoom::State::deleting && r.access_known &&
               r.access.may(user_id, core::RoomAction::join);
      };
      if (!only.empty()) {
        if (&ctx_.owner_of(only) == shard) {
          OwnedRoom* r = shard->find_owned(only);
          if (r && readable(*r)) {
            mine.push_back(only);
          } else {
            refused = true;
            shard->metrics().access_denied.add();
          }
        }
      } else {
        for (auto& [id, r] : shard->owned()) {
          if (!readable(*r)) continue;
          if (r->access.role_of(user_id) == core::Role::none &&
              !std::binary_search(joined->begin(), joined->end(), id) && (name.empty() || !r->presence.contains(name)))
            continue;
          mine.push_back(id);
        }
      }
      home.post([this, g, refused, mine = std::move(mine)]() mutable {
        for (auto& m : mine) g->query.rooms.push_back(std::move(m));
        g->refused = g->refused || refused;
        if (--g->pending > 0) return;
        if (g->refused) {
          ctx_.searches_in_flight.fetch_sub(1, std::memory_order_relaxed);
          Shard& home = ctx_.shard(g->who.shard);
          if (Client* c = home.find_client(g->who.id)) {
            if (c->in_flight > 0) --c->in_flight;
            send_error(*c, errc::forbidden, g->ref, "not a member of this room");
          }
          return;
        }
        // In id order: the store's statement reads the same for the same rooms.
        std::sort(g->query.rooms.begin(), g->query.rooms.end());
        run_search(g->who, std::move(g->ref), std::move(g->q), std::move(g->query), g->started_ns);
      });
    });
  }
}

void Requests::run_search(SessionRef who, std::string ref, std::string q, store::SearchQuery query,
                          std::int64_t started_ns) {
  Shard& home = ctx_.shard(who.shard);
  ctx_.store.search(std::move(query), [this, &home, who, ref = std::move(ref), q = std::move(q), started_ns](
                                          std::error_code ec, store::SearchPage page) mutable {
    home.post(
        [this, &home, who, ref = std::move(ref), q = std::move(q), started_ns, ec, page = std::move(page)]() mutable {
          ctx_.searches_in_flight.fetch_sub(1, std::memory_order_relaxed);
          Client* c = home.find_client(who.id);
          if (!c) return;
          if (c->in_flight > 0) --c->in_flight;
          if (ec) return send_error(*c, errc::store_failed, ref, "the search could not be made; try again");
          std::vector<protocol::SearchHitFields> hits;
          hits.reserve(page.hits.size());
          for (const auto& h : page.hits)
            hits.push_back(protocol::SearchHitFields{h.room, h.seq, h.from, h.from_id, h.text, h.ts});
          const std::string next = page.next ? core::encode_cursor(*page.next) : std::string();
          c->send(protocol::search_results_event(q, hits, next, ref));
          home.metrics().searches.add();
          home.metrics().search.observe_between(started_ns, ctx_.clock().steady_ns());
        });
  });
}

}  // namespace parley::node
