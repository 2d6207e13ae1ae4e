/**
 * Loading a HunyuanVideo VAE checkpoint the way upstream's `load_vae` does (spec/vae.md §1.2),
 * plus the config that goes with it.
 *
 * Vocabulary
 * - Checkpoint: anything `loadWeights` reads — the released `pytorch_model.pt` (a torch.save zip
 *   read by the restricted unpickler), a `.safetensors` file, a shard index, or a folder holding
 *   one (a diffusers folder, or the released `vae/` folder). A root folder without a config.json
 *   of its own stands for its VAE: `vae/` (diffusers pipelines, a model folder) or
 *   `hunyuan-video-i2v-720p/vae/` (HunyuanVideo's ckpts/).
 * - Unwrapping: a top-level `state_dict` entry is used instead of the whole object; then if ANY
 *   key starts with `vae.`, only those keys are kept, with the prefix removed. Whatever is left
 *   must match the module's key space exactly (ModelSession reports every difference at once).
 * - Config: `--config FILE` if given; else a `config.json` beside the weights (in the folder, or
 *   next to the file when it names a VAE class); else the released config. Upstream configs
 *   (AutoencoderKLCausal3D) and diffusers' AutoencoderKLHunyuanVideo configs are understood.
 * - Storage dtypes F32, F16, BF16 and F64 are all accepted; the runtime converts each weight to
 *   what the device computes in when it is uploaded.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadWeights, prefixView, unwrapStateDict, type WeightSource } from '../../runtime/weights/checkpoint.ts';
import { RELEASED_VAE_CONFIG, vaeConfigFrom, type VaeConfig } from './autoencoder.ts';

/** A config file that is not JSON, describes another model, or has values Kiln cannot build. */
export class VaeConfigError extends Error {
  override name = 'VaeConfigError';
  readonly userFacing = true;
}

/** A checkpoint whose tensors cannot be VAE weights (wrong dtype), with what to do about it. */
export class VaeWeightsError extends Error {
  override name = 'VaeWeightsError';
  readonly userFacing = true;
}

const UPSTREAM_CLASS = 'AutoencoderKLCausal3D';
const DIFFUSERS_CLASS = 'AutoencoderKLHunyuanVideo';
const UPSTREAM_BLOCKS = { down: 'DownEncoderBlockCausal3D', up: 'UpDecoderBlockCausal3D' };
const DIFFUSERS_BLOCKS = { down: 'HunyuanVideoDownBlock3D', up: 'HunyuanVideoUpBlock3D' };

/** Where a config came from, for messages and latents metadata. */
export interface ConfigChoice {
  readonly config: VaeConfig;
  /** A file path, or "the released HunyuanVideo VAE config (default)". */
  readonly source: string;
}

export const RELEASED_CONFIG_NAME = 'the released HunyuanVideo VAE config (default)';

/**
 * A VaeConfig from a parsed config.json: upstream's AutoencoderKLCausal3D fields, or diffusers'
 * AutoencoderKLHunyuanVideo ones (whose tiling sizes Kiln replaces by upstream's 256 px / 64
 * frames). Throws VaeConfigError naming the file and the field for anything Kiln cannot build.
 */
