// Unit tests of files and images in the web UI: web/js/files.js (sizes, types, an upload through a
// fake XMLHttpRequest, refusals in words, drop and paste picking, the attachments' states) and
// web/js/ui/attachments.js (a message's images and cards, the composer's chips) through the fake
// DOM, whose HTML-parsing entry points throw: a file name is only ever text.
// Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installFakeDom } from './fake-dom.mjs';

installFakeDom();
const files = await import('../../web/js/files.js');
const { humanSize, uploadErrorText, messageFiles, fitWithin, filesFrom, dragHasFiles, fileKind, isImageType, uploadFile, Attachments, uploadUrl, fileUrl, thumbUrl } = files;
const { attachmentsNode, chipNode, chipStatus } = await import('../../web/js/ui/attachments.js');
const { messageNode } = await import('../../web/js/ui/messages.js');

function findAll(el, pred, out = []) {
  for (const c of el.children ?? []) {
    if (pred(c)) out.push(c);
    findAll(c, pred, out);
  }
  return out;
}
const byClass = (el, cls) => findAll(el, (c) => c.className.split(' ').includes(cls));
const byTag = (el, tag) => findAll(el, (c) => c.tagName === tag.toUpperCase());

test('humanSize: bytes, then KB/MB/GB of 1024, one decimal under 10', () => {
  assert.equal(humanSize(0), '0 bytes');
  assert.equal(humanSize(1), '1 byte');
  assert.equal(humanSize(1023), '1023 bytes');
  assert.equal(humanSize(1024), '1 KB');
  assert.equal(humanSize(1536), '1.5 KB');
  assert.equal(humanSize(12345), '12 KB');
  assert.equal(humanSize(1024 * 1024 - 1), '1 MB', 'never "1024 KB"');
  assert.equal(humanSize(25 * 1024 * 1024), '25 MB');
  assert.equal(humanSize(3.25 * 1024 ** 3), '3.3 GB');
  assert.equal(humanSize(-1), '');
  assert.equal(humanSize('x'), '');
});

test('types: inline images are png, jpeg, gif and webp only (never SVG); kinds for icons', () => {
  for (const t of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'IMAGE/PNG']) assert.equal(isImageType(t), true, t);
  for (const t of ['image/svg+xml', 'text/html', '', undefined, 'application/pdf']) assert.equal(isImageType(t), false, String(t));
  assert.deepEqual(['image/png', 'application/pdf', 'audio/ogg', 'video/mp4', 'application/zip', 'text/plain', 'application/octet-stream']
    .map(fileKind), ['image', 'pdf', 'audio', 'video', 'archive', 'text', 'file']);
});

test('URLs: the room and the name are percent-encoded; ids too', () => {
  assert.equal(uploadUrl('general', 'a b/&?.png'), '/api/rooms/general/files?name=a%20b%2F%26%3F.png');
  assert.equal(fileUrl('f_00'), '/api/files/f_00');
  assert.equal(thumbUrl('f_00'), '/api/files/f_00/thumb');
  assert.equal(fileUrl('../x?y'), '/api/files/..%2Fx%3Fy');
});

test('an upload refused, in words: the size limit (from the error or the welcome), types, access, budgets', () => {
  assert.equal(uploadErrorText({ status: 413, code: 'file_too_large', limit: 25 * 1024 * 1024 }), 'too large: the limit is 25 MB');
  assert.equal(uploadErrorText({ status: 413, code: 'file_too_large' }), 'too large for this server');
  assert.equal(uploadErrorText({ status: 415, code: 'type_not_allowed' }), 'this type of file is not allowed');
  assert.equal(uploadErrorText({ status: 403, code: 'forbidden' }), 'you may not post files in this room');
  assert.equal(uploadErrorText({ status: 401, code: 'unauthorized' }), 'sign in to attach files');
  assert.equal(uploadErrorText({ status: 429, code: 'rate_limited', retryAfter: 7 }), 'too many uploads: try again in 7 s');
  assert.equal(uploadErrorText({ status: 429, code: 'rate_limited', retryAfter: null }), 'too many uploads: try again in a moment');
  assert.equal(uploadErrorText({ status: 503, code: 'overloaded' }), 'the server is busy: try again in a moment');
  assert.equal(uploadErrorText({ status: 0, code: 'network' }), 'upload failed: the server could not be reached');
  assert.equal(uploadErrorText({ status: 400, code: 'bad_request' }), 'this file name is not allowed');
  assert.equal(uploadErrorText({ status: 500, code: 'internal', message: 'boom' }), 'upload failed: boom');
});

