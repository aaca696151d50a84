#!/usr/bin/env bash
# Issue 17's "no regression with these events in the mix": the store and fan-out scenarios of
# bench/run, paired in rounds, on three servers:
#   prev  the binary before the rich-chat features (messages only: no FTS triggers, no files,
#         reactions or read state), given as PREV_BIN;
#   now   this tree's binary, messages only;
#   prev-jemalloc  PREV_BIN with the allocator and settings this tree's binary links
#         (src/app/allocator.cpp; LD_PRELOAD and MALLOC_CONF): what the features cost at the same
#         allocator;
#   mix   this tree's binary, every 4th send of each publisher a change of its newest acked
#         message instead: in turn an edit, a react and an unreact (parley-bench --mix 4), each an
#         entry of the room's sequence, stored, indexed for search and acked like a message.
# store runs on SQLite and on a fresh local PostgreSQL (one database per run); fanout on SQLite
# (its latency is measured on messages: the mix is a store-side load). Every round runs each
# server once, the order rotated, so that paired figures share the machine's load of the moment.
# Writes bench/results/mix.md (bench/report.mjs carries it into REPORT.md) and one JSON line per
# run to bench/results/mix-runs.json.
#
#   bench/mix.sh PREV_BIN [NOW_BIN]      # ROUNDS=5 by default; NOW_BIN build/parley
set -euo pipefail
cd "$(dirname "$0")/.."
PREV=${1:?usage: bench/mix.sh PREV_BIN [NOW_BIN]}
NOW=${2:-build/parley}
GEN=${GEN:-build/bench/parley-bench}
ROUNDS=${ROUNDS:-5}
MIX=${MIX:-4}
out_md=bench/results/mix.md
out_json=bench/results/mix-runs.json
tmp=$(mktemp -d)
pgdir=$(mktemp -d /tmp/parley-mix-pg.XXXXXX)
server_pid=""
pg_stop=()
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  if [ ${#pg_stop[@]} -gt 0 ]; then "${pg_stop[@]}" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp" "$pgdir"
}
trap cleanup EXIT

as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
[ "$(id -u)" -eq 0 ] && chown postgres: "$pgdir"
(cd "$pgdir" && as_postgres "$bindir/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --locale=C -N >/dev/null)
(cd "$pgdir" && as_postgres "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
  -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1" start >/dev/null)
pg_stop=(as_postgres "$bindir/pg_ctl" -D "$pgdir/data" -m fast -w stop)
psql_() { as_postgres "$bindir/psql" -h 127.0.0.1 -p "$pgport" -U postgres -qc "$1" >/dev/null; }

budgets=(--set limits.send_rate=1000000 --set limits.send_burst=1000000 --set limits.request_rate=1000000
  --set limits.request_burst=1000000 --set limits.max_connections_per_address=0 --set limits.connect_rate_per_address=0
  --set limits.send_rate_per_address=0 --set limits.request_rate_per_address=0 --set limits.send_rate_per_user=0
  --set limits.room_create_rate=0 --set limits.max_outbound_bytes=67108864)

# index_catch_up PORT: {"behind": entries stored but not yet read into the search index, "caught_up_s":
# seconds until they were} from the node's metrics (at most 120 s).
index_catch_up() {
  python3 - "$1" <<'PY'
import json, sys, time, urllib.request
def metrics():
    text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
    return {l.split(" ")[0]: float(l.split(" ")[1]) for l in text.splitlines() if l and not l.startswith("#")}
start = time.monotonic()
m = metrics()
stored, behind = m["parley_store_messages_total"], m["parley_store_messages_total"] - m["parley_search_indexed_total"]
while metrics()["parley_search_indexed_total"] < stored and time.monotonic() - start < 120:
    time.sleep(0.1)
print(json.dumps({"behind": int(behind), "caught_up_s": round(time.monotonic() - start, 2)}))
PY
}

# run SCENARIO BACKEND SERVER ROUND: one server started fresh, one generator run, one JSON line.
run() {
  local scenario=$1 backend=$2 server=$3 round=$4 bin=$NOW extra=() store=() args
  local env=()
  [ "$server" = prev ] && bin=$PREV
  # The settings of src/app/allocator.cpp's malloc_conf.
  [ "$server" = prev-jemalloc ] && bin=$PREV &&
    env=(LD_PRELOAD="$jemalloc" MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0)
  [ "$server" = mix ] && extra=(--mix "$MIX")
  if [ "$backend" = postgres ]; then
    local db="mix_${round}_${server//-/_}_$RANDOM"
    psql_ "CREATE DATABASE $db"
    store=(--set store.backend=postgres --set "store.postgres_url=postgresql://postgres@127.0.0.1:$pgport/$db")
  fi
  case $scenario in
    store) args=(--publishers 100 --rooms 100 --window 32 --duration 10) ;;
    fanout) args=(--subscribers 1000 --publishers 10 --rate 100 --duration 10 --warmup 2) ;;
  esac
  local data="$tmp/data-$RANDOM"
  mkdir -p "$data"
  env "${env[@]}" "$bin" serve --listen 127.0.0.1:0 --data "$data" --log-level warn "${budgets[@]}" "${store[@]}" \
    >"$tmp/out" 2>"$tmp/err" &
  server_pid=$!
  local port="" i
  for i in $(seq 200); do
    port=$(grep -m1 "parley: listening on" "$tmp/out" 2>/dev/null | sed 's/.*://; s/[^0-9]//g' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$tmp/err" >&2; echo "bench/mix.sh: $server did not start" >&2; exit 1; }
  local pids=$server_pid
  if [ "$backend" = postgres ]; then
    local pm
    pm=$(head -1 "$pgdir/data/postmaster.pid")
    pids="$server_pid,$pm,$(pgrep -P "$pm" | paste -sd, -)"
  fi
  # A run that reports a problem (ok=false: loss, errors) is kept and counted in the table.
  local line catch_up="{}"
  line=$("$GEN" "$scenario" --port "$port" --server "$server" --server-pid "$pids" --out-dir - --max-seconds 120 \
    "${args[@]}" "${extra[@]}" 2>/dev/null | head -1 || true)
  # This tree's search index is written after the commits, paced by store.search_share: how far
  # behind the stored entries it was when the load stopped, and how long it took to catch up.
  [ "$scenario" = store ] && [ "$bin" = "$NOW" ] && catch_up=$(index_catch_up "$port")
  printf '%s\n' "$line" |
    python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); r["mix_backend"]=sys.argv[1]; r["mix_round"]=int(sys.argv[2]); r["search_index"]=json.loads(sys.argv[3]); print(json.dumps(r))' \
      "$backend" "$round" "$catch_up" >>"$tmp/runs.json"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

jemalloc=$(ldconfig -p | awk '/libjemalloc\.so\.2 /{print $NF; exit}')
[ -n "$jemalloc" ] || { echo "bench/mix.sh: libjemalloc.so.2 not found (apt-get install libjemalloc2)" >&2; exit 1; }
servers=(prev prev-jemalloc now mix)
for round in $(seq "$ROUNDS"); do
  # Rotated: round 1 prev prev-jemalloc now mix, round 2 prev-jemalloc now mix prev, ...
  order=("${servers[@]:$(( (round - 1) % 4 ))}" "${servers[@]:0:$(( (round - 1) % 4 ))}")
  for s in "${order[@]}"; do
    echo "bench/mix.sh: round $round/$ROUNDS: $s" >&2
    run store sqlite "$s" "$round"
    run store postgres "$s" "$round"
    [ "$s" = mix ] || run fanout sqlite "$s" "$round"
  done
done
cp "$tmp/runs.json" "$out_json"

python3 - "$out_json" "$out_md" "$ROUNDS" "$MIX" "$(git rev-parse --short HEAD)" <<'EOF'
import json, statistics, sys
path, md, rounds, mix, rev = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
runs = [json.loads(l) for l in open(path)]
def get(r, dotted):
    for k in dotted.split("."):
        r = r.get(k, {}) if isinstance(r, dict) else {}
    return r if isinstance(r, (int, float)) else None
def sel(scen, backend, server):
    return {r["mix_round"]: r for r in runs if r.get("scenario") == scen and r["mix_backend"] == backend and r.get("server") == server}
def med(xs): return statistics.median(xs) if xs else float("nan")
def paired(a, b, key):  # median over rounds of b/a - 1
    d = [get(b[k], key) / get(a[k], key) - 1 for k in a if k in b and get(a[k], key) and get(b[k], key) is not None]
    return med(d), len(d)
lines = [f"## Rich chat in the mix (issue 17)", "",
  f"`bench/mix.sh <previous parley> build/parley` ({rounds} rounds, each server once per round in a rotated order; tree {rev}). "
  "**prev** is the binary before the rich-chat features (messages only in its schema: no search index, files, reactions or read state); "
  "**prev-jemalloc** the same binary with the allocator this tree links (jemalloc with the settings of src/app/allocator.cpp, by LD_PRELOAD and MALLOC_CONF): what the features cost at the same allocator; "
  f"**now** this tree, messages only; **mix** this tree with every {mix}th send of each publisher an edit, a react or an unreact "
  "of its newest acked message instead (each an entry of the room's sequence: stored, indexed for search, acked). "
  "Medians over the rounds; *vs prev* is the median of the per-round ratios (the pairs share the machine's load).", ""]
for backend in ("sqlite", "postgres"):
    lines += [f"**store ({'SQLite' if backend == 'sqlite' else 'PostgreSQL'})**: 100 publishers, 100 rooms, window 32, 10 s.", "",
              "| server | acked entries/s | vs prev | ack p50 | ack p99 | server CPU s per 100k acks | search index behind at the end (caught up after) |", "|---|---|---|---|---|---|---|"]
    prev = sel("store", backend, "prev")
    pj = sel("store", backend, "prev-jemalloc")
    for s in ("prev", "prev-jemalloc", "now", "mix"):
        cur = sel("store", backend, s)
        rate = med([get(r, "result.acked_per_s") for r in cur.values() if get(r, "result.acked_per_s") is not None])
        p50 = med([get(r, "ack_latency_us.p50") for r in cur.values() if get(r, "ack_latency_us.p50") is not None])
        p99 = med([get(r, "ack_latency_us.p99") for r in cur.values() if get(r, "ack_latency_us.p99") is not None])
        cpu = med([get(r, "server_stats.cpu_s") / (get(r, "result.acked_per_s") * get(r, "result.seconds")) * 1e5
                   for r in cur.values() if get(r, "server_stats.cpu_s") is not None and get(r, "result.acked_per_s")])
        bad = sum(1 for r in cur.values() if not r.get("ok"))
        vs = "–" if s == "prev" else "%+.1f%% (%d pairs)" % (100 * paired(prev, cur, "result.acked_per_s")[0], paired(prev, cur, "result.acked_per_s")[1])
        behind = [r["search_index"]["behind"] for r in cur.values() if r.get("search_index", {}).get("behind") is not None]
        caught = [r["search_index"]["caught_up_s"] for r in cur.values() if r.get("search_index", {}).get("caught_up_s") is not None]
        index = f"{med(behind):,.0f} entries ({med(caught):.1f} s)" if behind else "– (no index)"
        lines.append(f"| {s} | {rate:,.0f} | {vs} | {p50/1000:.2f} ms | {p99/1000:.2f} ms | {cpu:.2f} | {index} |"
                     + (f" ({bad} runs not ok)" if bad else ""))
    for s in ("now", "mix"):
        d, n = paired(pj, sel("store", backend, s), "result.acked_per_s")
        lines.append(f"{'' if s == 'now' else ' '}*{s} vs prev-jemalloc*: {100 * d:+.1f}% ({n} pairs).")
    lines.append("")
lines += ["**fanout (SQLite)**: 1 room × 1,000 members, 10 publishers at 100 messages/s (100,000 deliveries/s), 10 s.", "",
          "| server | delivered/s | p50 | p99 | p99 vs prev | lost |", "|---|---|---|---|---|---|"]
prev = sel("fanout", "sqlite", "prev")
for s in ("prev", "prev-jemalloc", "now"):
    cur = sel("fanout", "sqlite", s)
    dl = med([get(r, "result.delivered_per_s") for r in cur.values() if get(r, "result.delivered_per_s") is not None])
    p50 = med([get(r, "latency_us.p50") for r in cur.values() if get(r, "latency_us.p50") is not None])
    p99 = med([get(r, "latency_us.p99") for r in cur.values() if get(r, "latency_us.p99") is not None])
    lost = sum(get(r, "delivery.lost") or 0 for r in cur.values())
    vs = "–" if s == "prev" else "%+.1f%% (%d pairs)" % (100 * paired(prev, cur, "latency_us.p99")[0], paired(prev, cur, "latency_us.p99")[1])
    lines.append(f"| {s} | {dl:,.0f} | {p50/1000:.2f} ms | {p99/1000:.2f} ms | {vs} | {lost} |")
open(md, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
