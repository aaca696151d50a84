// Formatting of times, days, names and counts. Locale-aware, emoji-safe.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });
const segmenter = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;

export const formatTime = (ts) => timeFmt.format(new Date(ts));
export const formatFull = (ts) => fullFmt.format(new Date(ts));

/**
 * A message's time as the list shows it: "just now" in its first minute (and for a time a little
 * ahead of this clock), "5 min" within the hour, then the clock time (the day separator above says
 * which day). The full date and time go in the <time>'s title and datetime.
 */
export function relativeTime(ts, now = Date.now()) {
  const ago = now - ts;
  if (ago < 60e3) return 'just now';
  if (ago < 3600e3) return `${Math.floor(ago / 60e3)} min`;
  return formatTime(ts);
}

/** Local calendar day key, e.g. "2024-11-23". */
export function dayKey(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday", or a long date. */
export function dayLabel(ts, now = Date.now()) {
  const d = new Date(ts);
  const today = new Date(now);
  const yesterday = new Date(now);
  yesterday.setDate(today.getDate() - 1);
  if (dayKey(d) === dayKey(today)) return 'Today';
  if (dayKey(d) === dayKey(yesterday)) return 'Yesterday';
  return (d.getFullYear() === today.getFullYear() ? dayFmt : dayYearFmt).format(d);
}

/** Number of user-perceived characters (code points; never splits surrogates). */
export function textLength(text) {
  let n = 0;
  for (const _ of text) n++; // eslint-disable-line no-unused-vars
  return n;
}

// A character there is something to see of: not White_Space, not Default_Ignorable_Code_Point
// (zero-width characters, variation selectors, ...), not a format or control character. The
// server's rule for empty_text (core/names.cpp, visible_text), by the same Unicode properties.
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}]/u;

/** True if `text` has anything to see: "a\u200b" yes, " \u200b\ufeff" no. */
export function hasVisible(text) {
  return VISIBLE.test(text);
}

/** First grapheme of a name, upper-cased: "ada" -> "A", "🦊fox" -> "🦊". */
export function initial(name) {
  const trimmed = name.trim();
  if (!trimmed) return '?';
  const first = segmenter ? segmenter.segment(trimmed)[Symbol.iterator]().next().value.segment : [...trimmed][0];
  return first.toLocaleUpperCase();
}

// Well-separated hues for avatars and names.
const HUES = [4, 25, 45, 90, 140, 165, 188, 205, 285, 305, 325, 345];

/** A stable hue for a name (FNV-1a hash into a palette), used to colour avatars. */
export function hue(name) {
  let hash = 0x811c9dc5;
  for (const ch of name) {
    hash ^= ch.codePointAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return HUES[hash % HUES.length];
}

export const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export function listNames(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return names[0];
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * Whether two messages (or a message and the user: `{ from, uid }`) have one sender. By `uid`
 * where both have one and either is an account's (two accounts may look alike; a guest may use
 * the name an account had); a guest's `uid` ("g_…") is its connection's, and a guest is its
 * name, so two guests' are compared by name, as is anything without a `uid` (stored before
 * messages carried one).
 */
export function sameSender(a, b) {
  if (!a || !b) return false;
  const guest = (uid) => uid.startsWith('g_');
  if (a.uid && b.uid && !(guest(a.uid) && guest(b.uid))) return a.uid === b.uid;
  return a.from === b.from;
}
