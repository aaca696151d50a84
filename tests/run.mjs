#!/usr/bin/env node
// Runs the browser-side test suites with node:test.
//   node tests/run.mjs [web] [client] [e2e] [FILE...]   (default: all three)
// web: the UI's pure modules in plain Node (no browser, no server).
// Env: PARLEY_BIN (server binary, default build/parley), CHROMIUM_PATH
// (default /usr/bin/chromium), PARLEY_SCREENSHOT_DIR (keep screenshots).
// Node 20 needs --experimental-websocket for the global WebSocket used by the
// client tests; newer Node has it built in, so the flag is added only when needed.

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const suites = { web: path.join(here, 'web'), client: path.join(here, 'client'), e2e: path.join(here, 'e2e') };

const args = process.argv.slice(2);
const wanted = args.length ? args : ['web', 'client', 'e2e'];
const files = [];
for (const arg of wanted) {
  if (suites[arg]) {
    for (const f of readdirSync(suites[arg]).sort()) if (f.endsWith('.test.mjs')) files.push(path.join(suites[arg], f));
  } else {
    files.push(path.resolve(arg));
  }
}

const flags = [];
if (typeof globalThis.WebSocket !== 'function') flags.push('--experimental-websocket');
const child = spawn(process.execPath, [...flags, '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
