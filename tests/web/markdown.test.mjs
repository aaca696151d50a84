// Unit tests of web/js/ui/markdown.js (and the shortcode table of emoji.js): the Markdown subset
// the web UI renders, built from DOM nodes, never HTML. Every input is hostile: markup, unsafe
// link schemes, unclosed and nested markers, 4,000-character pathological messages. Uses the fake
// DOM of fake-dom.mjs, whose HTML-parsing entry points throw. Plain Node, no browser.
// Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installFakeDom, FakeElement, FakeText } from './fake-dom.mjs';

installFakeDom();
const { renderMarkdown, markdownText, MAX_QUOTE_DEPTH } = await import('../../web/js/ui/markdown.js');
const { EMOJI, emojiFor, suggestEmoji } = await import('../../web/js/ui/emoji.js');

const REL = 'noopener noreferrer nofollow';
// The only elements the renderer may make, and the only attributes each may carry.
const ALLOWED = {
  STRONG: [], EM: [], CODE: ['class'], PRE: ['class', 'data-lang'], BLOCKQUOTE: ['class'],
  SPAN: ['class', 'title'], A: ['href', 'rel', 'target', 'title'],
};

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Serialise a rendered node as HTML-like text (text escaped, so "&lt;" in the result proves it
 * was a text node), checking on the way what must hold for every input: only allowed elements
 * and attributes, no listeners, every link http(s) or mailto with target=_blank and
 * rel=noopener noreferrer nofollow, and no link inside a link.
 */
function ser(n, inLink = false) {
  if (n instanceof FakeText) return esc(n.data);
  assert.ok(n instanceof FakeElement, 'only text nodes and elements');
  const tag = n.tagName;
  assert.ok(ALLOWED[tag], `unexpected element ${tag}`);
  for (const k of n.attributes.keys()) assert.ok(ALLOWED[tag].includes(k), `unexpected attribute ${k} on ${tag}`);
  assert.equal(n.listeners.length, 0);
  if (tag === 'A') {
    assert.ok(!inLink, 'a link inside a link');
    assert.match(n.getAttribute('href'), /^(https?:\/\/|mailto:)/);
    assert.equal(n.getAttribute('target'), '_blank');
    assert.equal(n.getAttribute('rel'), REL);
  }
  const attrs = [...n.attributes].filter(([k]) => k !== 'target' && k !== 'rel').map(([k, v]) => ` ${k}="${v}"`).join('');
  const t = tag.toLowerCase();
  return `<${t}${attrs}>${n.childNodes.map((c) => ser(c, inLink || tag === 'A')).join('')}</${t}>`;
}

function md(text) {
  const div = document.createElement('div');
  assert.equal(renderMarkdown(div, text), div, 'returns the parent');
  return div.childNodes.map((n) => ser(n)).join('');
}

const A = (href, text, title = false) => `<a href="${href}"${title ? ` title="${href}"` : ''}>${text}</a>`;
const code = (s) => `<code class="md-code">${s}</code>`;

// --------------------------------------------------------------- constructs

test('plain text is one text node, newlines kept (the CSS shows them)', () => {
  assert.equal(md('hello'), 'hello');
  assert.equal(md('Hello Ada,\ntwo lines here.'), 'Hello Ada,\ntwo lines here.');
  assert.equal(md('a\n\nb'), 'a\n\nb');
  assert.equal(md(''), '');
  const div = document.createElement('div');
  renderMarkdown(div, 'one\ntwo');
  assert.equal(div.childNodes.length, 1, 'adjacent text is one node');
});

test('bold, italic (* and _), and both', () => {
  assert.equal(md('**bold** and *it* and _it_'), '<strong>bold</strong> and <em>it</em> and <em>it</em>');
  assert.equal(md('***both***'), '<em><strong>both</strong></em>');
  assert.equal(md('*a **b** c*'), '<em>a <strong>b</strong> c</em>');
  assert.equal(md('**a *b* c**'), '<strong>a <em>b</em> c</strong>');
  assert.equal(md('__not bold, italic of _x_ __'), '__not bold, italic of <em>x</em> __');
  assert.equal(md('un*frigging*believable'), 'un<em>frigging</em>believable', '* works inside a word');
});

test('underscores inside words and spaced-out stars are text', () => {
  assert.equal(md('snake_case_name and my__private__field'), 'snake_case_name and my__private__field');
  assert.equal(md('2 * 3 * 4'), '2 * 3 * 4');
  assert.equal(md('a * b*'), 'a * b*');
  assert.equal(md('*foo**bar*'), '<em>foo**bar</em>', 'CommonMark\'s rule of three');
});

