#include "core/message.hpp"

#include <algorithm>

#include "protocol/json_writer.hpp"

namespace parley::core {

ChangeRefusal may_change(MessageKind change, std::string_view sender_key_of_actor, const Message* target,
                         bool moderator) {
  if (!target || target->kind != MessageKind::message) return ChangeRefusal::no_such_message;
  if (target->deleted) return ChangeRefusal::deleted;
  if (change == MessageKind::message || change == MessageKind::react || change == MessageKind::unreact)
    return ChangeRefusal::none;  // any member (checked before): a reply, a reaction
  const bool author = sender_key(*target) == sender_key_of_actor;
  if (change == MessageKind::edit) return author ? ChangeRefusal::none : ChangeRefusal::forbidden;
  return author || moderator ? ChangeRefusal::none : ChangeRefusal::forbidden;
}

bool apply_reaction(Message& target, const Message& change) {
  const std::string key = sender_key(change);
  auto same_user = [&](const Reactor& r) { return sender_key(r.from_id, r.from) == key; };
  auto by_emoji = [&](const Reaction& r) { return r.emoji == change.text; };
  auto reaction = std::find_if(target.reactions.begin(), target.reactions.end(), by_emoji);
  if (change.kind == MessageKind::react) {
    if (reaction == target.reactions.end()) {
      target.reactions.push_back(Reaction{.emoji = change.text, .who = {}});
      reaction = target.reactions.end() - 1;
    } else if (std::any_of(reaction->who.begin(), reaction->who.end(), same_user)) {
      return false;
    }
    reaction->who.push_back(Reactor{.from = change.from, .from_id = change.from_id});
    return true;
  }
  if (reaction == target.reactions.end()) return false;
  const auto gone = std::remove_if(reaction->who.begin(), reaction->who.end(), same_user);
  if (gone == reaction->who.end()) return false;
  reaction->who.erase(gone, reaction->who.end());
  if (reaction->who.empty()) target.reactions.erase(reaction);
  return true;
}

bool apply_change(Message& target, const Message& change) {
  if (target.kind != MessageKind::message || target.deleted) return false;
  switch (change.kind) {
    case MessageKind::message: return false;
    case MessageKind::react:
    case MessageKind::unreact: return apply_reaction(target, change);
    case MessageKind::edit:
      target.text = change.text;
      target.edited = change.ts;
      return true;
    case MessageKind::remove:
      target.text.clear();
      target.reactions.clear();  // a deleted message loses its reactions
      target.files.clear();      // and its files (the store removes them)
      target.deleted = true;
      return true;
  }
  return false;
}

void parse_reactions(std::string_view stored, std::vector<Reaction>& out) {
  for_each_stored_reaction(stored, [&](const StoredReaction& r) {
    auto reaction = std::find_if(out.begin(), out.end(), [&](const Reaction& x) { return x.emoji == r.emoji; });
    if (reaction == out.end()) {
      out.push_back(Reaction{.emoji = std::string(r.emoji), .who = {}});
      reaction = out.end() - 1;
    }
    reaction->who.push_back(Reactor{.from = std::string(r.from), .from_id = std::string(r.from_id)});
    return true;
  });
}

void append_stored_reaction(std::string& stored, const Message& react) {
  if (!stored.empty()) stored.push_back('\x1e');
  stored.append(react.text).push_back('\x1f');
  stored.append(react.from_id).push_back('\x1f');
  stored.append(react.from);
}

std::string reactions_json(const std::vector<Reaction>& reactions) {
  std::string out = "[";
  for (const Reaction& r : reactions) {
    if (out.size() > 1) out.push_back(',');
    std::string users = "[";
    for (const Reactor& who : r.who) {
      if (users.size() > 1) users.push_back(',');
      protocol::JsonWriter u;
      u.str("from", who.from);
      if (!who.from_id.empty()) u.str("uid", who.from_id);
      users += std::move(u).done();
    }
    users.push_back(']');
    protocol::JsonWriter w;
    w.str("emoji", r.emoji).unum("count", r.who.size()).raw("users", users);
    out += std::move(w).done();
  }
  out.push_back(']');
  return out;
}

}  // namespace parley::core
