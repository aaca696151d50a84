// End-to-end: the admin console (/admin, docs/operations.md "Admin console") in headless Chromium
// (auth.admins=root):
// - two nodes on one redis-server (sharing one SQLite data directory, so that accounts are one):
//   an admin on the first sees the second node appear, live over the admin channel (no polling),
//   bans a user whose open chat session on the OTHER node is closed, and lifts the ban; deletes a
//   room made on the other node, whose member there sees it go;
// - one node alone (shared by the remaining cases): the admin deletes a room (a member in the chat
//   UI sees it go) and one of the member's messages by its seq (she sees "message deleted"; a seq
//   the room does not have is refused with its code);
//   a non-admin account opening /admin sees "Forbidden" and no data, and the admin API answers 403;
//   a browser that is not signed in is told to sign in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, personFor, joinAs, waitConnected, send, waitForTexts } from '../lib/browser.mjs';
import { ParleyServer, startServer } from '../lib/server.mjs';
import { startRedis } from '../lib/redis.mjs';

const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };
let browser;
let server;
before(async () => {
  browser = await launchBrowser();
  server = await startServer({ set: { ...CHEAP_HASH, 'auth.admins': 'root' } });
});
after(async () => {
  await browser?.close();
  await server?.cleanup();
});

const person = (t, opts) => personFor(t, browser, opts);

// Registers `name` from the page (the context keeps the session cookie), as the join screen would.
async function registered(page, name, url = server.url) {
  await page.goto(url + '/admin/'); // a page of the origin whose CSP lets it fetch
  const status = await page.evaluate(async (n) => (await fetch('/api/register', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: n, password: 'correct horse' }),
  })).status, name);
  assert.equal(status, 201);
}

// Confirms the dialog that an action opens, and waits for the result line.
async function confirmAndWait(page, result) {
  const dialog = page.getByRole('dialog', { name: 'Are you sure?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#action-result', { hasText: result }).waitFor();
}

test('a cluster: the admin sees the second node appear, a ban closes a session on the other node, a deleted room leaves it', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const cluster = { ...CHEAP_HASH, 'auth.admins': 'root', 'broker.backend': 'redis', 'broker.redis_url': redis.url };
  const a = await startServer({ set: cluster });
  t.after(() => a.cleanup());
  const { page: admin } = await person(t);
  await registered(admin, 'root', a.url);
  await admin.goto(a.url + '/admin');
  await admin.locator('#admin-state', { hasText: /^Live · 1 node$/ }).waitFor();
  // The node, live: its sparklines fill a sample a second, with no reload.
  await admin.waitForFunction(() => {
    const line = document.querySelector('#nodes-body tr polyline');
    return line && line.getAttribute('points').split(' ').length >= 2;
  });

  // A second node starts: it appears, up.
  const b = new ParleyServer({ set: cluster, dataDir: a.dataDir });
  t.after(() => b.stop());
  await b.start();
  await admin.locator('#admin-state', { hasText: /^Live · 2 nodes$/ }).waitFor();
  assert.equal(await admin.locator('#nodes-body tr .state', { hasText: /^up$/ }).count(), 2);

  // dave, signed in to the chat on the second node; the admin on the first bans him.
  const { page: dave } = await person(t);
  await registered(dave, 'dave', b.url);
  await dave.goto(b.url);
  await waitConnected(dave);
  await admin.getByLabel('User', { exact: true }).fill('dave');
  await admin.getByRole('button', { name: 'Ban', exact: true }).click();
  await confirmAndWait(admin, 'dave banned');
  await dave.locator('#join-screen').waitFor({ state: 'visible' });
  const login = (page) => page.evaluate(async () => (await fetch('/api/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'dave', password: 'correct horse' }),
  })).status);
  assert.equal(await login(dave), 403);
  await admin.getByRole('button', { name: 'Unban', exact: true }).click();
  await confirmAndWait(admin, 'dave may sign in again');
  assert.equal(await login(dave), 200);

  // erin makes a room on the second node; the admin on the first deletes it: erin sees it go.
  const { page: erin } = await person(t);
  await joinAs(erin, b.url, 'erin');
  await erin.getByRole('button', { name: 'Create a room' }).click();
  await erin.getByLabel('New room name').fill('ops');
  await erin.getByLabel('New room name').press('Enter');
  await erin.locator('#room-name', { hasText: 'ops' }).waitFor();
  await admin.getByLabel('Room', { exact: true }).fill('ops');
  await admin.getByRole('button', { name: 'Delete room' }).click();
  await confirmAndWait(admin, 'room ops deleted');
  await erin.locator('#room-list button[data-room="ops"]').waitFor({ state: 'detached' });
  await erin.locator('#room-name', { hasText: 'general' }).waitFor();
  assert.deepEqual(admin.errors, []);
  assert.deepEqual(erin.errors, []);
});

