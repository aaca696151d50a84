// Unit tests of web/js/parley-client.js: against the real Parley server, and a few against a
// scripted fake socket (what the client says and does, without a server).
// Run: node --experimental-websocket --test tests/client/   (npm run test:client)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyClient, State, parseFrame, backoffDelay } from '../../web/js/parley-client.js';
import { startServer } from '../lib/server.mjs';
import { sleep, waitFor } from '../lib/wait.mjs';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const NativeWebSocket = globalThis.WebSocket;
if (typeof NativeWebSocket !== 'function') {
  throw new Error('no global WebSocket: run node with --experimental-websocket (Node 20) or use Node >= 22');
}

// Fast, deterministic-ish reconnects for tests.
const FAST = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };

/**
 * A WebSocket constructor that wraps the real one, records what the client
 * sends, and can hide chosen incoming events (to simulate a lost ack).
 */
function tapSocket({ drop = () => false } = {}) {
  const sockets = [];
  const sent = [];
  class TapSocket {
    constructor(url, protocols) {
      this.ws = new NativeWebSocket(url, protocols);
      sockets.push(this);
      this.ws.onopen = (e) => this.onopen?.(e);
      this.ws.onerror = (e) => this.onerror?.(e);
      this.ws.onclose = (e) => this.onclose?.(e);
      this.ws.onmessage = (e) => {
        const kept = String(e.data).split('\n').filter((line) => line && !drop(JSON.parse(line)));
        if (kept.length) this.onmessage?.({ data: kept.join('\n') });
      };
    }
    get readyState() { return this.ws.readyState; }
    send(data) { sent.push(JSON.parse(data)); this.ws.send(data); }
    close(code, reason) { this.ws.close(code, reason); }
  }
  return { WebSocket: TapSocket, sockets, sent };
}

/** Record every event of these types, in arrival order. */
function record(client, types) {
  const log = [];
  for (const type of types) client.on(type, (evt) => log.push({ type, ...evt }));
  return log;
}

const clients = new Set();
function newClient(server, name, extra = {}) {
  // A socket that never opens is given up after 3 s (default 10 s).
  const c = new ParleyClient({ url: server.wsUrl, name, WebSocket: NativeWebSocket, backoff: FAST, connectTimeoutMs: 3000, ...extra });
  clients.add(c);
  return c;
}
function closeAll() {
  for (const c of clients) c.close();
  clients.clear();
}

async function withServer(t, opts, fn) {
  const server = await startServer(opts);
  t.after(async () => {
    closeAll();
    await server.cleanup();
  });
  try {
    await fn(server);
  } catch (err) {
    err.message += `\n--- server log ---\n${server.tail()}`;
    throw err;
  }
}

// ----------------------------------------------------------- pure functions

test('parseFrame splits newline-batched events and skips blank or broken lines', () => {
  const bad = [];
  const events = parseFrame('{"type":"a","n":1}\n{"type":"b"}\n\n{oops\n{"type":"c"}\n', (l) => bad.push(l));
  assert.deepEqual(events.map((e) => e.type), ['a', 'b', 'c']);
  assert.deepEqual(bad, ['{oops']);
});

test('backoffDelay grows exponentially, is capped, and jitters downwards', () => {
  const opts = { initialMs: 500, maxMs: 10000, factor: 2, jitter: 0.5 };
  assert.equal(backoffDelay(0, opts, () => 0), 500);
  assert.equal(backoffDelay(3, opts, () => 0), 4000);
  assert.equal(backoffDelay(10, opts, () => 0), 10000);
  assert.equal(backoffDelay(10, opts, () => 1), 5000);
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(2, opts);
    assert.ok(d >= 1000 && d <= 2000, `delay ${d} out of range`);
  }
});

// ------------------------------------------------------- a fake socket (no server)

/**
 * A scripted WebSocket: the test opens it, answers what the client sent, and counts how many
 * sockets the client made (a reconnect loop would make more).
 */
function fakeSockets() {
  const sockets = [];
  class FakeSocket {
    constructor(url, protocol) {
      this.url = url;
      this.protocol = protocol;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.readyState = 3; }
    open() { this.readyState = 1; this.onopen?.({}); }
    receive(evt) { this.onmessage?.({ data: JSON.stringify(evt) }); }
    drop(code = 1006) { this.readyState = 3; this.onclose?.({ code, reason: '' }); }
  }
  return { WebSocket: FakeSocket, sockets };
}

