// Message text → DOM nodes, with a small Markdown subset: **bold**, *italic* / _italic_, `code`,
// ``` fenced code blocks ```, > quotes, links ([text](https://…) and bare http(s) URLs), emoji
// shortcodes (:smile:), and line breaks (kept as newlines; the CSS shows them). Nothing here
// parses HTML: every piece of the text becomes a text node or the text of an element made with
// h(), so markup in a message stays literal text. Anything that is not one of the constructs
// above, or is one left unclosed, is shown as typed.
//
// Every input is hostile, and every member's browser renders every message: the scanner is
// linear in the text (a bounded look-ahead per character, no regular expression that can
// backtrack over the text), emphasis is matched with CommonMark's delimiter-stack rules
// (https://spec.commonmark.org/0.31.2/#emphasis-and-strong-emphasis) in amortised linear time,
// and quotes nest at most MAX_QUOTE_DEPTH deep (deeper `>` are text).
//
// The text is stored as the sender typed it (docs/client.md): this is how the web UI shows it.

import { h } from './dom.js';
import { safeHref, trimUrl } from './linkify.js';
import { emojiFor } from './emoji.js';

export const MAX_QUOTE_DEPTH = 3;
const MAX_SHORTCODE = 40; // longest `:name:` looked for (the table's longest is far shorter)
const LINK_ATTRS = { target: '_blank', rel: 'noopener noreferrer nofollow' };
const LINK_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

const isSpace = (ch) => ch === undefined || /\s/u.test(ch);
const isPunct = (ch) => ch !== undefined && /[\p{P}\p{S}]/u.test(ch);
const isWordChar = (ch) => ch !== undefined && /[\p{L}\p{N}_]/u.test(ch);

// ------------------------------------------------------------------ blocks

const FENCE = /^ {0,3}```/;
const FENCE_CLOSE = /^ {0,3}```[ \t\r]*$/;
const QUOTE = /^ {0,3}>/;
const QUOTE_MARK = /^ {0,3}> ?/;

/** Append `text`, rendered, to `parent`; returns `parent`. */
export function renderMarkdown(parent, text) {
  renderBlocks(parent, String(text).split('\n'), 0);
  return parent;
}

/**
 * The text a reader of the rendered message sees, without the markers (`**hi**` → `hi`, `:smile:`
 * → 😄, `[docs](https://…)` → `docs`): what the screen-reader announcement of a new message says.
 */
export function markdownText(text) {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === 3) return void parts.push(node.data);
    for (const child of node.childNodes) walk(child);
    // A quote or a code block ends its line: the next block does not run on into its last word.
    if (BLOCK_TAGS.has(node.tagName) && !/\s$/u.test(parts.at(-1) ?? '')) parts.push('\n');
  };
  walk(renderMarkdown(h('span'), text));
  return parts.join('').trimEnd();
}
const BLOCK_TAGS = new Set(['BLOCKQUOTE', 'PRE']);

function renderBlocks(parent, lines, depth) {
  // Lines that close a fence, in order: an opening fence with no closing one after it is text,
  // and the look-up is a pointer that only moves forward (linear however many fences are open).
  const closers = [];
  lines.forEach((line, i) => { if (FENCE_CLOSE.test(line)) closers.push(i); });
  let next = 0; // first index in closers not yet behind us
  let para = [];
  // A paragraph's lines keep their newlines; the newline between a paragraph and a block is
  // the block's own line break.
  const flush = () => {
    if (para.length) renderInline(parent, para.join('\n'), true);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (FENCE.test(line)) {
      while (next < closers.length && closers[next] <= i) next++;
      if (next < closers.length) {
        const end = closers[next];
        flush();
        const info = line.replace(FENCE, '').trim().split(/\s/)[0];
        const lang = info && info.length <= 32 ? { 'data-lang': info } : {};
        parent.append(h('pre', { class: 'md-pre', ...lang }, h('code', {}, lines.slice(i + 1, end).join('\n'))));
        i = end;
        continue;
      }
    }
    if (depth < MAX_QUOTE_DEPTH && QUOTE.test(line)) {
      flush();
      const inner = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) inner.push(lines[i].replace(QUOTE_MARK, ''));
      i--;
      const quote = h('blockquote', { class: 'md-quote' });
      renderBlocks(quote, inner, depth + 1);
      parent.append(quote);
      continue;
    }
    para.push(line);
  }
  flush();
}

