// Unit tests of web/js/ui/linkify.js: message text becomes text nodes and
// <a> elements for http(s) URLs only, never HTML. Uses the small fake DOM in
// fake-dom.mjs (no jsdom, no browser), whose HTML-parsing entry points throw.
// Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installFakeDom, FakeElement, FakeText } from './fake-dom.mjs';
import { renderText } from '../../web/js/ui/linkify.js';

const created = installFakeDom();
const REL = 'noopener noreferrer nofollow';

/**
 * Render `text` and describe the result: text nodes as strings, links as
 * { href, text }. Also checks what must hold for every input: only text nodes
 * and <a> elements; every link http(s), target=_blank, rel=noopener noreferrer
 * nofollow, holding one text node; and nothing of the text lost or added.
 */
function render(text) {
  const div = document.createElement('div');
  assert.equal(renderText(div, text), div, 'returns the parent');
  const parts = div.childNodes.map((n) => {
    if (n instanceof FakeText) return n.data;
    assert.ok(n instanceof FakeElement && n.tagName === 'A', `unexpected node ${n.tagName}`);
    assert.deepEqual([...n.attributes.keys()].sort(), ['href', 'rel', 'target']);
    assert.equal(n.getAttribute('target'), '_blank');
    assert.equal(n.getAttribute('rel'), REL);
    assert.match(n.getAttribute('href'), /^https?:\/\//);
    assert.ok(n.childNodes.length === 1 && n.childNodes[0] instanceof FakeText, 'a link holds one text node');
    assert.equal(n.listeners.length, 0);
    return { href: n.getAttribute('href'), text: n.textContent };
  });
  assert.equal(div.textContent, text, 'the text reads exactly as sent');
  for (let i = 1; i < parts.length; i++) {
    assert.ok(!(typeof parts[i] === 'string' && typeof parts[i - 1] === 'string'), 'no two text nodes in a row');
  }
  return parts;
}
const link = (href, text = href) => ({ href, text });
const links = (text) => render(text).filter((p) => typeof p !== 'string');

// ---------------------------------------------------------------- no HTML

test('(the fake DOM refuses every way of parsing HTML, so the tests below would catch one)', () => {
  const el = document.createElement('div');
  assert.throws(() => { el.innerHTML = '<b>x</b>'; }, /never be parsed as HTML/);
  assert.throws(() => { el.outerHTML = '<b>x</b>'; }, /never be parsed as HTML/);
  assert.throws(() => el.insertAdjacentHTML('beforeend', '<b>x</b>'), /never be parsed as HTML/);
  assert.throws(() => document.createRange().createContextualFragment('<b>x</b>'), /never be parsed as HTML/);
});

test('markup stays literal text: one text node, no elements created', () => {
  for (const evil of [
    '<img src=x onerror="window.__xss=1">',
    '<script>alert(1)</script>',
    '<a href="javascript:alert(1)">click</a>',
    '&lt;b&gt; &amp; &#x3C;',
    '<svg/onload=alert(1)>',
    '<!-- --><iframe srcdoc="<script>parent.x=1</script>">',
  ]) {
    const before = created.length;
    assert.deepEqual(render(evil), [evil]);
    assert.equal(created.length - before, 1, `only the test's own div for ${evil}`);
  }
});

test('a URL inside markup is linked on its own; the markup around it stays text', () => {
  assert.deepEqual(render('<a href="https://evil.example/x">hi</a>'),
    ['<a href="', link('https://evil.example/x'), '">hi</a>']);
  assert.deepEqual(render("<img src='https://x.example/a.png' onerror=alert(1)>"),
    ["<img src='", link('https://x.example/a.png'), "' onerror=alert(1)>"]);
});

test('the link text is the URL as typed, in a text node; it cannot inject markup', () => {
  // < > " ' ` end a URL, so a link's text can never contain them.
  assert.deepEqual(render('https://x.example/<b>bold</b>'), [link('https://x.example/'), '<b>bold</b>']);
  assert.deepEqual(render('https://x.example/"onmouseover="alert(1)'), [link('https://x.example/'), '"onmouseover="alert(1)']);
  assert.deepEqual(render('https://x.example/`x`'), [link('https://x.example/'), '`x`']);
});

test('empty text appends nothing; renderText adds to what the parent already holds', () => {
  assert.deepEqual(render(''), []);
  const div = document.createElement('div');
  div.append('before ');
  renderText(div, 'see https://a.example');
  assert.equal(div.textContent, 'before see https://a.example');
  assert.equal(div.children.length, 1);
});

// ------------------------------------------------------------ which schemes

test('javascript:, data:, vbscript:, file: and other schemes never become links', () => {
  for (const text of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(document.cookie)',
    'javascript://%0Aalert(1)',
    ' javascript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    'ftp://files.example/x',
    'mailto:ada@example.com',
    'ws://chat.example/ws',
    '//protocol-relative.example/x',
    'www.example.com',
    'http:/one-slash.example',
    'http://',
    'https:// space.example',
  ]) assert.deepEqual(render(text), [text], text);
});

