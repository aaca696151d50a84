// Unit tests of web/js/store.js: RoomState (messages merged by seq, members
// and presence, typing, unread, failed sends) and prefs (localStorage).
// Plain Node, no browser, no server. Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomState, prefs } from '../../web/js/store.js';

const T0 = Date.UTC(2024, 10, 23, 12, 0, 0); // a fixed "now"; the real clock is never used

let nextCid = 1;
const msg = (seq, from = 'ada', extra = {}) => ({ type: 'message', room: 'general', seq, from, text: `m${seq}`, ts: T0 + seq * 1000, cid: `c-${nextCid++}`, ...extra });
const seqs = (room) => room.sorted().map((m) => m.seq);

/** Deterministic PRNG (mulberry32) so a failing shuffle can be reproduced. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// ------------------------------------------------------------------ messages

test('a new room is empty: no messages, nothing known about history, nothing unread', () => {
  const room = new RoomState('general');
  assert.equal(room.name, 'general');
  assert.deepEqual(room.sorted(), []);
  assert.equal(room.oldestSeq, null);
  assert.equal(room.newestSeq, 0);
  assert.equal(room.hasMore, null);
  assert.equal(room.loaded, false);
  assert.equal(room.loadingOlder, false);
  assert.equal(room.joined, false);
  assert.equal(room.unread, 0);
  assert.deepEqual(room.memberList(), []);
  assert.deepEqual(room.typingUsers(T0), []);
  assert.equal(room.failed.size, 0);
});

test('add returns only the messages that were new; a repeated seq is dropped and the first copy kept', () => {
  const room = new RoomState('general');
  const a = msg(1);
  const b = msg(2);
  assert.deepEqual(room.add([a, b]), [a, b]);
  assert.deepEqual(room.add([b]), [], 'the live echo of a message already loaded by history');
  const impostor = msg(1, 'mallory', { text: 'changed' });
  assert.deepEqual(room.add([impostor, msg(3)]).map((m) => m.seq), [3]);
  assert.equal(room.messages.get(1), a, 'a later copy with the same seq does not replace the first');
  assert.deepEqual(seqs(room), [1, 2, 3]);
  assert.deepEqual(room.add([]), []);
});

test('add skips entries without a numeric seq (no crash, nothing half-added)', () => {
  const room = new RoomState('general');
  const added = room.add([
    { from: 'x', text: 'no seq', cid: 'c-a' },
    { seq: '4', from: 'x', text: 'string seq', cid: 'c-b' },
    { seq: null, from: 'x', cid: 'c-c' },
    msg(5),
  ]);
  assert.deepEqual(added.map((m) => m.seq), [5]);
  assert.deepEqual(seqs(room), [5]);
  assert.equal(room.cids.has('c-a') || room.cids.has('c-b') || room.cids.has('c-c'), false);
  assert.equal(room.members.has('x'), false);
});

test('history pages, live messages and a resume gap merge into one ascending list without duplicates', () => {
  const room = new RoomState('general');
  const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));
  room.add(range(51, 100));                    // newest page
  room.add([msg(101), msg(102)]);              // live
  room.add(range(99, 105));                    // resume gap overlapping what we have
  assert.deepEqual(room.add(range(1, 50)).length, 50); // scroll-back
  assert.deepEqual(seqs(room), range(1, 105).map((m) => m.seq));
  assert.equal(room.oldestSeq, 1);
  assert.equal(room.newestSeq, 105);
});

test('messages arriving in any order, with repeats, come out once each in seq order', () => {
  const random = rng(42);
  const room = new RoomState('general');
  const all = Array.from({ length: 500 }, (_, i) => msg(i + 1, `u${i % 7}`));
  const stream = [...all, ...all.filter(() => random() < 0.3)]; // ~150 repeats
  for (let i = stream.length - 1; i > 0; i--) { // Fisher-Yates
    const j = Math.floor(random() * (i + 1));
    [stream[i], stream[j]] = [stream[j], stream[i]];
  }
  let added = 0;
  for (let i = 0; i < stream.length; i += 13) {
    added += room.add(stream.slice(i, i + 13)).length;
    const s = seqs(room);
    assert.ok(s.every((v, k) => k === 0 || s[k - 1] < v), 'strictly ascending after every batch');
  }
  assert.equal(added, 500);
  assert.deepEqual(seqs(room), all.map((m) => m.seq));
  assert.equal(room.cids.size, 500);
});

test('sorted() reflects every add (its cache is dropped when something new arrives)', () => {
  const room = new RoomState('general');
  room.add([msg(10)]);
  const first = room.sorted();
  assert.equal(room.sorted(), first, 'no change: the same array');
  room.add([msg(10)]);
  assert.equal(room.sorted(), first, 'a duplicate changes nothing');
  room.add([msg(5)]);
  assert.deepEqual(seqs(room), [5, 10]);
  assert.equal(room.oldestSeq, 5);
  room.add([msg(20)]);
  assert.equal(room.newestSeq, 20);
});

test('seqs need not be contiguous; oldest and newest follow the loaded set', () => {
  const room = new RoomState('general');
  room.add([msg(1000), msg(7), msg(300)]);
  assert.deepEqual(seqs(room), [7, 300, 1000]);
  assert.equal(room.oldestSeq, 7);
  assert.equal(room.newestSeq, 1000);
});

test('isNewest: a seq at or above every loaded one', () => {
  const room = new RoomState('general');
  assert.equal(room.isNewest(1), true, 'anything is newest in an empty room');
  room.add([msg(3), msg(8)]);
  assert.equal(room.isNewest(8), true);
  assert.equal(room.isNewest(9), true);
  assert.equal(room.isNewest(7), false);
});

test('cids of loaded messages are remembered, so a pending copy can be hidden once the real one arrives', () => {
  const room = new RoomState('general');
  room.add([msg(1, 'ada', { cid: 'c-abc-1' }), msg(2, 'bob', { cid: undefined })]);
  assert.equal(room.cids.has('c-abc-1'), true);
  assert.equal(room.cids.size, 1, 'a message without cid adds none');
});

test('clearMessages (truncated resume) forgets messages and history state but keeps members, unread, typing and failed sends', () => {
  const room = new RoomState('general');
  room.add([msg(1, 'bob'), msg(2, 'carol')]);
  room.hasMore = false;
  room.loaded = true;
  room.unread = 3;
  room.setTyping('bob', T0);
  room.failed.set('c-x', { text: 'hi', reason: 'Too long' });
  room.clearMessages();
  assert.deepEqual(room.sorted(), []);
  assert.equal(room.oldestSeq, null);
  assert.equal(room.newestSeq, 0);
  assert.equal(room.cids.size, 0);
  assert.equal(room.hasMore, null);
  assert.equal(room.loaded, false);
  assert.equal(room.unread, 3);
  assert.deepEqual(room.typingUsers(T0), ['bob']);
  assert.equal(room.failed.size, 1);
  assert.deepEqual(room.memberList().map((m) => m.name), ['bob', 'carol']);
  // The same seqs can be loaded again afterwards.
  assert.equal(room.add([msg(1, 'bob')]).length, 1);
});

// ------------------------------------------------------------------- members

// ------------------------------------------------------------------ a window back in history

const range = (from, to, extra) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i, 'ada', extra));

test('a window back in history replaces the messages; live ones wait outside it until its pages reach them', () => {
  const room = new RoomState('general');
  room.add(range(951, 1000));
  room.hasMore = true;
  room.loaded = true;
  // A search hit at seq 100: a page of 50 entries up to 125, the newest known 1000.
  room.showWindow(range(76, 125), 125, true, 1000);
  assert.equal(room.hasNewer, true);
  assert.equal(room.windowTop, 125);
  assert.equal(room.hasMore, true);
  assert.deepEqual([room.oldestSeq, room.newestSeq], [76, 125]);
  // A live message is new (counted, notified) but not in the list: shown after 125 it would
  // read as the next one.
  assert.equal(room.add([msg(1001, 'bob')]).length, 1);
  assert.equal(room.add([msg(1001, 'bob')]).length, 0, 'a repeat is still a repeat');
  assert.equal(room.newestSeq, 125);
  // An edit of it meanwhile is kept for when it is shown.
  room.change({ kind: 'edit', target: 1001, text: 'fixed', ts: T0, seq: 1002 });
  // Newer pages extend the window; it stays one until it reaches the newest known.
  assert.equal(room.extendWindow(range(126, 175), 175, 1002), false);
  assert.deepEqual([room.oldestSeq, room.newestSeq, room.messages.size], [76, 175, 100]);
  // The last page reaches 1002 (the read may or may not have held 1001: it arrived during it).
  assert.equal(room.extendWindow(range(176, 1000), 1002, 1002), true);
  assert.equal(room.hasNewer, false);
  assert.equal(room.arrived.size, 0);
  assert.deepEqual(seqs(room), Array.from({ length: 926 }, (_, i) => 76 + i));
  assert.equal(room.messages.get(1001).text, 'fixed');
  // From now on live messages are the list's again.
  room.add([msg(1003)]);
  assert.equal(room.newestSeq, 1003);
});

test('a window that reaches the newest known at once is the list; clearMessages ends a window', () => {
  const room = new RoomState('general');
  room.showWindow(range(1, 40), 50, false, 40);
  assert.equal(room.hasNewer, false);
  room.add([msg(41)]);
  assert.equal(room.newestSeq, 41);
  room.showWindow(range(1, 10), 10, false, 41);
  room.add([msg(42)]);
  assert.equal(room.arrived.size, 1);
  room.clearMessages();
  assert.deepEqual([room.hasNewer, room.windowTop, room.arrived.size, room.loaded], [false, 0, 0, false]);
});

test('live messages kept outside a window are bounded: the oldest go first', () => {
  const room = new RoomState('general');
  room.showWindow(range(1, 50), 50, false, 60);
  for (let seq = 61; seq <= 1260; seq++) room.add([msg(seq)]);
  assert.equal(room.arrived.size, 1000);
  assert.equal(room.arrived.keys().next().value, 261);
  assert.equal(room.messages.size, 50);
});

test('authors of loaded messages become members, offline until presence says otherwise', () => {
  const room = new RoomState('general');
  room.setMembers(['bob'], 'ada');
  room.add([msg(1, 'bob'), msg(2, 'zed')]);
  assert.deepEqual(room.memberList(), [
    { name: 'ada', online: true },
    { name: 'bob', online: true },  // a message does not mark an online member offline
    { name: 'zed', online: false },
  ]);
});

test('setMembers (on every joined) replaces who is online; me is always online; others stay listed offline', () => {
  const room = new RoomState('general');
  room.add([msg(1, 'old')]);
  room.setMembers(['bob', 'carol'], 'ada');
  assert.deepEqual(room.memberList().filter((m) => m.online).map((m) => m.name), ['ada', 'bob', 'carol']);
  // A reconnect: carol has gone meanwhile, dave came, the server's list does not include us yet.
  room.setMembers(['bob', 'dave'], 'ada');
  assert.deepEqual(room.memberList(), [
    { name: 'ada', online: true },
    { name: 'bob', online: true },
    { name: 'dave', online: true },
    { name: 'carol', online: false },
    { name: 'old', online: false },
  ]);
  room.setMembers([], null);
  assert.ok(room.memberList().every((m) => !m.online), 'no me (not signed in yet): nobody online');
});

test('presence: joined marks online, left marks offline and ends typing; unknown users are added', () => {
  const room = new RoomState('general');
  room.presence('bob', 'joined');
  assert.deepEqual(room.memberList(), [{ name: 'bob', online: true }]);
  room.setTyping('bob', T0);
  room.presence('bob', 'joined'); // repeated
  assert.deepEqual(room.typingUsers(T0), ['bob'], 'joined again does not end typing');
  room.presence('bob', 'left');
  assert.deepEqual(room.memberList(), [{ name: 'bob', online: false }]);
  assert.deepEqual(room.typingUsers(T0), []);
  room.presence('carol', 'left'); // left without ever being seen
  assert.deepEqual(room.memberList().map((m) => m.name), ['bob', 'carol']);
  room.presence('bob', 'joined');
  assert.deepEqual(room.memberList()[0], { name: 'bob', online: true });
});

test('memberList: online first, then by name, case-insensitively', () => {
  const room = new RoomState('general');
  for (const name of ['zoe', 'Bob', 'amy', 'Carl', 'ben']) room.presence(name, 'left');
  room.presence('zoe', 'joined');
  room.presence('Carl', 'joined');
  assert.deepEqual(room.memberList().map((m) => `${m.name}:${m.online ? 'on' : 'off'}`),
    ['Carl:on', 'zoe:on', 'amy:off', 'ben:off', 'Bob:off']);
});

// -------------------------------------------------------------------- typing

test('typing lasts 5 s after the last event: shown at 4999 ms, gone at 5000 ms', () => {
  const room = new RoomState('general');
  room.setTyping('bob', T0);
  assert.deepEqual(room.typingUsers(T0 + 4999), ['bob']);
  assert.deepEqual(room.typingUsers(T0 + 5000), []);
  assert.equal(room.typing.size, 0, 'expired entries are dropped, not just hidden');
});

test('a new typing event extends the window; several typists keep their order', () => {
  const room = new RoomState('general');
  room.setTyping('bob', T0);
  room.setTyping('carol', T0 + 1000);
  room.setTyping('bob', T0 + 3000);
  assert.deepEqual(room.typingUsers(T0 + 5500), ['bob', 'carol']);
  assert.deepEqual(room.typingUsers(T0 + 6000), ['bob'], 'carol expired at T0+6000');
  assert.deepEqual(room.typingUsers(T0 + 7999), ['bob']);
  assert.deepEqual(room.typingUsers(T0 + 8000), []);
});

test('stopTyping (their message arrived) reports whether they were typing', () => {
  const room = new RoomState('general');
  room.setTyping('bob', T0);
  assert.equal(room.stopTyping('bob'), true);
  assert.equal(room.stopTyping('bob'), false);
  assert.equal(room.stopTyping('nobody'), false);
  assert.deepEqual(room.typingUsers(T0), []);
});

// --------------------------------------------------------------------- prefs

/**
 * Put a localStorage on globalThis for the length of one test (Node 20 has
 * none; newer Node may have its own, which is put back afterwards).
 */
