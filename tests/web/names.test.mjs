// Unit tests of what the UI checks of names, passwords and message text before the server does
// (web/js/ui/join.js, format.js hasVisible): the same Unicode rules as the server
// (docs/protocol.md, hello and send), as far as a browser has them.
// Plain Node, no browser. Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasVisible } from '../../web/js/ui/format.js';
import { normalizeName, validateName, validatePassword } from '../../web/js/ui/join.js';

test('hasVisible: only whitespace and invisible characters are nothing to send', () => {
  for (const text of ['', ' \t\r\n ', ' \u200b\u2060\ufeff', '\u00a0\u3000\u2028', '\ufe0f\ufe0e', '\u200d\u200c\u034f', '\u202e\u2066', '\u{e0020}', '\u3164', '\u0001']) {
    assert.equal(hasVisible(text), false, JSON.stringify(text));
  }
  for (const text of ['a\u200b', '\u200ba', ' . ', '🐙', '日', '\u0301', ' '.repeat(3999) + 'x']) {
    assert.equal(hasVisible(text), true, JSON.stringify(text));
  }
});

test('normalizeName: spaces mapped, trimmed and collapsed, then NFKC, like the server', () => {
  assert.equal(normalizeName('  ａｄａ  '), 'ada');
  assert.equal(normalizeName('Ａda'), 'Ada', 'case is kept');
  assert.equal(normalizeName('ada    lovelace'), 'ada lovelace');
  assert.equal(normalizeName('\u00a0ada\u3000\u2003lovelace\u202f'), 'ada lovelace');
  assert.equal(normalizeName('e\u0301milie'), 'émilie');
  assert.equal(normalizeName('\ufb01le'), 'file');
  assert.equal(normalizeName('   '), '');
  const once = normalizeName('\u00a8ada');
  assert.equal(normalizeName(once), once, 'stable');
  assert.notEqual(once[0], ' ');
});

test('validateName: what the server would certainly refuse', () => {
  assert.equal(validateName('ada'), null);
  assert.equal(validateName('🐙'), null);
  assert.equal(validateName('ada lovelace'), null);
  assert.equal(validateName('ｎ'.repeat(32)), null, 'counted after NFKC: 32 letters');
  assert.equal(validateName('ab    '.repeat(7) + 'ab'), null, 'counted after collapsing spaces');
  assert.match(validateName(''), /Enter a display name/);
  assert.match(validateName('   '), /Enter a display name/);
  assert.match(validateName('n'.repeat(33)), /at most 32 characters/);
  assert.match(validateName('\ufdfa\ufdfa'), /at most 32 characters/, 'one ligature is 18 letters');
  assert.match(validateName('tab\tname'), /control characters/);
  assert.match(validateName('admin\u202etxt.exe'), /text-direction/);
  assert.match(validateName('\u200b\u200b'), /visible character/);
  // A joiner after a virama is Devanagari spelling: left to the server, which allows it.
  assert.equal(validateName('क्\u200dष'), null);
});

test('validatePassword: at least 8 characters (code points, as the server counts), at most 1024 bytes', () => {
  assert.equal(validatePassword(''), 'A password needs at least 8 characters.');
  assert.equal(validatePassword('1234567'), 'A password needs at least 8 characters.');
  assert.equal(validatePassword('12345678'), null);
  assert.equal(validatePassword('correct horse'), null);
  assert.equal(validatePassword('🦊'.repeat(7)), 'A password needs at least 8 characters.', '14 UTF-16 units, 7 characters');
  assert.equal(validatePassword('🦊'.repeat(8)), null);
  assert.equal(validatePassword('x'.repeat(1024)), null);
  assert.equal(validatePassword('x'.repeat(1025)), 'A password may have at most 1024 bytes.');
  assert.equal(validatePassword('é'.repeat(513)), 'A password may have at most 1024 bytes.', '2 bytes each');
});
