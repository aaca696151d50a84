// End-to-end: people chatting through the web UI in headless Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serverFor, personFor, joinAs, send, messages, waitForTexts } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const person = (t, opts) => personFor(t, browser, opts);

test('two people chat in real time; a third joins later and sees the history', async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');

  // Presence: ada sees bob arrive in the member list.
  await ada.locator('#member-list li.member.online[data-user="bob"]').waitFor();

  await send(ada, 'Hi Bob! 👋');
  await waitForTexts(bob, ['Hi Bob! 👋']);
  await waitForTexts(ada, ['Hi Bob! 👋']);

  // Typing indicator.
  await bob.getByRole('textbox', { name: 'Message #general' }).pressSequentially('Hel');
  await ada.locator('#typing', { hasText: 'bob is typing…' }).waitFor();

  // Shift+Enter adds a line, Enter sends.
  const box = bob.getByRole('textbox', { name: 'Message #general' });
  await box.fill('Hello Ada,');
  await box.press('Shift+Enter');
  await box.pressSequentially('two lines here.');
  await box.press('Enter');
  await waitForTexts(ada, ['Hi Bob! 👋', 'Hello Ada,\ntwo lines here.']);
  await waitForTexts(bob, ['Hi Bob! 👋', 'Hello Ada,\ntwo lines here.']);
  assert.equal(await box.inputValue(), '', 'composer cleared after sending');

  // The typing line clears when bob's message arrives.
  await ada.locator('#typing:empty').waitFor({ state: 'attached' });

  // Sender, time and own messages set apart.
  const adaView = await messages(ada);
  assert.deepEqual(adaView.map((m) => [m.seq, m.from]), [[1, 'ada'], [2, 'bob']]);
  assert.equal(await ada.locator('#message-list li.msg[data-seq="1"]').getAttribute('class'), 'msg own');
  assert.match(await ada.locator('#message-list li.msg[data-seq="2"]').getAttribute('class'), /^msg(?! own)/);
  assert.equal(await ada.locator('#message-list li.msg[data-seq="2"] .from').textContent(), 'bob');
  assert.match(await ada.locator('#message-list li.msg[data-seq="2"] time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
  assert.equal(await ada.locator('#message-list .day-sep').count(), 1);
  assert.equal(await ada.locator('#message-list .day-sep').textContent(), 'Today');

  // Screen readers hear new messages from others.
  await ada.locator('#announcer', { hasText: 'bob: Hello Ada,' }).waitFor({ state: 'attached' });

  // A third person joins later and sees the history.
  const { page: carol } = await person(t);
  await joinAs(carol, server.url, 'carol');
  await waitForTexts(carol, ['Hi Bob! 👋', 'Hello Ada,\ntwo lines here.']);
  assert.deepEqual((await messages(carol)).map((m) => m.from), ['ada', 'bob']);
  await carol.getByText('This is the beginning of #general.').waitFor();

  // ...and then takes part live.
  await send(carol, 'Morning all ☕');
  for (const page of [ada, bob, carol]) {
    await waitForTexts(page, ['Hi Bob! 👋', 'Hello Ada,\ntwo lines here.', 'Morning all ☕']);
  }
  await ada.locator('#member-list li.member.online[data-user="carol"]').waitFor();
  assert.equal(await ada.locator('#room-sub').textContent(), '3 members online');

  for (const page of [ada, bob, carol]) assert.deepEqual(page.errors, []);
});

test('user text is always text: markup shows literally and never runs', async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob <b>');

  const evil = '<img src=x onerror=window.__xss=1>';
  await send(bob, evil);
  await send(ada, 'see https://example.com/a_(b)?q=1&r=2, javascript:alert(1) and <script>window.__xss=2</script>');
  const texts = [evil, 'see https://example.com/a_(b)?q=1&r=2, javascript:alert(1) and <script>window.__xss=2</script>'];
  await waitForTexts(ada, texts);
  await waitForTexts(bob, texts);

  for (const page of [ada, bob]) {
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.locator('#message-list img, #message-list script').count(), 0);
    assert.equal(await page.locator('#message-list li.msg[data-seq="1"]').getAttribute('data-from'), 'bob <b>');
    // Only the http(s) URL became a link, and it cannot reach back to us.
    const links = await page.$$eval('#message-list a', (as) => as.map((a) => ({ href: a.getAttribute('href'), rel: a.rel, text: a.textContent })));
    assert.deepEqual(links, [{ href: 'https://example.com/a_(b)?q=1&r=2', rel: 'noopener noreferrer nofollow', text: 'https://example.com/a_(b)?q=1&r=2' }]);
  }
  // The sender's name is text too, in the message list and the member list.
  assert.equal(await ada.locator('#message-list li.msg[data-seq="1"] .from').textContent(), 'bob <b>');
  assert.equal(await ada.locator('#member-list li[data-user="bob <b>"] .member-name').textContent(), 'bob <b>');
  assert.equal(await ada.evaluate(() => window.__xss), undefined);
  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
});