test('messageFiles: only well-formed entries, none for a deleted message; fitWithin keeps the ratio', () => {
  const m = {
    files: [
      { id: 'f_1', name: 'cat.png', size: 12345, type: 'image/png', width: 800, height: 600, thumb: true },
      { id: 7, name: 'bad id' }, null, { id: 'f_2' }, { id: 'f_3', name: 'n.txt', size: 'big', type: 5, thumb: 'yes' },
    ],
  };
  assert.deepEqual(messageFiles(m), [
    { id: 'f_1', name: 'cat.png', size: 12345, type: 'image/png', width: 800, height: 600, thumb: true },
    { id: 'f_3', name: 'n.txt', size: null, type: '', width: null, height: null, thumb: false },
  ]);
  assert.deepEqual(messageFiles({ ...m, deleted: true }), []);
  assert.deepEqual(messageFiles({ text: 'hi' }), []);
  assert.deepEqual(fitWithin(800, 600), { width: 320, height: 240 });
  assert.deepEqual(fitWithin(100, 2000), { width: 16, height: 320 });
  assert.deepEqual(fitWithin(40, 30), { width: 40, height: 30 }, 'never enlarged');
  assert.equal(fitWithin(0, 10), null);
  assert.equal(fitWithin(null, null), null);
});

test('drop and paste: files from the list, else from the items; a drag of text is not one of files', () => {
  const a = { name: 'a.png' };
  const b = { name: 'b.txt' };
  assert.deepEqual(filesFrom({ files: [a, b], items: [] }), [a, b]);
  assert.deepEqual(filesFrom({ files: [], items: [{ kind: 'string', getAsFile: () => null }, { kind: 'file', getAsFile: () => a }] }), [a]);
  assert.deepEqual(filesFrom(null), []);
  assert.deepEqual(filesFrom({ files: [], items: [{ kind: 'string' }] }), []);
  assert.equal(dragHasFiles({ types: ['Files'] }), true);
  assert.equal(dragHasFiles({ types: ['text/plain', 'text/uri-list'] }), false);
  assert.equal(dragHasFiles(null), false);
});

// A scripted XMLHttpRequest: records what was asked; the test answers.
class FakeXhr {
  constructor() { this.upload = {}; this.headers = {}; this.aborted = false; }
  open(method, url) { this.method = method; this.url = url; }
  send(body) { this.body = body; }
  getResponseHeader(k) { return this.headers[k] ?? null; }
  abort() { this.aborted = true; this.onabort?.(); }
  answer(status, body, headers = {}) {
    this.status = status;
    this.responseText = typeof body === 'string' ? body : JSON.stringify(body);
    this.headers = headers;
    this.onload();
  }
}

test('uploadFile: POSTs the file to the room with its name, reports progress, resolves with the server\'s file', async () => {
  const xhr = new FakeXhr();
  const seen = [];
  const file = { name: 'cat pic.png', size: 100, type: 'image/png' };
  const { promise } = uploadFile('general', file, { makeXhr: () => xhr, onProgress: (l, t) => seen.push([l, t]) });
  assert.equal(xhr.method, 'POST');
  assert.equal(xhr.url, '/api/rooms/general/files?name=cat%20pic.png');
  assert.equal(xhr.body, file, 'the File itself is the body (the browser sets Content-Length)');
  assert.equal(xhr.withCredentials, true);
  xhr.upload.onprogress({ lengthComputable: true, loaded: 40, total: 100 });
  xhr.upload.onprogress({ lengthComputable: false, loaded: 50, total: 0 });
  const info = { id: 'f_0123', room: 'general', name: 'cat pic.png', size: 100, type: 'image/png', width: 2, height: 2, thumb: true };
  xhr.answer(201, info);
  const r = await promise;
  assert.deepEqual(seen, [[40, 100]]);
  assert.equal(r.ok, true);
  assert.deepEqual(r.file, info);
});

