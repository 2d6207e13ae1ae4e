/**
 * The image-to-video denoising run of HunyuanVideoPipeline.__call__ (spec/pipeline.md §5): the
 * stability start, the loop of transformer forwards (batched with the negative prompt under
 * classifier-free guidance) and flow-matching steps, and the decode to video frames. The image
 * conditions the run in one of upstream's two ways:
 * - token_replace (the released I2V model): latent frame 0 is the clean image latent in every
 *   forward and in the result; only the later frames are integrated;
 * - latent_concat (the older 33-channel model): the transformer also reads the image latent on
 *   frame 0 and a frame-0 mask as extra channels; every frame is integrated, and the first four
 *   decoded frames are dropped.
 *
 * Text encoders are not part of it: the caller gives the encoded prompt (LLaVA states and mask,
 * CLIP pooled state), as it gives the noise draw; the reference image's latent is the VAE's
 * encoding of the prepared image (reference_image.ts) times the VAE's scaling factor.
 */
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat, toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import type { DitModel } from '../hunyuan_dit/transformer.ts';
import type { HunyuanVae } from '../hunyuan_vae/autoencoder.ts';
import type { FlowMatchDiscreteScheduler } from '../flow_match/scheduler.ts';
import { unscaleTensor } from '../hunyuan_vae/run.ts';

/** Upstream's i2v_stability mix point, a float32 tensor: 0.999 → 0.99900001287…, 1 − t in float32. */
const STABILITY_T = Math.fround(0.999);
const STABILITY_ONE_MINUS_T = Math.fround(1 - STABILITY_T);

export interface EncodedPrompt {
  /** LLaVA hidden states [1, Lt, text_states_dim] and their attention mask [1, Lt]. */
  readonly states: HostTensor;
  readonly mask: HostTensor;
  /** CLIP's pooled state [1, text_states_dim_2]. */
  readonly pooled: HostTensor;
}

export interface I2vRunInputs {
  /** vae.encode(image).mode() · scaling_factor, [1, C, 1, h, w]. */
  readonly imageLatents: HostTensor;
  readonly prompt: EncodedPrompt;
  /** The negative prompt's encoding; needed when guidanceScale > 1. */
  readonly negative?: EncodedPrompt;
  /** The one Gaussian draw, [1, C, T', h, w]; T' = (frames − 1) / 4 + 1. */
  readonly noise: HostTensor;
  /** RoPE tables for the latent grid (ndRotaryPosEmbed). */
  readonly freqsCos: HostTensor;
  readonly freqsSin: HostTensor;
}

export interface I2vRunOptions {
  readonly numInferenceSteps: number;
  /** Classifier-free guidance scale; above 1 the negative prompt is run alongside. */
  readonly guidanceScale: number;
  /** The distilled guidance the transformer embeds (6.0 in the sampler's README run). */
  readonly embeddedGuidanceScale?: number;
  /** The precision upstream ran the transformer in, which rounds the embedded guidance (default bf16). */
  readonly precision?: DitPrecision;
  /** Start from 0.999·noise + 0.001·image latent instead of pure noise (upstream default). */
  readonly stability?: boolean;
  /** Called after each step with what upstream's callback_on_step_end sees. */
  readonly onStep?: (step: StepRecord) => void;
}

export interface StepRecord {
  readonly index: number;
  readonly timestep: number;
  /** The transformer's output before guidance ([2, ...] under CFG: unconditional first). */
  readonly modelOutput: HostTensor;
  /** The latents after the step (frame 0 is the image latent). */
  readonly latents: HostTensor;
}

export interface I2vRunResult {
  readonly latentsInit: HostTensor;
  readonly latents: HostTensor;
  /** The guidance values handed to the transformer, one per batch row (bf16 products). */
  readonly ditGuidance: HostTensor;
}

/** Tensors stacked along the batch axis. */
function concatBatch(parts: readonly HostTensor[]): HostTensor {
  const [first] = parts;
  const inner = first.shape.slice(1);
  for (const p of parts) {
    if (p.shape.length !== first.shape.length || p.shape.slice(1).some((d, i) => d !== inner[i])) {
      throw new Error(`cannot stack [${p.shape.join(', ')}] with [${first.shape.join(', ')}] along the batch axis`);
    }
  }
  const values = parts.map(toFloat64);
  const out = new Float64Array(values.reduce((n, v) => n + v.length, 0));
  let at = 0;
  for (const v of values) {
    out.set(v, at);
    at += v.length;
  }
  const batch = parts.reduce((n, p) => n + p.shape[0], 0);
  const integer = first.dtype === 'I64' || first.dtype === 'I32';
  return integer ? { dtype: 'I32', shape: [batch, ...inner], data: Int32Array.from(out) } : { dtype: 'F64', shape: [batch, ...inner], data: out };
}

const vector = (values: readonly number[]): HostTensor => ({ dtype: 'F32', shape: [values.length], data: Float32Array.from(values) });

/** The transformer's precision in upstream's run (args.precision): the embedded guidance is rounded to it. */
export type DitPrecision = 'bf16' | 'fp16' | 'fp32';

const roundTo: Record<DitPrecision, (v: number) => number> = {
  bf16: (v) => bf16ToFloat(floatToBf16(v)),
  fp16: (v) => halfToFloat(floatToHalf(v)),
  fp32: Math.fround,
};

/**
 * Embedded guidance as upstream builds it: the scale cast to the transformer's precision, then
 * times 1000 in that precision — with bf16 (the released run) 6.0 becomes 6016, 7.5 becomes 7488.
 */
