// End-to-end: search in headless Chromium (docs/protocol.md, "search"). Two accounts, messages in
// two rooms and in ada's private room: bob searches from the header's box (Ctrl+K), sees the hits
// with their room, author and the matched words marked, never ada's private room; choosing an
// old hit opens its room, loads history back to it and shows the message flashed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, send, waitConnected } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };

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

async function createRoom(page, name, { private: priv = false } = {}) {
  await page.getByRole('button', { name: 'Create a room' }).click();
  await page.getByLabel('New room name').fill(name);
  if (priv) await page.getByRole('checkbox', { name: 'Private' }).check();
  await page.locator('#create-room-form').getByRole('button', { name: 'Create' }).click();
  await page.locator('#room-name', { hasText: new RegExp(`^${name}$`) }).waitFor();
}

// A server with generous search and send budgets, and two accounts signed in, each in a page.
async function adaAndBob(t) {
  const server = await serverFor(t, { set: {
    ...CHEAP_HASH, 'limits.search_rate': 100, 'limits.search_burst': 100, 'limits.send_rate': 1000, 'limits.send_burst': 1000,
  } });
  const { page: ada } = await personFor(t, browser);
  const { page: bob } = await personFor(t, browser);
  await register(ada, server.url, 'ada', 'correct horse');
  await register(bob, server.url, 'bob', 'battery staple');
  return { ada, bob };
}

// The hits shown, as "room | from | text" (marks as [word]).
async function hits(page) {
  return page.locator('#search-results .search-hit').evaluateAll((items) => items.map((b) => {
    const text = [...b.querySelector('.search-hit-text').childNodes]
      .map((n) => (n.nodeName === 'MARK' ? `[${n.textContent}]` : n.textContent)).join('');
    return `${b.querySelector('.search-hit-room').textContent} | ${b.querySelector('.search-hit-from').textContent} | ${text}`;
  }));
}

test('search: hits of the rooms one may read, words marked; a hit opens its room at the message', async (t) => {
  const { ada, bob } = await adaAndBob(t);

  // ada's private room: never bob's to find.
  await createRoom(ada, 'vault', { private: true });
  await send(ada, 'the deploy key is <b>hunter2</b>');
  // #general: an old message, then enough others for it to be out of the first page.
  await ada.getByRole('button', { name: /^general/ }).first().click();
  await send(ada, 'Deploy failed on staging <script>alert(1)</script>');
  const chatter = Array.from({ length: 60 }, (_, i) => `chatter ${i + 1}`);
  for (const text of chatter) await send(bob, text);
  await bob.waitForFunction(() => [...document.querySelectorAll('#message-list li.msg .text')].at(-1)?.textContent === 'chatter 60',
    null, { timeout: 30000, polling: 100 });
  await createRoom(bob, 'ops');
  await send(bob, 'deploying the fix now');

  // bob searches from the header box (Ctrl+K focuses it).
  await bob.keyboard.press('Control+k');
  assert.equal(await bob.evaluate(() => document.activeElement?.id), 'search-input');
  await bob.keyboard.type('deploy');
  await bob.keyboard.press('Enter');
  await bob.locator('#search-status', { hasText: 'match' }).waitFor();
  assert.deepEqual(await hits(bob), [
    '#ops | bob | [deploying] the fix now',
    '#general | ada | [Deploy] failed on staging <script>alert(1)</script>',
  ]);
  // Text stays text: no element came from a message.
  assert.equal(await bob.locator('#search-results script, #search-results b').count(), 0);
  // ada finds her private room's message too.
  await ada.getByRole('searchbox', { name: 'Search messages' }).fill('hunter2');
  await ada.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
  await ada.locator('#search-status', { hasText: 'match' }).waitFor();
  assert.deepEqual(await hits(ada), ['#vault | ada | the deploy key is <b>[hunter2]</b>']);
  await bob.getByRole('searchbox', { name: 'Search messages' }).fill('hunter2');
  await bob.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
  await bob.locator('#search-status', { hasText: 'No messages match' }).waitFor();

  // bob, in #ops, chooses the old hit in #general: the room opens, history back to it, flashed.
  await bob.getByRole('searchbox', { name: 'Search messages' }).fill('staging');
  await bob.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
  await bob.locator('#search-results .search-hit').first().waitFor();
  await bob.locator('#search-results .search-hit').first().click();
  await bob.locator('#room-name', { hasText: /^general$/ }).waitFor();
  await bob.waitForFunction(() => document.activeElement?.matches('#message-list li.msg.flash')
    && document.activeElement.querySelector('.text')?.textContent.startsWith('Deploy failed on staging'), null, { timeout: 20000 });
  assert.equal(await bob.locator('#search-panel').isVisible(), false);
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});

