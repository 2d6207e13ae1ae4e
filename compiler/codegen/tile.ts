/**
 * Tile parameters of the generated kernels, chosen per target (an autotuner may override
 * them; each is an explicit argument of its generator).
 *
 * Vocabulary (contractions: C[M, N] = Σ_K A[M, K] · B[K, N]; for a convolution M is the
 * output positions, N the output channels, K the input channels times the kernel taps)
 * - wgM × wgN: threads per workgroup along M and N.
 * - rm × rn: outputs per thread (its register tile); a workgroup covers (wgM·rm) × (wgN·rn).
 * - unrollK: the K loop body is repeated this many times per iteration (matmul), and
 *   `unrollTaps` unrolls a convolution's kernel-tap loops (constant offsets simplify). Both
 *   are off by default: on lavapipe they multiply shader-compile time for no run-time gain.
 * - stageK: operands staged in workgroup memory a chunk at a time (a matmul's K steps, a
 *   convolution's input channels; 0: none).
 * Lavapipe (a CPU) is load-bound: large register tiles beat workgroup-memory tiling there
 * (the hand-written matmul with 64×64 tiles in workgroup memory ran at 5 GFLOP/s against 15 for
 * register tiles), while discrete GPUs want more threads per workgroup, smaller register tiles
 * and operands shared through workgroup memory.
 */
import type { Target } from '../target.ts';

export interface TileConfig {
  readonly wgM: number;
  readonly wgN: number;
  readonly rm: number;
  readonly rn: number;
  readonly unrollK: number;
  readonly unrollTaps: boolean;
  /**
   * Operands staged in workgroup memory, a chunk of K at a time: for a matmul, K steps per
   * chunk (its rows of A and columns of B); for a convolution, input channels per chunk (the
   * inputs its segments read and the weights, one row of taps at a time). The workgroup copies
   * each chunk together (prologue applied once per element), then every thread accumulates
   * from it. Absent or 0: operands are read straight from storage (what a CPU adapter wants:
   * its caches do this job, and barriers cost a pass over all lanes).
   */
  readonly stageK?: number;
}

/** K steps per staged chunk of the GPU heuristic's matmul tile. */
export const GPU_STAGE_K = 16;
/** Input channels per staged chunk of the GPU heuristic's convolution tile. */
export const GPU_STAGE_CHANNELS = 8;

/**
 * Workgroup-memory bytes of a staged matmul tile: a chunk of A (rows x stageK) and of B
 * (stageK x columns). A convolution's use depends on its taps and stride; it shrinks its chunk
 * to fit when it generates, so for a convolution this is only the bound cached entries are held to.
 */
export const stagedTileBytes = (t: TileConfig): number => 4 * (t.stageK ?? 0) * (t.wgM * t.rm + t.wgN * t.rn);

export interface ReductionConfig {
  /** Threads cooperating on one row (a power of two); 1 means one thread per row. */
  readonly threadsPerRow: number;
  /** Rows per workgroup in the one-thread-per-row form. */
  readonly rowsPerWorkgroup: number;
}

