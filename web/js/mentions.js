// @mentions in the browser: whether a message's text mentions a name (to highlight it and to
// notify), as the server counts them (src/core/mentions.hpp): "@" at the start or after a
// character that is not a letter, digit, "_" or ".", then the name, then the end of the text, a
// space or punctuation; compared in any case, NFKC-folded. The server's count is the one the room
// list shows; this is its cheap twin for what arrives live (look-alike folding is the server's).

const WORD = /[A-Za-z0-9_.]/;
const NAME_END = /[\s!-/:-@[-`{-~]/; // ASCII white space and punctuation

function fold(s) { return s.normalize('NFKC').toLowerCase(); }

/** Does `text` mention `name`? At most the first 16 "@"s are looked at, as on the server. */
export function mentions(text, name) {
  if (!text || !name) return false;
  const t = fold(text);
  const n = fold(name);
  let marks = 0;
  for (let at = t.indexOf('@'); at !== -1 && marks < 16; at = t.indexOf('@', at + 1)) {
    if (at > 0 && WORD.test(t[at - 1])) continue;
    marks++;
    if (!t.startsWith(n, at + 1)) continue;
    const next = t[at + 1 + n.length];
    if (next === undefined || NAME_END.test(next)) return true;
  }
  return false;
}

/**
 * The @-word being typed at the caret of `value`: {start, query} when the caret ends "@que" (the
 * "@" at the start or after white space), else null. For the composer's completion.
 */
export function mentionQuery(value, caret) {
  const before = value.slice(0, caret);
  const m = /(^|\s)@([^\s@]{0,32})$/u.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}
