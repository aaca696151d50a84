// The admin console (/admin; docs/operations.md "Admin console"). Served to anyone: it shows
// nothing until the server says this browser's session is an admin's. Live over the admin
// channel (docs/protocol.md "Admin channel") on a WebSocket of its own: hello with the session
// cookie, as the chat does, then admin_watch; an admin_stats about once a second, no polling.
// Actions go to the admin API (./api.js), each after a confirmation.
import { adminApi } from './api.js';
import { sparkline } from './sparkline.js';

const HISTORY = 60; // samples (seconds) kept per node for the sparklines
const $ = (id) => document.getElementById(id);
const history = new Map(); // node id -> { deliveries: [], p99: [], last: time }
let socket = null;
let retryMs = 500;
let stopped = false; // refused for good: no reconnect

function setState(text, live = false) {
  $('admin-state').textContent = text;
  $('admin-state').classList.toggle('live', live);
}

function deny(title, text) {
  stopped = true;
  $('admin-main').hidden = true;
  $('admin-denied').hidden = false;
  $('admin-denied-title').textContent = title;
  $('admin-denied-text').textContent = text;
  setState(title);
  socket?.close(1000);
}

function cell(row, content) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content);
  else td.textContent = String(content);
  row.append(td);
  return td;
}

function button(text, onClick, danger = false) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `btn btn-ghost small${danger ? ' danger' : ''}`;
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

function remember(node, time) {
  let h = history.get(node.id);
  if (!h) history.set(node.id, (h = { deliveries: [], p99: [], last: 0 }));
  if (time <= h.last) return h;
  h.last = time;
  h.deliveries.push(Number(node.deliveries_per_s) || 0);
  h.p99.push(Number(node.commit_p99_ms) || 0);
  if (h.deliveries.length > HISTORY) h.deliveries.shift();
  if (h.p99.length > HISTORY) h.p99.shift();
  return h;
}

function withSpark(value, values, label) {
  const wrap = document.createElement('span');
  wrap.className = 'spark';
  const text = document.createElement('span');
  text.textContent = value;
  wrap.append(sparkline(values, label), text);
  return wrap;
}