export interface AttentionConfig {
  /** Threads along the query direction per workgroup. */
  readonly rows: number;
  /** Threads per query row, which is also the key tile length. */
  readonly lanes: number;
  /** Queries per thread (register blocking: each loaded key and value serves them all). */
  readonly perThread: number;
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Shrinks a tile dimension (threads, then registers) so it does not dwarf a small extent. */
function fit(threads: number, regs: number, extent: number): [number, number] {
  while (threads > 1 && threads * regs >= 2 * extent) threads /= 2;
  while (regs > 1 && threads * regs >= 2 * extent) regs /= 2;
  return [threads, regs];
}

/**
 * The default tile for C[M, N]. For a convolution pass `rowLength` (the last output axis):
 * each thread's rm positions lie along it, so rm is fitted to it.
 */
export function defaultContractionTile(target: Target, m: number, n: number, rowLength?: number): TileConfig {
  const cpu = target.adapter.isFallbackAdapter;
  // Measured on lavapipe (conv3d 128->128 on 5x64x64): 8x8 register tiles ~28 GFLOP/s, 8x4
  // ~27, 4x8 ~21. A tile that size lives on the stack, not in registers; what keeps it fast is
  // that each accumulator's fmas are adjacent (register_tile.ts). But LLVM takes about twice
  // as long to compile 8x8 (tiny VAE decoder, 8-16 channels, cold shader cache: 24 s with 8x4,
  // 58 s with 8x8, for a 15% faster warm call), so it is the default only for wide outputs,
  // where run time outweighs the one-off compile (medium decoder, 32-128 channels: 2.1 s ->
  // 1.3 s per call; 1.1 s with 8x8 everywhere). Unrolling costs far more compile time than it saves (a 3x3x3
  // convolution with unrolled taps took ~10 s to compile and ran slower than the loop).
  const rn = cpu && n >= 64 ? 8 : 4;
  // GPUs: a matmul stages its operands in workgroup memory (K by 16). A convolution reads its
  // own: staged ones are a tuner candidate until a GPU run shows they pay. (Their accuracy is
  // no reason against them: in f16 their convolutions, encoder and decoder err as the direct
  // form does; bench/ANALYSIS.md, f16 storage.)
  const stageK = !cpu && rowLength === undefined ? GPU_STAGE_K : undefined;
  return fitContractionTile(target, { wgM: cpu ? 8 : 16, wgN: cpu ? 8 : 16, rm: cpu ? 8 : 4, rn, unrollK: 1, unrollTaps: false, ...(stageK ? { stageK } : {}) }, m, n, rowLength);
}

/**
 * `t` shrunk to the problem (threads, then registers, so a tile does not dwarf a small extent;
 * a convolution's rm to its row length) and to the target's workgroup limits. The autotuner's
 * candidates go through it too, so every configuration it times is one the device accepts.
 */
export function fitContractionTile(target: Target, t: TileConfig, m: number, n: number, rowLength?: number): TileConfig {
  const maxInv = target.limits.maxComputeInvocationsPerWorkgroup;
  let rm = t.rm;
  if (rowLength !== undefined) while (rm > 1 && rm >= 2 * rowLength) rm /= 2;
  let [wgM, rmFit] = fit(t.wgM, rm, m);
  if (rowLength === undefined) rm = rmFit;
  let [wgN, rn] = fit(t.wgN, t.rn, n);
  while (wgM * wgN > maxInv) { if (wgM >= wgN) wgM /= 2; else wgN /= 2; }
  wgM = Math.min(wgM, target.limits.maxComputeWorkgroupSizeY);
  wgN = Math.min(wgN, target.limits.maxComputeWorkgroupSizeX);
  const fitted = { ...t, wgM, wgN, rm, rn };
  // A convolution fits its chunk of channels when it generates (it knows its taps and stride).
  if (rowLength !== undefined) return fitted;
  // A matmul's staged chunk is halved until it fits the workgroup memory (dropped below 4 steps).
  let stageK = t.stageK ?? 0;
  while (stageK >= 4 && stagedTileBytes({ ...fitted, stageK }) > target.limits.maxComputeWorkgroupStorageSize) stageK /= 2;
  if (stageK < 4) { const { stageK: _, ...rest } = fitted; return rest; }
  return { ...fitted, stageK };
}

export function defaultReductionConfig(target: Target, rows: number, rowLength: number): ReductionConfig {
  const maxInv = Math.min(target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
  if (rowLength < 64 && rows >= 64) return { threadsPerRow: 1, rowsPerWorkgroup: Math.min(64, maxInv) };
  // A CPU adapter (lavapipe) runs a workgroup on one core, its threads as SIMD lanes, and each
  // barrier of the combining tree costs a pass over all of them: 16 threads per row (two 8-lane
  // rows) read GroupNorm statistics' rows ~1.5x faster than 256 (measured on 32 rows of 81920).
  const cap = target.adapter.isFallbackAdapter ? 16 : 256;
  return { threadsPerRow: Math.max(1, Math.min(cap, maxInv, nextPow2(rowLength))), rowsPerWorkgroup: 1 };
}

export function defaultAttentionConfig(target: Target, lq: number): AttentionConfig {
  // Lavapipe: whole query rows per thread (attention_rows.ts), 4 per thread, 16 threads.
  // `npx tsx bench/experiments/attention_configs.ts` on lavapipe (GFLOP/s; 2 heads x 512 tokens
  // d 128 / 4 x 2600 d 32 / 1 x 1024 d 512): 16 threads x 4 rows 3.4 / 3.9 / 4.3, 8 x 8 rows
  // 2.9 / 2.8 / 3.0, the lane-split kernel's best 2.4 / 1.5 / 2.9.
  // GPUs: the lane-split kernel, more lanes for coalesced loads.
  if (target.adapter.isFallbackAdapter) return fitAttentionConfig(target, { rows: 16, lanes: 1, perThread: 4 }, lq);
  return fitAttentionConfig(target, { rows: 4, lanes: 16, perThread: 2 }, lq);
}

/** `c` with queries per thread, then rows, halved until it suits `lq` queries and the target's limits. */
export function fitAttentionConfig(target: Target, c: AttentionConfig, lq: number): AttentionConfig {
  const lanes = c.lanes;
  let rows = c.rows;
  let perThread = c.perThread;
  const shrink = (): boolean => {
    if (perThread > 1) { perThread /= 2; return true; }
    if (rows > 1) { rows /= 2; return true; }
    return false;
  };
  while (rows * perThread >= 2 * lq && shrink());
  // Workgroup memory: partial dots (rows*perThread*lanes*lanes) and scores (rows*perThread*lanes), f32.
  const bytes = (): number => (rows * perThread * lanes * (lanes + 1)) * 4;
  while ((bytes() > target.limits.maxComputeWorkgroupStorageSize || rows * lanes > target.limits.maxComputeInvocationsPerWorkgroup) && shrink());
  return { rows, lanes, perThread };
}

export function elementwiseWorkgroupSize(target: Target): number {
  return Math.min(256, target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
}

/**
 * How many 4-element groups along the last axis each elementwise thread computes (0: one
 * scalar element per thread, when the last axis is not a multiple of 4 or the tensor is
 * small). GPUs: one vec4 per thread keeps neighbouring threads' accesses coalesced. A CPU
 * adapter (lavapipe) runs a workgroup's threads as SIMD lanes in a loop, so several vec4s per
 * thread share one thread's index arithmetic and per-channel parameter loads (fewer where
 * the last axis or the tensor is too short for four).
 */
export function elementwiseVectorsPerThread(target: Target, last: number, total: number): number {
  if (last % 4 !== 0 || total < 1024) return 0;
  if (!target.adapter.isFallbackAdapter) return 1;
  // Measured on lavapipe (GroupNorm's normalise-scale-shift-SiLU on [1,128,5,64,64]): 4 vec4s
  // per thread ~10 GB/s, 2 ~8.6, 1 ~6.6, 8 ~7.2.
  let vecs = 4;
  while (vecs > 1 && (last % (4 * vecs) !== 0 || total < 1024 * vecs)) vecs /= 2;
  return vecs;
}
