// End-to-end: what a new user's trial of the UI found (issue 17), in headless Chromium against one
// server shared by the cases (each case has people of its own, with names of its own):
// - text over the length limit is said under the composer (and to the live region), and Enter
//   points at it rather than doing nothing;
// - the browser going offline shows the banner at once, the user "Offline", and the others'
//   presence as unknown until the connection is back;
// - secondary text, and formatted text (code, code blocks, quotes, links), has WCAG AA contrast
//   (4.5:1) against its actual background, light and dark;
// - the theme setting (light / dark / system), kept in localStorage and applied before the page's
//   modules run (no flash), from the keyboard;
// - creating a room whose name exists says so, and offers to open it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, personFor, joinAs, send, waitForTexts, waitConnected } from '../lib/browser.mjs';
import { startServer } from '../lib/server.mjs';

let browser;
let server;
before(async () => {
  browser = await launchBrowser();
  server = await startServer();
});
after(async () => {
  await browser?.close();
  await server?.cleanup();
});

const person = (t, opts) => personFor(t, browser, opts);

test('over the limit: a visible message under the composer, also in the live region; Enter points at it', async (t) => {
  const { page } = await person(t);
  await joinAs(page, server.url, 'lena');
  const box = page.getByRole('textbox', { name: /^Message #/ });
  const error = page.locator('#composer-error');
  const want = 'Message is 4,213 characters; the limit is 4,000';

  await box.fill('x'.repeat(4213));
  await error.waitFor({ state: 'visible' });
  assert.equal(await error.textContent(), want);
  assert.equal(await box.getAttribute('aria-invalid'), 'true');
  assert.match(await box.getAttribute('aria-describedby'), /\bcomposer-error\b/);
  await page.locator('#announcer p', { hasText: want }).waitFor({ state: 'attached' });

  // Enter: nothing is sent, the text stays, the message is said again and drawn attention to.
  await page.evaluate(() => document.querySelector('#announcer').replaceChildren());
  await box.press('Enter');
  await page.locator('#composer-error.attention').waitFor();
  await page.locator('#announcer p', { hasText: want }).waitFor({ state: 'attached' });
  assert.equal((await box.inputValue()).length, 4213);
  assert.equal(await page.locator('#pending-list li').count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'composer-input', 'the focus stays in the box to shorten the text');

  // Within the limit again: the message goes, and Enter sends.
  await box.fill('x'.repeat(4000));
  await error.waitFor({ state: 'hidden' });
  await box.fill('short enough');
  await box.press('Enter');
  await waitForTexts(page, ['short enough']);
  assert.deepEqual(page.errors, []);
});

test('offline: the banner at once, the user "Offline", the others\' presence unknown until back', async (t) => {
  const { page: ada, context } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'olga');
  await joinAs(bob, server.url, 'oscar');
  const oscar = ada.locator('#member-list li.member[data-user="oscar"]');
  await ada.locator('#member-list li.member.online[data-user="oscar"]').waitFor();
  assert.equal(await ada.locator('#me-status').textContent(), 'Online');

  // Only the browser's network goes (the socket is not closed by the test): the page must not
  // wait for a heartbeat (25 s + 10 s) to notice. 5 s is far under that, and far over the event.
  await context.setOffline(true);
  await ada.locator('#banner[data-state="offline"]').waitFor({ state: 'visible', timeout: 5000 });
  await ada.locator('#banner-text', { hasText: "You're offline." }).waitFor();
  await ada.locator('#me-status', { hasText: /^Offline$/ }).waitFor();
  await ada.locator('#member-list li.member[data-user="oscar"][data-presence="unknown"]').waitFor();
  assert.equal(await oscar.evaluate((li) => li.classList.contains('online')), false);
  assert.equal(await oscar.locator('.sr-only').textContent(), ', presence unknown');
  const dot = await oscar.locator('.presence-dot').evaluate((d) => getComputedStyle(d).backgroundColor);
  assert.equal(dot, 'rgba(0, 0, 0, 0)', 'a hollow dot, not green');
  assert.equal(await ada.locator('#member-count').textContent(), 'presence unknown');

  // Back: the online event reconnects; the room's join re-syncs presence.
  await context.setOffline(false);
  await waitConnected(ada);
  await ada.locator('#member-list li.member.online[data-user="oscar"][data-presence="online"]').waitFor();
  await ada.locator('#me-status', { hasText: /^Online$/ }).waitFor();
  assert.match(await ada.locator('#member-count').textContent(), /^\d+ online$/);
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});

// In the page: the WCAG contrast ratio of each element's text (or placeholder) against the
// background it is drawn on (the ancestors' background colours composited, alpha included).
function contrasts(targets) {
  const parse = (c) => {
    const m = /^rgba?\(([^)]+)\)$/.exec(c.trim());
    if (!m) throw new Error(`unexpected colour ${c}`);
    const [r, g, b, a = 1] = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) layers.push(c);
      if (c.a === 1) break;
    }
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  const channel = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  return targets.map(({ selector, placeholder }) => {
    const el = document.querySelector(selector);
    if (!el) return { selector, missing: true };
    const bg = background(el);
    const fg = over(parse(getComputedStyle(el, placeholder ? '::placeholder' : null).color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    return { selector: placeholder ? `${selector}::placeholder` : selector, ratio: (hi + 0.05) / (lo + 0.05) };
  });
}

const SECONDARY = [
  { selector: '#rooms-heading' }, { selector: '#dms-heading' }, { selector: '#members-heading' },
  { selector: '#my-rooms-heading' }, { selector: '#directory-heading' },
  { selector: '#member-count' },
  { selector: '#composer-hint' }, { selector: '#composer-count' },
  { selector: '#composer-input', placeholder: true }, { selector: '#room-search', placeholder: true },
  { selector: '#create-room-name', placeholder: true }, { selector: '#new-dm-name', placeholder: true },
  { selector: '#message-list li.msg:not(.own) .time' }, { selector: '#message-list li.msg.own .time' },
  // Formatting (markdown.js): code, code blocks, quotes and links, in others' and one's own bubbles.
  ...['li.msg:not(.own)', 'li.msg.own'].flatMap((msg) => ['.md-code', '.md-pre code', '.md-quote', '.text a']
    .map((part) => ({ selector: `#message-list ${msg} ${part}` }))),
];
const FORMATTED = '`code` and [a link](https://example.com/)\n> quoted\n```\nblock\n```';

test('contrast: secondary text is at least 4.5:1 against its background, light and dark', async (t) => {
  const { page: light } = await person(t, { colorScheme: 'light' });
  const { page: dark } = await person(t, { colorScheme: 'dark' });
  await joinAs(light, server.url, 'lucia');
  await joinAs(dark, server.url, 'dmitri');
  await send(light, `from lucia ${FORMATTED}`);
  await dark.locator('#message-list li.msg', { hasText: 'from lucia' }).waitFor();
  await send(dark, `from dmitri ${FORMATTED}`);
  for (const page of [light, dark]) {
    await page.locator('#message-list li.msg.own').first().waitFor();
    await page.locator('#message-list li.msg:not(.own)').first().waitFor();
  }
  assert.equal(await light.evaluate(() => document.documentElement.dataset.theme), 'light');
  assert.equal(await dark.evaluate(() => document.documentElement.dataset.theme), 'dark');
  const failures = [];
  for (const [theme, page] of [['light', light], ['dark', dark]]) {
    for (const r of await page.evaluate(contrasts, SECONDARY)) {
      if (r.missing) failures.push(`${theme}: ${r.selector} not found`);
      else if (r.ratio < 4.5) failures.push(`${theme}: ${r.selector} ${r.ratio.toFixed(2)}:1`);
    }
  }
  assert.deepEqual(failures, [], `under 4.5:1:\n${failures.join('\n')}`);
});

test('theme setting: light / dark / system from the keyboard, kept, applied before the modules run', async (t) => {
  const { page } = await person(t, { colorScheme: 'light' });
  await joinAs(page, server.url, 'theo');
  const root = () => page.evaluate(() => [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]);
  assert.deepEqual(await root(), ['light', 'rgb(246, 247, 251)'], 'system (the default) follows the light system');

  // Keyboard only: Tab-reachable button, Enter opens, the checked radio has the focus, arrows choose.
  await page.locator('#user-settings-open').focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: 'Settings' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'theme-system');
  await page.keyboard.press('ArrowUp'); // System -> Dark
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'theme-dark');
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
  assert.deepEqual(await root(), ['dark', 'rgb(16, 18, 23)']);
  assert.equal(await page.evaluate(() => localStorage.getItem('parley.theme')), '"dark"');
  await page.keyboard.press('Escape');
  await page.getByRole('dialog', { name: 'Settings' }).waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'user-settings-open', 'focus back on the button');

  // A reload: the theme is there when parsing ends, before any module (app.js) has run.
  await page.addInitScript(() => {
    document.addEventListener('readystatechange', () => {
      if (document.readyState === 'interactive') window.__themeWhenParsed = document.documentElement.dataset.theme ?? null;
    });
  });
  await page.reload();
  await waitConnected(page);
  assert.equal(await page.evaluate(() => window.__themeWhenParsed), 'dark');

  // Light over a dark system, then back to system.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.locator('#user-settings-open').click();
  await page.getByRole('radio', { name: 'Light' }).check();
  assert.deepEqual(await root(), ['light', 'rgb(246, 247, 251)']);
  await page.getByRole('radio', { name: 'System' }).check();
  assert.deepEqual(await root(), ['dark', 'rgb(16, 18, 23)']);
  assert.equal(await page.evaluate(() => localStorage.getItem('parley.theme')), null, 'system is the default: nothing kept');
  await page.emulateMedia({ colorScheme: 'light' });
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
  assert.deepEqual(page.errors, []);
});

test('creating a room whose name exists says so and offers to open it', async (t) => {
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'rita');
  await joinAs(bob, server.url, 'rob');
  await bob.getByRole('button', { name: 'Create a room' }).click();
  await bob.getByLabel('New room name').fill('design');
  await bob.getByLabel('New room name').press('Enter');
  await bob.locator('#room-name', { hasText: /^design$/ }).waitFor();

  await ada.getByRole('button', { name: 'Create a room' }).click();
  await ada.getByLabel('New room name').fill('design');
  await ada.getByLabel('New room name').press('Enter');
  await ada.locator('#create-room-error', { hasText: '#design already exists.' }).waitFor();
  assert.equal(await ada.locator('#room-name').textContent(), 'general', 'not opened silently');
  const open = ada.getByRole('button', { name: 'Open #design' });
  await open.click();
  await ada.locator('#room-name', { hasText: /^design$/ }).waitFor();
  await ada.locator('#create-room-form').waitFor({ state: 'hidden' });
  await ada.locator('#create-room-error').waitFor({ state: 'hidden' });
  await waitConnected(ada);
  await ada.locator('#member-list li.member.online[data-user="rob"]').waitFor();
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});
