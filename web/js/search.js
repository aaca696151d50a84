// Search (docs/protocol.md, "search"), the pure part: a query's words as the server splits them
// (src/core/search.hpp), and a hit's text cut into runs to show, the matched words marked.

// A word: a run of letters, digits, marks and private-use characters; spaces, punctuation,
// symbols (emoji too) and controls separate words.
const WORD = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;

/** The words of a query, in order (empty: nothing the server would search for). */
export function searchTerms(q) {
  return String(q ?? '').match(WORD) ?? [];
}

/** A word as search compares it: case and accents folded. */
export function fold(word) {
  return word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * `text` as runs [{text, mark}] whose concatenation is `text`: a word is marked when it is one of
 * the query's words (case and accents folded), or, for its last word, starts with it (the server
 * matches it as a prefix). Plain strings only: the caller makes them text nodes and <mark>s.
 */
export function highlight(text, q) {
  const terms = searchTerms(q).map(fold);
  const runs = [];
  if (!terms.length || !text) return text ? [{ text, mark: false }] : [];
  const last = terms[terms.length - 1];
  const exact = new Set(terms.slice(0, -1));
  let at = 0;
  const push = (s, mark) => {
    if (!s) return;
    const prev = runs[runs.length - 1];
    if (prev && prev.mark === mark) prev.text += s;
    else runs.push({ text: s, mark });
  };
  for (const m of text.matchAll(WORD)) {
    const w = fold(m[0]);
    push(text.slice(at, m.index), false);
    push(m[0], exact.has(w) || w === last || w.startsWith(last));
    at = m.index + m[0].length;
  }
  push(text.slice(at), false);
  return runs;
}
