/**
 * `kiln tune`: run the autotuner ahead of time. For every tunable kernel of a program
 * (convolutions, matmuls, reductions, attention) it times a few tile configurations on this
 * machine's GPU and caches the fastest under (adapter, kernel signature) in the tuning cache
 * (compiler/tune/cache.ts: ~/.cache/kiln/tune.json, or $KILN_CACHE_DIR). Every later compile
 * on this adapter — kiln run, kiln vae, kiln golden, ModelSession — uses the cached choices.
 *
 * The program is given as for `kiln compile --shapes` (Kiln files, --entry, config, shapes),
 * or as the HunyuanVideo VAE with --vae (its decoder, for a latent tile shape).
 */
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { entryOwner, entrySignature, parseShape, sourceFiles, traceArguments, openEntry, ENTRY_OPTIONS } from './entry_options.ts';
import { bindModule } from '../../compiler/bind.ts';
import type { Graph } from '../../compiler/ir.ts';
import { cacheDir, resetSharedTuneCache, TuneCache } from '../../compiler/tune/cache.ts';
import { describeTiles, tuneGraph, type TunedKernel } from '../../compiler/tune/tuner.ts';
import { RELEASED_VAE_CONFIG, kilnVaeConfig, vaeProgram } from '../../models/hunyuan_vae/autoencoder.ts';
import { readVaeConfigFile } from '../../models/hunyuan_vae/checkpoint.ts';
import { TINY_VAE_CONFIG } from '../../models/hunyuan_vae/random_weights.ts';
import { acquireDevice, releaseDevice } from '../../runtime/device.ts';
import { timeKernel } from '../../runtime/gpu/kernel-timer.ts';

const HELP = `Usage:
  kiln tune FILE... --entry NAME --shapes NAME=[...] [--config CFG.json] [--set K=V] [--arg NAME=VALUE] [options]
  kiln tune --vae tiny|released|CONFIG.json --decode [1,16,3,32,32] [options]

Runs the autotuner ahead of time: for every convolution, matmul, reduction and attention kernel
of the program it times a small set of tile configurations on this machine's GPU and caches the
fastest (a winner other than the heuristic must beat it again in two rounds timed in turn),
keyed by the adapter and the kernel's signature (op, channels, kernel size, stride,
sizes rounded to powers of two, storage dtype). Every later compile on this adapter (kiln run,
kiln vae, kiln golden) uses the cached tiles; kernels without an entry use a heuristic.

Cache: $KILN_CACHE_DIR/tune.json, else $XDG_CACHE_HOME/kiln/tune.json, else
~/.cache/kiln/tune.json (written atomically; a corrupt file is ignored with a warning).

Program:
  FILE... --entry NAME     Kiln files and the entry, as for kiln compile.
  --shapes NAME=[...]      Shapes of the tensor parameters (repeatable).
  --config, --set, --arg   The module config and non-tensor arguments, as for kiln compile.
  --vae tiny|released|CONFIG.json
                           HunyuanVideo's VAE instead: the built-in tiny config, the released
                           config, or a config.json.
  --decode SHAPE           With --vae: tune the decoder for latents (a tile) of SHAPE.
  --encode SHAPE           With --vae: tune the encoder for pixels (a tile) of SHAPE.

Options:
  --dtype f32|f16          Tune the program as it runs with that storage dtype (default f32).
  --force                  Retune kernels that are already cached.
  --no-fuse                Tune the unfused program.
  -h, --help               Show this help.

Examples:
  kiln tune --vae released --decode [1,16,3,32,32]
  kiln tune examples/gelu_mlp.kiln --entry GeluMLP --config examples/gelu_mlp.json --shapes x=[2,5,8]`;

interface TuneArgs {
  readonly files: string[];
  readonly entry?: string;
  readonly config?: string;
  readonly set: string[];
  readonly shapes: string[];
  readonly args: string[];
  readonly vae?: string;
  readonly decode?: string;
  readonly encode?: string;
  readonly dtype: 'f32' | 'f16';
  readonly force: boolean;
  readonly fuse: boolean;
}

