#include "core/room_log.hpp"

#include <algorithm>
#include <functional>

namespace parley::core {

std::size_t RoomLog::CidKeyHash::operator()(const CidKey& k) const noexcept {
  const std::size_t a = std::hash<std::string_view>{}(k.sender);
  const std::size_t b = std::hash<std::string_view>{}(k.cid);
  return a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
}

void RoomLog::restore(std::uint64_t last_seq, const std::vector<Message>& newest) {
  assigned_ = committed_ = last_seq;
  ring_.clear();
  cids_.clear();
  cid_slots_.clear();
  cid_next_ = 0;
  for (const Message& m : newest)
    if (!m.cid.empty()) remember_cid(m);
  // The ring holds a run of seqs that ends at last_committed() with no hole (events_after and
  // newest_before index it by seq). Keep only the tail of `newest` that is such a run: if the
  // store's last seq is ahead of the messages it returned, the ring starts empty and reads go to
  // the store.
  std::size_t first = newest.size();
  std::uint64_t want = last_seq;
  while (first > 0 && newest.size() - first < ring_capacity_ && want > 0 && newest[first - 1].seq == want) {
    --first;
    --want;
  }
  for (std::size_t i = first; i < newest.size(); ++i) push_ring(newest[i]);
}

void RoomLog::release() noexcept {
  std::deque<Entry>().swap(ring_);
  decltype(cids_)().swap(cids_);
  std::deque<CidSlot>().swap(cid_slots_);
  cid_next_ = 0;
}

void RoomLog::assign(Message& m) {
  m.seq = ++assigned_;
  if (!m.cid.empty()) remember_cid(m);
}

std::optional<RoomLog::CidHit> RoomLog::find_cid(std::string_view sender, std::string_view cid) const {
  auto it = cids_.find(CidKey{sender, cid});
  if (it == cids_.end()) return std::nullopt;
  return cid_slots_[it->second].hit;
}

std::uint64_t RoomLog::text_hash(std::string_view text) noexcept { return std::hash<std::string_view>{}(text); }

std::uint64_t RoomLog::content_hash(const Message& m) noexcept {
  std::uint64_t h = text_hash(m.text);
  // Files: a retry names the same ones; other files under the same cid are another message.
  if (!m.files.empty()) h ^= text_hash(m.files) * 0xff51afd7ed558ccdULL;
  if (m.kind == MessageKind::message && m.target == 0) return h;
  return h ^ (std::hash<std::uint64_t>{}((m.target << 2) | static_cast<std::uint64_t>(m.kind)) * 0x9e3779b97f4a7c15ULL);
}

const Message* RoomLog::find(std::uint64_t seq) const noexcept {
  const std::uint64_t first = ring_first_seq();
  if (ring_.empty() || seq < first || seq > committed_) return nullptr;
  return &ring_[static_cast<std::size_t>(seq - first)].message;
}

void RoomLog::apply_change(const Message& change) {
  const std::uint64_t first = ring_first_seq();
  if (ring_.empty() || change.target < first || change.target > committed_) return;
  Entry& target = ring_[static_cast<std::size_t>(change.target - first)];
  auto encode = [](Entry& e) { e.event = std::make_shared<const std::string>(message_event(e.message)); };
  if (!core::apply_change(target.message, change)) return;
  encode(target);
  if (change.kind != MessageKind::remove) return;
  // The target's edits hold texts of it: gone with it.
  for (std::size_t i = static_cast<std::size_t>(change.target - first) + 1; i < ring_.size(); ++i) {
    Entry& e = ring_[i];
    if (e.message.kind == MessageKind::edit && e.message.target == change.target && !e.message.text.empty()) {
      e.message.text.clear();
      encode(e);
    }
  }
}

void RoomLog::move_cid(const Message& m) {
  if (dedupe_window_ == 0 || m.cid.empty()) return;
  const std::string sender = sender_key(m);
  if (auto it = cids_.find(CidKey{sender, m.cid}); it != cids_.end()) {
    cid_slots_[it->second].hit = CidHit{m.seq, m.ts, content_hash(m)};
    return;
  }
  remember_cid(m);
}

void RoomLog::remember_cid(const Message& m) {
  if (dedupe_window_ == 0) return;
  const std::string sender = sender_key(m);
  if (cids_.contains(CidKey{sender, m.cid})) return;  // the first send of a cid keeps it
  std::size_t i = cid_slots_.size();
  if (i < dedupe_window_) {
    cid_slots_.emplace_back();
  } else {
    i = cid_next_;
    cid_next_ = (cid_next_ + 1) % dedupe_window_;
    cids_.erase(cid_slots_[i].view());
  }
  CidSlot& slot = cid_slots_[i];
  slot.key.assign(sender).append(m.cid);
  slot.sender_size = sender.size();
  slot.hit = CidHit{m.seq, m.ts, content_hash(m)};
  cids_.emplace(slot.view(), i);
}

const RoomLog::Entry& RoomLog::commit(Message m) {
  // A hole (seqs assigned and never stored: an append the store refused, its senders told
  // store_failed) ends the run the ring holds, which find, events_after and newest_before index
  // by seq: the ring starts again here, and what came before is read from the store.
  if (!ring_.empty() && m.seq != ring_.back().message.seq + 1) ring_.clear();
  committed_ = m.seq;
  push_ring(std::move(m));
  return ring_.back();
}

const RoomLog::Entry& RoomLog::apply(Message m) {
  if (!m.cid.empty()) remember_cid(m);
  assigned_ = std::max(assigned_, m.seq);
  return commit(std::move(m));
}

void RoomLog::push_ring(Message m) {
  if (m.kind != MessageKind::message) apply_change(m);
  auto event = std::make_shared<const std::string>(message_event(m));
  ring_.push_back(Entry{std::move(m), std::move(event)});
  while (ring_.size() > ring_capacity_) ring_.pop_front();
}

bool RoomLog::covers_after(std::uint64_t after) const noexcept {
  return after >= committed_ || ring_first_seq() <= after + 1;
}

std::vector<EventPtr> RoomLog::events_after(std::uint64_t after) const {
  std::vector<EventPtr> out;
  if (after >= committed_) return out;
  const std::uint64_t first = ring_first_seq();
  std::size_t i = after + 1 > first ? static_cast<std::size_t>(after + 1 - first) : 0;
  out.reserve(ring_.size() - std::min(i, ring_.size()));
  for (; i < ring_.size(); ++i) out.push_back(ring_[i].event);
  return out;
}

std::optional<std::vector<const Message*>> RoomLog::newest_before(std::uint64_t before, std::size_t limit) const {
  // The answer is seqs [max(1, before - limit), before - 1] ∩ [1, committed].
  const std::uint64_t end = std::min<std::uint64_t>(before == 0 ? 0 : before - 1, committed_);  // last seq wanted
  std::vector<const Message*> out;
  if (end == 0 || limit == 0) return out;
  const std::uint64_t start = end >= limit ? end - limit + 1 : 1;
  if (ring_.empty() || ring_first_seq() > start) return std::nullopt;
  const std::uint64_t first = ring_first_seq();
  for (std::uint64_t s = start; s <= end; ++s) out.push_back(&ring_[static_cast<std::size_t>(s - first)].message);
  return out;
}

}  // namespace parley::core