// ------------------------------------------------------------------ inline

/**
 * Tokens of one paragraph: text, atoms (code spans, links, emoji: rendered whole, never split
 * by emphasis) and delimiter runs of `*` or `_`.
 */
function tokenize(text, links) {
  const tokens = [];
  let textStart = 0;
  const pushText = (end) => { if (end > textStart) tokens.push({ kind: 'text', text: text.slice(textStart, end) }); };
  const ticks = backtickRuns(text);
  const urlRe = /https?:\/\/[^\s<>"'`]+/iy;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '`') {
      // A run of n backticks opens a code span closed by the next run of exactly n; else it is text.
      const n = ticks.lengthAt(i);
      const close = n ? ticks.next(n, i) : -1;
      if (close >= 0) {
        pushText(i);
        let code = text.slice(i + n, close);
        if (code.length > 2 && code[0] === ' ' && code.at(-1) === ' ' && code.trim()) code = code.slice(1, -1);
        tokens.push({ kind: 'atom', node: h('code', { class: 'md-code' }, code) });
        i = textStart = close + n;
      } else {
        i += n || 1;
      }
      continue;
    }
    if (ch === '*' || ch === '_') {
      let end = i;
      while (text[end] === ch) end++;
      pushText(i);
      const before = text[i - 1];
      const after = text[end];
      const left = !isSpace(after) && (!isPunct(after) || isSpace(before) || isPunct(before));
      const right = !isSpace(before) && (!isPunct(before) || isSpace(after) || isPunct(after));
      const canOpen = ch === '*' ? left : left && (!right || isPunct(before));
      const canClose = ch === '*' ? right : right && (!left || isPunct(after));
      tokens.push({ kind: 'delim', ch, count: end - i, orig: end - i, canOpen, canClose, opens: [], closes: [] });
      i = textStart = end;
      continue;
    }
    if (links && ch === '[') {
      const link = linkAt(text, i);
      if (link) {
        pushText(i);
        tokens.push({ kind: 'atom', node: link.node });
        i = textStart = link.end;
        continue;
      }
    }
    if (links && (ch === 'h' || ch === 'H') && !isWordChar(text[i - 1])) {
      urlRe.lastIndex = i;
      const m = urlRe.exec(text);
      if (m) {
        const url = trimUrl(m[0]);
        const href = safeHref(url);
        if (href) {
          pushText(i);
          tokens.push({ kind: 'atom', node: h('a', { href, ...LINK_ATTRS }, url) });
          i = textStart = i + url.length;
          continue;
        }
        i += m[0].length; // not a URL the parser accepts: all of it is text
        continue;
      }
    }
    if (ch === ':') {
      const close = text.indexOf(':', i + 1);
      if (close > i + 1 && close - i <= MAX_SHORTCODE) {
        const code = text.slice(i, close + 1);
        const emoji = emojiFor(code);
        if (emoji) {
          pushText(i);
          tokens.push({ kind: 'atom', node: h('span', { class: 'emoji', title: code }, emoji) });
          i = textStart = close + 1;
          continue;
        }
      }
    }
    i++;
  }
  pushText(text.length);
  return tokens;
}

/**
 * The runs of backticks of `text`: lengthAt(i), the length of the run starting at i, and
 * next(n, i), the start of the first run of exactly n backticks after i (or -1). Each length's
 * list is walked by a pointer that only moves forward, as the callers' positions only grow.
 */
function backtickRuns(text) {
  const byLength = new Map();
  const lengths = new Map();
  for (let i = text.indexOf('`'); i >= 0; i = text.indexOf('`', i)) {
    let end = i;
    while (text[end] === '`') end++;
    lengths.set(i, end - i);
    if (!byLength.has(end - i)) byLength.set(end - i, { starts: [], at: 0 });
    byLength.get(end - i).starts.push(i);
    i = end;
  }
  return {
    lengthAt: (i) => lengths.get(i),
    next(n, i) {
      const list = byLength.get(n);
      while (list.at < list.starts.length && list.starts[list.at] <= i) list.at++;
      return list.at < list.starts.length ? list.starts[list.at] : -1;
    },
  };
}

