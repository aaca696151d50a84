// Baseline: Bun's WebSocket pub/sub (uWebSockets underneath), speaking enough of Parley's
// protocol v1 for the load generator: hello → welcome, create → created, join (with since) →
// joined + gap + live, send → ack + message to every member (seq per room, in memory).
// No persistence, no presence, no limits: the fastest shape of the same service.
//
// With --durable DIR (bench/run's `bun-durable`), each message is first inserted into SQLite
// (bun:sqlite, WAL, synchronous=NORMAL, Parley's table; one transaction per message, on the event
// loop), and only then acked and published: Parley's guarantee (a message anyone has seen is in
// history and survives a crash of the process) done the simplest way, to show what it costs.
//
//   bun bench/baselines/bun-server.js --port 0 [--durable DIR]
// prints "bun-baseline: listening on 127.0.0.1:<port>" when ready.
import { Database } from "bun:sqlite";

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const host = arg("--host", "127.0.0.1");
const port = Number(arg("--port", "0"));
const HISTORY = 10000;
const durable = arg("--durable", "");

let store = null;
if (durable) {
  const db = new Database(`${durable}/bun-baseline.db`, { create: true });
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec(`CREATE TABLE IF NOT EXISTS messages (room TEXT NOT NULL, seq INTEGER NOT NULL, sender TEXT NOT NULL,
           text TEXT NOT NULL, ts INTEGER NOT NULL, cid TEXT NOT NULL, PRIMARY KEY (room, seq)) WITHOUT ROWID`);
  store = db.prepare("INSERT INTO messages (room, seq, sender, text, ts, cid) VALUES (?, ?, ?, ?, ?, ?)");
}

const rooms = new Map(); // id → { seq, history: [event strings], first: seq of history[0] }
function room(id) {
  let r = rooms.get(id);
  if (!r) {
    r = { seq: 0, history: [], first: 1 };
    rooms.set(id, r);
  }
  return r;
}
room("general");

const str = JSON.stringify;
let nextSession = 1;

const server = Bun.serve({
  hostname: host,
  port,
  fetch(req, server) {
    const url = new URL(req.url);
    if (url.pathname === "/ws") {
      const proto = req.headers.get("sec-websocket-protocol") || "";
      const ok = server.upgrade(req, {
        data: { user: "", rooms: new Set() },
        headers: proto.split(",").map((s) => s.trim()).includes("parley.v1") ? { "Sec-WebSocket-Protocol": "parley.v1" } : {},
      });
      if (ok) return undefined;
    }
    if (url.pathname === "/healthz") return new Response('{"status":"ok"}');
    return new Response("not found", { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 64 * 1024,
    backpressureLimit: 64 * 1024 * 1024, // as Parley's max_outbound_bytes in the benchmark
    closeOnBackpressureLimit: true, // a slow consumer is closed (as Parley does), not silently dropped from
    idleTimeout: 120,
    message(ws, raw) {
      let m;
      try {
        m = JSON.parse(raw);
      } catch {
        ws.send('{"type":"error","code":"bad_json","message":"not JSON"}');
        return;
      }
      const ref = m.ref !== undefined ? `,"ref":${str(m.ref)}` : "";
      switch (m.type) {
        case "hello":
          ws.data.user = String(m.name);
          ws.send(`{"type":"welcome","user":${str(ws.data.user)},"session":"s-${nextSession++}","server_time":${Date.now()}${ref}}`);
          return;
        case "ping":
          ws.send(`{"type":"pong","server_time":${Date.now()}${ref}}`);
          return;
        case "create":
          room(m.room);
          ws.send(`{"type":"created","room":${str(m.room)},"by":${str(ws.data.user)}${ref}}`);
          return;
        case "join": {
          const r = room(m.room);
          ws.subscribe(m.room);
          ws.data.rooms.add(m.room);
          ws.cork(() => {
            ws.send(`{"type":"joined","room":${str(m.room)},"last_seq":${r.seq},"members":[]${ref}}`);
            if (typeof m.since === "number" && m.since < r.seq) {
              const from = Math.max(m.since + 1, r.first);
              for (let s = from; s <= r.seq; s++) ws.send(r.history[s - r.first]);
            }
          });
          return;
        }
        case "send": {
          if (!ws.data.rooms.has(m.room)) {
            ws.send(`{"type":"error","code":"not_joined","message":"join the room first"${ref}}`);
            return;
          }
          const r = room(m.room);
          const seq = ++r.seq;
          const ts = Date.now();
          if (store) store.run(m.room, seq, ws.data.user, String(m.text), ts, String(m.cid));
          const event = `{"type":"message","room":${str(m.room)},"seq":${seq},"from":${str(ws.data.user)},"text":${str(m.text)},"ts":${ts},"cid":${str(m.cid)}}`;
          r.history.push(event);
          if (r.history.length > HISTORY) {
            r.history.splice(0, r.history.length - HISTORY);
            r.first = seq - HISTORY + 1;
          }
          ws.send(`{"type":"ack","cid":${str(m.cid)},"room":${str(m.room)},"seq":${seq},"ts":${ts}${ref}}`);
          server.publish(m.room, event);
          return;
        }
        default:
          ws.send(`{"type":"error","code":"unknown_type","message":"unknown request type"${ref}}`);
      }
    },
  },
});

console.log(`bun-baseline: listening on ${host}:${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
