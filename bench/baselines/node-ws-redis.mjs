// Baseline: the seeds' architecture. Node.js `ws` servers (one per core, node:cluster) relaying
// every chat message through one Redis Pub/Sub channel; Redis assigns the room's seq and keeps
// recent history in one atomic script (INCR + RPUSH + PUBLISH), so every server sees a room's
// messages in seq order. Speaks enough of protocol v1 for the load generator: hello → welcome,
// create → created, join (with since) → joined + gap + live, send → ack + message to every member.
//
//   node bench/baselines/node-ws-redis.mjs --port 0 --redis-port 6379 [--workers 2]
// prints "node-ws-redis: listening on 127.0.0.1:<port>" when every worker is ready. GET /readyz
// answers 200, so that HAProxy's health check (deploy/haproxy.local.cfg.tmpl) can front several
// of these processes on one Redis, as bench/run's cluster scenario does.
import cluster from "node:cluster";
import os from "node:os";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const host = arg("--host", "127.0.0.1");
const redisPort = Number(arg("--redis-port", "6379"));
const workers = Number(arg("--workers", String(os.availableParallelism?.() ?? os.cpus().length)));
const HISTORY = 10000;
const CHANNEL = "parley:events";

if (cluster.isPrimary) {
  // Let the kernel spread connections over the workers, as SO_REUSEPORT would.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let port = Number(arg("--port", "0"));
  if (port === 0) {
    // Pick a free port once, so that every worker listens on the same one.
    const net = await import("node:net");
    port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, host, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
  }
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    const w = cluster.fork({ BASELINE_PORT: String(port) });
    w.on("message", (m) => {
      if (m === "ready" && ++ready === workers) console.log(`node-ws-redis: listening on ${host}:${port}`);
    });
  }
  cluster.on("exit", (w, code) => {
    if (!shuttingDown) {
      console.error(`node-ws-redis: worker ${w.process.pid} exited with ${code}`);
      process.exit(1);
    }
  });
  let shuttingDown = false;
  const stop = () => {
    shuttingDown = true;
    for (const w of Object.values(cluster.workers)) w.kill("SIGTERM");
    setTimeout(() => process.exit(0), 500);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const http = require("node:http");
  const { WebSocketServer } = require("ws");
  const Redis = require("ioredis");
  const port = Number(process.env.BASELINE_PORT);
  const str = JSON.stringify;

  const cmd = new Redis({ host: "127.0.0.1", port: redisPort, lazyConnect: false });
  const sub = new Redis({ host: "127.0.0.1", port: redisPort, lazyConnect: false });
  cmd.defineCommand("chatSend", {
    numberOfKeys: 2,
    lua: `
      local seq = redis.call('INCR', KEYS[1])
      local ev = ARGV[1] .. seq .. ARGV[2]
      redis.call('RPUSH', KEYS[2], ev)
      redis.call('LTRIM', KEYS[2], -${HISTORY}, -1)
      redis.call('PUBLISH', '${CHANNEL}', ARGV[3] .. '\\n' .. seq .. '\\n' .. ev)
      return seq`,
  });

  const members = new Map(); // room → Set<ws>
  let nextSession = 1;

  function deliver(ws, room, seq, ev) {
    const st = ws.rooms.get(room);
    if (!st) return;
    if (st.pending) {
      st.pending.push([seq, ev]);
      return;
    }
    if (seq <= st.last) return;
    st.last = seq;
    ws.send(ev);
  }

  await sub.subscribe(CHANNEL);
  sub.on("message", (_ch, payload) => {
    const a = payload.indexOf("\n");
    const b = payload.indexOf("\n", a + 1);
    const room = payload.slice(0, a);
    const set = members.get(room);
    if (!set) return;
    const seq = Number(payload.slice(a + 1, b));
    const ev = payload.slice(b + 1);
    for (const ws of set) deliver(ws, room, seq, ev);
  });

  // ws's own server answers every plain request with 426; HAProxy checks GET /readyz.
  const server = http.createServer((req, res) => {
    const ready = req.url === "/readyz";
    res.writeHead(ready ? 200 : 426, { "Content-Type": "text/plain" });
    res.end(ready ? "ready\n" : "Upgrade Required\n");
  });
  const wss = new WebSocketServer({
    server,
    path: "/ws",
    perMessageDeflate: false,
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => (protocols.has("parley.v1") ? "parley.v1" : false),
  });

  wss.on("connection", (ws) => {
    ws.user = "";
    ws.rooms = new Map(); // room → { last, pending }
    ws.on("close", () => {
      for (const room of ws.rooms.keys()) members.get(room)?.delete(ws);
    });
    ws.on("error", () => {});
    ws.on("message", async (raw) => {
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
          ws.user = String(m.name);
          ws.send(`{"type":"welcome","user":${str(ws.user)},"session":"s-${process.pid}-${nextSession++}","server_time":${Date.now()}${ref}}`);
          return;
        case "ping":
          ws.send(`{"type":"pong","server_time":${Date.now()}${ref}}`);
          return;
        case "create":
          ws.send(`{"type":"created","room":${str(m.room)},"by":${str(ws.user)}${ref}}`);
          return;
        case "join": {
          const room = String(m.room);
          const st = { last: 0, pending: [] };
          ws.rooms.set(room, st);
          let set = members.get(room);
          if (!set) members.set(room, (set = new Set()));
          set.add(ws);
          const since = typeof m.since === "number" ? m.since : null;
          const [[, seqStr], [, hist]] = await cmd
            .multi()
            .get(`parley:seq:${room}`)
            .lrange(`parley:hist:${room}`, since === null ? -1 : 0, since === null ? -2 : -1)
            .exec();
          const last = Number(seqStr || 0);
          ws.send(`{"type":"joined","room":${str(room)},"last_seq":${last},"members":[]${ref}}`);
          st.last = since === null ? last : since;
          for (const ev of hist) {
            const i = ev.indexOf('"seq":') + 6;
            const s = Number(ev.slice(i, ev.indexOf(",", i)));
            if (s > st.last && s <= last) {
              st.last = s;
              ws.send(ev);
            }
          }
          if (since !== null && st.last < last) st.last = last; // older than the kept history
          const pending = st.pending;
          st.pending = null;
          for (const [s, ev] of pending) deliver(ws, room, s, ev);
          return;
        }
        case "send": {
          const room = String(m.room);
          if (!ws.rooms.has(room)) {
            ws.send(`{"type":"error","code":"not_joined","message":"join the room first"${ref}}`);
            return;
          }
          const ts = Date.now();
          const head = `{"type":"message","room":${str(room)},"seq":`;
          const tail = `,"from":${str(ws.user)},"text":${str(m.text)},"ts":${ts},"cid":${str(m.cid)}}`;
          try {
            const seq = await cmd.chatSend(`parley:seq:${room}`, `parley:hist:${room}`, head, tail, room);
            ws.send(`{"type":"ack","cid":${str(m.cid)},"room":${str(room)},"seq":${seq},"ts":${ts}${ref}}`);
          } catch (e) {
            ws.send(`{"type":"error","code":"store_failed","message":${str(String(e.message))}${ref}}`);
          }
          return;
        }
        default:
          ws.send(`{"type":"error","code":"unknown_type","message":"unknown request type"${ref}}`);
      }
    });
  });

  server.listen(port, host, () => process.send("ready"));
  process.on("SIGTERM", () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    process.exit(0);
  });
}
