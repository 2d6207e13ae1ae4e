/**
 * ModelSession: one Kiln module bound to a config and a set of weights, whose functions can be
 * called on host tensors with either backend:
 * - `webgpu`: traced, compiled to fused WGSL and run on the Dawn device (weights uploaded once
 *   and shared by every program of the session — tiles, steps);
 * - `interp`: traced and evaluated by the float64 reference interpreter (the oracle).
 * Traced graphs and compiled programs are cached per function and argument shapes, so calling
 * with the same shapes again (the tiles of a tiled decode) costs only the run.
 */
import { bindModule, checkWeightKeys, type BoundModule } from '../compiler/bind.ts';
import { compile } from '../compiler/compile.ts';
import type { HalfInterface, StorageMode } from '../compiler/passes/storage.ts';
import { sharedTuneCache } from '../compiler/tune/cache.ts';
import type { TuningTable } from '../compiler/tune/table.ts';
import { dumpWgsl } from '../compiler/dump.ts';
import type { Graph } from '../compiler/ir.ts';
import type { CompiledProgram, MemoryPlan } from '../compiler/kernel.ts';
import { interpret } from '../compiler/reference/interpret.ts';
import type { BackendDType } from '../dsl/backend.ts';
import type { Program } from '../dsl/program.ts';
import type { CallArg } from '../dsl/session.ts';
import type { KilnDevice, WeightSource } from './device.ts';
import { GpuTensor } from './gpu/gpu-tensor.ts';
import { partOfHost } from './tensor_axes.ts';
import type { StackPart } from './executor.ts';
import type { ProfileEntry } from './executor.ts';
import { fromFloat64, toFloat64, type HostTensor, type StorageDType } from './tensor.ts';

export type BackendName = 'webgpu' | 'interp';

/** What a session needs of a weight set: keys with shapes, and tensors on demand. */
export interface SessionWeights {
  keys(): Iterable<string> | readonly string[];
  info(key: string): { readonly shape: readonly number[]; readonly dtype: string };
  read(key: string): HostTensor;
  /**
   * The weight for a GPU session, where the GPU makes it faster than `read` (a LoRA merged by a
   * program on the device, models/hunyuan_dit/lora.ts); the same values as `read`, which the
   * interpreter keeps using. It may run programs on the session's device (see Executor).
   */
  readForDevice?(key: string): Promise<HostTensor>;
  readonly path?: string;
}

export function weightsFromMap(map: ReadonlyMap<string, HostTensor>, path = '<weights>'): SessionWeights {
  return {
    path,
    keys: () => map.keys(),
    info: (k) => {
      const t = map.get(k);
      if (!t) throw new Error(`no weight ${k}`);
      return { shape: t.shape, dtype: t.dtype };
    },
    read: (k) => {
      const t = map.get(k);
      if (!t) throw new Error(`no weight ${k}`);
      return t;
    },
  };
}

export interface SessionOptions {
  readonly backend: BackendName;
  /** Required for `webgpu`. */
  readonly device?: KilnDevice;
  /** Fuse kernels (default true). */
  readonly fuse?: boolean;
  /** Write every compiled program's kernels under this folder. */
  readonly dumpWgsl?: string;
  /** Accept checkpoint keys the module does not use (e.g. a full VAE for an encoder-only session). */
  readonly allowUnexpected?: boolean;
  /**
   * Where weights and activations rest on the GPU (webgpu): 'f32' (default), or 'f16' — half
   * the memory and bandwidth, arithmetic still f32; needs the adapter's shader-f16 feature.
   */
  readonly dtype?: StorageMode;
  /**
   * Kernel tiles (webgpu): 'cache' (default) uses the autotuner's choices cached on disk for
   * this adapter (`kiln tune`; compiler/tune/cache.ts) and the heuristic elsewhere; 'none'
   * uses the heuristic only; or a table of one's own.
   */
  readonly tuning?: TuningTable | 'cache' | 'none';
  /**
   * Convolution weights channels-last (webgpu; compile's `relayoutWeights`): 'upload' (default)
   * permutes them once when they are uploaded, false keeps the checkpoint's layout.
   */
  readonly relayoutWeights?: boolean | 'upload';
}

export type CallInput = HostTensor | { readonly value: unknown };

/**
 * A tensor a session call takes or gives without going through the host: a GpuTensor on the
 * session's device (webgpu), a HostTensor for the interpreter (its "device" is the host).
 */
export type SessionTensor = HostTensor | GpuTensor;

/** Part `part` (along the first axis; all of it when absent) of a tensor a session holds. */
export interface DevicePart {
  readonly from: SessionTensor;
  readonly part?: number;
}