const WELCOME = { type: 'welcome', session: 's-1', server_time: 0, limits: { max_text_length: 4000 } };

function fakeClient(t, options = {}) {
  const fake = fakeSockets();
  const c = new ParleyClient({ url: 'ws://parley.test/ws', WebSocket: fake.WebSocket, backoff: { initialMs: 10, maxMs: 20, factor: 2, jitter: 0 }, pingIntervalMs: 60000, ...options });
  t.after(() => c.close());
  return { client: c, sockets: fake.sockets };
}

test('fake socket: with a name the hello carries it (a guest)', async (t) => {
  const { client, sockets } = fakeClient(t, { name: 'ada' });
  const welcomed = client.connect();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [{ type: 'hello', name: 'ada', ref: 1 }]);
  sockets[0].receive({ ...WELCOME, user: 'ada', ref: 1 });
  assert.equal((await welcomed).user, 'ada');
});

test('fake socket: without a name the hello is bare (the session cookie speaks) and welcome names the user', async (t) => {
  for (const name of [undefined, null]) {
    const { client, sockets } = fakeClient(t, { name });
    const welcomed = client.connect();
    sockets[0].open();
    assert.deepEqual(sockets[0].sent, [{ type: 'hello', ref: 1 }], 'no name key at all');
    assert.equal(JSON.stringify(sockets[0].sent[0]), '{"type":"hello","ref":1}');
    sockets[0].receive({ ...WELCOME, user: 'ada', uid: 'u_0123', ref: 1 });
    const welcome = await welcomed;
    assert.equal(welcome.user, 'ada');
    assert.equal(client.user, 'ada');
    assert.equal(client.uid, 'u_0123', 'the welcome\'s uid is kept');
    assert.equal(client.state, State.CONNECTED);
    // A reconnect says the same bare hello again.
    sockets[0].drop();
    await waitFor(() => sockets.length === 2, { timeout: 2000, what: 'the reconnect' });
    sockets[1].open();
    assert.deepEqual(sockets[1].sent[0], { type: 'hello', ref: sockets[1].sent[0].ref });
    client.close();
  }
});

test('fake socket: the browser going offline drops an open socket at once and says offline; online pings at once', async (t) => {
  const { client, sockets } = fakeClient(t, { name: 'ada' });
  const states = record(client, ['state']);
  const welcomed = client.connect();
  sockets[0].open();
  sockets[0].receive({ ...WELCOME, user: 'ada', ref: 1 });
  await welcomed;
  // Back online with the socket still open: it is checked by a ping now, not in pingIntervalMs.
  client._onOnline(); // the window's "online" listener
  await waitFor(() => sockets[0].sent.some((f) => f.type === 'ping'), { timeout: 2000, what: 'a ping at once' });
  // The network goes: no waiting for a heartbeat to fail.
  client._onOffline(); // the window's "offline" listener
  assert.equal(sockets[0].readyState, 3, 'the socket is closed');
  assert.equal(client.state, State.OFFLINE);
  assert.equal(states.at(-1).state, 'offline');
  assert.ok(states.some((e) => e.code === 4002 && e.reason === 'network offline'), 'the drop says why');
  // It keeps trying (and the online event would try at once).
  await waitFor(() => sockets.length === 2, { timeout: 2000, what: 'a new attempt' });
  client.close();
});

for (const [code, message] of [
  ['unauthorized', 'the session has ended or the token is wrong; sign in again'],
  ['name_taken', 'this name belongs to an account: sign in, or choose another'],
]) {
  test(`fake socket: a hello refused with ${code} closes the client for good (no reconnect loop)`, async (t) => {
    const { client, sockets } = fakeClient(t, code === 'name_taken' ? { name: 'Ada' } : {});
    const errors = record(client, ['error']);
    const states = record(client, ['state']);
    const welcomed = client.connect();
    sockets[0].open();
    sockets[0].receive({ type: 'error', code, message, ref: 1 });
    await assert.rejects(welcomed, { code, message });
    assert.equal(client.state, State.CLOSED);
    assert.deepEqual(errors.map((e) => [e.code, e.message]), [[code, message]], 'the app hears it once, with the message');
    assert.ok(!states.some((s) => s.state === State.RECONNECTING), 'no reconnect scheduled');
    await sleep(150); // many backoff periods (10–20 ms)
    assert.equal(sockets.length, 1, 'no second socket');
    assert.equal(sockets[0].readyState, 3, 'the socket was closed');
    // connect() again is the caller's choice (e.g. after signing in): it tries once more.
    const again = client.connect();
    assert.equal(sockets.length, 2);
    sockets[1].open();
    sockets[1].receive({ ...WELCOME, user: 'ada', ref: sockets[1].sent[0].ref });
    assert.equal((await again).user, 'ada');
  });
}