test('one node: the admin deletes a room and a message (its member sees each go)', async (t) => {
  const { page: admin } = await person(t);
  await registered(admin, 'root');
  await admin.goto(server.url + '/admin');
  await admin.locator('#nodes-body tr[data-node="local"]').waitFor();

  // A member of a room, in the chat UI; the admin deletes the room from the busiest rooms.
  const { page: carol } = await person(t);
  await joinAs(carol, server.url, 'carol');
  await carol.getByRole('button', { name: 'Create a room' }).click();
  await carol.getByLabel('New room name').fill('ops');
  await carol.getByLabel('New room name').press('Enter');
  await carol.locator('#room-name', { hasText: 'ops' }).waitFor();
  const roomRow = admin.locator('#rooms-body tr[data-room="ops"]');
  await roomRow.waitFor();
  await roomRow.getByRole('button', { name: 'Delete' }).click();
  await confirmAndWait(admin, 'room ops deleted');
  await carol.locator('#room-list button[data-room="ops"]').waitFor({ state: 'detached' });
  await carol.locator('#room-name', { hasText: 'general' }).waitFor();
  await roomRow.waitFor({ state: 'detached' });

  // A message of carol's in #general, deleted by the admin by its seq: carol sees it go.
  await send(carol, 'an unwanted message');
  const msg = carol.locator('#message-list li.msg', { hasText: 'an unwanted message' });
  await msg.waitFor();
  const seq = await msg.getAttribute('data-seq');
  await admin.getByLabel('Message: room').fill('general');
  await admin.getByLabel('seq', { exact: true }).fill(seq);
  await admin.getByRole('button', { name: 'Delete message' }).click();
  await confirmAndWait(admin, `message ${seq} of general deleted`);
  await waitForTexts(carol, ['message deleted']);
  assert.equal(await carol.getByText('an unwanted message').count(), 0);
  // A seq the room does not have: refused, with the reason.
  await admin.getByLabel('seq', { exact: true }).fill('999');
  await admin.getByRole('button', { name: 'Delete message' }).click();
  await confirmAndWait(admin, /Refused \(404 no_such_message\)/);

  assert.deepEqual(admin.errors, []);
  assert.deepEqual(carol.errors, []);
});

test('not an admin: forbidden and no data; the admin API says 403; not signed in: sign in first', async (t) => {
  const { page } = await person(t);
  await registered(page, 'erin');
  await page.goto(server.url + '/admin');
  await page.locator('#admin-denied-title', { hasText: 'Forbidden' }).waitFor();
  assert.equal(await page.locator('#admin-main').isVisible(), false);
  assert.equal(await page.locator('#nodes-body tr').count(), 0);
  assert.equal(await page.evaluate(async () => (await fetch('/api/admin/nodes')).status), 403);

  const { page: stranger } = await person(t);
  await stranger.goto(server.url + '/admin/');
  await stranger.locator('#admin-denied-title', { hasText: 'Sign in first' }).waitFor();
  assert.equal(await stranger.evaluate(async () => (await fetch('/api/admin/nodes')).status), 401);
  assert.deepEqual(page.errors, []);
});
