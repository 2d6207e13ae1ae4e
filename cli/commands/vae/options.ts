/**
 * Parsing `kiln vae` arguments. Every subcommand shares the model options (weights, config,
 * backend, tiling, memory budget, profiling, WGSL dumps, quiet); each adds its own. Bad values
 * are UsageErrors that name the option, the value and what is expected.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../command.ts';
import { intOption } from '../../number_options.ts';
import type { BackendName } from '../../../runtime/model.ts';
import type { TileMode } from '../../../models/hunyuan_vae/run_plan.ts';

export { intOption };

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export const MODEL_OPTIONS: OptionSpec = {
  weights: { type: 'string', short: 'w' },
  config: { type: 'string' },
  backend: { type: 'string', default: 'webgpu' },
  dtype: { type: 'string', default: 'f32' },
  tile: { type: 'boolean', default: false },
  'no-tile': { type: 'boolean', default: false },
  'tile-size': { type: 'string' },
  'tile-frames': { type: 'string' },
  'memory-budget': { type: 'string' },
  profile: { type: 'boolean', default: false },
  'dump-wgsl': { type: 'string' },
  quiet: { type: 'boolean', short: 'q', default: false },
  out: { type: 'string', short: 'o' },
};

export interface ModelArgs {
  readonly weights?: string;
  readonly config?: string;
  readonly backend: BackendName;
  /** Storage dtype of weights and activations on the GPU. */
  readonly dtype: 'f32' | 'f16';
  readonly tileMode: TileMode;
  readonly tileSize?: number;
  readonly tileFrames?: number;
  /** Bytes. */
  readonly memoryBudget?: number;
  readonly profile: boolean;
  readonly dumpWgsl?: string;
  readonly quiet: boolean;
  readonly out?: string;
}

export type Values = Record<string, string | boolean | undefined>;

/** parseArgs, with its TypeErrors (unknown option, missing value) turned into UsageErrors. */
export function parseOptions(sub: string, argv: readonly string[], extra: OptionSpec): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { ...MODEL_OPTIONS, ...extra } });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`${sub}: ${err.message.replace(/\. To specify a positional argument.*$/s, '')} (see kiln vae --help)`);
    throw err;
  }
}


export function modelArgs(values: Values): ModelArgs {
  const backend = values.backend as string;
  if (backend !== 'webgpu' && backend !== 'interp') throw new UsageError(`--backend must be webgpu or interp, not '${backend}'`);
  if (values.tile && values['no-tile']) throw new UsageError('--tile and --no-tile contradict each other; pass one of them (or neither, to let Kiln choose)');
  if (values.profile && backend === 'interp') throw new UsageError('--profile times GPU kernels, so it needs --backend webgpu');
  const dtype = values.dtype as string;
  if (dtype !== 'f32' && dtype !== 'f16') throw new UsageError(`--dtype must be f32 or f16, not '${dtype}'`);
  if (dtype === 'f16' && backend !== 'webgpu') throw new UsageError('--dtype f16 chooses how tensors are stored on the GPU, so it needs --backend webgpu');
  if (values['dump-wgsl'] !== undefined && backend === 'interp') throw new UsageError('--dump-wgsl writes the generated GPU kernels, so it needs --backend webgpu');
  const budgetMb = values['memory-budget'];
  let memoryBudget: number | undefined;
  if (budgetMb !== undefined) {
    const n = Number(budgetMb);
    if (typeof budgetMb !== 'string' || !(n > 0) || !Number.isFinite(n)) throw new UsageError(`--memory-budget must be a positive number of megabytes (MiB), not '${String(budgetMb)}'`);
    memoryBudget = Math.floor(n * 2 ** 20);
  }
  return {
    weights: values.weights as string | undefined,
    config: values.config as string | undefined,
    backend,
    dtype,
    tileMode: values.tile ? 'on' : values['no-tile'] ? 'off' : 'auto',
    tileSize: intOption(values, 'tile-size', 1),
    tileFrames: intOption(values, 'tile-frames', 1),
    memoryBudget,
    profile: Boolean(values.profile),
    dumpWgsl: values['dump-wgsl'] as string | undefined,
    quiet: Boolean(values.quiet),
    out: values.out as string | undefined,
  };
}

/** Exactly one positional argument, named `what` in the message. */
export function onePositional(sub: string, positionals: readonly string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`${sub}: give the ${what} (see kiln vae --help)`);
  if (positionals.length > 1) throw new UsageError(`${sub}: give one ${what}, not ${positionals.length} (${positionals.join(', ')}); options start with --`);
  return positionals[0];
}
