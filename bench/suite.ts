/**
 * The benchmark suite behind `kiln bench` / `npm run bench`: runs the chosen suites on this
 * machine's adapter, merges their entries into bench/results.json (entries of suites not run
 * this time, and of other adapters, are kept, each with the command that produced it) and
 * rewrites bench/RESULTS.md from all entries. Every file is written atomically.
 *
 * Suites (default: all but the released-size ones, which take minutes on a CPU adapter):
 *   contractions     conv3d and matmul vs hand-written WGSL and PyTorch CPU (figure a)
 *   attention        flash attention vs PyTorch; on tensor cores vs the scalar kernel
 *   bandwidth        copy bandwidth vs GroupNorm+SiLU and residual add (figure b)
 *   vae              tiny and medium VAE decoder forward vs PyTorch CPU (figure c)
 *   tfjs             TensorFlow.js WebGPU backend on the same device (figure d)
 *   tiled-memory     planned and measured peaks of tiled vs untiled decode
 *   released-decode  the released VAE config, [1, 16, 2, 16, 16] with 64-pixel tiles
 *   released-dit     the released transformer's widths, one block of each kind: block times
 *                    and the step extrapolated to 20 + 40 blocks (720p, 129 frames on a GPU)
 *   sequence-parallel  what the transformer's swaps between devices cost per block (--devices)
 */
import { writeTextFileAtomically } from '../runtime/weights/atomic_file.ts';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { acquireDevice, releaseDevice, type KilnDevice } from '../runtime/device.ts';
import { BENCH_CACHE_DIR, BENCH_DIR, type BenchContext } from './context.ts';
import { runAttention } from './figures/attention.ts';
import { runBandwidth } from './figures/bandwidth.ts';
import { runContractions } from './figures/contractions.ts';
import { runReleasedDecode } from './figures/released_decode.ts';
import { runReleasedDit } from './figures/released_dit.ts';
import { runSequenceParallel } from './figures/sequence_parallel.ts';
import { runTfjs } from './figures/tfjs.ts';
import { runTiledMemory } from './figures/tiled_memory.ts';
import { runVae } from './figures/vae.ts';
import { Recorder, type Entry } from './harness.ts';
import { renderResults, type RunInfo } from './report.ts';
import { findTorch } from './torch.ts';

export interface Suite {
  readonly name: string;
  readonly title: string;
  readonly byDefault: boolean;
  run(ctx: BenchContext): Promise<string | undefined | void>;
}

export const SUITES: readonly Suite[] = [
  { name: 'contractions', title: 'Contractions: conv3d and matmul', byDefault: true, run: runContractions },
  { name: 'attention', title: 'Attention: flash-style kernels against PyTorch, tensor cores against scalar', byDefault: true, run: runAttention },
  { name: 'bandwidth', title: 'Memory-bound kernels against copy bandwidth', byDefault: true, run: runBandwidth },
  { name: 'vae', title: 'VAE decoder forward', byDefault: true, run: runVae },
  { name: 'tfjs', title: 'TensorFlow.js WebGPU on the same device', byDefault: true, run: runTfjs },
  { name: 'tiled-memory', title: 'Tiled decode: memory at growing sizes', byDefault: true, run: runTiledMemory },
  { name: 'released-decode', title: 'Released VAE config, tiled decode', byDefault: false, run: runReleasedDecode },
  { name: 'released-dit', title: 'Released transformer widths: block times and the step', byDefault: false, run: runReleasedDit },
  { name: 'sequence-parallel', title: 'Several GPUs: sequence parallelism\'s swaps per block', byDefault: false, run: runSequenceParallel },
];


function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeTextFileAtomically(path, text);
}

function readJson<T>(path: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return fallback;
  }
}

export interface BenchOptions {
  readonly suites: readonly string[];
  /** The command line to record with every entry. */
  readonly command: string;
  readonly log: (line: string) => void;
  /** Where results.json, runs.json and RESULTS.md go (default bench/). */
  readonly outDir?: string;
}

