#pragma once
// Display names and message text, checked by the Unicode standards (through ICU) rather than by
// lists of our own:
//
//  - normalize_name: a guest's name as the Nickname profile of PRECIS enforces it (RFC 8266 over
//    RFC 8264's FreeformClass): non-ASCII spaces mapped to SPACE, spaces trimmed and collapsed,
//    NFKC (which also maps fullwidth and halfwidth forms), case kept for display; refused if it
//    holds a code point the class disallows (controls, default-ignorable code points such as
//    zero-width characters and variation selectors, format characters, private use, unassigned,
//    ...), a bidirectional control character, or nothing visible, or if it is longer than
//    max_name_length code points once normalised.
//  - name_skeleton: the key under which two names are the same name to a reader: equal keys mean
//    the names are confusable (Unicode TR39 skeleton, ICU's spoof checker) or equal but for case
//    (the profile's comparison maps case).
//  - visible_text: whether a text has anything to see (not only White_Space,
//    Default_Ignorable_Code_Point, format and control characters).
//
// Pure computation: the ICU objects behind them are opened once, on first use, and shared by
// every thread (see names.cpp for why that is safe).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace parley::core {

// Code points of a normalised name, at most.
inline constexpr std::size_t max_name_length = 32;
// Bytes of a name as sent, at most: refused before any normalisation work (a 32-character name
// is at most 128 bytes once normalised; this leaves room for what NFKC and the space rule shrink).
inline constexpr std::size_t max_name_input_bytes = 1024;

enum class NameError {
  empty,         // nothing left once spaces are trimmed
  too_long,      // over max_name_length code points once normalised (or max_name_input_bytes as sent)
  not_utf8,      // not valid UTF-8 (JSON escapes can spell lone surrogates)
  bidi_control,  // a bidirectional control character (Bidi_Control: U+061C, U+200E/F, U+202A-E, U+2066-9)
  disallowed,    // a code point FreeformClass disallows, or one of its contextual rules fails
  invisible,     // only whitespace, default-ignorable, format or control characters
  unstable,      // the rules do not settle within four applications (RFC 8264 section 7)
};

// The name the profile enforces, or nothing (and why, if `why` is given).
std::optional<std::string> normalize_name(std::string_view name, NameError* why = nullptr);
// A sentence for the user, for the error message of bad_name.
std::string_view describe(NameError e) noexcept;

// The key of a (normalised) name for telling names apart: TR39 skeleton, lower-cased, and the
// skeleton of that again (so "I" and "l", "Ada" and "ada", "paypal" and "pаypal" with a
// Cyrillic а each have one key). Two names with the same key must not be in a room together.
std::string name_skeleton(std::string_view name);

// True if `text` (valid UTF-8) has a code point that is none of White_Space,
// Default_Ignorable_Code_Point, general category Cf (format) or Cc (control).
bool visible_text(std::string_view text) noexcept;

// Bytes of a reaction's emoji, at most (the longest RGI sequences, family ZWJ sequences with skin
// tones, are about 35).
inline constexpr std::size_t max_emoji_bytes = 64;
// True if `emoji` is one emoji as Unicode recommends them for interchange (UTS #51's RGI_Emoji,
// ICU's set: a character, a keycap, a flag, a modifier or ZWJ sequence, fully qualified), and at
// most max_emoji_bytes. A reaction's emoji (docs/protocol.md "reactions").
bool valid_emoji(std::string_view emoji) noexcept;

}  // namespace parley::core