test('uploadFile: refusals with code, message, Retry-After and a limit the body names; no network; abort', async () => {
  let xhr = new FakeXhr();
  let up = uploadFile('general', { name: 'big.bin', size: 1 }, { makeXhr: () => xhr });
  xhr.answer(413, { code: 'file_too_large', message: 'the file is over 1 MiB', max_bytes: 1048576 });
  let r = await up.promise;
  assert.deepEqual([r.ok, r.status, r.code, r.limit], [false, 413, 'file_too_large', 1048576]);

  xhr = new FakeXhr();
  up = uploadFile('general', { name: 'big.bin', size: 1 }, { makeXhr: () => xhr });
  xhr.answer(413, { code: 'file_too_large', message: 'the file is larger than this server takes (26214400 bytes)' });
  r = await up.promise;
  assert.equal(r.limit, 26214400, 'the limit its message names');
  assert.equal(uploadErrorText(r), 'too large: the limit is 25 MB');

  xhr = new FakeXhr();
  up = uploadFile('general', { name: 'x', size: 1 }, { makeXhr: () => xhr });
  xhr.answer(429, { code: 'rate_limited', message: 'slow down' }, { 'Retry-After': '12' });
  r = await up.promise;
  assert.deepEqual([r.code, r.retryAfter], ['rate_limited', 12]);

  xhr = new FakeXhr();
  up = uploadFile('general', { name: 'x', size: 1 }, { makeXhr: () => xhr });
  xhr.answer(502, '<html>bad gateway</html>');
  r = await up.promise;
  assert.deepEqual([r.ok, r.code, r.message], [false, 'http_502', 'the server answered 502']);

  xhr = new FakeXhr();
  up = uploadFile('general', { name: 'x', size: 1 }, { makeXhr: () => xhr });
  xhr.onerror();
  assert.equal((await up.promise).code, 'network');

  xhr = new FakeXhr();
  up = uploadFile('general', { name: 'x', size: 1 }, { makeXhr: () => xhr });
  up.abort();
  assert.equal((await up.promise).code, 'aborted');
});

// An Attachments over scripted uploads: each upload's settle is kept for the test to call.
function scripted(limits = {}) {
  const uploads = [];
  const changes = [];
  const model = new Attachments({
    limits: () => limits,
    onChange: (c) => changes.push(c ? `${c.name}:${c.state}` : 'list'),
    upload: (room, file, { onProgress }) => {
      let settle;
      const promise = new Promise((res) => { settle = res; });
      const u = { room, file, onProgress, settle, aborted: false };
      uploads.push(u);
      return { promise, abort: () => { u.aborted = true; settle({ ok: false, code: 'aborted' }); } };
    },
  });
  return { model, uploads, changes };
}
const tick = () => new Promise((r) => setImmediate(r));

test('attachments: uploading → done; Send waits for every upload; ids in order; per room', async () => {
  const { model, uploads } = scripted();
  model.add('general', [{ name: 'a.png', size: 10, type: 'image/png' }, { name: 'b.txt', size: 20, type: 'text/plain' }]);
  assert.deepEqual(model.status('general'), { count: 2, busy: true, failed: false });
  assert.deepEqual(model.status('other'), { count: 0, busy: false, failed: false });
  uploads[0].onProgress(5);
  assert.equal(chipStatus(model.chips('general')[0]), '10 bytes · uploading 50%');
  uploads[1].settle({ ok: true, file: { id: 'f_b', name: 'b.txt' } });
  await tick();
  assert.equal(model.status('general').busy, true, 'one still uploads');
  uploads[0].settle({ ok: true, file: { id: 'f_a', name: 'a.png' } });
  await tick();
  assert.deepEqual(model.status('general'), { count: 2, busy: false, failed: false });
  assert.deepEqual(model.ready('general').map((f) => f.id), ['f_a', 'f_b'], 'in the order attached');
  model.clear('general');
  assert.deepEqual(model.status('general'), { count: 0, busy: false, failed: false });
});

