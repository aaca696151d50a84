#include "core/names.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "protocol/utf8.hpp"

namespace parley::core {

namespace {

// The ICU objects, opened once (C++ initialises a function's static once, whichever thread gets
// there first) and then only read, from every shard's thread:
//  - Normalizer2::getNFKCInstance returns "an unmodifiable singleton instance" (normalizer2.h),
//    and its normalize/isNormalized are const: ICU's rule is that const functions of an object
//    nobody modifies may be called from several threads at once.
//  - The spoof checker is configured here and never again; uspoof.h, "Thread Safety": "The test
//    functions for checking a single identifier, or for testing whether two identifiers are
//    possible confusable, are thread safe ... functions that take a const USpoofChecker parameter
//    are thread safe". uspoof_getSkeletonUnicodeString takes a const USpoofChecker*.
class Icu {
 public:
  Icu() {
    UErrorCode status = U_ZERO_ERROR;
    nfkc_ = icu::Normalizer2::getNFKCInstance(status);
    spoof_ = uspoof_open(&status);
    if (U_SUCCESS(status)) uspoof_setChecks(spoof_, USPOOF_CONFUSABLE, &status);
    if (U_FAILURE(status) || nfkc_ == nullptr || spoof_ == nullptr) {
      if (spoof_ != nullptr) uspoof_close(spoof_);
      throw std::runtime_error(std::string("ICU: cannot open NFKC or the spoof checker: ") + u_errorName(status));
    }
  }
  ~Icu() { uspoof_close(spoof_); }
  Icu(const Icu&) = delete;
  Icu& operator=(const Icu&) = delete;

  const icu::Normalizer2& nfkc() const { return *nfkc_; }
  const USpoofChecker* spoof() const { return spoof_; }

