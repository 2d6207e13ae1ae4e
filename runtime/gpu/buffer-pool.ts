/**
 * A device-wide pool of GPUBuffers, so that running many programs (tiles, denoising steps)
 * reuses the same buffers instead of allocating and freeing every call.
 *
 * Vocabulary
 * - Size class: sizes are rounded up to one of four steps per power of two (at most 25% waste),
 *   so nearby sizes share buffers; a buffer is reused only for the same usage flags.
 * - Acquire / release: a released buffer goes on its class's free list; it is not destroyed.
 *   Work already submitted that uses it stays correct, since everything goes through one queue
 *   in order. `trim()` destroys the free buffers.
 */

export interface PoolStats {
  /** Acquires served from a free list. */
  readonly hits: number;
  /** Acquires that created a new buffer. */
  readonly misses: number;
  /** Buffers handed out and not yet released. */
  readonly inUse: number;
  readonly inUseBytes: number;
  /** Buffers waiting on free lists. */
  readonly free: number;
  readonly freeBytes: number;
}

/** High-water marks since the pool was made or `resetPeak()` (a run's measured peak memory). */
export interface PoolPeak {
  /** Most bytes handed out at once. */
  readonly inUseBytes: number;
  /** Most bytes allocated at once: handed out plus waiting on free lists. */
  readonly allocatedBytes: number;
}

const MIN_CLASS = 256;

/** The size a request of `size` bytes is served with; never below `size`, never above `maxBufferSize` unless `size` is. */
export function sizeClass(size: number, maxBufferSize = Number.MAX_SAFE_INTEGER): number {
  if (size <= MIN_CLASS) return MIN_CLASS;
  const step = 2 ** (Math.floor(Math.log2(size)) - 2);
  const cls = Math.ceil(size / step) * step;
  const cap = Math.floor(maxBufferSize / 4) * 4;
  return cls > cap && size <= cap ? cap : cls;
}

interface Entry { readonly key: string; readonly size: number }

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly entries = new WeakMap<GPUBuffer, Entry>();
  private readonly onFreeList = new WeakSet<GPUBuffer>();
  private hits = 0;
  private misses = 0;
  private inUse = 0;
  private inUseBytes = 0;
  private freeCount = 0;
  private freeBytes = 0;
  private peakInUse = 0;
  private peakAllocated = 0;

  constructor(private readonly device: GPUDevice, private readonly maxBufferSize: number) {}

  /** A buffer of at least `size` bytes with exactly `usage`. */
  acquire(size: number, usage: GPUBufferUsageFlags, label = 'kiln pooled buffer'): GPUBuffer {
    const cls = sizeClass(Math.max(size, 4), this.maxBufferSize);
    const key = `${usage}:${cls}`;
    const list = this.free.get(key);
    let buffer = list?.pop();
    if (buffer) {
      this.hits++;
      this.onFreeList.delete(buffer);
      this.freeCount--;
      this.freeBytes -= cls;
      buffer.label = label;
    } else {
      this.misses++;
      buffer = this.device.createBuffer({ size: cls, usage, label });
      this.entries.set(buffer, { key, size: cls });
    }
    this.inUse++;
    this.inUseBytes += cls;
    this.peakInUse = Math.max(this.peakInUse, this.inUseBytes);
    this.peakAllocated = Math.max(this.peakAllocated, this.inUseBytes + this.freeBytes);
    return buffer;
  }

  /** Restarts the high-water marks from what is held now (measured peaks of one run). */
  resetPeak(): void {
    this.peakInUse = this.inUseBytes;
    this.peakAllocated = this.inUseBytes + this.freeBytes;
  }

  /** Puts a buffer from `acquire` back for reuse. */
  release(buffer: GPUBuffer): void {
    const entry = this.take(buffer);
    let list = this.free.get(entry.key);
    if (!list) this.free.set(entry.key, (list = []));
    list.push(buffer);
    this.onFreeList.add(buffer);
    this.freeCount++;
    this.freeBytes += entry.size;
  }

  /** Destroys a buffer from `acquire` instead of keeping it (e.g. its creation failed). */
  discard(buffer: GPUBuffer): void {
    this.take(buffer);
    this.entries.delete(buffer);
    buffer.destroy();
  }

  /** Destroys every free buffer (buffers in use are untouched). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) { this.entries.delete(b); b.destroy(); }
    this.free.clear();
    this.freeCount = 0;
    this.freeBytes = 0;
  }

  get stats(): PoolStats {
    return { hits: this.hits, misses: this.misses, inUse: this.inUse, inUseBytes: this.inUseBytes, free: this.freeCount, freeBytes: this.freeBytes };
  }

  get peak(): PoolPeak {
    return { inUseBytes: this.peakInUse, allocatedBytes: this.peakAllocated };
  }

  private take(buffer: GPUBuffer): Entry {
    const entry = this.entries.get(buffer);
    if (!entry) throw new Error(`BufferPool: buffer '${buffer.label}' was not acquired from this pool`);
    if (this.onFreeList.has(buffer)) throw new Error(`BufferPool: buffer '${buffer.label}' was released twice`);
    this.inUse--;
    this.inUseBytes -= entry.size;
    return entry;
  }
}
