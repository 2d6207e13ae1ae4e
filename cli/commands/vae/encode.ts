/**
 * `kiln vae encode INPUT`: an image, a video or a folder of frames → a latents file. The input
 * is fitted to the VAE's shape rules (4k+1 frames, sides multiples of 8) only when asked
 * (--trim/--pad/--crop/--resize); otherwise a mismatch is an error that names those flags.
 */
import { basename, extname } from 'node:path';
import { UsageError } from '../../command.ts';
import { checkVaeInput, framesToTensor, readMedia, type FramePolicy, type SizePolicy } from '../../../runtime/media/index.ts';
import { describeFrames } from '../../../runtime/media/frames.ts';
import { checkLatentsOutput, writeLatentsFile } from '../../../models/hunyuan_vae/latents_file.ts';
import { encodePixels, scaleTensor } from '../../../models/hunyuan_vae/run.ts';
import { createReporter, runVaeCommand, preflight, shapeText } from './context.ts';
import { intOption, modelArgs, onePositional, parseOptions } from './options.ts';

const ENCODE_OPTIONS = {
  trim: { type: 'boolean', default: false },
  pad: { type: 'boolean', default: false },
  crop: { type: 'boolean', default: false },
  resize: { type: 'boolean', default: false },
  'max-frames': { type: 'string' },
  sample: { type: 'boolean', default: false },
  seed: { type: 'string' },
  scale: { type: 'boolean', default: false },
} as const;

/** The default output: the input's name with `.latents.safetensors`, in the current folder. */
export function defaultLatentsPath(input: string): string {
  const name = basename(input.replace(/[/\\]+$/, ''));
  const stem = name.slice(0, name.length - extname(name).length) || name || 'input';
  return `${stem}.latents.safetensors`;
}

function policies(values: Record<string, unknown>): { frames: FramePolicy; size: SizePolicy } {
  if (values.trim && values.pad) throw new UsageError('--trim and --pad both change the frame count; pass one of them');
  const sizeFlags = (['crop', 'resize'] as const).filter((f) => values[f]);
  if (sizeFlags.length > 1) throw new UsageError(`--${sizeFlags.join(' and --')} both change the size; pass one of them`);
  const frames: FramePolicy = values.trim ? 'trim' : values.pad ? 'pad' : 'error';
  // --pad fixes both axes (repeat the last frame, replicate edge pixels) unless a size flag says otherwise.
  const size: SizePolicy = sizeFlags[0] ?? (values.pad ? 'pad' : 'error');
  return { frames, size };
}

export async function runEncode(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions('encode', argv, ENCODE_OPTIONS);
  const args = modelArgs(values);
  const input = onePositional('encode', positionals, 'image, video or frame folder to encode');
  const policy = policies(values);
  const maxFrames = intOption(values, 'max-frames', 1);
  const seed = intOption(values, 'seed', 0, 2 ** 32 - 1);
  if (seed !== undefined && !values.sample) throw new UsageError('--seed only matters with --sample (the default encodes the posterior mean, which has no randomness)');
  const out = args.out ?? defaultLatentsPath(input);
  checkLatentsOutput(out);
  preflight(args);

  const report = createReporter(args.quiet);
  const { progress } = report;
  return runVaeCommand(args, report, async (openContext) => {
    progress.stage('read input');
    const media = await readMedia(input, { maxFrames });
    const prepared = checkVaeInput(media, { ...policy, name: input });
    const x = framesToTensor(prepared.frames);
    progress.done();
    report.info(`input: ${input}: ${describeFrames(media)} (${media.kind}${media.fps ? `, ${media.fps} fps` : ''})${prepared.changes.length ? `; ${prepared.changes.join('; ')}` : ''}`);

    const ctx = await openContext();
    const vae = ctx.vae;
    const sampleSeed = values.sample ? (seed ?? 0) : undefined;
    const { latents: raw } = await ctx.run('encode', x.shape, () => encodePixels(vae, x, { sampleSeed }));
    const factor = vae.config.scaling_factor;
    const latents = values.scale ? scaleTensor(raw, factor) : raw;

    progress.stage('write latents');
    const f = prepared.frames;
    writeLatentsFile(out, latents, {
      scaled: Boolean(values.scale),
      scalingFactor: factor,
      posterior: sampleSeed === undefined ? 'mode' : 'sample',
      seed: sampleSeed,
      config: vae.config,
      weights: ctx.source.weightsLabel,
      source: { path: input, kind: media.kind, width: f.width, height: f.height, frames: f.count, fps: media.fps, changes: prepared.changes },
    });
    progress.done();
    const what = `${values.scale ? `scaled by ${factor}` : 'unscaled'} ${sampleSeed === undefined ? 'posterior mean' : `posterior sample (seed ${sampleSeed})`}`;
    console.log(`wrote ${out}: latents ${shapeText(latents.shape)} (${what}) from ${describeFrames(f)}`);
  });
}
