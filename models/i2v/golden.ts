/**
 * Golden adapters for the image-to-video sampler: HunyuanVideoSampler.predict as far as the
 * reference image goes (the `sampler_crop_buckets` case: the bucket chosen for each image size,
 * resolution and sequence-parallel degree, the pixels handed to the VAE, the bucket lists with
 * their ratios), and one image-to-video HunyuanVideoPipeline.__call__ (the `pipeline_*` cases:
 * the start latents, every step's transformer output and latents, the video).
 */
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { makeFrames } from '../../runtime/media/frames.ts';
import { returnedOutputs, UnsupportedGoldenError, type GoldenAdapter } from '../golden/adapter.ts';
import type { GoldenCall, GoldenCase } from '../golden/case.ts';
import { bucketRatios, generateCropSizeList, i2vBucket, isI2vResolution, RESOLUTION_BASES, type I2vResolution } from './buckets.ts';
import { prepareReferenceImage } from './reference_image.ts';
import { HunyuanI2vPipeline, type DitPrecision } from './pipeline.ts';
import { ditConfigFrom, goldenDit } from '../hunyuan_dit/golden.ts';
import { autoencoderConfigFrom } from '../hunyuan_vae/golden.ts';
import { HunyuanVae } from '../hunyuan_vae/autoencoder.ts';
import { flowMatchConfigFrom } from '../flow_match/golden.ts';
import { FlowMatchDiscreteScheduler } from '../flow_match/scheduler.ts';

const PREDICT = 'HunyuanVideoSampler.predict';

const tensor = (values: readonly number[], shape: readonly number[]): HostTensor => ({ dtype: 'F64', shape, data: Float64Array.from(values) });

function resolutionOf(c: GoldenCase, text: string): I2vResolution {
  const r = text.trim();
  if (!isI2vResolution(r)) throw new UnsupportedGoldenError(`${c.path}: resolution ${JSON.stringify(r)} is not one of ${Object.keys(RESOLUTION_BASES).join(', ')}`);
  return r;
}

/** The case's bucket bases must be upstream's (Kiln's buckets use those). */
function checkBases(c: GoldenCase): void {
  const text = c.metadata.bucket_base_sizes;
  if (text === undefined) return;
  const bases = JSON.parse(text) as Record<string, number>;
  for (const [res, base] of Object.entries(bases)) {
    if (!isI2vResolution(res) || RESOLUTION_BASES[res] !== base) throw new UnsupportedGoldenError(`${c.path}: bucket base ${res} = ${base} is not upstream's (${JSON.stringify(RESOLUTION_BASES)})`);
  }
}

/** An [H, W, 3] tensor of 0..255 values (stored I64 in the case) as an RGB image. */
function imageOf(c: GoldenCase, name: string) {
  const t = c.tensor(name);
  if (t.shape.length !== 3 || t.shape[2] !== 3) throw new UnsupportedGoldenError(`${c.path}: ${name} has shape [${t.shape.join(', ')}], expected [H, W, 3] RGB`);
  const data = Uint8Array.from(toFloat64(t));
  return makeFrames(t.shape[1], t.shape[0], 1, data);
}

/**
 * Call 1: one row per image size × resolution × sp degree: the sizes are input.image_sizes'
 * (height, width) rows (input.image's own size among them, last), the resolutions and degrees
 * as the `returns` text lists them.
 */
