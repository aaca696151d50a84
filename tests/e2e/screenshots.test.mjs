// End-to-end: layout on a phone and a desktop, keyboard access, and the
// screenshots in docs/screenshots (written there by `npm run screenshots`;
// a plain test run writes them to a temporary directory).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, REPO } from '../lib/server.mjs';
import { launchBrowser, newPerson, joinAs, waitForTexts } from '../lib/browser.mjs';

let browser;
let outDir;

const CONVERSATION = [
  ['bob', 'Morning! Is the 2.4 release still on for today? 🚀'],
  ['ada', 'Yes, QA signed off last night. Changelog: https://example.com/parley/releases/2.4'],
  ['carol', "Nice. I'll post the announcement once the tags are pushed."],
  ['carol', 'Also: the load test held 50k msgs/s on a single node 🎉'],
  ['bob', 'That is wild. Did p99 latency hold up?'],
  ['ada', 'p99 stayed under 12 ms.\nGraphs are in #perf.'],
  ['bob', 'Perfect. Shipping it! 🙌'],
];
const TEXTS = CONVERSATION.map(([, text]) => text);

before(async () => {
  outDir = process.env.PARLEY_SCREENSHOT_DIR
    ? path.resolve(REPO, process.env.PARLEY_SCREENSHOT_DIR)
    : await mkdtemp(path.join(tmpdir(), 'parley-shots-'));
  await mkdir(outDir, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (!process.env.PARLEY_SCREENSHOT_DIR) console.log(`# screenshots in ${outDir}`);
});

/**
 * A fresh server with a conversation in #general and rooms design, perf and
 * random. bob and carol are protocol clients living in a helper page (so
 * they stay online); ada is the person using the UI.
 */
async function seed(t) {
  const server = await startServer();
  t.after(() => server.cleanup());
  const helper = await newPerson(browser);
  t.after(() => helper.context.close());
  await helper.page.goto(server.url);
  await helper.page.evaluate(async (conversation) => {
    const { ParleyClient } = await import('/js/parley-client.js');
    const url = `ws://${location.host}/ws`;
    const people = {};
    for (const name of ['bob', 'carol', 'ada']) {
      people[name] = new ParleyClient({ url, name });
      await people[name].connect();
      await people[name].join('general');
    }
    for (const room of ['design', 'perf', 'random']) await people.carol.create(room);
    for (const [name, text] of conversation) await people[name].send('general', text).promise;
    people.ada.close();
    window.people = people;
  }, CONVERSATION);
  return { server, helper: helper.page };
}

/** ada opens the app, visits #perf, comes back; carol then posts in #perf (unread badge) and bob types. */
async function adaView(t, opts) {
  const { server, helper } = await seed(t);
  const person = await newPerson(browser, opts);
  t.after(() => person.context.close());
  const { page } = person;
  await joinAs(page, server.url, 'ada');
  await waitForTexts(page, TEXTS);
  const phone = opts.viewport.width < 700;
  const openRoom = async (room) => {
    if (phone) await page.getByRole('button', { name: 'Open rooms and members' }).click();
    await page.locator(`#room-list button[data-room="${room}"]`).click();
    await page.locator('#room-name', { hasText: room }).waitFor();
  };
  await openRoom('perf');
  await page.locator('#history-status', { hasText: 'No messages' }).waitFor();
  await openRoom('general');
  await waitForTexts(page, TEXTS);
  await helper.evaluate(async () => {
    const { carol, bob } = window.people;
    await carol.join('perf').catch(() => {});
    for (const t of ['Dashboards are up', 'p50 3 ms, p99 12 ms', 'Soak test starts at 14:00']) await carol.send('perf', t).promise;
    bob.typing('general');
  });
  await page.locator('#room-list button[data-room="perf"] .badge', { hasText: '3' }).waitFor({ state: 'attached' });
  await page.locator('#typing', { hasText: 'bob is typing…' }).waitFor();
  await page.getByRole('textbox', { name: 'Message #general' }).fill('Tagging v2.4.0 now');
  await page.mouse.move(0, 0);
  return person;
}

test('phone (375 px): no sideways scrolling, drawer menu, screenshot', async (t) => {
  const { page } = await adaView(t, { viewport: { width: 375, height: 740 } });

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`);
  // Every message bubble fits on screen.
  const widest = await page.$$eval('#message-list .bubble', (els) => Math.max(...els.map((e) => e.getBoundingClientRect().right)));
  assert.ok(widest <= 375, `a bubble reaches x=${widest}`);
  // The sidebar is a closed drawer: hidden and out of the tab order.
  assert.equal(await page.locator('#sidebar').isVisible(), false);
  assert.equal(await page.evaluate(() => document.getElementById('sidebar').inert), true);
  const composer = await page.getByRole('textbox', { name: 'Message #general' }).boundingBox();
  assert.ok(composer.y + composer.height <= 740, 'composer visible without scrolling');
  await page.screenshot({ path: path.join(outDir, 'phone.png') });

  // The menu button opens it, with the current room focused; Escape closes it.
  const menu = page.getByRole('button', { name: 'Open rooms and members' });
  await menu.click();
  await page.locator('#sidebar').waitFor({ state: 'visible' });
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.room), 'general');
  await page.waitForTimeout(300); // let the slide-in finish for the picture
  await page.screenshot({ path: path.join(outDir, 'phone-menu.png') });
  await page.keyboard.press('Escape');
  await page.locator('#sidebar').waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'sidebar-open');
  assert.deepEqual(page.errors, []);
});

test('desktop (1280x800): sidebar with rooms and members, screenshot', async (t) => {
  const { page } = await adaView(t, { viewport: { width: 1280, height: 800 } });
  assert.equal(await page.locator('#sidebar').isVisible(), true);
  assert.equal(await page.getByRole('button', { name: 'Open rooms and members' }).isVisible(), false);
  const memberNames = await page.$$eval('#member-list li.online', (lis) => lis.map((li) => li.dataset.user));
  assert.deepEqual(memberNames.sort(), ['ada', 'bob', 'carol']);
  // ada's rooms (the ones she is in), then the public ones she may browse.
  assert.deepEqual(await page.$$eval('#my-room-list button', (bs) => bs.map((b) => b.dataset.room)), ['general', 'perf']);
  assert.deepEqual(await page.$$eval('#directory-list button', (bs) => bs.map((b) => b.dataset.room)), ['design', 'random']);
  await page.screenshot({ path: path.join(outDir, 'desktop.png') });
  assert.deepEqual(page.errors, []);
});

test('dark theme follows prefers-color-scheme, screenshot', async (t) => {
  const { page } = await adaView(t, { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = bg.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 120, `dark background expected, got ${bg}`);
  await page.screenshot({ path: path.join(outDir, 'dark.png') });
  assert.deepEqual(page.errors, []);
});

test('keyboard: skip link, labelled controls, Enter in the room list', async (t) => {
  const { server } = await seed(t);
  const { page, context } = await newPerson(browser);
  t.after(() => context.close());
  await joinAs(page, server.url, 'dave');
  // Start keyboard navigation from the top of the document.
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to message box');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input');

  // Every interactive control has an accessible name.
  const unnamed = await page.$$eval('#app button, #app input, #app textarea', (els) => els
    .filter((el) => !el.closest('[hidden]'))
    .filter((el) => !(el.getAttribute('aria-label') || el.labels?.[0]?.textContent.trim() || el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);

  // Rooms are buttons: Tab to one, Enter opens it, focus goes to the composer.
  await page.locator('#room-list button[data-room="design"]').focus();
  await page.keyboard.press('Enter');
  await page.locator('#room-name', { hasText: 'design' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input');
  assert.equal(await page.locator('#scroller').getAttribute('aria-label'), 'Messages in #design');
  assert.deepEqual(page.errors, []);
});
