/**
 * The tile configurations the autotuner times for one kernel: the target's heuristic choice
 * first (so tuning can only match or beat it), then a small family around it — register tiles
 * and thread shapes that suit a CPU adapter (lavapipe: large per-thread tiles, few threads) or
 * a GPU (more threads, smaller register tiles). Each is fitted to the kernel's sizes and the
 * target's limits (tile.ts), and duplicates left by fitting are dropped.
 */
import type { ConvNode, ReduceNode } from '../ir.ts';
import { numel } from '../ir.ts';
import type { Target } from '../target.ts';
import type { KernelTiles } from '../codegen/common.ts';
import type { SubgroupMatrixSupport } from '../codegen/subgroup_matrix.ts';
import {
  type AttentionConfig, type ReductionConfig, type TileConfig,
  GPU_STAGE_CHANNELS, GPU_STAGE_K, defaultAttentionConfig, defaultContractionTile, defaultReductionConfig, fitAttentionConfig, fitContractionTile, stagedTileBytes,
} from '../codegen/tile.ts';
import type { KernelGroup } from '../passes/schedule.ts';

type Shape4 = readonly [wgM: number, wgN: number, rm: number, rn: number];

// Measured on lavapipe: per-thread tiles of 8x4 to 8x8 outputs lead (8x8 with channels-last
// convolution weights, whose four-channel groups are vec4 loads); 4x4 trails.
const CPU_TILES: readonly Shape4[] = [[8, 8, 8, 4], [16, 4, 8, 8], [8, 4, 8, 8], [8, 8, 8, 8], [4, 8, 8, 4], [16, 4, 8, 4], [8, 8, 4, 8]];
// Discrete GPUs: 64-256 threads, 2x4 to 4x4 outputs each.
const GPU_TILES: readonly Shape4[] = [[16, 16, 4, 4], [16, 16, 2, 4], [16, 16, 4, 2], [8, 16, 4, 4], [16, 8, 4, 4], [8, 8, 4, 4], [32, 8, 4, 4], [16, 16, 8, 4]];

const CPU_ATTENTION: readonly AttentionConfig[] = [
  { rows: 16, lanes: 1, perThread: 4 }, { rows: 8, lanes: 1, perThread: 8 }, { rows: 32, lanes: 1, perThread: 2 },
  { rows: 4, lanes: 4, perThread: 8 }, { rows: 4, lanes: 8, perThread: 4 }, { rows: 8, lanes: 4, perThread: 4 },
];
const GPU_ATTENTION: readonly AttentionConfig[] = [
  { rows: 4, lanes: 16, perThread: 2 }, { rows: 4, lanes: 16, perThread: 4 }, { rows: 8, lanes: 8, perThread: 2 }, { rows: 2, lanes: 32, perThread: 2 }, { rows: 8, lanes: 16, perThread: 1 },
];

const key = (x: unknown): string => JSON.stringify(x);

function unique<T>(xs: readonly T[]): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => { const k = key(x); if (seen.has(k)) return false; seen.add(k); return true; });
}

/**
 * Contraction tiles. For a matmul whose contracted length k is a multiple of 4, the first few
 * shapes are also tried with the k loop unrolled by 4, which lets a thread load four
 * consecutive k of a row of A as one vec4.
 */
export function contractionCandidates(target: Target, m: number, n: number, rowLength?: number, k?: number): TileConfig[] {
  const base = defaultContractionTile(target, m, n, rowLength);
  const cpu = target.adapter.isFallbackAdapter;
  const family = cpu ? CPU_TILES : GPU_TILES;
  // [shape, unrollK, stageK]
  const shapes: [Shape4, number, number][] = family.map((f) => [f, 1, 0]);
  if (rowLength === undefined && k !== undefined && k % 4 === 0) for (const f of family.slice(0, 3)) shapes.push([f, 4, 0]);
  // On a GPU every shape also with its operands staged in workgroup memory (the first two with longer chunks too).
  if (!cpu) {
    const stage = rowLength === undefined ? GPU_STAGE_K : GPU_STAGE_CHANNELS;
    for (const f of family) shapes.push([f, 1, stage]);
    for (const f of family.slice(0, 2)) shapes.push([f, 1, 2 * stage]);
  }
  const fitted = shapes.map(([[wgM, wgN, rm, rn], unrollK, stageK]) => fitContractionTile(target, { wgM, wgN, rm, rn, unrollK, unrollTaps: false, ...(stageK ? { stageK } : {}) }, m, n, rowLength));
  return unique([base, ...fitted]);
}

