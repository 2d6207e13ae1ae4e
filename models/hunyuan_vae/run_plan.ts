/**
 * Planning a VAE encode or decode before running it: which tiling path upstream's flags take
 * for this input, every tile it will run (for progress and ETA), each distinct program's
 * planned peak memory — and auto-tiling, which switches to tiling (and, if needed, to smaller
 * tiles) when the untiled program cannot be compiled for the device or would not fit.
 *
 * Vocabulary
 * - Op: `encode` runs the program `moments` per tile (then `posterior` once on the assembled
 *   moments); `decode` runs `decode` per tile.
 * - Tile mode: `off` / `on` set both of upstream's tiling flags; `auto` starts from the op's
 *   default (decode: on, as the I2V pipeline enables tiling before its decode; encode: off, as a
 *   fresh upstream process encodes the conditioning image untiled) and escalates when needed.
 * - Candidate: flags + tile sizes. A candidate fits when every distinct program compiles (no
 *   CompileError, e.g. a tensor larger than the device can bind) and its planned peak is within
 *   the memory budget. Auto mode tries, in order: the default, tiling on with the configured
 *   tile sizes, then tiling with smaller tile sizes (valid ones only, see tile_sizes.ts),
 *   largest tiles first. Sizes the user set explicitly are never shrunk.
 * - Budget: bytes a run may plan to hold on the device. WebGPU does not report device memory,
 *   so the default is a stand-in: on a CPU adapter (lavapipe) half the host's memory, on a GPU
 *   the adapter's maxBufferSize. `--memory-budget` overrides it.
 */
import { totalmem } from 'node:os';
import { CompileError } from '../../compiler/compile.ts';
import type { Target } from '../../compiler/target.ts';
import type { HunyuanVae } from './autoencoder.ts';
import { geometryOf, spatialTileProblem, temporalTileProblem, tilingFor, validSizesBelow } from './tile_sizes.ts';
import { decodePath, decodeTileShapes, encodePath, encodeTileShapes, type EncodePath, type TilingConfig, type TilingFlags } from './tiling.ts';

export type VaeOp = 'encode' | 'decode';
export type TileMode = 'auto' | 'on' | 'off';

export interface ProgramPlan {
  /** `moments`, `decode` or `posterior`. */
  readonly fn: string;
  readonly shape: readonly number[];
  /** How many tiles run this program (1 for posterior). */
  readonly runs: number;
  /** Planned peak bytes (inputs + weights + intermediates); undefined on the interp backend. */
  readonly peakBytes?: number;
  readonly kernels?: number;
}

export interface VaePlan {
  readonly op: VaeOp;
  readonly inputShape: readonly number[];
  readonly flags: TilingFlags;
  readonly tiling: TilingConfig;
  /** The path upstream's dispatch takes with these flags: temporal, spatial or none. */
  readonly path: EncodePath;
  /** Every encoder/decoder tile, in run order. */
  readonly tileShapes: readonly (readonly number[])[];
  /** One entry per distinct program, in first-run order. */
  readonly programs: readonly ProgramPlan[];
  readonly budgetBytes?: number;
  /** One line, when auto-tiling changed the default: what it chose and why. */
  readonly autoTiling?: string;
}

export interface PlanOptions {
  readonly mode: TileMode;
  /** Bytes; undefined = no memory check (the interp backend). */
  readonly budgetBytes?: number;
  /** Tile sizes the user chose; auto mode keeps them fixed. */
  readonly fixedTileSize?: boolean;
  readonly fixedTileFrames?: boolean;
  /** Called once per program compiled while planning. */
  readonly onCompile?: (info: { fn: string; shape: readonly number[]; kernels: number; ms: number }) => void;
}

/** The default memory budget for a device (see the file header). */
export function defaultMemoryBudget(target: Target): number {
  if (target.adapter.isFallbackAdapter) return Math.floor(totalmem() / 2);
  return target.limits.maxBufferSize;
}

/** A VAE plan that could not fit: every candidate tried and why it was refused. */
export class VaePlanError extends Error {
  override name = 'VaePlanError';
  readonly userFacing = true;
}

interface Candidate {
  readonly flags: TilingFlags;
  readonly tiling: TilingConfig;
}