// A hit far back in a long room: no paging back through everything between. The page around it is
// shown as a window back in history; live messages meanwhile are counted, not shown after it;
// scrolling down loads the pages between until the window is the room's list again, each message
// once; "Jump to latest" goes back to the newest at once.
test('search: a hit hundreds of messages back opens a window around it that reaches the newest as one scrolls', async (t) => {
  const { ada, bob } = await adaAndBob(t);
  await send(ada, 'the needle in the haystack');
  const CHATTER = 400;
  await bob.evaluate(async (n) => {
    for (let i = 1; i <= n; i++) await window.parley.client.send('general', `chatter ${i}`).promise;
  }, CHATTER);
  await bob.waitForFunction((last) => [...document.querySelectorAll('#message-list li.msg .text')].at(-1)?.textContent === last,
    `chatter ${CHATTER}`, { timeout: 30000, polling: 100 });
  // A fresh page: the newest messages only, as for anyone coming back to a long room.
  await bob.reload();
  await waitConnected(bob);
  await bob.waitForFunction((last) => [...document.querySelectorAll('#message-list li.msg .text')].at(-1)?.textContent === last,
    `chatter ${CHATTER}`, { timeout: 30000, polling: 100 });
  const texts = () => bob.locator('#message-list li.msg .text').allTextContents();

  const openNeedle = async () => {
    await bob.getByRole('searchbox', { name: 'Search messages' }).fill('needle');
    await bob.getByRole('searchbox', { name: 'Search messages' }).press('Enter');
    await bob.locator('#search-results .search-hit').first().click();
    await bob.waitForFunction(() => document.activeElement?.matches('#message-list li.msg.flash')
      && document.activeElement.querySelector('.text')?.textContent === 'the needle in the haystack', null, { timeout: 20000 });
  };
  await openNeedle();
  // The window: the needle with the messages after it, not the newest.
  let shown = await texts();
  assert.ok(shown.length <= 60, `a page around the hit, not the room (${shown.length})`);
  assert.equal(shown[0], 'the needle in the haystack');
  assert.ok(!shown.includes(`chatter ${CHATTER}`));
  await bob.locator('#jump-latest', { hasText: 'Jump to latest' }).waitFor();

  // ada writes meanwhile: counted on the button, not shown after the window.
  await send(ada, 'live while you were away');
  await bob.locator('#jump-latest', { hasText: '1 new message' }).waitFor();
  assert.ok(!(await texts()).includes('live while you were away'));
  // Nor is it marked read (on the server either, for bob's other devices): he has not seen it.
  const marks = () => bob.evaluate(() => {
    const room = window.parley.rooms.get('general');
    return { read: room.serverRead, last: window.parley.client.lastSeq('general') };
  });
  await bob.waitForTimeout(300);
  const m = await marks();
  assert.ok(m.read < m.last, JSON.stringify(m));

  // Scrolling down loads the pages between, until the newest: every message once, in order.
  for (let i = 0; i < 40 && (await texts()).at(-1) !== 'live while you were away'; i++) {
    await bob.locator('#scroller').evaluate((s) => { s.scrollTop = s.scrollHeight; });
    await bob.waitForTimeout(150);
  }
  shown = await texts();
  assert.deepEqual(shown, ['the needle in the haystack', ...Array.from({ length: CHATTER }, (_, i) => `chatter ${i + 1}`), 'live while you were away']);
  assert.equal(await bob.evaluate(() => window.parley.rooms.get('general').hasNewer), false);
  await bob.waitForFunction(() => window.parley.rooms.get('general').serverRead === window.parley.client.lastSeq('general'));
  // At the bottom, nothing is left below: the button goes.
  await bob.locator('#scroller').evaluate((s) => { s.scrollTop = s.scrollHeight; });
  await bob.locator('#jump-latest').waitFor({ state: 'hidden' });
  // Live messages are the list's again.
  await send(ada, 'and now live');
  await bob.waitForFunction(() => [...document.querySelectorAll('#message-list li.msg .text')].at(-1)?.textContent === 'and now live');

  // Again from a fresh page (this one has every message now), then straight back to the newest.
  await bob.reload();
  await waitConnected(bob);
  await bob.waitForFunction(() => [...document.querySelectorAll('#message-list li.msg .text')].at(-1)?.textContent === 'and now live',
    null, { timeout: 30000, polling: 100 });
  await openNeedle();
  await bob.locator('#jump-latest', { hasText: 'Jump to latest' }).click();
  await bob.waitForFunction(() => [...document.querySelectorAll('#message-list li.msg .text')].at(-1)?.textContent === 'and now live'
    && !window.parley.rooms.get('general').hasNewer, null, { timeout: 20000 });
  shown = await texts();
  assert.ok(!shown.includes('the needle in the haystack'), 'the newest page, not the window');
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});
