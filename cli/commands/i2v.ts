/**
 * `kiln i2v IMAGE`: image to video with HunyuanVideo-I2V's sampler, from an image file and a
 * prompt (text through the text encoders, or already encoded) to a video file. Without weights
 * it runs the built-in tiny text encoders, transformer and VAE (deterministic random weights,
 * untrained), which is how the whole pipeline is tried without downloading anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.ts';
import { createProgress } from '../progress.ts';
import { intOption, numberOption } from '../number_options.ts';
import { loadWeights, openCheckpoint, unwrapStateDict } from '../../runtime/weights/checkpoint.ts';
import { acquireDevice, releaseDevice, type KilnDevice } from '../../runtime/device.ts';
import { weightsFromMap, type BackendName, type SessionWeights } from '../../runtime/model.ts';
import { ffmpegAvailable, readImage, writeVideo } from '../../runtime/media/index.ts';
import { openSafetensors, writeSafetensors } from '../../runtime/weights/safetensors.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { FlowMatchDiscreteScheduler } from '../../models/flow_match/scheduler.ts';
import { ditModelFromKwargs, DitConfigError } from '../../models/hunyuan_dit/config.ts';
import { HunyuanDit, RELEASED_I2V_DIT_CONFIG, type DitConfig, type DitModel } from '../../models/hunyuan_dit/transformer.ts';
import { BUILTIN_DIT_SEED, randomDitWeights, TINY_DIT_CONFIG, TINY_DIT_ROPE_DIMS } from '../../models/hunyuan_dit/random_weights.ts';
import { WorkerSequenceParallelDit, type DitWeightsRecipe } from '../../models/hunyuan_dit/dit_workers.ts';
import { checkHeadGroups } from '../../models/hunyuan_dit/sequence_parallel.ts';
import { planDeviceGroup } from '../../runtime/device_group.ts';
import { parsePciAddress, pciGpus } from '../../runtime/gpu/pci.ts';
import { LoraError, withLora } from '../../models/hunyuan_dit/lora.ts';
import { reportWeightUploads, uploadReporter } from '../weight_uploads.ts';
import { createVae, openVaeSource } from '../../models/hunyuan_vae/run.ts';
import { isI2vResolution, RESOLUTION_BASES } from '../../models/i2v/buckets.ts';
import { imageToVideo, videoFrames } from '../../models/i2v/generate.ts';
import { HunyuanI2vPipeline, type EncodedPrompt } from '../../models/i2v/pipeline.ts';
import { builtinPromptEncoder } from '../../models/i2v/builtin_text_encoders.ts';
import { NEGATIVE_PROMPT_I2V, type I2vPromptEncoder } from '../../models/i2v/prompt_encoder.ts';
import { openPromptEncoder } from '../../models/i2v/text_encoder_folders.ts';

const HELP = `Usage: kiln i2v IMAGE [--out VIDEO] [options]

Makes a video from a still image with HunyuanVideo-I2V's sampler: the image is fitted to the
nearest size bucket of the resolution and encoded by the VAE, the transformer denoises the video
conditioned on it and on the prompt (token_replace, the released model: the image is frame 0; or
latent_concat, the older 33-channel model, as --dit-config says), and the VAE decodes the result.

Prompt:
  --prompt TEXT          what the video shows (default: empty). LLaVA reads it in upstream's chat
                         template with the image, CLIP reads it bare.
  --negative-prompt TEXT used with --guidance-scale above 1 (default: upstream's I2V negative
                         prompt), with a black image.
  --text-encoder DIR     LLaVA, a transformers folder (config.json, weights, tokenizer.json):
                         HunyuanVideo-I2V's ckpts/text_encoder_i2v
                         (xtuner/llava-llama-3-8b-v1_1-transformers).
  --text-encoder-2 DIR   CLIP's text model, likewise: ckpts/text_encoder_2
                         (openai/clip-vit-large-patch14). Without these two: the built-in tiny
                         text encoders (with the built-in transformer only).
  --prompt-embeds FILE.safetensors  the prompt already encoded, instead of the above:
                         prompt_embeds [1, L, 4096] (LLaVA states), prompt_mask [1, L] and
                         prompt_embeds_2 [1, 768] (CLIP pooled); with --guidance-scale above 1
                         also negative_prompt_embeds, negative_prompt_mask, negative_prompt_embeds_2.
  --save-prompt-embeds FILE.safetensors  write the encoded prompt(s) in that format, to reuse
                         with --prompt-embeds (the text encoders then need not load again).

Model:
  --dit PATH             the transformer checkpoint: HunyuanVideo-I2V's mp_rank_00_model_states.pt
                         (its "module" entry; read without running pickle code), a .safetensors
                         file, a shard index, or a folder holding one.
  --dit-config FILE      its HYVideoDiffusionTransformer config (JSON of the constructor's
                         arguments, text dims under "args"); default: the released I2V model
                         (HYVideo-T/2, 3072 wide, 20 + 40 blocks, token_replace, guidance embed).
  --lora FILE.safetensors  a kohya-style LoRA for the transformer (upstream's --lora-path, names
                         under "Hunyuan_video_I2V_lora_"): each up/down pair adds
                         scale · (up @ down) to the weight it names.
  --lora-scale S         that scale (default 1.0, upstream's --lora-scale).
  --vae PATH, --vae-config FILE   the VAE, as for \`kiln vae\`.
  Without --dit and --vae: the built-in tiny transformer and VAE (random, untrained: the video
  is not meant to look like anything). A --dit checkpoint needs --text-encoder and
  --text-encoder-2, or --prompt-embeds.

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
  --devices N            run the transformer on N GPUs by sequence parallelism (upstream's
                         --ulysses-degree; one worker thread per GPU, each holding all its
                         weights, the image tokens shared by whole patch rows or columns, padded
                         where N does not divide them): N must divide its attention heads (24
                         for the released model: 2, 3, 4, 6, 8, 12 or 24). GPUs are the
                         machine's first N in PCI order, told apart by Mesa's device-select
                         Vulkan layer (apt-get install mesa-vulkan-drivers); on a machine without
                         PCI GPUs the N devices share the one adapter (same video, not faster).
  --gpus ADDR,...        the GPUs for --devices by PCI address (kiln devices lists them), e.g.
                         0000:17:00.0,0000:2a:00.0; --devices defaults to their count.
  --quiet                no progress display.
  -h, --help             show this help.`;

/** The encoded prompt file's tensors (and the negative prompt's, when present). */
function readPromptFile(path: string): { prompt: EncodedPrompt; negative?: EncodedPrompt } {
  let file;
  try {
    file = openSafetensors(path);
  } catch (err) {
    throw new UsageError(`--prompt-embeds ${path}: ${(err as Error).message}`);
  }
  try {
    const read = (prefix: string): EncodedPrompt | undefined => {
      const names = [`${prefix}prompt_embeds`, `${prefix}prompt_mask`, `${prefix}prompt_embeds_2`];
      const present = names.filter((n) => file.has(n));
      if (present.length === 0) return undefined;
      if (present.length < 3) throw new UsageError(`--prompt-embeds ${path}: has ${present.join(', ')} but not ${names.filter((n) => !file.has(n)).join(', ')}; an encoded prompt is the three together`);
      return { states: file.read(names[0]), mask: file.read(names[1]), pooled: file.read(names[2]) };
    };
    const prompt = read('');
    if (!prompt) throw new UsageError(`--prompt-embeds ${path}: no prompt_embeds, prompt_mask and prompt_embeds_2 tensors (its tensors: ${file.names.join(', ') || 'none'})`);
    return { prompt, negative: read('negative_') };
  } finally {
    file.close();
  }
}