function parse(argv: readonly string[]): TuneArgs {
  const parsed = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ...ENTRY_OPTIONS,
      shapes: { type: 'string', multiple: true, default: [] },
      vae: { type: 'string' },
      decode: { type: 'string' },
      encode: { type: 'string' },
      dtype: { type: 'string', default: 'f32' },
      force: { type: 'boolean', default: false },
      'no-fuse': { type: 'boolean', default: false },
    },
  });
  const v = parsed.values;
  if (v.dtype !== 'f32' && v.dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, not '${v.dtype}'`);
  if (v.vae !== undefined) {
    if (parsed.positionals.length || v.entry) throw new UsageError('--vae names the program itself: give no Kiln files or --entry with it');
    if ((v.decode === undefined) === (v.encode === undefined)) throw new UsageError('--vae needs one of --decode SHAPE (latents) or --encode SHAPE (pixels)');
  } else {
    if (v.decode !== undefined || v.encode !== undefined) throw new UsageError('--decode and --encode go with --vae');
    if (!v.shapes.length) throw new UsageError('give the program\'s input shapes with --shapes NAME=[...] (kernels are tuned for concrete shapes)');
  }
  return {
    files: v.vae !== undefined ? [] : sourceFiles('tune', parsed.positionals), entry: v.entry, config: v.config, set: v.set, shapes: v.shapes, args: v.arg,
    vae: v.vae, decode: v.decode, encode: v.encode, dtype: v.dtype, force: v.force, fuse: !v['no-fuse'],
  };
}

/** The graph to tune and a name for it. */
function programGraph(args: TuneArgs): { graph: Graph; what: string } {
  if (args.vae !== undefined) {
    const config = args.vae === 'tiny' ? TINY_VAE_CONFIG : args.vae === 'released' ? RELEASED_VAE_CONFIG : readVaeConfigFile(args.vae);
    const bound = bindModule(vaeProgram(), 'AutoencoderKLCausal3D', kilnVaeConfig(config));
    const decode = args.decode !== undefined;
    const shape = parseShape((decode ? args.decode : args.encode)!, decode ? '--decode' : '--encode');
    const fn = decode ? 'decode' : 'moments';
    if (shape.length !== 5) throw new UsageError(`${decode ? '--decode' : '--encode'} [${shape.join(', ')}]: expected a 5-D shape [B, C, T, H, W]`);
    return { graph: bound.trace({ fn, args: [{ kind: 'tensor', name: 'arg0', shape, dtype: 'f32' }] }), what: `VAE (${args.vae}) ${fn} [${shape.join(', ')}]` };
  }
  const { entry, config } = openEntry('tune', args);
  const bound = bindModule(entry.program, entry.moduleName, config);
  const owner = entryOwner(entry);
  const sig = entrySignature(entry, bound.instance);
  return { graph: bound.trace({ fn: sig.name, args: traceArguments(sig, args, owner) }), what: owner };
}


const ms = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toPrecision(3));

export function formatTuned(results: readonly TunedKernel[]): string[] {
  return results.map((r) => {
    const speedup = r.heuristicMs !== undefined && Number.isFinite(r.ms) ? ` (heuristic ${ms(r.heuristicMs)} ms, ${(r.heuristicMs / r.ms).toFixed(2)}x)` : '';
    const failed = r.candidates.filter((c) => c.error).length;
    return `  ${r.fromCache ? 'cached' : 'tuned '} ${r.signature}: ${describeTiles(r.chosen)}, ${ms(r.ms)} ms${speedup}${failed ? `, ${failed} candidate(s) failed` : ''}`;
  });
}

export const tuneCommand: Command = {
  name: 'tune',
  summary: 'Autotune a program\'s kernel tiles on this GPU and cache the choices (used by every later compile)',
  help: HELP,
  async run(argv) {
    const args = parse(argv);
    const { graph, what } = programGraph(args);
    const dir = cacheDir();
    const cache = TuneCache.load(dir);
    const device = await acquireDevice();
    try {
      console.log(`kiln tune: ${what} on ${device.describe()}; cache ${cache.path}`);
      const timer = async (k: Parameters<typeof timeKernel>[1], tensors: Parameters<typeof timeKernel>[2]) => (await timeKernel(device, k, tensors, { minMs: 100, samples: 2 })).ms;
      const results = await tuneGraph(graph, device.target, timer, cache, {
        force: args.force, fuse: args.fuse, storage: args.dtype, relayoutWeights: 'upload', subgroupMatrix: device.subgroupMatrix,
        onKernel: (k) => console.log(`[${k.index + 1}/${k.count}] ${k.signature} (${k.kernel}): ${k.candidates} candidates`),
        onCandidate: (c) => console.log(`    ${describeTiles(c.tiles)}: ${c.error ? `failed (${c.error})` : `${ms(c.ms)} ms`}`),
      });
      resetSharedTuneCache();
      const tuned = results.filter((r) => !r.fromCache).length;
      console.log(`${results.length} tunable kernel signature${results.length === 1 ? '' : 's'}: ${tuned} tuned, ${results.length - tuned} already cached${tuned ? `; wrote ${cache.path}` : ''}`);
      for (const line of formatTuned(results)) console.log(line);
      return 0;
    } finally {
      await releaseDevice();
    }
  },
};
