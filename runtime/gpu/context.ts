/**
 * GpuContext: what the executor needs from a device — the GPUDevice, its Target, the shared
 * buffer pool, pipeline cache and weight store, and a liveness check. KilnDevice
 * (runtime/device.ts) is the implementation; tests may build their own.
 */
import type { Target } from '../../compiler/target.ts';
import type { BufferPool } from './buffer-pool.ts';
import type { PipelineCache } from './pipeline-cache.ts';
import type { WeightStore } from './weight-store.ts';

export interface GpuContext {
  readonly device: GPUDevice;
  readonly target: Target;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly weights: WeightStore;
  /** Throws DeviceLostError if the device was lost or released. */
  assertAlive(): void;
  /** True once the device was lost or released. */
  readonly lost: boolean;
}
