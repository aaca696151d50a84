// End-to-end: editing and deleting one's own message in headless Chromium, seen by a second
// person: the Edit and Delete actions are on one's own messages only (reachable from the keyboard),
// an edited message shows its new text and "(edited)" to everyone, a deleted one "message
// deleted" and no text; a reload (history) shows the same.

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

test('an edit and a delete of one\'s own message, seen by another person, and after a reload', async (t) => {
  const { page: ada } = await personFor(t, browser);
  const { page: bob } = await personFor(t, browser);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');
  await send(ada, 'helo everyone');
  await send(ada, 'a secret');
  await waitForTexts(bob, ['helo everyone', 'a secret']);

  // Not bob's messages: no Edit or Delete on them for him (React and Reply are for everyone).
  assert.equal(await bob.locator('#message-list li.msg [data-action="edit-message"], #message-list li.msg [data-action="delete-message"]').count(), 0);

  // Ada edits from the keyboard: Tab reaches Edit, Enter opens the form, Enter saves.
  const first = ada.locator('#message-list li.msg').first();
  await first.getByRole('button', { name: 'Edit message' }).focus();
  await ada.keyboard.press('Enter');
  const box = ada.getByRole('textbox', { name: 'Edit message' });
  await box.fill('hello everyone');
  await box.press('Enter');
  await waitForTexts(bob, ['hello everyone (edited)', 'a secret']);
  await waitForTexts(ada, ['hello everyone (edited)', 'a secret']);

  // Ada deletes the second, confirming.
  ada.once('dialog', (d) => d.accept());
  await ada.locator('#message-list li.msg').nth(1).getByRole('button', { name: 'Delete message' }).click();
  await waitForTexts(bob, ['hello everyone (edited)', 'message deleted']);
  assert.equal(await bob.locator('#message-list li.msg.deleted').count(), 1);
  assert.equal(await ada.locator('#message-list li.msg.deleted .msg-actions').count(), 0, 'nothing more to do to it');

  // A reload: history holds the messages as they are now, and the changes are not shown twice.
  await bob.reload();
  await waitForTexts(bob, ['hello everyone (edited)', 'message deleted']);
  assert.equal(await bob.getByText('a secret').count(), 0);
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});
