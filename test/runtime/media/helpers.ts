/** Shared test helpers: a synthetic clip of moving coloured squares, temp folders, pixel diffs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFrames, type Frames } from '../../../runtime/media/frames.ts';

/** `count` frames: a dark-blue background with a red and a green square moving in opposite directions. */
export function movingSquares(count = 9, width = 32, height = 24): Frames {
  const f = makeFrames(width, height, count);
  for (let t = 0; t < count; t++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const i = ((t * height + y) * width + x) * 3;
        let rgb = [20, 30, 90 + 4 * y];
        if (x >= 2 + 2 * t && x < 10 + 2 * t && y >= 3 && y < 11) rgb = [230, 40, 40];
        if (x >= width - 10 - 2 * t && x < width - 2 - 2 * t && y >= 13 && y < 21) rgb = [40, 210, 60];
        f.data.set(rgb, i);
      }
  return f;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-media-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Largest and mean absolute difference between two equal-length byte arrays. */
export function pixelDiff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`pixelDiff: lengths ${a.length} and ${b.length}`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