test('fake socket: a token option is the hello\'s token, and wins over a name', async (t) => {
  const { client, sockets } = fakeClient(t, { token: 'aaa.bbb.ccc', name: 'ada' });
  const welcomed = client.connect();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [{ type: 'hello', token: 'aaa.bbb.ccc', ref: 1 }]);
  sockets[0].receive({ ...WELCOME, user: 'Ada Site', ref: 1 });
  assert.equal((await welcomed).user, 'Ada Site');
});

test('fake socket: a token function is asked again on every hello (a fresh JWT per reconnect)', async (t) => {
  let asked = 0;
  const { client, sockets } = fakeClient(t, { token: async () => `jwt.number.${++asked}` });
  const welcomed = client.connect();
  sockets[0].open();
  await waitFor(() => sockets[0].sent.length === 1, { timeout: 2000, what: 'the hello' });
  assert.deepEqual(sockets[0].sent[0], { type: 'hello', token: 'jwt.number.1', ref: 1 });
  sockets[0].receive({ ...WELCOME, user: 'ada', ref: 1 });
  await welcomed;
  sockets[0].drop();
  await waitFor(() => sockets.length === 2, { timeout: 2000, what: 'the reconnect' });
  sockets[1].open();
  await waitFor(() => sockets[1].sent.length === 1, { timeout: 2000, what: 'the second hello' });
  assert.equal(sockets[1].sent[0].token, 'jwt.number.2');
  assert.equal(asked, 2);
});

test('fake socket: a token function that fails drops the socket and tries again', async (t) => {
  let calls = 0;
  const { client, sockets } = fakeClient(t, {
    token: () => {
      if (++calls === 1) throw new Error('the site\'s backend is down');
      return Promise.resolve('aaa.bbb.ccc');
    },
  });
  const welcomed = client.connect();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [], 'no hello without a token');
  await waitFor(() => sockets.length === 2, { timeout: 2000, what: 'the retry' });
  sockets[1].open();
  await waitFor(() => sockets[1].sent.length === 1, { timeout: 2000, what: 'the hello' });
  assert.equal(sockets[1].sent[0].token, 'aaa.bbb.ccc');
  sockets[1].receive({ ...WELCOME, user: 'ada', ref: sockets[1].sent[0].ref });
  assert.equal((await welcomed).user, 'ada');
});

test('fake socket: a hello error that is not fatal (store_failed) is retried on a new socket', async (t) => {
  const { client, sockets } = fakeClient(t);
  const welcomed = client.connect();
  sockets[0].open();
  sockets[0].receive({ type: 'error', code: 'store_failed', message: 'the accounts could not be reached; try again', ref: 1 });
  await waitFor(() => sockets.length === 2, { timeout: 2000, what: 'the retry' });
  sockets[1].open();
  sockets[1].receive({ ...WELCOME, user: 'ada', ref: sockets[1].sent[0].ref });
  assert.equal((await welcomed).user, 'ada');
});

// -------------------------------------------------------------- real server

test('hello, join, send: ack and the message echo carry the same seq and cid', async (t) => {
  await withServer(t, {}, async (server) => {
    const ada = newClient(server, 'ada');
    const welcome = await ada.connect();
    assert.equal(welcome.user, 'ada');
    assert.ok(welcome.limits.max_text_length > 0);
    assert.equal(ada.state, State.CONNECTED);

    const rooms = await ada.rooms();
    assert.ok(rooms.some((r) => r.room === 'general'), 'general always exists');

    const joined = await ada.join('general');
    assert.equal(joined.room, 'general');
    assert.equal(joined.last_seq, 0);
    assert.ok(joined.members.includes('ada'));

    const got = record(ada, ['message']);
    const item = ada.send('general', 'hello 👋 <b>world</b>');
    const ack = await item.promise;
    assert.equal(ack.cid, item.cid);
    assert.equal(ack.seq, 1);
    await waitFor(() => got.length === 1, { what: 'message echo' });
    assert.equal(got[0].seq, 1);
    assert.equal(got[0].cid, item.cid);
    assert.equal(got[0].text, 'hello 👋 <b>world</b>');
    assert.equal(got[0].from, 'ada');
    assert.deepEqual(ada.pending(), []);
  });
});