function withLocalStorage(t, storage) {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'localStorage');
  Object.defineProperty(globalThis, 'localStorage', { value: storage, configurable: true, writable: true });
  t.after(() => {
    if (saved) Object.defineProperty(globalThis, 'localStorage', saved);
    else delete globalThis.localStorage;
  });
}

function memoryStorage() {
  const data = new Map();
  return {
    data,
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => { data.set(k, String(v)); },
    removeItem: (k) => { data.delete(k); },
  };
}

test('prefs store JSON under "parley.<key>" and read it back; missing keys give the fallback', (t) => {
  const storage = memoryStorage();
  withLocalStorage(t, storage);
  prefs.set('rooms', ['general', 'café ☕']);
  prefs.set('read', { general: 12 });
  prefs.set('name', 'ada');
  assert.equal(storage.data.get('parley.rooms'), '["general","café ☕"]');
  assert.deepEqual(prefs.get('rooms', []), ['general', 'café ☕']);
  assert.deepEqual(prefs.get('read', {}), { general: 12 });
  assert.equal(prefs.get('name'), 'ada');
  assert.equal(prefs.get('active'), null);
  assert.equal(prefs.get('active', 'general'), 'general');
  prefs.remove('name');
  assert.equal(storage.data.has('parley.name'), false);
  assert.equal(prefs.get('name', 'none'), 'none');
  assert.equal(prefs.get('rooms', []).length, 2, 'remove touches only its key');
});

