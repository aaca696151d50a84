// Renders bench/REPORT.md and bench/charts/*.png (gnuplot) from bench/results/<scenario>.json.
//   node bench/report.mjs [--run RUN_ID[,RUN_ID...]] [--pair-runs RUN_ID[,RUN_ID...]]
// Without --run: the newest full run (tag ending in -full), else the newest run of any kind.
// --pair-runs: the bar's paired comparisons (fanout) pool these runs instead of the shown ones;
// e.g. every run since bench/run rotates the servers' order.
// Every number in a table is the median over the repeated runs of that scenario and server.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(BENCH, "results");
const CHARTS = path.join(BENCH, "charts");
const SERVERS = ["parley", "bun", "node-ws-redis"];
// Rows only in some tables and the bar: Parley on PostgreSQL instead of SQLite (store), and
// Parley on one I/O thread (fanout), Parley over TLS (saturate).
// Parley on guests (fanout-auth, saturate-auth: the pair of its signed-in runs).
const EXTRA_SERVERS = ["parley-redis", "parley-redis-cluster", "parley-redis-sentinel", "parley-pg", "parley-1t", "bun-durable", "parley-wss", "parley-guest", "parley-nice0"];
const LABEL = {
  "parley-wss": "parley over wss (TLS on the node)",
  "parley-nice0": "parley, hash threads at the I/O threads' priority (auth.hash_nice=0)",
  "parley-pg": "parley (PostgreSQL store)",
  "parley-1t": "parley, 1 I/O thread",
  "bun-durable": "bun, durable (SQLite commit per message)",
  "parley-guest": "parley, guests",
  "parley-redis": "one Redis",
  "parley-redis-cluster": "Redis Cluster (3 primaries + 3 replicas)",
  "parley-redis-sentinel": "Redis Sentinel (1 primary + 2 replicas + 3 sentinels)",
};
const label = (s) => LABEL[s] ?? s;
const SCENARIOS = ["fanout", "fanout-core", "saturate", "idle", "idle-scale", "rooms", "storm", "storm-names", "store", "cluster", "cluster-saturate",
  "cluster-scale", "cluster-broker", "failover", "fanout-auth", "saturate-auth", "signin", "fanout-signin"];

const args = process.argv.slice(2);
const runArg = args.includes("--run") ? args[args.indexOf("--run") + 1] : "";
const pairRuns = args.includes("--pair-runs") ? args[args.indexOf("--pair-runs") + 1].split(",") : [];

const all = [];
for (const sc of SCENARIOS) {
  const f = path.join(RESULTS, `${sc}.json`);
  if (!fs.existsSync(f)) continue;
  for (const line of fs.readFileSync(f, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      all.push(JSON.parse(line));
    } catch {
      /* a partial line from an interrupted run */
    }
  }
}
const tags = [...new Set(all.map((r) => r.tag).filter(Boolean))].sort();
let chosen = runArg ? runArg.split(",") : [];
if (!chosen.length) {
  const full = tags.filter((t) => t.endsWith("-full"));
  chosen = full.length ? full : tags.slice(-1);
}
// Per scenario and server, the newest of the chosen runs that has it: a re-run later supersedes.
const rows = [];
for (const sc of SCENARIOS)
  for (const sv of [...SERVERS, ...EXTRA_SERVERS]) {
    const have = chosen.filter((t) => all.some((r) => r.tag === t && r.scenario === sc && r.server === sv)).sort();
    if (have.length) rows.push(...all.filter((r) => r.scenario === sc && r.server === sv && r.tag === have[have.length - 1]));
  }
chosen = [...new Set(rows.map((r) => r.tag))].sort();

