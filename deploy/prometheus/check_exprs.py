#!/usr/bin/env python3
"""Checks the monitoring files against each other and against the node's metrics.

  check_exprs.py [--exported METRICS.txt] [--rules-out FILE]

- alerts.yml: every alert has labels.severity, a summary and a description, and alerts.test.yml
  has a test where it fires and an input series it must stay silent on;
- grafana/parley.json: parses; unique panel ids; every panel has a position and at least one
  PromQL target;
- every metric named in an alert or a panel is one the node exports: by default the names in
  src/node/metrics.cpp; with --exported, the sample names of a scraped /metrics (the live test);
- --rules-out writes the dashboard's expressions as recording rules (Grafana's $__rate_interval
  and $instance filled in), for `promtool check rules` to parse them.
Exit 1 with a message per problem.
"""
import argparse
import json
import os
import re
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))
deploy = os.path.dirname(here)
root = os.path.dirname(deploy)
problems = []


def bad(msg):
    problems.append(msg)


def metric_names(expr):
    """The metric names in a PromQL expression: ours (parley_*) and Prometheus's own `up`."""
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values are not names
    return set(re.findall(r"\b(parley_[a-z0-9_]+|up)\b(?!\s*\()", code))


def exported_by_source():
    text = open(os.path.join(root, "src/node/metrics.cpp")).read()
    names = set(re.findall(r"\b(parley_[a-z0-9_]+)", text))
    for h in re.findall(r'append_histogram\(\s*out,\s*shards,\s*"(parley_[a-z0-9_]+)"', text):
        names |= {h + "_bucket", h + "_sum", h + "_count"}
    return names


def exported_by_scrape(path):
    names = set()
    for line in open(path):
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
        if m and not line.startswith("#"):
            names.add(m.group(1))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exported")
    ap.add_argument("--rules-out")
    args = ap.parse_args()

    rules = yaml.safe_load(open(os.path.join(here, "alerts.yml")))
    alerts = {}
    for g in rules["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            name = r["alert"]
            alerts[name] = r["expr"]
            if r.get("labels", {}).get("severity") not in ("critical", "warning"):
                bad(f"alerts.yml: {name}: labels.severity must be critical or warning")
            for a in ("summary", "description"):
                if not r.get("annotations", {}).get(a):
                    bad(f"alerts.yml: {name}: no annotations.{a}")
            if "for" not in r:
                bad(f"alerts.yml: {name}: no `for:` (tests/ops/prometheus_alerts.sh shortens them)")

    # Each alert: a test where it fires, and an input series it stays silent on.
    tests = yaml.safe_load(open(os.path.join(here, "alerts.test.yml")))
    fires, silent = set(), set()
    for t in tests["tests"]:
        instances = {m.group(1) for s in t["input_series"]
                     for m in [re.search(r'instance="([^"]+)"', s["series"])] if m}
        fired = {}  # alert name -> the instances it fires for at any time of this test
        for c in t.get("alert_rule_test", []):
            got = {a["exp_labels"].get("instance") for a in c.get("exp_alerts") or []}
            fired.setdefault(c["alertname"], set()).update(got)
        for name, got in fired.items():
            if got:
                fires.add(name)
            if instances - got:  # a series it must never fire for
                silent.add(name)
    for name in alerts:
        if name not in fires:
            bad(f"alerts.test.yml: no test where {name} fires")
        if name not in silent:
            bad(f"alerts.test.yml: no series {name} must stay silent on")
    for name in (fires | silent) - set(alerts):
        bad(f"alerts.test.yml: tests an alert alerts.yml does not have: {name}")

    dash_path = os.path.join(deploy, "grafana", "parley.json")
    try:
        dash = json.load(open(dash_path))
    except ValueError as e:
        bad(f"grafana/parley.json: not JSON: {e}")
        dash = {"panels": []}
    for k in ("title", "uid", "panels", "schemaVersion"):
        if k not in dash:
            bad(f"grafana/parley.json: no {k}")
    var_names = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    panel_exprs = []
    ids = set()
    for p in dash.get("panels", []):
        pid = p.get("id")
        if pid in ids:
            bad(f"grafana/parley.json: panel id {pid} twice")
        ids.add(pid)
        if not {"x", "y", "w", "h"} <= set(p.get("gridPos", {})):
            bad(f"grafana/parley.json: panel {p.get('title')}: no gridPos")
        if p.get("type") == "row":
            continue
        targets = p.get("targets") or []
        if not targets:
            bad(f"grafana/parley.json: panel {p.get('title')}: no targets")
        for t in targets:
            expr = t.get("expr", "")
            if not expr:
                bad(f"grafana/parley.json: panel {p.get('title')} target {t.get('refId')}: no expr")
                continue
            for v in re.findall(r"\$(?:\{)?([a-zA-Z_]+)", expr):
                if v not in var_names and not v.startswith("__"):
                    bad(f"grafana/parley.json: panel {p.get('title')}: ${v} is not a dashboard variable")
            panel_exprs.append((p.get("title"), expr))

    exported = exported_by_scrape(args.exported) if args.exported else exported_by_source()
    exported.add("up")
    # Series a node has only in some setups: TLS on the node (server.tls_cert).
    optional = re.compile(r"parley_tls_") if args.exported else None
    where = f"the scrape {args.exported}" if args.exported else "src/node/metrics.cpp"
    used = [(f"alert {n}", e) for n, e in alerts.items()] + [(f"panel {t}", e) for t, e in panel_exprs]
    for what, expr in used:
        names = metric_names(expr)
        if not names:
            bad(f"{what}: names no metric: {expr}")
        for n in sorted(names - exported):
            if optional and optional.match(n):
                continue
            bad(f"{what}: {n} is not in {where}")

    if args.rules_out:
        recs = [{"record": f"dashboard:panel_{i}", "expr": e.replace("$__rate_interval", "1m")
                 .replace("$instance", ".*")} for i, (_, e) in enumerate(panel_exprs)]
        with open(args.rules_out, "w") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recs}]}, f)

    for p in problems:
        print("check_exprs: " + p, file=sys.stderr)
    if not problems:
        print(f"check_exprs: {len(alerts)} alerts, {len(panel_exprs)} panel expressions; "
              f"every metric they name is in {where}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