export function embeddedGuidance(scale: number, precision: DitPrecision = 'bf16'): number {
  const round = roundTo[precision];
  return round(Math.fround(round(scale) * 1000));
}

/** How the reference image conditions the transformer (upstream's i2v_condition_type). */
export type I2vCondition = 'token_replace' | 'latent_concat';

/** Frames upstream drops from the front of a latent_concat video. */
const LATENT_CONCAT_DROPPED_FRAMES = 4;

export class HunyuanI2vPipeline {
  readonly condition: I2vCondition;

  constructor(readonly dit: DitModel, readonly vae: HunyuanVae, readonly scheduler: FlowMatchDiscreteScheduler) {
    const c = vae.config.latent_channels;
    if (dit.config.token_replace) this.condition = 'token_replace';
    else if (dit.config.in_channels === 2 * c + 1) this.condition = 'latent_concat';
    else {
      throw new Error(`the transformer neither uses token_replace nor reads ${2 * c + 1} channels (latents, image latent and mask: latent_concat) of this VAE's ${c}-channel latents; it has ${dit.config.in_channels}`);
    }
  }

  /** The denoising loop: the latents a video decodes from. */
  async denoise(inputs: I2vRunInputs, opts: I2vRunOptions): Promise<I2vRunResult> {
    const cfg = opts.guidanceScale > 1;
    if (cfg && !inputs.negative) throw new Error(`guidance scale ${opts.guidanceScale} needs the negative prompt's encoding`);
    if (this.dit.config.guidance_embed && opts.embeddedGuidanceScale === undefined) {
      throw new Error('this transformer embeds guidance: pass embeddedGuidanceScale (6.0 for the released I2V model)');
    }
    const image = inputs.imageLatents;
    const { arithmetic } = this.scheduler;
    const latentsInit = opts.stability ?? true ? await arithmetic.stabilityInit(inputs.noise, image, STABILITY_T, STABILITY_ONE_MINUS_T) : inputs.noise;
    const rows = cfg ? 2 : 1;
    const guidance = opts.embeddedGuidanceScale === undefined ? undefined : vector(Array.from({ length: rows }, () => embeddedGuidance(opts.embeddedGuidanceScale!, opts.precision)));
    const text = cfg ? [inputs.negative!, inputs.prompt] : [inputs.prompt];
    const textStates = concatBatch(text.map((p) => p.states));
    const textMask = concatBatch(text.map((p) => p.mask));
    const textStates2 = concatBatch(text.map((p) => p.pooled));

    this.scheduler.setTimesteps(opts.numInferenceSteps);
    const timesteps = Array.from(this.scheduler.timesteps);
    const tokenReplace = this.condition === 'token_replace';
    let latents = latentsInit;
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i];
      const x = tokenReplace ? await arithmetic.withImageFrame(latents, image) : latents;
      const input = tokenReplace ? x : await arithmetic.latentConcatInput(x, image);
      const modelOutput = await this.dit.forward({
        x: cfg ? concatBatch([input, input]) : input, t: vector(Array.from({ length: rows }, () => t)),
        textStates, textMask, textStates2, freqsCos: inputs.freqsCos, freqsSin: inputs.freqsSin, guidance,
      });
      const v = cfg ? await this.guided(modelOutput, opts.guidanceScale) : modelOutput;
      latents = tokenReplace ? await this.scheduler.tokenReplaceStep(v, t, x, image) : await this.scheduler.step(v, t, x);
      opts.onStep?.({ index: i, timestep: t, modelOutput, latents });
    }
    return { latentsInit, latents, ditGuidance: guidance ?? vector([]) };
  }

  /**
   * Decoded video in [0, 1], [1, 3, frames, height, width]: the VAE on latents / scaling_factor,
   * tiled where the sizes call for it (the sampler's enable_tiling; upstream never turns it off again).
   */
  async decode(latents: HostTensor, tiling = true): Promise<HostTensor> {
    if (tiling) this.vae.enableTiling();
    const sample = await this.vae.decode(unscaleTensor(latents, this.vae.config.scaling_factor));
    // (sample / 2 + 0.5).clamp(0, 1), as float32; latent_concat drops the first frames.
    const values = toFloat64(sample);
    const [b, ch, frames, h, w] = sample.shape;
    const drop = this.condition === 'latent_concat' ? Math.min(LATENT_CONCAT_DROPPED_FRAMES, frames) : 0;
    const kept = frames - drop;
    const video = new Float32Array(b * ch * kept * h * w);
    const plane = h * w;
    for (let bc = 0; bc < b * ch; bc++) {
      for (let f = 0; f < kept; f++) {
        const from = (bc * frames + f + drop) * plane;
        const to = (bc * kept + f) * plane;
        for (let p = 0; p < plane; p++) video[to + p] = Math.min(1, Math.max(0, values[from + p] / 2 + 0.5));
      }
    }
    return { dtype: 'F32', shape: [b, ch, kept, h, w], data: video };
  }

  /** v_uncond + scale · (v_cond − v_uncond) for a [2, ...] output (unconditional first). */
  private async guided(output: HostTensor, scale: number): Promise<HostTensor> {
    const values = toFloat64(output);
    const half = values.length / 2;
    const shape = [1, ...output.shape.slice(1)];
    const uncond: HostTensor = { dtype: 'F64', shape, data: values.slice(0, half) };
    const cond: HostTensor = { dtype: 'F64', shape, data: values.slice(half) };
    return this.scheduler.arithmetic.classifierFreeGuidance(uncond, cond, scale);
  }
}