function environment(dev: KilnDevice, torch: ReturnType<typeof findTorch>): Omit<RunInfo, 'suite' | 'seconds' | 'command' | 'skipped'> {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    adapter: dev.describe(),
    cpu: `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores`,
    node: process.version,
    torch: typeof torch === 'string' ? torch : `PyTorch ${torch.version} (${torch.python})`,
  };
}

/** Rewrites RESULTS.md from results.json and runs.json (after editing bench/ANALYSIS.md). */
export function rewriteReport(outDir = BENCH_DIR): string {
  const entries = readJson<Entry[]>(join(outDir, 'results.json'), []);
  const runs = readJson<RunInfo[]>(join(outDir, 'runs.json'), []);
  const path = join(outDir, 'RESULTS.md');
  writeAtomically(path, renderResults(entries, runs, SUITES));
  return path;
}

export interface BenchOutcome {
  readonly entries: readonly Entry[];
  /** `suite: why` for each suite that threw (the figures it recorded before are kept). */
  readonly failed: readonly string[];
}

/**
 * Runs the suites. After each one its figures replace that suite's figures from the same
 * adapter in results.json (other adapters' and other suites' stay), and runs.json and
 * RESULTS.md are rewritten: a run cut short keeps every suite it finished. A suite that throws
 * keeps the figures it recorded before, is marked failed, and the next suite runs.
 */
export async function runBench(opts: BenchOptions): Promise<BenchOutcome> {
  const outDir = opts.outDir ?? BENCH_DIR;
  const chosen = opts.suites.map((n) => {
    const s = SUITES.find((x) => x.name === n);
    if (!s) throw new Error(`unknown suite ${n}`);
    return s;
  });
  const dev = await acquireDevice();
  const torch = findTorch();
  if (typeof torch === 'string') opts.log(`PyTorch comparisons skipped: ${torch}`);
  const env = environment(dev, torch);
  const entries: Entry[] = [];
  const failed: string[] = [];
  try {
    opts.log(`kiln bench on ${env.adapter}; ${env.cpu}; ${env.torch}`);
    for (const s of chosen) {
      opts.log(`\n== ${s.name}: ${s.title}`);
      const rec = new Recorder(s.name, env.adapter, opts.command, (l) => opts.log(l));
      const t0 = performance.now();
      let outcome: Pick<RunInfo, 'skipped' | 'failed'> = {};
      try {
        const skipped = await s.run({ dev, rec, log: opts.log, torch: typeof torch === 'string' ? undefined : torch, tuneDir: BENCH_CACHE_DIR });
        if (typeof skipped === 'string') outcome = { skipped };
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        opts.log(`  ${s.name} failed: ${why}`);
        failed.push(`${s.name}: ${why}`);
        outcome = { failed: why };
      }
      dev.pool.trim();
      entries.push(...rec.entries);
      recordSuite(outDir, s.name, rec.entries, { ...env, suite: s.name, command: opts.command, seconds: (performance.now() - t0) / 1000, ...outcome });
    }
  } finally {
    await releaseDevice();
  }
  opts.log(`\nwrote ${join(outDir, 'results.json')}, ${join(outDir, 'RESULTS.md')}`);
  return { entries, failed };
}

/** One suite's figures and run in place of its earlier ones on the same adapter; RESULTS.md rewritten. */
export function recordSuite(outDir: string, suite: string, entries: readonly Entry[], run: RunInfo): void {
  const same = (x: { suite?: string; adapter: string }): boolean => x.suite === suite && x.adapter === run.adapter;
  const merged = [...readJson<Entry[]>(join(outDir, 'results.json'), []).filter((e) => !same(e)), ...entries];
  writeAtomically(join(outDir, 'results.json'), `${JSON.stringify(merged, null, 1)}\n`);
  const runs = [...readJson<RunInfo[]>(join(outDir, 'runs.json'), []).filter((r) => !same(r)), run];
  writeAtomically(join(outDir, 'runs.json'), `${JSON.stringify(runs, null, 1)}\n`);
  writeAtomically(join(outDir, 'RESULTS.md'), renderResults(merged, runs, SUITES));
}