test('several events in one frame are all delivered, in order', async (t) => {
  await withServer(t, { set: { 'limits.send_rate': 1000, 'limits.send_burst': 1000 } }, async (server) => {
    const ada = newClient(server, 'ada');
    await ada.connect();
    await ada.join('general');
    const N = 40;
    const items = [];
    for (let i = 1; i <= N; i++) items.push(ada.send('general', `m${i}`));
    await Promise.all(items.map((i) => i.promise));

    // A late joiner asks for the whole backlog: joined + 40 messages.
    const bob = newClient(server, 'bob');
    await bob.connect();
    const log = record(bob, ['joined', 'message']);
    const framesBefore = bob.stats.frames;
    const eventsBefore = bob.stats.events;
    await bob.join('general', { since: 0 });
    await waitFor(() => log.length === N + 1, { what: `${N} backlog messages` });
    assert.equal(log[0].type, 'joined');
    assert.deepEqual(log.slice(1).map((e) => e.text), items.map((_, i) => `m${i + 1}`));
    assert.deepEqual(log.slice(1).map((e) => e.seq), items.map((_, i) => i + 1));
    const frames = bob.stats.frames - framesBefore;
    const events = bob.stats.events - eventsBefore;
    t.diagnostic(`backlog of ${events} events arrived in ${frames} frames`);
    assert.ok(frames < events, `expected the server to batch events (${events} events in ${frames} frames)`);
    assert.equal(bob.lastSeq('general'), N);
  });
});

test('after a server restart the client resumes every room from its last seq', async (t) => {
  await withServer(t, {}, async (server) => {
    // ada reconnects slowly (1 s, no jitter) so carol can post while she is away.
    const tap = tapSocket();
    const ada = newClient(server, 'ada', { WebSocket: tap.WebSocket, backoff: { initialMs: 1000, maxMs: 1000, factor: 1, jitter: 0 } });
    await ada.connect();
    await ada.join('general');
    const states = record(ada, ['state']);
    const got = record(ada, ['message', 'joined']);
    for (const text of ['one', 'two', 'three']) await ada.send('general', text).promise;
    await waitFor(() => got.length === 3, { what: 'three echoes' });

    await server.restart();
    assert.ok(server.exits.at(-1).code === 0, `SIGTERM should exit 0, got ${JSON.stringify(server.exits.at(-1))}`);

    const carol = newClient(server, 'carol');
    await carol.connect();
    await carol.join('general');
    await carol.send('general', 'four').promise;
    await carol.send('general', 'five').promise;

    await waitFor(() => ada.state === State.CONNECTED && got.filter((e) => e.type === 'message').length === 5,
      { timeout: 10000, what: 'ada to resume and get four and five' });
    const msgs = got.filter((e) => e.type === 'message');
    assert.deepEqual(msgs.map((m) => m.text), ['one', 'two', 'three', 'four', 'five']);
    assert.deepEqual(msgs.map((m) => m.seq), [1, 2, 3, 4, 5]);

    const joins = tap.sent.filter((f) => f.type === 'join');
    assert.equal(joins.length, 2);
    assert.equal(joins[0].since, undefined);
    assert.equal(joins[1].since, 3, 'the re-join asks for messages after seq 3');
    const rejoined = got.filter((e) => e.type === 'joined').at(-1);
    assert.equal(rejoined.resumed, true);
    assert.equal(rejoined.last_seq, 5);

    const seen = states.map((s) => s.state);
    assert.ok(seen.includes(State.RECONNECTING), `states: ${seen}`);
    assert.equal(seen.at(-1), State.CONNECTED);
    const closed = states.find((s) => s.state === State.RECONNECTING);
    assert.equal(closed.code, 1012, 'a draining server closes with 1012 (service restart)');
  });
});

