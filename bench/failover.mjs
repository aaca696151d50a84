// The failover scenario (issue 18): clients send at a steady rate through a Parley cluster while
// the Redis primary that orders their rooms is killed (kill -9); measured from the kill: the first
// and the last send refused (`unavailable`: the refused window), the time until every client has
// had an ack again, and the ledger (every acked message stored once: lost and duplicated must be 0).
//
//   node --experimental-websocket bench/failover.mjs --ports P,P,… --kill-pid PID --server NAME
//        [--slots A-B,C-D] [--clients 40] [--rooms 8] [--rate 10] [--warmup 3] [--quiet 3]
//        [--max-after 30] [--tag ID] [--out-dir DIR|-] [--backend NAME] [--nodes N]
//
// bench/run starts a fresh `scripts/cluster up --redis sentinel|cluster` for each run and passes
// the primary's pid (on a Redis Cluster: the primary of the shard that holds --slots, and the
// rooms are chosen in those slots, so that every client is on the killed shard). Client i
// connects to node i mod N (its own port, not HAProxy) and joins room i mod --rooms; each sends
// one message every 1/--rate s, one at a time: a refused send is sent again with the same cid at
// the next tick, as a client's retry loop does (docs/protocol.md, "send"). Bounded: --max-after
// seconds after the kill, and 30 s for set-up and for the ledger each. Loopback only.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const ports = String(opt("ports", "")).split(",").filter(Boolean).map(Number);
const killPid = Number(opt("kill-pid", 0));
const server = opt("server", "parley");
const tag = opt("tag", new Date().toISOString());
const outDir = opt("out-dir", "-");
const clients = Number(opt("clients", 40));
const roomCount = Number(opt("rooms", 8));
const rate = Number(opt("rate", 10));
const warmupS = Number(opt("warmup", 3));
const quietS = Number(opt("quiet", 3));
const maxAfterS = Number(opt("max-after", 30));
const slots = String(opt("slots", ""));
const backend = opt("backend", "");
const host = "127.0.0.1";
if (!ports.length || !killPid || !(clients > 0) || !(rate > 0)) {
  console.error("usage: failover.mjs --ports P,P,… --kill-pid PID [--server NAME] [--slots A-B,…] (see the file's head)");
  process.exit(2);
}
if (typeof WebSocket !== "function") {
  console.error("failover.mjs: no WebSocket: run node with --experimental-websocket (Node 20) or Node >= 22");
  process.exit(2);
}

const now = () => performance.now() / 1000; // seconds, monotonic
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => Number(os.loadavg()[0].toFixed(2));
const loadStart = loadavg();

// Redis Cluster's key slot of a room: its keys are `<prefix>:{room}:…`, so CRC16 (XMODEM) of the
// room id, mod 16384.
function keySlot(s) {
  let crc = 0;
  for (const b of Buffer.from(s)) {
    crc ^= b << 8;
    for (let k = 0; k < 8; ++k) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
const ranges = slots
  .split(",")
  .filter(Boolean)
  .map((r) => r.split("-").map(Number));
const inRanges = (slot) => !ranges.length || ranges.some(([a, b]) => slot >= a && slot <= (b ?? a));
const run = Math.random().toString(36).slice(2, 8);
const rooms = [];
for (let k = 0; rooms.length < roomCount && k < 100000; ++k) {
  const id = `fo-${run}-${k}`;
  if (inRanges(keySlot(id))) rooms.push(id);
}
if (rooms.length < roomCount) throw new Error(`no ${roomCount} room ids in slots ${slots}`);

// One WebSocket connection: events by `ref`, and a handler for the rest.
class Conn {
  constructor(port, name) {
    this.port = port;
    this.name = name;
    this.waiting = new Map(); // ref → resolve
    this.onEvent = () => {};
    this.closed = false;
  }
  open(timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${host}:${this.port}/ws`);
      this.ws = ws;
      const t = setTimeout(() => reject(new Error(`connect to ${this.port}: timeout`)), timeoutMs);
      ws.onopen = () => {
        clearTimeout(t);
        resolve();
      };
      ws.onerror = (e) => {
        clearTimeout(t);
        reject(new Error(`connect to ${this.port}: ${e.message ?? "error"}`));
      };
      ws.onclose = () => {
        this.closed = true;
      };
      ws.onmessage = (msg) => {
        for (const line of String(msg.data).split("\n")) {
          if (!line) continue;
          const ev = JSON.parse(line);
          const w = ev.ref !== undefined ? this.waiting.get(String(ev.ref)) : undefined;
          if (w) {
            this.waiting.delete(String(ev.ref));
            w(ev);
          } else this.onEvent(ev);
        }
      };
    });
  }
  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }
  request(obj, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(String(obj.ref));
        reject(new Error(`${obj.type} on ${this.port}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(String(obj.ref), (ev) => {
        clearTimeout(t);
        resolve(ev);
      });
      this.send(obj);
    });
  }
  close() {
    try {
      this.ws.close();
    } catch {
      /* closed already */
    }
  }
}

