/**
 * The executor runs CompiledPrograms on one device.
 *
 * A run: check the program against the device (once per program object) -> report the plan
 * -> check and convert inputs -> get pipelines (cached by WGSL) and weights (uploaded once per
 * key) -> take arenas and input buffers from the pool -> encode every dispatch into one command
 * buffer (one compute pass; one pass per kernel when profiling with timestamps) plus the copies
 * for readback -> submit once -> read back only what was asked for.
 *
 * Runs on one executor are serialised: WebGPU error scopes are per device, so two overlapping
 * runs would catch each other's errors. Every device call of a run happens inside error scopes
 * (validation, out-of-memory, internal); what they catch becomes a KernelError naming the
 * kernel and its source ops.
 *
 * Weight sources may run programs: a run loads its weights before it touches the device, and a
 * program run while it waits for them (a LoRA merged on the GPU as the transformer's weights are
 * read, models/hunyuan_dit/lora.ts) goes ahead of it instead of queueing behind the run that
 * waits for its result. Those runs are serialised among themselves.
 *
 * Ownership: input buffers and intermediate-only arenas go back to the pool when the run ends
 * (later queue work is ordered after this run, so reuse is safe without waiting). Arenas that
 * hold outputs belong to the RunResult until its release(); GpuTensors taken from it keep their
 * arena until they are released. GpuTensors passed as inputs stay the caller's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CompiledProgram, MemoryPlan, TensorInfo } from '../compiler/kernel.ts';
import { elementCount, type HostTensor } from './tensor.ts';
import type { GpuContext } from './gpu/context.ts';
import { popScopes, pushScopes, type CaughtError } from './gpu/error-scopes.ts';
import { DeviceLostError, InputMismatchError, KernelError, ResourceLimitError, formatBytes } from './gpu/errors.ts';
import { GpuTensor, SharedBuffer } from './gpu/gpu-tensor.ts';
import { kernelError, programError } from './gpu/kernel-errors.ts';
import type { CompiledPipeline } from './gpu/pipeline-cache.ts';
import type { ProfileEntry, ProfileMethod } from './gpu/profile.ts';
import { checkProgram, type CheckedProgram, type PreparedKernel } from './gpu/program-check.ts';
import { Readback } from './gpu/readback.ts';
import { ProgramRunResult, type OutputLocation, type RunResult } from './gpu/run-result.ts';
import { prepareInputs, readbackTargets, type PreparedInput, type RunInput } from './gpu/run-inputs.ts';
import { fromStorage, gpuBytes, gpuElementBytes, toStorage } from './gpu/storage.ts';
import { TimestampRecorder } from './gpu/timestamps.ts';
import { throttledWait } from './gpu/wait.ts';
import type { DType } from '../compiler/ir.ts';

export type { RunResult } from './gpu/run-result.ts';
export type { RunInput } from './gpu/run-inputs.ts';
export { GpuTensor } from './gpu/gpu-tensor.ts';

/** A part of a stacked upload: a host tensor, or part `part` (along its first axis; all of it when absent) of a GPU tensor of this device. */
export type StackPart = HostTensor | { readonly from: GpuTensor; readonly part?: number };

const isHostPart = (p: StackPart): p is HostTensor => !('from' in p);
const stackPartShape = (p: StackPart): readonly number[] => (isHostPart(p) ? p.shape : p.part === undefined ? p.from.shape : p.from.shape.slice(1));
export { formatProfile, type ProfileEntry, type ProfileMethod } from './gpu/profile.ts';

export interface RunOptions {
  /** Outputs to read back as HostTensors; default none (use `take` to keep them on the GPU). */
  readback?: readonly string[] | 'all';
  /**
   * Per-kernel times: `true` uses GPU timestamps when the device has `timestamp-query`, else
   * wall-clock time per kernel; `'wall'` forces the wall-clock method.
   */
  profile?: boolean | ProfileMethod;
  /** Called with the memory plan (peak bytes) after the program is checked, before any GPU work. */
  onPlan?: (plan: MemoryPlan) => void;
  /** Wait until the GPU has finished even when nothing is read back (default true). */
  wait?: boolean;
}

