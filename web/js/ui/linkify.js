// Turn message text into DOM nodes: plain text nodes plus <a> for http(s)
// URLs. Nothing here parses HTML, so markup in a message stays literal text.

import { h } from './dom.js';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'")\]}>*_~]+$/;

// Drop trailing punctuation that is probably not part of the URL, but keep a
// closing bracket that balances one inside it (e.g. Wikipedia links).
function trimUrl(raw) {
  let url = raw;
  for (;;) {
    const m = url.match(TRAILING);
    if (!m) break;
    let cut = m[0].length;
    const last = url.at(-1);
    const pairs = { ')': '(', ']': '[', '}': '{' };
    if (cut === 1 && pairs[last]) {
      const opens = url.split(pairs[last]).length - 1;
      const closes = url.split(last).length - 1;
      if (opens >= closes) break;
    }
    if (cut > 1) cut = 1; // peel one character at a time
    url = url.slice(0, -cut);
  }
  return url;
}

function safeHref(text) {
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
