/**
 * The autotuner: for every tunable kernel of a program (contractions, reductions, attention),
 * time each candidate tile configuration (candidates.ts) on the device and keep the fastest
 * in the cache under (adapter, kernel signature); a winner other than the heuristic must beat
 * it again in confirmation rounds. Kernels sharing a signature are tuned once;
 * signatures already cached are skipped unless `force` is set.
 *
 * The compiler never talks to a GPU: timing is a `KernelTimer` the caller supplies (the
 * runtime's kernel timer runs one kernel on scratch buffers; tests pass a model of time).
 */
import type { Graph } from '../ir.ts';
import type { Kernel, TensorInfo } from '../kernel.ts';
import type { Target } from '../target.ts';
import type { KernelTiles } from '../codegen/common.ts';
import { generateKernel, kernelGroups } from '../codegen/generate.ts';
import { type CompileOptions, schedule } from '../compile.ts';
import type { KernelGroup } from '../passes/schedule.ts';
import { storageDTypes } from '../passes/storage.ts';
import { assignTensors, checkLimits } from '../passes/tensors.ts';
import { candidatesFor } from './candidates.ts';
import type { TuneCache } from './cache.ts';
import { kernelSignature } from './signature.ts';

/** Rounds of the winner against the heuristic, in turn, before the winner is cached. */
const CONFIRM_ROUNDS = 2;

/** Milliseconds one run of `kernel` takes, its bindings sized from `tensors`. */
export type KernelTimer = (kernel: Kernel, tensors: readonly TensorInfo[]) => Promise<number>;

export interface CandidateTime {
  readonly tiles: KernelTiles;
  /** Undefined when the candidate failed (its error is given). */
  readonly ms?: number;
  readonly error?: string;
}

export interface TunedKernel {
  readonly signature: string;
  /** The first kernel of the program with this signature. */
  readonly kernel: string;
  readonly kind: KernelGroup['kind'];
  readonly flops: number;
  /** What is in the cache now. */
  readonly chosen: KernelTiles;
  readonly ms: number;
  readonly heuristicMs?: number;
  readonly candidates: readonly CandidateTime[];
  /** True when the cache already had it and nothing was timed. */
  readonly fromCache: boolean;
}

export interface TuneOptions extends Pick<CompileOptions, 'fuse' | 'storage' | 'relayoutWeights' | 'subgroupMatrix'> {
  /** Retune signatures that are already cached. */
  readonly force?: boolean;
  /** Called before each kernel is tuned (index among the signatures to tune, their count). */
  readonly onKernel?: (info: { signature: string; kernel: string; index: number; count: number; candidates: number }) => void;
  /** Called after each candidate is timed. */
  readonly onCandidate?: (info: { signature: string; tiles: KernelTiles; ms?: number; error?: string }) => void;
}

/** The tunable kernels of `graph` on `target`: one per signature, in program order. */
export function tunableKernels(graph: Graph, target: Target, opts: TuneOptions = {}) {
  const storage = opts.storage ?? 'f32';
  const s = schedule(graph, target, opts);
  const a = assignTensors(s);
  const tensors = storageDTypes(s, a, storage);
  checkLimits(s, { ...a, tensors }, target);
  const setting = { schedule: s, assignment: a, tensors, target, subgroupMatrix: opts.subgroupMatrix };
  const groups = kernelGroups(s);
  const seen = new Set<string>();
  const out: { signature: string; group: KernelGroup; index: number; generate: (tiles: KernelTiles | undefined) => Kernel }[] = [];
  groups.forEach((g, index) => {
    const signature = kernelSignature(g, storage);
    if (signature === undefined || seen.has(signature)) return;
    seen.add(signature);
    out.push({ signature, group: g, index, generate: (tiles) => generateKernel(setting, g, index, groups.length, tiles) });
  });
  return { tensors, kernels: out };
}

