/**
 * A video as a folder of still images, one file per frame. Reading takes every PNG, JPEG or WebP
 * file in the folder (hidden files skipped) in natural order, so `frame_10.png` follows
 * `frame_9.png`; all must be the same size. Writing produces `frame_00000.png`, `frame_00001.png`,
 * ... (more digits past 99,999 frames) into a folder that appears complete or not at all.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { frameAt, frameBytes, makeFrames, type Frames } from './frames.ts';
import { MediaError } from './errors.ts';
import { readImage, encodeImage } from './image.ts';
import { isTempName, writeFolderAtomic } from './atomic.ts';
import { statInput } from './input_file.ts';

const FRAME_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

/**
 * Compares names the way people count: runs of digits compare by value (`frame_9` < `frame_10`),
 * everything else by code point; ties (`01` vs `1`) fall back to plain comparison.
 */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i];
    const y = rb[i];
    if (x === y) continue;
    const xd = /^\d/.test(x);
    const yd = /^\d/.test(y);
    if (xd && yd) {
      // Compare digit runs by value without overflow: strip leading zeros, then length, then text.
      const xs = x.replace(/^0+(?=\d)/, '');
      const ys = y.replace(/^0+(?=\d)/, '');
      if (xs.length !== ys.length) return xs.length - ys.length;
      if (xs !== ys) return xs < ys ? -1 : 1;
      continue;
    }
    return x < y ? -1 : 1;
  }
  if (ra.length !== rb.length) return ra.length - rb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The frame files of `dir`, in natural order. */
export async function listFrameFiles(dir: string): Promise<string[]> {
  const info = await statInput(dir);
  if (!info.isDirectory()) throw new MediaError(`${dir} is not a folder of frames.`);
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.') && FRAME_EXTENSIONS.has(extname(n).toLowerCase()));
  return names.sort(naturalCompare);
}

/** Reads every frame image in `dir` (natural order; the first `maxFrames` if given) into one Frames. */
export async function readFrameFolder(dir: string, options: { maxFrames?: number } = {}): Promise<Frames> {
  const names = (await listFrameFiles(dir)).slice(0, options.maxFrames ?? Infinity);
  if (names.length === 0) {
    throw new MediaError(`${dir} holds no frames: expected PNG, JPEG or WebP files such as frame_00000.png, frame_00001.png, ...`);
  }
  const first = await readImage(join(dir, names[0]));
  const out = makeFrames(first.width, first.height, names.length);
  out.data.set(first.data, 0);
  for (let i = 1; i < names.length; i++) {
    const frame = await readImage(join(dir, names[i]));
    if (frame.width !== first.width || frame.height !== first.height) {
      throw new MediaError(`${join(dir, names[i])} is ${frame.width}×${frame.height}, but the first frame (${names[0]}) is ` +
        `${first.width}×${first.height}: all frames in a folder must be the same size. Resize or remove the odd ones.`);
    }
    out.data.set(frame.data, i * frameBytes(out));
  }
  return out;
}

export function frameFileName(index: number, count: number): string {
  const digits = Math.max(5, String(count - 1).length);
  return `frame_${String(index).padStart(digits, '0')}.png`;
}

/** A file an earlier frame write could have left: safe to replace when rewriting a folder. */
export const isFrameFileName = (name: string): boolean => /^frame_\d+\.png$/.test(name) || isTempName(name);

/**
 * Writes `frames` as PNG files into `dir`, atomically. An existing `dir` is replaced only if it
 * is empty or holds nothing but `frame_*.png` files.
 */
export async function writeFrameFolder(dir: string, frames: Frames, onFrame?: (done: number) => void): Promise<void> {
  await writeFolderAtomic(dir, async (temp) => {
    // A few frames in flight keep libvips' worker threads busy without holding many encodes.
    // Workers stop at the first failure and all settle before it is rethrown, so nothing is
    // still writing into the temporary folder while it is being removed.
    const inFlight = 4;
    let next = 0;
    let done = 0;
    let failure: unknown;
    const worker = async () => {
      while (next < frames.count && failure === undefined) {
        const t = next++;
        try {
          const one = makeFrames(frames.width, frames.height, 1, frameAt(frames, t));
          await writeFile(join(temp, frameFileName(t, frames.count)), await encodeImage(one, 'png'));
          onFrame?.(++done);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, frames.count) }, worker));
    if (failure !== undefined) throw failure;
  }, isFrameFileName);
}