test('attachments: a refusal stays on its chip in words (and blocks Send until removed); remove stops an upload', async () => {
  const { model, uploads } = scripted({ maxBytes: 1000 });
  model.add('general', [{ name: 'huge.bin', size: 5000, type: '' }]);
  assert.equal(uploads.length, 0, 'over the welcome\'s limit: not even sent');
  let [chip] = model.chips('general');
  assert.equal(chip.state, 'error');
  assert.equal(chip.error, 'too large: the limit is 1000 bytes');
  assert.deepEqual(model.status('general'), { count: 1, busy: false, failed: true });
  model.remove('general', chip.key);

  model.add('general', [{ name: 'page.png', size: 10, type: 'image/png' }]);
  uploads[0].settle({ ok: false, status: 415, code: 'type_not_allowed' });
  await tick();
  [chip] = model.chips('general');
  assert.equal(chip.error, 'this type of file is not allowed');

  model.add('general', [{ name: 'slow.zip', size: 10, type: 'application/zip' }]);
  const slow = model.chips('general')[1];
  model.remove('general', slow.key);
  assert.equal(uploads[1].aborted, true);
  await tick();
  assert.deepEqual(model.chips('general').map((c) => c.name), ['page.png']);
});

test('attachments: at most limits.maxFiles per message (the extra ones refused on their chip); restore puts uploaded files back', async () => {
  const { model, uploads } = scripted({ maxFiles: 2 });
  model.add('general', [1, 2, 3].map((n) => ({ name: `${n}.txt`, size: 1, type: 'text/plain' })));
  assert.equal(uploads.length, 2);
  assert.equal(model.chips('general')[2].error, 'too many files: at most 2 per message');
  model.restore('lobby', [{ id: 'f_9', name: 'back.pdf', size: 3, type: 'application/pdf' }]);
  assert.deepEqual(model.status('lobby'), { count: 1, busy: false, failed: false });
  assert.deepEqual(model.ready('lobby').map((f) => f.id), ['f_9']);
});

const me = { from: 'ada', uid: 'u_1' };
const base = { room: 'general', seq: 9, from: 'bob', uid: 'u_2', text: 'look', ts: Date.UTC(2026, 0, 2, 10, 0) };
const png = { id: 'f_aa', name: 'cat.png', size: 12345, type: 'image/png', width: 800, height: 600, thumb: true };
const txt = { id: 'f_bb', name: 'notes.txt', size: 2048, type: 'text/plain', thumb: false };

test('a message\'s image: its thumbnail at its final size, alt = the name, a button to the viewer', () => {
  const node = attachmentsNode({ ...base, files: [png] });
  const [btn] = byClass(node, 'attachment-image');
  assert.equal(btn.tagName, 'BUTTON');
  assert.equal(btn.dataset.action, 'view-file');
  assert.equal(btn.dataset.fileId, 'f_aa');
  assert.equal(btn.getAttribute('aria-label'), 'View image cat.png, 12 KB');
  const [img] = byTag(btn, 'img');
  assert.equal(img.getAttribute('src'), '/api/files/f_aa/thumb');
  assert.equal(img.getAttribute('alt'), 'cat.png');
  assert.deepEqual([img.getAttribute('width'), img.getAttribute('height')], ['320', '240']);
});

test('another file: a card with its kind, name, size and a download link; an image without a thumbnail too', () => {
  const node = attachmentsNode({ ...base, files: [txt, { ...png, id: 'f_cc', thumb: false }] });
  const cards = byClass(node, 'file-card');
  assert.equal(cards.length, 2);
  assert.equal(byClass(cards[0], 'file-name')[0].textContent, 'notes.txt');
  assert.equal(byClass(cards[0], 'file-meta')[0].textContent, 'Text · 2 KB');
  assert.equal(byClass(cards[0], 'file-icon')[0].dataset.kind, 'text');
  const [a] = byTag(cards[0], 'a');
  assert.equal(a.getAttribute('href'), '/api/files/f_bb');
  assert.equal(a.getAttribute('download'), 'notes.txt');
  assert.equal(a.getAttribute('aria-label'), 'Download notes.txt, 2 KB');
  assert.equal(byTag(cards[1], 'a')[0].getAttribute('href'), '/api/files/f_cc');
  assert.equal(node.getAttribute('aria-label'), '2 attachments');
});