test('http(s) inside another scheme or a word: only a real http(s) URL is linked, never the wrapper', () => {
  assert.deepEqual(render('javascript:https://x.example'), ['javascript:', link('https://x.example/', 'https://x.example')]);
  assert.deepEqual(render('javascript://https://x.example/'), ['javascript://', link('https://x.example/')]);
  assert.deepEqual(render('data:text/html,https://x.example/'), ['data:text/html,', link('https://x.example/')]);
  assert.deepEqual(render('blob:https://x.example/1'), ['blob:', link('https://x.example/1')]);
  assert.deepEqual(render('xhttps://x.example/'), ['xhttps://x.example/'], 'not at a word boundary');
  assert.deepEqual(render('https://x.example/?next=javascript:alert(1)'), [link('https://x.example/?next=javascript:alert(1)')]);
});

test('URLs the URL parser rejects stay text', () => {
  for (const text of ['http://:80/', 'https://[::1/', 'http://%zz/', 'https://a..b:99999/', 'http://[x]/']) {
    assert.deepEqual(render(text), [text], text);
  }
  assert.deepEqual(render('https://[::1/ and https://ok.example/'), ['https://[::1/ and ', link('https://ok.example/')]);
});

test('the href is the parsed URL; the text is what was typed', () => {
  assert.deepEqual(links('HTTPS://EXAMPLE.COM/Path?Q=1'), [link('https://example.com/Path?Q=1', 'HTTPS://EXAMPLE.COM/Path?Q=1')]);
  assert.deepEqual(links('http://example.com'), [link('http://example.com/', 'http://example.com')]);
  assert.deepEqual(links('https://user:pw@example.com:8443/a'), [link('https://user:pw@example.com:8443/a')]);
  assert.deepEqual(links('https://x.example/a b'), [link('https://x.example/a')]);
});

// ------------------------------------------------------- where a URL ends

test('trailing punctuation ends the sentence, not the URL', () => {
  const cases = [
    ['see https://example.com.', ['see ', link('https://example.com/', 'https://example.com'), '.']],
    ['https://example.com/a, and', [link('https://example.com/a'), ', and']],
    ['is it https://example.com/a?', ['is it ', link('https://example.com/a'), '?']],
    ['wow https://example.com/a!!!', ['wow ', link('https://example.com/a'), '!!!']],
    ['https://example.com/a;', [link('https://example.com/a'), ';']],
    ['https://example.com/a:', [link('https://example.com/a'), ':']],
    ['https://example.com/a...', [link('https://example.com/a'), '...']],
    ['*https://example.com/a*', ['*', link('https://example.com/a'), '*']],
    ['~https://example.com/a~', ['~', link('https://example.com/a'), '~']],
  ];
  for (const [text, want] of cases) assert.deepEqual(render(text), want, text);
});

