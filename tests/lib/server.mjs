// Start/stop/restart a real Parley server for tests: 127.0.0.1 only, a
// fresh temporary data directory, killed afterwards (also when the test
// process dies). The binary is $PARLEY_BIN or <repo>/build/parley.

import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PARLEY_BIN = process.env.PARLEY_BIN || path.join(REPO, 'build', 'parley');
export const WEB_DIR = path.join(REPO, 'web');

const READY_RE = /parley: listening on 127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 8000;
const PORT_RETRIES = 40; // restarting on the same port: wait for it to be free

const running = new Set();
function killAll() {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { killAll(); process.exit(130); });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class ParleyServer {
  /**
   * @param {object} [opts]
   * @param {Record<string,string|number>} [opts.set] extra config, passed as --set key=value
   * @param {string} [opts.bin] server binary
   * @param {string} [opts.dataDir] another node's data directory, shared (SQLite in WAL mode takes
   *   two processes): a second node of a test cluster. Left for that node to delete.
   */
  constructor({ bin = PARLEY_BIN, webDir = WEB_DIR, set = {}, dataDir = null } = {}) {
    this.bin = bin;
    this.webDir = webDir;
    this.set = set;
    this.port = 0;
    this.dataDir = dataDir;
    this.sharedDataDir = dataDir !== null;
    this.child = null;
    this.log = [];     // stdout/stderr lines of every run, for diagnostics
    this.exits = [];   // { code, signal } of each run
  }

  get url() { return `http://127.0.0.1:${this.port}`; }
  get wsUrl() { return `ws://127.0.0.1:${this.port}/ws`; }
  get running() { return this.child !== null; }

  async start() {
    if (this.child) throw new Error('server already running');
    if (!existsSync(this.bin)) {
      throw new Error(`parley server binary not found at ${this.bin} (build it, or set PARLEY_BIN)`);
    }
    if (!this.dataDir) this.dataDir = await mkdtemp(path.join(tmpdir(), 'parley-test-'));
    const fixedPort = this.port !== 0;
    for (let attempt = 0; ; attempt++) {
      try {
        await this._spawn();
        return this;
      } catch (err) {
        // The old process may still hold the port for a moment after exit.
        if (!fixedPort || attempt >= PORT_RETRIES || !err.exitedEarly) throw err;
        await sleep(100);
      }
    }
  }

  _spawn() {
    // A handler that throws is a failed test, not a logged line (the server's default). A test's
    // clients all come from 127.0.0.1, as many users behind one address would: the per-address
    // and per-user budgets are off unless the test sets them.
    const args = ['serve', '--listen', `127.0.0.1:${this.port}`, '--data', this.dataDir, '--web', this.webDir];
    for (const s of ['server.fail_fast=true', 'limits.max_connections_per_address=0', 'limits.connect_rate_per_address=0',
      'limits.send_rate_per_address=0', 'limits.request_rate_per_address=0', 'limits.send_rate_per_user=0',
      'limits.room_create_rate=0']) args.push('--set', s);
    for (const [k, v] of Object.entries(this.set)) args.push('--set', `${k}=${v}`);
    const child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const tag = `[parley:${child.pid}]`;
    return new Promise((resolve, reject) => {
      let ready = false;
      let buf = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${tag} not ready after ${START_TIMEOUT_MS} ms\n${this.tail()}`));
      }, START_TIMEOUT_MS);
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) !== -1) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.log.push(`${tag} ${line}`);
          const m = !ready && line.match(READY_RE);
          if (m) {
            ready = true;
            clearTimeout(timer);
            this.port = Number(m[1]);
            this.child = child;
            resolve();
          }
        }
      });
      child.stderr.on('data', (chunk) => {
        for (const line of chunk.split('\n')) if (line) this.log.push(`${tag} ! ${line}`);
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        running.delete(child);
        reject(err);
      });
      child.on('exit', (code, signal) => {
        running.delete(child);
        this.exits.push({ code, signal });
        if (this.child === child) this.child = null;
        if (!ready) {
          clearTimeout(timer);
          const err = new Error(`${tag} exited (${code ?? signal}) before it was ready\n${this.tail()}`);
          err.exitedEarly = true;
          reject(err);
        }
      });
    });
  }

  /** Stop with SIGTERM (drain); SIGKILL if it does not exit in time. Resolves with { code, signal }. */
  async stop({ signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS } = {}) {
    const child = this.child;
    if (!child) return null;
    const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const result = await exited;
    clearTimeout(timer);
    this.child = null;
    return result;
  }

  /** Simulate a crash. */
  kill() { return this.stop({ signal: 'SIGKILL' }); }

  /** Stop and start again on the same port with the same data directory. */
  async restart() {
    await this.stop();
    await this.start();
    return this;
  }

  /** Stop (if running) and delete the data directory. Safe to call twice. */
  async cleanup() {
    await this.stop();
    if (this.dataDir && !this.sharedDataDir) await rm(this.dataDir, { recursive: true, force: true });
    this.dataDir = null;
  }

  tail(n = 40) { return this.log.slice(-n).join('\n'); }

  /** `parley admin ...args --data <dataDir>`: resolves to { code, output }. */
  admin(...args) {
    return new Promise((resolve) => {
      execFile(PARLEY_BIN, ['admin', ...args, '--data', this.dataDir], { timeout: 10000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? 1) : 0, output: `${stdout}${stderr}` });
      });
    });
  }
}

/** Start a fresh server (fresh data dir, free port). */
export async function startServer(opts) {
  const server = new ParleyServer(opts);
  try {
    await server.start();
  } catch (err) {
    await server.cleanup();
    throw err;
  }
  return server;
}
