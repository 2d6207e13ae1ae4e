/** Throttled waiting swaps the global setImmediate only while a wait is pending. */
import { describe, expect, it } from 'vitest';
import { isThrottling, throttledWait } from '../../../runtime/gpu/wait.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('throttledWait', () => {
  it('returns the value and restores setImmediate afterwards, also after a rejection', async () => {
    const original = globalThis.setImmediate;
    expect(await throttledWait(Promise.resolve(42))).toBe(42);
    expect(globalThis.setImmediate).toBe(original);
    await expect(throttledWait(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(globalThis.setImmediate).toBe(original);
    expect(isThrottling()).toBe(false);
  });

  it('keeps the swap until the last of overlapping waits ends, and still runs callbacks with their arguments', async () => {
    const original = globalThis.setImmediate;
    const long = throttledWait(sleep(30));
    const short = throttledWait(sleep(5));
    expect(globalThis.setImmediate).not.toBe(original);
    await short;
    expect(isThrottling()).toBe(true);
    const got = await new Promise<number[]>((resolve) => globalThis.setImmediate((a: number, b: number) => resolve([a, b]), 1, 2));
    expect(got).toEqual([1, 2]);
    await long;
    expect(globalThis.setImmediate).toBe(original);
  });
});
