/**
 * Kernel generation for a whole schedule: names each group's kernel, dispatches to the
 * generator of its kind, and turns index-range failures into CompileErrors naming the kernel.
 *
 * Tile choice per kernel, most specific first: `tiles` (one override for every kernel of a
 * kind, e.g. a test's), then `tilesFor(group)` (an autotuner's choice for this kernel's
 * signature), then each generator's heuristic for the target.
 */
import type { Node } from '../ir.ts';
import type { Kernel, TensorInfo } from '../kernel.ts';
import type { Target } from '../target.ts';
import { CompileError } from '../passes/errors.ts';
import { type KernelGroup, type Schedule, groupOutputs } from '../passes/schedule.ts';
import { numel } from '../ir.ts';
import type { TensorAssignment } from '../passes/tensors.ts';
import { generateAttention } from './attention.ts';
import type { GenContext, GeneratedKernel, KernelTiles } from './common.ts';
import { generateConv } from './conv.ts';
import { generateElementwise } from './elementwise.ts';
import { generateMatmul } from './matmul.ts';
import { generateSubgroupMatrixMatmul, type SubgroupMatrixSupport } from './subgroup_matrix.ts';
import { generateSubgroupMatrixAttention } from './subgroup_matrix_attention.ts';
import { generateSubgroupMatrixConv } from './subgroup_matrix_conv.ts';
import { generateStagedSubgroupMatrixMatmul } from './subgroup_matrix_staged.ts';
import { generateReduction } from './reduction.ts';
import { IndexRangeError } from './writer.ts';
import { ACTIVATION_ADVICE } from '../passes/tensors.ts';

const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '');

function mainNode(g: KernelGroup): Node {
  switch (g.kind) {
    case 'elementwise': return g.node;
    case 'reduction': return g.chain[0].anchor;
    case 'matmul': case 'conv': return g.epi.anchor;
    case 'attention': return g.att.pv;
  }
}

export function kernelName(g: KernelGroup, index: number, width: number): string {
  const n = mainNode(g);
  const what = g.kind === 'elementwise' ? (g.own ? n.op : 'copy') : g.kind === 'reduction' ? (g.chain.length > 1 ? 'rowchain' : 'reduce') : g.kind;
  const path = sanitize(n.origin.path);
  return `k${String(index).padStart(width, '0')}_${what}${path ? `_${path}` : ''}`;
}

function generateGroup(name: string, g: KernelGroup, ctx: GenContext, outputTensors: readonly number[]): GeneratedKernel {
  switch (g.kind) {
    case 'elementwise': {
      const out = g.outputIndex !== undefined ? outputTensors[g.outputIndex] : ctx.tensorOf(g.node);
      return generateElementwise(name, g.node, g.own, out, ctx);
    }
    case 'reduction': return generateReduction(name, g.chain, ctx);
    case 'matmul': {
      const sm = ctx.tiles?.subgroupMatrix;
      // Subgroup matrices straight from storage where the operands allow, else staged, else register tiles.
      const support = sm !== 'off' ? ctx.subgroupMatrix : undefined;
      const fragments = sm !== 'off' ? sm?.fragments : undefined;
      return (support && (generateSubgroupMatrixMatmul(name, g.epi, ctx, support, fragments) || generateStagedSubgroupMatrixMatmul(name, g.epi, ctx, support, fragments)))
        || generateMatmul(name, g.epi, ctx);
    }
    case 'conv': {
      const sm = ctx.tiles?.subgroupMatrix;
      return (ctx.subgroupMatrix && sm !== 'off' && generateSubgroupMatrixConv(name, g.epi, ctx, ctx.subgroupMatrix, sm?.fragments)) || generateConv(name, g.epi, ctx);
    }
    case 'attention': {
      // `tiles.attention` configures the scalar kernel, used where subgroup matrices are off or do not fit.
      const sm = ctx.tiles?.subgroupMatrix;
      return (ctx.subgroupMatrix && sm !== 'off' && generateSubgroupMatrixAttention(name, g.att, g.epi, ctx, ctx.subgroupMatrix, sm?.fragments)) || generateAttention(name, g.att, g.epi, ctx);
    }
  }
}

