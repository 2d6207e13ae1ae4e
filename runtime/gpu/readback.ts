/**
 * Reading tensors back: copies from their buffers into one pooled MAP_READ staging buffer at
 * the end of the run's command buffer, then one (throttled) mapAsync for all of them.
 */
import type { DType } from '../../compiler/ir.ts';
import type { HostTensor } from '../tensor.ts';
import type { BufferPool } from './buffer-pool.ts';
import { fromStorage } from './storage.ts';
import { throttledWait } from './wait.ts';

export interface ReadbackItem {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly buffer: GPUBuffer;
  readonly offset: number;
}

export class Readback {
  private staging: GPUBuffer | undefined;
  private readonly placed: { item: ReadbackItem; at: number }[] = [];

  constructor(private readonly pool: BufferPool, private readonly items: readonly ReadbackItem[]) {}

  /** Records the copies; call after the last pass, before finish(). */
  encode(encoder: GPUCommandEncoder): void {
    if (this.items.length === 0) return;
    let size = 0;
    for (const item of this.items) {
      this.placed.push({ item, at: size });
      size += item.bytes;
    }
    this.staging = this.pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'kiln readback');
    for (const { item, at } of this.placed) encoder.copyBufferToBuffer(item.buffer, item.offset, this.staging, at, item.bytes);
  }

  /** Waits for the copies and converts them; the staging buffer goes back to the pool. */
  async read(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    const staging = this.staging;
    if (!staging) return out;
    this.staging = undefined;
    try {
      await throttledWait(staging.mapAsync(GPUMapMode.READ));
      const range = staging.getMappedRange();
      for (const { item, at } of this.placed) out.set(item.name, fromStorage(range, at, item.dtype, item.shape));
      staging.unmap();
      this.pool.release(staging);
    } catch (err) {
      this.pool.discard(staging);
      throw err;
    }
    return out;
  }

  /** Gives the staging buffer back when the run fails before read(). */
  abandon(): void {
    if (this.staging) this.pool.discard(this.staging);
    this.staging = undefined;
  }
}
