/**
 * Frames: decoded 8-bit RGB pixels of an image or a video. `data` holds `count` frames one after
 * another, each `height` rows of `width` pixels of 3 bytes (R, G, B): index
 * ((t * height + y) * width + x) * 3 + channel. A still image is one frame. A Clip is frames with
 * the rate they play at (frames per second).
 */
import { MediaError } from './errors.ts';

export interface Frames {
  readonly width: number;
  readonly height: number;
  readonly count: number;
  readonly data: Uint8Array;
}

export interface Clip extends Frames {
  readonly fps: number;
}

export const CHANNELS = 3;

export const frameBytes = (f: { width: number; height: number }): number => f.width * f.height * CHANNELS;

/** Builds Frames, checking that the sizes are positive integers and `data` has the right length. */
export function makeFrames(width: number, height: number, count: number, data?: Uint8Array): Frames {
  for (const [name, v] of [['width', width], ['height', height], ['count', count]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`Frames: ${name} must be a positive integer, got ${v}`);
  }
  const bytes = width * height * count * CHANNELS;
  const pixels = data ?? new Uint8Array(bytes);
  if (pixels.length !== bytes) {
    throw new RangeError(`Frames: ${count}×${height}×${width}×3 needs ${bytes} bytes, got ${pixels.length}`);
  }
  return { width, height, count, data: pixels };
}

/** Throws (a bug, not a user error) unless `f` is consistent. */
export function assertFrames(f: Frames): void {
  makeFrames(f.width, f.height, f.count, f.data);
}

/** The pixels of frame `t`, sharing memory with `f.data`. */
export function frameAt(f: Frames, t: number): Uint8Array {
  if (!Number.isInteger(t) || t < 0 || t >= f.count) throw new RangeError(`frame ${t} out of range 0..${f.count - 1}`);
  const n = frameBytes(f);
  return f.data.subarray(t * n, (t + 1) * n);
}

/** "9 frames of 64×48" / "a 64×48 image": how messages describe frames to a user. */
export function describeFrames(f: Frames): string {
  return f.count === 1 ? `a ${f.width}×${f.height} image` : `${f.count} frames of ${f.width}×${f.height}`;
}

export function requirePositiveFps(fps: number, where: string): number {
  if (!Number.isFinite(fps) || fps <= 0) {
    throw new MediaError(`${where}: the frame rate must be a positive number of frames per second, got ${fps}.`);
  }
  return fps;
}
