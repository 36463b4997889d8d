/**
 * Waiting for the kernel to catch up: a condition read from /proc is asked
 * again after naps that grow from 1 ms to 20 ms, until it holds or the time
 * is up. Synchronous for work done under a store lock (which is synchronous),
 * asynchronous where the event loop must stay free (freezing a container).
 */

/** naps yields the pause before each next try, until `ms` have passed since the first */
function* naps(ms: number): Generator<number> {
  const end = Date.now() + ms;
  for (let wait = 1; Date.now() <= end; wait = Math.min(wait * 2, 20)) yield wait;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** waitUntil asks `done` until it holds (true) or `ms` have passed (false), blocking between tries. */
export function waitUntil(done: () => boolean, ms: number): boolean {
  for (const nap of naps(ms)) {
    if (done()) return true;
    Atomics.wait(pause, 0, 0, nap);
  }
  return done();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** until is waitUntil with the event loop free between tries. */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const nap of naps(ms)) {
    if (done()) return true;
    await sleep(nap);
  }
  return done();
}
