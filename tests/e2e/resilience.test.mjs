// End-to-end: the page survives server restarts and offline periods.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, joinAs, send, messages, waitForTexts, waitConnected } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const person = (t, opts) => personFor(t, browser, opts);

const banner = (page) => page.locator('#banner');

test('server restart mid-conversation: pages reconnect and show every message once, in order', async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');

  await send(ada, 'one');
  await waitForTexts(bob, ['one']);
  await send(bob, 'two');
  await send(ada, 'three');
  await waitForTexts(ada, ['one', 'two', 'three']);
  await waitForTexts(bob, ['one', 'two', 'three']);

  // Stop (SIGTERM drains, exit 0), check the pages notice, start again on the same port and data.
  const port = server.port;
  const exit = await server.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM exits 0');
  for (const page of [ada, bob]) {
    await banner(page).locator('.banner-text', { hasText: /Reconnecting|offline/ }).waitFor();
    assert.match(await banner(page).getAttribute('data-state'), /^(reconnecting|offline)$/);
  }
  await server.start();
  assert.equal(server.port, port);

  for (const page of [ada, bob]) await waitConnected(page);
  await banner(ada).locator('.banner-text', { hasText: 'Connected.' }).waitFor();

  await send(bob, 'four');
  await send(ada, 'five');
  await send(bob, 'six');
  const all = ['one', 'two', 'three', 'four', 'five', 'six'];
  await waitForTexts(ada, all);
  await waitForTexts(bob, all);
  for (const page of [ada, bob]) {
    assert.deepEqual((await messages(page)).map((m) => m.seq), [1, 2, 3, 4, 5, 6]);
    assert.equal(await page.locator('#pending-list li').count(), 0);
  }

  // A newcomer after the restart sees the same history.
  const { page: carol } = await person(t);
  await joinAs(carol, server.url, 'carol');
  await waitForTexts(carol, all);
  for (const page of [ada, bob, carol]) assert.deepEqual(page.errors, []);
});

test('messages typed while the server is down are delivered after reconnect', async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');
  await send(ada, 'before the outage');
  await waitForTexts(bob, ['before the outage']);

  // Crash (SIGKILL): nothing drains, sockets just die.
  await server.kill();
  await banner(ada).locator('.banner-text', { hasText: /Reconnecting|offline/ }).waitFor();

  await send(ada, 'typed offline 1');
  await send(ada, 'typed offline 2 🚀');
  // Shown as pending, and the banner says they are waiting.
  await ada.locator('#pending-list li.pending').nth(1).waitFor();
  assert.deepEqual(await ada.$$eval('#pending-list li .text', (els) => els.map((e) => e.textContent)),
    ['typed offline 1', 'typed offline 2 🚀']);
  await banner(ada).getByText('2 messages will be sent when the connection is back.').waitFor();

  await ada.waitForTimeout(700);
  await server.start();

  const all = ['before the outage', 'typed offline 1', 'typed offline 2 🚀'];
  await waitForTexts(ada, all, 30000);
  await waitForTexts(bob, all, 30000);
  await ada.locator('#pending-list li').first().waitFor({ state: 'detached' });
  for (const page of [ada, bob]) {
    assert.deepEqual((await messages(page)).map((m) => m.seq), [1, 2, 3]);
  }
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('reloading the page keeps the name and rooms', async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await send(ada, 'persisted');
  await waitForTexts(ada, ['persisted']);
  await ada.reload();
  await waitConnected(ada);
  await waitForTexts(ada, ['persisted']);
  assert.equal(await ada.locator('#me-name').textContent(), 'ada');
});

test('network offline: banner says offline; a long gap comes back truncated and is filled from history', async (t) => {
  const server = await serverFor(t, { set: { 'limits.resume_limit': 3 } });
  const { page: ada, context } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');
  await send(ada, 'm0');
  await waitForTexts(bob, ['m0']);

  // The network goes away: new connections fail, and the page drops its open socket itself (the
  // browser's offline event; trial_fixes.test.mjs checks that it does so at once).
  await context.setOffline(true);
  await banner(ada).locator('.banner-text', { hasText: "You're offline." }).waitFor();
  assert.equal(await banner(ada).getAttribute('data-state'), 'offline');

  const later = Array.from({ length: 8 }, (_, i) => `m${i + 1}`);
  for (const text of later) await send(bob, text);
  await waitForTexts(bob, ['m0', ...later]);

  // Back online: the browser's online event reconnects at once; the resume
  // gap (8) is over resume_limit (3), so the page reloads the newest page.
  await context.setOffline(false);
  await waitForTexts(ada, ['m0', ...later]);
  assert.deepEqual((await messages(ada)).map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(ada.errors, []);
});