test('a file name with markup stays text (the fake DOM throws on any HTML parsing)', () => {
  const evil = '<script>window.__xss=1</script><img src=x onerror=alert(1)>.png';
  const node = attachmentsNode({ ...base, files: [{ ...txt, name: evil }, { ...png, name: evil }] });
  assert.equal(byClass(node, 'file-name')[0].textContent, evil);
  assert.equal(byTag(node, 'script').length, 0);
  assert.equal(byTag(node, 'img').length, 1, 'only the thumbnail');
  assert.equal(byTag(node, 'img')[0].getAttribute('alt'), evil);
  const chip = chipNode({ key: 'a1', name: evil, size: 3, type: 'text/html', state: 'done', loaded: 3 });
  assert.equal(byClass(chip, 'file-name')[0].textContent, evil);
});

test('in the message list: files above the text (a caption), none once deleted; an empty text with files', () => {
  const li = messageNode({ ...base, text: '', files: [png, txt] }, me, null);
  const bubble = byClass(li, 'bubble')[0];
  const order = bubble.children.map((c) => c.className.split(' ')[0]);
  assert.ok(order.indexOf('attachments') < order.indexOf('text'), order.join(' '));
  assert.equal(byClass(li, 'attachment-image').length, 1);
  assert.equal(byClass(li, 'file-card').length, 1);
  const gone = messageNode({ ...base, text: '', deleted: true, files: [png] }, me, null);
  assert.equal(byClass(gone, 'attachments').length, 0);
  assert.equal(byClass(messageNode(base, me, null), 'attachments').length, 0);
});

test('chips: uploading with a progress bar, done with the size, refused with the reason as an alert; Remove named', () => {
  const up = chipNode({ key: 'a1', name: 'cat.png', size: 200, type: 'image/png', state: 'uploading', loaded: 50 });
  const [bar] = byTag(up, 'progress');
  assert.equal(bar.getAttribute('value'), '25');
  assert.equal(bar.getAttribute('aria-label'), 'Uploading cat.png');
  assert.equal(byClass(up, 'attach-status')[0].textContent, '200 bytes · uploading 25%');
  assert.equal(byClass(up, 'attach-remove')[0].getAttribute('aria-label'), 'Remove cat.png');
  assert.equal(up.dataset.key, 'a1');

  const done = chipNode({ key: 'a2', name: 'cat.png', size: 2048, type: 'image/png', state: 'done', loaded: 2048 });
  assert.equal(byTag(done, 'progress').length, 0);
  assert.equal(byClass(done, 'attach-status')[0].textContent, '2 KB');

  const bad = chipNode({ key: 'a3', name: 'big.zip', size: 9e9, type: 'application/zip', state: 'error', error: 'too large: the limit is 25 MB' });
  assert.match(bad.className, /\berror\b/);
  const status = byClass(bad, 'attach-status')[0];
  assert.equal(status.textContent, 'too large: the limit is 25 MB');
  assert.equal(status.getAttribute('role'), 'alert');
});

// The protocol client (parley-client.js) over a scripted fake socket: a send's files travel with
// it, and with every retry of its cid (a reconnect before the ack); a refusal hands them back.
const { ParleyClient, State } = await import('../../web/js/parley-client.js');
const { waitFor } = await import('../lib/wait.mjs');

function fakeSockets() {
  const sockets = [];
  class FakeSocket {
    constructor(url, protocol) {
      Object.assign(this, { url, protocol, readyState: 0, sent: [] });
      sockets.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.readyState = 3; }
    open() { this.readyState = 1; this.onopen?.({}); }
    receive(evt) { this.onmessage?.({ data: JSON.stringify(evt) }); }
    drop(code = 1006) { this.readyState = 3; this.onclose?.({ code, reason: '' }); }
    all(type) { return this.sent.filter((m) => m.type === type); }
  }
  return { WebSocket: FakeSocket, sockets };
}
const WELCOME = { type: 'welcome', user: 'ada', session: 's-1', server_time: 0, limits: { max_text_length: 4000 } };

