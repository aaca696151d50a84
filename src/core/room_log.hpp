#pragma once
// The ordered log of one room, as its owner thread sees it: the next seq to assign, the
// committed prefix, a bounded ring of recent committed messages (serialised once, shared by every
// delivery and resume), and a bounded window of client ids for idempotent retries.
// Not thread-safe: one owner thread per room.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "core/message.hpp"

namespace parley::core {

using EventPtr = std::shared_ptr<const std::string>;

class RoomLog {
 public:
  struct Entry {
    Message message;
    EventPtr event;  // the `message` event JSON
  };
  struct CidHit {
    std::uint64_t seq;
    std::int64_t ts;
    std::uint64_t text_hash;  // of the text first sent with the cid (text_hash()): a retry sends the same
  };
  // A hash of a message's text, to tell a retry (same text) from a cid reused for another text.
  static std::uint64_t text_hash(std::string_view text) noexcept;
  // The same for any entry: a message's text; an edit's or a delete's kind, target and text too
  // (one cid is not a retry of an edit of another message).
  static std::uint64_t content_hash(const Message& m) noexcept;

  RoomLog(std::size_t ring_capacity, std::size_t dedupe_window)
      : ring_capacity_(ring_capacity ? ring_capacity : 1), dedupe_window_(dedupe_window) {}

  // Start-up state from the store: the last seq and the newest messages, ascending.
  void restore(std::uint64_t last_seq, const std::vector<Message>& newest);
  // Gives the ring's and the cids' memory back (an idle room); restore() fills them again.
  void release() noexcept;

  std::uint64_t last_assigned() const noexcept { return assigned_; }
  std::uint64_t last_committed() const noexcept { return committed_; }

  // Assigns the next seq to `m` and remembers its cid; the caller commits it later, in order.
  void assign(Message& m);
  // The send of `cid` by the sender of `sender` (sender_key(): an id, or a guest's name).
  std::optional<CidHit> find_cid(std::string_view sender, std::string_view cid) const;
  // m's cid now names m's seq (and ts), whatever it named before: a message published again under
  // a new seq because its first one was stored with another message (store_errc::seq_taken).
  void move_cid(const Message& m);
  std::optional<CidHit> find_cid(const Message& m) const { return find_cid(sender_key(m), m.cid); }

  // Records that the message with the next committed seq is durable; returns its entry.
  const Entry& commit(Message m);
  // Cluster mode: a message ordered by the broker (m.seq == last_committed() + 1) is applied,
  // its cid remembered; returns its entry.
  const Entry& apply(Message m);

  // True when the ring holds every committed message with seq > after.
  bool covers_after(std::uint64_t after) const noexcept;
  // Committed ring entries with seq > after, ascending (requires covers_after).
  std::vector<EventPtr> events_after(std::uint64_t after) const;
  // The newest `limit` ring messages with seq < before, ascending; nullopt when the ring cannot
  // answer without the store (it does not reach back far enough).
  std::optional<std::vector<const Message*>> newest_before(std::uint64_t before, std::size_t limit) const;
  // The committed ring entry of `seq` as it is now (edited, deleted), or null when the ring does
  // not hold it (ask the store).
  const Message* find(std::uint64_t seq) const noexcept;
  std::uint64_t ring_first_seq() const noexcept { return ring_.empty() ? committed_ + 1 : ring_.front().message.seq; }

 private:
  void remember_cid(const Message& m);
  void push_ring(Message m);
  // An edit or a delete committed: the ring's copy of its target (and, for a delete, of the
  // target's earlier edits) is changed and its event encoded again, so that a resume or a history
  // page from the ring shows the message as it is now, never a deleted text.
  void apply_change(const Message& change);

  std::size_t ring_capacity_;
  std::size_t dedupe_window_;
  std::uint64_t assigned_ = 0;
  std::uint64_t committed_ = 0;
  std::deque<Entry> ring_;
  // The cid window: its last dedupe_window_ cids in slots that are reused in turn once it is full
  // (the oldest goes), each slot's key string overwritten in place, so that a full window takes no
  // allocation per message; and an open-addressing index into them, keyed by views of the slots.
  struct CidKey {
    std::string_view sender;
    std::string_view cid;
    bool operator==(const CidKey&) const = default;
  };
  struct CidKeyHash {
    std::size_t operator()(const CidKey& k) const noexcept;
  };
  struct CidSlot {
    std::string key;  // sender_key then cid
    std::size_t sender_size = 0;
    CidHit hit{};
    CidKey view() const noexcept {
      const std::string_view all(key);
      return CidKey{all.substr(0, sender_size), all.substr(sender_size)};
    }
  };
  std::deque<CidSlot> cid_slots_;  // grows to dedupe_window_; a deque keeps the keys in place
  std::size_t cid_next_ = 0;       // once full: the oldest slot, the next one reused
  boost::unordered_flat_map<CidKey, std::size_t, CidKeyHash> cids_;  // value: index in cid_slots_
};

}  // namespace parley::core
