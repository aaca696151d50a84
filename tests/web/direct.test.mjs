// Unit tests of web/js/direct.js (direct conversations in people's words) and of what
// store.js's RoomState knows of one: its id says it is a conversation, its label is the other's
// name and never the id, and the uids of senders tell a guest.
// Plain Node, no browser, no server. Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDirectRoom, isGuestUid, canMessage, conversationTitle, dmErrorText, GUEST_REASON } from '../../web/js/direct.js';
import { RoomState } from '../../web/js/store.js';

const DM = 'dm-5f0c2a9e1b7d3c4a8e6f0b21';

test('isGuestUid: g_ ids are guests\', accounts\' and unknown ones are not', () => {
  assert.equal(isGuestUid('g_8d1e5b7a2c4f9036'), true);
  assert.equal(isGuestUid('u_5f0c2a9e1b7d4c3a8e6f0b2d9c1a7e4f'), false);
  assert.equal(isGuestUid('x_user-42'), false, 'an account of the site\'s JWT');
  assert.equal(isGuestUid(undefined), false, 'not known: offered, and the server decides');
});

test('canMessage: an account, someone else, not a known guest, not inside a conversation', () => {
  const base = { name: 'bob', me: 'ada', signedIn: true };
  assert.equal(canMessage(base), true);
  assert.equal(canMessage({ ...base, uid: 'u_1' }), true);
  assert.equal(canMessage({ ...base, signedIn: false }), false, 'a guest holds no conversation');
  assert.equal(canMessage({ ...base, name: 'ada' }), false, 'not oneself');
  assert.equal(canMessage({ ...base, name: 'ADA' }), false, 'not oneself, in any case');
  assert.equal(canMessage({ ...base, uid: 'g_8d1e5b7a2c4f9036' }), false, 'a guest\'s name');
  assert.equal(canMessage({ ...base, inDirect: true }), false, 'inside a conversation already');
  assert.equal(canMessage({ ...base, name: '' }), false);
});

test('conversationTitle: the other\'s name, or a placeholder, never an id', () => {
  assert.equal(conversationTitle('bob'), 'bob');
  assert.equal(conversationTitle(null), 'Direct message');
  assert.equal(conversationTitle(''), 'Direct message');
});

test('dmErrorText: each refusal in a sentence', () => {
  assert.equal(dmErrorText({ code: 'no_such_user', message: 'no account of that name' }), 'There is no account of that name.');
  assert.equal(dmErrorText({ code: 'forbidden', message: 'sign in to talk with someone directly' }), GUEST_REASON);
  assert.match(GUEST_REASON, /^Sign in .*guests cannot/);
  assert.equal(dmErrorText({ code: 'bad_request', message: 'that is you' }), 'That is you: choose someone else.');
  assert.equal(dmErrorText({ code: 'bad_name', message: 'A name cannot contain control characters' }), 'That is not a name: a name cannot contain control characters.');
  assert.equal(dmErrorText({ code: 'rate_limited', retryAfterMs: 1500 }), 'Too many new conversations. Try again in 2 s.');
  assert.equal(dmErrorText({ code: 'rate_limited' }), 'Too many new conversations. Try again later.');
  for (const code of ['disconnected', 'closed', 'timeout']) assert.equal(dmErrorText({ code }), 'Not connected. Try again in a moment.');
  assert.equal(dmErrorText({ code: 'store_failed', message: 'the store failed' }), 'The store failed.');
  assert.equal(dmErrorText(undefined), 'Could not start the conversation.');
});

test('RoomState of a conversation: direct by its id, labelled by the other\'s name once known', () => {
  const dm = new RoomState(DM);
  assert.equal(isDirectRoom(DM), true);
  assert.equal(dm.direct, true);
  assert.equal(dm.label, 'Direct message', 'the id is never the label');
  dm.with = 'bob';
  assert.equal(dm.label, 'bob');
  const room = new RoomState('general');
  assert.equal(room.direct, false);
  assert.equal(room.label, '#general');
});

test('RoomState keeps the uid each sender\'s messages carry', () => {
  const room = new RoomState('general');
  room.add([
    { room: 'general', seq: 1, from: 'bob', uid: 'u_1', text: 'hi', ts: 1 },
    { room: 'general', seq: 2, from: 'gus', uid: 'g_8d1e5b7a2c4f9036', text: 'hey', ts: 2 },
    { room: 'general', seq: 3, from: 'old', text: 'from before uids', ts: 3 },
  ]);
  assert.equal(room.uids.get('bob'), 'u_1');
  assert.equal(isGuestUid(room.uids.get('gus')), true);
  assert.equal(room.uids.has('old'), false);
});
