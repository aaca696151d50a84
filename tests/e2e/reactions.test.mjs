// End-to-end: reactions and replies in headless Chromium, two people. Bob reacts from the picker
// (a quick emoji, then one found by its shortcode name); both see the chip with its count and who
// reacted; Ada adds hers by clicking the chip and Bob takes his back; a reload shows the same.
// Ada replies to a message: the composer says what she answers, Bob sees the quote, and clicking
// it brings the answered message into view.

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

// The reaction chips of message `n` as "emoji count (who)", waited for until they are `want`.
async function waitForChips(page, n, want, timeout = 20000) {
  await page.waitForFunction(([i, w]) => {
    const li = document.querySelectorAll('#message-list li.msg')[i];
    const got = [...(li?.querySelectorAll('.reaction') ?? [])].map((c) => `${c.textContent} (${c.title.replace('Reacted by ', '')})`);
    return JSON.stringify(got) === JSON.stringify(w);
  }, [n, want], { timeout, polling: 100 });
}

test('reactions with counts and who reacted, toggled by their chips; a reply quotes and jumps to what it answers', async (t) => {
  const { page: ada } = await personFor(t, browser);
  const { page: bob } = await personFor(t, browser);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');
  await send(ada, 'ship it?');
  await send(ada, 'tests are green');
  await waitForTexts(bob, ['ship it?', 'tests are green']);

  // Bob reacts from the picker: a quick emoji, then one found by name.
  const first = bob.locator('#message-list li.msg').first();
  await first.getByRole('button', { name: 'Add reaction' }).click();
  await bob.getByRole('button', { name: 'React with 🎉' }).click();
  await waitForChips(bob, 0, ['🎉1 (bob)']);
  await waitForChips(ada, 0, ['🎉1 (bob)']);
  await first.getByRole('button', { name: 'Add reaction' }).click();
  await bob.getByRole('searchbox', { name: 'Search emoji by name' }).fill('rocket');
  await bob.getByRole('button', { name: 'React with :rocket:' }).click();
  await waitForChips(ada, 0, ['🎉1 (bob)', '🚀1 (bob)']);

  // Ada adds hers by its chip; Bob takes his 🎉 back by his.
  await ada.locator('#message-list li.msg').first().locator('.reaction', { hasText: '🎉' }).click();
  await waitForChips(bob, 0, ['🎉2 (bob, ada)', '🚀1 (bob)']);
  // Ada's page marks her chip once her own reaction comes back, which may be after Bob's page
  // shows it (a clean-clone CI run read it in between): waited for, not read at once.
  await waitForChips(ada, 0, ['🎉2 (bob, ada)', '🚀1 (bob)']);
  await ada.waitForFunction(
    () => document.querySelectorAll('#message-list li.msg')[0]?.querySelectorAll('.reaction.mine').length === 1,
    null, { timeout: 5000, polling: 100 });
  await first.locator('.reaction', { hasText: '🎉' }).click();
  await waitForChips(ada, 0, ['🎉1 (ada)', '🚀1 (bob)']);

  // A reload (history): the same reactions, not applied twice.
  await bob.reload();
  await waitForTexts(bob, ['ship it?', 'tests are green']);
  await waitForChips(bob, 0, ['🎉1 (ada)', '🚀1 (bob)']);

  // Ada replies to the first message: the composer shows it, Bob sees the quote and follows it.
  await ada.locator('#message-list li.msg').first().getByRole('button', { name: 'Reply to message' }).click();
  assert.equal(await ada.locator('#reply-bar').isVisible(), true);
  assert.match(await ada.locator('#reply-bar').textContent(), /Replying to\s+ada\s+ship it\?/);
  await send(ada, 'yes: shipping');
  assert.equal(await ada.locator('#reply-bar').isVisible(), false, 'the reply bar goes once sent');
  await waitForTexts(bob, ['ship it?', 'tests are green', 'yes: shipping']);
  const quote = bob.locator('#message-list li.msg').nth(2).locator('.reply-quote');
  assert.equal(await quote.textContent(), 'adaship it?');
  await quote.click();
  await bob.waitForFunction(() => document.activeElement?.matches('#message-list li.msg.flash')
    && document.activeElement.querySelector('.text')?.textContent === 'ship it?');
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});
