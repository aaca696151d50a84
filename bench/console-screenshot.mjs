#!/usr/bin/env node
// The admin console's screenshot for docs/operations.md ("Admin console"), taken under load from
// bench's own load generator: two nodes on one redis-server (sharing one SQLite data directory, as
// tests/e2e/admin.test.mjs does, so that the admin account is one), `parley-bench fanout` into
// #general against each, and the console open on the first until its sparklines hold about 30 s of
// samples.
//
//   node bench/console-screenshot.mjs [OUT.png]   (default docs/screenshots/admin-console.png)
//
// Needs build/parley and build/bench/parley-bench (scripts/test or bench/run build them) and
// Debian's redis-server and chromium. Everything listens on 127.0.0.1 and is stopped at the end.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { launchBrowser, newPerson } from '../tests/lib/browser.mjs';
import { ParleyServer, startServer, REPO } from '../tests/lib/server.mjs';
import { startRedis } from '../tests/lib/redis.mjs';

const out = path.resolve(process.argv[2] ?? path.join(REPO, 'docs', 'screenshots', 'admin-console.png'));
const BENCH = path.join(REPO, 'build', 'bench', 'parley-bench');
const LOAD_SECONDS = 45;

// The generator is many users on a few 127.0.x.y addresses: the per-address and per-user budgets
// are lifted as bench/run lifts them (NO_CLIENT_BUDGETS there), and the send and request rates.
const set = {
  'auth.admins': 'root',
  'auth.hash_opslimit': 1,
  'auth.hash_memlimit': 8192,
  'limits.max_connections_per_address': 0,
  'limits.connect_rate_per_address': 0,
  'limits.send_rate_per_address': 0,
  'limits.request_rate_per_address': 0,
  'limits.send_rate_per_user': 0,
  'limits.send_rate': 1000000,
  'limits.send_burst': 1000000,
  'limits.request_rate': 1000000,
  'limits.request_burst': 1000000,
};

function bench(args) {
  const child = spawn(BENCH, [...args, '--out-dir', '-', '--max-seconds', String(LOAD_SECONDS + 30)], { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', resolve));
}

const redis = await startRedis();
const cluster = { ...set, 'broker.backend': 'redis', 'broker.redis_url': redis.url };
const a = await startServer({ set: cluster });
const b = new ParleyServer({ set: cluster, dataDir: a.dataDir });
await b.start();
const browser = await launchBrowser();
try {
  const { page } = await newPerson(browser, { viewport: { width: 1280, height: 900 } });
  await page.goto(a.url + '/admin/');
  const status = await page.evaluate(async () => (await fetch('/api/register', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'root', password: 'correct horse' }),
  })).status);
  if (status !== 201) throw new Error(`register root: ${status}`);
  await page.goto(a.url + '/admin');
  await page.locator('#admin-state', { hasText: /^Live · 2 nodes$/ }).waitFor({ timeout: 20000 });

  // #general exists on every node: 200 members on each node, 10 of them publishing, 20 messages a
  // second per node, so that every message crosses to the other node through Redis.
  const fanout = (port) => bench(['fanout', '--port', String(port), '--room', 'general', '--subscribers', '200',
    '--publishers', '10', '--rate', '20', '--duration', String(LOAD_SECONDS), '--warmup', '1']);
  const load = Promise.all([fanout(a.port), fanout(b.port)]);
  await page.waitForTimeout(30000);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
  await load;
} finally {
  await browser.close();
  await b.stop();
  await a.cleanup();
  await redis.stop();
}