test('rooms: create a room, unread badges, switching rooms', async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');

  // ada creates #ops; it shows up for bob without a reload.
  await ada.getByRole('button', { name: 'Create a room' }).click();
  await ada.getByLabel('New room name').fill('bad name!');
  await ada.getByLabel('New room name').press('Enter');
  await ada.locator('#create-room-error', { hasText: 'no spaces' }).waitFor();
  await ada.getByLabel('New room name').fill('ops');
  await ada.getByLabel('New room name').press('Enter');
  await ada.locator('#room-name', { hasText: 'ops' }).waitFor();
  await ada.getByText('No messages in #ops yet. Say hello!').waitFor();
  assert.equal(await ada.locator('#room-list button[aria-current="page"]').getAttribute('data-room'), 'ops');
  await bob.locator('#room-list button[data-room="ops"]').waitFor();

  // bob joins #ops, goes back to #general; ada posts in #ops: bob gets a badge.
  await bob.locator('#room-list button[data-room="ops"]').click();
  await bob.locator('#room-name', { hasText: 'ops' }).waitFor();
  await bob.locator('#history-status', { hasText: 'No messages in #ops yet' }).waitFor();
  await bob.locator('#room-list button[data-room="general"]').click();
  await bob.locator('#room-name', { hasText: 'general' }).waitFor();

  await send(ada, 'deploy at 5?');
  await send(ada, 'or 6');
  const badge = bob.locator('#room-list button[data-room="ops"] .badge');
  await badge.filter({ hasText: '2' }).waitFor();
  assert.equal(await bob.locator('#room-list button[data-room="ops"]').textContent(), '#ops2, 2 unread');
  assert.match(await bob.title(), /^\(2\) /);

  // Opening the room clears the badge and shows the messages.
  await bob.locator('#room-list button[data-room="ops"]').click();
  await waitForTexts(bob, ['deploy at 5?', 'or 6']);
  await badge.waitFor({ state: 'detached' });
  assert.equal(await bob.getByRole('textbox', { name: 'Message #ops' }).count(), 1);

  // Messages in #ops did not leak into #general.
  await ada.locator('#room-list button[data-room="general"]').click();
  await waitForTexts(ada, []);
});

test('scroll-back loads older history page by page, without gaps or duplicates', async (t) => {
  const server = await serverFor(t, { set: { 'limits.send_rate': 1000, 'limits.send_burst': 1000, 'limits.request_rate': 1000, 'limits.request_burst': 1000 } });
  const { page: ada } = await person(t);
  await joinAs(ada, server.url, 'ada');
  const N = 130;
  // Post N messages through the page's own client, then wait for the acks.
  await ada.evaluate(async (n) => {
    const c = window.parley.client;
    const items = [];
    for (let i = 1; i <= n; i++) items.push(c.send('general', `message ${i}`));
    await Promise.all(items.map((x) => x.promise));
  }, N);

  const { page: bob } = await person(t, { viewport: { width: 1000, height: 700 } });
  await joinAs(bob, server.url, 'bob');
  const first = await messages(bob);
  assert.ok(first.length >= 50 && first.length < N, `first screen shows the newest page (${first.length})`);
  assert.equal(first.at(-1).text, `message ${N}`);

  // Scroll to the top until the beginning is reached (bounded).
  for (let i = 0; i < 10; i++) {
    if (await bob.locator('#history-status.start').count()) break;
    await bob.locator('#scroller').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
    await bob.waitForTimeout(150);
  }
  await bob.getByText('This is the beginning of #general.').waitFor();
  const all = await messages(bob);
  assert.deepEqual(all.map((m) => m.seq), Array.from({ length: N }, (_, i) => i + 1));
  assert.deepEqual(all.map((m) => m.text), Array.from({ length: N }, (_, i) => `message ${i + 1}`));

  // Keyboard users get a button instead of scrolling.
  assert.equal(await bob.locator('#load-older').isHidden(), true);
  assert.deepEqual(bob.errors, []);
});

