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
 * Lavapipe (a CPU) is load-bound: large register tiles beat workgroup-memory tiling there,
 * while discrete GPUs want more threads per workgroup and smaller register tiles.
 */
import type { Target } from '../target.ts';

export interface TileConfig {
  readonly wgM: number;
  readonly wgN: number;
  readonly rm: number;
  readonly rn: number;
  readonly unrollK: number;
  readonly unrollTaps: boolean;
}

export interface ReductionConfig {
  /** Threads cooperating on one row (a power of two); 1 means one thread per row. */
  readonly threadsPerRow: number;
  /** Rows per workgroup in the one-thread-per-row form. */
  readonly rowsPerWorkgroup: number;
}

export interface AttentionConfig {
  /** Query rows per workgroup. */
  readonly rows: number;
  /** Threads per query row, which is also the key tile length. */
  readonly lanes: number;
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Shrinks a tile dimension (threads, then registers) so it does not dwarf a small extent. */
function fit(threads: number, regs: number, extent: number): [number, number] {
  while (threads > 1 && threads * regs >= 2 * extent) threads /= 2;
  while (regs > 1 && threads * regs >= 2 * extent) regs /= 2;
  return [threads, regs];
}

/**
 * For a convolution pass `rowLength` (the last output axis): each thread's rm positions lie
 * along it, so rm is fitted to it and wgM to the number of such segments.
 */
export function defaultContractionTile(target: Target, m: number, n: number, k: number, taps = 1, rowLength?: number): TileConfig {
  const cpu = target.adapter.isFallbackAdapter;
  const maxInv = target.limits.maxComputeInvocationsPerWorkgroup;
  // Measured on lavapipe (conv3d 64->64 on 5x32x32 with a GroupNorm+SiLU prologue, matmul
  // 1024x512x512): 8x4 register tiles reach ~13 and ~8 GFLOP/s, 4x4 ~5-7 and ~5, 8x8 spills.
  let rm = cpu ? 8 : 4;
  if (rowLength !== undefined) while (rm > 1 && rm >= 2 * rowLength) rm /= 2;
  let [wgM, rmFit] = fit(cpu ? 8 : 16, rm, rowLength !== undefined ? Math.ceil(m / rowLength) * rowLength : m);
  rm = rowLength !== undefined ? rm : rmFit;
  let [wgN, rn] = fit(cpu ? 8 : 16, 4, n);
  while (wgM * wgN > maxInv) { if (wgM >= wgN) wgM /= 2; else wgN /= 2; }
  wgM = Math.min(wgM, target.limits.maxComputeWorkgroupSizeY);
  wgN = Math.min(wgN, target.limits.maxComputeWorkgroupSizeX);
  // Unrolling costs far more shader-compile time than it saves (LLVM on lavapipe: a 3x3x3
  // convolution with unrolled taps took ~10 s to compile and ran slower than the loop).
  void k; void taps;
  return { wgM, wgN, rm, rn, unrollK: 1, unrollTaps: false };
}

export function defaultReductionConfig(target: Target, rows: number, rowLength: number): ReductionConfig {
  const maxInv = Math.min(target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
  if (rowLength < 64 && rows >= 64) return { threadsPerRow: 1, rowsPerWorkgroup: Math.min(64, maxInv) };
  return { threadsPerRow: Math.max(1, Math.min(256, maxInv, nextPow2(rowLength))), rowsPerWorkgroup: 1 };
}

export function defaultAttentionConfig(target: Target, lq: number): AttentionConfig {
  const lanes = 16;
  let rows = Math.min(8, nextPow2(lq));
  // Workgroup memory: partial dots rows*lanes*lanes plus scores rows*lanes, f32.
  while (rows > 1 && (rows * lanes * lanes + rows * lanes) * 4 > target.limits.maxComputeWorkgroupStorageSize) rows /= 2;
  while (rows > 1 && rows * lanes > target.limits.maxComputeInvocationsPerWorkgroup) rows /= 2;
  return { rows, lanes };
}

export function elementwiseWorkgroupSize(target: Target): number {
  return Math.min(256, target.limits.maxComputeInvocationsPerWorkgroup, target.limits.maxComputeWorkgroupSizeX);
}
