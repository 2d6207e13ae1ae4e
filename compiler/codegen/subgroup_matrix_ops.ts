/**
 * The four subgroup-matrix operations the tensor-core kernels use — declare a zero result,
 * load a left or right fragment, multiply-accumulate, store a result — written either as Dawn's
 * `chromium_experimental_subgroup_matrix` builtins (native) or as plain WGSL (emulated).
 *
 * Emulated: every invocation loads whole fragments into private arrays (row-major) and
 * computes and stores its share of each result fragment (elements lidx, lidx + S, ... of the
 * S invocations of the workgroup, which is one subgroup). Since every invocation takes part in
 * every operation, as the builtins require, together they compute and store exactly what the
 * builtins specify, on any adapter: a kernel's offsets, strides, layouts, staging and epilogue
 * can be run against the interpreter where no adapter has subgroup matrices (lavapipe). It is
 * far too slow for anything else; only the native form reaches tensor cores, and only it is
 * ever chosen for real runs.
 */
import type { SubgroupMatrixConfig } from './subgroup_matrix.ts';
import type { KernelWriter } from './writer.ts';

export type FragmentKind = 'left' | 'right';
export type MatrixLayout = 'row_major' | 'col_major';

export interface SubgroupMatrixOps {
  /** `var name` holding a zero M×N f32 result fragment. */
  zeroResult(name: string): void;
  /** `name` = the kind's fragment read from `array` (a storage binding or workgroup array) at `offset` (WGSL u32) with `stride`. */
  load(name: string, kind: FragmentKind, array: string, offset: string, stride: number, layout: MatrixLayout): void;
  /** acc += left × right. */
  multiplyAccumulate(acc: string, left: string, right: string): void;
  /** Writes result fragment `acc` to `array` at `offset`, rows `stride` apart. */
  store(array: string, offset: string, acc: string, stride: number): void;
}

/** Rows × columns of each kind of fragment. */
const shapeOf = (cfg: SubgroupMatrixConfig, kind: FragmentKind | 'result'): [number, number] =>
  kind === 'left' ? [cfg.M, cfg.K] : kind === 'right' ? [cfg.K, cfg.N] : [cfg.M, cfg.N];

/** The operations for a workgroup of `lanes` invocations (one subgroup), native or emulated. */
export function subgroupMatrixOps(w: KernelWriter, cfg: SubgroupMatrixConfig, component: 'f32' | 'f16', emulate: boolean, lanes: number): SubgroupMatrixOps {
  const T = component;
  if (!emulate) {
    w.enable('chromium_experimental_subgroup_matrix');
    // The builtins' types name columns before rows.
    const type = (kind: FragmentKind | 'result'): string => {
      const [rows, cols] = shapeOf(cfg, kind);
      return `subgroup_matrix_${kind}<${kind === 'result' ? 'f32' : T}, ${cols}, ${rows}>`;
    };
    return {
      zeroResult: (name) => w.stmt(`var ${name} = ${type('result')}();`),
      load: (name, kind, array, offset, stride, layout) => w.stmt(`let ${name} = subgroupMatrixLoad<${type(kind)}, ${layout}>(&${array}, ${offset}, ${stride}u);`),
      multiplyAccumulate: (acc, left, right) => w.stmt(`${acc} = subgroupMatrixMultiplyAccumulate(${left}, ${right}, ${acc});`),
      store: (array, offset, acc, stride) => w.stmt(`subgroupMatrixStore<row_major>(&${array}, ${offset}, ${acc}, ${stride}u);`),
    };
  }
  const [M, N, K] = [cfg.M, cfg.N, cfg.K];
  // Loop bounds the shader compiler cannot see through (on CPU adapters): fully unrolled,
  // a 16x16x16 multiply takes LLVM minutes to compile.
  const n = (v: number): string => w.bound(v);
  return {
    // Zeroed explicitly: a declaration inside a loop must start at zero in every iteration, and
    // lavapipe kept the last iteration's values in an uninitialised one.
    zeroResult: (name) => w.stmt(`var ${name} = array<f32, ${M * N}>();`),
    load: (name, kind, array, offset, stride, layout) => {
      const [rows, cols] = shapeOf(cfg, kind);
      // Element (r, c) = e of the row-major private array; in memory at r·stride + c (row-major) or c·stride + r.
      const at = layout === 'row_major' ? `(e / ${cols}u) * ${stride}u + e % ${cols}u` : `(e % ${cols}u) * ${stride}u + e / ${cols}u`;
      w.stmt(`var ${name}: array<${T}, ${rows * cols}>;`);
      w.stmt(`for (var e = 0u; e < ${n(rows * cols)}; e++) { ${name}[e] = ${array}[${offset} + ${at}]; }`);
    },
    // This invocation's share of the result: elements lidx, lidx + lanes, ...
    multiplyAccumulate: (acc, left, right) => {
      w.stmt(`for (var e = lidx; e < ${n(M * N)}; e += ${lanes}u) { let i = e / ${N}u; let j = e % ${N}u; var s = ${acc}[e]; ` +
        `for (var q = 0u; q < ${n(K)}; q++) { s = fma(f32(${left}[i * ${K}u + q]), f32(${right}[q * ${N}u + j]), s); } ${acc}[e] = s; }`);
    },
    store: (array, offset, acc, stride) => w.stmt(`for (var e = lidx; e < ${n(M * N)}; e += ${lanes}u) { ${array}[${offset} + (e / ${N}u) * ${stride}u + e % ${N}u] = ${acc}[e]; }`),
  };
}
