/**
 * What every `kiln vae` subcommand does around the model: open the VAE (checkpoint or built-in
 * weights) and the device, apply tile-size overrides, plan each run (auto-tiling, planned peaks
 * reported before the run), drive the progress display (tiles counted, ETA), collect per-kernel
 * profiles, and release everything afterwards.
 *
 * Output channels: `info` lines (what was read, planned, written) go to stderr through the
 * progress display and are silenced by --quiet; `warn` lines (auto-tiling switches, config
 * mismatches) go to stderr always; results go to stdout.
 */
import { reportWeightUploads } from '../../weight_uploads.ts';
import { acquireDevice, releaseDevice, type KilnDevice } from '../../../runtime/device.ts';
import { formatProfile, type ProfileEntry } from '../../../runtime/executor.ts';
import { createProgress, type Progress } from '../../progress.ts';
import { UsageError } from '../../command.ts';
import type { HunyuanVae, VaeConfig } from '../../../models/hunyuan_vae/autoencoder.ts';
import { chooseVaeConfig, readVaeConfigFile } from '../../../models/hunyuan_vae/checkpoint.ts';
import { TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import { createVae, openVaeSource, type VaeSource } from '../../../models/hunyuan_vae/run.ts';
import { defaultMemoryBudget, planVaeRun, tilingKind, type VaeOp, type VaePlan } from '../../../models/hunyuan_vae/run_plan.ts';
import { geometryOf, nearestValid, spatialTileProblem, temporalTileProblem, tilingFor } from '../../../models/hunyuan_vae/tile_sizes.ts';
import type { ModelArgs } from './options.ts';

export const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
export const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

export interface Reporter {
  readonly progress: Progress;
  info(line: string): void;
  warn(line: string): void;
}

export function createReporter(quiet: boolean): Reporter {
  const progress = createProgress({ enabled: !quiet });
  return {
    progress,
    info: (line) => progress.log(line),
    warn: (line) => (quiet ? process.stderr.write(`${line}\n`) : progress.log(line)),
  };
}

export class VaeContext {
  readonly profile = new Map<string, ProfileEntry>();
  readonly plans: VaePlan[] = [];

  private constructor(
    readonly args: ModelArgs,
    readonly report: Reporter,
    readonly source: VaeSource,
    readonly vae: HunyuanVae,
    readonly device: KilnDevice | undefined,
  ) {}

  /** Loads the weights, opens the device (webgpu) and builds the session; stages "load weights", "open device". */
  static async open(args: ModelArgs, report: Reporter): Promise<VaeContext> {
    const { progress } = report;
    progress.stage('load weights');
    let source: VaeSource | undefined;
    let device: KilnDevice | undefined;
    try {
      source = openVaeSource({ weightsPath: args.weights, configPath: args.config });
      const tiling = tileOverrides(args, source.config);
      if (args.backend === 'webgpu') {
        progress.stage('open device');
        device = await acquireDevice();
        reportWeightUploads(device, progress); // until the device is released with the context
      }
      const vae = createVae(source, { backend: args.backend, device, dumpWgsl: args.dumpWgsl, dtype: args.dtype });
      if (tiling) vae.tiling = tiling;
      progress.done();
      report.info(`weights: ${source.weightsLabel}${source.notes.length ? ` (${source.notes.join('; ')})` : ''}`);
      report.info(`config: ${source.configSource}${device ? `; device: ${device.describe()}` : '; backend: interp (float64 reference interpreter on the CPU)'}`);
      const ctx = new VaeContext(args, report, source, vae, device);
      if (args.profile) vae.callOptions = { profile: true };
      vae.onCall = (fn, result) => ctx.collectProfile(fn, result.profile);
      return ctx;
    } catch (err) {
      progress.fail();
      source?.close();
      if (device) await releaseDevice();
      throw err;
    }
  }

  /** The memory budget for plans: --memory-budget, else the device default; none on interp. */
  get budgetBytes(): number | undefined {
    if (!this.device) return undefined;
    return this.args.memoryBudget ?? defaultMemoryBudget(this.device.target);
  }

  /**
   * Plans `op` on an input of `shape` (stage "plan <op>"), reports the plan, then runs `body`
   * in stage `op` with one tick per tile.
   */
  async run<T>(op: VaeOp, shape: readonly number[], body: () => Promise<T>): Promise<T> {
    const { progress } = this.report;
    progress.stage(`plan ${op}`);
    const plan = planVaeRun(this.vae, op, shape, {
      mode: this.args.tileMode,
      budgetBytes: this.budgetBytes,
      fixedTileSize: this.args.tileSize !== undefined,
      fixedTileFrames: this.args.tileFrames !== undefined,
    });
    progress.done();
    this.plans.push(plan);
    if (plan.autoTiling) this.report.warn(plan.autoTiling);
    for (const line of describePlan(plan)) this.report.info(line);
    progress.stage(op, { total: plan.tileShapes.length, unit: plan.tileShapes.length === 1 ? 'tile' : 'tiles' });
    this.vae.onTile = () => progress.tick();
    const out = await body();
    progress.done();
    return out;
  }

  private collectProfile(fn: string, entries: readonly ProfileEntry[] | undefined): void {
    for (const e of entries ?? []) {
      const key = `${fn}/${e.kernel}`;
      const had = this.profile.get(key);
      this.profile.set(key, had ? { ...had, ms: had.ms + e.ms, flops: had.flops + e.flops, bytes: had.bytes + e.bytes } : { ...e, kernel: key });
    }
  }

  /** The per-kernel table (summed over tiles), or undefined without --profile. */
  profileTable(): string | undefined {
    if (!this.args.profile || this.profile.size === 0) return undefined;
    const method = this.device?.target.features.timestampQuery ? 'timestamp' : 'wall';
    return `per-kernel GPU times (summed over tiles):\n${formatProfile([...this.profile.values()], method)}`;
  }

  async close(): Promise<void> {
    this.source.close();
    if (this.device) await releaseDevice();
  }
}

/**
 * Checks what can be checked from the arguments alone, before any input is read or weights are
 * loaded: the config (cheap to read; returned) and the tile sizes against it.
 */
export function preflight(args: ModelArgs): VaeConfig {
  const config = args.weights ? chooseVaeConfig(args.weights, args.config).config : args.config ? readVaeConfigFile(args.config) : TINY_VAE_CONFIG;
  tileOverrides(args, config);
  return config;
}

/** Tile sizes from --tile-size / --tile-frames, checked so tiled results keep their size. */
function tileOverrides(args: ModelArgs, config: VaeConfig) {
  const g = geometryOf(config);
  const S = args.tileSize ?? config.sample_size;
  const F = args.tileFrames ?? config.sample_tsize;
  if (args.tileSize !== undefined) {
    const p = spatialTileProblem(S, g);
    if (p) throw new UsageError(`--tile-size ${S}: ${p}. Use ${nearestValid(S, (n) => spatialTileProblem(n, g)).join(' or ')} (a multiple of ${4 * 2 ** (g.levels - 1)} for this VAE).`);
  }
  if (args.tileFrames !== undefined) {
    const p = temporalTileProblem(F, g);
    if (p) throw new UsageError(`--tile-frames ${F}: ${p}. Use ${nearestValid(F, (n) => temporalTileProblem(n, g)).join(' or ')} (a multiple of ${4 * g.timeRatio}).`);
  }
  return args.tileSize !== undefined || args.tileFrames !== undefined ? tilingFor(S, F, g) : undefined;
}

/** Lines describing a plan: path, tiles, and every program's planned peak. */
export function describePlan(plan: VaePlan): string[] {
  const unit = plan.op === 'encode' ? 'pixels' : 'latents';
  const how = plan.path === 'none'
    ? `untiled${plan.flags.spatial || plan.flags.temporal ? ` (tiling is on, but the input is within one ${plan.tiling.sampleSize} px × ${plan.tiling.sampleTSize}-frame tile)` : ''}`
    : `${tilingKind(plan.op, plan.inputShape, plan)} tiling, ${plan.tileShapes.length} tiles (${plan.tiling.sampleSize} px × ${plan.tiling.sampleTSize}-frame tiles)`;
  const lines = [`${plan.op} ${shapeText(plan.inputShape)} ${unit}: ${how}`];
  for (const p of plan.programs) {
    const peak = p.peakBytes !== undefined ? `planned peak ${mb(p.peakBytes)}, ${p.kernels} kernels` : 'no GPU memory plan on the interp backend';
    lines.push(`  program ${p.fn} ${shapeText(p.shape)}${p.runs > 1 ? ` ×${p.runs}` : ''}: ${peak}`);
  }
  if (plan.budgetBytes !== undefined) lines.push(`  memory budget ${mb(plan.budgetBytes)}`);
  return lines;
}

/**
 * A subcommand's work around its VAE context: `body` calls `openContext()` once its own steps
 * before the model are done (reading inputs, checking outputs). On success the --profile table
 * is printed; on failure the current progress stage is marked failed; the context (weights,
 * device) is closed either way.
 */
export async function runVaeCommand(args: ModelArgs, report: Reporter, body: (openContext: () => Promise<VaeContext>) => Promise<void>): Promise<number> {
  let ctx = undefined as VaeContext | undefined;
  try {
    await body(async () => (ctx = await VaeContext.open(args, report)));
    const table = ctx?.profileTable();
    if (table) console.log(table);
    return 0;
  } catch (err) {
    report.progress.fail();
    throw err;
  } finally {
    await ctx?.close();
  }
}