/**
 * `[label](url)` at `start`: the label on one line without brackets, the URL without spaces or
 * brackets, of a scheme in LINK_SCHEMES. Else null (and the `[` is text). Bounded: the label
 * and the URL are looked for on this line only, up to 2,048 characters each.
 */
function linkAt(text, start) {
  const labelEnd = scanUntil(text, start + 1, ']', '[\n');
  if (labelEnd < 0 || labelEnd === start + 1 || text[labelEnd + 1] !== '(') return null;
  const urlEnd = scanUntil(text, labelEnd + 2, ')', '()<>"\'` \t\n');
  if (urlEnd < 0 || urlEnd === labelEnd + 2) return null;
  const raw = text.slice(labelEnd + 2, urlEnd);
  let url;
  try { url = new URL(raw); } catch { return null; }
  if (!LINK_SCHEMES.has(url.protocol)) return null;
  const a = h('a', { href: url.href, title: url.href, ...LINK_ATTRS });
  renderInline(a, text.slice(start + 1, labelEnd), false);
  return { node: a, end: urlEnd + 1 };
}

/** Index of `stop` from `from`, or -1 at any of `forbidden` or after 2,048 characters. */
function scanUntil(text, from, stop, forbidden) {
  const limit = Math.min(text.length, from + 2048);
  for (let i = from; i < limit; i++) {
    if (text[i] === stop) return i;
    if (forbidden.includes(text[i])) return -1;
  }
  return -1;
}

/**
 * Match emphasis delimiters (CommonMark's "process emphasis", with the openers_bottom bound so
 * a closer never searches the same openers twice). Records on each run the tags it opens and
 * closes; whatever is left of a run is literal text.
 */
function matchEmphasis(tokens) {
  const stack = []; // indices of delims that may open, bottom to top (ids increase upward)
  const bottom = new Map(); // key → token index at or below which no opener for it exists
  tokens.forEach((closer, ci) => {
    if (closer.kind !== 'delim') return;
    if (closer.canClose) {
      const key = `${closer.ch}${closer.canOpen ? 1 : 0}${closer.orig % 3}`;
      let searched = true;
      while (closer.count > 0) {
        const floor = bottom.get(key) ?? -1;
        let oi = stack.length - 1;
        for (; oi >= 0 && stack[oi] > floor; oi--) {
          const opener = tokens[stack[oi]];
          if (opener.ch !== closer.ch || opener.count === 0) continue;
          const odd = (opener.canClose || closer.canOpen) && (opener.orig + closer.orig) % 3 === 0
            && !(opener.orig % 3 === 0 && closer.orig % 3 === 0);
          if (!odd) break;
        }
        if (oi < 0 || stack[oi] <= floor) { searched = false; break; }
        const opener = tokens[stack[oi]];
        const use = opener.count >= 2 && closer.count >= 2 ? 2 : 1;
        const tag = use === 2 ? 'strong' : 'em';
        opener.count -= use;
        closer.count -= use;
        opener.opens.push(tag);
        closer.closes.push(tag);
        stack.length = opener.count > 0 ? oi + 1 : oi; // the delimiters between are text now
      }
      // Every opener below this closer was tried for this key: later closers of the key need not.
      if (!searched) bottom.set(key, ci - 1);
    }
    if (closer.canOpen && closer.count > 0) stack.push(ci);
  });
}

/** Render one paragraph's (or link label's) inline content into `parent`. */
function renderInline(parent, text, links) {
  const tokens = tokenize(text, links);
  matchEmphasis(tokens);
  const open = [parent];
  let buf = ''; // text waiting to become one text node
  const flush = () => {
    if (buf) open[open.length - 1].append(buf);
    buf = '';
  };
  for (const t of tokens) {
    if (t.kind === 'text') buf += t.text;
    else if (t.kind === 'atom') { flush(); open[open.length - 1].append(t.node); } else {
      if (t.closes.length) flush();
      for (let k = 0; k < t.closes.length; k++) open.pop();
      if (t.count > 0) buf += t.ch.repeat(t.count);
      if (t.opens.length) flush();
      for (let k = t.opens.length - 1; k >= 0; k--) {
        const el = h(t.opens[k], {});
        open[open.length - 1].append(el);
        open.push(el);
      }
    }
  }
  flush();
}