const median = (xs) => {
  const v = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const get = (o, p) => p.split(".").reduce((x, k) => (x == null ? undefined : x[k]), o);
const runsOf = (sc, server) => rows.filter((r) => r.scenario === sc && r.server === server && !r.error);
const med = (sc, server, p) => median(runsOf(sc, server).map((r) => get(r, p)));
const range = (sc, server, p) => {
  const v = runsOf(sc, server).map((r) => get(r, p)).filter((x) => typeof x === "number");
  return v.length > 1 ? [Math.min(...v), Math.max(...v)] : null;
};

const fmt = (v, digits = 0) => {
  if (v === undefined || v === null) return "–";
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (Math.abs(v) >= 1e4) return Math.round(v).toLocaleString("en-US");
  return v.toFixed(digits);
};
const us = (v) => (v === undefined ? "–" : v >= 1000 ? (v / 1000).toFixed(2) + " ms" : v.toFixed(0) + " µs");
const withRange = (sc, server, p, f = fmt) => {
  const m = med(sc, server, p);
  const r = range(sc, server, p);
  return r && r[0] !== r[1] ? `${f(m)} <sub>(${f(r[0])}–${f(r[1])})</sub>` : f(m);
};
const servers = SERVERS.filter((s) => rows.some((r) => r.server === s));
const nRuns = (sc) => Math.max(0, ...servers.map((s) => runsOf(sc, s).length));

// --- charts -----------------------------------------------------------------------------------
fs.mkdirSync(CHARTS, { recursive: true });
const haveGnuplot = (() => {
  try {
    execFileSync("gnuplot", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const charts = [];
function plot(name, data, script) {
  if (!haveGnuplot) return false;
  const dat = path.join(CHARTS, `${name}.dat`);
  fs.writeFileSync(dat, data);
  const png = path.join(CHARTS, `${name}.png`);
  const gp = `set terminal pngcairo size 800,420 font "sans,10" noenhanced
set output '${png}'
set datafile separator '\\t'
set key outside right top
set grid ytics
set style fill solid 0.85 border -1
${script.replaceAll("DAT", `'${dat}'`)}
`;
  try {
    execFileSync("gnuplot", [], { input: gp, stdio: ["pipe", "ignore", "pipe"] });
    fs.unlinkSync(dat);
    charts.push(name);
    return true;
  } catch (e) {
    console.error(`report: gnuplot failed for ${name}: ${e.stderr || e.message}`);
    return false;
  }
}
function bars(name, title, ylabel, values, opts = "") {
  const data = values.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}\t${v}`).join("\n") + "\n";
  if (!values.some(([, v]) => v !== undefined)) return false;
  return plot(
    name,
    data,
    `set title "${title}"
set ylabel "${ylabel}"
set yrange [0:*]
set boxwidth 0.6
unset key
${opts}
plot DAT using 0:2:xtic(1) with boxes lc rgb "#4a7bd0", '' using 0:2:(sprintf("%.3g",$2)) with labels offset 0,0.8`
  );
}

const sat = servers.map((s) => [s, med("saturate", s, "result.best_delivered_per_s")]);
bars("saturate", "saturate: 1 room x 1,000 subscribers, 100 B, best zero-loss rate", "deliveries/s", sat);
bars("saturate-cpu", "saturate: server CPU per million deliveries (lower is better)", "CPU seconds",
  servers.map((s) => [s, med("saturate", s, "result.server_cpu_s_per_million_deliveries")]));

// delivered/s against messages in flight, per server (median per window)
{
  const lines = [];
  const blocks = [];
  for (const s of servers) {
    const byWin = new Map();
    for (const r of runsOf("saturate", s))
      for (const ph of r.phases || []) {
        if (!byWin.has(ph.inflight)) byWin.set(ph.inflight, []);
        byWin.get(ph.inflight).push(ph.delivered_per_s);
      }
    if (!byWin.size) continue;
    blocks.push(s);
    lines.push([...byWin.entries()].sort((a, b) => a[0] - b[0]).map(([w, v]) => `${w}\t${median(v)}`).join("\n"));
  }
  if (blocks.length)
    plot(
      "saturate-windows",
      lines.join("\n\n\n") + "\n",
      `set title "saturate: delivery rate against messages in flight"
set xlabel "un-acked messages in flight (all publishers)"
set ylabel "deliveries/s"
set logscale x 2
set yrange [0:*]
plot ${blocks.map((s, i) => `DAT index ${i} using 1:2 with linespoints lw 2 title "${s}"`).join(", ")}`
    );
}

// fanout latency percentiles, clustered
{
  const ps = ["p50", "p90", "p99", "p999"];
  const data = [...servers, "parley-1t", "bun-durable"]
    .filter((s) => runsOf("fanout", s).length)
    .map((s) => [s, ...ps.map((p) => (med("fanout", s, `latency_us.${p}`) ?? 0) / 1000)].join("\t"))
    .join("\n");
  if (data)
    plot(
      "fanout-latency",
      "server\t" + ps.join("\t") + "\n" + data + "\n",
      `set title "fanout: send-to-receive latency at about 100,000 deliveries/s"
set ylabel "milliseconds (log)"
set logscale y
set style data histograms
set style histogram clustered gap 1
set key autotitle columnhead
plot for [i=2:5] DAT using i:xtic(1)`
    );
}
bars("idle-rss", "idle: server RSS per connection (lower is better)", "bytes",
  servers.map((s) => [s, med("idle", s, "result.rss_per_conn_bytes")]));
bars("idle-connect", "idle: new connections per second (upgrade + hello)", "connections/s",
  servers.map((s) => [s, med("idle", s, "result.connect_per_s")]));
bars("store", "store: acked messages/s (Parley: durable in SQLite; baselines: not durable)", "acks/s",
  servers.map((s) => [s, med("store", s, "result.acked_per_s")]));
bars("rooms", "rooms: deliveries/s, many small rooms", "deliveries/s",
  servers.map((s) => [s, med("rooms", s, "result.delivered_per_s")]));
bars("cluster-saturate", "cluster-saturate: 4 nodes + Redis behind HAProxy, best zero-loss rate", "deliveries/s",
  servers.filter((s) => runsOf("cluster-saturate", s).length).map((s) => [s, med("cluster-saturate", s, "result.best_delivered_per_s")]));

// --- REPORT.md --------------------------------------------------------------------------------
const out = [];
const line = (s = "") => out.push(s);
const table = (head, body) => {
  line("| " + head.join(" | ") + " |");
  line("|" + head.map(() => "---").join("|") + "|");
  for (const r of body) line("| " + r.join(" | ") + " |");
  line();
};
const param = (sc) => {
  const r = rows.find((x) => x.scenario === sc);
  return r ? Object.entries(r.params).filter(([k]) => !["host", "port"].includes(k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") : "";
};
const chart = (name, alt) => {
  if (charts.includes(name)) line(`![${alt}](charts/${name}.png)\n`);
};

line("# Parley benchmark report");
line();
line(`Generated by \`bench/report.mjs\` from \`bench/results/*.json\`, run${chosen.length > 1 ? "s" : ""} ${chosen.map((t) => `\`${t}\``).join(", ")}. ` +
  `Each cell is the median over the repeated runs (the range in small print); n = runs per server.`);
line();
const host = (() => {
  try {
    return `${execFileSync("nproc").toString().trim()} cores, ${(fs.readFileSync("/proc/meminfo", "utf8").match(/MemTotal:\s+(\d+)/)[1] / 1048576).toFixed(0)} GiB`;
  } catch {
    return "";
  }
})();
const loads = rows.map((x) => x.loadavg_start).filter((x) => typeof x === "number");
line(`Machine: ${host}; server, load generator (\`parley-bench\`) and baselines share it, all on loopback. ` +
  "Servers: **parley** (this tree, Release, one I/O thread per core, SQLite store, rate limits lifted), " +
  "**bun** (Bun's WebSocket pub/sub = uWebSockets, one thread, messages in memory: `bench/baselines/bun-server.js`), " +
  "**node-ws-redis** (the seeds' architecture: one Node `ws` server per core relaying every message through one Redis channel: `bench/baselines/node-ws-redis.mjs`).");
line();
if (loads.length)
  line(`Noise: the machine is shared; the 1-minute load average at the start of the runs was median ${median(loads).toFixed(1)} ` +
    `(${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}) on ${execFileSync("nproc").toString().trim()} cores. ` +
    "Above the core count, every absolute number here is depressed; compare servers within a run, not across runs.");
line();

// headline against the bar
const P = (sc, p) => med(sc, "parley", p);
const B = (sc, p) => med(sc, "bun", p);
const N = (sc, p) => med(sc, "node-ws-redis", p);
const verdict = (ok) => (ok === undefined ? "–" : ok ? "✅ met" : "❌ not met");
// Paired runs: bench/run takes the servers in turn, so run i of one server and run i of another
// (in time order, within one run tag) ran minutes apart. "a ahead in k of n": a's value was at
// most b's in k of the n pairs, a figure that drift in the host's speed moves less than medians.
// With 6 or more pairs, also the median of the differences a − b and its 95% confidence interval
// by the sign test (order statistics d(j) and d(n+1−j), the largest j with P(Binomial(n, ½) < j) ≤
// 2.5%): an interval that holds 0 means these runs cannot tell the two apart.
const signTestInterval = (d) => {
  const n = d.length;
  let j = 0, cdf = 0, term = 0.5 ** n;  // term = C(n, i) / 2^n
  for (let i = 0; i < n; i++) {
    cdf += term;
    if (cdf > 0.025) break;
    j = i + 1;
    term = (term * (n - i)) / (i + 1);
  }
  return j ? [d[j - 1], d[n - j]] : undefined;
};
const pairedStats = (sc, a, b, p) => {
  const source = (s) =>
    pairRuns.length ? all.filter((r) => r.scenario === sc && r.server === s && !r.error && pairRuns.includes(r.tag)) : runsOf(sc, s);
  const byTag = (s) => source(s).slice().sort((x, y) => String(x.time).localeCompare(String(y.time)));
  const ra = byTag(a), rb = byTag(b);
  const diffs = [];
  let k = 0;
  for (const tag of new Set(ra.map((r) => r.tag))) {
    const xa = ra.filter((r) => r.tag === tag), xb = rb.filter((r) => r.tag === tag);
    for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
      const va = get(xa[i], p), vb = get(xb[i], p);
      if (typeof va !== "number" || typeof vb !== "number") continue;
      diffs.push(va - vb);
      if (va <= vb) k++;
    }
  }
  const n = diffs.length;
  if (!n) return { text: "" };
  diffs.sort((x, y) => x - y);
  const ci = signTestInterval(diffs);
  const signed = (v) => (v > 0 ? "+" : v < 0 ? "−" : "") + us(Math.abs(v));
  return {
    ci,
    text: ` (ahead in ${k} of ${n} paired runs` +
      (ci ? `; median difference ${signed(median(diffs))}, 95% CI ${signed(ci[0])} to ${signed(ci[1])}` : "") + ")",
  };
};
// A latency row against Bun: with a confidence interval, the paired runs decide (an interval that
// holds 0 is parity, which meets the bar and is no win; wholly below 0, met; above, not met);
// without one (fewer than 6 pairs), the medians.
const pairedVerdict = (ok, sc, a, p) => {
  if (ok === undefined) return "–";
  const { ci, text } = pairedStats(sc, a, "bun", p);
  if (!ci) return verdict(ok) + text;
  if (ci[0] <= 0 && ci[1] >= 0) return "✅ parity (CI holds 0)" + text;
  return verdict(ci[1] < 0) + text;
};
const satP = P("saturate", "result.best_delivered_per_s"), satB = B("saturate", "result.best_delivered_per_s");
const cpuP = P("saturate", "result.server_cpu_s_per_million_deliveries"), cpuB = B("saturate", "result.server_cpu_s_per_million_deliveries");
const p99P = P("fanout", "latency_us.p99"), p99B = B("fanout", "latency_us.p99");
const p99P1 = med("fanout", "parley-1t", "latency_us.p99");
const coreP = P("fanout-core", "latency_us.p99"), coreB = B("fanout-core", "latency_us.p99");
const rssP = P("idle", "result.rss_per_conn_bytes");
const conP = P("idle", "result.connect_per_s");
const stP = P("store", "result.acked_per_s");
const stPg = med("store", "parley-pg", "result.acked_per_s");
const stormS = (v) => (v === undefined ? "–" : v < 0 ? "not within the time limit" : fmt(v, 2));
const satFmt = (v) => (v === 0 ? "0 (loss at every window)" : fmt(v));
const both = (a, b, f) => (a === undefined || b === undefined ? undefined : f(a, b));
const clP = P("cluster-saturate", "result.best_delivered_per_s"), clN = N("cluster-saturate", "result.best_delivered_per_s");
const clRatio = both(clP, clN, (a, b) => (b > 0 ? a / b : undefined));
line("## The bar (issue 5)");
line();
table(
  ["measure", "bar", "parley", "bun", "node-ws-redis", "verdict"],
  [
    ["saturate: deliveries/s (1 room × 1,000, 100 B)", "≥ 2,000,000 and ahead of Bun", satFmt(satP), satFmt(satB), satFmt(N("saturate", "result.best_delivered_per_s")),
      verdict(both(satP, satB, (a, b) => a >= 2e6 && a > b) ?? (satP === undefined ? undefined : satP >= 2e6))],
    ["saturate: server CPU s per million deliveries", "≤ Bun", fmt(cpuP, 2), fmt(cpuB, 2), fmt(N("saturate", "result.server_cpu_s_per_million_deliveries"), 2),
      verdict(both(cpuP, cpuB, (a, b) => a <= b))],
    ...(coreP === undefined && coreB === undefined ? [] : [["fanout p99 at ~100,000 deliveries/s, per core (`fanout-core`: server on one core, generator on the other)", "≤ Bun",
      us(coreP), us(coreB), "–", pairedVerdict(both(coreP, coreB, (a, b) => a <= b), "fanout-core", "parley", "latency_us.p99")]]),
    ...(p99P1 === undefined ? [] : [["fanout p99 at ~100,000 deliveries/s, unpinned, as many threads as Bun (`fanout`: Parley on 1 I/O thread, the generator on the same cores)", "≤ Bun",
      us(p99P1), us(p99B), "–", pairedVerdict(both(p99P1, p99B, (a, b) => a <= b), "fanout", "parley-1t", "latency_us.p99")]]),
    ["fanout p99 at ~100,000 deliveries/s, unpinned (`fanout`: Parley on one I/O thread per core, the generator on the same cores)", "≤ Bun",
      us(p99P), us(p99B), us(N("fanout", "latency_us.p99")), pairedVerdict(both(p99P, p99B, (a, b) => a <= b), "fanout", "parley", "latency_us.p99")],
    ["idle: server RSS per connection", "≤ 2.5 KB", fmt(rssP), fmt(B("idle", "result.rss_per_conn_bytes")), fmt(N("idle", "result.rss_per_conn_bytes")),
      verdict(rssP === undefined ? undefined : rssP <= 2560)],
    ["idle: new connections/s", "≥ 20,000", fmt(conP), fmt(B("idle", "result.connect_per_s")), fmt(N("idle", "result.connect_per_s")),
      verdict(conP === undefined ? undefined : conP >= 20000)],
    ["store: durable messages/s (SQLite)", "≥ 100,000", fmt(stP), fmt(B("store", "result.acked_per_s")) + " (not durable)",
      fmt(N("store", "result.acked_per_s")) + " (not durable)", verdict(stP === undefined ? undefined : stP >= 1e5)],
    ...(stPg === undefined ? [] : [["store: durable messages/s (PostgreSQL)", "≥ 50,000", fmt(stPg), "–", "–", verdict(stPg >= 5e4)]]),
    ["cluster (4 nodes + Redis behind HAProxy): deliveries/s vs seed stack", "≥ 10x", satFmt(clP), "–", satFmt(clN),
      clRatio === undefined ? "–" : `${verdict(clRatio >= 10)} (${clRatio.toFixed(1)}x)`],
  ]
);
line("Idle sizes in the bar are at 18,000 connections; a quick run uses fewer, so its per-connection figures are indicative only.");
line();
line("The fanout verdicts come from the paired figures (in brackets), which compare Parley and Bun within each run, " +
  "where the machine's load was alike: a 95% confidence interval that holds 0 means the runs cannot tell the two apart, " +
  "which is parity: it meets the bar (≤ Bun) and is no win. An interval wholly below 0 is met, wholly above not met; " +
  "with fewer than 6 pairs (no interval), the medians of the columns decide." +
  (pairRuns.length ? ` They pool the runs ${pairRuns.map((t) => `\`${t}\``).join(", ")} (${"`"}--pair-runs${"`"}).` : ""));
line();

if (nRuns("saturate")) {
  line(`## saturate (n=${nRuns("saturate")})`);
  line();
  line(`Closed loop: each publisher keeps a window of un-acked messages; the window grows phase by phase until loss or a slow-consumer close; ` +
    `the result is the best rate with zero loss. Server CPU is read from /proc/<pid>/stat. Params: ${param("saturate")}.`);
  line();
  table(
    ["server", "best deliveries/s", "server CPU s / M deliveries", "p99 at best", "generator CPU %"],
    [...servers, ...(runsOf("saturate", "parley-wss").length ? ["parley-wss"] : [])].map((s) => {
      const best = runsOf("saturate", s).map((r) => (r.phases || []).reduce((a, p) => (p.lost === 0 && p.closed === 0 && (!a || p.delivered_per_s > a.delivered_per_s) ? p : a), null));
      return [label(s), withRange("saturate", s, "result.best_delivered_per_s"), withRange("saturate", s, "result.server_cpu_s_per_million_deliveries", (v) => fmt(v, 2)),
        us(median(best.map((b) => b?.latency_us?.p99))), fmt(median(best.map((b) => b?.generator_cpu_pct)))];
    })
  );
  if (runsOf("saturate", "parley-wss").length && runsOf("saturate", "parley").length) {
    // wss against ws, run by run: run i of each in one run tag ran back to back.
    const ratios = (p) => {
      const out = [];
      const byTime = (s) => runsOf("saturate", s).slice().sort((x, y) => String(x.time).localeCompare(String(y.time)));
      const ws = byTime("parley"), wss = byTime("parley-wss");
      for (const tag of new Set(wss.map((r) => r.tag))) {
        const a = wss.filter((r) => r.tag === tag), b = ws.filter((r) => r.tag === tag);
        for (let i = 0; i < Math.min(a.length, b.length); i++) {
          const va = get(a[i], p), vb = get(b[i], p);
          if (typeof va === "number" && typeof vb === "number" && vb > 0) out.push(va / vb);
        }
      }
      return out;
    };
    const rate = ratios("result.best_delivered_per_s"), cpu = ratios("result.server_cpu_s_per_million_deliveries");
    const span = (r) => (r.length > 1 ? ` (${fmt(Math.min(...r), 2)}–${fmt(Math.max(...r), 2)})` : "");
    line();
    line(`**wss against ws** (TLS on the node, OpenSSL in user space; the same generator with \`--tls\`): ` +
      `best zero-loss rate ${fmt(median(rate), 2)}× of ws${span(rate)}, server CPU per million deliveries ` +
      `${fmt(median(cpu), 2)}× of ws${span(cpu)}, medians of ${rate.length} paired runs. Each delivery is encrypted once per ` +
      `connection (no ciphertext can be shared between members), so the fan-out's cost per delivery grows by an AES-GCM pass ` +
      `over the frame; the generator decrypts as much.`);
  }
  chart("saturate", "saturate deliveries/s");
  chart("saturate-cpu", "server CPU per million deliveries");
  chart("saturate-windows", "deliveries/s against messages in flight");
}

// The open-loop table of fanout and fanout-core: one row per server in `list`; Parley's own
// delivery latency (parley_delivery_seconds, read by the generator) where the runs have it.
const openLoopTable = (sc, list) => {
  const own = list.some((s) => med(sc, s, "server_delivery_us.p99") !== undefined);
  // The store's share (parley_commit_seconds), from runs whose server has it.
  const commit = list.some((s) => med(sc, s, "server_commit_us.p50") !== undefined);
  const pair = (s, key) => (med(sc, s, `${key}.p99`) === undefined ? "–" : `${us(med(sc, s, `${key}.p50`))} / ${us(med(sc, s, `${key}.p99`))}`);
  table(
    ["server", "delivered/s", "p50", "p90", "p99", "p99.9", "lost", "server CPU %",
      ...(own ? ["in the server: p50 / p99"] : []), ...(commit ? ["of which to commit: p50 / p99"] : [])],
    list.map((s) => [label(s), withRange(sc, s, "result.delivered_per_s"), us(med(sc, s, "latency_us.p50")), us(med(sc, s, "latency_us.p90")),
      us(med(sc, s, "latency_us.p99")), us(med(sc, s, "latency_us.p999")), fmt(med(sc, s, "delivery.lost")), fmt(med(sc, s, "server_stats.cpu_pct")),
      ...(own ? [pair(s, "server_delivery_us")] : []), ...(commit ? [pair(s, "server_commit_us")] : [])])
  );
};

if (nRuns("fanout")) {
  line(`## fanout (n=${nRuns("fanout")})`);
  line();
  line(`Open loop: publishers at a fixed total rate; latency from the send time embedded in the text to its arrival. Params: ${param("fanout")}.`);
  line();
  line("**parley, 1 I/O thread** is the same server with `--threads 1`: as many threads as Bun has (its store thread aside). " +
    "*In the server* is Parley's own `parley_delivery_seconds` histogram over the measured window (read from `/metrics` by the generator; " +
    "interpolated in buckets 1.3–1.7x wide): from the read of a send to the last of its fan-out's writes handed to the kernel, once per I/O thread with members; " +
    "*to commit* is `parley_commit_seconds`, the part of it before the fan-out starts: the hand-off to the store thread, the SQLite commit and the hand-back. " +
    "The rest of the send-to-receive latency is the generator getting a core and reading 1,000 sockets per message: " +
    "with two I/O threads Parley's writes end sooner, but on two cores shared with the generator they take its core just when it has a message to read. " +
    "**bun, durable** is the Bun baseline with Parley's guarantee added the simplest way: each message inserted into SQLite (WAL, synchronous=NORMAL, " +
    "one transaction per message, on its event loop) before it is acked and published. Parley delivers a message only once its batch is committed " +
    "(anything a member has seen is in history and survives a crash); plain Bun keeps messages in memory.");
  line();
  openLoopTable("fanout", [...servers, ...["parley-1t", "bun-durable"].filter((s) => runsOf("fanout", s).length)]);
  chart("fanout-latency", "fanout latency percentiles");
}

if (nRuns("fanout-core")) {
  line(`## fanout-core (n=${nRuns("fanout-core")})`);
  line();
  line("The same open loop with `taskset`: the server on one core (Parley on 1 I/O thread; its store thread shares that core), the generator on another. " +
    "This is the per-core comparison: in `fanout` Parley's second I/O thread takes turns with the generator, which then reads later. " +
    `Params: ${param("fanout-core")}.`);
  line();
  openLoopTable("fanout-core", servers.filter((s) => runsOf("fanout-core", s).length));
}

if (nRuns("idle")) {
  line(`## idle (n=${nRuns("idle")})`);
  line();
  line(`Connections held after upgrade + hello; server RSS (VmRSS, all of the server's processes) before and after. Params: ${param("idle")}.`);
  line();
  table(
    ["server", "connections", "RSS per connection (B)", "new connections/s", "idle server CPU %"],
    servers.map((s) => [s, fmt(med("idle", s, "result.connections")), withRange("idle", s, "result.rss_per_conn_bytes"), withRange("idle", s, "result.connect_per_s"),
      fmt(med("idle", s, "result.idle_cpu_pct"), 2)])
  );
  chart("idle-rss", "RSS per connection");
  chart("idle-connect", "connections per second");
  const slab = med("idle", "parley", "result.kernel_slab_per_socket_bytes");
  if (slab !== undefined) {
    line();
    line(`Besides the server's RSS, each connection costs kernel memory: the machine's slab grew by ${fmt(slab)} B per socket ` +
      "(median; both ends of each loopback connection are this machine's sockets, so the growth is divided by two).");
  }
}

// idle-scale: one run per size; the cost per connection must stay flat as N grows.
const scaleRows = (sv) => rows.filter((r) => r.scenario === "idle-scale" && r.server === sv && !r.error)
  .sort((a, b) => get(a, "result.connections") - get(b, "result.connections"));
if (servers.some((s) => scaleRows(s).length)) {
  line("## idle at growing sizes (one run per size)");
  line();
  line("The idle measurement at several connection counts. Marginal: the RSS added from the previous size to this one, per added connection.");
  line();
  const body = [];
  for (const s of servers) {
    let prev = null;
    for (const r of scaleRows(s)) {
      const n = get(r, "result.connections");
      const after = get(r, "result.rss_after_kb");
      const marginal = prev && after !== undefined ? ((after - prev.after) * 1024) / (n - prev.n) : undefined;
      body.push([s, fmt(n), fmt(get(r, "result.rss_per_conn_bytes")), marginal === undefined ? "" : fmt(marginal),
        fmt(get(r, "result.kernel_slab_per_socket_bytes")), fmt(get(r, "result.connect_per_s"))]);
      prev = { n, after };
    }
  }
  table(["server", "connections", "RSS per connection (B)", "marginal RSS per connection (B)", "kernel slab per socket (B)", "new connections/s"], body);
  const pr = scaleRows("parley");
  if (pr.length) {
    const worst = Math.max(...pr.map((r) => get(r, "result.rss_per_conn_bytes") || 0));
    const slabs = pr.map((r) => get(r, "result.kernel_slab_per_socket_bytes")).filter((x) => typeof x === "number");
    const k = slabs.length ? median(slabs) : undefined;
    line(`A million connections, from these figures (a machine without this one's 20,000-descriptor cap): Parley's RSS at most ` +
      `${fmt(worst)} B × 1,000,000 = ${(worst / 1e3).toFixed(2)} GB` +
      (k !== undefined ? `, plus the kernel's ${fmt(k)} B per socket = ${(k / 1e3).toFixed(2)} GB, so ${((worst + k) / 1e3).toFixed(1)} GB in all` : "") +
      " — idle sockets hold no buffers. Past about 28,000 connections per source address the clients need more addresses (the generator spreads them over 127.0.0.0/8), and the server needs `ulimit -n` and `fs.file-max` above a million.");
  }
  line();
}

if (nRuns("rooms")) {
  line(`## rooms (n=${nRuns("rooms")})`);
  line();
  line(`Many small rooms at once (group chats, DMs): every member sends at a low rate. Params: ${param("rooms")}.`);
  line();
  table(
    ["server", "delivered/s", "p50", "p99", "p99.9", "lost", "server CPU %"],
    servers.map((s) => [s, withRange("rooms", s, "result.delivered_per_s"), us(med("rooms", s, "latency_us.p50")), us(med("rooms", s, "latency_us.p99")),
      us(med("rooms", s, "latency_us.p999")), fmt(med("rooms", s, "delivery.lost")), fmt(med("rooms", s, "server_stats.cpu_pct"))])
  );
  chart("rooms", "rooms deliveries/s");
}

if (nRuns("storm")) {
  line(`## storm (n=${nRuns("storm")})`);
  line();
  line(`Every subscriber drops its connection at once (RST) while publishers keep sending, reconnects and resumes with join since=<last seq>. ` +
    `Caught up: every client has the seq the room had at the drop. Params: ${param("storm")}.`);
  line();
  table(
    ["server", "clients", "all back (s)", "all caught up (s)", "lost", "duplicates"],
    servers.map((s) => [s, fmt(med("storm", s, "result.clients")), withRange("storm", s, "result.reconnected_s", stormS),
      withRange("storm", s, "result.caught_up_s", stormS), fmt(med("storm", s, "delivery.lost")), fmt(med("storm", s, "delivery.duplicates"))])
  );
}

if (nRuns("storm-names")) {
  // The same storm with a name per client: every arrival and departure is a presence change for
  // every member (the baselines send no presence, so only Parley runs it).
  const sv = servers.filter((s) => runsOf("storm-names", s).length);
  line(`### storm with a name per client (n=${nRuns("storm-names")})`);
  line();
  line("The storm again, but each subscriber says hello with a name of its own, as real users do, so every join and leave " +
    "changes the room's members: N clients arriving tell N members each (Parley batches a room's presence changes for " +
    "`rooms.presence_batch_ms`, 50 ms, so each member gets a crowd in a few writes; the baselines send no presence). " +
    `Initial joins: the time to connect, say hello and join all of them before the storm. Params: ${param("storm-names")}.`);
  line();
  table(
    ["server", "clients", "initial joins (s)", "all back (s)", "all caught up (s)", "message p99 (storm included)", "lost", "duplicates", "server CPU s"],
    sv.map((s) => [s, fmt(med("storm-names", s, "result.clients")), withRange("storm-names", s, "connect.seconds", (v) => fmt(v, 2)),
      withRange("storm-names", s, "result.reconnected_s", stormS), withRange("storm-names", s, "result.caught_up_s", stormS),
      us(med("storm-names", s, "latency_us.p99")), fmt(med("storm-names", s, "delivery.lost")), fmt(med("storm-names", s, "delivery.duplicates")),
      fmt(med("storm-names", s, "server_stats.cpu_s"), 1)])
  );
  line("Before the presence batches and the sorted member walk (commit 9bfe21c), the same run took 8.9 s for the initial joins " +
    "and 10.6 s to be back, with a message p99 of 8.5 s (run by hand on 2026-12-03; on the 2026-11-23 binary the clients were " +
    "not all back within 60 s).");
  line();
}

if (nRuns("store")) {
  line(`## store (n=${nRuns("store")})`);
  line();
  line(`Many publishers, closed loop; an ack counts only once the server says the message is stored. ` +
    `Parley acks after the SQLite commit (group commit, WAL); "parley (PostgreSQL store)" is the same binary with \`store.backend=postgres\` on a fresh local PostgreSQL (one transaction per batch; its postmaster and backends count as server CPU); the baselines ack from memory (Bun) or after Redis (node-ws-redis), not durably. Params: ${param("store")}.`);
  line();
  table(
    ["server", "acked messages/s", "ack p50", "ack p99", "send errors/s"],
    [...servers, ...(runsOf("store", "parley-pg").length ? ["parley-pg"] : [])].map((s) => [label(s),
      withRange("store", s, "result.acked_per_s"), us(med("store", s, "ack_latency_us.p50")), us(med("store", s, "ack_latency_us.p99")),
      fmt(med("store", s, "result.send_errors_per_s"))])
  );
  chart("store", "store acks/s");
}

if (nRuns("cluster") || nRuns("cluster-saturate")) {
  const inCluster = (sc) => servers.filter((s) => runsOf(sc, s).length);
  line(`## cluster (n=${Math.max(nRuns("cluster"), nRuns("cluster-saturate"))})`);
  line();
  line("The same load through HAProxy (deploy/haproxy.local.cfg.tmpl, round robin) over 4 nodes, so that most deliveries cross nodes: " +
    "**parley**: `scripts/cluster up --nodes 4` (one I/O thread per node), Redis as the broker (AOF on) and PostgreSQL as the store; " +
    "**node-ws-redis** (the seed stack): 4 `node-ws-redis.mjs --workers 1` processes on their own ports, every message through one Redis " +
    "(Lua script: seq, history, PUBLISH; no AOF, nothing durable). Each measurement starts a fresh cluster. Every process and the generator share the same 2 cores; " +
    "server CPU is summed over every process of the stack (nodes and their workers, Redis, PostgreSQL with its backends, HAProxy).");
  line();
  const clLoads = rows.filter((r) => r.scenario === "cluster" || r.scenario === "cluster-saturate").map((r) => r.loadavg_start).filter((x) => typeof x === "number");
  if (clLoads.length)
    line(`Load average at the start of these runs: median ${median(clLoads).toFixed(1)} (${Math.min(...clLoads).toFixed(1)}–${Math.max(...clLoads).toFixed(1)}); ` +
      "it counts the benchmark's own processes too (about 5 while a cluster is driven); the servers took turns within each run, so the ratio is fairer than the absolute numbers.");
  line();
  if (nRuns("cluster")) {
    line(`Open loop (\`cluster\`): fanout at a fixed offered rate; latency is send-to-receive across nodes; lost = not delivered by the end of the drain time. Params: ${param("cluster")}.`);
    line();
    table(
      ["server", "offered deliveries/s", "delivered/s", "p50", "p90", "p99", "p99.9", "lost", "duplicates", "server CPU %"],
      inCluster("cluster").map((s) => [s, fmt(median(runsOf("cluster", s).map((r) => r.result?.target_msgs_per_s * r.params?.subscribers))),
        withRange("cluster", s, "result.delivered_per_s"), us(med("cluster", s, "latency_us.p50")),
        us(med("cluster", s, "latency_us.p90")), us(med("cluster", s, "latency_us.p99")), us(med("cluster", s, "latency_us.p999")),
        withRange("cluster", s, "delivery.lost"), fmt(med("cluster", s, "delivery.duplicates")), fmt(med("cluster", s, "server_stats.cpu_pct"))])
    );
    for (const s of inCluster("cluster")) {
      const offered = median(runsOf("cluster", s).map((r) => r.result?.target_msgs_per_s * r.params?.subscribers));
      const got = med("cluster", s, "result.delivered_per_s"), lost = med("cluster", s, "delivery.lost");
      if (!offered || got === undefined || got >= 0.95 * offered) continue;
      line(`${s} does not keep up with the offered load: it delivers ${fmt(got)} of the ${fmt(offered)} deliveries/s offered; the rest queues ` +
        `(p50 ${us(med("cluster", s, "latency_us.p50"))}) and is delivered after the publishers stop` +
        (lost > 0 ? `, but for ${fmt(lost)} deliveries lost (not there by the end of the drain time).` : ", within the drain time (no loss)."));
      line();
    }
  }
  if (nRuns("cluster-saturate")) {
    line(`Closed loop (\`cluster-saturate\`): saturate through the same topology; the window of un-acked messages per publisher grows until loss or a close; ` +
      `the result is the best rate with zero loss. Params: ${param("cluster-saturate")}.`);
    line();
    const bestPhase = (r) => (r.phases || []).reduce((a, p) => (p.lost === 0 && p.closed === 0 && (!a || p.delivered_per_s > a.delivered_per_s) ? p : a), null);
    table(
      ["server", "best zero-loss deliveries/s", "server CPU s / M deliveries (all processes)", "p99 at best", "window at best", "highest phase rate (loss allowed)", "generator CPU %"],
      inCluster("cluster-saturate").map((s) => {
        const runs = runsOf("cluster-saturate", s);
        const best = runs.map(bestPhase);
        return [s, withRange("cluster-saturate", s, "result.best_delivered_per_s", satFmt),
          withRange("cluster-saturate", s, "result.server_cpu_s_per_million_deliveries", (v) => fmt(v, 2)),
          us(median(best.map((b) => b?.latency_us?.p99))), fmt(median(best.map((b) => b?.window))),
          fmt(median(runs.map((r) => Math.max(0, ...(r.phases || []).map((p) => p.delivered_per_s))))), fmt(median(best.map((b) => b?.generator_cpu_pct)))];
      })
    );
    if (clRatio !== undefined)
      line(`parley / node-ws-redis, best zero-loss deliveries/s (medians): **${clRatio.toFixed(1)}x** (the bar: ≥ 10x).`);
    else if (clP !== undefined && clN === 0)
      line("node-ws-redis lost messages at every window: no zero-loss rate to compare with.");
    line();
    chart("cluster-saturate", "cluster-saturate deliveries/s");
  }
  if (!inCluster("cluster").includes("node-ws-redis") && !inCluster("cluster-saturate").includes("node-ws-redis")) {
    line("The seed stack (node-ws-redis) has not been run in this topology yet.");
    line();
  }
} else {
  line("## cluster");
  line();
  line("Not run: `bench/run --scenarios cluster` starts the loopback cluster (scripts/cluster) and drives it.");
  line();
}

// --- 70,000 connections across a cluster (issue 18) ---------------------------------------------
{
  const cs = runsOf("cluster-scale", "parley");
  line("## 70,000 connections across a cluster (issue 18)");
  line();
  if (!cs.length) {
    line("Not run: `bench/run --scenarios cluster-scale` starts a fresh 4-node cluster and drives it.");
    line();
  } else {
    const M = (p) => med("cluster-scale", "parley", p);
    const R = (p, f = fmt) => withRange("cluster-scale", "parley", p, f);
    const ms = (v) => (v === undefined ? "–" : (v / 1000).toFixed(v >= 100000 ? 0 : 1) + " ms");
    const kb = (v) => (v === undefined ? "–" : (v / 1024).toFixed(1) + " MiB");
    const r0 = cs[cs.length - 1];
    line(`A fresh \`scripts/cluster up --nodes 4\` (one I/O thread per node, Redis broker, PostgreSQL store, the per-address budgets lifted as in \`cluster\`), ` +
      `${fmt(r0.params?.connections)} WebSocket clients (upgrade + hello, guests) connected **straight to the four nodes' own ports** (client i to node i mod 4), ` +
      `from source addresses 127.1.x.y (8,000 a source address, bound before connect), by ${r0.params?.procs} generator processes of ` +
      `${fmt(r0.params?.connections / r0.params?.procs)} connections each, under the 20,000 descriptors a process may have here (and so is each node: ` +
      `${fmt(r0.params?.connections / r0.params?.nodes)} clients a node, under its default \`limits.max_connections\` of the descriptor limit less 256 = 19,744). ` +
      "HAProxy is not in the path: it holds two descriptors per connection " +
      "(client and node side) and is capped at 20,000 too, so one HAProxy process would carry about 10,000 clients; a deployment of this size " +
      "needs several balancers or an L4 balancer that holds no socket per client (LVS/IPVS, a cloud NLB).");
    line();
    line("**Phase 1, idle** (held " + `${r0.params?.hold_s} s): the connect rate over the whole ramp (${r0.params?.concurrency} connects in flight per generator process), ` +
      "each node's VmRSS after the ramp minus before it, over its connections, and CPU while idle: of the four nodes, and of the whole cluster (nodes, Redis, PostgreSQL with its backends, HAProxy).");
    line();
    table(
      ["connections", "connect/s (ramp)", "ramp", "RSS per connection (all nodes)", "nodes' idle CPU %", "cluster idle CPU %", "kernel slab per socket"],
      [[fmt(M("result.connections")), R("result.connect_per_s"), `${fmt(M("result.connect_seconds"), 1)} s`, `${R("result.rss_per_conn_bytes")} B`,
        fmt(M("result.node_idle_cpu_pct"), 1), fmt(M("result.idle_cpu_pct"), 1), `${fmt(M("result.kernel_slab_per_socket_bytes"))} B`]]
    );
    line(`Per node (run \`${r0.tag}\`):`);
    line();
    table(
      ["node", "connections", "RSS before", "RSS idle", "RSS per connection", "idle CPU %", "RSS in the room", "CPU % while sending", "its sweep p50 / p99"],
      (r0.nodes || []).map((n, i) => [`node${i + 1}`, fmt(n.connections), kb(n.rss_before_kb), kb(n.rss_idle_kb), `${fmt(n.rss_per_conn_bytes)} B`,
        fmt(n.idle_cpu_pct, 1), kb(n.rss_in_room_kb), fmt(n.room_cpu_pct, 1),
        n.server_delivery_us ? `${ms(n.server_delivery_us.p50)} / ${ms(n.server_delivery_us.p99)}` : "–"])
    );
    if ((r0.nodes || []).some((n) => n.server_delivery_us))
      line("*Its sweep*: the node's own `parley_delivery_seconds` over the sending phase (from its `/metrics`): from a message's arrival from Redis " +
        "to the last of its writes to its members handed to the kernel — the node's share of the time to all, without the generator's reading " +
        "(Prometheus buckets, interpolated: indicative).\n");
    line("**Phase 2, one room of all of them**: every client joins `" + (r0.params?.room ?? "general") + "` (joins kept " +
      `${r0.params?.concurrency} in flight per generator process), then one client sends ${r0.params?.rate} message${r0.params?.rate === 1 ? "" : "s"}/s ` +
      `of ${r0.params?.bytes} bytes for ${r0.params?.duration_s} s. ` +
      "Joins are not O(n²) here because the members share one user name (the sender has its own): presence is per user, so only the first " +
      "session's join is a presence change (and a further session of a member skips even the look-alike name check, `confusable_name`); with a name per client every " +
      "join would be a presence line to every member — batched per `rooms.presence_batch_ms`, but still n² bytes over the ramp (the `storm-names` row shows that cost at 5,000). " +
      "*To all*: per message, the time from its send until the last of the members had it (the latest member's send → receive), over the messages; " +
      "*per delivery*: send → receive of every delivery.");
    line();
    table(
      ["members", "joins", "messages", "to all p50", "to all p99", "to all max", "per delivery p50", "per delivery p99", "deliveries/s", "lost", "cluster CPU % while sending"],
      [[fmt(M("result.members")), `${fmt(M("result.join_seconds"), 1)} s (${fmt(M("result.joins_per_s"))}/s)`, `${cs.reduce((a, r) => a + (r.result?.messages_to_all ?? 0), 0)} of ${cs.reduce((a, r) => a + (r.result?.messages_seen ?? 0), 0)}` + (cs.length > 1 ? ` (${cs.length} runs)` : ""),
        R("all_members_us.p50", ms), R("all_members_us.p99", ms), R("all_members_us.max", ms), R("latency_us.p50", ms), R("latency_us.p99", ms),
        fmt(M("result.delivered_per_s")), fmt(M("delivery.lost")), fmt(M("result.room_cpu_pct"), 1)]]
    );
    const perDelivery = median(cs.map((r) => (r.nodes || []).map((n) => (n.room_cpu_pct / 100) / (n.connections * (r.params?.rate ?? 1)) * 1e6)).flat());
    line("Idle, a node's CPU is mostly its pings: it pings each silent client every `limits.ping_interval_ms` (20 s), " +
      `${fmt(r0.params?.connections / r0.params?.nodes / 20)} pings/s for ${fmt(r0.params?.connections / r0.params?.nodes)} clients. While sending, each node spends ` +
      `~${fmt(perDelivery, 1)} µs of CPU per delivery (its CPU share over its members × the message rate; one write per member per message, ` +
      "the loopback receiver's TCP work included): a sweep of a node's members is that many times ~" + fmt(perDelivery, 1) + " µs of CPU. " +
      "Here it took longer: the four nodes swept at the same time on 2 cores, with the generator reading every delivery on the same cores " +
      "and the machine's other work (see the load average), so each node's sweep (*its sweep* above) took several times its CPU. " +
      "The time to all is that sweep plus the generator's reading, a large part of the p99; a sweep that outlasts the second " +
      "between two messages also makes the next one wait. With a core per I/O thread a sweep is members on the node ÷ its I/O threads × that figure.");
    line();
    const l0 = cs.map((r) => r.loadavg_start), l1 = cs.map((r) => r.loadavg_end);
    line(`Load average (1 min) at the start of the run${cs.length > 1 ? "s" : ""}: ${l0.map((x) => x.toFixed(1)).join(", ")}; at the end: ${l1.map((x) => x.toFixed(1)).join(", ")} ` +
      "(2 cores; the end counts the run's own processes: 4 nodes, Redis, PostgreSQL and the generator). " +
      (cs.some((r) => !r.ok) ? "**A run reported a problem** (ok=false: failed connects or joins, loss, or a message not every member got): see its JSON line." : "Every run: no failed connect or join, no loss, every message reached every member."));
    line();
    line("`docs/architecture.md` (*A million connections*) takes its arithmetic from these figures.");
    line();
  }
}

// --- broker: one Redis against a Redis Cluster (issue 18) ---------------------------------------
// cluster-broker: the same closed-loop load on a fresh 4-node cluster over one Redis
// (parley-redis) and over a 3-primary Redis Cluster (parley-redis-cluster), back to back in a run.
{
  line("## Broker: one Redis against a Redis Cluster (issue 18)");
  line();
  const sets = ["parley-redis", "parley-redis-cluster"];
  const runs = Object.fromEntries(sets.map((s) => [s, runsOf("cluster-broker", s)]));
  if (!runs["parley-redis"].length || !runs["parley-redis-cluster"].length) {
    line("Not run: `bench/run --scenarios cluster-broker` starts a fresh 4-node cluster on one Redis, then one on a Redis Cluster, and drives both.");
    line();
  } else {
    // Per run: the CPU % of the processes whose label starts with a prefix, summed.
    const cpuOf = (r, pre) => (r.processes || []).filter((p) => p.label.startsWith(pre)).reduce((a, p) => a + p.cpu_pct, 0);
    const redisCpuS = (r) => (r.processes || []).filter((p) => p.label.startsWith("redis")).reduce((a, p) => a + p.cpu_s, 0);
    const perRedisS = (r) => (redisCpuS(r) > 0 ? (r.result?.acked_per_s * r.result?.seconds) / redisCpuS(r) : undefined);
    // What the busiest redis-server would carry at a full core, if the rest kept up: the figure of
    // the sharding (one Redis: all of it on one process; a Redis Cluster: a third on each primary).
    const atFullCore = (r) => {
      const b = Math.max(0, ...(r.processes || []).filter((p) => p.label.startsWith("redis")).map((p) => p.cpu_pct));
      return b > 0 ? r.result?.acked_per_s / (b / 100) : undefined;
    };
    const top = (r) => (r.processes || []).slice().sort((a, b) => b.cpu_pct - a.cpu_pct)[0];
    const m = (s, f) => median(runs[s].map(f).filter((v) => typeof v === "number"));
    const r0 = runs["parley-redis"][runs["parley-redis"].length - 1];
    const pr = r0.params || {};
    line(`Two fresh \`scripts/cluster up --nodes 4\` clusters (one I/O thread per node, PostgreSQL store, the per-address budgets lifted as in \`cluster\`), ` +
      "one with `--redis single` (one redis-server, `broker.backend=redis`) and one with `--redis cluster` (3 primaries + 3 replicas, `broker.backend=redis-cluster`), " +
      `measured back to back in one \`bench/run\` (the order alternates from run to run), each driven the same way: ${fmt(pr.rooms)} rooms of ${pr.members} members, ` +
      `one member of each room on each of the ${pr.nodes} nodes (client i to node i mod ${pr.nodes}, straight to the nodes' ports, from 127.1.x.y), every member ` +
      `sending ${pr.bytes}-byte messages closed loop with ${pr.window} un-acked at a time, for ${pr.duration_s} s after a warm-up: so every message crosses the broker ` +
      `to the ${pr.nodes - 1} other nodes. *Acked*: messages/s acked to their senders (a node acks after the store's commit); *delivered*: deliveries/s to members. ` +
      "CPU: each process's utime + stime from /proc over the measured window (100% = one core).");
    line();
    table(
      ["set-up", "runs", "acked msgs/s", "delivered/s", "ack p50", "ack p99", "lost", "Redis CPU % (all redis-servers)", "nodes CPU %", "PostgreSQL CPU %", "generator CPU %", "msgs per Redis CPU-s", "busiest redis-server at a full core", "busiest process"],
      sets.map((s) => {
        const b = runs[s].map(top).filter(Boolean);
        const busiest = b.length ? b[b.length - 1] : undefined;
        return [label(s), runs[s].length, withRange("cluster-broker", s, "result.acked_per_s"), fmt(m(s, (r) => r.result?.delivered_per_s)),
          us(m(s, (r) => r.ack_latency_us?.p50)), us(m(s, (r) => r.ack_latency_us?.p99)), fmt(m(s, (r) => r.delivery?.lost)),
          fmt(m(s, (r) => cpuOf(r, "redis")), 1), fmt(m(s, (r) => cpuOf(r, "node")), 1), fmt(m(s, (r) => cpuOf(r, "postgres")), 1),
          fmt(m(s, (r) => r.generator?.cpu_pct), 1), fmt(m(s, perRedisS)), `${fmt(m(s, atFullCore))} msgs/s`, busiest ? `${busiest.label} ${fmt(busiest.cpu_pct, 1)}%` : "–"];
      })
    );
    // The ratio, from the runs paired within each tag (run i of each set-up).
    const ratios = (f) => {
      const out = [];
      for (const t of chosen) {
        const a = runs["parley-redis"].filter((r) => r.tag === t), b = runs["parley-redis-cluster"].filter((r) => r.tag === t);
        for (let i = 0; i < Math.min(a.length, b.length); ++i) {
          const va = f(a[i]), vb = f(b[i]);
          if (typeof va === "number" && typeof vb === "number" && va > 0) out.push(vb / va);
        }
      }
      return out;
    };
    const rt = ratios((r) => r.result?.acked_per_s), rr = ratios(perRedisS), rf = ratios(atFullCore);
    const rs = (xs) => (xs.length ? `${median(xs).toFixed(2)}×` + (xs.length > 1 ? ` (${xs.map((x) => x.toFixed(2)).join(", ")})` : "") : "–");
    line(`**Redis Cluster ÷ one Redis, paired in the same run**: acked messages/s ${rs(rt)}; messages per Redis CPU-second ${rs(rr)}; ` +
      `what the busiest redis-server would carry at a full core ${rs(rf)}. *msgs per Redis CPU-s* is the acked rate over the CPU of every redis-server ` +
      "(replicas included): the cost of a message to Redis as a whole; *busiest redis-server at a full core* is the acked rate over the busiest one's share of a core: " +
      "the rate at which the first redis-server would saturate if everything else kept up — the figure that shows the sharding.");
    line();
    for (const s of sets) {
      const r = runs[s][runs[s].length - 1];
      line(`Every process, ${label(s)} (run \`${r.tag}\`; CPU % of one core over the ${fmt(r.result?.seconds, 1)} s window; the machine has 2 cores):`);
      line();
      const procs = (r.processes || []).slice().sort((a, b) => b.cpu_pct - a.cpu_pct);
      const backends = procs.filter((p) => /^postgres-/.test(p.label));
      const shown = procs.filter((p) => !/^postgres-/.test(p.label));
      const body = shown.map((p) => [p.label, fmt(p.cpu_pct, 1)]);
      if (backends.length) body.push([`PostgreSQL backends and helpers (${backends.length})`, fmt(backends.reduce((a, p) => a + p.cpu_pct, 0), 1)]);
      body.push(["parley-bench (the generator)", fmt(r.generator?.cpu_pct, 1)]);
      const total = procs.reduce((a, p) => a + p.cpu_pct, 0) + (r.generator?.cpu_pct ?? 0);
      body.push(["**all of the above**", `**${fmt(total, 1)}** of 200`]);
      table(["process", "CPU %"], body);
    }
    // The profiles: the top entries of each, as bench/run wrote them.
    const prof = [];
    for (const mode of ["single", "cluster"])
      for (const what of ["redis", "node1"]) {
        const f = path.join(RESULTS, `profile-cluster-broker-${mode}-${what}.txt`);
        if (!fs.existsSync(f)) continue;
        const text = fs.readFileSync(f, "utf8");
        const part = (h, n) => (text.split(h)[1] ?? "").split("\n## ")[0].split("\n").filter((l) => /^\s+[0-9.]+%/.test(l)).slice(0, n);
        const entries = [...part("## by shared object (self)", 5), "…", ...part("## top symbols (self)", 8)];
        if (entries.length) prof.push([mode, what, entries]);
      }
    if (prof.length) {
      line("Profiles (`perf record -e cpu-clock -F 499 -g` over the warm-up and the window, self time, `--sort dso` and `--sort dso,sym`; \`redis-check-rdb\` is the redis-server binary's name on Debian, where redis-server is a link to it; " +
        "the files are `results/profile-cluster-broker-<set-up>-<process>.txt`): the top shared objects, then the top symbols.");
      line();
      for (const [mode, what, entries] of prof) {
        line(`*${mode === "single" ? "one Redis" : "Redis Cluster"}, ${what === "redis" ? (mode === "single" ? "the redis-server" : "every redis-server") : "node1"}:*`);
        line();
        line("```");
        for (const e of entries) line(e.replace(/\s+$/, ""));
        line("```");
        line();
      }
    }
    const l0 = [...runs["parley-redis"], ...runs["parley-redis-cluster"]].map((r) => r.loadavg_start).filter((x) => typeof x === "number");
    if (l0.length) line(`Load average (1 min) at the start of each measurement: ${l0.map((x) => x.toFixed(1)).join(", ")}.`);
    if ([...runs["parley-redis"], ...runs["parley-redis-cluster"]].some((r) => !r.ok)) line("**A measurement reported a problem** (ok=false): see its JSON line.");
    line();
    // Where the bottleneck is, from the newest run of each set-up.
    const last = Object.fromEntries(sets.map((s) => [s, runs[s][runs[s].length - 1]]));
    const total = (r) => (r.processes || []).reduce((a, p) => a + p.cpu_pct, 0) + (r.generator?.cpu_pct ?? 0);
    const redisList = (r) => (r.processes || []).filter((p) => p.label.startsWith("redis")).map((p) => `${p.label} ${fmt(p.cpu_pct, 1)}%`).join(", ");
    const inflight = (pr.rooms ?? 0) * (pr.members ?? 0) * (pr.window ?? 0);
    line("**Where the bottleneck is.** " + sets.map((s) => {
      const r = last[s], t = top(r);
      return `${label(s)}: ${redisList(r)}; the busiest process ${t ? `${t.label} at ${fmt(t.cpu_pct, 1)}%` : "–"} of a core; ` +
        `everything together (nodes, Redis, PostgreSQL, HAProxy, the generator) ${fmt(total(r), 0)}% of the machine's 200%` +
        (r.machine ? `, the whole machine (with whatever else ran on it) busy ${fmt(r.machine.busy_pct, 0)}%` : "");
    }).join(". ") + ". " +
      (sets.some((s) => (last[s].machine?.busy_pct ?? total(last[s])) >= 170)
        ? (sets.every((s) => (top(last[s])?.cpu_pct ?? 0) < 80) ? "No process of the cluster is near a core, yet the" : "The") + " two cores are (nearly) all in use, shared by the four nodes, Redis, PostgreSQL, the generator and the machine's other work: " +
          "the acked rate is bounded by the machine, not by Redis, and the ratio of the two rows says little about Redis's own ceiling. "
        : "The machine's two cores are not all in use either, so neither Redis nor the machine is the bound: the loop is. ") +
      `A closed loop keeps ${fmt(inflight)} messages in flight (rooms × members × window), so acked/s = ${fmt(inflight)} ÷ the mean time to an ack: ` +
      sets.map((s) => `${label(s)} ${fmt(inflight / Math.max(1, last[s].result?.acked_per_s ?? 1) * 1000, 0)} ms`).join(", ") +
      " (the ack waits for the message's commit to PostgreSQL and for the node's turn on a shared core). " +
      "The figure that shows the sharding is *msgs per Redis CPU-second*: the Redis Cluster spreads the publishes over three primaries " +
      "(each room's channel hashes to one slot) and adds replication to three replicas, so its Redis CPU per message is the sum over six processes.");
    line();
  }
}

// --- failover: the Redis primary killed under steady sends (issue 18) -----------------------------
// failover: bench/failover.mjs on a fresh 3-node cluster over Redis Sentinel (parley-redis-sentinel)
// and over a Redis Cluster (parley-redis-cluster), back to back in a run; times from the kill -9.
{
  line("## Redis failover: sends refused, and every client served again (issue 18)");
  line();
  const sets = ["parley-redis-sentinel", "parley-redis-cluster"];
  const runs = Object.fromEntries(sets.map((s) => [s, runsOf("failover", s)]));
  if (!sets.some((s) => runs[s].length)) {
    line("Not run: `bench/run --scenarios failover --servers parley` starts a fresh 3-node cluster on Redis Sentinel, then one on a Redis Cluster, kills the Redis primary under steady sends and measures both.");
    line();
  } else {
    const any = sets.map((s) => runs[s][runs[s].length - 1]).find(Boolean);
    const pr = any.params || {};
    line(`Two fresh \`scripts/cluster up --nodes ${pr.nodes}\` clusters (PostgreSQL store), one with \`--redis sentinel\` (1 primary + 2 replicas + 3 sentinels, ` +
      "`down-after-milliseconds` 2000, `broker.backend=redis-sentinel`) and one with `--redis cluster` (3 primaries + 3 replicas, `cluster-node-timeout` 2000, " +
      `\`broker.backend=redis-cluster\`), measured back to back in one \`bench/run\` (the order alternates from run to run). ${pr.clients} clients (client i to node i mod ${pr.nodes}, ` +
      `on their own ports) in ${pr.rooms} rooms each send a message every ${fmt(1000 / (pr.rate_per_client ?? 1))} ms, one at a time, with a cid; a refused send ` +
      `is sent again with the same cid at the next tick, as a client's retry loop does. After ${pr.warmup_s} s the Redis primary that orders the rooms is killed ` +
      "(`kill -9`; on the Redis Cluster the primary of the shard that holds every room), and from that moment: *first refused* and *last refused*: when the first and the last " +
      "send was answered `unavailable` (the *refused window* between them); *every client served*: when the last client had an ack for a send made after its last refusal; " +
      "the ledger, from the store's history after the run: acked messages missing (*lost*), stored twice (*duplicated*) or stored under another seq than their ack's. " +
      "Medians over the runs, the range below each.");
    line();
    const s3 = (v) => (v === undefined || v === null ? "–" : `${v.toFixed(2)} s`);
    const wr = (s, p) => {
      const m = med("failover", s, p), r = range("failover", s, p);
      return r && r[0] !== r[1] ? `${s3(m)} <sub>(${s3(r[0])}–${s3(r[1])})</sub>` : s3(m);
    };
    const sum = (s, f) => runs[s].reduce((a, r) => a + (f(r) ?? 0), 0);
    table(
      ["set-up", "runs", "first refused", "last refused", "refused window", "every client served", "sends refused", "clients refused", "acked", "lost", "duplicated", "under another seq", "ok"],
      sets.filter((s) => runs[s].length).map((s) => [label(s), runs[s].length, wr(s, "result.first_refused_s"), wr(s, "result.last_refused_s"),
        wr(s, "result.refused_window_s"), wr(s, "result.all_served_s"), fmt(med("failover", s, "result.refused_sends")),
        `${fmt(med("failover", s, "result.clients_refused"))} of ${fmt(med("failover", s, "params.clients"))}`, fmt(med("failover", s, "result.acked")),
        fmt(sum(s, (r) => r.delivery?.lost)), fmt(sum(s, (r) => r.delivery?.duplicated)), fmt(sum(s, (r) => r.delivery?.acked_under_another_seq)),
        `${runs[s].filter((r) => r.ok).length} of ${runs[s].length}`])
    );
    line("*lost*, *duplicated* and *under another seq* are summed over the runs (each must be 0). Figures measured by hand before this scenario existed: " +
      "Sentinel refused 2.25–2.44 s, every client served again 2.31–2.56 s; Redis Cluster about 2.0 s.");
    line();
    const errs = {};
    for (const s of sets) for (const r of runs[s]) for (const [k, v] of Object.entries(r.errors || {})) errs[`${label(s)}: ${k}`] = (errs[`${label(s)}: ${k}`] ?? 0) + v;
    if (Object.keys(errs).length)
      line("Answers other than an ack, over all runs: " + Object.entries(errs).map(([k, v]) => `${k} ${fmt(v)}`).join("; ") + ".");
    const l0 = sets.flatMap((s) => runs[s]).map((r) => r.loadavg_start).filter((x) => typeof x === "number");
    if (l0.length) line(`Load average (1 min) at the start of each measurement: ${l0.map((x) => x.toFixed(1)).join(", ")}.` +
      (median(l0) > 2 * os.cpus().length
        ? ` That is over twice the machine's ${os.cpus().length} cores: other work shared them with the cluster, and the windows include the nodes', ` +
          "the sentinels' and the Redis servers' waits for a core (detection and election are timers; what follows them is CPU). Expect shorter windows on a quiet machine."
        : ""));
    if (sets.some((s) => runs[s].some((r) => !r.ok))) line("**A measurement reported a problem** (ok=false): see its JSON line.");
    line();
  }
}

// --- accounts (issue 16) ------------------------------------------------------------------------
// fanout-auth / saturate-auth: Parley with every connection signed in (server "parley") and the
// same server on guests ("parley-guest"), taking turns within each run; signin: logins at the
// default argon2id cost; fanout-signin: fanout alone, then with sign-ins alongside, in one run.
{
  // Run i of a and run i of b of one tag (time order): [a value, b value] pairs.
  const pairsOf = (sc, a, b, pa, pb = pa) => {
    const byTime = (s) => runsOf(sc, s).slice().sort((x, y) => String(x.time).localeCompare(String(y.time)));
    const ra = byTime(a), rb = byTime(b);
    const out = [];
    for (const tag of new Set(ra.map((r) => r.tag))) {
      const xa = ra.filter((r) => r.tag === tag), xb = rb.filter((r) => r.tag === tag);
      for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
        const va = get(xa[i], pa), vb = get(xb[i], pb);
        if (typeof va === "number" && typeof vb === "number") out.push([va, vb]);
      }
    }
    return out;
  };
  const signedUs = (v) => (v < 0 ? "−" : "+") + us(Math.abs(v));
  const pct = (v) => (v === undefined ? "–" : `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(1)}%`);
  // "auth − guest": the median of the paired relative differences, their range, and the guest
  // runs' own spread (the noise to compare it with).
  const relative = (pairs) => {
    const d = pairs.filter(([, b]) => b).map(([a, b]) => (100 * (a - b)) / b).sort((x, y) => x - y);
    return d.length ? { med: median(d), lo: d[0], hi: d[d.length - 1], n: d.length } : undefined;
  };
  const spread = (sc, s, p) => {
    const v = runsOf(sc, s).map((r) => get(r, p)).filter((x) => typeof x === "number");
    const m = median(v);
    return v.length > 1 && m ? (100 * (Math.max(...v) - Math.min(...v))) / m : undefined;
  };
  const relText = (r) => (r ? `${pct(r.med)} <sub>(${pct(r.lo)} to ${pct(r.hi)}, ${r.n} pair${r.n === 1 ? "" : "s"})</sub>` : "–");
  const haveAuth = ["fanout-auth", "saturate-auth", "signin", "fanout-signin"].some((sc) => runsOf(sc, "parley").length);
  if (haveAuth) {
    line("## Accounts (issue 16)");
    line();
    line("Parley only (the baselines have no accounts); `bench/run` lifts the per-address and per-account sign-in and registration " +
      "budgets for these runs (`auth.signin_*`, `auth.register_*` = 1,000,000), and the generator still spreads its requests over " +
      "several source addresses (127.0.4.x for registrations, 127.0.5.x for logins) and accounts: no run should see a 429.");
    const aLoads = rows.filter((r) => ["fanout-auth", "saturate-auth", "signin", "fanout-signin"].includes(r.scenario))
      .map((r) => r.loadavg_start).filter((x) => typeof x === "number");
    if (aLoads.length) {
      line();
      line(`Load average at the start of these runs: median ${median(aLoads).toFixed(1)} (${Math.min(...aLoads).toFixed(1)}–${Math.max(...aLoads).toFixed(1)}) on ` +
        `${execFileSync("nproc").toString().trim()} cores: above the core count, absolute latencies here are the machine's, not Parley's; ` +
        "only the paired differences mean something.");
    }
    line();
  }
  const headline = [];
  const sat = relative(pairsOf("saturate-auth", "parley", "parley-guest", "result.best_delivered_per_s"));
  if (sat)
    headline.push(["saturate, signed in vs guests: best zero-loss deliveries/s", `${fmt(med("saturate-auth", "parley", "result.best_delivered_per_s"))} vs ${fmt(med("saturate-auth", "parley-guest", "result.best_delivered_per_s"))}`,
      relText(sat), spread("saturate-auth", "parley-guest", "result.best_delivered_per_s") === undefined ? "–" : `${spread("saturate-auth", "parley-guest", "result.best_delivered_per_s").toFixed(1)}%`]);
  const fo = relative(pairsOf("fanout-auth", "parley", "parley-guest", "latency_us.p99"));
  if (fo)
    headline.push(["fanout p99, signed in vs guests (~100,000 deliveries/s)", `${us(med("fanout-auth", "parley", "latency_us.p99"))} vs ${us(med("fanout-auth", "parley-guest", "latency_us.p99"))}`,
      relText(fo), spread("fanout-auth", "parley-guest", "latency_us.p99") === undefined ? "–" : `${spread("fanout-auth", "parley-guest", "latency_us.p99").toFixed(1)}%`]);
  const fo50 = relative(pairsOf("fanout-auth", "parley", "parley-guest", "latency_us.p50"));
  if (fo50)
    headline.push(["fanout p50, signed in vs guests", `${us(med("fanout-auth", "parley", "latency_us.p50"))} vs ${us(med("fanout-auth", "parley-guest", "latency_us.p50"))}`,
      relText(fo50), spread("fanout-auth", "parley-guest", "latency_us.p50") === undefined ? "–" : `${spread("fanout-auth", "parley-guest", "latency_us.p50").toFixed(1)}%`]);
  if (runsOf("signin", "parley").length)
    headline.push(["sign-in throughput per core at the default argon2id cost (logins per server CPU-second)",
      fmt(med("signin", "parley", "result.logins_per_cpu_s"), 1), `${fmt(med("signin", "parley", "result.logins_per_s"), 1)} logins/s on ${fmt(med("signin", "parley", "server_stats.cpu_pct"))}% of a core`, "–"]);
  // fanout-signin: each run against itself: the loaded phase minus the mean of the phases alone
  // before and after it.
  let fsRuns = runsOf("fanout-signin", "parley");
  const alone = (r, p) => {
    const v = [get(r, `result.quiet.${p}`), get(r, `result.after.${p}`)].filter((x) => typeof x === "number");
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
  };
  const fsDiff = (p) => fsRuns.map((r) => get(r, `result.signin.${p}`) - alone(r, p)).filter(Number.isFinite).sort((x, y) => x - y);
  const fsSpan = (d) => (d.length ? `${signedUs(median(d))} <sub>(${signedUs(d[0])} to ${signedUs(d[d.length - 1])}, ${d.length} run${d.length === 1 ? "" : "s"})</sub>` : "–");
  const fsAloneSpread = (p) => {
    // The two alone phases of a run differ by this much (median over runs): the noise.
    const v = fsRuns.map((r) => Math.abs(get(r, `result.quiet.${p}`) - get(r, `result.after.${p}`))).filter(Number.isFinite);
    return v.length ? `±${us(median(v))} between the two alone phases` : "–";
  };
  for (const [server, how] of [["parley", ""], ["parley-nice0", ", hash threads at the I/O threads' priority (auth.hash_nice=0)"]]) {
    fsRuns = runsOf("fanout-signin", server);
    for (const [what, p] of [["p99", "latency_us.p99"], ["p50", "latency_us.p50"]]) {
      const d = fsDiff(p);
      if (!d.length) continue;
      headline.push([`fanout ${what} with sign-ins at the hash pool's limit vs alone (same run)${how}`,
        `${us(median(fsRuns.map((r) => get(r, `result.signin.${p}`))))} vs ${us(median(fsRuns.map((r) => alone(r, p))))}`,
        fsSpan(d), fsAloneSpread(p)]);
    }
  }
  if (headline.length) {
    table(["measure", "median (signed in vs guests; loaded vs alone)", "paired difference: median (range)", "noise: the baseline's own spread"], headline);
    line("Paired: signed in vs guests compares run i of each within a run of `bench/run` (they take turns, so the machine's load is alike), " +
      "as a relative difference; its noise is the guest runs' (max − min) / median. Loaded vs alone compares, within each fanout-signin run, " +
      "the phase with sign-ins to the mean of the phases alone before and after it; its noise is how far those two alone phases differ. " +
      "A paired difference inside that noise is within noise.");
    line();
  }
  if (runsOf("fanout-auth", "parley").length) {
    line(`### fanout-auth (n=${runsOf("fanout-auth", "parley").length})`);
    line();
    line("`fanout` with every connection signed in: the generator registers one account per connection (`POST /api/register` with " +
      "`\"token\":true`, 32 at once) and each connection says hello with its session token; **parley, guests** is the same server " +
      "(same flags) driven by guests, in turn with it. Registering 1,000 accounts at the default cost would take about a minute of a " +
      "core per run (see signin), so these servers run with `auth.hash_opslimit=1`, `auth.hash_memlimit=8192` (libsodium's minimum): the runs " +
      `measure the message paths of signed-in sessions, not hashing. Params: ${param("fanout-auth")}.`);
    line();
    table(
      ["server", "delivered/s", "p50", "p90", "p99", "p99.9", "lost", "server CPU %", "in the server: p50 / p99", "accounts registered in"],
      ["parley", "parley-guest"].filter((s) => runsOf("fanout-auth", s).length).map((s) => [s === "parley" ? "parley, signed in" : "parley, guests",
        withRange("fanout-auth", s, "result.delivered_per_s"), us(med("fanout-auth", s, "latency_us.p50")), us(med("fanout-auth", s, "latency_us.p90")),
        withRange("fanout-auth", s, "latency_us.p99", us), us(med("fanout-auth", s, "latency_us.p999")), fmt(med("fanout-auth", s, "delivery.lost")),
        fmt(med("fanout-auth", s, "server_stats.cpu_pct")),
        `${us(med("fanout-auth", s, "server_delivery_us.p50"))} / ${us(med("fanout-auth", s, "server_delivery_us.p99"))}`,
        s === "parley" ? `${fmt(med("fanout-auth", s, "register_connections.seconds"), 2)} s` : "–"])
    );
  }
  if (runsOf("saturate-auth", "parley").length) {
    line(`### saturate-auth (n=${runsOf("saturate-auth", "parley").length})`);
    line();
    line(`\`saturate\` with every connection signed in (accounts as in fanout-auth), in turn with the same on guests. Params: ${param("saturate-auth")}.`);
    line();
    table(
      ["server", "best deliveries/s", "server CPU s / M deliveries", "lost", "generator CPU %"],
      ["parley", "parley-guest"].filter((s) => runsOf("saturate-auth", s).length).map((s) => [s === "parley" ? "parley, signed in" : "parley, guests",
        withRange("saturate-auth", s, "result.best_delivered_per_s", satFmt), withRange("saturate-auth", s, "result.server_cpu_s_per_million_deliveries", (v) => fmt(v, 3)),
        fmt(med("saturate-auth", s, "delivery.lost")), fmt(med("saturate-auth", s, "generator.cpu_pct"))])
    );
  }
  if (runsOf("signin", "parley").length) {
    line(`### signin (n=${runsOf("signin", "parley").length})`);
    line();
    line("Concurrent `POST /api/login` (Connection: close, each from one of several 127.0.5.x addresses) on a few accounts registered at the " +
      "server's default argon2id cost (`auth.hash_opslimit` 2, `auth.hash_memlimit` 64 MiB, `auth.hash_threads` 1, `auth.hash_queue` 64), " +
      "enough in flight to keep the hash pool busy without overflowing its queue. Server CPU from /proc/<pid>/stat (every thread: HTTP, " +
      "the hash pool, the session's commit); per core = logins per server CPU-second. Past `auth.max_sessions_per_user` (50) each sign-in " +
      `also ends the account's oldest session, in the same transaction. Params: ${param("signin")}.`);
    line();
    table(
      ["server", "logins/s", "server CPU %", "logins per CPU-second", "login p50", "login p99", "401", "429", "503", "no answer"],
      [["parley", withRange("signin", "parley", "result.logins_per_s", (v) => fmt(v, 1)), fmt(med("signin", "parley", "server_stats.cpu_pct")),
        withRange("signin", "parley", "result.logins_per_cpu_s", (v) => fmt(v, 1)), us(med("signin", "parley", "latency_us.p50")),
        us(med("signin", "parley", "latency_us.p99")), fmt(med("signin", "parley", "result.bad_credentials")), fmt(med("signin", "parley", "result.rate_limited_429")),
        fmt(med("signin", "parley", "result.overloaded_503")), fmt(med("signin", "parley", "result.no_answer"))]]
    );
  }
  if (runsOf("fanout-signin", "parley").length) {
    line(`### fanout-signin (n=${runsOf("fanout-signin", "parley").length})`);
    line();
    line("One run of `fanout` on guests, measured three times on the same connections: alone, with the `signin` load alongside (logins kept " +
      "in flight so that the hash pool is always busy: sign-ins at the pool's limit), and alone again once the queued logins are done. " +
      "Does a burst of sign-ins stall message delivery? Same server flags as `signin` (default argon2id cost, 1 hash thread). " +
      `Params: ${param("fanout-signin")}.`);
    line();
    const rows = [];
    for (const server of ["parley", "parley-nice0"]) {
      if (!runsOf("fanout-signin", server).length) continue;
      const ph = (name) => (p) => med("fanout-signin", server, `result.${name}.${p}`);
      for (const [label, name] of [["fanout alone (before)", "quiet"], ["fanout + sign-ins", "signin"], ["fanout alone (after)", "after"]])
        rows.push([`${server === "parley" ? "" : "hash_nice=0: "}${label}`, fmt(ph(name)("delivered_per_s")),
          us(ph(name)("latency_us.p50")), withRange("fanout-signin", server, `result.${name}.latency_us.p99`, us), us(ph(name)("latency_us.p999")),
          `${us(ph(name)("server_delivery_us.p50"))} / ${us(ph(name)("server_delivery_us.p99"))}`, fmt(ph(name)("server_cpu_pct")),
          fmt(ph(name)("signin.logins_per_s"), 1), fmt(ph(name)("signin.overloaded_503"))]);
    }
    table(["phase", "delivered/s", "p50", "p99", "p99.9", "in the server: p50 / p99", "server CPU %", "logins/s", "503"], rows);
    line("Hashing never runs on an I/O thread (`auth::HashPool`), so a rise here is the hash thread taking a core from the I/O threads and " +
      "the generator, on a machine with 2 cores and more runnable threads than that. The pool's threads run `auth.hash_nice` (10) above " +
      "the I/O threads; the `hash_nice=0` rows are the same server with them at the I/O threads' priority, in turn with it (paired runs).");
    line();
  }
}