test('prefs: a value that is not JSON (edited by hand, another app) gives the fallback', (t) => {
  const storage = memoryStorage();
  withLocalStorage(t, storage);
  storage.setItem('parley.read', '{broken');
  storage.setItem('parley.name', 'ada'); // not quoted
  assert.deepEqual(prefs.get('read', {}), {});
  assert.equal(prefs.get('name', null), null);
});

test('prefs never throw when storage is unavailable (private mode, disabled, quota exceeded)', (t) => {
  const boom = () => { throw new Error('SecurityError'); };
  withLocalStorage(t, { getItem: boom, setItem: boom, removeItem: boom });
  assert.deepEqual(prefs.get('rooms', ['general']), ['general']);
  assert.doesNotThrow(() => prefs.set('rooms', ['x']));
  assert.doesNotThrow(() => prefs.remove('rooms'));
});

test('prefs work without any localStorage global (plain Node): the fallback, no throw', (t) => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'localStorage');
  if (saved) {
    delete globalThis.localStorage;
    t.after(() => Object.defineProperty(globalThis, 'localStorage', saved));
  }
  assert.equal(typeof globalThis.localStorage, 'undefined');
  assert.equal(prefs.get('name', 'fallback'), 'fallback');
  assert.doesNotThrow(() => prefs.set('name', 'ada'));
  assert.doesNotThrow(() => prefs.remove('name'));
});

