/**
 * Synthetic sample media, so examples and tests need no committed binaries: a short clip of a
 * slowly shifting colour gradient with an orange disc circling and a pale square gliding across,
 * and a still image made the same way. The content is a pure function of the arguments (no
 * randomness), with anti-aliased edges so the VAE sees natural-looking gradients, not noise.
 */
import { join } from 'node:path';
import { makeFrames, type Frames } from './frames.ts';
import { writeVideo } from './media.ts';

const TAU = 2 * Math.PI;

/** `frames` frames of `width`×`height` pixels (defaults: 9 frames, 64×64, a valid VAE input). */
export function makeSampleClip(frames = 9, width = 64, height = 64): Frames {
  const out = makeFrames(width, height, frames);
  const short = Math.min(width, height);
  const discRadius = 0.16 * short;
  const squareHalf = 0.11 * short;
  let o = 0;
  for (let t = 0; t < frames; t++) {
    const phase = frames > 1 ? t / frames : 0; // one full loop over the clip
    const discX = width / 2 + 0.25 * width * Math.cos(TAU * phase);
    const discY = height / 2 + 0.25 * height * Math.sin(TAU * phase);
    const squareX = width * (0.2 + 0.6 * phase);
    const squareY = height * 0.72;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        // Background: a diagonal cosine palette whose hue drifts with time.
        const u = (px / width + py / height) / 2;
        let r = 0.35 + 0.25 * Math.cos(TAU * (u + phase * 0.25));
        let g = 0.35 + 0.25 * Math.cos(TAU * (u + phase * 0.25 + 1 / 3));
        let b = 0.45 + 0.25 * Math.cos(TAU * (u + phase * 0.25 + 2 / 3));
        // Orange disc; coverage from the signed distance gives a one-pixel soft edge.
        const disc = clamp01(discRadius - Math.hypot(px - discX, py - discY) + 0.5);
        r = mix(r, 0.98, disc); g = mix(g, 0.62, disc); b = mix(b, 0.22, disc);
        // Pale, slightly translucent square.
        const edge = Math.max(Math.abs(px - squareX), Math.abs(py - squareY));
        const square = 0.85 * clamp01(squareHalf - edge + 0.5);
        r = mix(r, 0.93, square); g = mix(g, 0.94, square); b = mix(b, 0.97, square);
        out.data[o++] = Math.round(255 * clamp01(r));
        out.data[o++] = Math.round(255 * clamp01(g));
        out.data[o++] = Math.round(255 * clamp01(b));
      }
    }
  }
  return out;
}

/** One still frame in the same style (the clip's first frame). */
export function makeSampleImage(width = 64, height = 64): Frames {
  return makeSampleClip(1, width, height);
}

export interface SampleFiles {
  /** A folder of PNG frames, `sample_clip/frame_00000.png`, ... */
  readonly clip: string;
  /** One PNG image, `sample_image.png`. */
  readonly image: string;
}

/**
 * Writes the sample clip (as PNG frames) and the sample image into `dir`, for trying
 * `kiln vae encode` without media of one's own. Replaces earlier sample files; returns the paths.
 */
export async function writeSampleMedia(dir: string, frames = 9, width = 64, height = 64): Promise<SampleFiles> {
  const clip = join(dir, 'sample_clip');
  const image = join(dir, 'sample_image.png');
  await writeVideo(`${clip}/`, makeSampleClip(frames, width, height));
  await writeVideo(image, makeSampleImage(width, height));
  return { clip, image };
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
const mix = (a: number, b: number, t: number): number => a + (b - a) * t;