test('punctuation inside a URL stays in it', () => {
  assert.deepEqual(links('https://example.com/a.b,c;d:e!f?g=1&h=2#i'), [link('https://example.com/a.b,c;d:e!f?g=1&h=2#i')]);
  assert.deepEqual(links('https://example.com/?q=a*b_c~d'), [link('https://example.com/?q=a*b_c~d')]);
  assert.deepEqual(links('https://example.com/file.tar.gz.'), [link('https://example.com/file.tar.gz')]);
});

test('quotes and brackets around a URL are not part of it', () => {
  const cases = [
    ['"https://example.com/a"', ['"', link('https://example.com/a'), '"']],
    ["'https://example.com/a'", ["'", link('https://example.com/a'), "'"]],
    ['`https://example.com/a`', ['`', link('https://example.com/a'), '`']],
    ['<https://example.com/a>', ['<', link('https://example.com/a'), '>']],
    ['(https://example.com/a)', ['(', link('https://example.com/a'), ')']],
    ['[https://example.com/a]', ['[', link('https://example.com/a'), ']']],
    ['{https://example.com/a}', ['{', link('https://example.com/a'), '}']],
    ['(see https://example.com/a).', ['(see ', link('https://example.com/a'), ').']],
  ];
  for (const [text, want] of cases) assert.deepEqual(render(text), want, text);
});

test('a closing bracket that balances one inside the URL is kept (Wikipedia-style links)', () => {
  const wiki = 'https://en.wikipedia.org/wiki/Mercury_(planet)';
  assert.deepEqual(links(wiki), [link(wiki)]);
  assert.deepEqual(render(`${wiki}.`), [link(wiki), '.']);
  assert.deepEqual(render(`(${wiki})`), ['(', link(wiki), ')']);
  assert.deepEqual(render(`(see ${wiki}).`), ['(see ', link(wiki), ').']);
  assert.deepEqual(links('https://example.com/a_(b)?q=1&r=2,'), [link('https://example.com/a_(b)?q=1&r=2')]);
  assert.deepEqual(links('https://example.com/f(a)(b)'), [link('https://example.com/f(a)(b)')]);
  assert.deepEqual(links('https://example.com/a[1]'), [link('https://example.com/a[1]')]);
  assert.deepEqual(links('https://example.com/a)b)'), [link('https://example.com/a)b')]);
});

test('a balancing bracket is kept even when punctuation comes just before it', () => {
  // Used to be cut to ".../Union_Station_(Washington,_D.C": the bracket was only
  // checked when it was the only trailing punctuation character.
  const dc = 'https://en.wikipedia.org/wiki/Union_Station_(Washington,_D.C.)';
  assert.deepEqual(links(dc), [link(dc)]);
  assert.deepEqual(render(`${dc}.`), [link(dc), '.']);
  assert.deepEqual(render(`(${dc})`), ['(', link(dc), ')']);
  assert.deepEqual(links('https://example.com/Hello_(Hi!)'), [link('https://example.com/Hello_(Hi!)')]);
  assert.deepEqual(links('https://example.com/a[b.]'), [link('https://example.com/a[b.]')]);
  assert.deepEqual(render('(https://example.com/a.)'), ['(', link('https://example.com/a'), '.)'], 'nothing to balance: trimmed');
});

// ------------------------------------------------------------ several URLs

test('several URLs, separated by spaces, newlines or nothing but punctuation', () => {
  assert.deepEqual(render('a https://a.example/ b http://b.example/x c'),
    ['a ', link('https://a.example/'), ' b ', link('http://b.example/x'), ' c']);
  assert.deepEqual(render('https://a.example/\nhttps://b.example/'),
    [link('https://a.example/'), '\n', link('https://b.example/')]);
  assert.deepEqual(render('https://a.example/,https://b.example/'),
    [link('https://a.example/,https://b.example/')], 'a comma is a valid URL character mid-URL');
  assert.deepEqual(render('(https://a.example/) (https://b.example/)'),
    ['(', link('https://a.example/'), ') (', link('https://b.example/'), ')']);
});

