// End-to-end: files and images in headless Chromium, two signed-in people (docs/api.md "Files",
// client.md). Ada attaches a PNG (made here, in JS) with the paperclip, sees its upload finish and
// sends it; Bob sees the thumbnail inline, opens the viewer (full image, name, download) and
// closes it with Escape, the focus back on the thumbnail. Ada sends a text file without text; Bob
// sees a card whose download link gives the same bytes. A file over `files.max_bytes` is refused
// on its chip in words and blocks Send until removed; a drop on the messages and a paste into
// the box attach a file; a guest has no paperclip, and sees the thumbnail and downloads the file.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, crc32 } from 'node:zlib';
import { launchBrowser, serverFor, personFor, joinAs, waitConnected } from '../lib/browser.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

// Cheap password hashing: the defaults cost a good part of a second per hash.
const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };
// Over the 16 KiB that bounds every other /api/ body, so that the image (about 63 KB) shows an
// upload is not held to that.
const MAX_BYTES = 64 * 1024;

/** A valid PNG of w × h pixels, RGB, a gradient (no fixture: built from its chunks). */
function makePng(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3); // filter 0
    for (let x = 0; x < w; x++) row.set([(x * 255) / w, (y * 255) / h, 160], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
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

// Attach files through the paperclip's file chooser, as a person would.
async function attach(page, ...files) {
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page.getByRole('button', { name: 'Attach files' }).click(),
  ]);
  await chooser.setFiles(files);
}

