// Bounded polling for tests.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll fn() until it returns a truthy value (returned) or time runs out (throws). */
export async function waitFor(fn, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}
