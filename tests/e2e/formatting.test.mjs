// End-to-end: safe formatting (issue 17) in headless Chromium, one server shared by the cases
// (each case has people of its own). What one person sends as Markdown, another sees rendered
// (bold, italic, code, a code block, a quote, a link, an emoji shortcode), and what is an attack
// (markup, a javascript: link, a script in a code block) stays text and never runs; the composer
// completes ":ta" to an emoji from the keyboard; a new message's time reads "just now".

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, personFor, joinAs, send, waitForTexts } from '../lib/browser.mjs';
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

const SENT = [
  '**bold** and _italic_ with `code` and [the docs](https://example.com/docs) :tada:',
  '> quoted **line**\nreply',
  '```\n<script>window.__xss=2</script>\n```',
  '<img src=x onerror=window.__xss=1> [click](javascript:window.__xss=3) *<svg onload=window.__xss=4>*',
];
// What each reads as (textContent): markers gone, the emoji in place of its code, markup as typed.
const SHOWN = [
  'bold and italic with code and the docs 🎉',
  'quoted linereply',
  '<script>window.__xss=2</script>',
  '<img src=x onerror=window.__xss=1> [click](javascript:window.__xss=3) <svg onload=window.__xss=4>',
];

test('Markdown one person sends is rendered for another; attacks stay text and never run', async (t) => {
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'fiona');
  await joinAs(bob, server.url, 'fred');
  for (const text of SENT) await send(ada, text);
  await waitForTexts(bob, SHOWN);
  await waitForTexts(ada, SHOWN);

  for (const page of [bob, ada]) {
    const msg = (seq) => page.locator(`#message-list li.msg[data-seq="${seq}"] .text`);
    assert.equal(await msg(1).locator('strong').textContent(), 'bold');
    assert.equal(await msg(1).locator('em').textContent(), 'italic');
    assert.equal(await msg(1).locator('code.md-code').textContent(), 'code');
    assert.equal(await msg(1).locator('span.emoji').getAttribute('title'), ':tada:');
    assert.equal(await msg(2).locator('blockquote.md-quote').textContent(), 'quoted line');
    assert.equal(await msg(2).locator('blockquote strong').textContent(), 'line');
    assert.equal(await msg(3).locator('pre.md-pre code').textContent(), '<script>window.__xss=2</script>');
    assert.equal(await msg(4).locator('em').textContent(), '<svg onload=window.__xss=4>');

    // The one link is the https one, and it cannot reach back to the page.
    const links = await page.$$eval('#message-list a', (as) => as.map((a) => ({ href: a.getAttribute('href'), rel: a.rel, target: a.target, text: a.textContent })));
    assert.deepEqual(links, [{ href: 'https://example.com/docs', rel: 'noopener noreferrer nofollow', target: '_blank', text: 'the docs' }]);
    assert.equal(await page.locator('#message-list img, #message-list script, #message-list svg, #message-list iframe').count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);

    // Times: relative, with the full date in the title.
    const time = page.locator('#message-list li.msg[data-seq="4"] time');
    assert.equal(await time.textContent(), 'just now');
    assert.match(await time.getAttribute('title'), /\d{4}/);
  }
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('composer: ":ta" offers emoji; arrows choose, Enter inserts, Escape closes; the emoji is sent', async (t) => {
  const { page } = await person(t);
  await joinAs(page, server.url, 'gina');
  const box = page.getByRole('textbox', { name: /^Message #/ });
  const list = page.getByRole('listbox', { name: 'Emoji' });
  const shown = await page.locator('#message-list li.msg').count(); // the room may have messages of the other case

  await box.pressSequentially('ship it :ta');
  await list.waitFor();
  assert.equal(await box.getAttribute('aria-expanded'), 'true');
  const options = await list.getByRole('option').allTextContents();
  assert.ok(options.length >= 2 && options.length <= 8, `options: ${options}`);
  assert.ok(options.every((o) => /:[a-z0-9_+-]*ta[a-z0-9_+-]*:$/.test(o)), `options: ${options}`);
  const second = options[1].trim().split(' ')[0];
  await box.press('ArrowDown');
  assert.equal(await box.getAttribute('aria-activedescendant'), 'emoji-suggestions-1');
  assert.equal(await list.getByRole('option', { selected: true }).textContent(), options[1]);
  await box.press('Enter');
  await list.waitFor({ state: 'hidden' });
  assert.equal(await box.inputValue(), `ship it ${second} `, 'Enter inserted the emoji, did not send');
  assert.equal(await page.locator('#pending-list li').count(), 0);
  assert.equal(await page.locator('#message-list li.msg').count(), shown);
  await box.pressSequentially(':+1');
  await list.waitFor();
  await box.press('Tab');
  await list.waitFor({ state: 'hidden' });
  assert.equal(await box.inputValue(), `ship it ${second} 👍 `, 'Tab inserts the first');

  // Escape closes the list and leaves the text; Enter then sends.
  await box.pressSequentially(':smi');
  await list.waitFor();
  await box.press('Escape');
  await list.waitFor({ state: 'hidden' });
  assert.equal(await box.getAttribute('aria-expanded'), 'false');
  await box.press('Enter');
  await page.locator('#message-list li.msg.own .text', { hasText: 'ship it' }).waitFor();
  assert.equal(await page.locator('#message-list li.msg.own .text').last().textContent(), `ship it ${second} 👍 :smi`);
  assert.equal(await box.inputValue(), '');
  assert.deepEqual(page.errors, []);
});
