// End-to-end: a room's settings in the web UI (protocol.md "Room settings", client.md): the owner
// sets the title and topic, which another member sees in the header at once; an invitation lists
// the room for the invitee without a reload; the owner removes a member, whose list lets the room
// go; a member leaves a public room, which goes back to the browsable directory (and the others
// see them go); the owner deletes
// the room (confirmed in place) and it leaves the other member's list. Headless Chromium, a fresh
// server per test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, waitConnected, send, waitForTexts } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };
const person = (t, opts) => personFor(t, browser, opts);

async function register(page, url, name, password) {
  await page.goto(url);
  await page.locator('#join-screen').waitFor({ state: 'visible' });
  await page.getByRole('tab', { name: 'Create account' }).click();
  const form = page.getByRole('tabpanel', { name: 'Create account' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await waitConnected(page);
  await page.locator('#history-status:not(:has-text("Loading"))').waitFor({ state: 'attached' });
}

async function createRoom(page, name, { private: isPrivate = false } = {}) {
  await page.getByRole('button', { name: 'Create a room' }).click();
  await page.getByLabel('New room name').fill(name);
  if (isPrivate) await page.getByRole('checkbox', { name: 'Private' }).check();
  await page.locator('#create-room-form').getByRole('button', { name: 'Create' }).click();
  await page.locator('#room-name', { hasText: new RegExp(`^${name}$`) }).waitFor();
}

async function openSettings(page, room) {
  await page.getByRole('button', { name: `Settings of #${room}` }).click();
  const dialog = page.locator('#room-settings');
  await dialog.waitFor();
  return dialog;
}

async function invite(page, room, user) {
  const settings = await openSettings(page, room);
  await settings.getByLabel('Invite by name').fill(user);
  await settings.getByRole('button', { name: 'Invite' }).click();
  await settings.getByRole('status').filter({ hasText: `${user} is invited to #${room}.` }).waitFor();
  await settings.getByRole('button', { name: 'Close room settings' }).click();
  await settings.waitFor({ state: 'hidden' });
}

test('the owner sets a topic, removes a member and deletes the room; a member leaves', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await register(ada, server.url, 'ada', 'correct horse');
  await register(bob, server.url, 'bob', 'battery staple');

  // An invitation: bob's list shows the room at once, under his rooms, without a reload.
  await createRoom(ada, 'team', { private: true });
  await invite(ada, 'team', 'bob');
  await bob.locator('#room-notice', { hasText: 'You were invited to #team by ada.' }).waitFor();
  await bob.locator('#my-room-list button[data-room="team"]').click();
  await bob.locator('#room-name', { hasText: /^team$/ }).waitFor();
  await ada.locator('#member-list li[data-user="bob"]').waitFor();

  // The owner's title and topic: bob's header shows them as soon as they are saved.
  let settings = await openSettings(ada, 'team');
  await settings.getByLabel('Title').fill('The Team');
  await settings.getByLabel('Topic').fill('ship it on Friday');
  await settings.getByRole('button', { name: 'Save' }).click();
  await settings.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await bob.locator('#room-topic', { hasText: 'ship it on Friday' }).waitFor();
  await bob.locator('#room-display-title', { hasText: 'The Team' }).waitFor();
  await ada.locator('#room-topic', { hasText: 'ship it on Friday' }).waitFor();
  // A member sees no title form and no delete button; the server refuses them anyway.
  const bobSettings = await openSettings(bob, 'team');
  assert.equal(await bobSettings.getByLabel('Title').isVisible(), false);
  assert.equal(await bobSettings.getByRole('button', { name: 'Delete room…' }).isVisible(), false);
  // The roster: ada is the owner, and in the room.
  await bobSettings.locator('li[data-user="ada"]', { hasText: 'owner' }).waitFor();
  await bobSettings.locator('li[data-user="ada"]', { hasText: 'online' }).waitFor();
  await bobSettings.getByRole('button', { name: 'Close room settings' }).click();

  // The owner removes bob (confirmed in place): the room leaves his list, and he is told.
  await settings.locator('li[data-user="bob"]', { hasText: 'online' }).waitFor();
  await settings.getByRole('button', { name: 'Remove bob' }).click();
  await settings.getByRole('button', { name: 'Yes, remove' }).click();
  await settings.getByRole('status').filter({ hasText: 'bob was removed from #team.' }).waitFor();
  await settings.getByRole('button', { name: 'Close room settings' }).click();
  await bob.locator('#room-notice', { hasText: 'You were removed from #team by ada.' }).waitFor();
  await bob.locator('#room-name', { hasText: /^general$/ }).waitFor();
  await bob.locator('#room-list button[data-room="team"]').waitFor({ state: 'detached' });

  // Invited again, bob opens it again; then the owner deletes it, and it leaves bob's list.
  await invite(ada, 'team', 'bob');
  // Invited but not in it yet: the roster lists bob as an offline member.
  settings = await openSettings(ada, 'team');
  await settings.locator('li.offline[data-user="bob"]').waitFor();
  await settings.getByRole('button', { name: 'Close room settings' }).click();
  await bob.locator('#my-room-list button[data-room="team"]').click();
  await bob.locator('#room-name', { hasText: /^team$/ }).waitFor();
  await send(bob, 'back again');
  await waitForTexts(ada, ['back again']);
  settings = await openSettings(ada, 'team');
  await settings.getByRole('button', { name: 'Delete room…' }).click();
  await settings.getByRole('button', { name: 'Cancel' }).click();
  await settings.getByRole('button', { name: 'Delete room…' }).click();
  await settings.getByRole('button', { name: 'Yes, delete' }).click();
  await settings.waitFor({ state: 'hidden' });
  await ada.locator('#room-notice', { hasText: '#team was deleted by you.' }).waitFor();
  await bob.locator('#room-notice', { hasText: '#team was deleted by its owner ada.' }).waitFor();
  await bob.locator('#room-name', { hasText: /^general$/ }).waitFor();
  await bob.locator('#room-list button[data-room="team"]').waitFor({ state: 'detached' });
  await ada.locator('#room-list button[data-room="team"]').waitFor({ state: 'detached' });

  // A member leaves a public room: out of it (ada's member list loses bob), and the room goes
  // from bob's rooms back to the public ones.
  await createRoom(ada, 'lobby');
  await bob.locator('#directory-list button[data-room="lobby"]').click();
  await bob.locator('#room-name', { hasText: /^lobby$/ }).waitFor();
  await bob.locator('#my-room-list button[data-room="lobby"]').waitFor();
  await ada.locator('#member-list li.online[data-user="bob"]').waitFor();
  const leave = await openSettings(bob, 'lobby');
  await leave.getByRole('button', { name: 'Leave room' }).click();
  await bob.locator('#room-name', { hasText: /^general$/ }).waitFor();
  await bob.locator('#directory-list button[data-room="lobby"]').waitFor();
  // (The list keeps who spoke, offline: bob is no longer online there.)
  await ada.locator('#member-list li.online[data-user="bob"]').waitFor({ state: 'detached' });
  // Not joined again after a reload.
  await bob.reload();
  await waitConnected(bob);
  await bob.locator('#directory-list button[data-room="lobby"]').waitFor();
  assert.deepEqual(await bob.evaluate(() => window.parley.client.joinedRooms()), ['general']);

  // Leaving a private room is for good: bob gives up his place, the room leaves his list, and
  // the owner's roster no longer has him.
  await createRoom(ada, 'side', { private: true });
  await invite(ada, 'side', 'bob');
  await bob.locator('#my-room-list button[data-room="side"]').click();
  await bob.locator('#room-name', { hasText: /^side$/ }).waitFor();
  const sideSettings = await openSettings(bob, 'side');
  await sideSettings.getByRole('button', { name: 'Leave room' }).click();
  await bob.locator('#room-notice', { hasText: 'You left #side.' }).waitFor();
  await bob.locator('#room-list button[data-room="side"]').waitFor({ state: 'detached' });
  const adaSide = await openSettings(ada, 'side');
  await adaSide.getByText('No one else is here.').waitFor();
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});