test('a send whose ack was lost is re-sent with the same cid and stored once', async (t) => {
  await withServer(t, {}, async (server) => {
    let hideAcks = true;
    const tap = tapSocket({ drop: (evt) => hideAcks && evt.type === 'ack' });
    const ada = newClient(server, 'ada', { WebSocket: tap.WebSocket });
    await ada.connect();
    await ada.join('general');
    const got = record(ada, ['message']);

    const item = ada.send('general', 'exactly once');
    await waitFor(() => got.length === 1, { what: 'the echo' });
    assert.equal(ada.pending().length, 1, 'no ack seen yet, so still pending');

    // The connection drops before the ack arrives; the client re-sends.
    hideAcks = false;
    tap.sockets[0].close();
    const ack = await item.promise;
    assert.equal(ack.cid, item.cid);
    assert.equal(ack.seq, got[0].seq, 'the server answers the re-send with the original ack');

    const sends = tap.sent.filter((f) => f.type === 'send');
    assert.equal(sends.length, 2);
    assert.equal(sends[0].cid, sends[1].cid);

    const history = await ada.history('general');
    assert.deepEqual(history.messages.map((m) => m.text), ['exactly once']);
    assert.equal(got.length, 1, 'no second message event');
  });
});

test('raw protocol: repeating a send with the same cid returns the original ack', async (t) => {
  await withServer(t, {}, async (server) => {
    const ada = newClient(server, 'ada');
    await ada.connect();
    await ada.join('general');
    const got = record(ada, ['message']);
    const first = await ada.request({ type: 'send', room: 'general', cid: 'c-fixed-1', text: 'once' });
    const second = await ada.request({ type: 'send', room: 'general', cid: 'c-fixed-1', text: 'once' });
    assert.equal(first.type, 'ack');
    assert.deepEqual({ ...second, ref: undefined }, { ...first, ref: undefined });
    await sleep(200);
    assert.equal(got.length, 1);
    const { messages } = await ada.history('general');
    assert.equal(messages.length, 1);
  });
});

test('messages sent while the server is down are delivered after it comes back, in order', async (t) => {
  await withServer(t, {}, async (server) => {
    const ada = newClient(server, 'ada');
    await ada.connect();
    await ada.join('general');
    await ada.send('general', 'before').promise;

    await server.stop();
    await waitFor(() => ada.state !== State.CONNECTED, { what: 'ada to notice' });
    const items = ['offline 1', 'offline 2', 'offline 3'].map((text) => ada.send('general', text));
    assert.equal(ada.pending('general').length, 3);
    await sleep(300);
    await server.start();

    const acks = await Promise.all(items.map((i) => i.promise));
    assert.deepEqual(acks.map((a) => a.seq), [2, 3, 4]);

    const bob = newClient(server, 'bob');
    await bob.connect();
    await bob.join('general');
    const { messages } = await bob.history('general');
    assert.deepEqual(messages.map((m) => m.text), ['before', 'offline 1', 'offline 2', 'offline 3']);
  });
});

test('errors: a permanent send error rejects that send only; the connection stays up', async (t) => {
  await withServer(t, {}, async (server) => {
    const ada = newClient(server, 'ada');
    const welcome = await ada.connect();
    await ada.join('general');
    const failed = record(ada, ['send-failed']);
    const tooLong = ada.send('general', 'x'.repeat(welcome.limits.max_text_length + 1));
    await assert.rejects(tooLong.promise, (err) => err.code === 'text_too_long' || err.code === 'frame_too_large');
    assert.equal(failed.length, 1);
    assert.equal(ada.state, State.CONNECTED);
    await assert.rejects(ada.request({ type: 'history', room: 'nope' }), (err) => typeof err.code === 'string');
    await assert.rejects(ada.create('bad room!'), { code: 'bad_room' });
    // The server's request id of the error (its log line has it), for the UI to show.
    await assert.rejects(ada.request({ type: 'history', room: 'nope' }), (err) => typeof err.rid === 'string' && err.rid.length > 0);
    const ok = await ada.send('general', 'still here').promise;
    assert.equal(ok.seq, 1);
  });
});

test('presence, typing and created events reach the other members', async (t) => {
  await withServer(t, {}, async (server) => {
    const ada = newClient(server, 'ada');
    const bob = newClient(server, 'bob');
    await ada.connect();
    await ada.join('general');
    const log = record(ada, ['presence', 'typing', 'created']);
    await bob.connect();
    await bob.join('general');
    await waitFor(() => log.some((e) => e.type === 'presence' && e.user === 'bob' && e.state === 'joined'), { what: 'presence joined' });

    assert.equal(bob.typing('general'), true);
    assert.equal(bob.typing('general'), false, 'throttled client-side');
    await waitFor(() => log.some((e) => e.type === 'typing' && e.user === 'bob'), { what: 'typing' });

    const created = await bob.create('ops');
    assert.equal(created.room, 'ops');
    assert.equal(created.by, 'bob');
    await waitFor(() => log.some((e) => e.type === 'created' && e.room === 'ops'), { what: 'created broadcast' });
    assert.equal(log.find((e) => e.type === 'created').ref, undefined);

    await bob.leave('general');
    await waitFor(() => log.some((e) => e.type === 'presence' && e.user === 'bob' && e.state === 'left'), { what: 'presence left' });
  });
});

