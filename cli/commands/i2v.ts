/**
 * `kiln i2v IMAGE`: image to video with HunyuanVideo-I2V's sampler, from an
 * image file and an encoded prompt to a video file. Without weights it runs the built-in tiny
 * transformer and VAE (deterministic random weights, untrained), which is how the whole
 * pipeline is tried without downloading anything.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { createProgress } from '../progress.ts';
import { intOption, numberOption } from '../number_options.ts';
import { loadWeights, unwrapStateDict } from '../../runtime/weights/checkpoint.ts';
import { acquireDevice, releaseDevice, type KilnDevice } from '../../runtime/device.ts';
import { weightsFromMap, type BackendName, type SessionWeights } from '../../runtime/model.ts';
import { ffmpegAvailable, readImage, writeVideo } from '../../runtime/media/index.ts';
import { openSafetensors } from '../../runtime/weights/safetensors.ts';
import { keyHash } from '../../models/common/random_tensors.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { FlowMatchDiscreteScheduler } from '../../models/flow_match/scheduler.ts';
import { ditModelFromKwargs, DitConfigError } from '../../models/hunyuan_dit/config.ts';
import { HunyuanDit, RELEASED_I2V_DIT_CONFIG, type DitConfig } from '../../models/hunyuan_dit/transformer.ts';
import { randomDitWeights, TINY_DIT_CONFIG, TINY_DIT_ROPE_DIMS } from '../../models/hunyuan_dit/random_weights.ts';
import { createVae, openVaeSource } from '../../models/hunyuan_vae/run.ts';
import { isI2vResolution, RESOLUTION_BASES } from '../../models/i2v/buckets.ts';
import { gaussianNoise, imageToVideo, videoFrames } from '../../models/i2v/generate.ts';
import { HunyuanI2vPipeline, type EncodedPrompt } from '../../models/i2v/pipeline.ts';

const HELP = `Usage: kiln i2v IMAGE [--out VIDEO] [options]

Makes a video from a still image with HunyuanVideo-I2V's sampler: the image is fitted to the
nearest size bucket of the resolution and encoded by the VAE, the transformer denoises the video
conditioned on it and on the prompt (token_replace, the released model: the image is frame 0; or
latent_concat, the older 33-channel model, as --dit-config says), and the VAE decodes the result.

Kiln has no text encoders yet, so the prompt comes encoded:
  --prompt FILE.safetensors  prompt_embeds [1, L, 4096] (LLaVA states), prompt_mask [1, L] and
                         prompt_embeds_2 [1, 768] (CLIP pooled); with --guidance-scale above 1
                         also negative_prompt_embeds, negative_prompt_mask, negative_prompt_embeds_2.
                         Without --prompt (built-in transformer only): stand-in states drawn
                         from --seed.

Model:
  --dit PATH             the transformer checkpoint: HunyuanVideo-I2V's mp_rank_00_model_states.pt
                         (its "module" entry; read without running pickle code), a .safetensors
                         file, a shard index, or a folder holding one.
  --dit-config FILE      its HYVideoDiffusionTransformer config (JSON of the constructor's
                         arguments, text dims under "args"); default: the released I2V model
                         (HYVideo-T/2, 3072 wide, 20 + 40 blocks, token_replace, guidance embed).
  --vae PATH, --vae-config FILE   the VAE, as for \`kiln vae\`.
  Without --dit and --vae: the built-in tiny transformer and VAE (random, untrained: the video
  is not meant to look like anything).

Sampling (defaults: upstream's README "stable" run, except the size of the work):
  --resolution 360p|540p|720p   bucket base (default 360p; upstream's default is 720p)
  --frames N             video length, 4k + 1 (default 9; upstream's default is 129)
  --steps N              denoising steps (default 10; upstream's default is 50)
  --shift S              the flow-matching time shift (default 7.0)
  --guidance-scale G     classifier-free guidance; above 1 runs the negative prompt too (default 1)
  --embedded-guidance G  the distilled guidance the transformer embeds (default 6.0)
  --no-stability         start from pure noise instead of 0.999·noise + 0.001·image latent
  --seed N               the noise draw (Kiln's counter-based generator; default 0)
  --fps N                frame rate of the written video (default 24)

Output and running:
  --out VIDEO            .mp4 (H.264 through ffmpeg), .gif or .webp, or a folder of PNG frames
                         (a name ending in /); default IMAGE's name with .i2v.mp4 (.gif without
                         ffmpeg), in the current folder.
  --backend webgpu|interp  webgpu (default): fused WGSL kernels on the GPU; interp: the float64
                         reference interpreter (slow).
  --dtype f32|f16        storage of weights and activations on the GPU (default f32).
  --quiet                no progress display.
  -h, --help             show this help.`;

/** The prompt file's tensors (and the negative prompt's, when present). */
function readPromptFile(path: string): { prompt: EncodedPrompt; negative?: EncodedPrompt } {
  let file;
  try {
    file = openSafetensors(path);
  } catch (err) {
    throw new UsageError(`--prompt ${path}: ${(err as Error).message}`);
  }
  try {
    const read = (prefix: string): EncodedPrompt | undefined => {
      const names = [`${prefix}prompt_embeds`, `${prefix}prompt_mask`, `${prefix}prompt_embeds_2`];
      const present = names.filter((n) => file.has(n));
      if (present.length === 0) return undefined;
      if (present.length < 3) throw new UsageError(`--prompt ${path}: has ${present.join(', ')} but not ${names.filter((n) => !file.has(n)).join(', ')}; an encoded prompt is the three together`);
      return { states: file.read(names[0]), mask: file.read(names[1]), pooled: file.read(names[2]) };
    };
    const prompt = read('');
    if (!prompt) throw new UsageError(`--prompt ${path}: no prompt_embeds, prompt_mask and prompt_embeds_2 tensors (its tensors: ${file.names.join(', ') || 'none'})`);
    return { prompt, negative: read('negative_') };
  } finally {
    file.close();
  }
}