// ----------------------------------------------------------------- unicode

test('unicode: international domains and paths are linked, with an encoded href and the text as typed', () => {
  assert.deepEqual(links('https://例え.jp/パス'), [link('https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9', 'https://例え.jp/パス')]);
  assert.deepEqual(links('https://münchen.de/straße'), [link('https://xn--mnchen-3ya.de/stra%C3%9Fe', 'https://münchen.de/straße')]);
  assert.deepEqual(render('🦊 https://x.example/🦊 👋'), ['🦊 ', link('https://x.example/%F0%9F%A6%8A', 'https://x.example/🦊'), ' 👋']);
  assert.deepEqual(render('https://x.example/\u00a0next'), [link('https://x.example/'), '\u00a0next'], 'a no-break space ends a URL');
  assert.deepEqual(render('日本語https://x.example/です'), ['日本語', link('https://x.example/%E3%81%A7%E3%81%99', 'https://x.example/です')]);
});

test('right-to-left overrides and zero-width characters in a URL are percent-encoded in the href', () => {
  const [a] = links('https://x.example/\u202egnp.exe');
  assert.equal(a.href, 'https://x.example/%E2%80%AEgnp.exe');
  const [b] = links('https://x.example/a\u200bb');
  assert.equal(b.href, 'https://x.example/a%E2%80%8Bb');
});

// ------------------------------------------------------------------- size

test('long input: a 4000-character message of links and one very long URL render completely', () => {
  const many = Array.from({ length: 200 }, (_, i) => `https://h${i}.example/`).join(' ');
  const parts = render(many);
  assert.equal(parts.filter((p) => typeof p !== 'string').length, 200);
  const long = `https://x.example/${'a'.repeat(100000)}`;
  assert.deepEqual(render(`${long} end`), [link(long), ' end']);
  const prose = 'lorem ipsum <b>dolor</b> '.repeat(5000);
  assert.deepEqual(render(prose), [prose]);
});

// Trimming used to rescan the URL for each character it removed: these four
// took 80 s together (a 4000-character message, the default limit, about
// 20 ms), and every member's browser renders every message of a room; now
// about 60 ms. No speed is asserted here (bench/ measures speed); the timeout
// only stops a quadratic trim from holding the suite for minutes.
test('a URL ending in a long run of punctuation is trimmed right at any length', { timeout: 60_000 }, () => {
  const N = 200000;
  assert.deepEqual(render(`https://x.example/${'.'.repeat(N)}`), [link('https://x.example/'), '.'.repeat(N)]);
  assert.deepEqual(render(`https://x.example/${')'.repeat(N)}`), [link('https://x.example/'), ')'.repeat(N)]);
  const balanced = `https://x.example/${'('.repeat(N)}${')'.repeat(N)}`;
  assert.equal(links(balanced)[0].text, balanced);
  assert.deepEqual(render(`https://x.example/${'.'.repeat(N)}a`), [link(`https://x.example/${'.'.repeat(N)}a`)]);
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

test('random mixes of URLs, markup, punctuation and unicode: text kept exactly, every link safe', () => {
  const random = rng(7);
  const pieces = ['https://', 'http://', 'HTTPS://', 'javascript:', 'data:', 'x.example', '/', 'a', '(', ')', '[', ']',
    '.', ',', '!', '?', ':', ';', '"', "'", '`', '<', '>', '<b>', '&amp;', ' ', '\n', '\t', '_', '*', '~', '#', '%',
    '@', '=', '&', '🦊', 'é', '日', '\u200b', '\u202e', '\ud83d'];
  for (let i = 0; i < 2000; i++) {
    let text = '';
    const n = 1 + Math.floor(random() * 25);
    for (let k = 0; k < n; k++) text += pieces[Math.floor(random() * pieces.length)];
    render(text); // asserts the invariants
  }
});