test('history pages backwards with before and has_more', async (t) => {
  await withServer(t, { set: { 'limits.send_rate': 1000, 'limits.send_burst': 1000 } }, async (server) => {
    const ada = newClient(server, 'ada');
    await ada.connect();
    await ada.join('general');
    const items = [];
    for (let i = 1; i <= 25; i++) items.push(ada.send('general', `h${i}`));
    await Promise.all(items.map((i) => i.promise));
    const newest = await ada.history('general', { limit: 10 });
    assert.deepEqual(newest.messages.map((m) => m.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    assert.equal(newest.has_more, true);
    const older = await ada.history('general', { before: 16, limit: 10 });
    assert.deepEqual(older.messages.map((m) => m.seq), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const oldest = await ada.history('general', { before: 6, limit: 10 });
    assert.deepEqual(oldest.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
    assert.equal(oldest.has_more, false);
  });
});

test('a refused name closes the client for good (no reconnect loop)', async (t) => {
  await withServer(t, {}, async (server) => {
    const bad = newClient(server, 'x'.repeat(33));
    await assert.rejects(bad.connect(), { code: 'bad_name' });
    assert.equal(bad.state, State.CLOSED);
    const connects = bad.stats.connects;
    await sleep(400);
    assert.equal(bad.stats.connects, connects);
  });
});

// Tests' servers hash passwords cheaply (the defaults take a good part of a second).
const CHEAP_HASH = { 'auth.hash_opslimit': 1, 'auth.hash_memlimit': 8192 };

/** POST /api/register (or login): resolves to { status, body, cookie } with the session cookie. */
async function api(server, path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  return { status: res.status, body: text ? JSON.parse(text) : null, cookie };
}

/** A WebSocket constructor that sends this Cookie header with the upgrade, as a browser would. */
function withCookie(cookie) {
  return class extends NativeWebSocket {
    constructor(url, protocols) { super(url, { protocols, headers: { Cookie: cookie } }); }
  };
}

/** An HS256 JWT, as a site's backend would sign it (node:crypto; no library). */
function hs256(claims, secret) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

test('a site\'s JWT as the token option: welcomed with the token\'s name, guests off', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'parley-jwt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const secret = randomBytes(32).toString('hex');
  await writeFile(path.join(dir, 'secret'), secret);
  const set = { 'auth.guests': 'false', 'auth.jwt_algorithm': 'HS256', 'auth.jwt_secret_file': path.join(dir, 'secret') };
  await withServer(t, { set }, async (server) => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    const c = newClient(server, undefined, { token: () => hs256({ sub: 'site-7', name: 'Grace', exp }, secret) });
    const welcome = await c.connect();
    assert.equal(welcome.user, 'Grace');
    const bad = newClient(server, undefined, { token: hs256({ sub: 'site-7', exp }, 'not the secret, not the secret!!') });
    await assert.rejects(bad.connect(), { code: 'unauthorized' });
  });
});

test('signed in: a hello without a name is welcomed by the session cookie of the upgrade', async (t) => {
  await withServer(t, { set: CHEAP_HASH }, async (server) => {
    const reg = await api(server, '/api/register', { name: 'ada', password: 'correct horse' });
    assert.equal(reg.status, 201);
    assert.match(reg.cookie, /^parley_session=./);
    const ada = newClient(server, undefined, { WebSocket: withCookie(reg.cookie) });
    const welcome = await ada.connect();
    assert.equal(welcome.user, 'ada');
    await ada.join('general');
    assert.equal((await ada.send('general', 'signed in').promise).seq, 1);
  });
});

test('signed out or refused: unauthorized and name_taken close the client for good', async (t) => {
  await withServer(t, { set: CHEAP_HASH }, async (server) => {
    assert.equal((await api(server, '/api/register', { name: 'ada', password: 'correct horse' })).status, 201);
    const cases = [
      // A cookie that names no session.
      [newClient(server, undefined, { WebSocket: withCookie(`parley_session=${'A'.repeat(43)}`) }), 'unauthorized'],
      // A guest with the account's name, or one that looks like it.
      [newClient(server, 'ada'), 'name_taken'],
      [newClient(server, 'Ada'), 'name_taken'],
    ];
    for (const [c, code] of cases) {
      await assert.rejects(c.connect(), { code });
      assert.equal(c.state, State.CLOSED);
    }
    // No cookie at all, on a server with guests: a guest without a name (bad_name, today) or no
    // session (unauthorized); either way refused for good.
    const bare = newClient(server, undefined);
    await assert.rejects(bare.connect(), (err) => ['bad_name', 'unauthorized'].includes(err.code));
    cases.push([bare]);
    await sleep(400); // several backoff periods of FAST
    for (const [c] of cases) assert.equal(c.stats.connects, 1, 'no reconnect loop');
  });
});

test('guests switched off (auth.guests=false): a guest is refused with unauthorized, an account is not', async (t) => {
  await withServer(t, { set: { ...CHEAP_HASH, 'auth.guests': 'false' } }, async (server) => {
    const guest = newClient(server, 'bob');
    await assert.rejects(guest.connect(), { code: 'unauthorized' });
    assert.equal(guest.state, State.CLOSED);
    const nameless = newClient(server, undefined);
    await assert.rejects(nameless.connect(), { code: 'unauthorized' });
    await sleep(400);
    assert.equal(guest.stats.connects, 1);
    assert.equal(nameless.stats.connects, 1);
    const reg = await api(server, '/api/register', { name: 'bob', password: 'correct horse' });
    const bob = newClient(server, undefined, { WebSocket: withCookie(reg.cookie) });
    assert.equal((await bob.connect()).user, 'bob');
  });
});

test("the welcome carries the server's name; a look-alike of a member is refused a room and forgets it", async (t) => {
  await withServer(t, {}, async (server) => {
    const ada = newClient(server, '  ｐａｙｐａｌ ');
    const welcome = await ada.connect();
    assert.equal(welcome.user, 'paypal');
    assert.equal(ada.user, 'paypal');
    await ada.join('general');
    const twin = newClient(server, 'p\u0430ypal'); // a Cyrillic а
    await twin.connect();
    await assert.rejects(twin.join('general'), { code: 'confusable_name' });
    assert.deepEqual(twin.joinedRooms(), [], 'not joined again on the next reconnect');
    const tab = newClient(server, 'paypal'); // the same user, a second tab
    await tab.connect();
    const joined = await tab.join('general');
    assert.deepEqual(joined.members, ['paypal']);
    for (const c of [ada, twin, tab]) c.close();
  });
});

test('a resume gap larger than resume_limit comes back truncated: joined says so, newest part sent', async (t) => {
  await withServer(t, { set: { 'limits.resume_limit': 5, 'limits.send_rate': 1000, 'limits.send_burst': 1000 } }, async (server) => {
    const ada = newClient(server, 'ada');
    await ada.connect();
    await ada.join('general');
    for (let i = 1; i <= 12; i++) ada.send('general', `t${i}`);
    await waitFor(() => ada.pending().length === 0, { what: 'acks' });

    const bob = newClient(server, 'bob');
    await bob.connect();
    const log = record(bob, ['joined', 'message']);
    await bob.join('general', { since: 2 });
    await waitFor(() => log.length === 6, { what: 'joined and 5 messages' });
    assert.equal(log[0].type, 'joined');
    assert.equal(log[0].truncated, true);
    assert.equal(log[0].last_seq, 12);
    assert.deepEqual(log.slice(1).map((m) => m.seq), [8, 9, 10, 11, 12]);
    await sleep(100);
    assert.equal(log.length, 6);
  });
});

test('a burst larger than send_burst is paced client-side: all delivered in order, none refused', async (t) => {
  await withServer(t, { set: { 'limits.send_rate': 20, 'limits.send_burst': 5 } }, async (server) => {
    const ada = newClient(server, 'ada');
    const welcome = await ada.connect();
    assert.equal(welcome.limits.send_burst, 5);
    await ada.join('general');
    const retries = record(ada, ['send-retry']);
    const items = [];
    for (let i = 1; i <= 15; i++) items.push(ada.send('general', `b${i}`));
    const acks = await Promise.all(items.map((i) => i.promise));
    assert.deepEqual(acks.map((a) => a.seq), items.map((_, i) => i + 1));
    assert.equal(retries.length, 0, `refused: ${JSON.stringify(retries)}`);
  });
});

test('rate_limited sends are retried after retry_after_ms with the same cid', async (t) => {
  await withServer(t, { set: { 'limits.send_rate': 20, 'limits.send_burst': 3 } }, async (server) => {
    const ada = newClient(server, 'ada');
    await ada.connect();
    await ada.join('general');
    ada.limits = { ...ada.limits, send_rate: 0 }; // switch client-side pacing off
    const retries = record(ada, ['send-retry']);
    const items = [];
    for (let i = 1; i <= 10; i++) items.push(ada.send('general', `r${i}`));
    const acks = await Promise.all(items.map((i) => i.promise));
    assert.ok(retries.length > 0, 'the server refused some sends');
    assert.ok(retries.every((r) => r.code === 'rate_limited' && r.retryInMs >= 0));
    assert.deepEqual(acks.map((a) => a.seq).sort((a, b) => a - b), items.map((_, i) => i + 1));
    const { messages } = await ada.history('general');
    assert.deepEqual(messages.map((m) => m.text).sort(), items.map((i) => i.text).sort());
  });
});

test('the room directory and a room\'s members come in pages', async (t) => {
  await withServer(t, { set: { 'limits.rooms_page': 2, 'limits.members_page': 2, 'rooms.presence_batch_ms': 0 } }, async (server) => {
    const ada = newClient(server, 'ada');
    await ada.connect();
    for (const room of ['ops', 'devops', 'sales']) await ada.create(room);
    const seen = [];
    let page = await ada.roomsPage();
    for (;;) {
      seen.push(...page.rooms.map((r) => r.room));
      assert.ok(page.rooms.length <= 2);
      if (!page.next) break;
      page = await ada.roomsPage({ after: page.next });
    }
    assert.deepEqual(seen, ['devops', 'general', 'ops', 'sales']);
    assert.deepEqual((await ada.rooms()).map((r) => r.room), ['devops', 'general'], 'rooms() is the first page');
    const found = await ada.roomsPage({ q: 'OPS' });
    assert.deepEqual(found.rooms.map((r) => r.room), ['devops', 'ops']);

    for (const name of ['bob', 'cy']) {
      const c = newClient(server, name);
      await c.connect();
      await c.join('general');
    }
    await ada.join('general');
    const first = await ada.members('general');
    assert.deepEqual(first.members, ['ada', 'bob']);
    assert.equal(first.next, 'bob');
    const rest = await ada.members('general', { after: first.next });
    assert.deepEqual(rest.members, ['cy']);
    assert.equal(rest.next, null);
  });
});

test('a room the operator deletes is forgotten: not re-joined, its queued sends fail, its seq gone', async (t) => {
  await withServer(t, {}, async (server) => {
    const lost = new Set(); // acks hidden from the client: its send stays queued
    const tap = tapSocket({ drop: (e) => e.type === 'ack' && lost.has(e.cid) });
    const ada = newClient(server, 'ada', { WebSocket: tap.WebSocket });
    await ada.connect();
    await ada.create('ops');
    await ada.join('ops');
    await ada.send('ops', 'before').promise;
    assert.equal(ada.lastSeq('ops'), 1);
    const log = record(ada, ['room_deleted']);
    const stuck = ada.send('ops', 'never acked'); // the ack arrives later, and is hidden
    lost.add(stuck.cid);
    const failed = stuck.promise.then(() => null, (err) => err);

    const r = await server.admin('delete-room', 'ops');
    assert.equal(r.code, 0, r.output);
    await waitFor(() => log.length === 1, { what: 'room_deleted' });
    assert.equal((await failed)?.code, 'room_deleted');
    assert.equal(log[0].room, 'ops');
    assert.deepEqual(ada.joinedRooms(), []);
    assert.equal(ada.lastSeq('ops'), null);

    // A reconnect does not bring it back (no join for it is sent).
    await server.restart();
    await waitFor(() => ada.state === State.CONNECTED, { what: 'reconnected' });
    assert.deepEqual(ada.joinedRooms(), []);
    assert.ok(!(await ada.rooms()).some((x) => x.room === 'ops'));
  });
});