// GPUBufferUsage is a global that exists only once Dawn is loaded, so it is read lazily.
// Arenas and inputs share one usage so the pool can hand the same buffers to either.
const storageUsage = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

interface Binding { readonly buffer: GPUBuffer; readonly offset: number; readonly size: number }

/** Buffers a run took from the pool, so every exit path gives them back exactly once. */
class RunBuffers {
  readonly arenas: SharedBuffer[] = [];
  readonly inputs: GPUBuffer[] = [];
  constructor(private readonly ctx: GpuContext) {}

  releaseInputs(): void {
    for (const b of this.inputs.splice(0)) this.ctx.pool.release(b);
  }

  releaseAll(discard = false): void {
    for (const b of this.inputs.splice(0)) (discard ? this.ctx.pool.discard(b) : this.ctx.pool.release(b));
    for (const a of this.arenas.splice(0)) {
      if (discard && a.references === 1) this.ctx.pool.discard(a.buffer);
      else a.release();
    }
  }
}

export class Executor {
  private readonly checked = new WeakMap<CompiledProgram, CheckedProgram>();
  private readonly compiled = new WeakMap<CheckedProgram, Promise<CompiledPipeline[]>>();
  private readonly lastGroups = new WeakMap<CheckedProgram, { bound: Binding[]; groups: GPUBindGroup[] }>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Set in the async context of a run waiting for its weights (see the file comment). */
  private readonly loadingWeights = new AsyncLocalStorage<true>();
  private weightSourceRuns: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: GpuContext) {}

  /** Checks a program against this device (cached per program object); throws on any problem. */
  check(program: CompiledProgram): CheckedProgram {
    let c = this.checked.get(program);
    if (!c) {
      c = checkProgram(program, this.ctx.target);
      this.checked.set(program, c);
    }
    return c;
  }

  /** Compiles every kernel's pipeline ahead of the first run (compiles overlap). */
  async compile(program: CompiledProgram): Promise<void> {
    this.ctx.assertAlive();
    await this.pipelines(this.check(program));
  }

  /** Runs `program` once; see RunOptions and RunResult for what comes back and who owns it. */
  run(program: CompiledProgram, inputs: Readonly<Record<string, RunInput>>, opts: RunOptions = {}): Promise<RunResult> {
    const fromWeightSource = this.loadingWeights.getStore() === true;
    const queue = fromWeightSource ? this.weightSourceRuns : this.queue;
    const next = queue.then(() => this.runNow(program, inputs, opts));
    if (fromWeightSource) this.weightSourceRuns = next.catch(() => undefined);
    else this.queue = next.catch(() => undefined);
    return next.catch((err: unknown) => { throw this.explain(err); });
  }

  /** Uploads a HostTensor as a GPU tensor of `dtype` (owned by the caller: release() it). */
  upload(host: HostTensor, dtype: DType, name = 'uploaded'): GpuTensor {
    this.ctx.assertAlive();
    const data = toStorage(host, dtype, gpuBytes(dtype, elementCount(host.shape)));
    if (typeof data === 'string') throw new InputMismatchError(`Cannot upload '${name}' (${host.dtype}[${host.shape.join(', ')}]) as ${dtype}: ${data}.`);
    const buffer = this.ctx.pool.acquire(data.byteLength, storageUsage(), name);
    this.ctx.device.queue.writeBuffer(buffer, 0, data);
    const storage = new SharedBuffer(buffer, (b) => this.ctx.pool.release(b));
    const tensor = new GpuTensor(storage, 0, { name, dtype, shape: host.shape, bytes: data.byteLength }, this.ctx.device);
    storage.release(); // the tensor's reference is now the only one
    return tensor;
  }

  /**
   * Uploads equal parts as one GPU tensor stacked along a new first axis. Host parts are copied
   * once, straight into a mapped staging buffer, and the GPU copies them into place: no host copy
   * joins them first, and they may be views of shared memory (which Dawn's writeBuffer does not
   * take: it crashes on a SharedArrayBuffer). A part already on this device (`{ from, part }`:
   * part `part` of `from` along its first axis, or all of it) is copied on the GPU.
   */
  async uploadStacked(parts: readonly StackPart[], dtype: DType, name = 'uploaded'): Promise<GpuTensor> {
    this.ctx.assertAlive();
    if (parts.length === 0) throw new InputMismatchError(`Cannot upload '${name}': no parts to stack.`);
    const partShape = stackPartShape(parts[0]);
    const shape = [parts.length, ...partShape];
    // Parts lie back to back (an f16 part of odd length leaves the next at a 2-byte offset: the
    // staging copy does not mind, GPU copies do); the whole is padded to 4 bytes as GPU tensors are.
    const partBytes = elementCount(partShape) * gpuElementBytes(dtype);
    const bytes = gpuBytes(dtype, elementCount(shape));
    const onDevice = parts.some((p) => !isHostPart(p));
    if (onDevice && partBytes % 4 !== 0) throw new InputMismatchError(`Cannot stack '${name}' on the GPU: its parts of ${partBytes} bytes are not 4-byte aligned.`);
    const data = parts.map((part, i) => {
      const ps = stackPartShape(part);
      if (ps.length !== partShape.length || ps.some((d, j) => d !== partShape[j])) {
        throw new InputMismatchError(`Cannot stack '${name}': part ${i} is [${ps.join(', ')}], part 0 [${partShape.join(', ')}].`);
      }
      if (!isHostPart(part)) {
        if (part.from.dtype !== dtype || part.from.device !== this.ctx.device) throw new InputMismatchError(`Cannot stack part ${i} of '${name}': a GPU tensor of another dtype or device.`);
        return undefined;
      }
      const d = toStorage(part, dtype, partBytes);
      if (typeof d === 'string') throw new InputMismatchError(`Cannot upload part ${i} of '${name}' as ${dtype}: ${d}.`);
      return d;
    });
    const staging = this.ctx.pool.acquire(bytes, GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, `stage ${name}`);
    let buffer: GPUBuffer | undefined;
    try {
      await throttledWait(staging.mapAsync(GPUMapMode.WRITE));
      const range = new Uint8Array(staging.getMappedRange());
      data.forEach((d, i) => { if (d) range.set(d.subarray(0, partBytes), i * partBytes); });
      staging.unmap();
      buffer = this.ctx.pool.acquire(bytes, storageUsage(), name);
      const enc = this.ctx.device.createCommandEncoder({ label: `upload ${name}` });
      if (!onDevice) enc.copyBufferToBuffer(staging, 0, buffer, 0, bytes);
      parts.forEach((part, i) => {
        if (isHostPart(part)) {
          if (onDevice) enc.copyBufferToBuffer(staging, i * partBytes, buffer!, i * partBytes, partBytes);
        } else {
          enc.copyBufferToBuffer(part.from.buffer, part.from.offset + (part.part ?? 0) * partBytes, buffer!, i * partBytes, partBytes);
        }
      });
      this.ctx.device.queue.submit([enc.finish()]);
      // Reused only once mapped again, which waits for these copies.
      this.ctx.pool.release(staging);
    } catch (err) {
      this.ctx.pool.discard(staging);
      if (buffer) this.ctx.pool.release(buffer);
      throw this.explain(err);
    }
    const storage = new SharedBuffer(buffer, (b) => this.ctx.pool.release(b));
    const tensor = new GpuTensor(storage, 0, { name, dtype, shape, bytes }, this.ctx.device);
    storage.release(); // the tensor's reference is now the only one
    return tensor;
  }

  /**
   * Reads a GpuTensor back into `into` (the tensor's storage bytes: a Float32Array for f32),
   * copied straight from the staging buffer: for destinations in shared memory, with no array of
   * its own in between. `skipPart` leaves part `skipPart` along the first axis unread (what only
   * this device would read: it takes that part on the GPU).
   */
  async readInto(tensor: GpuTensor, into: ArrayBufferView, skipPart?: number): Promise<void> {
    const bytes = elementCount(tensor.shape) * gpuElementBytes(tensor.dtype);
    if (into.byteLength !== bytes) throw new InputMismatchError(`Cannot read '${tensor.name}' (${bytes} bytes) into ${into.byteLength} bytes.`);
    const partBytes = bytes / (tensor.shape[0] ?? 1);
    // Byte ranges to read: all, or all but the skipped part (GPU copies need 4-byte alignment).
    const ranges = skipPart === undefined || partBytes % 4 !== 0
      ? [[0, bytes]]
      : [[0, skipPart * partBytes], [(skipPart + 1) * partBytes, bytes]].filter(([a, b]) => b > a);
    await this.readMapped(tensor, ranges, (range) => {
      for (const [a, b] of ranges) new Uint8Array(into.buffer, into.byteOffset + a, b - a).set(new Uint8Array(range, a, b - a));
    });
  }

  /** Reads a GpuTensor back to the host. */
  read(tensor: GpuTensor): Promise<HostTensor> {
    return this.readMapped(tensor, [[0, tensor.bytes]], (range) => fromStorage(range, 0, tensor.dtype, tensor.shape));
  }

  /**
   * Copies byte ranges of a GpuTensor to the same offsets of a staging buffer and hands its mapped
   * range to `use` (valid only during the call).
   */
  private async readMapped<T>(tensor: GpuTensor, ranges: readonly (readonly number[])[], use: (range: ArrayBuffer) => T): Promise<T> {
    this.ctx.assertAlive();
    const staging = this.ctx.pool.acquire(tensor.bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `read ${tensor.name}`);
    try {
      const enc = this.ctx.device.createCommandEncoder({ label: `read ${tensor.name}` });
      // Copy sizes are whole 4-byte words (a tensor's storage is padded to them).
      for (const [a, b] of ranges) enc.copyBufferToBuffer(tensor.buffer, tensor.offset + a, staging, a, Math.min(tensor.bytes, Math.ceil(b / 4) * 4) - a);
      this.ctx.device.queue.submit([enc.finish()]);
      await throttledWait(staging.mapAsync(GPUMapMode.READ));
      const out = use(staging.getMappedRange());
      staging.unmap();
      this.ctx.pool.release(staging);
      return out;
    } catch (err) {
      this.ctx.pool.discard(staging);
      throw this.explain(err);
    }
  }

  /** A failure after the device was lost is reported as the loss, not as its symptom. */
  private explain(err: unknown): unknown {
    if (err instanceof DeviceLostError || !this.ctx.lost) return err;
    try {
      this.ctx.assertAlive();
    } catch (lost) {
      return lost;
    }
    return err;
  }

  /** The program's pipelines; memoised per program so later runs skip hashing every WGSL source. */
  private pipelines(checked: CheckedProgram): Promise<CompiledPipeline[]> {
    let p = this.compiled.get(checked);
    if (!p) {
      p = throttledWait(Promise.all(checked.kernels.map((k) =>
        this.ctx.pipelines.get({ name: k.kernel.name, wgsl: k.wgsl, sourceOps: k.kernel.sourceOps, bindings: k.bindings }))));
      this.compiled.set(checked, p);
      p.catch(() => this.compiled.delete(checked));
    }
    return p;
  }

  private async runNow(program: CompiledProgram, inputs: Readonly<Record<string, RunInput>>, opts: RunOptions): Promise<RunResult> {
    const ctx = this.ctx;
    ctx.assertAlive();
    const checked = this.check(program);
    opts.onPlan?.(program.plan);
    const prepared = prepareInputs(checked, inputs, ctx.device);
    const toRead = readbackTargets(checked, opts.readback);
    const method = profileMethod(opts.profile, ctx.target.features.timestampQuery);

    const pipelines = await this.pipelines(checked);
    const weightInfos = program.weights.map((id) => checked.tensors.get(id)!);
    const weightBuffers = await this.loadingWeights.run(true, () => ctx.weights.buffers(weightInfos));
    ctx.assertAlive();

    const buffers = new RunBuffers(ctx);
    try {
      await this.allocate(checked, prepared, buffers);
      const bindings = resolveBindings(checked, prepared, buffers, weightBuffers);
      const readback = new Readback(ctx.pool, toRead.map((t) => ({ ...t, ...bindings.get(t.id)!, bytes: t.bytes })));
      let times: number[] | undefined;
      try {
        times = await this.encodeAndSubmit(checked, pipelines, bindings, readback, method);
      } catch (err) {
        readback.abandon();
        throw err;
      }
      const outputs = Object.fromEntries(await readback.read());
      if (toRead.length === 0 && method === undefined && opts.wait !== false) await throttledWait(ctx.device.queue.onSubmittedWorkDone());
      return this.finish(checked, buffers, outputs, times, method);
    } catch (err) {
      buffers.releaseAll();
      throw err;
    }
  }

  /** Arenas and input buffers from the pool; on out-of-memory, frees the pool's spares and tries once more. */
  private async allocate(checked: CheckedProgram, prepared: readonly PreparedInput[], buffers: RunBuffers): Promise<void> {
    const ctx = this.ctx;
    for (let attempt = 0; ; attempt++) {
      pushScopes(ctx.device);
      checked.program.plan.arenas.forEach((size, i) => {
        const buffer = ctx.pool.acquire(size, storageUsage(), `arena ${i}`);
        buffers.arenas.push(new SharedBuffer(buffer, (b) => ctx.pool.release(b)));
      });
      for (const p of prepared) {
        if (p.kind !== 'host') continue;
        const buffer = ctx.pool.acquire(p.data.byteLength, storageUsage(), `input ${p.info.name}`);
        buffers.inputs.push(buffer);
        ctx.device.queue.writeBuffer(buffer, 0, p.data);
      }
      const errors = await popScopes(ctx.device);
      if (errors.length === 0) return;
      buffers.releaseAll(true);
      const oom = errors.some((e) => e.filter === 'out-of-memory');
      if (oom && attempt === 0 && ctx.pool.stats.free > 0) {
        ctx.pool.trim();
        continue;
      }
      const plan = checked.program.plan;
      if (oom) {
        throw new ResourceLimitError(`Out of GPU memory allocating the program's buffers: arenas ${plan.arenas.map(formatBytes).join(' + ')}, inputs ${formatBytes(plan.inputBytes)}, with ${formatBytes(plan.weightBytes)} of weights (planned peak ${formatBytes(plan.peakBytes)}). Use tiling to run smaller pieces (e.g. \`kiln vae decode --tile\`) or a smaller input.`, 'device memory');
      }
      throw programError(checked.program.kernels, errors[0].filter, errors.map((e) => e.message).join('\n'));
    }
  }

  /** Encodes every kernel, the profile queries and the readback copies; submits. Returns pass times when profiling. */
  private async encodeAndSubmit(
    checked: CheckedProgram, pipelines: readonly CompiledPipeline[], bindings: ReadonlyMap<number, Binding>, readback: Readback, method: ProfileMethod | undefined,
  ): Promise<number[] | undefined> {
    const device = this.ctx.device;
    const kernels = checked.kernels;
    pushScopes(device);
    let times: number[] | undefined;
    let thrown: unknown;
    let timestamps: TimestampRecorder | undefined;
    try {
      const groups = this.bindGroups(checked, pipelines, bindings);
      if (method === 'wall') {
        times = await this.submitTimedPerKernel(kernels, pipelines, groups, readback);
      } else {
        const encoder = device.createCommandEncoder({ label: 'kiln program' });
        if (method === 'timestamp') {
          timestamps = new TimestampRecorder(device, this.ctx.pool, kernels.length);
          kernels.forEach((k, i) => {
            const pass = encoder.beginComputePass({ label: k.kernel.name, timestampWrites: timestamps!.writes(i) });
            dispatch(pass, k, pipelines[i], groups[i]);
            pass.end();
          });
          timestamps.encode(encoder);
        } else {
          const pass = encoder.beginComputePass({ label: 'kiln program' });
          kernels.forEach((k, i) => dispatch(pass, k, pipelines[i], groups[i]));
          pass.end();
        }
        readback.encode(encoder);
        device.queue.submit([encoder.finish()]);
      }
    } catch (err) {
      thrown = err;
    }
    const errors = await popScopes(device);
    if (errors.length > 0 || thrown) this.lastGroups.delete(checked);
    if (errors.length > 0) {
      timestamps?.dispose();
      throw await this.attribute(errors, kernels, pipelines, bindings);
    }
    if (thrown) {
      timestamps?.dispose();
      throw thrown;
    }
    if (timestamps) times = await timestamps.read();
    return times;
  }

  /**
   * Bind groups for every kernel. Creating one costs ~20 µs, a lot next to a short dispatch, and
   * the pool tends to hand a program the same buffers run after run (tiles, steps), so the last
   * run's groups are reused when every binding is the same buffer at the same offset.
   */
  private bindGroups(checked: CheckedProgram, pipelines: readonly CompiledPipeline[], bindings: ReadonlyMap<number, Binding>): GPUBindGroup[] {
    const bound = [...bindings.values()];
    const last = this.lastGroups.get(checked);
    if (last && last.bound.length === bound.length && last.bound.every((b, i) => b.buffer === bound[i].buffer && b.offset === bound[i].offset && b.size === bound[i].size)) {
      return last.groups;
    }
    const groups = checked.kernels.map((k, i) => makeBindGroup(this.ctx.device, k, pipelines[i], bindings));
    this.lastGroups.set(checked, { bound, groups });
    return groups;
  }

  /** Wall-clock profiling: one submit per kernel, each awaited; readback copies in a last submit. */
  private async submitTimedPerKernel(kernels: readonly PreparedKernel[], pipelines: readonly CompiledPipeline[], groups: readonly GPUBindGroup[], readback: Readback): Promise<number[]> {
    const device = this.ctx.device;
    await throttledWait(device.queue.onSubmittedWorkDone()); // input uploads are not part of the first kernel
    const times: number[] = [];
    for (let i = 0; i < kernels.length; i++) {
      const encoder = device.createCommandEncoder({ label: kernels[i].kernel.name });
      const pass = encoder.beginComputePass({ label: kernels[i].kernel.name });
      dispatch(pass, kernels[i], pipelines[i], groups[i]);
      pass.end();
      const t0 = performance.now();
      device.queue.submit([encoder.finish()]);
      await throttledWait(device.queue.onSubmittedWorkDone());
      times.push(performance.now() - t0);
    }
    const encoder = device.createCommandEncoder({ label: 'kiln readback' });
    readback.encode(encoder);
    device.queue.submit([encoder.finish()]);
    return times;
  }

  /**
   * Turns caught errors into a KernelError naming the kernel. Dawn's messages quote object
   * labels (every pipeline, bind group and pass is labelled with its kernel's name); when they
   * name none, each kernel is encoded again on its own, without submitting, to find the culprit.
   */
  private async attribute(errors: readonly CaughtError[], kernels: readonly PreparedKernel[], pipelines: readonly CompiledPipeline[], bindings: ReadonlyMap<number, Binding>): Promise<KernelError> {
    const first = errors[0];
    const detail = errors.map((e) => `[${e.filter}] ${e.message}`).join('\n');
    const failure = first.filter;
    const named = kernels.find((k) => first.message.includes(`"${k.kernel.name}"`));
    if (named) return kernelError(named.kernel, failure, detail);
    const device = this.ctx.device;
    for (let i = 0; i < kernels.length; i++) {
      pushScopes(device);
      try {
        const group = makeBindGroup(device, kernels[i], pipelines[i], bindings);
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        dispatch(pass, kernels[i], pipelines[i], group);
        pass.end();
        encoder.finish();
      } catch {
        // The scopes below report it.
      }
      const own = await popScopes(device);
      if (own.length > 0) return kernelError(kernels[i].kernel, own[0].filter, detail);
    }
    return programError(kernels.map((k) => k.kernel), failure, detail);
  }

  private finish(checked: CheckedProgram, buffers: RunBuffers, outputs: Record<string, HostTensor>, times: number[] | undefined, method: ProfileMethod | undefined): RunResult {
    const program = checked.program;
    buffers.releaseInputs();
    // Arenas without outputs are free as soon as the run is encoded; the rest belong to the result.
    const outputArenas = new Set(program.outputs.map((id) => program.plan.placements.get(id)!.arena));
    const kept = new Map<number, SharedBuffer>();
    buffers.arenas.forEach((a, i) => (outputArenas.has(i) ? kept.set(i, a) : a.release()));
    buffers.arenas.length = 0;
    const locations = new Map<string, OutputLocation>();
    for (const id of program.outputs) {
      const info = checked.tensors.get(id)!;
      const p = program.plan.placements.get(id)!;
      locations.set(info.name, { info, arena: kept.get(p.arena)!, offset: p.offset });
    }
    const profile: ProfileEntry[] | undefined = times?.map((ms, i) => {
      const k = checked.kernels[i].kernel;
      return { kernel: k.name, ms, flops: k.flops, bytes: k.bytes, sourceOps: k.sourceOps };
    });
    return new ProgramRunResult(outputs, program.plan, locations, [...kept.values()], this.ctx.device, profile, profile ? method : undefined);
  }
}