test('composer: length limit from welcome, Enter on empty does nothing', async (t) => {
  const server = await serverFor(t, { set: { 'limits.max_text_length': 20 } });
  const { page: ada } = await person(t);
  await joinAs(ada, server.url, 'ada');
  const box = ada.getByRole('textbox', { name: 'Message #general' });
  const count = ada.locator('#composer-count');
  assert.equal(await count.textContent(), '0 / 20');
  await box.fill('🦊'.repeat(19));
  assert.equal(await count.textContent(), '19 / 20', 'emoji count as one character each');
  await box.fill('x'.repeat(21));
  assert.equal(await count.textContent(), '21 / 20');
  assert.match(await count.getAttribute('class'), /over/);
  assert.equal(await ada.locator('#composer-send').isDisabled(), true);
  await box.press('Enter');
  assert.equal(await box.inputValue(), 'x'.repeat(21), 'not sent, text kept');
  await box.fill('   ');
  await box.press('Enter');
  await box.fill('🦊'.repeat(20));
  await box.press('Enter');
  await waitForTexts(ada, ['🦊'.repeat(20)]);
  assert.deepEqual(ada.errors, []);
});

test('join screen: the name is checked before joining', async (t) => {
  const server = await serverFor(t);
  const { page } = await person(t);
  await page.goto(server.url);
  const name = page.getByLabel('Display name');
  await page.getByRole('button', { name: 'Join chat' }).click();
  await page.getByRole('alert').filter({ hasText: 'Enter a display name.' }).waitFor();
  await name.fill('n'.repeat(33));
  await name.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'at most 32 characters' }).waitFor();
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  await name.fill('🦊'.repeat(32));
  await name.press('Enter');
  await page.locator('#app[data-connection="connected"]').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#me-name').textContent(), '🦊'.repeat(32));
  assert.deepEqual(page.errors, []);
});

test('security headers: the page keeps its own policy, runs no injected inline script and is framed by no one', async (t) => {
  const server = await serverFor(t);
  const { page } = await person(t);
  const response = await page.goto(server.url);
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /(^|; )frame-ancestors 'none'(;|$)/);
  assert.match(headers['content-security-policy'], /(^|; )connect-src 'self'(;|$)/);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  // The app itself, WebSocket included, breaks none of it: page.errors collects every
  // securitypolicyviolation event (and every console error).
  await page.getByLabel('Display name').fill('ada');
  await page.getByRole('button', { name: 'Join chat' }).click();
  await page.locator('#app[data-connection="connected"]').waitFor({ state: 'attached' });
  await send(page, 'hello');
  await waitForTexts(page, ['hello']);
  assert.deepEqual(page.errors, []);

  // A script element slipped into the page does not run, and the browser reports why (which is
  // also how the check above would see a violation of the app's own).
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__injected = 1';
    document.head.append(s);
  });
  await until(() => page.errors.some((e) => e.startsWith('csp: script-src')));
  assert.ok(page.errors.some((e) => e.startsWith('csp: script-src')), page.errors.join('\n'));
  assert.equal(await page.evaluate(() => window.__injected), undefined);

  // Another page cannot frame it (clickjacking): the frame shows Chromium's error page instead.
  const { page: other } = await person(t);
  await other.setContent(`<iframe src="${server.url}/"></iframe>`);
  const framed = other.frames()[1];
  await until(() => framed.url().startsWith('chrome-error:'));
  assert.match(framed.url(), /^chrome-error:/);
  assert.ok(other.errors.some((e) => /frame-ancestors 'none'/.test(e)), other.errors.join('\n'));
});

/** Polls `cond` every 20 ms for up to 2 s. */
async function until(cond) {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
}