/**
 * Text states drawn from `seed` in the shapes the transformer takes: a stand-in when no prompt is
 * given. Each tensor has its own stream (the seed mixed with a hash of its role), apart from the noise's.
 */
function standInPrompt(config: DitConfig, seed: number, role: string, tokens = 8): EncodedPrompt {
  const draw = (shape: number[], name: string): HostTensor => gaussianNoise(shape, (keyHash(`${role}.${name}`) ^ seed) >>> 0);
  return {
    states: draw([1, tokens, config.text_states_dim], 'states'), mask: { dtype: 'I32', shape: [1, tokens], data: new Int32Array(tokens).fill(1) },
    pooled: draw([1, config.text_states_dim_2], 'pooled'),
  };
}

/** The transformer: checkpoint and config, or the built-in tiny one. */
function openDit(values: Record<string, unknown>): { weights: SessionWeights; config: DitConfig; ropeDims: readonly number[]; label: string; builtin: boolean; close: () => void } {
  const configPath = values['dit-config'] as string | undefined;
  const weightsPath = values.dit as string | undefined;
  if (!weightsPath) {
    if (configPath) throw new UsageError('--dit-config needs --dit (the built-in transformer has its own tiny config)');
    return { weights: weightsFromMap(randomDitWeights(), 'built-in tiny transformer'), config: TINY_DIT_CONFIG, ropeDims: TINY_DIT_ROPE_DIMS, label: 'the built-in tiny transformer (random, untrained)', builtin: true, close: () => undefined };
  }
  let model = { config: RELEASED_I2V_DIT_CONFIG, ropeDimList: [16, 56, 56] as readonly number[] };
  if (configPath) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new UsageError(`--dit-config ${configPath}: ${(err as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`--dit-config ${configPath}: expected a JSON object of HYVideoDiffusionTransformer's arguments`);
    try {
      model = ditModelFromKwargs(json as Record<string, unknown>);
    } catch (err) {
      if (err instanceof DitConfigError) throw new UsageError(`--dit-config ${configPath}: ${err.message}`);
      throw err;
    }
  }
  // HunyuanVideo's transformer checkpoint keeps the state dict under "module" (its --load-key).
  const source = unwrapStateDict(loadWeights(weightsPath), 'module');
  return { weights: source, config: model.config, ropeDims: model.ropeDimList, label: source.path, builtin: false, close: () => source.close() };
}

const I2V_OPTIONS = {
  out: { type: 'string' }, prompt: { type: 'string' }, dit: { type: 'string' }, 'dit-config': { type: 'string' },
  vae: { type: 'string' }, 'vae-config': { type: 'string' }, resolution: { type: 'string', default: '360p' },
  frames: { type: 'string' }, steps: { type: 'string' }, shift: { type: 'string' }, 'guidance-scale': { type: 'string' },
  'embedded-guidance': { type: 'string' }, 'no-stability': { type: 'boolean', default: false }, seed: { type: 'string' },
  fps: { type: 'string' }, backend: { type: 'string', default: 'webgpu' }, dtype: { type: 'string', default: 'f32' },
  quiet: { type: 'boolean', default: false },
} as const;

function defaultOut(image: string, ffmpeg: boolean): string {
  return `${basename(image, extname(image))}.i2v.${ffmpeg ? 'mp4' : 'gif'}`;
}