let refs = 0;
const ref = () => `r${++refs}`;
async function hello(c) {
  const w = await c.request({ type: "hello", name: c.name, ref: ref() });
  if (w.type !== "welcome") throw new Error(`hello ${c.name}: ${JSON.stringify(w)}`);
}

const result = { ok: false };
const out = {
  scenario: "failover",
  server,
  tag,
  time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  loadavg_start: loadStart,
  params: { host, nodes: ports.length, backend, clients, rooms: roomCount, rate_per_client: rate, warmup_s: warmupS, quiet_s: quietS, max_after_s: maxAfterS, killed: "the Redis primary of the rooms (kill -9)" },
};

// --- set-up: rooms, clients joined --------------------------------------------------------------
const admin = new Conn(ports[0], `fo-admin-${run}`);
await admin.open();
await hello(admin);
for (const room of rooms) {
  const ev = await admin.request({ type: "create", room, ref: ref() });
  if (ev.type !== "created") throw new Error(`create ${room}: ${JSON.stringify(ev)}`);
}

class Client {
  constructor(i) {
    this.i = i;
    this.room = rooms[i % rooms.length];
    this.conn = new Conn(ports[i % ports.length], `fo-c${i}-${run}`);
    this.k = 0;
    this.inflight = null; // {cid, text, sent}
    this.retry = null; // a refused message, sent again at the next tick with its cid
    this.lastRefused = -Infinity; // time of its last refusal (answer received)
    this.servedAfterKill = null; // time of the first ack of a send sent after its last refusal (or the kill)
  }
}
const all = Array.from({ length: clients }, (_, i) => new Client(i));
const acked = new Map(); // cid → {room, seq, n}
const refusals = []; // {t, code}
const errors = {};
let killAt = null;
let firstRefused = null;
let lastRefused = null;
let ackMismatch = 0; // one cid acked with two different seqs
let stopped = false;

for (const c of all) {
  await c.conn.open();
  await hello(c.conn);
  const j = await c.conn.request({ type: "join", room: c.room, ref: ref() });
  if (j.type !== "joined") throw new Error(`join ${c.room}: ${JSON.stringify(j)}`);
  c.conn.onEvent = () => {}; // the room's messages: the ledger reads the store's history instead
}

function answer(c, sentAt, cid, ev) {
  const t = now();
  c.inflight = null;
  if (ev.type === "ack") {
    const had = acked.get(cid);
    if (had && had.seq !== ev.seq) ackMismatch++;
    acked.set(cid, { room: c.room, seq: ev.seq });
    if (killAt !== null && c.servedAfterKill === null && sentAt > Math.max(killAt, c.lastRefused)) c.servedAfterKill = t;
    return;
  }
  const code = ev.code ?? ev.type;
  errors[code] = (errors[code] ?? 0) + 1;
  c.retry = { cid, text: c.lastText };
  if (killAt !== null) {
    refusals.push(t);
    firstRefused ??= t;
    lastRefused = t;
    c.lastRefused = t;
    c.servedAfterKill = null;
  }
}

function tick(c) {
  if (stopped || c.inflight || c.conn.closed) return;
  let cid, text;
  if (c.retry) ({ cid, text } = c.retry);
  else {
    cid = `c${c.i}-${++c.k}`;
    text = `failover ${run} client ${c.i} message ${c.k}`;
  }
  c.retry = null;
  c.lastText = text;
  const sentAt = now();
  c.inflight = { cid, sent: sentAt };
  c.conn
    .request({ type: "send", room: c.room, cid, text, ref: ref() }, 60000)
    .then((ev) => answer(c, sentAt, cid, ev))
    .catch(() => {
      c.inflight = null;
      c.retry = { cid, text };
      errors.no_answer = (errors.no_answer ?? 0) + 1;
    });
}
const period = 1000 / rate;
const timers = all.map((c, i) => setTimeout(() => (c.timer = setInterval(() => tick(c), period)), (period * i) / clients));

