/**
 * `kiln vae decode LATENTS`: a latents file → a video (mp4, gif, webp), a folder of PNG frames,
 * or one image. Pixels are clamp((x + 1) / 2, 0, 1) of the decoder's output, as HunyuanVideo's
 * pipeline makes them (spec/vae.md §8.2). Scaled latents are divided by scaling_factor first.
 */
import { basename } from 'node:path';
import { UsageError } from '../../command.ts';
import { checkOutputPath, ffmpegAvailable, MediaError, tensorToFrames, writeVideo } from '../../../runtime/media/index.ts';
import { describeFrames } from '../../../runtime/media/frames.ts';
import type { HostTensor } from '../../../runtime/tensor.ts';
import type { VaeConfig } from '../../../models/hunyuan_vae/autoencoder.ts';
import { creatableProblem, LatentsFileError, readLatentsFile, type ReadLatents } from '../../../models/hunyuan_vae/latents_file.ts';
import { decodeLatents, unscaleTensor } from '../../../models/hunyuan_vae/run.ts';
import { createReporter, runVaeCommand, preflight, shapeText } from './context.ts';
import { modelArgs, onePositional, parseOptions } from './options.ts';

const DECODE_OPTIONS = {
  fps: { type: 'string' },
  scaled: { type: 'boolean', default: false },
  unscaled: { type: 'boolean', default: false },
} as const;

export const DEFAULT_FPS = 24;

/** Frames a decode of `latentFrames` latent frames produces (spec/vae.md §4.2). */
export const decodedFrameCount = (latentFrames: number, timeRatio = 4): number => timeRatio * (latentFrames - 1) + 1;

/** The default output beside the current folder: `<stem>.decoded.mp4` (gif without ffmpeg), `.png` for one frame. */
export async function defaultVideoPath(latentsPath: string, frames: number): Promise<string> {
  const stem = basename(latentsPath).replace(/(\.latents)?\.safetensors$/i, '') || 'latents';
  if (frames === 1) return `${stem}.decoded.png`;
  return `${stem}.decoded.${(await ffmpegAvailable()) ? 'mp4' : 'gif'}`;
}

/** Latents as [1, C, n, h, w], or a LatentsFileError saying what is wrong. */
export function latentsTensor(r: ReadLatents, path: string): HostTensor {
  const t = r.latents;
  if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) throw new LatentsFileError(`${path}: tensor "${r.name}" is ${t.dtype}; latents must be floating-point.`);
  const shape = t.shape.length === 4 ? [1, ...t.shape] : t.shape;
  if (shape.length !== 5) {
    throw new LatentsFileError(`${path}: tensor "${r.name}" has shape ${shapeText(t.shape)}; latents must be [1, C, frames, height, width] (or [C, frames, height, width]).`);
  }
  if (shape[0] !== 1) throw new LatentsFileError(`${path}: tensor "${r.name}" holds a batch of ${shape[0]} latents ${shapeText(t.shape)}; kiln vae decode writes one video, so save one batch entry ([1, C, frames, height, width]).`);
  if (shape.some((d) => d < 1)) throw new LatentsFileError(`${path}: tensor "${r.name}" has an empty axis ${shapeText(t.shape)}.`);
  return { ...t, shape };
}

function checkChannels(z: HostTensor, path: string, config: VaeConfig, which: string): void {
  const c = z.shape[1];
  if (c !== config.latent_channels) {
    throw new LatentsFileError(`${path}: the latents have ${c} channels (shape ${shapeText(z.shape)}), but ${which} has latent_channels ${config.latent_channels}. ` +
      'Decode with the VAE that made them: pass its --weights (and --config if its config.json is not beside the weights).');
  }
}

/** Warns when the file says it was made by a VAE with another config. */
function compareConfigs(r: ReadLatents, path: string, config: VaeConfig, configSource: string, warn: (l: string) => void): void {
  const made = r.config as Record<string, unknown> | undefined;
  if (!made) return;
  const now = config as unknown as Record<string, unknown>;
  const diff = Object.keys(now).filter((k) => JSON.stringify(made[k]) !== JSON.stringify(now[k]));
  if (diff.length) warn(`warning: ${path} was encoded with another VAE config (it differs in ${diff.join(', ')}); decoding with ${configSource}.`);
}

export async function runDecode(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions('decode', argv, DECODE_OPTIONS);
  const args = modelArgs(values);
  const path = onePositional('decode', positionals, 'latents file (.safetensors) to decode');
  if (values.scaled && values.unscaled) throw new UsageError('--scaled and --unscaled contradict each other; pass one of them');
  let fps: number | undefined;
  if (values.fps !== undefined) {
    fps = Number(values.fps);
    if (!(fps > 0) || !Number.isFinite(fps)) throw new UsageError(`--fps must be a positive number of frames per second, not '${String(values.fps)}'`);
  }

  const expectedConfig = preflight(args);
  const report = createReporter(args.quiet);
  const { progress } = report;
  return runVaeCommand(args, report, async (openContext) => {
    progress.stage('read latents');
    const read = readLatentsFile(path);
    const z0 = latentsTensor(read, path);
    checkChannels(z0, path, expectedConfig, args.weights ? 'the VAE' : 'the built-in tiny VAE');
    const frameCount = decodedFrameCount(z0.shape[2], read.config?.time_compression_ratio ?? 4);
    const out = args.out ?? (await defaultVideoPath(path, frameCount));
    const unreachable = creatableProblem(out);
    if (unreachable) throw new MediaError(unreachable);
    const kind = await checkOutputPath(out, frameCount);
    progress.done();
    const scaled = values.scaled ? true : values.unscaled ? false : read.scaled ?? false;
    report.info(`latents: ${path}: ${shapeText(z0.shape)}, ${scaled ? 'scaled' : 'unscaled'}${values.scaled || values.unscaled ? ' (as you said)' : read.scaled === undefined ? ' (the file does not say; pass --scaled if they are in the diffusion model\'s space)' : ''}`);

    const ctx = await openContext();
    const { vae } = ctx;
    compareConfigs(read, path, vae.config, ctx.source.configSource, report.warn);
    const factor = vae.config.scaling_factor;
    if (scaled && read.scalingFactor !== undefined && read.scalingFactor !== factor) {
      report.warn(`warning: ${path} was scaled by ${read.scalingFactor}, but this VAE's scaling_factor is ${factor}; dividing by ${factor}.`);
    }
    const z = scaled ? unscaleTensor(z0, factor) : z0;
    const pixels = await ctx.run('decode', z.shape, () => decodeLatents(vae, z));
    const frames = tensorToFrames(pixels);

    progress.stage(`write ${kind === 'folder' ? 'frames' : kind}`, { total: frames.count, unit: 'frames' });
    const rate = fps ?? read.source?.fps ?? DEFAULT_FPS;
    let last = 0;
    await writeVideo(out, frames, { fps: rate, onFrame: (done) => { progress.tick(done - last); last = done; } });
    progress.tick(frames.count - last); // writers that do not report frames (gif, webp, one image)
    progress.done();
    console.log(`wrote ${out}: ${describeFrames(frames)}${frames.count > 1 && kind !== 'folder' ? ` at ${rate} fps` : ''} decoded from latents ${shapeText(z0.shape)}`);
  });
}