test('images inline with a viewer, files as cards with a working download, the size limit on the chip', async (t) => {
  const server = await serverFor(t, { set: { ...CHEAP_HASH, 'files.max_bytes': MAX_BYTES } });
  const { page: ada } = await personFor(t, browser);
  const { page: bob } = await personFor(t, browser);
  await register(ada, server.url, 'ada', 'correct horse');
  await register(bob, server.url, 'bob', 'battery staple');

  // Ada attaches an image: a chip with its name and a preview, the upload runs to the end.
  const png = makePng(200, 150);
  assert.ok(png.length > 16 * 1024 && png.length < MAX_BYTES, `the PNG is ${png.length} bytes`);
  await attach(ada, { name: 'cat.png', mimeType: 'image/png', buffer: png });
  const chip = ada.locator('#attach-chips li.attach-chip');
  await chip.locator('.file-name', { hasText: 'cat.png' }).waitFor();
  await ada.locator('#attach-chips li.attach-chip.done').waitFor();
  assert.equal(await chip.locator('progress').count(), 0, 'the progress bar goes once uploaded');
  await chip.locator('canvas.attach-preview').waitFor();
  assert.equal(await ada.locator('#composer-send').isEnabled(), true, 'Send is enabled once uploaded');
  await ada.getByLabel('Message #general').fill('look at this');
  await ada.keyboard.press('Enter');
  await ada.locator('#attach-chips').waitFor({ state: 'hidden' });

  // Bob: the thumbnail inline, at its size before it loads, named by the file.
  const thumb = bob.locator('#message-list li.msg .attachment-image');
  await thumb.waitFor();
  const img = thumb.locator('img');
  assert.equal(await img.getAttribute('alt'), 'cat.png');
  assert.deepEqual([await img.getAttribute('width'), await img.getAttribute('height')], ['200', '150']);
  await bob.waitForFunction(() => document.querySelector('#message-list .attachment-image img')?.naturalWidth > 0);
  assert.equal(await bob.locator('#message-list li.msg .text').last().textContent(), 'look at this');

  // The viewer: the full image, its name and a download link; Escape closes it, focus comes back.
  await thumb.click();
  const viewer = bob.getByRole('dialog', { name: 'cat.png' });
  await viewer.waitFor();
  await bob.waitForFunction(() => document.querySelector('#viewer-img')?.naturalWidth === 200);
  assert.match(await bob.locator('#viewer-meta').textContent(), /bytes|KB/);
  const fileHref = await bob.locator('#viewer-download').getAttribute('href');
  assert.match(fileHref, /^\/api\/files\/f_[0-9a-f]+$/);
  await bob.keyboard.press('Tab'); // the focus stays in the dialog
  assert.equal(await bob.evaluate(() => Boolean(document.activeElement?.closest('#file-viewer'))), true);
  await bob.keyboard.press('Escape');
  await viewer.waitFor({ state: 'hidden' });
  assert.equal(await bob.evaluate(() => document.activeElement?.classList.contains('attachment-image')), true, 'focus back on the thumbnail');

  // A text file, sent without text: a card with a download link that gives the same bytes.
  const text = 'line one\nline two: ünïcödé\n';
  await attach(ada, { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
  await ada.locator('#attach-chips li.attach-chip.done').waitFor();
  await ada.locator('#composer-send').click();
  const card = bob.locator('#message-list li.msg .file-card');
  await card.waitFor();
  assert.equal(await card.locator('.file-name').textContent(), 'notes.txt');
  const link = card.getByRole('link', { name: /^Download notes\.txt/ });
  assert.equal(await link.getAttribute('download'), 'notes.txt');
  const got = await bob.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, text: await r.text() };
  }, await link.getAttribute('href'));
  assert.deepEqual(got, { status: 200, text });

  // Over files.max_bytes: refused on the chip in words; Send stays off until it is removed.
  await attach(ada, { name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(MAX_BYTES + 1, 'a') });
  const bad = ada.locator('#attach-chips li.attach-chip.error');
  await bad.waitFor();
  assert.equal(await bad.locator('.attach-status').textContent(), 'too large: the limit is 64 KB');
  await ada.getByLabel('Message #general').fill('with the big one');
  assert.equal(await ada.locator('#composer-send').isDisabled(), true);
  await bad.getByRole('button', { name: 'Remove big.txt' }).click();
  await ada.locator('#attach-chips').waitFor({ state: 'hidden' });
  assert.equal(await ada.locator('#composer-send').isEnabled(), true);
  await ada.getByLabel('Message #general').fill('');

  // A drop on the messages attaches (the drop zone shows while files are over it).
  await ada.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped'], 'dropped.txt', { type: 'text/plain' }));
    const target = document.querySelector('#scroller');
    target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    window.__dropZoneShown = !document.querySelector('#drop-zone').hidden;
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  assert.equal(await ada.evaluate(() => window.__dropZoneShown), true);
  assert.equal(await ada.locator('#drop-zone').isHidden(), true);
  await ada.locator('#attach-chips li.attach-chip.done .file-name', { hasText: 'dropped.txt' }).waitFor();
  await ada.getByRole('button', { name: 'Remove dropped.txt' }).click();
  // A paste of a file into the message box attaches it too.
  await ada.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['pasted'], 'pasted.txt', { type: 'text/plain' }));
    document.querySelector('#composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  await ada.locator('#attach-chips li.attach-chip.done .file-name', { hasText: 'pasted.txt' }).waitFor();
  await ada.getByRole('button', { name: 'Remove pasted.txt' }).click();

  // A guest may not upload (no paperclip), and reads a public room's files as its history
  // (api.md): the thumbnail loads, the card's link downloads.
  const { page: cy } = await personFor(t, browser);
  await joinAs(cy, server.url, 'cy');
  await cy.locator('#message-list .file-card').first().waitFor();
  assert.equal(await cy.getByRole('button', { name: 'Attach files' }).count(), 0);
  const guestThumb = cy.locator('#message-list .attachment-image img').first();
  await guestThumb.waitFor();
  await cy.waitForFunction((img) => img.complete && img.naturalWidth > 0, await guestThumb.elementHandle());
  assert.equal(await cy.locator('#message-list .file-card .file-download').count(), 1);

  assert.deepEqual(ada.errors, []);
  assert.deepEqual(bob.errors, []);
  assert.deepEqual(cy.errors, []);
});