/** Tunes every kernel of `graph` (see the file header), records the choices in `cache` and saves it. */
export async function tuneGraph(graph: Graph, target: Target, timer: KernelTimer, cache: TuneCache, opts: TuneOptions = {}): Promise<TunedKernel[]> {
  const { tensors, kernels } = tunableKernels(graph, target, opts);
  const todo = kernels.filter((k) => opts.force || cache.get(target, k.signature) === undefined);
  const results: TunedKernel[] = [];
  let index = 0;
  for (const k of kernels) {
    const cached = cache.get(target, k.signature);
    const heuristic = k.generate(undefined);
    if (cached && !opts.force) {
      results.push({ signature: k.signature, kernel: heuristic.name, kind: k.group.kind, flops: heuristic.flops, chosen: cached.tiles, ms: cached.ms, heuristicMs: cached.heuristicMs, candidates: [], fromCache: true });
      continue;
    }
    const candidates = candidatesFor(k.group, target, opts.subgroupMatrix);
    opts.onKernel?.({ signature: k.signature, kernel: heuristic.name, index: index++, count: todo.length, candidates: candidates.length });
    const times: CandidateTime[] = [];
    // Candidates that generate the same code (a choice the kernel's sizes do not allow) are timed once.
    const byCode = new Map<string, CandidateTime>();
    for (const tiles of candidates) {
      let t: CandidateTime;
      try {
        const kernel = k.generate(tiles);
        const same = byCode.get(kernel.wgsl);
        if (same) {
          t = { ...same, tiles };
        } else {
          byCode.set(kernel.wgsl, t = { tiles, ms: await timer(kernel, tensors) });
        }
      } catch (err) {
        t = { tiles, error: err instanceof Error ? err.message.split('\n')[0] : String(err) };
      }
      times.push(t);
      opts.onCandidate?.({ signature: k.signature, ...t });
    }
    // The heuristic ran first, right after its pipeline was made; time it once more so a
    // first-use cost (a driver compiling on first dispatch) does not count against it.
    if (times.length > 1 && times[0].ms !== undefined) {
      try {
        const again = await timer(k.generate(candidates[0]), tensors);
        if (again < times[0].ms) times[0] = { ...times[0], ms: again };
      } catch {
        // The first timing stands.
      }
    }
    const timed = times.filter((t): t is CandidateTime & { ms: number } => t.ms !== undefined && Number.isFinite(t.ms));
    if (timed.length === 0) {
      results.push({ signature: k.signature, kernel: heuristic.name, kind: k.group.kind, flops: heuristic.flops, chosen: candidates[0], ms: NaN, candidates: times, fromCache: false });
      continue;
    }
    let best = timed.reduce((a, b) => (b.ms < a.ms ? b : a));
    let heuristicMs = times[0].ms;
    // One timing per candidate can be won by noise (a machine busy elsewhere for a moment):
    // before a candidate replaces the heuristic, the two are timed again in turn, and the
    // faster of those timings decides; the sweep's (maybe lucky) time does not count.
    if (best !== times[0] && heuristicMs !== undefined) {
      let winner = Infinity;
      let incumbent = Infinity;
      try {
        for (let round = 0; round < CONFIRM_ROUNDS; round++) {
          winner = Math.min(winner, await timer(k.generate(best.tiles), tensors));
          incumbent = Math.min(incumbent, await timer(k.generate(candidates[0]), tensors));
        }
      } catch {
        // A failure here leaves the sweep's timings to decide.
      }
      if (Number.isFinite(winner) && Number.isFinite(incumbent)) {
        heuristicMs = incumbent;
        best = incumbent <= winner ? { tiles: candidates[0], ms: incumbent } : { ...best, ms: winner };
      }
    }
    cache.set(target, k.signature, { tiles: best.tiles, ms: best.ms, heuristicMs, candidates: times.length, kernel: heuristic.name, tunedAt: new Date().toISOString() });
    results.push({ signature: k.signature, kernel: heuristic.name, kind: k.group.kind, flops: heuristic.flops, chosen: best.tiles, ms: best.ms, heuristicMs, candidates: times, fromCache: false });
  }
  cache.save();
  return results;
}

/** `8x4 regs, 8x8 threads` and the like, for reports. */
export function describeTiles(t: KernelTiles): string {
  const sm = t.subgroupMatrix;
  if (sm !== undefined && sm !== 'off') return `subgroup matrices, ${sm.fragments[0]}x${sm.fragments[1]} fragments per subgroup`;
  if (t.contraction) {
    const c = t.contraction;
    return `${c.rm}x${c.rn} regs, ${c.wgM}x${c.wgN} threads${c.unrollK > 1 ? `, k unrolled ${c.unrollK}x` : ''}${c.unrollTaps ? ', taps unrolled' : ''}${c.stageK ? `, staged by ${c.stageK}` : ''}${sm === 'off' ? ', subgroup matrices off' : ''}`;
  }
  if (t.reduction) {
    const r = t.reduction;
    return r.threadsPerRow > 1 ? `${r.threadsPerRow} threads per row` : `1 thread per row, ${r.rowsPerWorkgroup} rows per workgroup`;
  }
  if (t.attention) {
    const a = t.attention;
    return `${a.rows} rows x ${a.lanes} lanes, ${a.perThread} queries per thread`;
  }
  return 'default';
}
