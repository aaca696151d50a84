// Turn message text into DOM nodes: plain text nodes plus <a> for http(s)
// URLs. Nothing here parses HTML, so markup in a message stays literal text.

import { h } from './dom.js';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Characters that end a sentence or wrap a URL rather than belong to it.
const TRAILING = new Set('.,;:!?\'")]}>*_~');
const OPENING = { ')': '(', ']': '[', '}': '{' };

const count = (s, ch) => s.split(ch).length - 1;

// Drop trailing punctuation that is probably not part of the URL, one
// character at a time, but keep a closing bracket that balances one inside it
// (Wikipedia links such as .../Union_Station_(Washington,_D.C.)). Linear in
// the URL's length, however much punctuation it ends with.
export function trimUrl(raw) {
  const opens = {};
  const closes = {};
  let end = raw.length;
  while (end > 0 && TRAILING.has(raw[end - 1])) {
    const last = raw[end - 1];
    const open = OPENING[last];
    if (open) {
      opens[open] ??= count(raw, open);  // opening brackets are never trimmed
      closes[last] ??= count(raw, last); // met from the end, so none trimmed yet
      if (opens[open] >= closes[last]) break;
      closes[last]--;
    }
    end--;
  }
  return raw.slice(0, end);
}

export function safeHref(text) {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Append `text` to `parent` as text nodes and safe links. */
export function renderText(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const url = trimUrl(match[0]);
    const href = safeHref(url);
    if (!href) continue;
    if (match.index > last) parent.append(text.slice(last, match.index));
    parent.append(h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, url));
    last = match.index + url.length;
  }
  if (last < text.length) parent.append(text.slice(last));
  return parent;
}
