#pragma once
// @mentions: whether a message's text names an account with "@name", compared as names are (the
// account's name key, core::name_skeleton: case, NFKC and look-alikes folded). Pure computation.
//
// A mention is '@' at the start of the text or after a character that is not an ASCII letter,
// digit, '_' or '.' (so "ada@example.org" mentions nobody), followed by the name. Names may hold
// spaces ("@Ada Lovelace"), so every ending the name could have is tried: before a space, an ASCII
// punctuation mark or the end of the text, within max_name_length code points.
//
// Bounded work per message: at most max_mention_marks '@'s are looked at, each with at most
// max_mention_endings endings (each ending one normalisation and one skeleton), whatever the text.
#include <cstddef>
#include <string_view>

namespace parley::core {

inline constexpr std::size_t max_mention_marks = 16;
inline constexpr std::size_t max_mention_endings = 8;

// Whether `text` mentions the account whose name key is `name_key` (non-empty).
bool mentions(std::string_view text, std::string_view name_key);

}  // namespace parley::core
