// End-to-end: private rooms and moderation in the web UI (protocol.md "Private rooms and
// moderation", client.md): a private room with a password, unlisted to strangers, joined by name
// through the password prompt; the owner bans from the settings panel and the banned user's UI
// lets the room go, told why; a guest cannot make a private room. Headless Chromium, a fresh
// server per test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, joinAs, send, waitForTexts, waitConnected } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

// Cheap password hashing (accounts and the room's password): the defaults cost a good part of a
// second per hash.
const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };

const person = (t, opts) => personFor(t, browser, opts);

async function register(page, url, name, password) {
  await page.goto(url);
  // The join screen shows once /api/me has answered; its own focus must land before ours.
  await page.locator('#join-screen').waitFor({ state: 'visible' });
  await page.getByRole('tab', { name: 'Create account' }).click();
  const form = page.getByRole('tabpanel', { name: 'Create account' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await waitConnected(page);
  await page.locator('#history-status:not(:has-text("Loading"))').waitFor({ state: 'attached' });
}

async function createRoom(page, name, { password } = {}) {
  await page.getByRole('button', { name: 'Create a room' }).click();
  await page.getByLabel('New room name').fill(name);
  if (password !== undefined) {
    await page.getByRole('checkbox', { name: 'Private' }).check();
    await page.getByLabel('Password (optional)').fill(password);
  }
  await page.locator('#create-room-form').getByRole('button', { name: 'Create' }).click();
  await page.locator('#room-name', { hasText: new RegExp(`^${name}$`) }).waitFor();
}

test('a private room: unlisted to strangers, joined with its password, and a ban takes it away', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await register(ada, server.url, 'ada', 'correct horse');
  await register(bob, server.url, 'bob', 'battery staple');

  // ada: a public room (for bob's list to show) and a private one with a password.
  await createRoom(ada, 'lobby');
  await createRoom(ada, 'club', { password: 'open sesame' });
  await ada.locator('#room-private').waitFor({ state: 'visible' });
  // The lock has words too: the room's button is named "club, private" (Chrome puts a space
  // before the comma, as for the unread count).
  await ada.getByRole('button', { name: /^club\s*, private$/ }).waitFor();

  // bob's list: lobby (a later refresh) but never club.
  await bob.reload();
  await waitConnected(bob);
  await bob.locator('#room-list button[data-room="lobby"]').waitFor();
  assert.equal(await bob.locator('#room-list button[data-room="club"]').count(), 0, 'a private room is not listed to a stranger');

  // bob joins it by name: asked for the password in a dialog that has the focus.
  await bob.getByLabel('Find a room').fill('club');
  await bob.getByRole('button', { name: 'Join #club' }).click();
  const dialog = bob.getByRole('dialog', { name: '#club is private' });
  await dialog.waitFor();
  await bob.waitForFunction(() => document.activeElement?.id === 'password-input');
  // Escape cancels; asking again opens it again.
  await bob.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await bob.getByRole('button', { name: 'Join #club' }).click();
  await dialog.waitFor();
  await bob.waitForFunction(() => document.activeElement?.id === 'password-input');
  // A wrong password is said so; the right one lets him in.
  await dialog.getByLabel('Room password').fill('not the password');
  await dialog.getByRole('button', { name: 'Join' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'Wrong password.' }).waitFor();
  assert.equal(await dialog.isVisible(), true);
  await dialog.getByLabel('Room password').fill('open sesame');
  await dialog.getByRole('button', { name: 'Join' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await bob.locator('#room-name', { hasText: /^club$/ }).waitFor();
  await bob.locator('#app[data-connection="connected"] #room-private').waitFor({ state: 'visible' });
  assert.equal(await bob.evaluate(() => JSON.stringify(window.parley.client.roomInfo('club'))), '{"private":true,"role":"member","title":"","topic":""}');

  // They chat.
  await send(bob, 'hello from bob');
  await waitForTexts(ada, ['hello from bob']);
  await send(ada, 'welcome, bob');
  await waitForTexts(bob, ['hello from bob', 'welcome, bob']);

  // bob's settings: a member invites, moderates nothing; refusals are said in place.
  await bob.getByRole('button', { name: 'Settings of #club' }).click();
  const bobSettings = bob.getByRole('dialog', { name: 'Settings of #club' });
  await bobSettings.getByText('You are a member of #club.').waitFor();
  assert.equal(await bobSettings.getByRole('button', { name: /^(Remove|Ban) / }).count(), 0);
  assert.equal(await bobSettings.getByLabel('Lift a ban (name)').isVisible(), false);
  await bobSettings.getByLabel('Invite by name').fill('nobody');
  await bobSettings.getByRole('button', { name: 'Invite' }).click();
  await bobSettings.getByRole('alert').filter({ hasText: 'There is no account of that name.' }).waitFor();
  await bobSettings.getByRole('button', { name: 'Close room settings' }).click();
  await bobSettings.waitFor({ state: 'hidden' });

  // ada bans bob from the settings panel, confirmed in place.
  await ada.locator('#member-list li[data-user="bob"]').waitFor();
  await ada.getByRole('button', { name: 'Settings of #club' }).click();
  const settings = ada.getByRole('dialog', { name: 'Settings of #club' });
  await settings.waitFor();
  await settings.getByText('You are the owner of #club.').waitFor();
  // The owner's first field is the room's title.
  assert.equal(await ada.evaluate(() => document.activeElement?.id), 'room-title-input', 'focus starts in the dialog');
  // The owner makes moderators, and members of them again.
  await settings.getByRole('button', { name: 'Make bob a moderator' }).click();
  await settings.getByRole('status').filter({ hasText: 'bob is now a moderator of #club.' }).waitFor();
  await settings.getByRole('button', { name: 'Make bob a member' }).click();
  await settings.getByRole('status').filter({ hasText: 'bob is now a member of #club.' }).waitFor();
  await settings.getByRole('button', { name: 'Ban bob' }).click();
  await settings.getByRole('button', { name: 'Yes, ban' }).click();
  await settings.getByRole('status').filter({ hasText: 'bob was banned from #club.' }).waitFor();
  assert.equal(await settings.getByRole('button', { name: 'Ban bob' }).count(), 0);

  // bob is told, back in #general, and club is gone from his list.
  await bob.locator('#room-notice', { hasText: 'You were banned from #club by ada.' }).waitFor();
  await bob.locator('#room-name', { hasText: /^general$/ }).waitFor();
  assert.equal(await bob.locator('#room-list button[data-room="club"]').count(), 0);
  assert.deepEqual(await bob.evaluate(() => window.parley.client.joinedRooms()), ['general']);
  // Banned, the password no longer opens it.
  await bob.getByRole('button', { name: 'Join #club' }).click();
  await bob.locator('#room-notice', { hasText: 'You are banned from #club.' }).waitFor();
  assert.equal(await bob.getByRole('dialog').count(), 0);

  // ada lifts the ban by name.
  await settings.getByLabel('Lift a ban (name)').fill('bob');
  await settings.getByRole('button', { name: 'Unban' }).click();
  await settings.getByRole('status').filter({ hasText: 'bob may come back to #club.' }).waitFor();
  await ada.keyboard.press('Escape');
  await settings.waitFor({ state: 'hidden' });

  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('a guest cannot create a private room: the box is disabled, with the reason', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { page } = await person(t);
  await joinAs(page, server.url, 'cy');
  await page.getByRole('button', { name: 'Create a room' }).click();
  const box = page.getByRole('checkbox', { name: 'Private' });
  assert.equal(await box.isDisabled(), true);
  await page.locator('#create-room-private-hint', { hasText: 'Sign in to create a private room' }).waitFor();
  // The server says the same to a guest that asks anyway.
  const code = await page.evaluate(() => window.parley.client.create('hideout', { private: true }).then(() => 'created', (e) => e.code));
  assert.equal(code, 'forbidden');
  assert.deepEqual(page.errors, []);
});
