// End-to-end: direct messages in the web UI (protocol.md "Direct conversations", client.md):
// ada starts a conversation with bob from the members list of #general; it appears at once in
// bob's "Direct messages", by ada's name, with an unread badge once she writes; bob opens it and
// answers; a third account never sees it. Headless Chromium, a fresh server per test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, waitForTexts, waitConnected } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

// Cheap password hashing: the defaults cost a good part of a second per hash.
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

// The composer of the shown room or conversation ("Message #general", "Message bob").
async function say(page, to, text) {
  const box = page.getByRole('textbox', { name: `Message ${to}` });
  await box.fill(text);
  await box.press('Enter');
}

test('a direct conversation: begun from a member\'s name, unread for the other, answered, and private', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  const { page: cy } = await person(t);
  await register(ada, server.url, 'ada', 'correct horse');
  await register(bob, server.url, 'bob', 'battery staple');
  await register(cy, server.url, 'cy', 'staple horse');

  // ada's members list of #general: "Message" beside bob, never beside herself.
  await ada.locator('#member-list li[data-user="bob"]').waitFor();
  assert.equal(await ada.getByRole('button', { name: 'Message ada' }).count(), 0, 'no conversation with oneself');
  // A name no account has, from "New message": said in place.
  await ada.getByRole('button', { name: 'New message' }).click();
  await ada.getByLabel('Message an account').fill('nobody');
  await ada.locator('#new-dm-form').getByRole('button', { name: 'Open' }).click();
  await ada.locator('#new-dm-form').getByRole('alert').filter({ hasText: 'There is no account of that name.' }).waitFor();
  await ada.keyboard.press('Escape');
  await ada.locator('#new-dm-form').waitFor({ state: 'hidden' });

  await ada.getByRole('button', { name: 'Message bob' }).click();
  // The conversation's header is bob's name: no "#", no dm-… id, no settings.
  await ada.locator('#room-name', { hasText: /^bob$/ }).waitFor();
  assert.equal(await ada.locator('#room-title .hash').isVisible(), false);
  assert.equal(await ada.locator('#room-settings-open').isVisible(), false, 'nobody to invite or remove in a conversation');
  assert.doesNotMatch(await ada.locator('#room-title').innerText(), /dm-/);
  await ada.locator('#dm-list button[aria-current="page"]', { hasText: 'bob' }).waitFor();
  await ada.locator('#history-status', { hasText: 'No messages with bob yet' }).waitFor();

  // bob: the conversation is listed at once, by ada's name, before a word is written.
  const bobsDm = bob.locator('#dm-list button[data-room^="dm-"]');
  await bobsDm.filter({ hasText: 'ada' }).waitFor();
  assert.equal(await bob.locator('#room-list button[data-room^="dm-"]').count(), 0, 'a conversation is not a room');

  // ada writes; bob, still in #general, sees an unread badge on it.
  await say(ada, 'bob', 'hi bob, a word in private?');
  await waitForTexts(ada, ['hi bob, a word in private?']);
  await bobsDm.locator('.badge', { hasText: /^1/ }).waitFor();
  assert.equal(await bob.locator('#room-name').innerText(), 'general');

  // bob opens it and answers; the badge goes, ada sees the answer.
  await bobsDm.click();
  await bob.locator('#room-name', { hasText: /^ada$/ }).waitFor();
  await waitForTexts(bob, ['hi bob, a word in private?']);
  assert.equal(await bobsDm.locator('.badge').count(), 0);
  await say(bob, 'ada', 'sure, ada');
  await waitForTexts(ada, ['hi bob, a word in private?', 'sure, ada']);
  await waitForTexts(bob, ['hi bob, a word in private?', 'sure, ada']);
  assert.equal(await ada.title(), 'bob · Parley', 'the tab names the conversation by the other, too');
  // Inside the conversation there is no "Message" to offer.
  assert.equal(await bob.locator('#member-list button[data-dm]').count(), 0);

  // bob back in #general; ada writes again; after a reload bob still has the conversation, by
  // ada's name, unread by that one message (the read marks are this browser's).
  await bob.locator('#room-list button[data-room="general"]').click();
  await bob.locator('#room-name', { hasText: /^general$/ }).waitFor();
  await say(ada, 'bob', 'one more thing');
  await bobsDm.locator('.badge', { hasText: /^1/ }).waitFor();
  await bob.reload();
  await waitConnected(bob);
  await bobsDm.filter({ hasText: 'ada' }).locator('.badge', { hasText: /^1/ }).waitFor();

  // cy never sees it: not in the server's list for cy, nor in either of cy's lists after a reload.
  await cy.reload();
  await waitConnected(cy);
  const listed = await cy.evaluate(async () => (await window.parley.client.roomsPage({ q: 'dm-' })).rooms);
  assert.deepEqual(listed, []);
  await cy.locator('#dm-hint', { hasText: 'No conversations yet' }).waitFor();
  assert.equal(await cy.locator('#dm-list button').count(), 0);
  assert.equal(await cy.locator('#room-list button[data-room^="dm-"]').count(), 0);

  for (const [who, page] of [['ada', ada], ['bob', bob], ['cy', cy]]) assert.deepEqual(page.errors, [], `${who}'s page errors`);
});

test('a guest has no direct messages: told why, offered no "Message", refused by the server', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { page: ada } = await person(t);
  const { page: guest } = await person(t);
  await register(ada, server.url, 'ada', 'correct horse');
  await guest.goto(server.url);
  await guest.locator('#join-screen').waitFor({ state: 'visible' });
  await guest.getByLabel('Display name').fill('gus');
  await guest.getByRole('button', { name: 'Join chat' }).click();
  await waitConnected(guest);

  await guest.locator('#dm-hint', { hasText: 'Sign in to send direct messages' }).waitFor();
  assert.equal(await guest.getByRole('button', { name: 'New message' }).count(), 0);
  await guest.locator('#member-list li[data-user="ada"]').waitFor();
  assert.equal(await guest.locator('#member-list button[data-dm]').count(), 0);
  await assert.rejects(guest.evaluate(() => window.parley.client.dm('ada')), /forbidden|sign in/i);

  // ada is offered "Message" beside gus until gus speaks (then his message shows a guest's id).
  await ada.locator('#member-list li[data-user="gus"] button[data-dm]').waitFor();
  const box = guest.getByRole('textbox', { name: 'Message #general' });
  await box.fill('hello from a guest');
  await box.press('Enter');
  await waitForTexts(ada, ['hello from a guest']);
  await ada.locator('#member-list li[data-user="gus"] button[data-dm]').waitFor({ state: 'detached' });

  for (const [who, page] of [['ada', ada], ['gus', guest]]) assert.deepEqual(page.errors, [], `${who}'s page errors`);
});