// ------------------------------------------------------------ edits and deletes

test('edits and deletes change the message they name, in any arrival order, and are never shown', () => {
  const edit = (seq, target, text) => ({ type: 'edit', room: 'general', seq, target, from: 'ada', text, ts: T0 + seq * 1000 });
  const del = (seq, target) => ({ type: 'delete', room: 'general', seq, target, from: 'ada', ts: T0 + seq * 1000 });
  // Live: the message, then its edits, then a delete; an edit after the delete changes nothing.
  const live = new RoomState('general');
  live.add([msg(1), msg(2)]);
  assert.equal(live.change({ ...edit(3, 1, 'first edit'), kind: 'edit' }).text, 'first edit');
  live.add([edit(4, 1, 'second edit')]);
  assert.deepEqual(seqs(live), [1, 2]);
  assert.equal(live.messages.get(1).text, 'second edit');
  assert.equal(live.messages.get(1).edited, T0 + 4000);
  live.add([del(5, 2), edit(6, 2, 'too late')]);
  assert.equal(live.messages.get(2).deleted, true);
  assert.equal(live.messages.get(2).text, '');
  // A history page: the message as it is now and the changes (with kind), an older page later.
  const paged = new RoomState('general');
  paged.add([{ ...edit(4, 1, 'second edit'), kind: 'edit', type: undefined }, { ...del(5, 2), kind: 'delete', type: undefined }]);
  assert.deepEqual(seqs(paged), []);
  paged.add([msg(1, 'ada', { text: 'second edit', edited: T0 + 4000 }), msg(2, 'ada', { text: '', deleted: true })]);
  // The older edit, seen after the newer one, does not win.
  paged.add([{ ...edit(3, 1, 'first edit'), kind: 'edit', type: undefined }]);
  assert.equal(paged.messages.get(1).text, 'second edit');
  assert.equal(paged.messages.get(2).deleted, true);
});

