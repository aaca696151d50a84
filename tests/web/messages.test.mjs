// Unit tests of web/js/ui/messages.js: how one message is shown. A fake DOM; plain Node.
// Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installFakeDom } from './fake-dom.mjs';

installFakeDom();
const { messageNode, refreshTimes, excerpt } = await import('../../web/js/ui/messages.js');

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

test('a message\'s time is relative at first; refreshTimes updates it and the day labels in place', () => {
  const now = base.ts + 30_000;
  const list = document.createElement('ul');
  const sep = document.createElement('li');
  sep.className = 'day-sep';
  sep.dataset.ts = String(base.ts);
  const label = document.createElement('span');
  label.append('Today');
  sep.append(label);
  const li = messageNode({ ...base, from: 'bob', uid: 'u_2' }, me, null, false, now);
  list.append(sep, li);
  const [time] = list.querySelectorAll('time.time[data-ts]');
  assert.equal(time.textContent, 'just now');
  assert.match(time.getAttribute('datetime'), /^2026-01-02T10:00:00/);
  assert.ok(time.getAttribute('title').length > 10, 'the full date in the title');

  refreshTimes(list, base.ts + 5 * 60e3);
  assert.equal(list.querySelectorAll('time.time[data-ts]')[0], time, 'the same node');
  assert.equal(time.textContent, '5 min');
  assert.equal(label.textContent, 'Today');
  refreshTimes(list, base.ts + 86400e3);
  assert.notEqual(time.textContent, '5 min');
  assert.doesNotMatch(time.textContent, /min|now/);
  assert.equal(label.textContent, 'Yesterday');
  assert.equal(list.children.length, 2, 'nothing added or removed');
});

test('message text is rendered as Markdown (markdown.js), as text nodes and elements', () => {
  const li = messageNode({ ...base, from: 'bob', uid: 'u_2', text: '**hi** <b>x</b>' }, me, null);
  const text = find(li, 'text');
  assert.equal(text.children[0].tagName, 'STRONG');
  assert.equal(text.textContent, 'hi <b>x</b>');
});

test('React and Reply on any message; Edit and Delete on one\'s own; Delete on another\'s for a moderator; none on a deleted one', () => {
  const actions = (node) => (find(node, 'msg-actions')?.children ?? []).map((b) => b.textContent);
  assert.deepEqual(actions(messageNode({ ...base, from: 'ada', uid: 'u_1' }, me, null)), ['React', 'Reply', 'Edit', 'Delete']);
  assert.deepEqual(actions(messageNode({ ...base, from: 'bob', uid: 'u_2' }, me, null)), ['React', 'Reply']);
  assert.deepEqual(actions(messageNode({ ...base, from: 'bob', uid: 'u_2' }, me, null, true)), ['React', 'Reply', 'Delete']);
  assert.deepEqual(actions(messageNode({ ...base, from: 'ada', uid: 'u_1', deleted: true, text: '' }, me, null, true)), []);
});

test('an edited message says "(edited)"; a deleted one "message deleted"', () => {
  const edited = messageNode({ ...base, from: 'bob', uid: 'u_2', text: 'new text', edited: base.ts + 1000 }, me, null);
  assert.match(find(edited, 'text').textContent, /^new text \(edited\)$/);
  const gone = messageNode({ ...base, from: 'bob', uid: 'u_2', text: '', deleted: true }, me, null);
  assert.equal(find(gone, 'text').textContent, 'message deleted');
});

test('reactions are chips with their count, who reacted in the tooltip, and one\'s own pressed', () => {
  const li = messageNode({
    ...base, from: 'bob', uid: 'u_2',
    reactions: [{ emoji: '👍', count: 2, users: [{ from: 'bob', uid: 'u_2' }, { from: 'ada', uid: 'u_1' }] }, { emoji: '🎉', count: 1, users: [{ from: 'cy' }] }],
  }, me, null);
  const chips = find(li, 'reactions').children;
  assert.equal(chips.length, 2);
  assert.equal(chips[0].textContent, '👍2');
  assert.equal(chips[0].getAttribute('title'), 'Reacted by bob, ada');
  assert.equal(chips[0].getAttribute('aria-pressed'), 'true');
  assert.equal(chips[1].getAttribute('aria-pressed'), 'false');
  assert.equal(find(messageNode({ ...base, from: 'bob', uid: 'u_2', deleted: true, text: '', reactions: [] }, me, null), 'reactions'), null);
});

test('a reply quotes the message it answers (author and excerpt, or deleted), or says it is an earlier one', () => {
  const answered = { ...base, seq: 3, from: 'bob', uid: 'u_2', text: 'ship it?\nsecond line' };
  const quote = (q) => find(messageNode({ ...base, reply_to: 3, from: 'ada', uid: 'u_1' }, me, null, false, Date.now(), () => q), 'reply-quote');
  assert.equal(quote(answered).textContent, 'bobship it?');
  assert.equal(quote(answered).dataset.seq, '3');
  assert.equal(quote({ ...answered, deleted: true, text: '' }).textContent, 'bobmessage deleted');
  assert.equal(quote(null).textContent, 'an earlier message');
  assert.equal(find(messageNode({ ...base, from: 'ada', uid: 'u_1' }, me, null), 'reply-quote'), null);
  assert.equal(excerpt('x'.repeat(100), 10), `${'x'.repeat(9)}…`);
});