test('inline code: literal inside, no formatting, links or emoji; runs of backticks', () => {
  assert.equal(md('run `rm -rf *tmp*` now'), `run ${code('rm -rf *tmp*')} now`);
  assert.equal(md('`**no** https://x.example :smile:`'), code('**no** https://x.example :smile:'));
  assert.equal(md('``a ` b``'), code('a ` b'));
  assert.equal(md('`` `x` ``'), code('`x`'), 'one space each side is padding');
  assert.equal(md('**see `x`**'), `<strong>see ${code('x')}</strong>`);
  assert.equal(md('`<b>x</b>`'), code('&lt;b&gt;x&lt;/b&gt;'));
});

test('fenced code blocks: literal, the language kept as data, the newline around them dropped', () => {
  assert.equal(md('```\nconst a = **1**;\n<b>\n```'), '<pre class="md-pre"><code>const a = **1**;\n&lt;b&gt;</code></pre>');
  assert.equal(md('before\n```js\nx()\n```\nafter'), 'before<pre class="md-pre" data-lang="js"><code>x()</code></pre>after');
  const div = renderMarkdown(document.createElement('div'), '```"><img src=x>\nx\n```');
  assert.equal(div.childNodes[0].getAttribute('data-lang'), '"><img', 'the language is an attribute value, set as such');
  assert.equal(div.childNodes[0].textContent, 'x');
  assert.equal(md('```\n```'), '<pre class="md-pre"><code></code></pre>');
  assert.equal(md('```one line```'), code('one line'), 'on one line it is a code span');
});

test('quotes, nested up to MAX_QUOTE_DEPTH; deeper markers are text', () => {
  const q = (s) => `<blockquote class="md-quote">${s}</blockquote>`;
  assert.equal(md('> hi\n> **there**\nreply'), `${q('hi\n<strong>there</strong>')}reply`);
  assert.equal(md('>no space'), q('no space'));
  assert.equal(md('> a\n>> b'), q(`a${q('b')}`));
  assert.equal(MAX_QUOTE_DEPTH, 3);
  assert.equal(md('>>>>> deep'), q(q(q('&gt;&gt; deep'))));
  assert.equal(md('a > b'), 'a &gt; b', 'only at the start of a line');
  assert.equal(md('> ```\n> code\n> ```'), q('<pre class="md-pre"><code>code</code></pre>'));
});

test('links: [text](url) for http, https and mailto; the href is the parsed URL, also the title', () => {
  assert.equal(md('see [the docs](https://x.example/a?b=1)'), `see ${A('https://x.example/a?b=1', 'the docs', true)}`);
  assert.equal(md('[mail me](mailto:ada@example.com)'), A('mailto:ada@example.com', 'mail me', true));
  assert.equal(md('[**bold** `c` :smile:](http://x.example)'),
    A('http://x.example/', `<strong>bold</strong> ${code('c')} <span class="emoji" title=":smile:">😄</span>`, true));
  assert.equal(md('[https://shown.example](https://real.example)'), A('https://real.example/', 'https://shown.example', true),
    'no link inside a link; the title shows where it goes');
});

test('bare http(s) URLs are linked, as linkify.js links them; emphasis markers inside them are not', () => {
  assert.equal(md('go to https://x.example/a_b_c.'), `go to ${A('https://x.example/a_b_c', 'https://x.example/a_b_c')}.`);
  assert.equal(md('*https://x.example/a*'), `<em>${A('https://x.example/a', 'https://x.example/a')}</em>`);
  assert.equal(md('https://example.com/a_(b)?q=1&r=2,'), `${A('https://example.com/a_(b)?q=1&r=2', 'https://example.com/a_(b)?q=1&amp;r=2')},`);
  assert.equal(md('xhttps://x.example/'), 'xhttps://x.example/');
});

test('emoji shortcodes: known ones become the emoji, unknown ones stay as typed', () => {
  assert.equal(md(':smile: :+1: :heart:'),
    '<span class="emoji" title=":smile:">😄</span> <span class="emoji" title=":+1:">👍</span> <span class="emoji" title=":heart:">❤️</span>');
  assert.equal(md(':nope: :: ::: :smile'), ':nope: :: ::: :smile');
  assert.equal(md('at 10:30:smile:'), '10:30'.replace('10:30', 'at 10:30') + '<span class="emoji" title=":smile:">😄</span>');
  assert.equal(md(':constructor: :toString: :hasOwnProperty:'), ':constructor: :toString: :hasOwnProperty:', 'no prototype lookups');
  assert.ok(!md(':__proto__:').includes('emoji'));
});