export function parseVaeConfig(json: unknown, where: string): VaeConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new VaeConfigError(`${where}: a VAE config must be a JSON object such as {"block_out_channels": [128, 256, 512, 512], ...}.`);
  }
  const o = json as Record<string, unknown>;
  const cls = o._class_name;
  if (cls !== undefined && cls !== UPSTREAM_CLASS && cls !== DIFFUSERS_CLASS) {
    throw new VaeConfigError(`${where} describes a ${String(cls)}, not the HunyuanVideo VAE (${UPSTREAM_CLASS} or diffusers' ${DIFFUSERS_CLASS}). ` +
      'Pass the VAE\'s own config (in HunyuanVideo checkpoints: hunyuan-video-i2v-720p/vae/config.json).');
  }
  const diffusers = cls === DIFFUSERS_CLASS;
  const blocks = diffusers ? DIFFUSERS_BLOCKS : UPSTREAM_BLOCKS;
  checkBlockTypes(o.down_block_types, blocks.down, 'down_block_types', where);
  checkBlockTypes(o.up_block_types, blocks.up, 'up_block_types', where);
  const act = o.act_fn;
  if (act !== undefined && act !== 'silu' && act !== 'swish') throw new VaeConfigError(`${where}: act_fn ${JSON.stringify(act)} is not supported; the HunyuanVideo VAE uses "silu".`);
  let fields: Record<string, unknown> = { ...o };
  if (diffusers) {
    // diffusers' class defaults are the released values, and it has no sample sizes: tiling follows upstream.
    fields = { ...RELEASED_VAE_CONFIG, ...o, time_compression_ratio: o.temporal_compression_ratio ?? 4, sample_size: 256, sample_tsize: 64 };
  }
  if (Array.isArray(fields.sample_size)) {
    throw new VaeConfigError(`${where}: sample_size is a list (${JSON.stringify(fields.sample_size)}); upstream's tiling breaks on that. Give one number of pixels, e.g. 256.`);
  }
  const cfg = vaeConfigFrom(fields);
  validateConfig(cfg, where);
  return cfg;
}

function checkBlockTypes(v: unknown, expected: string, field: string, where: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every((t) => t === expected)) {
    throw new VaeConfigError(`${where}: ${field} ${JSON.stringify(v)} is not supported; every block must be a ${expected}.`);
  }
}

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

function validateConfig(c: VaeConfig, where: string): void {
  const bad = (field: string, value: unknown, expected: string) =>
    new VaeConfigError(`${where}: ${field} is ${JSON.stringify(value)}; expected ${expected}.`);
  for (const f of ['in_channels', 'out_channels', 'layers_per_block', 'latent_channels', 'norm_num_groups', 'sample_size', 'sample_tsize'] as const) {
    if (!isPositiveInt(c[f])) throw bad(f, c[f], 'a positive integer');
  }
  if (!Array.isArray(c.block_out_channels) || c.block_out_channels.length === 0 || !c.block_out_channels.every(isPositiveInt)) {
    throw bad('block_out_channels', c.block_out_channels, 'a non-empty list of positive integers');
  }
  const g = c.norm_num_groups;
  const notDivisible = c.block_out_channels.filter((ch) => ch % g !== 0);
  if (notDivisible.length) throw bad('norm_num_groups', g, `a divisor of every block_out_channels entry (${notDivisible.join(', ')} is not a multiple of ${g})`);
  if (c.time_compression_ratio !== 4) throw bad('time_compression_ratio', c.time_compression_ratio, '4 (the only ratio upstream accepts)');
  const levels = Math.log2(c.spatial_compression_ratio);
  if (!Number.isInteger(levels) || levels < 0 || levels > c.block_out_channels.length - 1) {
    throw bad('spatial_compression_ratio', c.spatial_compression_ratio, `a power of 2 no larger than 2^${c.block_out_channels.length - 1} (one halving per level but the last)`);
  }
  if (c.block_out_channels.length < 3) throw bad('block_out_channels', c.block_out_channels, 'at least 3 levels (two of them halve time)');
  if (typeof c.scaling_factor !== 'number' || !(c.scaling_factor > 0)) throw bad('scaling_factor', c.scaling_factor, 'a positive number');
  if (typeof c.mid_block_add_attention !== 'boolean') throw bad('mid_block_add_attention', c.mid_block_add_attention, 'true or false');
}

/** Reads and checks a config.json. */
export function readVaeConfigFile(path: string): VaeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VaeConfigError(code === 'ENOENT' ? `cannot read the VAE config ${path}: no such file. Check the path.` : `cannot read the VAE config ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new VaeConfigError(`${path} is not valid JSON (${(err as Error).message}); a VAE config is a JSON object like HunyuanVideo's vae/config.json.`);
  }
  return parseVaeConfig(json, path);
}

const isDir = (p: string): boolean => { try { return statSync(p).isDirectory(); } catch { return false; } };

