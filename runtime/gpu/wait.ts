/**
 * Waiting for the GPU without starving it. While any GPU promise is pending, dawn.node polls
 * its event queue by re-arming the global `setImmediate` in a tight loop; on a CPU-only machine
 * that spin takes a core away from lavapipe's workers (kernels ran 1.3–1.9x slower measured).
 * dawn.node looks `setImmediate` up on each poll, so for the duration of a long wait it is
 * swapped for a ~1 ms timer. Short waits keep the fast poll: the swap only starts after
 * `SPIN_MS`, because each timer tick costs about a millisecond of latency.
 */
import { promisify } from 'node:util';

const SPIN_MS = 2;
const POLL_MS = 1;

let waiting = 0;
let waitingSince = 0;
let saved: typeof globalThis.setImmediate | undefined;
const original = globalThis.setImmediate;

function throttledSetImmediate<A extends unknown[]>(fn: (...args: A) => void, ...args: A): NodeJS.Immediate {
  // Someone may have kept a reference to this function past the wait: fall back gracefully.
  const real = saved ?? original;
  if (waiting === 0 || performance.now() - waitingSince < SPIN_MS) return real(fn, ...args);
  // A Timeout, not an Immediate: dawn.node never clears its poll, so the handle type is moot.
  return setTimeout(fn, POLL_MS, ...args) as unknown as NodeJS.Immediate;
}
(throttledSetImmediate as unknown as Record<symbol, unknown>)[promisify.custom] =
  (globalThis.setImmediate as unknown as Record<symbol, unknown>)[promisify.custom];

/** Awaits `p` with dawn.node's polling slowed to a ~1 ms timer after the first few ms. */
export async function throttledWait<T>(p: Promise<T>): Promise<T> {
  if (waiting++ === 0) {
    waitingSince = performance.now();
    saved = globalThis.setImmediate;
    globalThis.setImmediate = throttledSetImmediate as unknown as typeof globalThis.setImmediate;
  }
  try {
    return await p;
  } finally {
    if (--waiting === 0) {
      globalThis.setImmediate = saved!;
      saved = undefined;
    }
  }
}

/** True while some throttled wait is in progress (for tests). */
export const isThrottling = (): boolean => waiting > 0;
