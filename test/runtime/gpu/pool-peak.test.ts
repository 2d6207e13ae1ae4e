/**
 * The buffer pool's high-water marks (the benchmarks' measured peak memory): bytes handed out
 * at once and bytes allocated at once, restarted by resetPeak(). A fake device records buffers.
 */
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../runtime/gpu/buffer-pool.ts';

const device = { createBuffer: (d: GPUBufferDescriptor) => ({ size: d.size, label: d.label ?? '', destroy() {} }) } as unknown as GPUDevice;

describe('BufferPool peaks', () => {
  it('track the most bytes in use and allocated, and restart from what is held', () => {
    const pool = new BufferPool(device, 2 ** 32);
    const a = pool.acquire(1024, 1);
    const b = pool.acquire(4096, 1);
    expect(pool.peak).toEqual({ inUseBytes: 5120, allocatedBytes: 5120 });
    pool.release(b);
    const c = pool.acquire(1024, 1); // a new buffer: the free one has another size
    expect(pool.peak).toEqual({ inUseBytes: 5120, allocatedBytes: 6144 });
    pool.resetPeak();
    expect(pool.peak).toEqual({ inUseBytes: 2048, allocatedBytes: 6144 });
    pool.trim();
    pool.resetPeak();
    expect(pool.peak).toEqual({ inUseBytes: 2048, allocatedBytes: 2048 });
    pool.release(a);
    pool.release(c);
    expect(pool.peak.inUseBytes).toBe(2048);
  });
});