export function reductionCandidates(target: Target, rows: number, rowLength: number): ReductionConfig[] {
  const base = defaultReductionConfig(target, rows, rowLength);
  const maxInv = Math.min(target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
  const list: ReductionConfig[] = [base];
  const widths = target.adapter.isFallbackAdapter ? [8, 16, 32, 64, 256] : [32, 64, 128, 256];
  for (const t of widths) if (t <= maxInv && t <= 2 * rowLength) list.push({ threadsPerRow: t, rowsPerWorkgroup: 1 });
  if (rows >= 16) for (const r of [16, 64]) if (r <= maxInv) list.push({ threadsPerRow: 1, rowsPerWorkgroup: r });
  return unique(list);
}

export function attentionCandidates(target: Target, lq: number): AttentionConfig[] {
  const base = defaultAttentionConfig(target, lq);
  const family = target.adapter.isFallbackAdapter ? CPU_ATTENTION : GPU_ATTENTION;
  const fitted = family.filter((c) => c.lanes <= target.limits.maxComputeWorkgroupSizeX).map((c) => fitAttentionConfig(target, c, lq));
  return unique([base, ...fitted]);
}

/**
 * Result fragments per subgroup tried on subgroup matrices. A matmul takes each only where it
 * divides the output (elsewhere the kernel takes the heuristic's count, and the tuner sees the
 * same code again and times it once); a convolution where its tiles fit in workgroup memory
 * (elsewhere it is the register-tiled kernel, as with 'off'); attention reads them as query-row
 * and key fragments of its scores, where the tiles fit (elsewhere the heuristic's).
 */
const SUBGROUP_MATRIX_FRAGMENTS: readonly (readonly [number, number])[] = [[1, 1], [2, 1], [1, 2], [2, 2], [4, 2], [2, 4], [4, 4]];

/**
 * Every candidate for a kernel group, as tile overrides; empty for untunable (elementwise)
 * kernels. With `subgroupMatrix` (the adapter has configurations), a matmul's and a
 * convolution's candidates include subgroup-matrix fragment counts (withSubgroupMatrices), and
 * attention's the subgroup-matrix kernel beside the scalar one's configurations.
 */
export function candidatesFor(g: KernelGroup, target: Target, subgroupMatrix?: SubgroupMatrixSupport): KernelTiles[] {
  switch (g.kind) {
    case 'elementwise': return [];
    case 'conv': {
      const conv = g.epi.anchor as ConvNode;
      const out = conv.shape.slice(2);
      return withSubgroupMatrices(contractionCandidates(target, conv.shape[0] * numel(out), conv.shape[1], out[out.length - 1]), subgroupMatrix);
    }
    case 'matmul': {
      const r = g.epi.anchor.shape.length;
      const mm = g.epi.anchor;
      return withSubgroupMatrices(contractionCandidates(target, mm.shape[r - 2], mm.shape[r - 1], undefined, mm.src[0].shape[r - 1]), subgroupMatrix);
    }
    case 'reduction': {
      const first = g.chain[0].anchor as ReduceNode;
      const len = numel(first.axes.map((a) => first.src[0].shape[a]));
      return reductionCandidates(target, numel(first.shape), len).map((reduction) => ({ reduction }));
    }
    case 'attention': {
      const r = g.att.qk.shape.length;
      const scalar = attentionCandidates(target, g.att.qk.shape[r - 2]);
      // With subgroup matrices: the heuristic first (subgroup matrices where they fit), then
      // query-row and key fragment counts, then the scalar kernel's configurations.
      if (!subgroupMatrix) return scalar.map((attention) => ({ attention }));
      return [
        { attention: scalar[0] },
        ...SUBGROUP_MATRIX_FRAGMENTS.map((fragments) => ({ attention: scalar[0], subgroupMatrix: { fragments } })),
        ...scalar.map((attention) => ({ attention, subgroupMatrix: 'off' as const })),
      ];
    }
  }
}

/**
 * A contraction's candidates: its register tiles, or with subgroup matrices the heuristic first
 * (subgroup matrices where they fit), then fragment counts, then the register tiles with
 * subgroup matrices off. Every candidate carries a contraction tile (the heuristic's where it
 * does not matter), so each is a complete entry.
 */
function withSubgroupMatrices(tiles: readonly TileConfig[], subgroupMatrix: SubgroupMatrixSupport | undefined): KernelTiles[] {
  if (!subgroupMatrix) return tiles.map((contraction) => ({ contraction }));
  return [
    { contraction: tiles[0] },
    ...SUBGROUP_MATRIX_FRAGMENTS.map((fragments) => ({ contraction: tiles[0], subgroupMatrix: { fragments } })),
    ...tiles.map((contraction) => ({ contraction, subgroupMatrix: 'off' as const })),
  ];
}

const pow2 = (n: number): boolean => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
const posInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1;

/**
 * Why a stored choice cannot be used on `target` (malformed, or beyond its limits), or
 * undefined when it can. Cache entries are checked with this before compile sees them.
 */
export function tilesProblem(t: KernelTiles, target: Target): string | undefined {
  const L = target.limits;
  const c = t.contraction;
  if (c) {
    if (![c.wgM, c.wgN, c.rm, c.rn, c.unrollK].every(posInt) || typeof c.unrollTaps !== 'boolean') return 'malformed contraction tile';
    if (c.wgM * c.wgN > L.maxComputeInvocationsPerWorkgroup || c.wgN > L.maxComputeWorkgroupSizeX || c.wgM > L.maxComputeWorkgroupSizeY) return `workgroup ${c.wgN}x${c.wgM} beyond the device's limits`;
    if (c.rm * c.rn > 256) return `register tile ${c.rm}x${c.rn} too large`;
    if (c.stageK !== undefined && !(Number.isInteger(c.stageK) && c.stageK >= 0)) return 'malformed contraction tile';
    if (stagedTileBytes(c) > L.maxComputeWorkgroupStorageSize) return `staged chunk of ${c.stageK} steps beyond the device's workgroup memory`;
  }
  const r = t.reduction;
  if (r) {
    if (!pow2(r.threadsPerRow) || !posInt(r.rowsPerWorkgroup)) return 'malformed reduction config';
    const size = r.threadsPerRow > 1 ? r.threadsPerRow : r.rowsPerWorkgroup;
    if (size > Math.min(L.maxComputeInvocationsPerWorkgroup, L.maxComputeWorkgroupSizeX)) return `reduction workgroup of ${size} beyond the device's limits`;
    if (r.threadsPerRow * 4 > L.maxComputeWorkgroupStorageSize) return 'reduction workgroup memory beyond the device\'s limits';
  }
  const a = t.attention;
  if (a) {
    if (![a.rows, a.lanes, a.perThread].every(posInt)) return 'malformed attention config';
    if (a.rows * a.lanes > L.maxComputeInvocationsPerWorkgroup || a.lanes > L.maxComputeWorkgroupSizeX || a.rows > L.maxComputeWorkgroupSizeY) return 'attention workgroup beyond the device\'s limits';
    if (a.rows * a.perThread * a.lanes * (a.lanes + 1) * 4 > L.maxComputeWorkgroupStorageSize) return 'attention workgroup memory beyond the device\'s limits';
  }
  const sm = t.subgroupMatrix;
  if (sm !== undefined && sm !== 'off') {
    const f = (sm as { fragments?: unknown }).fragments;
    if (!Array.isArray(f) || f.length !== 2 || !f.every((x) => posInt(x) && x <= 8)) return 'malformed subgroup-matrix choice';
  }
  if (!c && !r && !a) return 'empty entry';
  return undefined;
}
