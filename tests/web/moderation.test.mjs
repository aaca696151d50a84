// Unit tests of web/js/moderation.js: who the page offers what (the server still decides), and
// the sentences for the server's answers to joins and moderation requests.
// Plain Node, no browser. Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canModerate, canInvite, canSetRoles, canConfigure, roleSentence, removalNotice, doneText, actionErrorText, needsPassword, joinErrorText,
} from '../../web/js/moderation.js';

test('roles: the owner and moderators moderate, the owner sets roles, a private room\'s members invite', () => {
  assert.deepEqual(['owner', 'moderator', 'member', null, undefined, 'admin'].map(canModerate), [true, true, false, false, false, false]);
  assert.deepEqual(['owner', 'moderator', 'member', null].map(canSetRoles), [true, false, false, false]);
  assert.equal(canInvite({ private: true, role: 'member' }), true);
  assert.equal(canInvite({ private: true, role: 'owner' }), true);
  assert.equal(canInvite({ private: true, role: null }), false, 'no role: not a member');
  assert.equal(canInvite({ private: false, role: 'owner' }), false, 'a public room needs no invitation');
  assert.equal(canInvite(null), false);
});

test('roleSentence says the role, and what a visitor is', () => {
  assert.equal(roleSentence('club', 'owner'), 'You are the owner of #club.');
  assert.equal(roleSentence('club', 'moderator'), 'You are a moderator of #club.');
  assert.equal(roleSentence('club', 'member'), 'You are a member of #club.');
  assert.match(roleSentence('general', null), /^You are in #general as a visitor/);
});

test('removalNotice: removed or banned, by whom when the server says', () => {
  assert.equal(removalNotice({ room: 'club', user: 'bob', by: 'ada', banned: false }), 'You were removed from #club by ada.');
  assert.equal(removalNotice({ room: 'club', user: 'bob', by: 'ada', banned: true }), 'You were banned from #club by ada.');
  assert.equal(removalNotice({ room: 'club', user: 'bob' }), 'You were removed from #club.', 'another node\'s event has no by');
  assert.equal(removalNotice({ room: 'club', user: 'bob', by: 'Bob' }), 'You left #club.', 'removed by oneself: left for good');
});

test('canConfigure: the owner alone renames, sets the topic and deletes', () => {
  assert.equal(canConfigure('owner'), true);
  for (const role of ['moderator', 'member', null, undefined]) assert.equal(canConfigure(role), false);
});

test('doneText for each answer', () => {
  assert.equal(doneText({ type: 'invited', room: 'club', user: 'eve' }), 'eve is invited to #club.');
  assert.equal(doneText({ type: 'removed', room: 'club', user: 'eve', banned: false }), 'eve was removed from #club.');
  assert.equal(doneText({ type: 'removed', room: 'club', user: 'eve', banned: true }), 'eve was banned from #club.');
  assert.equal(doneText({ type: 'unbanned', room: 'club', user: 'eve' }), 'eve may come back to #club.');
  assert.equal(doneText({ type: 'role', room: 'club', user: 'eve', role: 'moderator' }), 'eve is now a moderator of #club.');
  assert.equal(doneText({ type: 'role', room: 'club', user: 'eve', role: 'member' }), 'eve is now a member of #club.');
});

test('actionErrorText: forbidden is a clear sentence with the server\'s reason; waits are in seconds', () => {
  assert.equal(actionErrorText({ code: 'forbidden', message: 'only the owner changes roles' }),
    'You are not allowed to do that here: only the owner changes roles.');
  assert.equal(actionErrorText({ code: 'forbidden' }), 'You are not allowed to do that here: not allowed in this room.');
  assert.equal(actionErrorText({ code: 'no_such_user', message: 'no such account' }), 'There is no account of that name.');
  assert.equal(actionErrorText({ code: 'rate_limited', retryAfterMs: 1200 }), 'Too many requests. Try again in 2 s.');
  assert.equal(actionErrorText({ code: 'rate_limited', event: { retry_after_ms: 10 } }), 'Too many requests. Try again in 1 s.');
  assert.equal(actionErrorText({ code: 'disconnected' }), 'Not connected. Try again in a moment.');
  assert.equal(actionErrorText({ code: 'bad_request', message: 'role must be "moderator" or "member"' }), 'Role must be "moderator" or "member".');
});

test('needsPassword: only the forbidden that a password would open', () => {
  assert.equal(needsPassword({ code: 'forbidden', message: 'a private room: join with its password, or be invited' }), true);
  assert.equal(needsPassword({ code: 'forbidden', message: 'a private room: its members invite who may join' }), false);
  assert.equal(needsPassword({ code: 'forbidden', message: 'you are banned from this room' }), false);
  assert.equal(needsPassword({ code: 'forbidden', message: 'a private room: sign in to join it' }), false);
  assert.equal(needsPassword({ code: 'bad_password', message: 'wrong password for this room' }), false);
  assert.equal(needsPassword(undefined), false);
});

test('joinErrorText: wrong password, the wait, and why a private room is out of reach', () => {
  assert.equal(joinErrorText({ code: 'bad_password', message: 'wrong password for this room' }, 'club'), 'Wrong password.');
  assert.equal(joinErrorText({ code: 'rate_limited', retryAfterMs: 30000 }, 'club'), 'Too many attempts. Try again in 30 s.');
  assert.equal(joinErrorText({ code: 'rate_limited' }, 'club'), 'Too many attempts. Try again later.');
  assert.equal(joinErrorText({ code: 'forbidden', message: 'you are banned from this room' }, 'club'), 'You are banned from #club.');
  assert.equal(joinErrorText({ code: 'forbidden', message: 'a private room: sign in to join it' }, 'club'), '#club is private: sign in to join it.');
  assert.equal(joinErrorText({ code: 'forbidden', message: 'a private room: its members invite who may join' }, 'club'), '#club is private: ask a member to invite you.');
  assert.match(joinErrorText({ code: 'forbidden', message: 'a private room: join with its password, or be invited' }, 'club'), /join with its password/);
  assert.equal(joinErrorText({ code: 'no_such_room' }, 'club'), 'There is no room #club.');
});
