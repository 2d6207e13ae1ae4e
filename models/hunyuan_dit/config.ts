/**
 * HYVideoDiffusionTransformer's configuration as upstream states it (constructor keyword
 * arguments, with the text dimensions and the i2v condition under `args`), turned into the
 * Kiln module's config — for golden cases, config files and checkpoints alike.
 */
import type { DitConfig } from './transformer.ts';

export class DitConfigError extends Error {
  readonly userFacing = true;
  override name = 'DitConfigError';
}

/** The module's config and the head's RoPE split over (t, h, w) (rope_dim_list), which the caller's tables follow. */
export interface DitModelConfig {
  readonly config: DitConfig;
  readonly ropeDimList: readonly number[];
}

type Kwargs = Readonly<Record<string, unknown>>;

function refuse(what: string): never {
  throw new DitConfigError(`HYVideoDiffusionTransformer with ${what} is not supported`);
}

/**
 * Upstream's constructor kwargs (upstream's defaults for those left out; the text dimensions
 * under "args", as upstream takes them) as the Kiln module's config plus the RoPE split of a
 * head, refusing what Kiln does not build.
 */
export function ditModelFromKwargs(k: Kwargs): DitModelConfig {
  const args = (k.args ?? {}) as Kwargs;
  const num = (v: unknown, name: string, fallback?: number): number => {
    const x = v ?? fallback;
    if (typeof x !== 'number') refuse(`${name} ${JSON.stringify(v)} (a number is needed)`);
    return x;
  };
  const hidden = num(k.hidden_size, 'hidden_size', 3072);
  const heads = num(k.heads_num, 'heads_num', 24);
  if (hidden % heads !== 0) refuse(`hidden_size ${hidden} not divisible by heads_num ${heads}`);
  const rope = (k.rope_dim_list ?? [16, 56, 56]) as number[];
  if (rope.reduce((a, b) => a + b, 0) !== hidden / heads) refuse(`rope_dim_list ${JSON.stringify(rope)} not summing to the head dimension ${hidden / heads} (upstream raises)`);
  if ((k.mlp_act_type ?? 'gelu_tanh') !== 'gelu_tanh') refuse(`mlp_act_type ${JSON.stringify(k.mlp_act_type)}`);
  if ((k.qk_norm_type ?? 'rms') !== 'rms' && k.qk_norm !== false) refuse(`qk_norm_type ${JSON.stringify(k.qk_norm_type)}`);
  if ((k.text_projection ?? 'single_refiner') !== 'single_refiner') refuse(`text_projection ${JSON.stringify(k.text_projection)}`);
  if (k.use_attention_mask === false) refuse('use_attention_mask=False');
  const condition = args.i2v_condition_type;
  if (condition !== undefined && condition !== null && condition !== 'token_replace' && condition !== 'latent_concat') refuse(`i2v_condition_type ${JSON.stringify(condition)}`);
  const patch = k.patch_size ?? [1, 2, 2];
  const patchSize = (typeof patch === 'number' ? [patch, patch, patch] : patch) as number[];
  if (patchSize.length !== 3) refuse(`patch_size ${JSON.stringify(patch)}`);
  const inChannels = num(k.in_channels, 'in_channels', 4);
  const config: DitConfig = {
    in_channels: inChannels,
    out_channels: k.out_channels === undefined || k.out_channels === null ? inChannels : num(k.out_channels, 'out_channels'),
    hidden_size: hidden,
    heads_num: heads,
    mm_double_blocks_depth: num(k.mm_double_blocks_depth, 'mm_double_blocks_depth', 20),
    mm_single_blocks_depth: num(k.mm_single_blocks_depth, 'mm_single_blocks_depth', 40),
    // Upstream's command-line defaults (LLaVA's 4096, CLIP-L's 768) where args leaves them out.
    text_states_dim: num(args.text_states_dim, 'args.text_states_dim', 4096),
    text_states_dim_2: num(args.text_states_dim_2, 'args.text_states_dim_2', 768),
    patch_size: [patchSize[0], patchSize[1], patchSize[2]],
    mlp_hidden: Math.trunc(hidden * num(k.mlp_width_ratio, 'mlp_width_ratio', 4)),
    guidance_embed: k.guidance_embed === true,
    token_replace: condition === 'token_replace',
    qkv_bias: k.qkv_bias !== false,
    qk_norm: k.qk_norm !== false,
  };
  return { config, ropeDimList: rope };
}