// --- the kill, and until every client is served again --------------------------------------------
await sleep(warmupS * 1000);
const ackedBefore = acked.size;
killAt = now();
try {
  process.kill(killPid, "SIGKILL");
} catch (e) {
  throw new Error(`kill -9 ${killPid}: ${e.message}`);
}
let recovered = false;
while (now() - killAt < maxAfterS) {
  await sleep(50);
  const t = now();
  const quiet = t - (lastRefused ?? killAt) >= quietS;
  if (t - killAt > quietS && quiet && all.every((c) => c.servedAfterKill !== null)) {
    recovered = true;
    break;
  }
}
stopped = true;
timers.forEach(clearTimeout);
for (const c of all) clearInterval(c.timer);
// Every send in flight answered (or 10 s), then the ledger.
for (let w = 0; w < 200 && all.some((c) => c.inflight); ++w) await sleep(50);
const unanswered = all.filter((c) => c.inflight).length;
const closed = all.filter((c) => c.conn.closed).length;

// --- the ledger: every acked cid in the store's history, once, under its acked seq -------------
const stored = new Map(); // cid → [seq…]
let historyPages = 0;
const reader = new Conn(ports[0], `fo-reader-${run}`);
await reader.open();
await hello(reader);
let seqGaps = 0;
for (const room of rooms) {
  const j = await reader.request({ type: "join", room, ref: ref() });
  if (j.type !== "joined") throw new Error(`ledger join ${room}: ${JSON.stringify(j)}`);
  let before;
  const seqs = [];
  for (let page = 0; page < 10000; ++page) {
    const h = await reader.request({ type: "history", room, limit: 100, ...(before ? { before } : {}), ref: ref() });
    if (h.type !== "history") throw new Error(`history ${room}: ${JSON.stringify(h)}`);
    historyPages++;
    for (const m of h.messages) {
      seqs.push(m.seq);
      if (!m.cid) continue;
      const list = stored.get(m.cid) ?? [];
      list.push(m.seq);
      stored.set(m.cid, list);
    }
    if (!h.has_more || !h.messages.length) break;
    before = h.messages[0].seq;
  }
  seqs.sort((a, b) => a - b);
  for (let i = 1; i < seqs.length; ++i) if (seqs[i] !== seqs[i - 1] + 1) seqGaps++;
}
let lost = 0, wrongSeq = 0, duplicated = 0;
for (const [cid, a] of acked) {
  const s = stored.get(cid);
  if (!s) lost++;
  else if (!s.includes(a.seq)) wrongSeq++;
}
for (const s of stored.values()) if (s.length > 1) duplicated += s.length - 1;
reader.close();
admin.close();
for (const c of all) c.conn.close();

const rel = (t) => (t === null || t === undefined ? null : Number((t - killAt).toFixed(3)));
const served = all.map((c) => c.servedAfterKill).filter((t) => t !== null);
Object.assign(result, {
  ok: recovered && lost === 0 && duplicated === 0 && wrongSeq === 0 && ackMismatch === 0 && unanswered === 0,
  recovered,
  first_refused_s: rel(firstRefused),
  last_refused_s: rel(lastRefused),
  refused_window_s: firstRefused === null ? 0 : Number((lastRefused - firstRefused).toFixed(3)),
  all_served_s: served.length === clients ? rel(Math.max(...served)) : null,
  refused_sends: refusals.length,
  clients_refused: all.filter((c) => c.lastRefused > -Infinity).length,
  acked_before_kill: ackedBefore,
  acked: acked.size,
});
out.result = result;
out.delivery = { acked: acked.size, stored_cids: stored.size, lost, duplicated, acked_under_another_seq: wrongSeq, ack_seq_changed: ackMismatch, seq_gaps: seqGaps, unanswered, closed, history_pages: historyPages };
out.errors = errors;
out.ok = result.ok;
out.loadavg_end = loadavg();
const lineOut = JSON.stringify(out);
if (outDir === "-") console.log(lineOut);
else {
  fs.mkdirSync(outDir, { recursive: true });
  fs.appendFileSync(path.join(outDir, "failover.json"), lineOut + "\n");
  console.log(lineOut);
}
process.exit(result.ok ? 0 : 1);
