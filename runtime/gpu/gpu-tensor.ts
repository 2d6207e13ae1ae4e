/**
 * GPU-resident tensors and the shared buffers behind them.
 *
 * Vocabulary
 * - SharedBuffer: a pooled GPUBuffer with a reference count; it goes back to the pool when the
 *   last holder releases it. A run's output arena is one: the RunResult holds a reference, and
 *   so does every GpuTensor taken from it.
 * - GpuTensor: a handle to one tensor inside a SharedBuffer (buffer, byte offset, size), usable
 *   as an input of a later run without reading it back. Ownership: whoever took the handle
 *   (`RunResult.take`) owns one reference and must call `release()` when done; a handle that is
 *   garbage-collected without release() gives its reference back then (a safety net, not a
 *   plan: memory comes back late). Holding a handle pins its whole arena.
 */
import type { DType } from '../../compiler/ir.ts';
import { GpuTensorError } from './errors.ts';

export class SharedBuffer {
  private refs = 1;
  constructor(readonly buffer: GPUBuffer, private readonly free: (b: GPUBuffer) => void) {}

  retain(): void {
    if (this.refs <= 0) throw new GpuTensorError(`buffer '${this.buffer.label}' was already returned to the pool`);
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) this.free(this.buffer);
  }

  get references(): number {
    return this.refs;
  }
}

const unreleased = new FinalizationRegistry<SharedBuffer>((storage) => storage.release());

export interface GpuTensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Storage bytes (a multiple of 4). */
  readonly bytes: number;
}

export class GpuTensor implements GpuTensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly offset: number;
  /** The GPUDevice the storage belongs to. */
  readonly device: GPUDevice;
  private storage: SharedBuffer | undefined;

  /** Takes one new reference to `storage`. */
  constructor(storage: SharedBuffer, offset: number, info: GpuTensorInfo, device: GPUDevice) {
    storage.retain();
    this.storage = storage;
    this.offset = offset;
    this.name = info.name;
    this.dtype = info.dtype;
    this.shape = [...info.shape];
    this.bytes = info.bytes;
    this.device = device;
    unreleased.register(this, storage, this);
  }

  get released(): boolean {
    return this.storage === undefined;
  }

  /** The buffer to bind (with `offset` and `bytes`); throws after release(). */
  get buffer(): GPUBuffer {
    if (!this.storage) throw new GpuTensorError(`GpuTensor '${this.name}' was used after release()`);
    return this.storage.buffer;
  }

  /** Gives this handle's reference back; the storage returns to the pool with its last holder. */
  release(): void {
    if (!this.storage) return;
    unreleased.unregister(this);
    const s = this.storage;
    this.storage = undefined;
    s.release();
  }
}