const ON: TilingFlags = { spatial: true, temporal: true };
const OFF: TilingFlags = { spatial: false, temporal: false };

const fnOf = (op: VaeOp): string => (op === 'encode' ? 'moments' : 'decode');

export function tileShapesFor(op: VaeOp, shape: readonly number[], c: Candidate): number[][] {
  return op === 'encode' ? encodeTileShapes(shape, c.flags, c.tiling) : decodeTileShapes(shape, c.flags, c.tiling);
}

function pathFor(op: VaeOp, shape: readonly number[], c: Candidate): EncodePath {
  return op === 'encode' ? encodePath(shape, c.flags, c.tiling) : decodePath(shape, c.flags, c.tiling);
}

/** The moments shape an encode produces for input `shape` (what `posterior` runs on). */
export function momentsShape(shape: readonly number[], vae: HunyuanVae): number[] {
  const [B, , T, H, W] = shape;
  const c = vae.config;
  return [B, 2 * c.latent_channels, Math.floor((T - 1) / c.time_compression_ratio) + 1, Math.ceil(H / c.spatial_compression_ratio), Math.ceil(W / c.spatial_compression_ratio)];
}

function candidates(vae: HunyuanVae, op: VaeOp, shape: readonly number[], opts: PlanOptions): Candidate[] {
  const base = vae.tiling;
  if (opts.mode === 'on') return [{ flags: ON, tiling: base }];
  if (opts.mode === 'off') return [{ flags: OFF, tiling: base }];
  const list: Candidate[] = [{ flags: op === 'decode' ? ON : OFF, tiling: base }, { flags: ON, tiling: base }];
  const g = geometryOf(vae.config);
  const sizes = opts.fixedTileSize ? [base.sampleSize] : validSizesBelow(base.sampleSize, (n) => spatialTileProblem(n, g));
  const frames = opts.fixedTileFrames ? [base.sampleTSize] : validSizesBelow(base.sampleTSize, (n) => temporalTileProblem(n, g));
  const smaller: Candidate[] = [];
  for (const S of sizes.length ? sizes : [base.sampleSize]) {
    for (const F of frames.length ? frames : [base.sampleTSize]) {
      if (S === base.sampleSize && F === base.sampleTSize) continue;
      smaller.push({ flags: ON, tiling: { ...tilingFor(S, F, g, base.overlap) } });
    }
  }
  // Largest tiles first: fewer tiles, fewer seams.
  smaller.sort((a, b) => b.tiling.sampleSize ** 2 * (b.tiling.sampleTSize + 1) - a.tiling.sampleSize ** 2 * (a.tiling.sampleTSize + 1));
  list.push(...smaller);
  // Drop candidates that would run exactly the same tiles as an earlier one.
  const seen = new Set<string>();
  return list.filter((c) => {
    const key = JSON.stringify(tileShapesFor(op, shape, c));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

function describeCandidate(op: VaeOp, shape: readonly number[], c: Candidate): string {
  const path = pathFor(op, shape, c);
  if (path === 'none') return c.flags.spatial || c.flags.temporal ? 'untiled (the input is below the tile sizes)' : 'untiled';
  return `${tilingKind(op, shape, c)} tiling with ${c.tiling.sampleSize} px × ${c.tiling.sampleTSize}-frame tiles`;
}

/** "spatial", "temporal", or "temporal and spatial" when temporal tiles are split in space too. */
export function tilingKind(op: VaeOp, shape: readonly number[], c: Candidate): string {
  const path = pathFor(op, shape, c);
  if (path !== 'temporal' || !c.flags.spatial) return path;
  const [, , , H, W] = shape;
  const side = op === 'encode' ? c.tiling.sampleSize : c.tiling.latentSize;
  return H > side || W > side ? 'temporal and spatial' : 'temporal';
}

/**
 * Chooses flags and tile sizes for running `op` on an input of `shape` (see the file header),
 * leaves them set on `vae`, and returns the plan. Throws the CompileError itself when the only
 * candidate fails to compile, or VaePlanError listing every refused candidate.
 */
export function planVaeRun(vae: HunyuanVae, op: VaeOp, shape: readonly number[], opts: PlanOptions): VaePlan {
  const list = candidates(vae, op, shape, opts);
  const refusals: string[] = [];
  let lastCompileError: CompileError | undefined;
  for (const [i, c] of list.entries()) {
    const tiles = tileShapesFor(op, shape, c);
    const groups = new Map<string, { shape: number[]; runs: number }>();
    for (const t of tiles) {
      const key = t.join('x');
      const g = groups.get(key);
      if (g) g.runs++;
      else groups.set(key, { shape: t, runs: 1 });
    }
    const wanted = [...groups.values()].map((g) => ({ fn: fnOf(op), shape: g.shape, runs: g.runs }));
    if (op === 'encode') wanted.push({ fn: 'posterior', shape: momentsShape(shape, vae), runs: 1 });
    let refusal: string | undefined;
    const programs: ProgramPlan[] = [];
    // Largest programs first: they are the ones that fail, so a refusal costs one compile.
    const bySize = [...wanted].sort((a, b) => b.shape.reduce((x, y) => x * y, 1) - a.shape.reduce((x, y) => x * y, 1));
    const planned = new Map<object, ProgramPlan>();
    for (const w of bySize) {
      // The interp backend runs the float64 interpreter: there is no device program to plan.
      if (vae.session.opts.backend !== 'webgpu') {
        planned.set(w, { ...w });
        continue;
      }
      const t0 = performance.now();
      let entry;
      try {
        entry = vae.session.prepare(w.fn, [{ dtype: 'F32', shape: w.shape, data: new Float32Array(0) }]);
      } catch (err) {
        if (!(err instanceof CompileError)) throw err;
        lastCompileError = err;
        refusal = `${describeCandidate(op, shape, c)}: ${w.fn} [${w.shape.join(', ')}] does not compile for this device (${compileReason(err.message)})`;
        break;
      }
      const program = entry.program!;
      opts.onCompile?.({ fn: w.fn, shape: w.shape, kernels: program.kernels.length, ms: performance.now() - t0 });
      const peak = program.plan.peakBytes;
      planned.set(w, { ...w, peakBytes: peak, kernels: program.kernels.length });
      if (opts.budgetBytes !== undefined && peak > opts.budgetBytes) {
        refusal = `${describeCandidate(op, shape, c)}: ${w.fn} [${w.shape.join(', ')}] plans a peak of ${mb(peak)}, over the budget of ${mb(opts.budgetBytes)}`;
        break;
      }
    }
    if (refusal) {
      refusals.push(refusal);
      continue;
    }
    for (const w of wanted) programs.push(planned.get(w)!);
    vae.flags = c.flags;
    vae.tiling = c.tiling;
    return {
      op, inputShape: [...shape], flags: c.flags, tiling: c.tiling, path: pathFor(op, shape, c), tileShapes: tiles, programs,
      budgetBytes: opts.budgetBytes,
      autoTiling: i > 0 ? `auto-tiling: ${refusals[0]}; using ${describeCandidate(op, shape, c)} (${tiles.length} tiles)` : undefined,
    };
  }
  if (list.length === 1 && lastCompileError && refusals.length === 1 && opts.mode !== 'auto') {
    throw new VaePlanError(`${lastCompileError.message}\n${modeAdvice(opts.mode)}`);
  }
  throw new VaePlanError([
    `cannot ${op} an input of shape [${shape.join(', ')}] on this device: no tiling fits.`,
    ...refusals.map((r) => `  - ${r}`),
    'How to fix: use smaller inputs, pass smaller --tile-size / --tile-frames, or, if the device has more memory than assumed, raise --memory-budget.',
  ].join('\n'));
}

function modeAdvice(mode: TileMode): string {
  return mode === 'off'
    ? 'You passed --no-tile: drop it to let Kiln tile automatically, or pass --tile.'
    : 'Tiling is on: pass a smaller --tile-size (pixels, a multiple of 32) or --tile-frames (a multiple of 16), or drop --tile to let Kiln choose.';
}

/** Why a program did not compile, short enough for one line. */
function compileReason(message: string): string {
  const m = /needs a tensor of shape (\[[^\]]*\])[^,]*, [\d,]+ bytes \(([^)]*)\)/.exec(message);
  if (m) return `a ${m[1]} tensor (${m[2]}) is larger than the device can bind`;
  const first = message.split('\n')[0];
  return first.length > 200 ? `${first.slice(0, 200)}…` : first;
}
