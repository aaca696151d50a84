// Unit tests of the pure parts of the trial's fixes (issue 17): the composer's over-the-limit
// sentence, a refused room creation in words (a taken name offered to open), the theme setting,
// and the user's own status by connection state. Plain Node, no browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overLimitText } from '../../web/js/ui/composer.js';
import { createRoomError } from '../../web/js/ui/rooms.js';
import { themeSetting, resolveTheme, THEMES } from '../../web/js/ui/theme.js';
import { statusText } from '../../web/js/ui/banner.js';

test('overLimitText: the length and the limit, with thousands separators', () => {
  assert.equal(overLimitText(4213, 4000), 'Message is 4,213 characters; the limit is 4,000');
  assert.equal(overLimitText(12001, 12000), 'Message is 12,001 characters; the limit is 12,000');
  assert.equal(overLimitText(501, 500), 'Message is 501 characters; the limit is 500');
});

test('createRoomError: a taken public name is offered to open; a taken private one is refused', () => {
  assert.deepEqual(createRoomError({ code: 'room_exists', message: 'room exists' }, 'design'),
    { message: '#design already exists.', open: 'design' });
  assert.equal(createRoomError({ code: 'room_exists' }, 'club', { private: true }), '#club already exists: choose another name.');
  assert.match(createRoomError({ code: 'bad_room' }, 'x y'), /not allowed/);
  assert.equal(createRoomError({ code: 'forbidden' }, 'club', { private: true }), 'Sign in to create a private room.');
  assert.equal(createRoomError({ code: 'disconnected' }, 'ops'), 'Not connected. Try again in a moment.');
  assert.equal(createRoomError({ code: 'rate_limited', message: 'too many rooms created' }, 'ops'), 'Too many rooms created.');
});

test('themeSetting and resolveTheme: system is the default and follows the system', () => {
  assert.deepEqual(THEMES, ['light', 'dark', 'system']);
  for (const v of [null, undefined, '', 'system', 'blue', 42, {}]) assert.equal(themeSetting(v), 'system', String(v));
  assert.equal(themeSetting('dark'), 'dark');
  assert.equal(themeSetting('light'), 'light');
  assert.equal(resolveTheme('system', true), 'dark');
  assert.equal(resolveTheme('system', false), 'light');
  assert.equal(resolveTheme(null, true), 'dark');
  assert.equal(resolveTheme('light', true), 'light');
  assert.equal(resolveTheme('dark', false), 'dark');
});

test('statusText: anything but connected is offline to the user', () => {
  assert.equal(statusText('connected'), 'Online');
  assert.equal(statusText('connecting'), 'Connecting…');
  assert.equal(statusText('offline'), 'Offline');
  assert.equal(statusText('closed'), 'Offline');
  assert.match(statusText('reconnecting'), /^Offline/);
  assert.equal(statusText('nonsense'), '');
});