 private:
  const icu::Normalizer2* nfkc_ = nullptr;
  USpoofChecker* spoof_ = nullptr;
};

const Icu& icu_objects() {
  static const Icu instance;
  return instance;
}

std::vector<UChar32> code_points(const icu::UnicodeString& s) {
  std::vector<UChar32> out;
  out.reserve(static_cast<std::size_t>(s.length()));
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    out.push_back(c);
    i += U16_LENGTH(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// FreeformClass (RFC 8264 sections 4.3 and 8, categories in section 9): the derived property of
// a code point, from Unicode properties.

enum class Derived { pvalid, contextj, contexto, disallowed };

// Exceptions (F), RFC 5892 section 2.6: the standard's own short table, which no Unicode
// property expresses.
std::optional<Derived> exception_value(UChar32 c) {
  switch (c) {
    case 0x00DF:  // LATIN SMALL LETTER SHARP S
    case 0x03C2:  // GREEK SMALL LETTER FINAL SIGMA
    case 0x06FD:  // ARABIC SIGN SINDHI AMPERSAND
    case 0x06FE:  // ARABIC SIGN SINDHI POSTPOSITION MEN
    case 0x0F0B:  // TIBETAN MARK INTERSYLLABIC TSHEG
    case 0x3007:  // IDEOGRAPHIC NUMBER ZERO
      return Derived::pvalid;
    case 0x00B7:  // MIDDLE DOT
    case 0x0375:  // GREEK LOWER NUMERAL SIGN (KERAIA)
    case 0x05F3:  // HEBREW PUNCTUATION GERESH
    case 0x05F4:  // HEBREW PUNCTUATION GERSHAYIM
    case 0x30FB:  // KATAKANA MIDDLE DOT
      return Derived::contexto;
    case 0x0640:  // ARABIC TATWEEL
    case 0x07FA:  // NKO LAJANYALAN
    case 0x302E:  // HANGUL SINGLE DOT TONE MARK
    case 0x302F:  // HANGUL DOUBLE DOT TONE MARK
    case 0x3031:  // VERTICAL KANA REPEAT MARK ..
    case 0x3032:
    case 0x3033:
    case 0x3034:
    case 0x3035:  // .. VERTICAL KANA REPEAT MARK LOWER HALF
    case 0x303B:  // VERTICAL IDEOGRAPHIC ITERATION MARK
      return Derived::disallowed;
    default: break;
  }
  if ((c >= 0x0660 && c <= 0x0669) || (c >= 0x06F0 && c <= 0x06F9)) return Derived::contexto;  // Arabic-Indic digits
  return std::nullopt;
}

bool has_compat(UChar32 c, const icu::Normalizer2& nfkc) {
  UErrorCode status = U_ZERO_ERROR;
  const bool same = nfkc.isNormalized(icu::UnicodeString(c), status);
  return U_SUCCESS(status) && !same;
}

// RFC 8264 section 8, in its order, for FreeformClass (where ID_DIS or FREE_PVAL is PVALID).
Derived freeform(UChar32 c, const icu::Normalizer2& nfkc) {
  if (auto e = exception_value(c)) return *e;
  // BackwardCompatible (G) is empty.
  const auto gc = static_cast<UCharCategory>(u_charType(c));
  if (gc == U_UNASSIGNED) return Derived::disallowed;                        // Unassigned (J), and noncharacters (M)
  if (c >= 0x21 && c <= 0x7E) return Derived::pvalid;                        // ASCII7 (K)
  if (u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) return Derived::contextj;  // JoinControl (H)
  const auto hst = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
  if (hst == U_HST_LEADING_JAMO || hst == U_HST_VOWEL_JAMO || hst == U_HST_TRAILING_JAMO)
    return Derived::disallowed;  // OldHangulJamo (I)
  if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
      u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT))
    return Derived::disallowed;                          // PrecisIgnorableProperties (M)
  if (gc == U_CONTROL_CHAR) return Derived::disallowed;  // Controls (L)
  switch (gc) {
    // LetterDigits (A): Ll Lu Lo Nd Lm Mn Mc; OtherLetterDigits (R): Lt Nl No Me.
    case U_LOWERCASE_LETTER:
    case U_UPPERCASE_LETTER:
    case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_MODIFIER_LETTER:
    case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_TITLECASE_LETTER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
    case U_ENCLOSING_MARK:
    // Spaces (N): Zs.
    case U_SPACE_SEPARATOR:
    // Symbols (O): Sm Sc Sk So.
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
    // Punctuation (P): Pc Pd Ps Pe Pi Pf Po.
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION: return Derived::pvalid;
    default: break;
  }
  // HasCompat (Q) comes before the categories in the algorithm; for FreeformClass it only
  // matters for a code point of none of them (Zl, Zp, Cf, Co, Cs).
  return has_compat(c, nfkc) ? Derived::pvalid : Derived::disallowed;
}

UScriptCode script_of(UChar32 c) {
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode s = uscript_getScript(c, &status);
  return U_SUCCESS(status) ? s : USCRIPT_INVALID_CODE;
}

bool is_virama(UChar32 c) { return u_getCombiningClass(c) == 9; }

int32_t joining_type(UChar32 c) { return u_getIntPropertyValue(c, UCHAR_JOINING_TYPE); }

// The contextual rules of RFC 5892 appendix A, for the code point at `i`.
bool context_ok(const std::vector<UChar32>& cps, std::size_t i) {
  const UChar32 c = cps[i];
  const bool has_before = i > 0;
  const bool has_after = i + 1 < cps.size();
  switch (c) {
    case 0x200D: return has_before && is_virama(cps[i - 1]);  // ZERO WIDTH JOINER
    case 0x200C: {                                            // ZERO WIDTH NON-JOINER
      if (has_before && is_virama(cps[i - 1])) return true;
      // (Joining_Type:{L,D})(Joining_Type:T)* ZWNJ (Joining_Type:T)*(Joining_Type:{R,D})
      std::size_t b = i;
      while (b > 0 && joining_type(cps[b - 1]) == U_JT_TRANSPARENT) --b;
      if (b == 0) return false;
      const auto left = joining_type(cps[b - 1]);
      if (left != U_JT_LEFT_JOINING && left != U_JT_DUAL_JOINING) return false;
      std::size_t a = i + 1;
      while (a < cps.size() && joining_type(cps[a]) == U_JT_TRANSPARENT) ++a;
      if (a == cps.size()) return false;
      const auto right = joining_type(cps[a]);
      return right == U_JT_RIGHT_JOINING || right == U_JT_DUAL_JOINING;
    }
    case 0x00B7: return has_before && has_after && cps[i - 1] == 0x6C && cps[i + 1] == 0x6C;  // l·l
    case 0x0375: return has_after && script_of(cps[i + 1]) == USCRIPT_GREEK;
    case 0x05F3:
    case 0x05F4: return has_before && script_of(cps[i - 1]) == USCRIPT_HEBREW;
    case 0x30FB:
      for (UChar32 x : cps) {
        const auto s = script_of(x);
        if (s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA || s == USCRIPT_HAN) return true;
      }
      return false;
    default: break;
  }
  if (c >= 0x0660 && c <= 0x0669) {
    for (UChar32 x : cps)
      if (x >= 0x06F0 && x <= 0x06F9) return false;
    return true;
  }
  if (c >= 0x06F0 && c <= 0x06F9) {
    for (UChar32 x : cps)
      if (x >= 0x0660 && x <= 0x0669) return false;
    return true;
  }
  return false;  // a contextual code point without a rule is disallowed
}

bool invisible(UChar32 c) {
  const auto gc = u_charType(c);
  return gc == U_FORMAT_CHAR || gc == U_CONTROL_CHAR || u_hasBinaryProperty(c, UCHAR_WHITE_SPACE) ||
         u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

// Every code point of `s` in FreeformClass, no bidirectional control, something visible.
std::optional<NameError> check_class(const icu::UnicodeString& s, const icu::Normalizer2& nfkc) {
  const auto cps = code_points(s);
  bool visible = false;
  for (UChar32 c : cps)
    if (u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL)) return NameError::bidi_control;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    switch (freeform(cps[i], nfkc)) {
      case Derived::pvalid: break;
      case Derived::contextj:
      case Derived::contexto:
        if (!context_ok(cps, i)) return NameError::disallowed;
        break;
      case Derived::disallowed: return NameError::disallowed;
    }
    visible = visible || !invisible(cps[i]);
  }
  if (!visible) return NameError::invisible;
  return std::nullopt;
}

// The Nickname profile's additional mapping rule (RFC 8266 section 2.1): (a) every non-ASCII
// space (general category Zs) becomes SPACE, (b) spaces at the start and the end are removed,
// (c) a run of spaces inside becomes one.
icu::UnicodeString map_spaces(const icu::UnicodeString& s) {
  icu::UnicodeString out;
  bool pending_space = false;
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    i += U16_LENGTH(c);
    if (c == 0x20 || u_charType(c) == U_SPACE_SEPARATOR) {
      pending_space = !out.isEmpty();
      continue;
    }
    if (pending_space) out.append(static_cast<UChar>(0x20));
    pending_space = false;
    out.append(c);
  }
  return out;
}

