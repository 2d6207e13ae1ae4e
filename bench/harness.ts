/**
 * What every benchmark figure shares: the device, raw WGSL kernels on real data (the
 * hand-written baselines), deterministic test data, relative errors between two results, and
 * the entries results.json holds.
 *
 * Vocabulary
 * - Entry: one measured figure, `{ name, value, unit, vs, ratio, adapter, command }` (the
 *   format of bench/results.json); `vs` names the baseline measured in the same run and
 *   `ratio` is value / baseline (or baseline / value for times, so that above 1 is always
 *   "Kiln better"), null when there is no baseline. `suite` and `note` are extra fields the
 *   report uses.
 * - Timing: runtime/gpu/kernel-timer.ts's method for every kernel, Kiln's and hand-written:
 *   many dispatches in one pass, best of a few samples.
 */
import type { KilnDevice } from '../runtime/device.ts';
import { timeDispatches, type KernelTiming, type TimeOptions } from '../runtime/gpu/kernel-timer.ts';
import { throttledWait } from '../runtime/gpu/wait.ts';

export interface Entry {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly vs: string | null;
  readonly ratio: number | null;
  readonly adapter: string;
  readonly command: string;
  readonly suite?: string;
  readonly note?: string;
}

/** Collects a suite's entries, stamping adapter, command and suite on each. */
export class Recorder {
  readonly entries: Entry[] = [];
  constructor(readonly suite: string, readonly adapter: string, readonly command: string, private readonly log: (line: string) => void) {}

  add(name: string, value: number, unit: string, vs: string | null = null, ratio: number | null = null, note?: string): Entry {
    const e: Entry = { name, value: round(value), unit, vs, ratio: ratio === null ? null : round(ratio), adapter: this.adapter, command: this.command, suite: this.suite, ...(note ? { note } : {}) };
    this.entries.push(e);
    this.log(`  ${name}: ${fmt(value)} ${unit}${vs ? ` (vs ${vs}: ${ratio === null ? '-' : `${fmt(ratio)}x`})` : ''}${note ? ` — ${note}` : ''}`);
    return e;
  }
}

const round = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(4)) : x);
export const fmt = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : String(x));

export interface RawBuffer {
  /** Initial contents (uploaded), or just a size in bytes (zero-filled). */
  readonly data?: Float32Array;
  readonly bytes?: number;
  readonly readonly?: boolean;
}

/** A hand-written kernel on real buffers: run it, read a buffer back, time it. */
export class RawKernel {
  private readonly buffers: GPUBuffer[];
  private readonly pipeline: GPUComputePipeline;
  private readonly group: GPUBindGroup;

  private constructor(private readonly dev: KilnDevice, readonly label: string, pipeline: GPUComputePipeline, buffers: GPUBuffer[], readonly grid: [number, number, number]) {
    this.pipeline = pipeline;
    this.buffers = buffers;
    this.group = dev.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  static async create(dev: KilnDevice, label: string, wgsl: string, specs: readonly RawBuffer[], grid: [number, number, number]): Promise<RawKernel & { compileMs: number }> {
    const device = dev.device;
    const t0 = performance.now();
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ label, code: wgsl });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) throw new Error(`${label}: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
    const pipeline = await throttledWait(device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint: 'main' } }));
    const err = await device.popErrorScope();
    if (err) throw new Error(`${label}: ${err.message}`);
    const compileMs = performance.now() - t0;
    const buffers = specs.map((s, i) => {
      const size = Math.max(16, Math.ceil((s.data ? s.data.byteLength : s.bytes ?? 4) / 16) * 16);
      const b = device.createBuffer({ label: `${label} ${i}`, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
      if (s.data) device.queue.writeBuffer(b, 0, s.data.buffer, s.data.byteOffset, s.data.byteLength);
      return b;
    });
    return Object.assign(new RawKernel(dev, label, pipeline, buffers, grid), { compileMs });
  }

  async run(): Promise<void> {
    const device = this.dev.device;
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroups(...this.grid);
    pass.end();
    device.queue.submit([enc.finish()]);
    await throttledWait(device.queue.onSubmittedWorkDone());
  }

  async read(index: number, floats: number): Promise<Float32Array> {
    const device = this.dev.device;
    const staging = device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(this.buffers[index], 0, staging, 0, floats * 4);
    device.queue.submit([enc.finish()]);
    await throttledWait(staging.mapAsync(GPUMapMode.READ));
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  time(opts?: TimeOptions): Promise<Omit<KernelTiming, 'compileMs'>> {
    return timeDispatches(this.dev.device, this.pipeline, this.group, this.grid, opts, this.label);
  }

  dispose(): void {
    for (const b of this.buffers) b.destroy();
  }
}

/** Deterministic uniform values in [lo, hi) (mulberry32), as float32. */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** ||a - b|| / ||b||. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

export const gflops = (flops: number, ms: number): number => flops / (ms * 1e6);
export const gbps = (bytes: number, ms: number): number => bytes / (ms * 1e6);

/**
 * The best time of each contender over `rounds` rounds, timed in turn within each round, so a
 * drift in the machine's load (other processes on a shared CPU) hits every contender alike.
 */
export async function bestOfRounds(contenders: readonly (() => Promise<number>)[], rounds = 3): Promise<number[]> {
  const best = contenders.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of contenders.entries()) best[i] = Math.min(best[i], await c());
  }
  return best;
}
