#pragma once
// How a room on this node follows the broker that orders it (cluster mode): its subscription to
// the room's channel, and whether it has caught up with the broker's log since subscribing. One
// state, changed only by the transitions below (node/cluster_sync.cpp drives them):
//
//   state         subscribed  caught up  fetching   what the node does with the room
//   unsubscribed  no          -          no         nothing (no member here)
//   behind        yes         no         no         joins wait; a fetch is due (subscribe ack,
//                                                   a failed fetch, too many early messages)
//   catching_up   yes         no         yes        joins wait for the fetch
//   synced        yes         yes        no         messages apply in seq order as they come
//   repairing     yes         yes        yes        a gap is being fetched; later messages wait
//
//   subscribe()    unsubscribed → behind
//   start_fetch()  behind → catching_up, synced → repairing (false if a fetch is running)
//   fetch_ended()  catching_up → behind, repairing → synced
//   mark_synced()  behind | synced → synced (nothing was missing after a fetch)
//   lost_track()   synced → behind, repairing → catching_up (too much arrived past a gap)
//   unsubscribe()  behind | synced → unsubscribed (no member, no waiter, no fetch)
//
// A transition from any other state is a bug: it throws std::logic_error, so that a test that
// hits one fails loudly (a shard logs it in production).
#include <cstdint>
#include <stdexcept>
#include <string>

namespace parley::node {

class RoomLink {
 public:
  enum class State : std::uint8_t { unsubscribed, behind, catching_up, synced, repairing };

  State state() const noexcept { return state_; }
  bool subscribed() const noexcept { return state_ != State::unsubscribed; }
  bool synced() const noexcept { return state_ == State::synced || state_ == State::repairing; }
  bool fetching() const noexcept { return state_ == State::catching_up || state_ == State::repairing; }

  void subscribe() { move(State::unsubscribed, State::behind, "subscribe"); }
  bool start_fetch() {
    if (fetching()) return false;
    if (state_ == State::behind) return state_ = State::catching_up, true;
    move(State::synced, State::repairing, "start_fetch");
    return true;
  }
  void fetch_ended() {
    if (state_ == State::catching_up) return void(state_ = State::behind);
    move(State::repairing, State::synced, "fetch_ended");
  }
  void mark_synced() {
    if (state_ == State::synced) return;
    move(State::behind, State::synced, "mark_synced");
  }
  void lost_track() {
    if (state_ == State::repairing) return void(state_ = State::catching_up);
    if (state_ == State::synced) return void(state_ = State::behind);
  }
  void unsubscribe() {
    if (state_ != State::behind && state_ != State::synced)
      throw std::logic_error("RoomLink: unsubscribe while " + name());
    state_ = State::unsubscribed;
  }

  std::string name() const {
    switch (state_) {
      case State::unsubscribed: return "unsubscribed";
      case State::behind: return "behind";
      case State::catching_up: return "catching_up";
      case State::synced: return "synced";
      case State::repairing: return "repairing";
    }
    return "?";
  }

 private:
  void move(State from, State to, const char* what) {
    if (state_ != from) throw std::logic_error(std::string("RoomLink: ") + what + " while " + name());
    state_ = to;
  }

  State state_ = State::unsubscribed;
};

}  // namespace parley::node