// ------------------------------------------------------------------ attacks

test('markup is text: script, img onerror, iframes, entities', () => {
  for (const evil of [
    '<script>window.__xss=1</script>',
    '<img src=x onerror="window.__xss=1">',
    '<a href="javascript:alert(1)">x</a>',
    '<iframe srcdoc="<script>parent.x=1</script>">',
    '&lt;b&gt; &amp;',
    '<svg/onload=alert(1)>',
  ]) assert.equal(md(evil), esc(evil), evil);
  assert.equal(md('**<img src=x onerror=alert(1)>**'), '<strong>&lt;img src=x onerror=alert(1)&gt;</strong>');
});

test('links of other schemes, or malformed, are text', () => {
  for (const text of [
    '[x](javascript:alert(1))', '[x](JavaScript:alert(1))', '[x]( javascript:alert(1))', '[x](javascript://%0Aalert(1))',
    '[x](data:text/html,<script>alert(1)</script>)', '[x](vbscript:msgbox(1))', '[x](file:///etc/passwd)',
    '[x](//evil.example)', '[x](evil.example)', '[x](https://a.example/ "title")', '[](https://a.example)',
    '[x] (https://a.example)', '[x\ny](https://a.example)', '[x](https://a.example', '[x(https://a.example)',
  ]) {
    const out = md(text);
    assert.ok(!out.includes('<a href="javascript') && !out.includes('<a href="data') && !out.includes('<a href="vbscript'), text);
    assert.ok(!/<a href="[^"]*"[^>]*>x<\/a>/.test(out), `${text} → ${out}`);
  }
  assert.equal(md('[x](javascript:alert(1))'), '[x](javascript:alert(1))');
});

test('unclosed and mismatched markers are text', () => {
  assert.equal(md('**unclosed'), '**unclosed');
  assert.equal(md('*a **b* c**'), '<em>a <em><em>b</em> c</em></em>', 'CommonMark\'s matching, properly nested');
  assert.equal(md('**a *b** c*'), '<em><em>a <em>b</em></em> c</em>');
  assert.equal(md('`never closed'), '`never closed');
  assert.equal(md('```\nnever closed'), '```\nnever closed', 'an unclosed fence is text');
  assert.equal(md('[label](https://x.example'), `[label](${A('https://x.example/', 'https://x.example')}`, 'the URL alone is linked');
  assert.equal(md('_a *b_ c*'), '<em>a *b</em> c*');
});

test('nested-emphasis abuse renders, nests properly and keeps every character', () => {
  const deep = `${'*'.repeat(500)}x${'*'.repeat(500)}`;
  const div = document.createElement('div');
  renderMarkdown(div, deep);
  assert.equal(div.textContent.replace(/\*/g, ''), 'x');
  const mixed = '*_'.repeat(1000) + 'x' + '_*'.repeat(1000);
  renderMarkdown(document.createElement('div'), mixed);
  md(mixed); // the invariants
});

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const PIECES = ['*', '**', '_', '__', '`', '```', '\n', '> ', '>', '[', ']', '(', ')', '](', 'https://x.example/', 'mailto:a@b.c',
  'javascript:alert(1)', ':', ':smile:', ':+1', '<script>', '<img src=x onerror=alert(1)>', ' ', 'a', 'é', '🦊', '\\', '&amp;'];

/** Text of `text` with every construct's markers removed is a subsequence of the input's characters. */
function assertOnlyMarkersDropped(text) {
  const div = document.createElement('div');
  renderMarkdown(div, text);
  const out = div.textContent;
  // The emoji of a shortcode is the one thing added; put the codes back to compare.
  const back = (n) => (n instanceof FakeText ? n.data : n.tagName === 'SPAN' ? n.getAttribute('title') : n.childNodes.map(back).join(''));
  const restored = div.childNodes.map(back).join('');
  let j = 0;
  for (const ch of restored) {
    j = text.indexOf(ch, j);
    assert.ok(j >= 0, `output has a character the input lacks: ${JSON.stringify(text)} → ${JSON.stringify(out)}`);
    j += ch.length;
  }
}

test('random mixes of markers, links, markup and unicode: only safe nodes, no character invented', () => {
  const random = rng(17);
  for (let i = 0; i < 800; i++) {
    let text = '';
    const n = 1 + Math.floor(random() * 30);
    for (let k = 0; k < n; k++) text += PIECES[Math.floor(random() * PIECES.length)];
    md(text); // asserts the invariants
    assertOnlyMarkersDropped(text);
  }
});

