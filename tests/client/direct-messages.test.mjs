// Unit tests of web/js/parley-client.js for direct conversations (protocol.md "Direct
// conversations"), over a scripted fake socket: the dm request and its answer, its refusals,
// the `created` of a conversation someone else began, and a conversation re-joined after a
// reconnect like any room.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyClient, State, isDirectRoom } from '../../web/js/parley-client.js';
import { waitFor } from '../lib/wait.mjs';

const DM = 'dm-5f0c2a9e1b7d3c4a8e6f0b21';

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
    last(type) { return this.sent.filter((m) => m.type === type).at(-1); }
  }
  return { WebSocket: FakeSocket, sockets };
}

const WELCOME = { type: 'welcome', user: 'ada', uid: 'u_1', session: 's-1', server_time: 0, limits: { max_text_length: 4000 } };

async function connected(t) {
  const fake = fakeSockets();
  const client = new ParleyClient({
    url: 'ws://parley.test/ws', WebSocket: fake.WebSocket, pingIntervalMs: 60000,
    backoff: { initialMs: 10, maxMs: 20, factor: 2, jitter: 0 },
  });
  t.after(() => client.close());
  const welcomed = client.connect();
  fake.sockets[0].open();
  fake.sockets[0].receive({ ...WELCOME, ref: fake.sockets[0].sent[0].ref });
  await welcomed;
  return { client, sockets: fake.sockets };
}

test('isDirectRoom: the dm- ids, and nothing else', () => {
  assert.equal(isDirectRoom(DM), true);
  assert.equal(isDirectRoom('general'), false);
  assert.equal(isDirectRoom('adm-room'), false, 'dm- only at the start');
  assert.equal(isDirectRoom('DM-x'), false, 'the server makes them lower case');
  assert.equal(isDirectRoom(undefined), false);
  assert.equal(isDirectRoom(null), false);
});

test('dm: the request names the other account; the answer is the room and their name', async (t) => {
  const { client, sockets } = await connected(t);
  const ws = sockets[0];
  const p = client.dm('Bob');
  const sent = ws.last('dm');
  assert.deepEqual(sent, { type: 'dm', user: 'Bob', ref: sent.ref });
  ws.receive({ type: 'dm', room: DM, user: 'bob', ref: sent.ref });
  const answer = await p;
  assert.equal(answer.room, DM);
  assert.equal(answer.user, 'bob', 'the name as the server spells it');
  assert.deepEqual(client.joinedRooms(), [], 'a dm is not joined by itself');
});

test('dm refusals reject with the server\'s code', async (t) => {
  const { client, sockets } = await connected(t);
  const ws = sockets[0];
  for (const [code, message] of [
    ['no_such_user', 'no account of that name'],
    ['bad_request', 'that is you'],
    ['forbidden', 'sign in to talk with someone directly'],
  ]) {
    const p = client.dm('someone');
    ws.receive({ type: 'error', code, message, ref: ws.last('dm').ref });
    await assert.rejects(p, { name: 'ParleyError', code, message });
  }
  const limited = client.dm('bob');
  ws.receive({ type: 'error', code: 'rate_limited', message: 'too many conversations started; wait', retry_after_ms: 2000, ref: ws.last('dm').ref });
  await assert.rejects(limited, { code: 'rate_limited', retryAfterMs: 2000 });
});

test('dm while disconnected rejects at once, sending nothing', async (t) => {
  const { client, sockets } = await connected(t);
  sockets[0].drop();
  await waitFor(() => client.state !== State.CONNECTED, { timeout: 2000, what: 'the drop' });
  await assert.rejects(client.dm('bob'), { code: 'disconnected' });
  assert.equal(sockets.some((ws) => ws.last('dm')), false);
});

test('created of a conversation someone began reaches the app with direct and by, and joins nothing', async (t) => {
  const { client, sockets } = await connected(t);
  const seen = [];
  client.on('created', (e) => seen.push(e));
  sockets[0].receive({ type: 'created', room: DM, by: 'bob', direct: true });
  sockets[0].receive({ type: 'created', room: 'ops', by: 'bob' });
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[0], { type: 'created', room: DM, by: 'bob', direct: true });
  assert.equal(seen[1].direct, undefined, 'a room is not a conversation');
  assert.deepEqual(client.joinedRooms(), []);
});

test('a joined conversation is re-joined after a reconnect, with since, like any room', async (t) => {
  const { client, sockets } = await connected(t);
  const joined = client.join(DM);
  const first = sockets[0].last('join');
  assert.deepEqual(first, { type: 'join', room: DM, ref: first.ref });
  sockets[0].receive({ type: 'joined', room: DM, last_seq: 3, members: ['ada', 'bob'], member_count: 2, private: true, role: 'member', ref: first.ref });
  await joined;
  sockets[0].receive({ type: 'message', room: DM, seq: 4, from: 'bob', uid: 'u_2', text: 'hi', ts: 1 });
  assert.equal(client.lastSeq(DM), 4);

  sockets[0].drop();
  await waitFor(() => sockets.length === 2, { timeout: 2000, what: 'the reconnect' });
  const ws = sockets[1];
  ws.open();
  ws.receive({ ...WELCOME, ref: ws.sent[0].ref });
  await waitFor(() => ws.last('join'), { timeout: 2000, what: 'the re-join' });
  const again = ws.last('join');
  assert.deepEqual(again, { type: 'join', room: DM, since: 4, ref: again.ref });
});
