#include "core/message.hpp"

namespace parley::core {

ChangeRefusal may_change(MessageKind change, std::string_view sender_key_of_actor, const Message* target,
                         bool moderator) {
  if (!target || target->kind != MessageKind::message) return ChangeRefusal::no_such_message;
  if (target->deleted) return ChangeRefusal::deleted;
  const bool author = sender_key(*target) == sender_key_of_actor;
  if (change == MessageKind::edit) return author ? ChangeRefusal::none : ChangeRefusal::forbidden;
  return author || moderator ? ChangeRefusal::none : ChangeRefusal::forbidden;
}

}  // namespace parley::core
