// Unit tests of web/js/ui/messages.js: how one message is shown. A fake DOM; plain Node.
// Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installFakeDom } from './fake-dom.mjs';

installFakeDom();
const { messageNode } = await import('../../web/js/ui/messages.js');

function find(el, cls) {
  if (el.className?.split(' ').includes(cls)) return el;
  for (const c of el.children ?? []) {
    const hit = find(c, cls);
    if (hit) return hit;
  }
  return null;
}

const me = { from: 'ada', uid: 'u_1' };
const base = { room: 'general', seq: 7, text: 'deploy finished', ts: Date.UTC(2026, 0, 2, 10, 0) };

test('a bot\'s message (the server API\'s, "bot":true) is tagged as a bot\'s, whatever its name', () => {
  const bot = messageNode({ ...base, from: 'CI', uid: 'b_CI', bot: true }, me, null);
  const tag = find(bot, 'bot-tag');
  assert.ok(tag, 'no bot tag');
  assert.equal(tag.textContent, 'bot');
  assert.match(find(bot, 'from').textContent, /^CI/);
});

test('a person\'s message has no bot tag, nor does a message that only claims a bot-like name', () => {
  assert.equal(find(messageNode({ ...base, from: 'bob', uid: 'u_2' }, me, null), 'bot-tag'), null);
  assert.equal(find(messageNode({ ...base, from: 'bot', uid: 'g_1' }, me, null), 'bot-tag'), null);
  assert.equal(find(messageNode({ ...base, from: 'CI', uid: 'b_CI', bot: 'yes' }, me, null), 'bot-tag'), null);
});

test('Edit and Delete on one\'s own message; Delete only on another\'s for a moderator; none on a deleted one', () => {
  const actions = (node) => (find(node, 'msg-actions')?.children ?? []).map((b) => b.textContent);
  assert.deepEqual(actions(messageNode({ ...base, from: 'ada', uid: 'u_1' }, me, null)), ['Edit', 'Delete']);
  assert.deepEqual(actions(messageNode({ ...base, from: 'bob', uid: 'u_2' }, me, null)), []);
  assert.deepEqual(actions(messageNode({ ...base, from: 'bob', uid: 'u_2' }, me, null, true)), ['Delete']);
  assert.deepEqual(actions(messageNode({ ...base, from: 'ada', uid: 'u_1', deleted: true, text: '' }, me, null, true)), []);
});

test('an edited message says "(edited)"; a deleted one "message deleted"', () => {
  const edited = messageNode({ ...base, from: 'bob', uid: 'u_2', text: 'new text', edited: base.ts + 1000 }, me, null);
  assert.match(find(edited, 'text').textContent, /^new text \(edited\)$/);
  const gone = messageNode({ ...base, from: 'bob', uid: 'u_2', text: '', deleted: true }, me, null);
  assert.equal(find(gone, 'text').textContent, 'message deleted');
});
