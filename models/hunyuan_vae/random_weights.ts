/**
 * Deterministic random VAE weights: the built-in stand-in for a checkpoint, so `kiln vae demo`
 * and `kiln vae encode/decode` without `--weights` run anywhere with nothing downloaded.
 *
 * Vocabulary
 * - The init rule and the draw: models/common/random_tensors.ts.
 * - TINY_VAE_CONFIG: the golden files' tiny config (block_out_channels [8, 16, 16, 16], one
 *   resnet per level, 4 latent channels, 4 groups, sample_tsize 16), with sample_size 64 so a
 *   64×64 demo clip decodes as one tile (see the note on TINY_VAE_CONFIG).
 */
import { bindModule } from '../../compiler/bind.ts';
import { randomTensor } from '../common/random_tensors.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { kilnVaeConfig, vaeProgram, type VaeConfig } from './autoencoder.ts';

/**
 * The built-in tiny VAE. It is the config of the golden `vae_tiny_*` files except for
 * `sample_size`: upstream's tiling constants would make a 64×64 decode a 3×3 grid of 32-pixel
 * tiles, each normalised on its own statistics, which with random weights shows as a visible
 * patchwork and costs four distinct program shapes (= shader compiles) instead of one. With 64
 * the demo decodes in one piece and tiling still starts above 64 pixels, with size-correct
 * strides (64 is a multiple of 32).
 */
export const TINY_VAE_CONFIG: VaeConfig = {
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [8, 16, 16, 16],
  layers_per_block: 1,
  latent_channels: 4,
  norm_num_groups: 4,
  sample_size: 64,
  sample_tsize: 16,
  scaling_factor: 0.476986,
  time_compression_ratio: 4,
  spatial_compression_ratio: 8,
  mid_block_add_attention: true,
};

/** The seed of the built-in weights (any fixed value; changing it changes every demo output). */
export const BUILTIN_WEIGHTS_SEED = 20250328;

/** Every state-dict entry of the VAE with `config`, drawn with `seed`, keyed as the checkpoint would be. */
export function randomVaeWeights(config: VaeConfig = TINY_VAE_CONFIG, seed = BUILTIN_WEIGHTS_SEED): Map<string, HostTensor> {
  const bound = bindModule(vaeProgram(), 'AutoencoderKLCausal3D', kilnVaeConfig(config));
  return new Map(bound.weights.map((w) => [w.key, randomTensor(w.key, w.shape, seed)]));
}

let builtin: Map<string, HostTensor> | undefined;

/** The built-in weights (TINY_VAE_CONFIG, BUILTIN_WEIGHTS_SEED), drawn once per process; never modify them. */
export function builtinVaeWeights(): ReadonlyMap<string, HostTensor> {
  return (builtin ??= randomVaeWeights(TINY_VAE_CONFIG, BUILTIN_WEIGHTS_SEED));
}