function bucketTable(c: GoldenCase, call: GoldenCall): [string, HostTensor] {
  const text = call.returns ?? '';
  const name = returnedOutputs(call).names[0];
  const resolutions = /resolution \(([^)]*)\)/.exec(text)?.[1].split(',').map((r) => resolutionOf(c, r));
  const degrees = /sp_degree \[([^\]]*)\]/.exec(text)?.[1].split(',').map(Number);
  if (!name || !resolutions || !degrees || degrees.some((d) => !Number.isInteger(d))) {
    throw new UnsupportedGoldenError(`${c.path}: the bucket table "${text}" is not understood (expected its output name, "resolution (...)" and "sp_degree [...]")`);
  }
  const sizesTensor = c.tensor('input.image_sizes');
  const flat = toFloat64(sizesTensor);
  const sizes: (readonly [number, number])[] = [];
  for (let i = 0; i < flat.length; i += 2) sizes.push([flat[i], flat[i + 1]]);
  const columns = JSON.parse(c.metadata.bucket_columns ?? '["image_height","image_width","resolution","sp_degree","bucket_height","bucket_width"]') as string[];
  const rows: number[] = [];
  for (const [h, w] of sizes) {
    for (const res of resolutions) {
      for (const sp of degrees) {
        const [bh, bw] = i2vBucket(h, w, res, sp);
        const value: Record<string, number> = { image_height: h, image_width: w, resolution: Number(res.replace('p', '')), sp_degree: sp, bucket_height: bh, bucket_width: bw };
        for (const col of columns) {
          if (!(col in value)) throw new UnsupportedGoldenError(`${c.path}: bucket column ${col} is not one Kiln knows (${Object.keys(value).join(', ')})`);
          rows.push(value[col]);
        }
      }
    }
  }
  return [name, tensor(rows, [rows.length / columns.length, columns.length])];
}

const samplerAdapter: GoldenAdapter = {
  classNames: ['predict'],
  async run(c, ctx) {
    checkBases(c);
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if (call.method === PREDICT && typeof call.image === 'string') {
        const res = resolutionOf(c, String(call.i2v_resolution));
        const sp = Number(call.sp_degree ?? 1);
        const name = returnedOutputs(call).names[0];
        if (!name) throw new UnsupportedGoldenError(`${c.path}: cannot tell which output the pixel call returns from "${call.returns}"`);
        const { bucket, pixels } = prepareReferenceImage(imageOf(c, call.image), res, sp);
        out.set(name, pixels);
        ctx.log(`reference image → bucket ${bucket[0]}x${bucket[1]} at ${res}`);
      } else if (call.method === PREDICT) {
        const [name, table] = bucketTable(c, call);
        out.set(name, table);
        ctx.log(`${table.shape[0]} buckets`);
      } else if (call.function === 'hyvideo.utils.data_utils.generate_crop_size_list') {
        const patch = Number(call.args?.[1] ?? 32);
        for (const [res, base] of Object.entries(RESOLUTION_BASES)) {
          const list = generateCropSizeList(base, patch);
          out.set(`crop_size_list_${res}`, tensor(list.flat(), [list.length, 2]));
          out.set(`aspect_ratios_${res}`, tensor(bucketRatios(list), [list.length]));
        }
      } else {
        throw new UnsupportedGoldenError(`${c.path}: the call ${JSON.stringify(call.method ?? call.function)} is not supported (${PREDICT} and generate_crop_size_list)`);
      }
    }
    return out;
  },
};

type Kwargs = Readonly<Record<string, unknown>>;

const PRECISIONS: readonly DitPrecision[] = ['bf16', 'fp16', 'fp32'];

function refusePipeline(c: GoldenCase, what: string): never {
  throw new UnsupportedGoldenError(`${c.path}: HunyuanVideoPipeline with ${what} is not supported`);
}

/** An `input.*` name from the call's kwargs as a tensor. */
function kwTensor(c: GoldenCase, kw: Kwargs, key: string): HostTensor {
  const v = kw[key];
  if (typeof v !== 'string' || !v.startsWith('input.')) refusePipeline(c, `${key} ${JSON.stringify(v)} (an input tensor is needed)`);
  return c.tensor(v);
}

