// End-to-end: accounts in the web UI (docs/api.md, docs/client.md): the join screen's three ways
// in, a session that survives a reload, signing out, an account's name refused to a guest, wrong
// passwords and rate limits, guests switched off. Headless Chromium, a fresh server per test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, joinAs, send, waitForTexts, waitConnected } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

// Cheap password hashing: the defaults cost a good part of a second per hash.
const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };

const person = (t, opts) => personFor(t, browser, opts);

const panel = (page, tab) => page.getByRole('tabpanel', { name: tab });
const selectedTab = (page) => page.locator('#join-screen [role="tab"][aria-selected="true"]').textContent();

async function fillAccountForm(page, tab, name, password) {
  const form = panel(page, tab);
  await page.getByRole('tab', { name: tab }).click();
  if (name !== undefined) await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Password', { exact: true }).fill(password);
  await form.getByRole('button', { name: tab }).click();
}

test('an account: register, chat, reload (still signed in), sign out; a guest cannot take its name; sign in again', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { page: ada, context } = await person(t);
  await ada.goto(server.url);

  // Create account: the password rule is checked before asking the server.
  await fillAccountForm(ada, 'Create account', 'ada', 'short');
  await panel(ada, 'Create account').getByRole('alert').filter({ hasText: 'A password needs at least 8 characters.' }).waitFor();
  assert.equal(await panel(ada, 'Create account').getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
  await fillAccountForm(ada, 'Create account', undefined, 'correct horse');

  // In #general, as ada, no guest badge, and able to send.
  await waitConnected(ada);
  await ada.locator('#history-status:not(:has-text("Loading"))').waitFor({ state: 'attached' });
  assert.equal(await ada.locator('#join-screen').isVisible(), false);
  assert.equal(await ada.locator('#room-name').textContent(), 'general');
  assert.equal(await ada.locator('#me-name').textContent(), 'ada');
  assert.equal(await ada.locator('#me-guest').isVisible(), false);
  await send(ada, 'Signed in and chatting');
  await waitForTexts(ada, ['Signed in and chatting']);

  // The session is an HttpOnly cookie: the page's scripts never see it.
  assert.equal(await ada.evaluate(() => document.cookie.includes('parley_session')), false);
  const session = (await context.cookies(server.url)).find((c) => c.name === 'parley_session');
  assert.ok(session, 'the browser holds the session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  const stored = await ada.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.equal(stored.includes(session.value), false, 'the token is kept nowhere a script can read');

  // A reload keeps the session: straight back to the chat, no join screen.
  await ada.reload();
  await waitConnected(ada);
  await waitForTexts(ada, ['Signed in and chatting']);
  assert.equal(await ada.locator('#join-screen').isVisible(), false);
  assert.equal(await ada.locator('#me-name').textContent(), 'ada');

  // Sign out: back on the join screen, on Sign in with the name filled in; the session is over.
  await ada.getByRole('button', { name: 'Sign out' }).click();
  await ada.locator('#join-screen').waitFor({ state: 'visible' });
  assert.equal(await ada.locator('#app').isVisible(), false);
  assert.equal(await selectedTab(ada), 'Sign in');
  assert.equal(await panel(ada, 'Sign in').getByLabel('Name', { exact: true }).inputValue(), 'ada');
  assert.equal(await ada.evaluate(() => document.activeElement.id), 'signin-password');
  assert.equal((await ada.evaluate(() => fetch('/api/me').then((r) => r.status))), 401);

  // Someone else, as a guest called ada: refused with the server's message, offered "Sign in".
  const { page: guest } = await person(t);
  await guest.goto(server.url);
  assert.equal(await selectedTab(guest), 'Continue as guest', 'a new browser starts on the guest form');
  await guest.getByLabel('Display name').fill('ada');
  await guest.getByRole('button', { name: 'Join chat' }).click();
  await guest.getByRole('alert').filter({ hasText: 'This name belongs to an account: sign in, or choose another.' }).waitFor();
  assert.equal(await guest.locator('#join-screen').isVisible(), true);
  assert.equal(await selectedTab(guest), 'Continue as guest');
  assert.equal(await guest.getByLabel('Display name').inputValue(), 'ada');
  const offer = panel(guest, 'Continue as guest').getByRole('button', { name: 'Sign in' });
  await offer.click();
  assert.equal(await selectedTab(guest), 'Sign in');
  assert.equal(await panel(guest, 'Sign in').getByLabel('Name', { exact: true }).inputValue(), 'ada');
  assert.equal(await guest.evaluate(() => document.activeElement.id), 'signin-password');

  // ada signs in again: a wrong password is refused with the server's message...
  await fillAccountForm(ada, 'Sign in', undefined, 'wrong horse');
  await panel(ada, 'Sign in').getByRole('alert').filter({ hasText: 'Wrong name or password.' }).waitFor();
  assert.equal(await ada.locator('#join-screen').isVisible(), true);
  assert.equal(await panel(ada, 'Sign in').getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
  // ...the right one lets her in, with the history.
  await fillAccountForm(ada, 'Sign in', undefined, 'correct horse');
  await waitConnected(ada);
  await waitForTexts(ada, ['Signed in and chatting']);
  assert.equal(await ada.locator('#me-name').textContent(), 'ada');
  await send(ada, 'Back again');
  await waitForTexts(ada, ['Signed in and chatting', 'Back again']);

  assert.deepEqual(ada.errors, []);
  assert.deepEqual(guest.errors, []);
});

test('a guest: a visible badge, and "Sign out" forgets the name', async (t) => {
  const server = await serverFor(t, { set: CHEAP_HASH });
  const { page } = await person(t);
  await joinAs(page, server.url, 'bob');
  assert.equal(await page.locator('#me-guest').isVisible(), true);
  assert.equal(await page.locator('#me-guest').textContent(), 'guest');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#join-screen').waitFor({ state: 'visible' });
  assert.equal(await selectedTab(page), 'Continue as guest');
  assert.equal(await page.evaluate(() => localStorage.getItem('parley.name')), null);
  await page.reload();
  await page.locator('#join-screen').waitFor({ state: 'visible' });
  assert.deepEqual(page.errors, []);
});

test('join screen: tabs by keyboard; guests switched off send a guest to Sign in; rate-limited sign-ins say how long to wait', async (t) => {
  const server = await serverFor(t, {
    set: { ...CHEAP_HASH, 'auth.guests': 'false', 'auth.signin_burst_per_account': 2, 'auth.signin_rate_per_account': 0.05 },
  });
  const { page } = await person(t);
  await page.goto(server.url);
  // The join screen shows once /api/me has answered, and focuses its first field then: wait for
  // it, or that focus lands after ours and the arrows below go to a text field.
  await page.locator('#join-screen').waitFor({ state: 'visible' });

  // The tabs: one tab stop (the selected tab), arrows move and select, Home and End, wrapping.
  const tab = (name) => page.getByRole('tab', { name });
  assert.equal(await page.getByRole('tablist', { name: 'How to join' }).count(), 1);
  await tab('Continue as guest').focus();
  const tabIndexes = () => page.$$eval('#join-screen [role="tab"]', (ts) => ts.map((x) => x.tabIndex));
  assert.deepEqual(await tabIndexes(), [-1, -1, 0]);
  const focused = () => page.evaluate(() => document.activeElement.textContent);
  await page.keyboard.press('ArrowLeft');
  assert.equal(await focused(), 'Create account');
  assert.equal(await selectedTab(page), 'Create account');
  assert.equal(await panel(page, 'Create account').isVisible(), true);
  assert.equal(await panel(page, 'Continue as guest').isVisible(), false);
  await page.keyboard.press('Home');
  assert.equal(await focused(), 'Sign in');
  assert.deepEqual(await tabIndexes(), [0, -1, -1]);
  await page.keyboard.press('ArrowLeft');
  assert.equal(await focused(), 'Continue as guest', 'ArrowLeft wraps around');
  await page.keyboard.press('ArrowRight');
  assert.equal(await focused(), 'Sign in', 'ArrowRight wraps around');
  await page.keyboard.press('End');
  assert.equal(await selectedTab(page), 'Continue as guest');
  // Tab from the tab list goes into the selected panel.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'join-name');

  // A guest where the server has none: back to the join screen, told why, on Sign in.
  await page.getByLabel('Display name').fill('carol');
  await page.getByRole('button', { name: 'Join chat' }).click();
  await page.getByRole('alert').filter({ hasText: 'This server needs an account: sign in or create one.' }).waitFor();
  assert.equal(await selectedTab(page), 'Sign in');
  // And the next visit opens on Sign in too.
  await page.reload();
  await page.locator('#join-screen').waitFor({ state: 'visible' });
  assert.equal(await selectedTab(page), 'Sign in');

  // Wrong passwords past the account's budget: the wait is spelled out.
  const res = await fetch(`${server.url}/api/register`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'dana', password: 'correct horse' }),
  });
  assert.equal(res.status, 201);
  for (let i = 0; i < 2; i++) {
    await fillAccountForm(page, 'Sign in', 'dana', `wrong ${i} horse`);
    await panel(page, 'Sign in').getByRole('alert').filter({ hasText: 'Wrong name or password.' }).waitFor();
    await panel(page, 'Sign in').getByRole('button', { name: 'Sign in' }).and(page.locator(':enabled')).waitFor();
  }
  await fillAccountForm(page, 'Sign in', 'dana', 'correct horse');
  await panel(page, 'Sign in').getByRole('alert').filter({ hasText: /^Too many attempts: try again in \d+ s\.$/ }).waitFor();
  assert.equal(await page.locator('#join-screen').isVisible(), true);

  // A new account gets in, guests or not: the nameless hello is the session cookie's.
  await fillAccountForm(page, 'Create account', 'erin', 'correct horse');
  await waitConnected(page);
  assert.equal(await page.locator('#me-name').textContent(), 'erin');
  assert.equal(await page.locator('#me-guest').isVisible(), false);
  await send(page, 'no guests here');
  await waitForTexts(page, ['no guests here']);
  assert.deepEqual(page.errors, []);
});
