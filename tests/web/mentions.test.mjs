// @mentions in the browser (web/js/mentions.js): what is highlighted and notified, as the server
// counts it (src/core/mentions.hpp), and the composer's "@na" query.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mentions, mentionQuery } from '../../web/js/mentions.js';

test('mentions: @name in any case, NFKC-folded, ended by a space, punctuation or the end', () => {
  assert.equal(mentions('@ada', 'ada'), true);
  assert.equal(mentions('hi @ADA, look', 'ada'), true);
  assert.equal(mentions('hi @\uFF41\uFF44\uFF41', 'ada'), true);
  assert.equal(mentions('ping @Ada Lovelace now', 'Ada Lovelace'), true);
  assert.equal(mentions('hi @adam', 'ada'), false);
  assert.equal(mentions('mail ada@example.org', 'example.org'), false);
  assert.equal(mentions('hi ada', 'ada'), false);
  assert.equal(mentions('', 'ada'), false);
  assert.equal(mentions('@ada', ''), false);
});

test('mentions: only the first 16 "@"s are looked at', () => {
  assert.equal(mentions(`${'@x '.repeat(16)}@ada`, 'ada'), false);
  assert.equal(mentions(`@ada ${'@x '.repeat(16)}`, 'ada'), true);
});

test('mentionQuery: the @-word before the caret', () => {
  assert.deepEqual(mentionQuery('hi @ad', 6), { start: 3, query: 'ad' });
  assert.deepEqual(mentionQuery('@', 1), { start: 0, query: '' });
  assert.equal(mentionQuery('mail a@b', 8), null);
  assert.equal(mentionQuery('hi @ad there', 12), null);
});
