// Headless Debian Chromium via playwright-core (never downloads a browser),
// plus helpers that drive the Parley web UI like a person would.

import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';
import { startServer } from './server.mjs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Launch headless Chromium. Playwright gives every launch a fresh temporary
 * user-data-dir (deleted on close); each newContext() is an isolated profile
 * (own cookies and localStorage), i.e. a separate person.
 */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30000 });
}

/**
 * A new person: own browser context and page. Page errors, console errors and
 * Content-Security-Policy violations (the securitypolicyviolation events of
 * every frame) are collected in page.errors so tests can assert there were none.
 */
export async function newPerson(browser, { viewport = { width: 1280, height: 800 }, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(`pageerror: ${err.message}`));
  await page.exposeFunction('__parleyCspViolation', (what) => page.errors.push(`csp: ${what}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__parleyCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|Failed to load resource/.test(msg.text())) {
      page.errors.push(`console: ${msg.text()}`);
    }
  });
  return { context, page };
}

/** Open the app, type a name, and wait until connected with the room loaded. */
export async function joinAs(page, url, name) {
  await page.goto(url);
  await page.getByLabel('Display name').fill(name);
  await page.getByRole('button', { name: 'Join chat' }).click();
  await waitConnected(page);
  await page.locator('#history-status:not(:has-text("Loading"))').waitFor({ state: 'attached' });
}

export async function waitConnected(page, timeout = 20000) {
  await page.locator('#app[data-connection="connected"]').waitFor({ state: 'attached', timeout });
}

/** Type into the composer and press Enter. */
export async function send(page, text) {
  const box = page.getByRole('textbox', { name: /^Message #/ });
  await box.fill(text);
  await box.press('Enter');
}

/** Confirmed messages of the shown room: [{ seq, from, text }]. */
export function messages(page) {
  return page.$$eval('#message-list li.msg', (lis) => lis.map((li) => ({
    seq: Number(li.dataset.seq),
    from: li.dataset.from,
    text: li.querySelector('.text').textContent,
  })));
}

/** Wait until the shown room has confirmed messages with exactly these texts (in order). */
export async function waitForTexts(page, texts, timeout = 20000) {
  await page.waitForFunction((want) => {
    const got = [...document.querySelectorAll('#message-list li.msg .text')].map((t) => t.textContent);
    return got.length === want.length && got.every((t, i) => t === want[i]);
  }, texts, { timeout, polling: 100 }).catch(async (err) => {
    const got = (await messages(page)).map((m) => m.text);
    err.message += `\nwanted: ${JSON.stringify(texts)}\ngot:    ${JSON.stringify(got)}`;
    throw err;
  });
}

/** A fresh server for one test (node:test's `t`), cleaned up when the test ends, pass or fail. */
export async function serverFor(t, opts) {
  const server = await startServer(opts);
  t.after(() => server.cleanup());
  return server;
}

/** A person (a browser context of its own) for one test, closed when the test ends. */
export async function personFor(t, browser, opts) {
  const p = await newPerson(browser, opts);
  t.after(() => p.context.close());
  return p;
}
