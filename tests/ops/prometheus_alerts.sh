#!/usr/bin/env bash
# The alert rules against a real Prometheus (CTest `ops_prometheus_alerts`, label cluster):
# a loopback cluster of 2 nodes (scripts/cluster up --nodes 2, in a temp CLUSTER_DIR), Debian's
# `prometheus` scraping both nodes' /metrics every second with deploy/prometheus/alerts.yml loaded;
# then
#   - every metric an alert or a dashboard panel names is in a node's live /metrics
#     (deploy/prometheus/check_exprs.py --exported), and no alert fires on the healthy cluster;
#   - node 2 is killed (kill -9), and ParleyNodeDown must fire for its instance (and not for
#     node 1's) within 45 s.
# Everything it started is stopped by pid. Exit 77 (CTest: skipped) only when prometheus is not
# installed and cannot be. PARLEY_BIN: the parley binary (default build/parley). About 25 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PARLEY_BIN=${PARLEY_BIN:-$root/build/parley}
PATH=$PATH:/usr/sbin:/sbin
say() { echo "prometheus_alerts: $*"; }
fail() { echo "prometheus_alerts: FAILED: $*" >&2; exit 1; }

if ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing prometheus (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || true
    service prometheus stop >/dev/null 2>&1 || true  # it must not hold :9090; this test runs its own
  fi
  if ! command -v prometheus >/dev/null 2>&1; then
    echo "prometheus_alerts: SKIPPED: no prometheus binary, and apt-get install prometheus failed or is not allowed (scripts/deps test installs it)"
    exit 77
  fi
fi

tmp=$(mktemp -d /tmp/parley-prom-test.XXXXXX)
export CLUSTER_DIR=$tmp/cluster
prom_pid=""
cleanup() {
  local rc=$? i
  if [ -n "$prom_pid" ] && kill -0 "$prom_pid" 2>/dev/null; then
    kill -TERM "$prom_pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$prom_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$prom_pid" 2>/dev/null || true
  fi
  "$root/scripts/cluster" down >"$tmp/cluster-down.log" 2>&1 || cat "$tmp/cluster-down.log" >&2
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    echo "--- prometheus log (tail)" >&2
    tail -20 "$tmp/prometheus.log" >&2 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$root/scripts/cluster" up --nodes 2 >"$tmp/cluster-up.log" 2>&1 || { cat "$tmp/cluster-up.log" >&2; fail "scripts/cluster up"; }
node_port() { grep "^NODE$1_PORT=" "$CLUSTER_DIR/cluster.env" | cut -d= -f2; }
p1=$(node_port 1)
p2=$(node_port 2)
say "cluster up: node1 127.0.0.1:$p1, node2 127.0.0.1:$p2"

# A free port below the ephemeral range (as scripts/cluster picks its own).
ephemeral_low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
prom_port=""
for _ in $(seq 1 100); do
  p=$((20000 + RANDOM % (ephemeral_low > 21024 ? ephemeral_low - 20000 : 1024)))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then prom_port=$p; break; fi
done
[ -n "$prom_port" ] || fail "no free port for prometheus"

# The deploy rules as they are, but with every `for:` shortened to 2s: the production durations
# (1 to 10 minutes) would make this test minutes long. Nothing else differs (checked below).
sed -E 's/^( +for:) .*/\1 2s/' "$root/deploy/prometheus/alerts.yml" >"$tmp/alerts.yml"
diff <(grep -v '^ *for:' "$root/deploy/prometheus/alerts.yml") <(grep -v '^ *for:' "$tmp/alerts.yml") >/dev/null ||
  fail "the test's copy of alerts.yml differs beyond its for: lines"
grep -q '^ *for: 2s$' "$tmp/alerts.yml" || fail "no for: line shortened in the test's alerts.yml"
cat >"$tmp/prometheus.yml" <<YAML
# deploy/prometheus/prometheus.yml's job on this loopback cluster, scraped and evaluated every second.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: parley
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$p1", "127.0.0.1:$p2"]
YAML
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "promtool check config on the test's prometheus.yml"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$tmp/prometheus.log" 2>&1 </dev/null &
prom_pid=$!
api="http://127.0.0.1:$prom_port"
say "prometheus (pid $prom_pid) on 127.0.0.1:$prom_port"

# query EXPR: the value of a scalar-like instant query's first sample ("" if none).
query() {
  curl -s -m 2 "$api/api/v1/query" --data-urlencode "query=$1" 2>/dev/null | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except Exception:
    print("")'
}
# alerts STATE: "alertname instance" per alert in that state (pending or firing).
alerts() {
  curl -s -m 2 "$api/api/v1/alerts" 2>/dev/null | python3 -c '
import json, sys
try:
    for a in json.load(sys.stdin)["data"]["alerts"]:
        if a["state"] == sys.argv[1]:
            print(a["labels"]["alertname"], a["labels"].get("instance", "-"))
except Exception:
    pass' "$1"
}

ok=0
for ((i = 0; i < 40; i++)); do  # both targets scraped and up: at most 20 s
  kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
  [ "$(query 'sum(up{job="parley"})')" = 2 ] && { ok=1; break; }
  sleep 0.5
done
[ $ok -eq 1 ] || fail "prometheus did not scrape both nodes within 20 s"
say "both nodes scraped"

# Every metric an alert or a panel names is in a live node's /metrics (TLS ones aside: no TLS here).
curl -s -m 5 "http://127.0.0.1:$p1/metrics" >"$tmp/node1.metrics" || fail "GET /metrics of node1"
python3 "$root/deploy/prometheus/check_exprs.py" --exported "$tmp/node1.metrics" ||
  fail "an alert or panel names a metric node1 does not export"

# A healthy cluster: no alert fires (3 s: past every shortened for:, and a few evaluations).
sleep 3
firing=$(alerts firing)
[ -z "$firing" ] || fail "alerts firing on a healthy cluster: $firing"
[ "$(query 'count(ALERTS{alertstate="firing"})')" = "" ] || fail "ALERTS has firing series on a healthy cluster"
say "no alert fires on the healthy cluster"

kill -KILL "$(cat "$CLUSTER_DIR/node2.pid")"
say "killed node2 (kill -9)"
start=$SECONDS
ok=0
for ((i = 0; i < 90; i++)); do  # at most 45 s
  firing=$(alerts firing)
  if grep -qx "ParleyNodeDown 127.0.0.1:$p2" <<<"$firing"; then ok=1; break; fi
  sleep 0.5
done
[ $ok -eq 1 ] || fail "ParleyNodeDown did not fire for 127.0.0.1:$p2 within 45 s (firing: ${firing:-none})"
! grep -q "ParleyNodeDown 127.0.0.1:$p1\$" <<<"$firing" || fail "ParleyNodeDown fires for node1, which is up"
say "ParleyNodeDown firing for node2 (127.0.0.1:$p2) after $((SECONDS - start)) s; not for node1"
say "passed"