/** The transformer: checkpoint and config, or the built-in tiny one. */
interface OpenedDit {
  weights: SessionWeights;
  readonly config: DitConfig;
  readonly ropeDims: readonly number[];
  label: string;
  readonly builtin: boolean;
  /** How a worker thread opens the same weights (--devices). */
  recipe: DitWeightsRecipe;
  readonly close: () => void;
}

function openDit(values: Record<string, unknown>): OpenedDit {
  const configPath = values['dit-config'] as string | undefined;
  const weightsPath = values.dit as string | undefined;
  if (!weightsPath) {
    if (configPath) throw new UsageError('--dit-config needs --dit (the built-in transformer has its own tiny config)');
    const label = 'built-in tiny transformer';
    return {
      weights: weightsFromMap(randomDitWeights(), label), config: TINY_DIT_CONFIG, ropeDims: TINY_DIT_ROPE_DIMS, label: 'the built-in tiny transformer (random, untrained)',
      builtin: true, recipe: { kind: 'random', seed: BUILTIN_DIT_SEED, label }, close: () => undefined,
    };
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
  return {
    weights: source, config: model.config, ropeDims: model.ropeDimList, label: source.path, builtin: false,
    recipe: { kind: 'checkpoint', path: weightsPath, stateDictKey: 'module' }, close: () => source.close(),
  };
}

/**
 * The GPUs for --devices/--gpus (undefined: the devices share the default adapter), checked
 * against the transformer's heads before any work.
 */
function planDevices(dit: OpenedDit, devices: number, gpus: readonly string[] | undefined): string[] | undefined {
  try {
    checkHeadGroups(devices, dit.config.heads_num);
    return planDeviceGroup(devices, pciGpus(), gpus);
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(`--devices ${devices}${gpus ? ` --gpus ${gpus.join(',')}` : ''}: ${err.message}`);
    throw err;
  }
}

/** The transformer on `devices` worker threads (--devices, --gpus), each with a GPU of its own where the machine has them. */
async function startSequenceParallel(dit: OpenedDit, devices: number, addresses: string[] | undefined,
  session: { backend: BackendName; dtype: 'f32' | 'f16' }, log: (line: string) => void): Promise<WorkerSequenceParallelDit> {
  if (!addresses && session.backend === 'webgpu') log(`kiln i2v: this machine lists no PCI GPU: the ${devices} devices share the default adapter (the same video, not faster)`);
  const uploads = Array.from({ length: devices }, (_, rank) => uploadReporter({ log }, { label: `transformer device ${rank}` }));
  return WorkerSequenceParallelDit.start(dit.config, dit.recipe, {
    devices, backend: session.backend, dtype: session.dtype, pciAddresses: addresses,
    onReady: (rank, adapter) => log(`transformer device ${rank}${addresses ? ` (${addresses[rank]})` : ''}: ${adapter}`),
    onUpload: (rank, progress) => uploads[rank](progress),
  });
}

const I2V_OPTIONS = {
  out: { type: 'string' }, prompt: { type: 'string' }, 'negative-prompt': { type: 'string' }, 'prompt-embeds': { type: 'string' },
  'text-encoder': { type: 'string' }, 'text-encoder-2': { type: 'string' }, 'save-prompt-embeds': { type: 'string' },
  lora: { type: 'string' }, 'lora-scale': { type: 'string' }, dit: { type: 'string' }, 'dit-config': { type: 'string' },
  vae: { type: 'string' }, 'vae-config': { type: 'string' }, resolution: { type: 'string', default: '360p' },
  frames: { type: 'string' }, steps: { type: 'string' }, shift: { type: 'string' }, 'guidance-scale': { type: 'string' },
  'embedded-guidance': { type: 'string' }, 'no-stability': { type: 'boolean', default: false }, seed: { type: 'string' },
  fps: { type: 'string' }, backend: { type: 'string', default: 'webgpu' }, dtype: { type: 'string', default: 'f32' },
  devices: { type: 'string' }, gpus: { type: 'string' }, quiet: { type: 'boolean', default: false },
} as const;

/** The encoded prompt(s) in --prompt-embeds's format, with the texts in the metadata. */
function savePromptFile(path: string, e: { prompt: EncodedPrompt; negative?: EncodedPrompt }, prompt: string, negative: string | undefined): void {
  const tensors: Record<string, HostTensor> = { prompt_embeds: e.prompt.states, prompt_mask: e.prompt.mask, prompt_embeds_2: e.prompt.pooled };
  if (e.negative) Object.assign(tensors, { negative_prompt_embeds: e.negative.states, negative_prompt_mask: e.negative.mask, negative_prompt_embeds_2: e.negative.pooled });
  writeSafetensors(path, tensors, { prompt, ...(negative !== undefined ? { negative_prompt: negative } : {}), written_by: 'kiln i2v' });
}

/** The encoders' widths must be the transformer's text widths. */
function checkTextWidths(encoder: I2vPromptEncoder, dit: DitConfig): void {
  const llava = encoder.parts.llava.config.text.hidden_size;
  const clip = encoder.parts.clip.config.hidden_size;
  if (llava !== dit.text_states_dim || clip !== dit.text_states_dim_2) {
    throw new UsageError(`the text encoders give states ${llava} and ${clip} wide, but the transformer reads ${dit.text_states_dim} and ${dit.text_states_dim_2} (text_states_dim, text_states_dim_2)`);
  }
}

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
    const loraScale = numberOption(values, 'lora-scale', 1);
    const gpus = values.gpus?.split(',').map((a) => a.trim()).filter(Boolean);
    const devices = intOption(values, 'devices', 1, 64) ?? gpus?.length ?? 1;
    try {
      gpus?.forEach(parsePciAddress);
    } catch (err) {
      throw new UsageError(`--gpus ${values.gpus}: ${(err as Error).message}`);
    }
    if (gpus && gpus.length !== devices) throw new UsageError(`--devices ${devices} with ${gpus.length} GPUs in --gpus: give one address per device`);
    if (values['lora-scale'] !== undefined && !values.lora) throw new UsageError('--lora-scale needs --lora FILE');

    const embedsPath = values['prompt-embeds'];
    const [llavaDir, clipDir] = [values['text-encoder'], values['text-encoder-2']];
    if (embedsPath && (values.prompt !== undefined || values['negative-prompt'] !== undefined || llavaDir || clipDir)) {
      throw new UsageError('--prompt-embeds is the prompt already encoded: it replaces --prompt, --negative-prompt and the text encoders');
    }
    if (Boolean(llavaDir) !== Boolean(clipDir)) throw new UsageError('--text-encoder (LLaVA) and --text-encoder-2 (CLIP) go together: the transformer reads both');
    if (values.prompt?.endsWith('.safetensors') && existsSync(values.prompt)) {
      throw new UsageError(`--prompt is the prompt's text; for an encoded prompt file use --prompt-embeds ${values.prompt}`);
    }
    if (values.dit && !embedsPath && !llavaDir) {
      throw new UsageError('a transformer checkpoint needs its text encoders (--text-encoder DIR --text-encoder-2 DIR, with --prompt TEXT) or an encoded prompt (--prompt-embeds FILE); see --help');
    }
    if (llavaDir && values.prompt === undefined) throw new UsageError('--text-encoder needs --prompt TEXT: what the video should show');
    const savePath = values['save-prompt-embeds'];
    if (savePath && embedsPath) throw new UsageError('--save-prompt-embeds writes what the text encoders make; with --prompt-embeds there is nothing new to save');
    if (savePath && !savePath.endsWith('.safetensors')) throw new UsageError(`--save-prompt-embeds ${savePath}: the file is written as safetensors; name it *.safetensors`);
    const embeds = embedsPath ? readPromptFile(embedsPath) : undefined;
    if (embeds && guidanceScale > 1 && !embeds.negative) {
      throw new UsageError(`--guidance-scale ${guidanceScale} runs the negative prompt too: --prompt-embeds ${embedsPath} needs negative_prompt_embeds, negative_prompt_mask and negative_prompt_embeds_2`);
    }
    const promptText = values.prompt ?? '';
    const negativeText = values['negative-prompt'] ?? NEGATIVE_PROMPT_I2V;

    const progress = createProgress({ enabled: !values.quiet });
    progress.stage('read image');
    const image = await readImage(imagePath);
    const out = values.out ?? defaultOut(imagePath, await ffmpegAvailable());
    const closers: (() => unknown)[] = [];
    try {
      progress.stage('load weights');
      const dit = openDit(values);
      closers.push(dit.close);
      const parallel = devices > 1 || gpus !== undefined;
      const addresses = parallel ? planDevices(dit, devices, gpus) : undefined;
      const vaeSource = openVaeSource({ weightsPath: values.vae, configPath: values['vae-config'] });
      closers.push(vaeSource.close);
      let device: KilnDevice | undefined;
      if (backend === 'webgpu') {
        progress.stage('open device');
        device = await acquireDevice();
        closers.push(releaseDevice, reportWeightUploads(device, progress));
      }
      const session = { backend, device, dtype } as const;
      if (values.lora) {
        const lora = openCheckpoint(values.lora);
        closers.push(() => lora.close());
        try {
          // Weights merge as the transformer's session first reads them (on its device when it
          // has one): say how far that has got.
          const merged = withLora(dit.weights, lora, loraScale, {
            session,
            onMerge: (done, total) => { if (done === total || done % Math.max(1, Math.ceil(total / 10)) === 0) progress.log(`LoRA: ${done}/${total} weights merged`); },
          });
          dit.weights = merged.weights;
          dit.recipe = { ...dit.recipe, lora: { path: values.lora, scale: loraScale } };
          dit.label = `${dit.label}, with LoRA ${values.lora} × ${loraScale} (${merged.merged.length} weights changed)`;
        } catch (err) {
          if (err instanceof LoraError) throw new UsageError(`--lora ${err.message}`);
          throw err;
        }
      }
      let encoded = embeds;
      if (!encoded) {
        progress.stage('encode prompt');
        let encoder: I2vPromptEncoder;
        const encoderOptions = {
          interleave: dit.config.token_replace ? 4 : 2,
          onTruncate: (which: string, text: string, dropped: number) => {
            const line = `kiln i2v: the prompt ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} is ${dropped} token${dropped === 1 ? '' : 's'} longer than ${which} reads; the end is dropped, as upstream drops it`;
            if (values.quiet) console.error(line); else progress.log(line);
          },
        };
        if (llavaDir && clipDir) {
          const opened = openPromptEncoder(llavaDir, clipDir, session, encoderOptions);
          closers.push(opened.close);
          encoder = opened.encoder;
          checkTextWidths(encoder, dit.config);
        } else {
          if (!dit.builtin) throw new UsageError('the built-in text encoders fit only the built-in transformer');
          encoder = builtinPromptEncoder(dit.config, session, encoderOptions);
        }
        const [positive, negative] = await encoder.encodePair(promptText, guidanceScale > 1 ? negativeText : undefined, image);
        encoded = { prompt: positive, negative };
        if (savePath) savePromptFile(savePath, encoded, promptText, negative ? negativeText : undefined);
      }
      const vae = createVae(vaeSource, session);
      if (vae.config.latent_channels !== dit.config.in_channels) {
        throw new UsageError(`the VAE's ${vae.config.latent_channels} latent channels do not match the transformer's ${dit.config.in_channels} input channels: pair the built-in models together, or give both --dit and --vae`);
      }
      // Binding the transformer here checks the checkpoint's keys against the module before any
      // worker starts; with --devices the workers then run it, each binding its own.
      let transformer: DitModel = new HunyuanDit(dit.config, dit.weights, session);
      if (parallel) {
        progress.stage('start devices');
        const group = await startSequenceParallel(dit, devices, addresses, { backend, dtype }, (line) => progress.log(line));
        closers.push(() => group.close());
        transformer = group;
        dit.label = `${dit.label}, on ${devices} devices (sequence parallel)`;
      }
      const pipeline = new HunyuanI2vPipeline(transformer, vae,
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
        `  prompt: ${embedsPath ? `encoded, from ${embedsPath}` : `${JSON.stringify(promptText)}${guidanceScale > 1 ? ` (negative: ${JSON.stringify(negativeText)})` : ''}, encoded by ${llavaDir ? `${llavaDir} and ${clipDir}` : 'the built-in tiny text encoders (random, untrained)'}`}`,
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