export type SessionPart = HostTensor | DevicePart;

/** Gives back the GPU storage of session tensors (host tensors need nothing). */
export function releaseTensors(tensors: Iterable<SessionTensor | undefined>): void {
  for (const t of tensors) if (t instanceof GpuTensor) t.release();
}

export interface CallOptions {
  readonly profile?: boolean;
  /** Called with the memory plan before a GPU run. */
  readonly onPlan?: (plan: MemoryPlan, program: CompiledProgram) => void;
  /** Called once per new (function, shapes) when a program is compiled. */
  readonly onCompile?: (info: { fn: string; kernels: number; ms: number }) => void;
}

export interface DeviceCallOptions {
  /** Outputs to read back to the host; the others stay on the device. */
  readonly read?: readonly string[];
  /** Inputs and outputs in f16 where the session stores f16 (ignored otherwise; passes/storage.ts). */
  readonly half?: HalfInterface;
}

export interface CallResult {
  readonly outputs: Readonly<Record<string, HostTensor>>;
  readonly profile?: readonly ProfileEntry[];
  readonly plan?: MemoryPlan;
}

const isHost = (a: CallInput | GpuTensor): a is HostTensor => (a as HostTensor).data !== undefined;
/** A GPU tensor's dtype in the graph: program interfaces are f32, i32 or bool whatever the storage mode. */
const gpuGraphDType = (t: GpuTensor): BackendDType => (t.dtype === 'f16' ? 'f32' : t.dtype as BackendDType);

const F32_DTYPES: ReadonlySet<StorageDType> = new Set(['F32', 'F64', 'F16', 'BF16']);

/** The Kiln dtype a host tensor enters a graph as. */
function graphDType(t: HostTensor): BackendDType {
  if (F32_DTYPES.has(t.dtype)) return 'f32';
  if (t.dtype === 'BOOL') return 'bool';
  return 'i32';
}

function toGraphStorage(t: HostTensor): HostTensor {
  if (t.dtype === 'F32' || t.dtype === 'I32') return t;
  const dt = graphDType(t);
  return fromFloat64(toFloat64(t), t.shape, dt === 'f32' ? 'F32' : dt === 'bool' ? 'BOOL' : 'I32');
}

/**
 * The device-side view of a weight set, one per SessionWeights object, so that sessions over the
 * same weights (the programs of a tiled decode, tuning runs) share one upload: the device's weight
 * store is re-registered only when it holds another set (or is a fresh device).
 */
const deviceSources = new WeakMap<SessionWeights, WeightSource>();

function deviceSource(weights: SessionWeights): WeightSource {
  let source = deviceSources.get(weights);
  if (!source) {
    source = {
      read: (k: string) => (weights.readForDevice ? weights.readForDevice(k) : weights.read(k)),
      has: (k: string) => {
        try {
          weights.info(k);
          return true;
        } catch {
          return false;
        }
      },
    };
    deviceSources.set(weights, source);
  }
  return source;
}

interface Entry {
  readonly graph: Graph;
  program?: CompiledProgram;
}

export class ModelSession {
  readonly bound: BoundModule;
  private readonly cache = new Map<string, Entry>();
  private readonly f64Weights = new Map<string, Float64Array>();
  private programCount = 0;
  /** Kernel dumps still being written (awaited by `call` and `flushDumps`). */
  private pendingDumps: Promise<unknown>[] = [];

  constructor(
    readonly program: Program,
    readonly moduleName: string,
    readonly config: Readonly<Record<string, unknown>>,
    readonly weights: SessionWeights,
    readonly opts: SessionOptions,
  ) {
    if (opts.backend === 'webgpu' && !opts.device) throw new Error('internal: the webgpu backend needs a device');
    this.bound = bindModule(program, moduleName, config);
    const available = new Map<string, { shape: readonly number[] }>();
    for (const k of weights.keys()) available.set(k, { shape: weights.info(k).shape });
    checkWeightKeys(this.bound.weights, available, weights.path ?? 'the weights', { allowUnexpected: opts.allowUnexpected });
  }