function renderNodes(stats) {
  const body = $('nodes-body');
  const rows = [];
  for (const node of stats.nodes) {
    const h = remember(node, stats.time);
    const tr = document.createElement('tr');
    tr.dataset.node = node.id;
    cell(tr, node.self ? `${node.id} (this node)` : node.id);
    const state = !node.up ? 'down' : node.draining ? 'draining' : 'up';
    const badge = document.createElement('span');
    badge.className = `state state-${state}`;
    badge.textContent = state;
    cell(tr, badge);
    cell(tr, node.connections);
    cell(tr, node.rooms);
    cell(tr, withSpark(Number(node.deliveries_per_s).toFixed(0), h.deliveries, `deliveries per second, last ${HISTORY} s`));
    cell(tr, withSpark(`${Number(node.commit_p99_ms).toFixed(2)} ms`, h.p99, `commit p99, last ${HISTORY} s`));
    cell(tr, node.broker_catchups);
    cell(tr, `${node.closes.rate_limit} / ${node.closes.slow_consumer}`);
    cell(tr, node.up && !node.draining
      ? button('Drain', () => act(`Drain node ${node.id}? Its sessions move to the other nodes.`,
        () => adminApi.drain(node.id), `node ${node.id} is draining`), true)
      : '');
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  for (const id of history.keys()) if (!stats.nodes.some((n) => n.id === id)) history.delete(id);
}

function renderRooms(stats) {
  const rows = stats.rooms.map((room) => {
    const tr = document.createElement('tr');
    tr.dataset.room = room.room;
    cell(tr, room.room);
    cell(tr, room.members);
    cell(tr, room.members_here);
    cell(tr, room.last_seq);
    cell(tr, button('Delete', () => deleteRoom(room.room), true));
    return tr;
  });
  $('rooms-body').replaceChildren(...rows);
}

function render(stats) {
  $('admin-denied').hidden = true;
  $('admin-main').hidden = false;
  renderNodes(stats);
  renderRooms(stats);
  $('closes-rate-limit').textContent = stats.closes.rate_limit;
  $('closes-slow-consumer').textContent = stats.closes.slow_consumer;
  const refused = stats.nodes.filter((n) => n.up).reduce((sum, n) => sum + (n.rate_limited || 0), 0);
  $('refused-rate-limited').textContent = refused;
  setState(`Live · ${stats.nodes.length} node${stats.nodes.length === 1 ? '' : 's'}`, true);
}

function onEvent(e) {
  if (e.type === 'welcome') {
    retryMs = 500;
    socket.send(JSON.stringify({ type: 'admin_watch', ref: 'watch' }));
  } else if (e.type === 'admin_stats') {
    render(e);
  } else if (e.type === 'error') {
    // A hello without a session cookie is a guest's without a name: refused (bad_name or unauthorized).
    if (e.ref === 'hello' && e.code !== 'overloaded' && e.code !== 'store_failed')
      deny('Sign in first', 'Sign in to an admin account in the chat, then come back to /admin.');
    else if (e.code === 'forbidden') deny('Forbidden', 'This account is not an admin: the console is for the accounts listed in auth.admins.');
    else if (e.code === 'unauthorized') deny('Sign in first', 'Sign in to an admin account in the chat, then come back to /admin.');
    else if (e.code === 'too_many_watchers') setState('Too many consoles are open on this node; retrying…');
    else setState(`Error: ${e.message}`);
  }
}

function connect() {
  if (stopped) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  socket = new WebSocket(`${scheme}//${location.host}/ws`, 'parley.v1');
  socket.addEventListener('open', () => socket.send(JSON.stringify({ type: 'hello', ref: 'hello' })));
  socket.addEventListener('message', (m) => {
    for (const line of String(m.data).split('\n')) {
      if (!line.trim()) continue;
      try {
        onEvent(JSON.parse(line));
      } catch {
        // not JSON: ignored
      }
    }
  });
  socket.addEventListener('close', (c) => {
    if (stopped) return;
    if (c.code === 1008 && c.reason === 'signed out') {
      deny('Signed out', 'This session has ended. Sign in again in the chat.');
      return;
    }
    setState('Reconnecting…');
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  });
}

// --- actions ---

function result(text, error = false) {
  $('action-result').textContent = text;
  $('action-result').classList.toggle('error', error);
}

function confirmThen(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

async function act(question, call, done) {
  if (!(await confirmThen(question))) return;
  const r = await call();
  if (r.ok) result(`Done: ${done}.`);
  else result(`Refused (${r.status} ${r.code ?? ''}): ${r.message}`, true);
  return r;
}

function deleteRoom(room) {
  return act(`Delete room ${room}? Its messages are gone for good and its members are taken out.`,
    () => adminApi.deleteRoom(room), `room ${room} deleted`);
}

$('user-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const user = $('user-name').value.trim();
  const action = e.submitter?.dataset.action ?? 'disconnect';
  if (!user) return result('Name a user first.', true);
  const what = {
    disconnect: [`Disconnect ${user} on every node?`, () => adminApi.disconnect(user), `${user} disconnected`],
    ban: [`Ban ${user}? Their sessions end on every node and they cannot sign in.`, () => adminApi.ban(user), `${user} banned`],
    unban: [`Lift the ban on ${user}?`, () => adminApi.unban(user), `${user} may sign in again`],
  }[action];
  act(...what);
});

$('room-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = $('room-name').value.trim();
  if (!room) return result('Name a room first.', true);
  deleteRoom(room);
});

$('message-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const room = $('message-room').value.trim();
  const seq = $('message-seq').value.trim();
  if (!room || !/^[1-9][0-9]*$/.test(seq)) return result('Name a room and a message seq (1 or more).', true);
  if (!(await confirmThen(`Delete message ${seq} of ${room}?`))) return;
  const r = await adminApi.deleteMessage(room, seq);
  if (r.ok) result(`Done: message ${seq} of ${room} deleted.`);
  else result(`Refused (${r.status} ${r.code ?? ''}): ${r.message}`, true);
});

connect();
