/**
 * Image to video, as upstream's HunyuanVideoSampler.predict runs it in i2v mode (token_replace or
 * latent_concat, as the transformer was built; spec/pipeline.md §3.2), from an RGB image and an encoded prompt: the size bucket and the
 * reference pixels, the image latent (the VAE posterior's mode times scaling_factor, untiled as
 * upstream's first encode in a process), the RoPE tables of the latent grid (RIFLEx beyond 192
 * frames), one Gaussian noise draw, the denoising run and the decode, then frames as upstream
 * saves them.
 *
 * The noise comes from Kiln's counter-based generator keyed by the seed, so a seed gives the
 * same video on every machine, but not PyTorch's (its CUDA Philox stream is not reproduced).
 */
import { randomNormal } from '../../compiler/random.ts';
import { makeFrames, type Frames } from '../../runtime/media/frames.ts';
import { toFloat64, type HostTensor } from '../../runtime/tensor.ts';
import { samplerRotaryTables } from '../hunyuan_dit/rope.ts';
import { scaleTensor } from '../hunyuan_vae/run.ts';
import { prepareReferenceImage } from './reference_image.ts';
import type { Bucket, I2vResolution } from './buckets.ts';
import type { EncodedPrompt, HunyuanI2vPipeline, StepRecord } from './pipeline.ts';

export interface ImageToVideoOptions {
  readonly resolution: I2vResolution;
  /** Frames of video, 4k + 1 (upstream's video_length). */
  readonly frames: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly embeddedGuidanceScale?: number;
  readonly stability: boolean;
  readonly seed: number;
  /** The transformer's RoPE split of a head over (t, h, w), and its base. */
  readonly ropeDims: readonly number[];
  readonly ropeTheta?: number;
  /** Progress: a stage begins; a denoising step ends. */
  readonly onStage?: (stage: 'encode image' | 'denoise' | 'decode') => void;
  readonly onStep?: (step: StepRecord, total: number) => void;
}

export interface ImageToVideoResult {
  readonly bucket: Bucket;
  /** [1, 3, frames, height, width] in [0, 1]. */
  readonly video: HostTensor;
  readonly latents: HostTensor;
}

export class ImageToVideoError extends Error {
  readonly userFacing = true;
  override name = 'ImageToVideoError';
}

/** [shape] standard normal draws of Kiln's generator for `seed` (element i is randomNormal(seed, i)). */
export function gaussianNoise(shape: readonly number[], seed: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'F32', shape: [...shape], data: Float32Array.from({ length: n }, (_, i) => randomNormal(seed, i)) };
}

/** Frames as upstream writes them: each value times 255, truncated to a byte (save_videos_grid). */
export function videoFrames(video: HostTensor): Frames {
  const [, channels, count, height, width] = video.shape;
  if (video.shape.length !== 5 || channels !== 3) throw new ImageToVideoError(`a video tensor is [1, 3, frames, height, width]; got [${video.shape.join(', ')}]`);
  const v = toFloat64(video);
  const plane = count * height * width;
  const data = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.trunc(Math.min(1, Math.max(0, v[c * plane + p])) * 255);
  }
  return makeFrames(width, height, count, data);
}

export async function imageToVideo(pipeline: HunyuanI2vPipeline, image: Frames, prompt: EncodedPrompt, negative: EncodedPrompt | undefined,
  opts: ImageToVideoOptions): Promise<ImageToVideoResult> {
  if (!Number.isInteger(opts.frames) || opts.frames < 5 || (opts.frames - 1) % 4 !== 0) {
    throw new ImageToVideoError(`the video length must be 4k + 1 frames with k ≥ 1 (5, 9, 13, ..., 129); got ${opts.frames}`);
  }
  const { vae, dit } = pipeline;
  const { bucket, pixels } = prepareReferenceImage(image, opts.resolution);
  const s = vae.config.spatial_compression_ratio;
  const [, ph, pw] = dit.config.patch_size;
  const latentFrames = (opts.frames - 1) / vae.config.time_compression_ratio + 1;
  const [h, w] = [bucket[0] / s, bucket[1] / s];
  if (h % ph !== 0 || w % pw !== 0) throw new ImageToVideoError(`the ${bucket[0]}x${bucket[1]} bucket's latent grid ${h}x${w} does not divide into the transformer's ${ph}x${pw} patches`);

  opts.onStage?.('encode image');
  const imageLatents = scaleTensor((await vae.encode(pixels)).mean, vae.config.scaling_factor);

  const { cos, sin } = samplerRotaryTables(opts.frames, [latentFrames, h / ph, w / pw], opts.ropeDims, opts.ropeTheta);
  const noise = gaussianNoise([1, vae.config.latent_channels, latentFrames, h, w], opts.seed);
  opts.onStage?.('denoise');
  const run = await pipeline.denoise({ imageLatents, prompt, negative, noise, freqsCos: cos, freqsSin: sin }, {
    numInferenceSteps: opts.steps, guidanceScale: opts.guidanceScale, embeddedGuidanceScale: opts.embeddedGuidanceScale,
    stability: opts.stability, onStep: (step) => opts.onStep?.(step, opts.steps),
  });
  opts.onStage?.('decode');
  const video = await pipeline.decode(run.latents);
  return { bucket, video, latents: run.latents };
}