// The rules of enforcement, once: additional mapping, then NFKC (the profile has no width
// mapping rule: NFKC maps fullwidth and halfwidth forms; its case mapping is for comparison only,
// so a name keeps its case).
icu::UnicodeString apply_rules(const icu::UnicodeString& s, const icu::Normalizer2& nfkc, UErrorCode& status) {
  return nfkc.normalize(map_spaces(s), status);
}

}  // namespace

std::optional<std::string> normalize_name(std::string_view name, NameError* why) {
  auto fail = [why](NameError e) -> std::optional<std::string> {
    if (why) *why = e;
    return std::nullopt;
  };
  if (name.size() > max_name_input_bytes) return fail(NameError::too_long);
  if (!protocol::is_valid_utf8(name)) return fail(NameError::not_utf8);
  const auto& nfkc = icu_objects().nfkc();
  const auto input = icu::UnicodeString::fromUTF8(icu::StringPiece(name.data(), static_cast<int32_t>(name.size())));
  // Preparation (RFC 8266 section 2.2): only code points FreeformClass allows. Spaces alone
  // pass here and are trimmed away below.
  if (auto e = check_class(input, nfkc); e && *e != NameError::invisible) return fail(*e);
  // Enforcement (section 2.3), repeated until the result is stable: NFKC can make spaces
  // (U+00A8 DIAERESIS is SPACE + U+0308) that the space rule then trims. RFC 8264 section 7:
  // reject what has not settled after three more applications.
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString out = apply_rules(input, nfkc, status);
  bool stable = false;
  for (int again = 0; again < 3 && U_SUCCESS(status) && !stable; ++again) {
    icu::UnicodeString next = apply_rules(out, nfkc, status);
    stable = next == out;
    out = std::move(next);
  }
  if (U_FAILURE(status) || !stable) return fail(NameError::unstable);
  if (out.isEmpty()) return fail(NameError::empty);
  // The result is checked again: normalisation can make what the class refuses (U+3131 HANGUL
  // LETTER KIYEOK becomes the conjoining jamo U+1100, an OldHangulJamo).
  if (auto e = check_class(out, nfkc)) return fail(*e);
  // Counted in code points of the normalised name: what the server stores and shows.
  if (static_cast<std::size_t>(out.countChar32()) > max_name_length) return fail(NameError::too_long);
  std::string utf8;
  out.toUTF8String(utf8);
  return utf8;
}

