/**
 * The model side of `kiln vae`: opening a VAE (a checkpoint or the built-in random weights, with
 * its config), and encoding pixels to latents or decoding latents to pixels with a plan from
 * run_plan.ts. Nothing here prints; callers watch progress through HunyuanVae's callbacks.
 *
 * Vocabulary
 * - Pixels: [1, 3, T, H, W] float in [-1, 1] (T = 4k+1, H and W multiples of 8).
 * - Latents: [1, C, k+1, H/8, W/8]. "Unscaled" latents are the posterior's own values;
 *   "scaled" ones are multiplied by the config's scaling_factor, the space HunyuanVideo's
 *   transformer works in (the pipeline divides by the factor again before decoding).
 * - Mode / sample: the posterior's mean (upstream's `mode()`, what the I2V pipeline encodes
 *   with), or mean + std·ε with ε drawn from the counter-based generator (compiler/random.ts)
 *   keyed by a seed: element i of ε is the standard normal for (seed, i), as Kiln's `randn`.
 */
import { WeightBindingError } from '../../compiler/bind.ts';
import { randomNormal } from '../../compiler/random.ts';
import type { SessionOptions, SessionWeights } from '../../runtime/model.ts';
import { weightsFromMap } from '../../runtime/model.ts';
import { toFloat32, type HostTensor } from '../../runtime/tensor.ts';
import { topLevelNames } from '../../runtime/weights/state_dict.ts';
import { HunyuanVae, type Posterior, type VaeConfig } from './autoencoder.ts';
import { chooseVaeConfig, loadVaeWeights, readVaeConfigFile, VaeWeightsError } from './checkpoint.ts';
import { BUILTIN_WEIGHTS_SEED, builtinVaeWeights, randomVaeWeights, TINY_VAE_CONFIG } from './random_weights.ts';

export interface VaeSource {
  readonly config: VaeConfig;
  /** Where the config came from (a file, or a sentence). */
  readonly configSource: string;
  readonly weights: SessionWeights;
  /** The weights' path, or a description of the built-in ones. */
  readonly weightsLabel: string;
  /** True for the built-in random weights (an untrained network). */
  readonly random: boolean;
  /** What loading did to the checkpoint's keys, for the user. */
  readonly notes: readonly string[];
  close(): void;
}

export const BUILTIN_WEIGHTS_LABEL = `built-in tiny random VAE (seed ${BUILTIN_WEIGHTS_SEED}, untrained)`;

/**
 * The VAE to run: `weightsPath` with its config (chooseVaeConfig), or without weights the
 * built-in deterministic random weights for `configPath`'s config (default: TINY_VAE_CONFIG).
 */
export function openVaeSource(opts: { weightsPath?: string; configPath?: string } = {}): VaeSource {
  if (!opts.weightsPath) {
    const config = opts.configPath ? readVaeConfigFile(opts.configPath) : TINY_VAE_CONFIG;
    const label = opts.configPath ? `random weights (seed ${BUILTIN_WEIGHTS_SEED}, untrained) for ${opts.configPath}` : BUILTIN_WEIGHTS_LABEL;
    return {
      config, configSource: opts.configPath ?? 'the built-in tiny config', weights: weightsFromMap(opts.configPath ? randomVaeWeights(config) : builtinVaeWeights(), label),
      weightsLabel: label, random: true, notes: [], close: () => undefined,
    };
  }
  const choice = chooseVaeConfig(opts.weightsPath, opts.configPath);
  const loaded = loadVaeWeights(opts.weightsPath);
  return {
    config: choice.config, configSource: choice.source, weights: loaded.weights, weightsLabel: loaded.weights.path, random: false,
    notes: loaded.notes, close: () => loaded.weights.close(),
  };
}

/**
 * A HunyuanVae session on `source`. A checkpoint that does not match the config is reported
 * with every differing key (WeightBindingError's list) plus which config was used and how to
 * choose another.
 */
export function createVae(source: VaeSource, opts: SessionOptions): HunyuanVae {
  try {
    return new HunyuanVae(source.config, source.weights, opts);
  } catch (err) {
    if (!(err instanceof WeightBindingError)) throw err;
    const lines = [err.message, `config used: ${source.configSource}.`];
    const found = [...source.weights.keys()];
    if (err.unexpected.length === found.length && found.length > 0) {
      lines.push(`None of the checkpoint's keys belong to the VAE; they start with ${topLevelNames(found)}. ` +
        'Is this the VAE checkpoint (HunyuanVideo: hunyuan-video-i2v-720p/vae/pytorch_model.pt)? To take a sub-model\'s keys, see `kiln convert --prefix`.');
    } else if (err.misshaped.length > 0 || (err.missing.length > 0 && err.unexpected.length > 0)) {
      lines.push('The checkpoint looks like a VAE with another config: pass its config.json with --config FILE.');
    }
    throw new VaeWeightsError(lines.join('\n'));
  }
}

/** Latents of pixels `x` under the plan already set on `vae`: the posterior's mode, or a sample. */
export async function encodePixels(vae: HunyuanVae, x: HostTensor, opts: { sampleSeed?: number } = {}): Promise<{ latents: HostTensor; posterior: Posterior }> {
  const posterior = await vae.encode(x);
  const latents = opts.sampleSeed === undefined ? asF32(posterior.mean) : samplePosterior(posterior, opts.sampleSeed);
  return { latents, posterior };
}

/** mean + std·ε, ε[i] = the standard normal of (seed, i) from the counter-based generator. */
export function samplePosterior(p: Posterior, seed: number): HostTensor {
  const mean = toFloat32(p.mean);
  const std = toFloat32(p.std);
  const out = new Float32Array(mean.length);
  for (let i = 0; i < out.length; i++) out[i] = mean[i] + std[i] * randomNormal(seed, i);
  return { dtype: 'F32', shape: [...p.mean.shape], data: out };
}

/** `t` multiplied by `factor` (F32). */
export function scaleTensor(t: HostTensor, factor: number): HostTensor {
  const v = toFloat32(t);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * factor;
  return { dtype: 'F32', shape: [...t.shape], data: out };
}

/** `t` divided by `factor` (F32): scaled latents back to the VAE's own, as the pipeline divides. */
export function unscaleTensor(t: HostTensor, factor: number): HostTensor {
  const v = toFloat32(t);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] / factor;
  return { dtype: 'F32', shape: [...t.shape], data: out };
}

function asF32(t: HostTensor): HostTensor {
  return t.dtype === 'F32' ? t : { dtype: 'F32', shape: [...t.shape], data: toFloat32(t) };
}

/** Pixels (nominally [-1, 1]) of unscaled latents `z` under the plan already set on `vae`. */
export async function decodeLatents(vae: HunyuanVae, z: HostTensor): Promise<HostTensor> {
  return vae.decode(asF32(z));
}