// ------------------------------------------------------------------ reactions

test('reactions: react and unreact change their message once per user and emoji, in any arrival order; a delete drops them', () => {
  const op = (type, seq, target, emoji, from, uid) => ({ type, room: 'general', seq, target, emoji, from, uid, ts: T0 + seq * 1000 });
  const shown = (m) => (m.reactions ?? []).map((r) => `${r.emoji}${r.count}:${r.users.map((u) => u.from).join(',')}`);
  // Live: two users, one twice (idempotent), one taken back.
  const live = new RoomState('general');
  live.add([msg(1), msg(2)]);
  live.add([op('react', 3, 1, '👍', 'bob', 'u_2'), op('react', 4, 1, '👍', 'bob', 'u_2'), op('react', 5, 1, '👍', 'cy', 'g_9')]);
  live.add([op('react', 6, 1, '🎉', 'bob', 'u_2'), op('unreact', 7, 1, '👍', 'bob', 'u_2')]);
  assert.deepEqual(seqs(live), [1, 2], 'reactions are not shown as messages');
  assert.deepEqual(shown(live.messages.get(1)), ['👍1:cy', '🎉1:bob']);
  // A guest is its name: another connection (another g_ id) of cy takes cy's back.
  live.add([op('unreact', 8, 1, '👍', 'cy', 'g_other')]);
  assert.deepEqual(shown(live.messages.get(1)), ['🎉1:bob']);
  // A delete drops them.
  live.add([{ type: 'delete', room: 'general', seq: 9, target: 1, from: 'ada', ts: T0 }]);
  assert.deepEqual(shown(live.messages.get(1)), []);

  // A history page: the message as it is now and the entries (kind), then its older page; an
  // older entry seen after a newer one of the same user and emoji does not win.
  const paged = new RoomState('general');
  paged.add([{ ...op('unreact', 7, 1, '👍', 'bob', 'u_2'), kind: 'unreact', type: undefined }]);
  paged.add([msg(1, 'ada', { reactions: [{ emoji: '🎉', count: 1, users: [{ from: 'bob', uid: 'u_2' }] }] })]);
  paged.add([{ ...op('react', 3, 1, '👍', 'bob', 'u_2'), kind: 'react', type: undefined }]);
  assert.deepEqual(shown(paged.messages.get(1)), ['🎉1:bob']);
});
