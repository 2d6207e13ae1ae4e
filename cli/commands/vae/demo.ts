/**
 * `kiln vae demo`: the whole VAE round trip on a generated clip, with nothing to download —
 * make a sample clip, write it, encode it, write the latents, decode them, write the
 * reconstruction — then print where the files are, each stage's time and each program's
 * planned peak memory. Without --weights it runs the built-in tiny random VAE, which is
 * untrained: its reconstruction is not meant to resemble the input.
 */
import { join } from 'node:path';
import { UsageError } from '../../command.ts';
import { formatDuration } from '../../progress.ts';
import { ffmpegAvailable, framesToTensor, makeSampleClip, tensorToFrames, writeVideo } from '../../../runtime/media/index.ts';
import { describeFrames } from '../../../runtime/media/frames.ts';
import { creatableProblem, LatentsFileError, writeLatentsFile } from '../../../models/hunyuan_vae/latents_file.ts';
import { decodeLatents, encodePixels } from '../../../models/hunyuan_vae/run.ts';
import { createReporter, runVaeCommand, preflight, mb, shapeText } from './context.ts';
import { intOption, modelArgs, parseOptions } from './options.ts';

const DEMO_OPTIONS = {
  frames: { type: 'string' },
  size: { type: 'string' },
} as const;

/** Stages whose steps are encoder/decoder tiles (VaeContext.run names them after the op). */
const TILED_STAGES: ReadonlySet<string> = new Set(['encode', 'decode']);

export const DEMO_DEFAULTS = { out: 'out', frames: 9, size: 64 } as const;

export async function runDemo(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions('demo', argv, DEMO_OPTIONS);
  if (positionals.length) throw new UsageError(`demo takes no file arguments (got ${positionals.join(', ')}); use --out DIR for where to write`);
  const args = modelArgs(values);
  const frames = intOption(values, 'frames', 1, 257) ?? DEMO_DEFAULTS.frames;
  if ((frames - 1) % 4 !== 0) throw new UsageError(`--frames must be of the form 4k+1 (1, 5, 9, 13, ...), as the VAE needs; ${frames} is not (try ${frames - ((frames - 1) % 4)} or ${frames - ((frames - 1) % 4) + 4})`);
  const size = intOption(values, 'size', 8, 2048) ?? DEMO_DEFAULTS.size;
  if (size % 8 !== 0) throw new UsageError(`--size must be a multiple of 8, as the VAE needs; ${size} is not (try ${size - (size % 8) || 8} or ${size - (size % 8) + 8})`);
  const dir = args.out ?? DEMO_DEFAULTS.out;
  preflight(args);
  const ext = frames === 1 ? 'png' : (await ffmpegAvailable()) ? 'mp4' : 'gif';
  const files = {
    input: join(dir, `demo_input.${ext}`),
    latents: join(dir, 'demo_latents.safetensors'),
    reconstruction: join(dir, `demo_reconstruction.${ext}`),
  };

  const unreachable = creatableProblem(files.latents);
  if (unreachable) throw new LatentsFileError(unreachable);
  const report = createReporter(args.quiet);
  const { progress } = report;
  const t0 = performance.now();
  return runVaeCommand(args, report, async (openContext) => {
    progress.stage('make sample clip');
    const clip = makeSampleClip(frames, size, size);
    progress.stage('write input');
    await writeVideo(files.input, clip);
    progress.done();

    const ctx = await openContext();
    const { vae } = ctx;
    const x = framesToTensor(clip);
    const { latents } = await ctx.run('encode', x.shape, () => encodePixels(vae, x));
    progress.stage('write latents');
    writeLatentsFile(files.latents, latents, {
      scaled: false, scalingFactor: vae.config.scaling_factor, posterior: 'mode', config: vae.config, weights: ctx.source.weightsLabel,
      source: { path: files.input, kind: 'demo', width: size, height: size, frames, changes: [] },
    });
    progress.done();
    const pixels = await ctx.run('decode', latents.shape, () => decodeLatents(vae, latents));
    progress.stage('write reconstruction');
    await writeVideo(files.reconstruction, tensorToFrames(pixels));
    progress.done();
    const totalMs = performance.now() - t0;

    const lines = [
      `kiln vae demo: ${describeFrames(clip)} through ${ctx.source.random ? 'the built-in tiny random VAE (untrained: the reconstruction is not meant to look like the input)' : ctx.source.weightsLabel}`,
      `  input           ${files.input}`,
      `  latents         ${files.latents}  ${shapeText(latents.shape)}`,
      `  reconstruction  ${files.reconstruction}`,
      'stage times:',
      ...progress.summary().map((s) => `  ${s.stage.padEnd(22)} ${formatDuration(s.ms).padStart(6)}${TILED_STAGES.has(s.stage) ? `  (${s.steps} ${s.steps === 1 ? 'tile' : 'tiles'})` : ''}`),
      `  ${'total'.padEnd(22)} ${formatDuration(totalMs).padStart(6)}`,
      'planned peak memory (GPU):',
      ...ctx.plans.flatMap((p) => p.programs.map((g) => `  ${`${g.fn} ${shapeText(g.shape)}`.padEnd(34)} ${g.peakBytes !== undefined ? mb(g.peakBytes) : 'n/a (interp backend)'}`)),
    ];
    console.log(lines.join('\n'));
  });
}