export interface GenerateOptions {
  /** One override per kernel kind, for every kernel (tests; a forced configuration). */
  readonly tiles?: KernelTiles;
  /** Per-kernel choices (an autotuner's), consulted after `tiles`. */
  readonly tilesFor?: (g: KernelGroup) => KernelTiles | undefined;
}

/** The tensors (with their storage dtypes) and the lookups a generation pass needs. */
export interface KernelSetting {
  readonly schedule: Schedule;
  readonly assignment: TensorAssignment;
  /** The assignment's tensors, possibly with other storage dtypes (compile's `storage`). */
  readonly tensors: readonly TensorInfo[];
  readonly target: Target;
  /** Matmuls, convolutions and attention use subgroup matrices where these configurations fit. */
  readonly subgroupMatrix?: SubgroupMatrixSupport;
}

/** The groups that produce a kernel (a group whose outputs have no elements has nothing to do). */
export function kernelGroups(s: Schedule): KernelGroup[] {
  return s.groups.filter((g) => g.kind === 'elementwise' ? numel(g.node.shape) > 0 : groupOutputs(g).some((n) => numel(n.shape) > 0));
}

function baseContext(k: KernelSetting): Omit<GenContext, 'tiles'> {
  const { schedule: s, assignment: a } = k;
  const storage = new Map<number, TensorInfo['dtype']>();
  for (const t of k.tensors) if (t.dtype !== a.tensors[t.id].dtype) storage.set(t.id, t.dtype);
  return {
    target: k.target,
    storage: { tensorOf: (n) => (s.materialised.has(n.id) ? a.tensorOfNode.get(n.id) : undefined), packOf: (n) => s.packs.get(n.id) },
    tensorOf: (n) => {
      const t = a.tensorOfNode.get(n.id);
      if (t === undefined) throw new Error(`codegen: %${n.id} has no tensor`);
      return t;
    },
    storageOf: storage.size > 0 ? (t) => storage.get(t) : undefined,
    subgroupMatrix: k.subgroupMatrix,
  };
}

/** One kernel of `group` (the `index`-th of `count`) with the given tiles. */
export function generateKernel(k: KernelSetting, group: KernelGroup, index: number, count: number, tiles: KernelTiles | undefined): Kernel {
  const ctx: GenContext = { ...baseContext(k), tiles };
  const name = kernelName(group, index, Math.max(2, String(Math.max(0, count - 1)).length));
  let g: GeneratedKernel;
  try {
    g = generateGroup(name, group, ctx, k.assignment.outputTensors);
    // Second pass: bind the tensors the first pass read four at a time as vec4 arrays.
    if (g.vectorAccessed.size > 0) g = generateGroup(name, group, { ...ctx, vectorPlan: g.vectorAccessed }, k.assignment.outputTensors);
  } catch (e) {
    if (e instanceof IndexRangeError) {
      throw new CompileError(`kernel ${name} needs an index beyond 32 bits (${e.message}). ${ACTIVATION_ADVICE}.`);
    }
    throw e;
  }
  const bytes = g.bindings.reduce((sum, b) => sum + k.tensors[b.tensor].bytes, 0);
  return { name, wgsl: g.wgsl, workgroups: g.workgroups, bindings: g.bindings, kind: g.kind, sourceOps: g.sourceOps, flops: g.flops, bytes };
}

/** Merges a per-kernel choice under the global overrides (which win, kind by kind). */
export function tilesForGroup(g: KernelGroup, opts: GenerateOptions): KernelTiles | undefined {
  const chosen = opts.tilesFor?.(g);
  if (!opts.tiles) return chosen;
  if (!chosen) return opts.tiles;
  return { ...chosen, ...Object.fromEntries(Object.entries(opts.tiles).filter(([, v]) => v !== undefined)) };
}

export function generateKernels(k: KernelSetting, opts: GenerateOptions = {}): Kernel[] {
  const groups = kernelGroups(k.schedule);
  return groups.map((g, i) => generateKernel(k, g, i, groups.length, tilesForGroup(g, opts)));
}