async function welcome(client, ws) {
  ws.open();
  ws.receive({ ...WELCOME, ref: ws.sent[0].ref });
  await waitFor(() => client.state === State.CONNECTED, { timeout: 2000, what: 'the welcome' });
  await waitFor(() => ws.all('join').length === 1, { timeout: 2000, what: 'the join' });
  ws.receive({ type: 'joined', room: 'general', last_seq: 0, members: ['ada'], member_count: 1, ref: ws.all('join')[0].ref });
}

test('client: a send with files carries their ids; a reconnect re-sends the same cid with the same files', async (t) => {
  const fake = fakeSockets();
  const client = new ParleyClient({
    url: 'ws://parley.test/ws', WebSocket: fake.WebSocket, pingIntervalMs: 60000,
    backoff: { initialMs: 10, maxMs: 20, factor: 2, jitter: 0 },
  });
  t.after(() => client.close());
  client.connect().catch(() => {});
  client.join('general').catch(() => {});
  await welcome(client, fake.sockets[0]);
  const files = [{ id: 'f_aa', name: 'cat.png', size: 10 }, { id: 'f_bb', name: 'notes.txt', size: 3 }];
  const item = client.send('general', '', { files });
  await waitFor(() => fake.sockets[0].all('send').length === 1, { timeout: 2000, what: 'the send' });
  const first = fake.sockets[0].all('send')[0];
  assert.deepEqual(first.files, ['f_aa', 'f_bb']);
  assert.equal(first.text, '');
  assert.deepEqual(client.pending('general')[0].files.map((f) => f.name), ['cat.png', 'notes.txt'], 'pending shows the names');

  fake.sockets[0].drop();
  await waitFor(() => fake.sockets.length === 2, { timeout: 2000, what: 'the reconnect' });
  await welcome(client, fake.sockets[1]);
  await waitFor(() => fake.sockets[1].all('send').length === 1, { timeout: 2000, what: 'the re-send' });
  const again = fake.sockets[1].all('send')[0];
  assert.equal(again.cid, first.cid);
  assert.deepEqual(again.files, first.files);
  fake.sockets[1].receive({ type: 'ack', cid: first.cid, room: 'general', seq: 1, ts: 1 });
  await item.promise;

  // A refusal for good (no_such_file): send-failed hands the files back with the text.
  const failed = [];
  client.on('send-failed', (e) => failed.push(e));
  const bad = client.send('general', 'x', { files: ['f_cc'] });
  await waitFor(() => fake.sockets[1].all('send').length === 2, { timeout: 2000, what: 'the second send' });
  const frame = fake.sockets[1].all('send')[1];
  fake.sockets[1].receive({ type: 'error', code: 'no_such_file', message: 'no such file', ref: frame.ref });
  await assert.rejects(bad.promise, { code: 'no_such_file' });
  assert.deepEqual(failed.map((e) => [e.text, e.files.map((f) => f.id)]), [['x', ['f_cc']]]);
});

test('a guest sees the thumbnails and links as anyone does (public rooms only); an empty file is refused before upload', () => {
  const li = messageNode({ ...base, files: [png, txt] }, { from: 'cy', uid: 'g_0123' }, null);
  assert.equal(byTag(li, 'img').length, 1, 'the thumbnail in a guest list');
  assert.equal(byClass(li, 'file-download').length, 1);
  const { model, uploads } = scripted();
  model.add('general', [{ name: 'empty.txt', size: 0, type: 'text/plain' }]);
  assert.equal(uploads.length, 0);
  assert.equal(model.chips('general')[0].error, 'the file is empty');
  assert.equal(uploadErrorText({ status: 413, code: 'quota_exceeded' }), 'over your storage quota: delete some of your files first');
});