// Where the VAE sits inside a checkpoint root: a diffusers pipeline folder, HunyuanVideo's ckpts/.
const VAE_SUBFOLDERS = ['vae', 'hunyuan-video-i2v-720p/vae', 'hunyuan-video-t2v-720p/vae'];

/** The folder to read weights from: a checkpoint root (no config.json of its own) stands for its VAE subfolder. */
export function weightsLocation(path: string): string {
  if (!isDir(path) || existsSync(join(path, 'config.json'))) return path;
  const sub = VAE_SUBFOLDERS.map((s) => join(path, s)).find(isDir);
  return sub ?? path;
}

/** The config.json that goes with `weightsPath`, if there is one (see the file header). */
export function configBeside(weightsPath: string): string | undefined {
  const location = weightsLocation(weightsPath);
  if (isDir(location)) {
    const p = join(location, 'config.json');
    return existsSync(p) ? p : undefined;
  }
  const sibling = join(dirname(location), 'config.json');
  if (!existsSync(sibling) || basename(location) === 'config.json') return undefined;
  // A file's neighbour counts only when it names a VAE class: a model root's config.json is not the VAE's.
  try {
    const cls = (JSON.parse(readFileSync(sibling, 'utf8')) as { _class_name?: unknown })._class_name;
    return cls === UPSTREAM_CLASS || cls === DIFFUSERS_CLASS ? sibling : undefined;
  } catch {
    return undefined;
  }
}

/** The config to build: `configPath` if given, else the one beside the weights, else the released one. */
export function chooseVaeConfig(weightsPath: string | undefined, configPath?: string): ConfigChoice {
  if (configPath) return { config: readVaeConfigFile(configPath), source: configPath };
  const beside = weightsPath ? configBeside(weightsPath) : undefined;
  if (beside) return { config: readVaeConfigFile(beside), source: beside };
  return { config: RELEASED_VAE_CONFIG, source: RELEASED_CONFIG_NAME };
}

export interface LoadedVaeWeights {
  readonly weights: WeightSource;
  /** What was done to the checkpoint's keys, for the user ("used the 'state_dict' entry"). */
  readonly notes: readonly string[];
  /** How many tensors of each storage dtype. */
  readonly dtypes: ReadonlyMap<string, number>;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * Opens a VAE checkpoint and applies upstream's unwrapping (file header). Key and shape checks
 * against `config` happen when a session is built on the result; dtypes are checked here.
 */
export function loadVaeWeights(path: string): LoadedVaeWeights {
  let source = loadWeights(weightsLocation(path));
  const notes: string[] = [];
  try {
    const unwrapped = unwrapStateDict(source);
    if (unwrapped !== source) {
      notes.push('used the checkpoint\'s "state_dict" entry');
      source = unwrapped;
    }
    if (source.keys().some((k) => k.startsWith('vae.'))) {
      const dropped = source.keys().filter((k) => !k.startsWith('vae.')).length;
      source = prefixView(source, 'vae.');
      notes.push(`kept the ${source.keys().length} keys starting with "vae." and removed that prefix${dropped ? ` (ignored ${dropped} other keys)` : ''}`);
    }
    const dtypes = new Map<string, number>();
    const nonFloat: string[] = [];
    for (const k of source.keys()) {
      const dt = source.info(k).dtype;
      dtypes.set(dt, (dtypes.get(dt) ?? 0) + 1);
      if (!FLOAT_DTYPES.has(dt)) nonFloat.push(`${k} (${dt})`);
    }
    if (nonFloat.length) {
      throw new VaeWeightsError(`${source.path}: VAE weights must be floating-point (F32, F16, BF16 or F64), but ${nonFloat.length} tensor(s) are not: ` +
        `${nonFloat.slice(0, 5).join(', ')}${nonFloat.length > 5 ? ', …' : ''}. Is this the VAE checkpoint?`);
    }
    return { weights: source, notes, dtypes };
  } catch (err) {
    source.close();
    throw err;
  }
}
