// Unit tests of web/js/parley-client.js for private rooms and moderation (protocol.md, "Private
// rooms and moderation"), over a scripted fake socket: what the client sends, what it remembers,
// and what it re-joins after a reconnect.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParleyClient, State } from '../../web/js/parley-client.js';
import { waitFor } from '../lib/wait.mjs';

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

const WELCOME = { type: 'welcome', user: 'bob', session: 's-1', server_time: 0, limits: { max_text_length: 4000 } };

// A client connected on its first socket, as bob.
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

// Drop the socket, open the next one and welcome it: the client re-joins what it remembers.
async function reconnect(client, sockets) {
  const n = sockets.length;
  sockets[n - 1].drop();
  await waitFor(() => sockets.length === n + 1, { timeout: 2000, what: 'the reconnect' });
  const ws = sockets[n];
  ws.open();
  ws.receive({ ...WELCOME, ref: ws.sent[0].ref });
  await waitFor(() => client.state === State.CONNECTED, { timeout: 2000, what: 'the welcome' });
  return ws;
}

test('create: private and password only when asked; a public create says neither', async (t) => {
  const { client, sockets } = await connected(t);
  const ws = sockets[0];
  const pub = client.create('lobby');
  assert.deepEqual(ws.last('create'), { type: 'create', room: 'lobby', ref: ws.last('create').ref });
  ws.receive({ type: 'created', room: 'lobby', by: 'bob', ref: ws.last('create').ref });
  await pub;
  const priv = client.create('club', { private: true, password: 'open sesame' });
  const sent = ws.last('create');
  assert.deepEqual(sent, { type: 'create', room: 'club', private: true, password: 'open sesame', ref: sent.ref });
  ws.receive({ type: 'created', room: 'club', by: 'bob', private: true, ref: sent.ref });
  assert.equal((await priv).private, true);
  client.create('vault', { private: true }).catch(() => { /* closed by the test's end */ });
  assert.equal('password' in ws.last('create'), false, 'invitation only: no password key');
});

test('join with a password: sent once, never kept; the re-join after a reconnect carries none', async (t) => {
  const { client, sockets } = await connected(t);
  const joined = client.join('club', { password: 'open sesame' });
  const first = sockets[0].last('join');
  assert.deepEqual(first, { type: 'join', room: 'club', password: 'open sesame', ref: first.ref });
  sockets[0].receive({ type: 'joined', room: 'club', last_seq: 4, members: ['ada', 'bob'], member_count: 2, private: true, role: 'member', ref: first.ref });
  const evt = await joined;
  assert.equal(evt.role, 'member');
  assert.deepEqual(client.roomInfo('club'), { private: true, role: 'member', title: '', topic: '' });
  assert.equal(JSON.stringify([...client._rooms]).includes('open sesame'), false, 'the room record keeps no password');

  const ws = await reconnect(client, sockets);
  await waitFor(() => ws.last('join'), { timeout: 2000, what: 'the re-join' });
  const again = ws.last('join');
  assert.deepEqual(again, { type: 'join', room: 'club', since: 4, ref: again.ref });
  assert.equal(ws.sent.some((m) => JSON.stringify(m).includes('open sesame')), false);
});

test('a wrong password forgets the room: nothing is re-joined after a reconnect', async (t) => {
  const { client, sockets } = await connected(t);
  const joined = client.join('club', { password: 'guess' });
  sockets[0].receive({ type: 'error', code: 'bad_password', message: 'wrong password for this room', ref: sockets[0].last('join').ref });
  await assert.rejects(joined, { code: 'bad_password' });
  assert.deepEqual(client.joinedRooms(), []);
  // Refused for now (too many guesses): forgotten too, as a re-join would carry no password.
  const limited = client.join('club', { password: 'guess again' });
  sockets[0].receive({ type: 'error', code: 'rate_limited', message: 'too many password attempts; wait', retry_after_ms: 3000, ref: sockets[0].last('join').ref });
  await assert.rejects(limited, { code: 'rate_limited', retryAfterMs: 3000 });
  assert.deepEqual(client.joinedRooms(), []);
  const ws = await reconnect(client, sockets);
  assert.equal(ws.last('join'), undefined, 'no join on the new connection');
});

test('a join refused with forbidden (a private room) is forgotten', async (t) => {
  const { client, sockets } = await connected(t);
  const joined = client.join('vault');
  sockets[0].receive({ type: 'error', code: 'forbidden', message: 'a private room: join with its password, or be invited', ref: sockets[0].last('join').ref });
  await assert.rejects(joined, { code: 'forbidden' });
  assert.deepEqual(client.joinedRooms(), []);
});

test('removed: the client forgets the room, tells the app, fails its queued sends, and does not re-join it', async (t) => {
  const { client, sockets } = await connected(t);
  const events = [];
  client.on('removed', (e) => events.push(e));
  for (const room of ['club', 'general']) {
    const p = client.join(room);
    sockets[0].receive({ type: 'joined', room, last_seq: 0, members: ['ada', 'bob'], member_count: 2, ref: sockets[0].last('join').ref });
    await p;
  }
  const failed = [];
  client.on('send-failed', (e) => failed.push(e.error.code));
  // Someone else removed: the room stays.
  sockets[0].receive({ type: 'removed', room: 'club', user: 'eve', by: 'ada', banned: false });
  assert.deepEqual(client.joinedRooms(), ['club', 'general']);
  assert.equal(events[0].self, false);
  // This client's user (the server's spelling may differ in case): forgotten.
  sockets[0].drop(); // the send waits in the queue meanwhile
  client.send('club', 'are you there?');
  const ws = await reconnect(client, sockets);
  await waitFor(() => ws.sent.filter((m) => m.type === 'join').length === 2, { timeout: 2000, what: 'the re-joins' });
  ws.receive({ type: 'removed', room: 'club', user: 'Bob', by: 'ada', banned: true });
  assert.deepEqual(events.at(-1), { type: 'removed', room: 'club', user: 'Bob', by: 'ada', banned: true, self: true });
  assert.deepEqual(client.joinedRooms(), ['general']);
  assert.deepEqual(failed, ['removed']);
  assert.equal(client.roomInfo('club'), null);

  const next = await reconnect(client, sockets);
  await waitFor(() => next.sent.some((m) => m.type === 'join'), { timeout: 2000, what: 'the re-join' });
  assert.deepEqual(next.sent.filter((m) => m.type === 'join').map((m) => m.room), ['general']);
});