const prof = path.join(RESULTS, "profile-parley.txt");
if (fs.existsSync(prof)) {
  line("## Profile of Parley under saturate");
  line();
  line("From `bench/profile` (perf record -e cpu-clock -g -p <parley>), top symbols by self time:");
  line();
  line("```");
  const text = fs.readFileSync(prof, "utf8").split("\n");
  const i = text.findIndex((l) => l.startsWith("## top symbols"));
  for (const l of text.slice(i + 1, i + 21)) line(l);
  line("```");
  line();
}

// Search latency, uploads, and the store and fan-out with rich chat in the mix (issue 17): their
// sections are written by hand from build/bench/parley-search-bench (search.md), by bench/files.sh
// (files.md) and by bench/mix.sh (mix.md, then what it shows: mix-notes.md, by hand); the report
// carries them as written.
for (const name of ["search.md", "files.md", "mix.md", "mix-notes.md"]) {
  const section = path.join(BENCH, "results", name);
  if (!fs.existsSync(section)) continue;
  for (const l of fs.readFileSync(section, "utf8").trimEnd().split("\n")) line(l);
  line();
}

line("## How to reproduce");
line();
line("```");
line("bench/run --quick          # everything, small sizes, < 5 minutes");
line("bench/run                  # full sizes, 3 runs each; bench/run --profile adds the perf profile");
line("bench/run --scenarios cluster --servers parley,node-ws-redis   # cluster + cluster-saturate, both stacks");
line("bench/run --scenarios fanout,fanout-core --servers parley,bun --runs 16   # the fanout rows again, 16 paired runs");
line("bench/run --scenarios fanout-auth,saturate-auth,signin,fanout-signin --servers parley   # the account rows (issue 16)");
line("bench/run --scenarios cluster-scale --servers parley   # 70,000 clients on a fresh 4-node cluster (issue 18), one run");
line("bench/run --scenarios failover --servers parley   # the Redis primary killed, Sentinel and Cluster (issue 18), 3 runs");
if (pairRuns.length) line(`node bench/report.mjs --run ${chosen.join(",")} --pair-runs ${pairRuns.join(",")}   # this report`);
line("build-bench/bench/parley-bench saturate --port <port> --server-pid <pid>   # one scenario by hand");
line("bench/mix.sh <previous parley> build/parley   # store and fanout with edits and reactions in the mix, against the previous binary (issue 17)");
line("bench/files.sh build/parley   # uploads: MB/s and time per image (issue 17); its section is bench/results/files.md");
line("build/bench/parley-search-bench --backend sqlite --messages 1000000   # search latency (issue 17); --backend postgres");
line("```");
fs.writeFileSync(path.join(BENCH, "REPORT.md"), out.join("\n") + "\n");
console.error(`report: wrote bench/REPORT.md (${rows.length} results, runs ${chosen.join(", ")}; charts: ${charts.join(", ") || "none"})`);
