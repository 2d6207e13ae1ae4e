/**
 * Running compiled graphs on the real device (lavapipe here) through the runtime's executor,
 * and comparing them with the reference interpreter.
 *
 * Poisoning: before each run the arenas the program will get from the buffer pool are filled
 * with a poison pattern (NaN bits by default) and handed back, so an output element no kernel
 * wrote reads back as poison. The pool serves the same size class last-in first-out; the
 * helper checks the run really reused them (pool hits), so poisoning cannot silently lapse.
 * Bool outputs read back as 0/1 whatever the bits, so `checkGraph` also runs with zero poison
 * and requires both runs to agree.
 */
import { expect } from 'vitest';
import type { DType, Graph } from '../../../compiler/ir.ts';
import { numel } from '../../../compiler/ir.ts';
import type { CompiledProgram } from '../../../compiler/kernel.ts';
import type { Target, TargetAdapter, TargetFeatures, TargetLimits } from '../../../compiler/target.ts';
import type { SubgroupMatrixConfig, SubgroupMatrixSupport } from '../../../compiler/codegen/subgroup_matrix.ts';
import { type CompileOptions, compile } from '../../../compiler/compile.ts';
import { interpret } from '../../../compiler/reference/interpret.ts';
import { roundToF16 } from '../../../compiler/f16.ts';
import type { KilnDevice } from '../../../runtime/device.ts';
import { type HostTensor, type StorageDType, fromFloat64, toFloat64 } from '../../../runtime/tensor.ts';
import { deviceOrUndefined } from '../../runtime/gpu-available.ts';

let dev: Promise<KilnDevice | undefined> | undefined;

export function gpu(): Promise<KilnDevice | undefined> {
  dev ??= deviceOrUndefined();
  return dev;
}

/** Whether the test device can hold f16 buffers (Dawn's OpenGL ES backend cannot). */
export async function gpuHasF16(): Promise<boolean> {
  return (await gpu())?.target.features.shaderF16 ?? false;
}

export async function requireGpu(): Promise<KilnDevice> {
  const d = await gpu();
  if (!d) throw new Error('no WebGPU adapter: these tests need lavapipe or a GPU (see docs/webgpu.md)');
  return d;
}

const STORAGE: { readonly [K in DType]: StorageDType } = { f32: 'F32', f16: 'F16', i32: 'I32', bool: 'BOOL' };

export type Values = Record<string, ArrayLike<number>>;

async function poisonArenas(d: KilnDevice, program: CompiledProgram, word: number): Promise<number> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const taken = program.plan.arenas.map((size, i) => {
    const b = d.pool.acquire(size, usage, `poison ${i}`);
    d.device.queue.writeBuffer(b, 0, new Uint32Array(b.size / 4).fill(word));
    return b;
  });
  for (let i = taken.length - 1; i >= 0; i--) d.pool.release(taken[i]);
  return d.pool.stats.hits;
}

/** Runs `program` with `values` for its inputs and weights; returns every output as float64. */
export async function runProgram(program: CompiledProgram, values: Values, poison = 0x7fc00000): Promise<Map<string, Float64Array>> {
  const d = await requireGpu();
  const inputs: Record<string, HostTensor> = {};
  const weights = new Map<string, HostTensor>();
  for (const id of [...program.inputs, ...program.weights]) {
    const t = program.tensors[id];
    const v = values[t.name];
    if (!v) throw new Error(`runProgram: no values for ${t.name}`);
    const host = fromFloat64(v, t.shape, STORAGE[t.dtype]);
    if (t.role === 'input') inputs[t.name] = host; else weights.set(t.name, host);
  }
  if (program.weights.length > 0) d.setWeights(weights);
  const hitsBefore = await poisonArenas(d, program, poison);
  const result = await d.run(program, inputs, { readback: 'all' });
  const reused = d.pool.stats.hits - hitsBefore;
  result.release();
  if (reused < program.plan.arenas.length) throw new Error('runProgram: the executor did not reuse the poisoned arenas; poisoning is not in effect');
  const out = new Map<string, Float64Array>();
  for (const [name, t] of Object.entries(result.outputs)) out.set(name, toFloat64(t));
  return out;
}

/** Random non-zero test values for every input of a graph, by name. */
export function randomInputs(graph: Graph, rand: () => number, opts: { min?: number; max?: number } = {}): Values {
  const lo = opts.min ?? 0.25;
  const hi = opts.max ?? 1.5;
  const out: Values = {};
  for (const n of graph.inputs) {
    const count = numel(n.shape);
    const v = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (n.dtype === 'bool') v[i] = rand() < 0.5 ? 1 : 0;
      else if (n.dtype === 'i32') v[i] = Math.floor(rand() * 19) - 9;
      else {
        // Exactly representable in the storage type, so the oracle sees what the GPU sees.
        const mag = lo + (hi - lo) * rand();
        const x = rand() < 0.5 ? -mag : mag;
        v[i] = n.dtype === 'f16' ? roundToF16(x) : Math.fround(x);
      }
    }
    out[n.name] = v;
  }
  return out;
}

