/**
 * Timing one kernel on its own, for the autotuner and the benchmarks: the kernel runs on
 * scratch buffers (one per binding, sized from the program's tensors and zero-filled, so no
 * denormals or NaNs skew a CPU adapter) many times in one compute pass, and the wall time of
 * the whole submission, divided by the number of dispatches, is one sample.
 *
 * Vocabulary
 * - Calibration: one dispatch, submitted and awaited, fixes how many dispatches a sample needs
 *   to last at least `minMs` (so the submit-and-wake latency, ~1 ms, is a small share).
 * - Result: the best (smallest) sample per dispatch, and the median; kernels on lavapipe
 *   compete with the OS for 2 cores, so the best of a few is the stable figure.
 * The pipeline is compiled (and cached) before anything is timed; compile time is reported
 * apart.
 */
import type { Kernel, TensorInfo } from '../../compiler/kernel.ts';
import type { GpuContext } from './context.ts';
import { popScopes, pushScopes } from './error-scopes.ts';
import { throttledWait } from './wait.ts';

export interface KernelTiming {
  /** Best sample, milliseconds per dispatch. */
  readonly ms: number;
  readonly medianMs: number;
  readonly samples: readonly number[];
  /** Dispatches per sample. */
  readonly dispatches: number;
  /** Pipeline compile time (0 when it was cached). */
  readonly compileMs: number;
}

export interface TimeOptions {
  /** Shortest sample, milliseconds (default 50). */
  readonly minMs?: number;
  /** Samples after calibration (default 2). */
  readonly samples?: number;
  /** Most dispatches per sample (default 500). */
  readonly maxDispatches?: number;
}

const usage = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export async function timeKernel(ctx: GpuContext, kernel: Kernel, tensors: readonly TensorInfo[], opts: TimeOptions = {}): Promise<KernelTiming> {
  ctx.assertAlive();
  const device = ctx.device;
  const t0 = performance.now();
  const before = ctx.pipelines.stats.misses;
  const pipeline = await throttledWait(ctx.pipelines.get(kernel));
  const compileMs = ctx.pipelines.stats.misses > before ? performance.now() - t0 : 0;
  const buffers = kernel.bindings.map((b) => ctx.pool.acquire(Math.max(4, tensors[b.tensor].bytes), usage(), `timing ${tensors[b.tensor].name}`));
  try {
    pushScopes(device);
    let group: GPUBindGroup | undefined;
    try {
      group = device.createBindGroup({
        label: kernel.name,
        layout: pipeline.layout,
        entries: kernel.bindings.map((b, i) => ({ binding: i, resource: { buffer: buffers[i], offset: 0, size: tensors[b.tensor].bytes } })),
      });
      const clear = device.createCommandEncoder({ label: 'timing clear' });
      buffers.forEach((buf) => clear.clearBuffer(buf));
      device.queue.submit([clear.finish()]);
    } finally {
      const errors = await popScopes(device);
      if (errors.length > 0) throw new Error(`timing ${kernel.name}: ${errors.map((e) => `[${e.filter}] ${e.message}`).join('; ')}`);
    }
    return { ...(await timeDispatches(device, pipeline.pipeline, group, kernel.workgroups, opts, kernel.name)), compileMs };
  } finally {
    for (const b of buffers) ctx.pool.release(b);
  }
}

/**
 * Times `pipeline` with `group` bound, dispatched `workgroups` at a time (see the file header:
 * calibration, then samples of many dispatches in one pass). Errors the dispatches raise are
 * thrown.
 */
export async function timeDispatches(
  device: GPUDevice, pipeline: GPUComputePipeline, group: GPUBindGroup, workgroups: readonly [number, number, number], opts: TimeOptions = {}, label = 'kernel',
): Promise<Omit<KernelTiming, 'compileMs'>> {
  const run = async (count: number): Promise<number> => {
    const enc = device.createCommandEncoder({ label });
    const pass = enc.beginComputePass({ label });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    const [x, y, z] = workgroups;
    for (let i = 0; i < count; i++) pass.dispatchWorkgroups(x, y, z);
    pass.end();
    const cmd = enc.finish();
    await throttledWait(device.queue.onSubmittedWorkDone());
    const start = performance.now();
    device.queue.submit([cmd]);
    await throttledWait(device.queue.onSubmittedWorkDone());
    return (performance.now() - start) / count;
  };
  pushScopes(device);
  let first: number;
  try {
    first = await run(1);
  } finally {
    const errors = await popScopes(device);
    if (errors.length > 0) throw new Error(`timing ${label}: ${errors.map((e) => `[${e.filter}] ${e.message}`).join('; ')}`);
  }
  const minMs = opts.minMs ?? 50;
  const dispatches = Math.max(1, Math.min(opts.maxDispatches ?? 500, Math.ceil(minMs / Math.max(first, 1e-3))));
  const samples: number[] = [];
  for (let i = 0; i < (opts.samples ?? 2); i++) samples.push(await run(dispatches));
  // A single dispatch that already lasts a sample is a sample too.
  if (dispatches === 1) samples.push(first);
  const sorted = [...samples].sort((a, b) => a - b);
  return { ms: sorted[0], medianMs: sorted[Math.floor(sorted.length / 2)], samples, dispatches };
}
