/**
 * Still and animated images through sharp (libvips). Reading gives 8-bit sRGB frames: an alpha
 * channel is removed by flattening onto black (a transparent pixel becomes black, a
 * half-transparent one is darkened), grey images become RGB, 16-bit images are reduced to 8
 * bits, and EXIF orientation is applied so photos come out upright. An "animation" is an
 * animated GIF or WebP: its frames are stacked vertically in libvips ("pages" of `pageHeight`
 * rows), and its per-frame delays give its frame rate.
 */
import sharp from 'sharp';
import { extname } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { makeFrames, type Clip, type Frames } from './frames.ts';
import { MediaError } from './errors.ts';
import { readInputFile } from './input_file.ts';
import { writeFileAtomic } from './atomic.ts';

/** Frame rate assumed for an animation whose frames have no delay (browsers show those at 10 fps). */
export const DEFAULT_ANIMATION_FPS = 10;

const asBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function decodeError(path: string, err: unknown): MediaError {
  const why = err instanceof Error ? err.message : String(err);
  return new MediaError(`cannot decode ${path} as an image (${why}). Expected a PNG, JPEG, WebP or GIF file; check that it is not damaged.`, { cause: err });
}

// The file is read into memory first: clearer errors for missing files, and libvips' cache
// never serves a stale decode of a file that was rewritten under the same name.
async function decode(path: string, animated: boolean): Promise<{ data: Buffer; width: number; height: number; pages: number; delay?: number[] }> {
  const input = await readInputFile(path);
  try {
    const image = sharp(input, { autoOrient: true, failOn: 'error', ...(animated ? { pages: -1 } : {}) });
    const meta = await image.metadata();
    const { data, info } = await image
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 colour channels after conversion, got ${info.channels}`);
    const pages = animated ? meta.pages ?? 1 : 1;
    return { data, width: info.width, height: info.height / pages, pages, delay: meta.delay };
  } catch (err) {
    throw decodeError(path, err);
  }
}

/** One RGB frame from a PNG, JPEG or WebP file (the first frame if it is animated). */
export async function readImage(path: string): Promise<Frames> {
  const { data, width, height } = await decode(path, false);
  return makeFrames(width, height, 1, asBytes(data));
}

/** All frames of an animated GIF or WebP (one frame for a still one), with its frame rate. */
export async function readAnimation(path: string): Promise<Clip> {
  const { data, width, height, pages, delay } = await decode(path, true);
  if (!Number.isInteger(height)) throw decodeError(path, new Error('its frames are not all the same height'));
  const frames = makeFrames(width, height, pages, asBytes(data));
  return { ...frames, fps: fpsFromDelays(delay) };
}

/** Frames per second from per-frame delays in milliseconds (their mean; zero delays ignored). */
export function fpsFromDelays(delays: readonly number[] | undefined): number {
  const positive = (delays ?? []).filter((d) => d > 0);
  if (positive.length === 0) return DEFAULT_ANIMATION_FPS;
  return 1000 / (positive.reduce((a, b) => a + b, 0) / positive.length);
}

const IMAGE_FORMATS = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' } as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[keyof typeof IMAGE_FORMATS];

export function imageFormatOf(path: string): ImageFormat | undefined {
  return IMAGE_FORMATS[extname(path).toLowerCase() as keyof typeof IMAGE_FORMATS];
}

function rawInput(frames: Frames, count = frames.count): sharp.Sharp {
  return sharp(frames.data, {
    raw: { width: frames.width, height: frames.height * count, channels: 3, ...(count > 1 ? { pageHeight: frames.height } : {}) },
  });
}

/** Encodes one frame as PNG (lossless), JPEG (quality 95, full-resolution colour) or WebP (quality 95) bytes. */
export async function encodeImage(frames: Frames, format: ImageFormat): Promise<Buffer> {
  if (frames.count !== 1) throw new RangeError(`encodeImage: expected one frame, got ${frames.count}`);
  const image = rawInput(frames);
  switch (format) {
    case 'png': return image.png().toBuffer();
    case 'jpeg': return image.jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
    case 'webp': return image.webp({ quality: 95 }).toBuffer();
  }
}

/** Writes a single frame as `.png`, `.jpg`/`.jpeg` or `.webp`, atomically. */
export async function writeImage(path: string, frames: Frames): Promise<void> {
  const format = imageFormatOf(path);
  if (!format) throw new MediaError(`cannot write ${path} as an image: use a .png, .jpg or .webp name.`);
  if (frames.count !== 1) {
    throw new MediaError(`${path} can hold one frame, but there are ${frames.count}: write a video (.mp4, .gif, .webp) or a folder of frames (a name ending in /) instead.`);
  }
  await writeFileAtomic(path, async (temp) => {
    await writeFile(temp, await encodeImage(frames, format));
  });
}

export interface AnimationOptions {
  /** Frames per second; each frame is shown for round(1000 / fps) ms (GIF: rounded to 10 ms). */
  fps: number;
  /** WebP only: quality 1-100 (default 90), or lossless. */
  quality?: number;
  lossless?: boolean;
}

/** Writes an animated GIF or WebP that loops forever, atomically. */
export async function writeAnimation(path: string, frames: Frames, format: 'gif' | 'webp', options: AnimationOptions): Promise<void> {
  const delay = new Array<number>(frames.count).fill(Math.max(1, Math.round(1000 / options.fps)));
  await writeFileAtomic(path, async (temp) => {
    const image = rawInput(frames);
    const encoded = format === 'gif'
      ? image.gif({ loop: 0, delay, effort: 7 })
      : image.webp({ loop: 0, delay, quality: options.quality ?? 90, lossless: options.lossless ?? false });
    await writeFile(temp, await encoded.toBuffer());
  });
}
