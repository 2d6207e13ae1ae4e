/**
 * Makes the VAE round-trip images in docs/images/ with the `kiln vae` commands:
 *   a PNG (the 128×96 sample image)  -> kiln vae encode -> kiln vae decode -> PNG
 *   an mp4 (the 9-frame 64×64 sample clip) -> kiln vae encode -> kiln vae decode -> mp4
 * and saves each input and the first decoded frame as PNG files. Without --weights the commands
 * use the built-in tiny random VAE, which is untrained: the reconstructions are not meant to
 * resemble the inputs. Pass `-- --weights PATH` (any `kiln vae` model option) to use real weights.
 *
 *   npx tsx examples/vae_roundtrip.ts [OUT_DIR] [-- kiln vae options...]   (default OUT_DIR: docs/images)
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.ts';
import { makeFrames } from '../runtime/media/frames.ts';
import { frameAt, makeSampleClip, makeSampleImage, readMedia, writeVideo } from '../runtime/media/index.ts';

const dash = process.argv.indexOf('--');
const positional = process.argv.slice(2, dash < 0 ? undefined : dash);
const modelOptions = dash < 0 ? [] : process.argv.slice(dash + 1);
const outDir = positional[0] ?? 'docs/images';
const work = await mkdtemp(join(tmpdir(), 'kiln-vae-roundtrip-'));

async function kiln(...args: string[]): Promise<void> {
  const code = await main(['vae', ...args, ...modelOptions]);
  if (code !== 0) throw new Error(`kiln vae ${args.join(' ')} exited with status ${code}`);
}

/** The first frame of a media file, written as a PNG. */
async function firstFrame(media: string, png: string): Promise<void> {
  const m = await readMedia(media);
  await writeVideo(png, makeFrames(m.width, m.height, 1, frameAt(m, 0).slice()));
}

try {
  await mkdir(outDir, { recursive: true });

  const png = join(outDir, 'vae_png_input.png');
  await writeVideo(png, makeSampleImage(128, 96));
  await kiln('encode', png, '--out', join(work, 'png.latents.safetensors'));
  await kiln('decode', join(work, 'png.latents.safetensors'), '--out', join(outDir, 'vae_png_roundtrip.png'));

  const mp4 = join(work, 'clip.mp4');
  await writeVideo(mp4, makeSampleClip(9, 64, 64));
  await firstFrame(mp4, join(outDir, 'vae_mp4_input_frame0.png'));
  await kiln('encode', mp4, '--out', join(work, 'clip.latents.safetensors'));
  await kiln('decode', join(work, 'clip.latents.safetensors'), '--out', join(work, 'clip_roundtrip.mp4'));
  await firstFrame(join(work, 'clip_roundtrip.mp4'), join(outDir, 'vae_mp4_roundtrip_frame0.png'));
  console.log(`wrote vae_png_input.png, vae_png_roundtrip.png, vae_mp4_input_frame0.png, vae_mp4_roundtrip_frame0.png in ${outDir}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