  /** Trace (and compile, for webgpu) `fn` for these argument shapes, reusing earlier work. */
  prepare(fn: string, args: readonly (CallInput | GpuTensor)[], opts: CallOptions & { readonly half?: HalfInterface } = {}): Entry {
    const callArgs: CallArg[] = args.map((a, i): CallArg => {
      if (a instanceof GpuTensor) return { kind: 'tensor', name: `arg${i}`, shape: a.shape, dtype: gpuGraphDType(a) };
      return isHost(a) ? { kind: 'tensor', name: `arg${i}`, shape: a.shape, dtype: graphDType(a) } : { kind: 'value', value: a.value };
    });
    // A half interface only means something under f16 storage; the graph is the same either way.
    const half = this.opts.dtype === 'f16' && (opts.half?.inputs || opts.half?.outputs) ? opts.half : undefined;
    const key = `${fn}|${half ? `half ${half.inputs ? 'in' : ''} ${half.outputs ? 'out' : ''}|` : ''}${JSON.stringify(callArgs)}`;
    let entry = this.cache.get(key);
    if (!entry) {
      const graph = this.bound.trace({ fn, args: callArgs });
      entry = { graph };
      this.cache.set(key, entry);
    }
    if (this.opts.backend === 'webgpu' && !entry.program) {
      const t0 = performance.now();
      const tuning = this.opts.tuning ?? 'cache';
      const target = this.opts.device!.target;
      entry.program = compile(entry.graph, target, {
        fuse: this.opts.fuse ?? true,
        name: `${this.moduleName}.${fn}`,
        storage: this.opts.dtype ?? 'f32',
        halfInterface: half,
        relayoutWeights: this.opts.relayoutWeights ?? 'upload',
        subgroupMatrix: this.opts.device!.subgroupMatrix,
        tuning: tuning === 'none' ? undefined : tuning === 'cache' ? sharedTuneCache().table(target) : tuning,
      });
      opts.onCompile?.({ fn, kernels: entry.program.kernels.length, ms: performance.now() - t0 });
      if (this.opts.dumpWgsl) this.pendingDumps.push(dumpWgsl(entry.program, `${this.opts.dumpWgsl}/${this.moduleName}.${fn}.${this.programCount++}`));
    }
    return entry;
  }

  /** Wait until every `--dump-wgsl` file of the programs prepared so far is written (rethrows write errors). */
  async flushDumps(): Promise<void> {
    const pending = this.pendingDumps.splice(0);
    await Promise.all(pending);
  }

  /** Call a function of the module; tensor arguments in parameter order, other arguments as `{ value }`. */
  async call(fn: string, args: readonly CallInput[], opts: CallOptions = {}): Promise<CallResult> {
    const entry = this.prepare(fn, args, opts);
    await this.flushDumps();
    const hosts = new Map<string, HostTensor>();
    // The interpreter takes any dtype as float64, so its own float64 outputs fed back in (the phases
    // of sequence_parallel.ts) keep their precision.
    const interp = this.opts.backend === 'interp';
    args.forEach((a, i) => { if (isHost(a)) hosts.set(`arg${i}`, interp ? a : toGraphStorage(a)); });
    if (interp) return { outputs: this.interpret(entry.graph, hosts) };
    const device = this.opts.device!;
    const program = entry.program!;
    this.useWeights(program);
    const inputs: Record<string, HostTensor> = {};
    for (const [k, v] of hosts) inputs[k] = v;
    const result = await device.run(program, inputs, {
      readback: 'all',
      profile: opts.profile,
      onPlan: (plan) => opts.onPlan?.(plan, program),
    });
    const outputs = { ...result.outputs };
    result.release();
    return { outputs, profile: result.profile, plan: result.plan };
  }

  /**
   * Calls a function keeping tensors where they are: arguments may be GpuTensors on this
   * session's device, and outputs stay on the device (GpuTensors the caller owns and releases)
   * except those named in `read`, which come back as host tensors. On the interpreter everything
   * is a host tensor. For chains of calls whose intermediate tensors need not visit the host
   * (the phases of sequence_parallel.ts).
   */
  async callOnDevice(fn: string, args: readonly (CallInput | GpuTensor)[], opts: DeviceCallOptions = {}): Promise<Record<string, SessionTensor>> {
    if (this.opts.backend === 'interp') {
      if (args.some((a) => a instanceof GpuTensor)) throw new Error('internal: a GpuTensor passed to an interpreter session');
      return { ...(await this.call(fn, args as CallInput[])).outputs };
    }
    const read = opts.read ?? [];
    const entry = this.prepare(fn, args, { half: opts.half });
    await this.flushDumps();
    const device = this.opts.device!;
    const program = entry.program!;
    this.useWeights(program);
    const inputs: Record<string, HostTensor | GpuTensor> = {};
    args.forEach((a, i) => {
      if (a instanceof GpuTensor) inputs[`arg${i}`] = a;
      else if (isHost(a)) inputs[`arg${i}`] = toGraphStorage(a);
    });
    const result = await device.run(program, inputs, { readback: read });
    try {
      const out: Record<string, SessionTensor> = { ...result.outputs };
      for (const o of entry.graph.outputs) if (!(o.name in out)) out[o.name] = result.take(o.name);
      return out;
    } finally {
      result.release();
    }
  }