// A quadratic (or backtracking) renderer would take minutes on these; each must just finish and be
// text. No speed is asserted (bench/ measures speed): the timeout only stops a runaway suite.
test('4,000-character adversarial messages render, as text and safe nodes', { timeout: 60_000 }, () => {
  const N = 4000;
  const cases = [
    '*'.repeat(N), '_'.repeat(N), '`'.repeat(N), '*a'.repeat(N / 2), '_a '.repeat(N / 3), '**a*'.repeat(N / 4),
    '[x'.repeat(N / 2), '[x](h'.repeat(N / 5), `[x](https://${'a'.repeat(N)}`, ':a'.repeat(N / 2), `:${'a'.repeat(N)}`,
    '> '.repeat(N / 2), '>\n'.repeat(N / 2), '```\n'.repeat(N / 4), '```x\n'.repeat(N / 5),
    '` ``'.repeat(N / 4), 'https://x.example/'.repeat(N / 18), `https://x.example/${'_*'.repeat(N / 2)}`,
    '*_`['.repeat(N / 4), '<script>'.repeat(N / 8), `${'('.repeat(N / 2)}${')'.repeat(N / 2)}`,
    Array.from({ length: N / 4 }, (_, i) => '`'.repeat((i % 7) + 1)).join('a'),
  ];
  for (const text of cases) {
    const out = md(text);
    assert.ok(!out.includes('<script>'), 'no element from markup');
  }
  assert.equal(md('*'.repeat(N)), '*'.repeat(N));
  assert.equal(md('<script>'.repeat(N / 8)), '&lt;script&gt;'.repeat(N / 8));
});

// -------------------------------------------------------------------- emoji

test('the shortcode table: a few hundred names, safe keys, every value an emoji', () => {
  const names = Object.keys(EMOJI);
  assert.ok(names.length >= 300, `${names.length} names`);
  for (const name of names) {
    assert.match(name, /^[a-z0-9_+-]+$/);
    assert.match(EMOJI[name], /\p{Extended_Pictographic}|\p{Emoji_Presentation}|\p{Regional_Indicator}/u, name);
  }
  assert.equal(emojiFor(':smile:'), '😄');
  assert.equal(emojiFor(':+1:'), '👍');
  assert.equal(emojiFor('smile'), null);
  assert.equal(emojiFor(':hasOwnProperty:'), null);
});

test('suggestions for a typed prefix: names that start with it first, at most the limit', () => {
  const names = suggestEmoji('sh').map((s) => s.name);
  assert.deepEqual(names.slice(0, 4), ['shark', 'ship', 'shrug', 'shushing_face']);
  assert.ok(names.includes('person_shrugging'), 'then a later word of a name');
  assert.equal(suggestEmoji('s', 5).length, 5);
  assert.deepEqual(suggestEmoji('zzzz'), []);
  assert.deepEqual(suggestEmoji(''), []);
  assert.equal(suggestEmoji('SMI')[0].emoji, EMOJI.smile, 'any case');
});

test('the composer\'s completion query: a colon at the start or after a space, then 2+ name characters, at the caret', async () => {
  const { emojiQuery } = await import('../../web/js/ui/emoji-complete.js');
  assert.equal(emojiQuery(':sh', 3), ':sh');
  assert.equal(emojiQuery('hi :thu', 7), ':thu');
  assert.equal(emojiQuery('hi (:+1', 7), ':+1');
  assert.equal(emojiQuery('hi :s', 5), null, 'one character is too few');
  assert.equal(emojiQuery('at 10:30', 8), null, 'not after a digit');
  assert.equal(emojiQuery('https://x', 9), null);
  assert.equal(emojiQuery(':sh and more', 3), ':sh', 'only what is before the caret');
  assert.equal(emojiQuery(':sh and more', 12), null);
  assert.equal(emojiQuery(':smile: ', 8), null, 'a finished code is not a query');
  assert.equal(emojiQuery(`x :${'a'.repeat(5000)}`, 5003), null, 'long runs are not scanned');
});

test('markdownText: what a screen reader announces is the text as shown, without the markers', () => {
  assert.equal(markdownText('**hi** _there_ `x` :smile:'), 'hi there x \u{1F604}');
  assert.equal(markdownText('see [the docs](https://example.com/d) <b>'), 'see the docs <b>');
  assert.equal(markdownText('> quoted\nplain'), 'quoted\nplain');
  assert.equal(markdownText('**unclosed'), '**unclosed');
});
