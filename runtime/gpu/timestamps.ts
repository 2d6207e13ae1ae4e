/**
 * GPU timestamps for profiling: one compute pass per kernel, the GPU writing a timestamp at
 * the beginning and end of each; resolved into a buffer and read back with the run.
 */
import type { BufferPool } from './buffer-pool.ts';
import { throttledWait } from './wait.ts';

/** WebGPU caps a query set at 4096 queries: two per pass. */
const PASSES_PER_SET = 2048;
/** resolveQuerySet needs destination offsets that are multiples of 256. */
const RESOLVE_ALIGN = 256;

export class TimestampRecorder {
  private readonly sets: GPUQuerySet[] = [];
  private resolve: GPUBuffer | undefined;
  private staging: GPUBuffer | undefined;

  constructor(private readonly device: GPUDevice, private readonly pool: BufferPool, private readonly passes: number) {
    for (let i = 0; i < passes; i += PASSES_PER_SET) {
      const count = 2 * Math.min(PASSES_PER_SET, passes - i);
      this.sets.push(device.createQuerySet({ type: 'timestamp', count, label: 'kiln profile' }));
    }
  }

  /** `timestampWrites` for pass `i`. */
  writes(i: number): GPUComputePassTimestampWrites {
    const set = this.sets[Math.floor(i / PASSES_PER_SET)];
    const j = i % PASSES_PER_SET;
    return { querySet: set, beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 };
  }

  private setOffset(s: number): number {
    return s * Math.ceil((2 * PASSES_PER_SET * 8) / RESOLVE_ALIGN) * RESOLVE_ALIGN;
  }

  /** Resolves the queries and copies them to a staging buffer; call after the last pass. */
  encode(encoder: GPUCommandEncoder): void {
    if (this.passes === 0) return;
    const last = this.sets.length - 1;
    const size = this.setOffset(last) + this.sets[last].count * 8;
    this.resolve = this.pool.acquire(size, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'kiln timestamps');
    this.staging = this.pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'kiln timestamps readback');
    this.sets.forEach((set, s) => encoder.resolveQuerySet(set, 0, set.count, this.resolve!, this.setOffset(s)));
    encoder.copyBufferToBuffer(this.resolve, 0, this.staging, 0, size);
  }

  /** Milliseconds of each pass, from the GPU's clock. */
  async read(): Promise<number[]> {
    const staging = this.staging;
    if (!staging) return [];
    this.staging = undefined;
    const ms: number[] = [];
    try {
      await throttledWait(staging.mapAsync(GPUMapMode.READ));
      const all = new BigUint64Array(staging.getMappedRange());
      for (let i = 0; i < this.passes; i++) {
        const base = this.setOffset(Math.floor(i / PASSES_PER_SET)) / 8 + 2 * (i % PASSES_PER_SET);
        const begin = all[base];
        const end = all[base + 1];
        // Timestamps may be zero or run backwards on some drivers: report 0, never negative.
        ms.push(end > begin ? Number(end - begin) / 1e6 : 0);
      }
      staging.unmap();
      this.pool.release(staging);
    } catch (err) {
      this.pool.discard(staging);
      throw err;
    } finally {
      this.dispose();
    }
    return ms;
  }

  /** Frees the query sets and buffers (idempotent). */
  dispose(): void {
    if (this.resolve) this.pool.release(this.resolve);
    this.resolve = undefined;
    if (this.staging) this.pool.discard(this.staging);
    this.staging = undefined;
    for (const s of this.sets) s.destroy();
    this.sets.length = 0;
  }
}