test('invite, remove (ban), unban, set_role: the requests and their answers; the own role follows', async (t) => {
  const { client, sockets } = await connected(t);
  const ws = sockets[0];
  const p = client.join('vault');
  ws.receive({ type: 'joined', room: 'vault', last_seq: 0, members: ['bob'], member_count: 1, private: true, role: 'owner', ref: ws.last('join').ref });
  await p;
  assert.deepEqual(client.roomInfo('vault'), { private: true, role: 'owner', title: '', topic: '' });

  const calls = [
    [() => client.invite('vault', 'eve'), { type: 'invite', room: 'vault', user: 'eve' }, { type: 'invited', room: 'vault', user: 'eve' }],
    [() => client.remove('vault', 'eve'), { type: 'remove', room: 'vault', user: 'eve' }, { type: 'removed', room: 'vault', user: 'eve', by: 'bob', banned: false }],
    [() => client.remove('vault', 'eve', { ban: true }), { type: 'remove', room: 'vault', user: 'eve', ban: true }, { type: 'removed', room: 'vault', user: 'eve', by: 'bob', banned: true }],
    [() => client.unban('vault', 'eve'), { type: 'unban', room: 'vault', user: 'eve' }, { type: 'unbanned', room: 'vault', user: 'eve' }],
    [() => client.setRole('vault', 'eve', 'moderator'), { type: 'set_role', room: 'vault', user: 'eve', role: 'moderator' }, { type: 'role', room: 'vault', user: 'eve', role: 'moderator' }],
    [() => client.updateRoom('vault', { title: 'The Vault' }), { type: 'update_room', room: 'vault', title: 'The Vault' }, { type: 'room_updated', room: 'vault', title: 'The Vault', topic: '', by: 'bob' }],
    [() => client.updateRoom('vault', { topic: '' }), { type: 'update_room', room: 'vault', topic: '' }, { type: 'room_updated', room: 'vault', title: 'The Vault', topic: '', by: 'bob' }],
  ];
  for (const [call, want, answer] of calls) {
    const reply = call();
    const sent = ws.sent.at(-1);
    assert.deepEqual(sent, { ...want, ref: sent.ref });
    ws.receive({ ...answer, ref: sent.ref });
    const got = await reply;
    assert.equal(got.type, answer.type);
  }
  assert.deepEqual(client.joinedRooms(), ['vault'], 'removing someone else keeps the room');
  // The roster, a page at a time.
  const roster = client.roster('vault', { after: '+ada', limit: 1 });
  assert.deepEqual(ws.sent.at(-1), { type: 'roster', room: 'vault', after: '+ada', limit: 1, ref: ws.sent.at(-1).ref });
  ws.receive({ type: 'roster', room: 'vault', members: [{ user: 'eve', role: 'moderator', online: false }], ref: ws.sent.at(-1).ref });
  assert.deepEqual(await roster, { members: [{ user: 'eve', role: 'moderator', online: false }], next: null });
  // room_updated (the owner's answer, or another member's broadcast) is what roomInfo tells.
  ws.receive({ type: 'room_updated', room: 'vault', title: 'The Vault', topic: 'gold only' });
  assert.deepEqual(client.roomInfo('vault'), { private: true, role: 'owner', title: 'The Vault', topic: 'gold only' });

  const refused = client.setRole('vault', 'eve', 'owner');
  ws.receive({ type: 'error', code: 'bad_request', message: 'role must be "moderator" or "member"', ref: ws.sent.at(-1).ref });
  await assert.rejects(refused, { code: 'bad_request' });
  const forbidden = client.remove('vault', 'ada');
  ws.receive({ type: 'error', code: 'forbidden', message: 'only the owner and moderators remove members', ref: ws.sent.at(-1).ref });
  await assert.rejects(forbidden, { code: 'forbidden' });
});

test('the owner deletes a room: the answer is room_deleted with its ref, and the room is forgotten', async (t) => {
  const { client, sockets } = await connected(t);
  const ws = sockets[0];
  const p = client.join('vault');
  ws.receive({ type: 'joined', room: 'vault', last_seq: 3, members: ['bob'], member_count: 1, private: true, role: 'owner', ref: ws.last('join').ref });
  await p;
  const refused = client.deleteRoom('general');
  ws.receive({ type: 'error', code: 'forbidden', message: 'only the room\'s owner renames it, sets its topic or deletes it', ref: ws.last('delete_room').ref });
  await assert.rejects(refused, { code: 'forbidden' });
  const deleted = client.deleteRoom('vault');
  assert.deepEqual(ws.last('delete_room'), { type: 'delete_room', room: 'vault', ref: ws.last('delete_room').ref });
  ws.receive({ type: 'room_deleted', room: 'vault', by: 'bob', ref: ws.last('delete_room').ref });
  const got = await deleted;
  assert.equal(got.by, 'bob');
  assert.equal(client.roomInfo('vault'), null);
  assert.equal(client.joinedRooms().includes('vault'), false);
});
