// Unit tests of web/js/conversations.js: how the app keeps the user's direct conversations —
// joined as soon as known (the server's list, a created someone else began, a dm answer), named
// by the other account, refusals in words, dropped only when refused for good. A fake app and a
// fake client; plain Node. Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conversations } from '../../web/js/conversations.js';
import { RoomState } from '../../web/js/store.js';

const DM1 = 'dm-0000000000000000000000a1';
const DM2 = 'dm-0000000000000000000000b2';

// The sidebar list's bookkeeping (dms.js's DmList without its DOM).
function fakeList() {
  const names = new Map();
  return {
    names,
    learn(room, name) {
      if (typeof name !== 'string' || name === '' || names.get(room) === name) return false;
      names.set(room, name);
      return true;
    },
    forget: (room) => names.delete(room),
    has: (room) => names.has(room),
    nameOf: (room) => names.get(room) ?? null,
    toJSON: () => Object.fromEntries(names),
  };
}

function setup({ signedIn = true, client = {} } = {}) {
  const log = [];
  const rooms = new Map();
  const app = {
    client: () => client,
    signedIn: () => signedIn,
    me: () => 'bob',
    rooms,
    ensureRoom: (room) => { log.push(['join', room]); if (!rooms.has(room)) rooms.set(room, new RoomState(room)); },
    openRoom: (room) => log.push(['open', room]),
    dropRoom: (room) => { log.push(['drop', room]); rooms.delete(room); },
    relabel: (room) => log.push(['relabel', room]),
    render: () => log.push(['render']),
    tell: (text, options) => log.push(['tell', text, options?.quiet ?? false]),
  };
  const list = fakeList();
  return { dms: new Conversations(list, app), list, log, rooms };
}

test('a conversation someone else began: listed by their name and joined at once, announced once', () => {
  const { dms, list, log } = setup();
  dms.onCreated({ type: 'created', room: DM1, by: 'ada', direct: true });
  assert.equal(list.nameOf(DM1), 'ada');
  assert.ok(log.some(([what, room]) => what === 'join' && room === DM1));
  assert.deepEqual(log.filter(([what]) => what === 'tell'), [['tell', 'ada started a conversation with you.', true]]);
  dms.onCreated({ type: 'created', room: DM1, by: 'ada', direct: true });
  assert.equal(log.filter(([what]) => what === 'tell').length, 1, 'not announced twice');
});

test('one this account began in another session: whom it is with comes from the list', async () => {
  const asked = [];
  const client = { roomsPage: async (q) => { asked.push(q); return { rooms: [{ room: DM1, members: 1, last_seq: 0, direct: true, with: 'ada' }], next: null }; } };
  const { dms, list } = setup({ client });
  dms.onCreated({ type: 'created', room: DM1, by: 'BOB', direct: true });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [{ q: 'dm-', after: undefined }]);
  assert.equal(list.nameOf(DM1), 'ada');
});

test('refresh: the directory\'s conversations, page by page (five at most); rooms that only look like one are not', async () => {
  let calls = 0;
  const client = {
    roomsPage: async ({ after }) => {
      calls++;
      if (!after) return { rooms: [{ room: 'admin-dm-notes', members: 2, last_seq: 9 }, { room: DM1, members: 1, last_seq: 3, direct: true, with: 'ada' }], next: DM1 };
      return { rooms: [{ room: DM2, members: 0, last_seq: 0, direct: true, with: 'cy' }], next: `${after}x` };
    },
  };
  const { dms, list, log } = setup({ client });
  await dms.refresh();
  assert.equal(calls, 5);
  assert.deepEqual(list.toJSON(), { [DM1]: 'ada', [DM2]: 'cy' });
  assert.equal(log.some(([what, room]) => what === 'join' && room === 'admin-dm-notes'), false);
  assert.deepEqual(log.at(-1), ['render']);
});

test('refresh: a guest asks for nothing; a lost connection is no error', async () => {
  let calls = 0;
  const guest = setup({ signedIn: false, client: { roomsPage: async () => { calls++; return { rooms: [], next: null }; } } });
  await guest.dms.refresh();
  assert.equal(calls, 0);
  const offline = setup({ client: { roomsPage: async () => { throw Object.assign(new Error('not connected'), { code: 'disconnected' }); } } });
  await offline.dms.refresh();
});

test('learn: a joined conversation gets the name, and the shown one is relabelled', () => {
  const { dms, rooms, log } = setup();
  rooms.set(DM1, new RoomState(DM1));
  dms.learn(DM1, 'ada');
  assert.equal(rooms.get(DM1).label, 'ada');
  assert.deepEqual(log, [['relabel', DM1]]);
  dms.learn(DM1, 'ada');
  assert.equal(log.length, 1, 'nothing new, nothing done');
});

test('start: the dm answer is named, joined and opened; a refusal is a sentence and opens nothing', async () => {
  let answer = { type: 'dm', room: DM1, user: 'Ada' };
  const client = { dm: async (user) => { if (answer instanceof Error) throw answer; return { ...answer, asked: user }; } };
  const { dms, list, log } = setup({ client });
  assert.equal(await dms.start('ada'), null);
  assert.equal(list.nameOf(DM1), 'Ada', 'the server\'s spelling');
  assert.deepEqual(log.filter(([what]) => what === 'join' || what === 'open'), [['join', DM1], ['open', DM1]]);

  answer = Object.assign(new Error('no account of that name'), { code: 'no_such_user' });
  log.length = 0;
  assert.equal(await dms.start('nobody'), 'There is no account of that name.');
  await dms.message('nobody');
  assert.deepEqual(log, [['tell', 'There is no account of that name.', false]]);
});

test('joinFailed: forgotten when refused for good, kept (to try again) when refused for now', () => {
  const { dms, list, log } = setup();
  list.learn(DM1, 'ada');
  list.learn(DM2, 'cy');
  dms.joinFailed(DM1, { code: 'no_such_room', message: 'the room does not exist' });
  assert.equal(list.has(DM1), false);
  assert.deepEqual(log.slice(-2), [['tell', 'Could not open the conversation with ada: The room does not exist.', false], ['drop', DM1]]);
  dms.joinFailed(DM2, { code: 'store_failed', message: 'try again' });
  assert.equal(list.has(DM2), true);
  assert.deepEqual(log.at(-1), ['drop', DM2]);
});