/** A small deterministic generator (mulberry32), so failures reproduce from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Tolerance {
  /** Relative error allowed, against max(|expected|, scale). */
  readonly rtol?: number;
  /** Scale of the values' magnitude (e.g. the largest |expected| of the tensor); default per tensor. */
  readonly scale?: number;
  /** Absolute floor. */
  readonly atol?: number;
}

/** Expects `actual` to match `expected` elementwise (NaN matches NaN; infinities exactly). */
export function expectClose(actual: Float64Array, expected: Float64Array, what: string, tol: Tolerance = {}): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const rtol = tol.rtol ?? 2e-5;
  let maxAbs = 0;
  for (const e of expected) if (Number.isFinite(e)) maxAbs = Math.max(maxAbs, Math.abs(e));
  const scale = tol.scale ?? maxAbs;
  const atol = tol.atol ?? rtol * scale;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) { if (!Number.isNaN(a)) throw new Error(`${what}[${i}]: expected NaN, got ${a}`); continue; }
    if (!Number.isFinite(e)) { if (a !== e) throw new Error(`${what}[${i}]: expected ${e}, got ${a}`); continue; }
    const err = Math.abs(a - e);
    if (!(err <= atol + rtol * Math.abs(e))) {
      throw new Error(`${what}[${i}] of ${expected.length}: expected ${e}, got ${a} (error ${err.toExponential(2)} > ${(atol + rtol * Math.abs(e)).toExponential(2)}; scale ${scale})`);
    }
  }
}

export interface CheckOptions extends CompileOptions, Tolerance {
  readonly values?: Values;
  readonly seed?: number;
  /** Per-output tolerance overrides. */
  readonly tolerances?: Readonly<Record<string, Tolerance>>;
  /** Compile as if the device had these (lower) limits. */
  readonly limits?: Partial<TargetLimits>;
  /** Compile as if the device lacked features it has (e.g. `{ subgroups: false }`). */
  readonly features?: Partial<TargetFeatures>;
  /** Compile for another adapter family (`{ isFallbackAdapter: false }`: a discrete GPU's tiles and code). */
  readonly adapter?: Partial<TargetAdapter>;
}

/**
 * Compiles `graph` for the device, runs it on random inputs (or `values`) with poisoned
 * arenas, and compares every output with the reference interpreter. Returns the program.
 */
export async function checkGraph(graph: Graph, opts: CheckOptions = {}): Promise<CompiledProgram> {
  const d = await requireGpu();
  const target: Target = { limits: { ...d.target.limits, ...opts.limits }, features: { ...d.target.features, ...opts.features }, adapter: { ...d.target.adapter, ...opts.adapter } };
  const program = compile(graph, target, { validate: true, ...opts });
  const values = opts.values ?? randomInputs(graph, rng(opts.seed ?? 1));
  const expected = interpret(graph, values);
  const actual = await runProgram(program, values);
  const hasBool = graph.outputs.some((o) => o.node.dtype === 'bool');
  const again = hasBool ? await runProgram(program, values, 0) : undefined;
  for (const o of graph.outputs) {
    const e = expected.get(o.name);
    const a = actual.get(o.name);
    if (!e || !a) throw new Error(`output ${o.name} missing (expected: ${!!e}, actual: ${!!a})`);
    const tol = opts.tolerances?.[o.name] ?? opts;
    expectClose(a, e, o.name, tol);
    if (again) expectClose(again.get(o.name)!, e, `${o.name} (zero poison)`, tol);
  }
  return program;
}

/**
 * The test device's subgroup-matrix configurations that take f32 or f16 operands into f32 (what
 * Kiln's tensor-core kernels use), with the device's support, or why a native test must skip.
 */
export async function nativeSubgroupMatrixConfigs(): Promise<{ support?: SubgroupMatrixSupport; configs: SubgroupMatrixConfig[]; why: string }> {
  const device = await gpu();
  const support = device?.subgroupMatrix;
  const configs = support?.configs.filter((c) => c.resultComponentType === 'f32' && (c.componentType === 'f32' || c.componentType === 'f16')) ?? [];
  const why = !device ? 'skipped: no WebGPU adapter'
    : !support ? 'skipped: this adapter reports no subgroup-matrix configurations (lavapipe has none)'
    : 'skipped: none of this adapter\'s configurations takes f32 or f16 operands into f32';
  return { support, configs, why };
}