const pipelineAdapter: GoldenAdapter = {
  classNames: ['HunyuanVideoPipeline'],
  async run(c, ctx) {
    const k = c.constructorConfig;
    const scheduler = { ...((k.scheduler ?? {}) as Kwargs) };
    if ((scheduler.cls ?? 'FlowMatchDiscreteScheduler') !== 'FlowMatchDiscreteScheduler') refusePipeline(c, `scheduler ${JSON.stringify(scheduler.cls)}`);
    delete scheduler.cls;
    const args = (k.args ?? {}) as Kwargs;
    const precision = (args.precision ?? 'bf16') as DitPrecision;
    if (!PRECISIONS.includes(precision)) refusePipeline(c, `args.precision ${JSON.stringify(args.precision)}`);
    const dit = goldenDit(c, ditConfigFrom(c, (k.transformer ?? {}) as Kwargs), c.weights('transformer.'), ctx);
    const vae = new HunyuanVae(autoencoderConfigFrom(c, (k.vae ?? {}) as Kwargs), c.weights('vae.'), ctx.session);
    const pipeline = new HunyuanI2vPipeline(dit, vae, new FlowMatchDiscreteScheduler(flowMatchConfigFrom(c, scheduler), ctx.session));
    const out = new Map<string, HostTensor>();
    for (const call of c.calls) {
      if (call.method !== '__call__') refusePipeline(c, `the call ${JSON.stringify(call.method)}`);
      const kw = (call.kwargs ?? {}) as Kwargs;
      if (kw.i2v_mode !== true || (kw.i2v_condition_type !== 'token_replace' && kw.i2v_condition_type !== 'latent_concat')) {
        refusePipeline(c, `i2v_mode ${JSON.stringify(kw.i2v_mode)}, i2v_condition_type ${JSON.stringify(kw.i2v_condition_type)} (Kiln runs image-to-video: token_replace or latent_concat)`);
      }
      if (kw.i2v_condition_type !== pipeline.condition) refusePipeline(c, `i2v_condition_type ${JSON.stringify(kw.i2v_condition_type)} with a transformer built for ${pipeline.condition}`);
      if ((kw.num_videos_per_prompt ?? 1) !== 1) refusePipeline(c, `num_videos_per_prompt ${JSON.stringify(kw.num_videos_per_prompt)}`);
      if ((kw.guidance_rescale ?? 0) !== 0) refusePipeline(c, `guidance_rescale ${JSON.stringify(kw.guidance_rescale)}`);
      const [cosName, sinName] = (kw.freqs_cis ?? []) as string[];
      if (typeof cosName !== 'string' || typeof sinName !== 'string') refusePipeline(c, `freqs_cis ${JSON.stringify(kw.freqs_cis)} (the two RoPE tables, input.* names, are needed)`);
      const guidanceScale = (kw.guidance_scale ?? 7.5) as number;
      const prompt = (prefix: string) => ({
        states: c.tensor(`input.${prefix}prompt_embeds`), mask: c.tensor(`input.${prefix}prompt_mask`), pooled: c.tensor(`input.${prefix}prompt_embeds_2`),
      });
      const noise = c.tensor('input.noise');
      const frames = (kw.video_length ?? 129) as number;
      const latentFrames = (frames - 1) / vae.config.time_compression_ratio + 1;
      if (latentFrames !== noise.shape[2]) refusePipeline(c, `video_length ${frames} and noise of ${noise.shape[2]} latent frames (the VAE compresses time ${vae.config.time_compression_ratio}x)`);
      const result = await pipeline.denoise({
        imageLatents: kwTensor(c, kw, 'img_latents'), prompt: prompt(''), negative: guidanceScale > 1 ? prompt('negative_') : undefined, noise,
        freqsCos: c.tensor(cosName), freqsSin: c.tensor(sinName),
      }, {
        numInferenceSteps: (kw.num_inference_steps ?? 50) as number, guidanceScale,
        embeddedGuidanceScale: (kw.embedded_guidance_scale ?? undefined) as number | undefined, precision, stability: kw.i2v_stability !== false,
        onStep: (s) => {
          out.set(`model_output_step_${s.index}`, s.modelOutput);
          out.set(`latents_step_${s.index}`, s.latents);
          ctx.log(`step ${s.index} (t = ${s.timestep})`);
        },
      });
      out.set('latents_init', result.latentsInit);
      out.set('latents', result.latents);
      out.set('dit_guidance', result.ditGuidance);
      const video = await pipeline.decode(result.latents, kw.enable_tiling === true);
      const name = returnedOutputs(call).names[0] ?? 'video';
      out.set(name, video);
      ctx.log(`decode → ${name} [${video.shape.join(', ')}]`);
    }
    return out;
  },
};

export const I2V_GOLDEN_ADAPTERS: readonly GoldenAdapter[] = [samplerAdapter, pipelineAdapter];
