/**
 * The buffer pool's size classes (properties) and its bookkeeping, with a fake device that
 * only records the buffers it creates.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferPool, sizeClass } from '../../../runtime/gpu/buffer-pool.ts';

class FakeBuffer {
  destroyed = false;
  constructor(readonly size: number, readonly usage: number, public label: string) {}
  destroy(): void { this.destroyed = true; }
}

function fakeDevice(): { device: GPUDevice; created: FakeBuffer[] } {
  const created: FakeBuffer[] = [];
  const device = {
    createBuffer: (d: GPUBufferDescriptor) => {
      const b = new FakeBuffer(d.size, d.usage, d.label ?? '');
      created.push(b);
      return b as unknown as GPUBuffer;
    },
  } as unknown as GPUDevice;
  return { device, created };
}

describe('sizeClass', () => {
  it('never serves less than asked, wastes at most 25% above 256 bytes, and is monotone', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 40 }), (a, b) => {
      const ca = sizeClass(a);
      expect(ca).toBeGreaterThanOrEqual(a);
      if (a > 256) expect(ca).toBeLessThanOrEqual(a * 1.25);
      else expect(ca).toBe(256);
      if (a <= b) expect(ca).toBeLessThanOrEqual(sizeClass(b));
    }));
  });

  it('has four classes per power of two', () => {
    expect([1000, 1024, 1025, 1280, 1281, 1536, 1792, 2048, 2049].map((s) => sizeClass(s))).toEqual([1024, 1024, 1280, 1280, 1536, 1536, 1792, 2048, 2560]);
  });

  it('caps classes at the device maximum buffer size (rounded down to 4 bytes)', () => {
    const max = 4294967295;
    expect(sizeClass(4_000_000_000, max)).toBe(4294967292);
    expect(sizeClass(4294967292, max)).toBe(4294967292);
    expect(sizeClass(100, max)).toBe(256);
  });
});

describe('BufferPool', () => {
  it('reuses a released buffer of the same class and usage, and counts hits and misses', () => {
    const { device, created } = fakeDevice();
    const pool = new BufferPool(device, 2 ** 32);
    const a = pool.acquire(1000, 1, 'a');
    pool.release(a);
    const b = pool.acquire(900, 1, 'b'); // same class (1024)
    expect(b).toBe(a);
    expect(b.label).toBe('b');
    const c = pool.acquire(1000, 2); // other usage: a new buffer
    expect(c).not.toBe(a);
    expect(created.map((x) => x.size)).toEqual([1024, 1024]);
    expect(pool.stats).toEqual({ hits: 1, misses: 2, inUse: 2, inUseBytes: 2048, free: 0, freeBytes: 0 });
  });

  it('refuses double releases and foreign buffers', () => {
    const { device } = fakeDevice();
    const pool = new BufferPool(device, 2 ** 32);
    const a = pool.acquire(16, 1);
    pool.release(a);
    expect(() => pool.release(a)).toThrow(/released twice/);
    expect(() => pool.release({ label: 'x' } as GPUBuffer)).toThrow(/not acquired from this pool/);
  });

  it('trim destroys free buffers only; discard destroys one in use', () => {
    const { device, created } = fakeDevice();
    const pool = new BufferPool(device, 2 ** 32);
    const a = pool.acquire(300, 1);
    const b = pool.acquire(5000, 1);
    const c = pool.acquire(5000, 1);
    pool.release(a);
    pool.release(b);
    pool.trim();
    expect(created.map((x) => x.destroyed)).toEqual([true, true, false]);
    pool.discard(c);
    expect(created[2].destroyed).toBe(true);
    expect(pool.stats).toMatchObject({ inUse: 0, free: 0, freeBytes: 0, inUseBytes: 0 });
    const d = pool.acquire(300, 1);
    expect(d).not.toBe(a); // a was destroyed by trim, never handed out again
  });
});