test("the name shown is the server's; a look-alike of someone in #general chooses another name", async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  await joinAs(ada, server.url, '  ｐａｙｐａｌ  ');
  await ada.locator('#me-name', { hasText: /^paypal$/ }).waitFor();
  await ada.locator('#member-list li.member[data-user="paypal"]').waitFor();

  const { page: twin } = await person(t);
  await twin.goto(server.url);
  await twin.getByLabel('Display name').fill('p\u0430ypal'); // a Cyrillic а
  await twin.getByRole('button', { name: 'Join chat' }).click();
  // Back on the join screen, told why, with no reconnect or re-join loop meanwhile.
  await twin.getByRole('alert').filter({ hasText: 'looks like yours' }).waitFor();
  assert.equal(await twin.locator('#join-screen').isVisible(), true);
  assert.equal(await ada.locator('#member-list li.member[data-user="p\u0430ypal"]').count(), 0);
  assert.deepEqual(ada.errors, []);
});

test('the room directory: a page at a time, "More rooms" for the next, and a search', async (t) => {
  const server = await serverFor(t, { set: { 'limits.rooms_page': 2 } });
  const { page: ada } = await person(t);
  await joinAs(ada, server.url, 'ada');
  for (const room of ['ops', 'devops', 'sales']) {
    await ada.getByRole('button', { name: 'Create a room' }).click();
    await ada.getByLabel('New room name').fill(room);
    await ada.getByLabel('New room name').press('Enter');
    await ada.locator('#room-name', { hasText: room }).waitFor();
  }
  const { page: bob } = await person(t);
  await joinAs(bob, server.url, 'bob');
  // The first page: devops and general (and bob's own rooms); the rest on request.
  await bob.locator('#room-list button[data-room="devops"]').waitFor();
  const more = bob.getByRole('button', { name: 'More rooms' });
  await more.waitFor();
  assert.equal(await bob.locator('#room-list button[data-room="sales"]').count(), 0);
  await more.click();  // the last page: ops and sales
  await bob.locator('#room-list button[data-room="ops"]').waitFor();
  await bob.locator('#room-list button[data-room="sales"]').waitFor();
  await more.waitFor({ state: 'hidden' });
  // A search asks the server: only what matches (and the rooms bob is in).
  await bob.getByLabel('Find a room').fill('SAL');
  await bob.locator('#room-list button[data-room="devops"]').waitFor({ state: 'detached' });
  assert.deepEqual(await bob.locator('#room-list button[data-room]').evaluateAll((b) => b.map((x) => x.dataset.room)),
    ['general', 'sales']);
  assert.deepEqual(bob.errors, []);
});

test('a room the operator deletes leaves every list; whoever was in it is moved to #general and told', async (t) => {
  const server = await serverFor(t);
  const { page: ada } = await person(t);
  const { page: bob } = await person(t);
  await joinAs(ada, server.url, 'ada');
  await joinAs(bob, server.url, 'bob');
  await ada.getByRole('button', { name: 'Create a room' }).click();
  await ada.getByLabel('New room name').fill('ops');
  await ada.getByLabel('New room name').press('Enter');
  await ada.locator('#room-name', { hasText: 'ops' }).waitFor();
  await send(ada, 'to be deleted');
  await waitForTexts(ada, ['to be deleted']);
  await bob.locator('#room-list button[data-room="ops"]').waitFor();

  const r = await server.admin('delete-room', 'ops');
  assert.equal(r.code, 0, r.output);

  await ada.locator('#room-notice', { hasText: '#ops was deleted' }).waitFor();
  await ada.locator('#room-name', { hasText: 'general' }).waitFor();
  await ada.locator('#room-list button[data-room="ops"]').waitFor({ state: 'detached' });
  await bob.locator('#room-list button[data-room="ops"]').waitFor({ state: 'detached' });
  assert.equal(await bob.locator('#room-notice').isHidden(), true, 'bob was not in it: no notice');

  // A reload does not try to join it again (it is no longer remembered).
  await ada.reload();
  await ada.locator('#room-name', { hasText: 'general' }).waitFor();
  assert.equal(await ada.locator('#room-list button[data-room="ops"]').count(), 0);
});
