// End-to-end: read state (protocol.md "Read state", client.md): two tabs of one account agree on
// their unread and mention counts, because a read in one is the server's and reaches the other; a
// mention raises a browser notification in a hidden tab once the user turned notifications on; a
// mention is highlighted; "@" completes a member's name. Headless Chromium, one server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, waitForTexts, waitConnected } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };

// Before the app's scripts: a page whose visibility the test sets (headless pages are always
// "visible"), and every `new Notification` recorded (the real one is still made).
function instrument() {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  window.__setHidden = (h) => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
  window.__notes = [];
  const Real = window.Notification;
  if (typeof Real === 'function') {
    window.Notification = new Proxy(Real, {
      construct(target, args) {
        window.__notes.push({ title: args[0], body: args[1]?.body ?? '' });
        return Reflect.construct(target, args);
      },
    });
  }
}

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

async function say(page, to, text) {
  const box = page.getByRole('textbox', { name: `Message ${to}` });
  await box.fill(text);
  await box.press('Enter');
}

// The unread and mention badges of the conversation with `name` in the sidebar ('' when none).
async function badges(page, name) {
  const button = page.locator('#dm-list button[data-room^="dm-"]', { hasText: name });
  const text = async (sel) => ((await button.locator(sel).count()) ? button.locator(sel).innerText() : '');
  return { unread: await text('.badge:not(.mention-badge) [aria-hidden="true"]'), mentions: await text('.badge.mention-badge [aria-hidden="true"]') };
}

async function waitBadges(page, name, want) {
  const deadline = Date.now() + 15000;
  let got;
  while (Date.now() < deadline) {
    got = await badges(page, name);
    if (got.unread === want.unread && got.mentions === want.mentions) return;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(got, want, `badges of ${name}`);
}

test('two tabs of one account agree on unread counts; a mention notifies a hidden tab', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { context, page: tab1 } = await personFor(t, browser);
  await context.grantPermissions(['notifications'], { origin: server.url });
  await context.addInitScript(instrument);
  const { page: bob } = await personFor(t, browser);
  await register(tab1, server.url, 'ada', 'correct horse');
  // The second tab: the same browser, so the same account (its session cookie).
  const tab2 = await context.newPage();
  tab2.errors = [];
  tab2.on('pageerror', (err) => tab2.errors.push(`pageerror: ${err.message}`));
  await tab2.goto(server.url);
  await waitConnected(tab2);
  await register(bob, server.url, 'bob', 'battery staple');

  // bob opens a conversation with ada; "@a" completes her name in the composer.
  await bob.locator('#member-list li[data-user="ada"]').waitFor();
  await bob.getByRole('button', { name: 'Message ada' }).click();
  await bob.locator('#room-name', { hasText: /^ada$/ }).waitFor();
  await say(bob, 'ada', 'hello there');
  const box = bob.getByRole('textbox', { name: 'Message ada' });
  await box.fill('are you around ');
  await box.pressSequentially('@a');
  await bob.getByRole('option', { name: '@ada' }).waitFor();
  await box.press('Tab');
  assert.equal(await box.inputValue(), 'are you around @ada ');
  await box.pressSequentially('?');
  await box.press('Enter');
  await waitForTexts(bob, ['hello there', 'are you around @ada ?']);

  // Both tabs: two unread, one of them a mention.
  await waitBadges(tab1, 'bob', { unread: '2', mentions: '@1' });
  await waitBadges(tab2, 'bob', { unread: '2', mentions: '@1' });

  // tab 1 opens it (read, and the mention highlighted): tab 2's badges go too.
  await tab1.locator('#dm-list button[data-room^="dm-"]', { hasText: 'bob' }).click();
  await waitForTexts(tab1, ['hello there', 'are you around @ada ?']);
  await tab1.locator('#message-list li.msg.mentions-me', { hasText: 'are you around' }).waitFor();
  await waitBadges(tab2, 'bob', { unread: '', mentions: '' });
  // bob sees that ada has seen it.
  await bob.locator('#message-list .seen-by', { hasText: 'Seen by ada' }).waitFor();

  // Another word while tab 1 is elsewhere: both count it; a reload of tab 2 counts the same (the
  // server's count, not the tab's).
  await tab1.locator('#room-list button[data-room="general"]').click();
  await tab1.locator('#room-name', { hasText: /^general$/ }).waitFor();
  await say(bob, 'ada', 'one more thing');
  await waitBadges(tab1, 'bob', { unread: '1', mentions: '' });
  await waitBadges(tab2, 'bob', { unread: '1', mentions: '' });
  await tab2.reload();
  await waitConnected(tab2);
  await waitBadges(tab2, 'bob', { unread: '1', mentions: '' });

  // Notifications: turned on from the settings (a click), then a mention while tab 2 is hidden.
  await tab2.locator('#user-settings-open').click();
  await tab2.getByRole('button', { name: 'Turn on notifications' }).click();
  await tab2.getByRole('button', { name: 'Turn off notifications' }).waitFor();
  await tab2.keyboard.press('Escape');
  await tab2.evaluate(() => window.__setHidden(true));
  await say(bob, 'ada', '@ada ping');
  await tab2.waitForFunction(() => window.__notes.length > 0, null, { timeout: 15000 });
  const notes = await tab2.evaluate(() => window.__notes);
  assert.deepEqual(notes, [{ title: 'bob', body: '@ada ping' }]);
  // tab 1 is visible: it did not notify.
  assert.deepEqual(await tab1.evaluate(() => window.__notes), []);

  assert.deepEqual(tab1.errors, []);
  assert.deepEqual(tab2.errors, []);
  assert.deepEqual(bob.errors, []);
});