export const i2vCommand: Command = {
  name: 'i2v',
  summary: 'Image to video with HunyuanVideo-I2V (the built-in tiny models without weights)',
  help: HELP,
  async run(argv) {
    const parsed = (() => {
      try {
        return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: I2V_OPTIONS });
      } catch (err) {
        if (err instanceof TypeError) throw new UsageError(`${err.message.replace(/\. To specify a positional argument.*$/s, '')} (see kiln i2v --help)`);
        throw err;
      }
    })();
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError(`kiln i2v takes one image (got ${positionals.length ? positionals.join(', ') : 'none'}); see kiln i2v --help`);
    const [imagePath] = positionals;
    const resolution = values.resolution;
    if (!isI2vResolution(resolution)) throw new UsageError(`--resolution ${resolution}: expected one of ${Object.keys(RESOLUTION_BASES).join(', ')}`);
    const backend = values.backend as BackendName;
    if (backend !== 'webgpu' && backend !== 'interp') throw new UsageError(`--backend ${String(backend)}: expected webgpu or interp`);
    const dtype = values.dtype;
    if (dtype !== 'f32' && dtype !== 'f16') throw new UsageError(`--dtype ${String(dtype)}: expected f32 or f16`);
    const frames = intOption(values, 'frames', 5, 1025) ?? 9;
    if ((frames - 1) % 4 !== 0) throw new UsageError(`--frames ${frames}: the video length must be 4k + 1 (5, 9, 13, ..., 129)`);
    const steps = intOption(values, 'steps', 1, 1000) ?? 10;
    const seed = intOption(values, 'seed', 0, 2 ** 31 - 1) ?? 0;
    const fps = intOption(values, 'fps', 1, 240) ?? 24;
    const guidanceScale = numberOption(values, 'guidance-scale', 1);
    const shift = numberOption(values, 'shift', 7);
    if (!(shift > 0)) throw new UsageError(`--shift ${shift}: expected a positive number`);
    const embedded = numberOption(values, 'embedded-guidance', 6);

    if (values.dit && !values.prompt) throw new UsageError('a transformer checkpoint needs --prompt (Kiln has no text encoders yet: give the encoded prompt as a safetensors file; see --help)');
    const prompt = values.prompt ? readPromptFile(values.prompt) : undefined;
    if (prompt && guidanceScale > 1 && !prompt.negative) {
      throw new UsageError(`--guidance-scale ${guidanceScale} runs the negative prompt too: --prompt ${values.prompt} needs negative_prompt_embeds, negative_prompt_mask and negative_prompt_embeds_2`);
    }

    const progress = createProgress({ enabled: !values.quiet });
    progress.stage('read image');
    const image = await readImage(imagePath);
    const out = values.out ?? defaultOut(imagePath, await ffmpegAvailable());
    const closers: (() => unknown)[] = [];
    try {
      progress.stage('load weights');
      const dit = openDit(values);
      closers.push(dit.close);
      const encoded = prompt ?? { prompt: standInPrompt(dit.config, seed, 'prompt'), negative: guidanceScale > 1 ? standInPrompt(dit.config, seed, 'negative') : undefined };
      const vaeSource = openVaeSource({ weightsPath: values.vae, configPath: values['vae-config'] });
      closers.push(vaeSource.close);
      let device: KilnDevice | undefined;
      if (backend === 'webgpu') {
        progress.stage('open device');
        device = await acquireDevice();
        closers.push(releaseDevice);
      }
      const session = { backend, device, dtype } as const;
      const vae = createVae(vaeSource, session);
      if (vae.config.latent_channels !== dit.config.in_channels) {
        throw new UsageError(`the VAE's ${vae.config.latent_channels} latent channels do not match the transformer's ${dit.config.in_channels} input channels: pair the built-in models together, or give both --dit and --vae`);
      }
      const pipeline = new HunyuanI2vPipeline(new HunyuanDit(dit.config, dit.weights, session), vae,
        new FlowMatchDiscreteScheduler({ numTrainTimesteps: 1000, shift, reverse: true }, session));
      const result = await imageToVideo(pipeline, image, encoded.prompt, encoded.negative, {
        resolution, frames, steps, guidanceScale, embeddedGuidanceScale: dit.config.guidance_embed ? embedded : undefined,
        stability: !values['no-stability'], seed, ropeDims: dit.ropeDims,
        onStage: (stage) => progress.stage(stage, stage === 'denoise' ? { total: steps, unit: 'steps' } : undefined),
        onStep: () => progress.tick(),
      });
      progress.stage('write video');
      await writeVideo(out, videoFrames(result.video), { fps });
      progress.done();
      console.log([
        `kiln i2v: ${imagePath} (${image.width}x${image.height}) → ${out}: ${result.video.shape[2]} frames of ${result.bucket[1]}x${result.bucket[0]} (the ${resolution} bucket), ${steps} step${steps === 1 ? '' : 's'}`,
        `  transformer: ${dit.label}`,
        `  VAE: ${vaeSource.weightsLabel}`,
        `  prompt: ${values.prompt ?? `stand-in states drawn from seed ${seed} (no --prompt)`}`,
      ].join('\n'));
      return 0;
    } catch (err) {
      progress.fail();
      throw err;
    } finally {
      for (const close of closers.reverse()) await close();
    }
  },
};
