/**
 * The built-in tiny transformer: the config of the golden `dit_tiny_token_replace` case (hidden
 * 64, 2 heads, one double and one single block, 4 latent channels like the built-in tiny VAE)
 * with deterministic random weights (models/common/random_tensors.ts), so the image-to-video
 * demo runs anywhere with nothing downloaded. Untrained: its videos are not meant to look like
 * anything.
 */
import { bindModule } from '../../compiler/bind.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { randomTensor } from '../common/random_tensors.ts';
import { ditProgram, type DitConfig } from './transformer.ts';

export const TINY_DIT_CONFIG: DitConfig = {
  in_channels: 4, out_channels: 4, hidden_size: 64, heads_num: 2, mm_double_blocks_depth: 1, mm_single_blocks_depth: 1,
  text_states_dim: 32, text_states_dim_2: 24, patch_size: [1, 2, 2], mlp_hidden: 256, guidance_embed: true, token_replace: true,
  qkv_bias: true, qk_norm: true,
};

/** The tiny transformer's RoPE split of its 32-channel heads over (t, h, w). */
export const TINY_DIT_ROPE_DIMS = [8, 12, 12] as const;

export const BUILTIN_DIT_SEED = 20250306;

/** Every state-dict entry of the transformer with `config`, drawn with `seed`. */
export function randomDitWeights(config: DitConfig = TINY_DIT_CONFIG, seed = BUILTIN_DIT_SEED): Map<string, HostTensor> {
  const bound = bindModule(ditProgram(), 'HYVideoDiffusionTransformer', { ...config });
  return new Map(bound.weights.map((w) => [w.key, randomTensor(w.key, w.shape, seed)]));
}
