/**
 * HunyuanDit: the denoising transformer as the sampler drives it — a ModelSession over
 * HYVideoDiffusionTransformer (dit.kiln) plus what upstream computes outside the network in
 * float32: the timestep sinusoids (timestep.ts). The RoPE tables are the caller's
 * (ndRotaryPosEmbed), as they are upstream's pipeline's.
 */
import { lazyProgram } from '../../dsl/program.ts';
import { tensorArg } from '../../compiler/bind.ts';
import type { CallArg } from '../../dsl/session.ts';
import { ModelSession, type CallInput, type CallOptions, type CallResult, type SessionOptions, type SessionWeights } from '../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { timestepSinusoid } from './timestep.ts';

export const ditProgram = lazyProgram(import.meta.url, ['dit.kiln']);

/** The HYVideoDiffusionTransformer config fields the network depends on. */
export interface DitConfig {
  readonly in_channels: number;
  readonly out_channels: number;
  readonly hidden_size: number;
  readonly heads_num: number;
  readonly mm_double_blocks_depth: number;
  readonly mm_single_blocks_depth: number;
  readonly text_states_dim: number;
  readonly text_states_dim_2: number;
  readonly patch_size: readonly [number, number, number];
  /** int(hidden_size · mlp_width_ratio). */
  readonly mlp_hidden: number;
  readonly guidance_embed: boolean;
  /** i2v_condition_type "token_replace": latent frame 0's tokens are modulated as at t = 0. */
  readonly token_replace: boolean;
  readonly qkv_bias: boolean;
  readonly qk_norm: boolean;
}

/** The released HunyuanVideo-I2V transformer ("HYVideo-T/2", token_replace; spec/pipeline.md §8.1). */
export const RELEASED_I2V_DIT_CONFIG: DitConfig = {
  in_channels: 16, out_channels: 16, hidden_size: 3072, heads_num: 24, mm_double_blocks_depth: 20, mm_single_blocks_depth: 40,
  text_states_dim: 4096, text_states_dim_2: 768, patch_size: [1, 2, 2], mlp_hidden: 12288, guidance_embed: true, token_replace: true,
  qkv_bias: true, qk_norm: true,
};

export interface DitInputs {
  /** Latents [B, C, T', H', W']. */
  readonly x: HostTensor;
  /** Timesteps [B] (σ · 1000). */
  readonly t: HostTensor;
  /** LLaVA states [B, Lt, text_states_dim] and their mask [B, Lt] (1 = real token). */
  readonly textStates: HostTensor;
  readonly textMask: HostTensor;
  /** The pooled CLIP state [B, text_states_dim_2]. */
  readonly textStates2: HostTensor;
  /** RoPE tables [image tokens, head_dim]. */
  readonly freqsCos: HostTensor;
  readonly freqsSin: HostTensor;
  /** Embedded guidance [B] (scale · 1000); required when the config has guidance_embed. */
  readonly guidance?: HostTensor;
}

/**
 * The forward's arguments as shapes, for compiling ahead of time (a GPU this machine does not
 * have): latents `[B, C, T', H', W']`, `textTokens` of text, the tables of the patch grid.
 */
export function ditForwardShapes(config: DitConfig, latents: readonly [number, number, number, number, number], textTokens: number): CallArg[] {
  const [b, c, t, h, w] = latents;
  const [pt, ph, pw] = config.patch_size;
  const tokens = (t / pt) * (h / ph) * (w / pw);
  const head = config.hidden_size / config.heads_num;
  const freq = [b, 256];
  return [
    tensorArg('x', [b, c, t, h, w]), tensorArg('t_freq', freq), tensorArg('text_states', [b, textTokens, config.text_states_dim]),
    tensorArg('text_mask', [b, textTokens], 'i32'), tensorArg('text_states_2', [b, config.text_states_dim_2]),
    tensorArg('freqs_cos', [tokens, head]), tensorArg('freqs_sin', [tokens, head]),
    config.guidance_embed ? tensorArg('guidance_freq', freq) : { kind: 'value', value: null },
    config.token_replace ? tensorArg('tr_freq', freq) : { kind: 'value', value: null },
  ];
}

/** What the sampler needs of a transformer: one device's (HunyuanDit) or several (SequenceParallelDit). */
export interface DitModel {
  readonly config: DitConfig;
  /** The predicted velocity, [B, out_channels, T', H', W']. */
  forward(inputs: DitInputs): Promise<HostTensor>;
}

export class HunyuanDit implements DitModel {
  readonly session: ModelSession;

  constructor(readonly config: DitConfig, weights: SessionWeights, session: SessionOptions) {
    this.session = new ModelSession(ditProgram(), 'HYVideoDiffusionTransformer', { ...config }, weights, session);
  }

  /** The predicted velocity, [B, out_channels, T', H', W']. */
  async forward(inputs: DitInputs): Promise<HostTensor> {
    return (await this.call(inputs)).outputs.out;
  }

  /** The forward as a session call: its output `out`, and the profile or plan `opts` asks for. */
  call(inputs: DitInputs, opts: CallOptions = {}): Promise<CallResult> {
    const t = toFloat64(inputs.t);
    if (this.config.guidance_embed && !inputs.guidance) throw new Error('this transformer embeds guidance (guidance_embed): pass the guidance strength (scale · 1000) per sample');
    const none = { value: null };
    const args: CallInput[] = [
      inputs.x, timestepSinusoid(t), inputs.textStates, inputs.textMask, inputs.textStates2, inputs.freqsCos, inputs.freqsSin,
      this.config.guidance_embed ? timestepSinusoid(toFloat64(inputs.guidance!)) : none,
      this.config.token_replace ? timestepSinusoid(new Float64Array(t.length)) : none,
    ];
    return this.session.call('forward', args, opts);
  }
}
