/**
 * Pieces every kernel generator shares: the generator's inputs and outputs, the dispatch
 * grid (1-D, or 2-D/3-D when the workgroup count exceeds maxComputeWorkgroupsPerDimension),
 * the kernel's comment header, and the entry point's builtins.
 */
import type { KernelKind } from '../kernel.ts';
import type { DType, Node } from '../ir.ts';
import type { Target } from '../target.ts';
import { type Ix, ixDelinearize, ixVar } from './index_expr.ts';
import type { AttentionConfig, ReductionConfig, TileConfig } from './tile.ts';
import type { Storage } from './values.ts';
import type { SubgroupMatrixSupport, SubgroupMatrixTiles } from './subgroup_matrix.ts';
import { KernelWriter } from './writer.ts';

export interface GenContext {
  readonly target: Target;
  readonly storage: Storage;
  /** The tensor a stored node lives in; throws if it is not stored. */
  tensorOf(n: Node): number;
  /** Tile overrides (an autotuner's choice); defaults come from the target. */
  readonly tiles?: {
    readonly contraction?: TileConfig;
    readonly reduction?: ReductionConfig;
    readonly attention?: AttentionConfig;
    /** A matmul on subgroup matrices: its fragments per subgroup, or `off` for register tiles. */
    readonly subgroupMatrix?: SubgroupMatrixTiles;
  };
  /** Tensors to bind as vec4 arrays (from a first generation pass; see WriterOptions). */
  readonly vectorPlan?: ReadonlySet<number>;
  /** Storage dtypes that differ from the logical ones (see WriterOptions.storageOf). */
  readonly storageOf?: (tensor: number) => DType | undefined;
  /** The adapter's subgroup-matrix configurations, when it has them (subgroup_matrix.ts). */
  readonly subgroupMatrix?: SubgroupMatrixSupport;
}

export type KernelTiles = NonNullable<GenContext['tiles']>;

export interface GeneratedKernel {
  readonly wgsl: string;
  readonly workgroups: readonly [number, number, number];
  readonly bindings: readonly { tensor: number; access: 'read' | 'read_write' }[];
  readonly kind: KernelKind;
  readonly sourceOps: readonly string[];
  readonly flops: number;
  /** Tensors the kernel accessed four elements at a time (the next pass's vectorPlan). */
  readonly vectorAccessed: ReadonlySet<number>;
}

export const BUILTINS =
  '@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) lidx: u32';

/** A grid of at least `count` workgroups within the per-dimension limit. */
export function dispatchGrid(count: number, target: Target): [number, number, number] {
  const max = target.limits.maxComputeWorkgroupsPerDimension;
  const c = Math.max(1, count);
  if (c <= max) return [c, 1, 1];
  const y = Math.ceil(c / max);
  if (y <= max) return [Math.ceil(c / y), y, 1];
  const z = Math.ceil(c / (max * max));
  if (z > max) throw new Error(`dispatch of ${count} workgroups exceeds the device's grid`);
  const yz = Math.ceil(c / (max * z));
  return [Math.ceil(c / (yz * z)), yz, z];
}

/**
 * Emits the linear workgroup index and the early exit of surplus workgroups (uniform control
 * flow: it depends on the workgroup id only). Returns it as an Ix in [0, count).
 */
export function workgroupIndex(w: KernelWriter, grid: readonly [number, number, number], count: number): Ix {
  const [x, y] = grid;
  let expr = 'wid.x';
  if (grid[1] > 1 || grid[2] > 1) expr += ` + wid.y * ${x}u`;
  if (grid[2] > 1) expr += ` + wid.z * ${x * y}u`;
  w.stmt(`let wg = ${expr};`);
  if (grid[0] * grid[1] * grid[2] > count) w.stmt(`if (wg >= ${count}u) { return; }`);
  return ixVar('wg', 0, Math.max(0, count - 1), 0);
}

/** The grid of one workgroup per cell of `cells` (e.g. [batch, tiles along M, tiles along N]) and this workgroup's cell. */
export function workgroupCell(w: KernelWriter, target: Target, cells: readonly number[]): { grid: [number, number, number]; cell: Ix[] } {
  const count = cells.reduce((a, b) => a * b, 1);
  const grid = dispatchGrid(count, target);
  return { grid, cell: ixDelinearize(workgroupIndex(w, grid, count), cells) };
}

export function kernelHeader(name: string, kind: KernelKind, detail: string, sourceOps: readonly string[]): string {
  const lines = [`// Kiln kernel ${name}`, `// kind: ${kind}${detail ? ` (${detail})` : ''}`, '// source ops:'];
  for (const s of sourceOps) lines.push(`//   ${s}`);
  lines.push('');
  return lines.join('\n');
}

/** A writer configured for the target's quirks. */
export function newWriter(ctx: GenContext): KernelWriter {
  return new KernelWriter({ opaqueLoopBounds: ctx.target.adapter.isFallbackAdapter, fencedBarriers: ctx.target.adapter.backend === 'opengles', vectorPlan: ctx.vectorPlan, limits: ctx.target.limits, storageOf: ctx.storageOf });
}
