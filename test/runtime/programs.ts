/**
 * Hand-written CompiledPrograms for runtime tests: tiny WGSL kernels over small vectors, with
 * memory plans laid out by hand. Expected values are computed in the tests with plain loops.
 */
import type { DType } from '../../compiler/ir.ts';
import type { CompiledProgram, Kernel, KernelBinding, MemoryPlan, Placement, TensorInfo, TensorRole } from '../../compiler/kernel.ts';

export interface TensorSpec {
  readonly id: number;
  readonly role: TensorRole;
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype?: DType;
  /** Placement for intermediates and outputs. */
  readonly at?: Placement;
  readonly bytes?: number;
}

export function tensor(spec: TensorSpec): TensorInfo {
  const dtype = spec.dtype ?? 'f32';
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const bytes = spec.bytes ?? Math.ceil((count * (dtype === 'f16' ? 2 : 4)) / 4) * 4;
  return { id: spec.id, role: spec.role, name: spec.name, shape: spec.shape, dtype, bytes };
}

/** A one-dimensional elementwise kernel: `out[i] = expr` over `n` elements, 64 lanes per workgroup. */
export function elementwise(name: string, n: number, args: readonly { tensor: number; access: KernelBinding['access']; varName: string; type?: string }[], body: string, sourceOps: readonly string[] = [`${name.replace(/^k\d+_/, '')} @ test.forward (test.kiln:1:1)`]): Kernel {
  const decls = args.map((a, i) => `@group(0) @binding(${i}) var<storage, ${a.access}> ${a.varName}: array<${a.type ?? 'f32'}>;`).join('\n');
  const wgsl = `${args.some((a) => a.type === 'f16') ? 'enable f16;\n' : ''}${decls}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= ${n}u) { return; }
  ${body}
}
`;
  return {
    name,
    wgsl,
    workgroups: [Math.ceil(n / 64), 1, 1],
    bindings: args.map((a) => ({ tensor: a.tensor, access: a.access })),
    kind: 'elementwise',
    sourceOps,
    flops: n,
    bytes: n * 4 * args.length,
  };
}

export function program(tensors: readonly TensorSpec[], kernels: readonly Kernel[], arenas: readonly number[]): CompiledProgram {
  const infos = tensors.map(tensor);
  const placements = new Map<number, Placement>();
  for (const t of tensors) if (t.at) placements.set(t.id, t.at);
  const sum = (role: TensorRole): number => infos.filter((t) => t.role === role).reduce((s, t) => s + t.bytes, 0);
  const arenaBytes = arenas.reduce((a, b) => a + b, 0);
  const plan: MemoryPlan = {
    arenas, placements, arenaBytes,
    weightBytes: sum('weight'),
    inputBytes: sum('input'),
    peakBytes: sum('weight') + sum('input') + arenaBytes,
  };
  const ids = (role: TensorRole): number[] => infos.filter((t) => t.role === role).map((t) => t.id);
  return { tensors: infos, kernels, inputs: ids('input'), weights: ids('weight'), outputs: ids('output'), plan };
}

/** 256-byte aligned offset after `n` f32 elements (the strictest WebGPU default alignment). */
export const after = (n: number): number => Math.ceil((n * 4) / 256) * 256;

/**
 * Program A, three kernels over N elements:
 *   t = x * 2          (k00_scale)
 *   y = t + w          (k01_add, w is weight `layer.weight`)
 *   z = y * y - x      (k02_square)
 * t and z share arena 0 (t is dead when z is written), y lives in arena 1.
 */
export function programA(n: number): CompiledProgram {
  return program(
    [
      { id: 0, role: 'input', name: 'x', shape: [n] },
      { id: 1, role: 'weight', name: 'layer.weight', shape: [n] },
      { id: 2, role: 'intermediate', name: 't', shape: [n], at: { arena: 0, offset: 0 } },
      { id: 3, role: 'output', name: 'y', shape: [n], at: { arena: 1, offset: 0 } },
      { id: 4, role: 'output', name: 'z', shape: [n], at: { arena: 0, offset: after(n) } },
    ],
    [
      elementwise('k00_scale', n, [{ tensor: 0, access: 'read', varName: 'x' }, { tensor: 2, access: 'read_write', varName: 't' }], 't[i] = x[i] * 2.0;', ['mul @ a.forward (a.kiln:2:7)']),
      elementwise('k01_add', n, [{ tensor: 2, access: 'read', varName: 't' }, { tensor: 1, access: 'read', varName: 'w' }, { tensor: 3, access: 'read_write', varName: 'y' }], 'y[i] = t[i] + w[i];', ['+ @ a.forward (a.kiln:3:7)']),
      elementwise('k02_square', n, [{ tensor: 3, access: 'read', varName: 'y' }, { tensor: 0, access: 'read', varName: 'x' }, { tensor: 4, access: 'read_write', varName: 'z' }], 'z[i] = y[i] * y[i] - x[i];', ['* @ a.forward (a.kiln:4:7)', '- @ a.forward (a.kiln:4:13)']),
    ],
    [after(n) * 2, after(n)],
  );
}

/** Program B: o = x * w, naming the same weight key as program A. */
export function programB(n: number): CompiledProgram {
  return program(
    [
      { id: 0, role: 'input', name: 'x', shape: [n] },
      { id: 1, role: 'weight', name: 'layer.weight', shape: [n] },
      { id: 2, role: 'output', name: 'o', shape: [n], at: { arena: 0, offset: 0 } },
    ],
    [elementwise('k00_mul', n, [{ tensor: 0, access: 'read', varName: 'x' }, { tensor: 1, access: 'read', varName: 'w' }, { tensor: 2, access: 'read_write', varName: 'o' }], 'o[i] = x[i] * w[i];')],
    [after(n)],
  );
}

/** Program C: out = 1 - v (one input, no weights). */
export function programC(n: number): CompiledProgram {
  return program(
    [
      { id: 0, role: 'input', name: 'v', shape: [n] },
      { id: 1, role: 'output', name: 'out', shape: [n], at: { arena: 0, offset: 0 } },
    ],
    [elementwise('k00_one_minus', n, [{ tensor: 0, access: 'read', varName: 'v' }, { tensor: 1, access: 'read_write', varName: 'o' }], 'o[i] = 1.0 - v[i];')],
    [after(n)],
  );
}