std::string_view describe(NameError e) noexcept {
  switch (e) {
    case NameError::empty: return "a name needs at least one character that is not a space";
    case NameError::too_long: return "a name is at most 32 characters";
    case NameError::not_utf8: return "a name must be valid UTF-8";
    case NameError::bidi_control: return "a name cannot contain bidirectional control characters";
    case NameError::disallowed:
      return "a name cannot contain control, invisible, formatting, private-use or unassigned characters";
    case NameError::invisible: return "a name needs a visible character";
    case NameError::unstable: return "the name does not settle under normalisation";
  }
  return "the name is not allowed";
}

std::string name_skeleton(std::string_view name) {
  const USpoofChecker* spoof = icu_objects().spoof();
  const auto s = icu::UnicodeString::fromUTF8(icu::StringPiece(name.data(), static_cast<int32_t>(name.size())));
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString first, key;
  uspoof_getSkeletonUnicodeString(spoof, 0, s, first, &status);
  // The profile compares names case-insensitively (RFC 8266 section 2.4: toLowerCase). Lowering
  // the name before the skeleton would part "I" from "l" (TR39 maps I to l, but i to i), so the
  // skeleton is lowered, and its skeleton taken again for what lowering made.
  first.toLower(icu::Locale::getRoot());
  uspoof_getSkeletonUnicodeString(spoof, 0, first, key, &status);
  if (U_FAILURE(status)) return std::string(name);
  std::string out;
  key.toUTF8String(out);
  return out;
}

bool visible_text(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const auto n = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < n;) {
    if (s[i] > 0x20 && s[i] < 0x7F) return true;  // printable ASCII, the common case
    UChar32 c = 0;
    U8_NEXT(s, i, n, c);
    if (c < 0) return true;  // not UTF-8: not this function's to refuse
    if (!invisible(c)) return true;
  }
  return false;
}

bool valid_emoji(std::string_view emoji) noexcept {
  if (emoji.empty() || emoji.size() > max_emoji_bytes || !protocol::is_valid_utf8(emoji)) return false;
  const icu::UnicodeString s =
      icu::UnicodeString::fromUTF8(icu::StringPiece(emoji.data(), static_cast<int32_t>(emoji.size())));
  return u_stringHasBinaryProperty(s.getBuffer(), s.length(), UCHAR_RGI_EMOJI) != 0;
}

}  // namespace parley::core