function profileMethod(profile: RunOptions['profile'], hasTimestamps: boolean): ProfileMethod | undefined {
  if (!profile) return undefined;
  if (profile === 'wall') return 'wall';
  return hasTimestamps ? 'timestamp' : 'wall';
}

function resolveBindings(checked: CheckedProgram, prepared: readonly PreparedInput[], buffers: RunBuffers, weights: ReadonlyMap<number, GPUBuffer>): Map<number, Binding> {
  const out = new Map<number, Binding>();
  let hostIndex = 0;
  for (const p of prepared) {
    if (p.kind === 'host') out.set(p.info.id, { buffer: buffers.inputs[hostIndex++], offset: 0, size: p.info.bytes });
    else out.set(p.info.id, { buffer: p.tensor.buffer, offset: p.tensor.offset, size: p.info.bytes });
  }
  for (const [id, buffer] of weights) out.set(id, { buffer, offset: 0, size: checked.tensors.get(id)!.bytes });
  for (const [id, place] of checked.program.plan.placements) {
    const info: TensorInfo | undefined = checked.tensors.get(id);
    if (info) out.set(id, { buffer: buffers.arenas[place.arena].buffer, offset: place.offset, size: info.bytes });
  }
  return out;
}

function makeBindGroup(device: GPUDevice, k: PreparedKernel, pipeline: CompiledPipeline, bindings: ReadonlyMap<number, Binding>): GPUBindGroup {
  return device.createBindGroup({
    label: k.kernel.name,
    layout: pipeline.layout,
    entries: k.bindings.map((b, i) => {
      const { buffer, offset, size } = bindings.get(b.tensor)!;
      return { binding: i, resource: { buffer, offset, size } };
    }),
  });
}

function dispatch(pass: GPUComputePassEncoder, k: PreparedKernel, pipeline: CompiledPipeline, group: GPUBindGroup): void {
  const [x, y, z] = k.kernel.workgroups;
  if (x === 0 || y === 0 || z === 0) return;
  pass.setPipeline(pipeline.pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(x, y, z);
}