  /**
   * A host tensor where this session's calls take it without a copy per call (uploaded once for
   * webgpu): f16 when `half` and the session stores f16, for calls with a half interface.
   */
  place(t: HostTensor, name = 'placed', half = false): SessionTensor {
    if (this.opts.backend === 'interp') return t;
    const dtype = graphDType(t);
    return this.opts.device!.executor.upload(toGraphStorage(t), dtype === 'f32' && half && this.opts.dtype === 'f16' ? 'f16' : dtype, name);
  }

  /** How `t` comes to the host: float64 from the interpreter, its storage dtype from a GPU. */
  hostLayout(t: SessionTensor): { dtype: StorageDType; shape: readonly number[] } {
    if (!(t instanceof GpuTensor)) return { dtype: t.dtype, shape: t.shape };
    return { dtype: t.dtype === 'f32' ? 'F32' : t.dtype === 'f16' ? 'F16' : 'I32', shape: t.shape };
  }

  /**
   * Copies `t` into `into` (laid out as hostLayout says): from the device, straight from its
   * staging buffer, leaving out part `skipPart` along the first axis if given (the interpreter
   * copies it all).
   */
  async readInto(t: SessionTensor, into: HostTensor, skipPart?: number): Promise<void> {
    if (t instanceof GpuTensor) return this.opts.device!.executor.readInto(t, into.data, skipPart);
    (into.data as Float64Array).set(t.data as Float64Array);
  }

  /**
   * Equal parts stacked along a new first axis, where this session's calls take them (see
   * Executor.uploadStacked): host tensors, or parts of this session's own tensors (`{ from, part }`,
   * copied on the device).
   */
  async placeStacked(parts: readonly SessionPart[], name = 'placed'): Promise<SessionTensor> {
    if (this.opts.backend === 'webgpu') {
      const stack = parts.map((p): StackPart => {
        if (!('from' in p)) return p;
        if (!(p.from instanceof GpuTensor)) throw new Error('internal: a host tensor given as a device part');
        return { from: p.from, part: p.part };
      });
      // A device part keeps its dtype; f16 host parts (read back from a half interface) go up as
      // they are, others as their graph dtype.
      const first = stack[0];
      const dtype = 'from' in first ? first.from.dtype : first.dtype === 'F16' ? 'f16' : graphDType(first);
      return this.opts.device!.executor.uploadStacked(stack.map((p) => ('from' in p || dtype === 'f16' ? p : toGraphStorage(p))), dtype, name);
    }
    const host = parts.map((p) => {
      if (!('from' in p)) return p;
      if (p.from instanceof GpuTensor) throw new Error('internal: a GpuTensor given to an interpreter session');
      return p.part === undefined ? p.from : partOfHost(p.from, p.part);
    });
    const n = host[0].data.length;
    const data = new Float64Array(host.length * n);
    host.forEach((p, i) => data.set(toFloat64(p), i * n));
    return { dtype: 'F64', shape: [host.length, ...host[0].shape], data };
  }

  /**
   * Registers this session's weights on the device for `program`. The device holds one weight
   * set; a program that reads no weights (sampler arithmetic between two transformer calls)
   * leaves it alone rather than evicting the model's weights.
   */
  private useWeights(program: CompiledProgram): void {
    if (!program.tensors.some((t) => t.role === 'weight')) return;
    const device = this.opts.device!;
    const source = deviceSource(this.weights);
    if (!device.weights.holds(source)) device.setWeights(source);
  }

  private interpret(graph: Graph, hosts: ReadonlyMap<string, HostTensor>): Readonly<Record<string, HostTensor>> {
    const inputs = new Map<string, Float64Array>();
    for (const n of graph.inputs) {
      if (n.kind === 'input') {
        inputs.set(n.name, toFloat64(hosts.get(n.name)!));
        continue;
      }
      let w = this.f64Weights.get(n.name);
      if (!w) {
        w = toFloat64(this.weights.read(n.name));
        this.f64Weights.set(n.name, w);
      }
      inputs.set(n.name, w);
    }
    const values = interpret(graph, inputs);
    const out: Record<string, HostTensor> = {};
    for (const o of graph.outputs) {
      const v = values.get(o.name)!;
      const dt: StorageDType = o.node.dtype === 'i32' ? 'I32' : o.node.dtype === 'bool' ? 'BOOL' : 'F32';
      out[o.name] = dt === 'F32' ? { dtype: 'F64', shape: o.node.shape, data: v } : fromFloat64(v, o.node.shape, dt);
    }
    return out;
  }
}
