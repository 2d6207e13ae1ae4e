import { describe, expect, it } from 'vitest';
import { makeSampleClip, makeSampleImage, writeSampleMedia } from '../../../runtime/media/sample.ts';
import { readMedia } from '../../../runtime/media/media.ts';
import { withTempDir } from './helpers.ts';
import { checkVaeInput } from '../../../runtime/media/vae_input.ts';

const at = (f: { width: number; height: number; data: Uint8Array }, t: number, x: number, y: number) =>
  Array.from(f.data.subarray(((t * f.height + y) * f.width + x) * 3, ((t * f.height + y) * f.width + x) * 3 + 3));

describe('sample media', () => {
  it('is a valid VAE input by default: 9 frames of 64×64', () => {
    const clip = makeSampleClip();
    expect(clip).toMatchObject({ count: 9, width: 64, height: 64 });
    expect(checkVaeInput(clip).changes).toEqual([]);
  });

  it('is deterministic', () => {
    expect(Buffer.from(makeSampleClip(5, 40, 24).data).equals(Buffer.from(makeSampleClip(5, 40, 24).data))).toBe(true);
  });

  it('draws the orange disc where its path puts it', () => {
    // Frame 0: disc centre at (W/2 + W/4, H/2) = (48, 32); its colour is (0.98, 0.62, 0.22) * 255.
    expect(at(makeSampleClip(), 0, 48, 32)).toEqual([250, 158, 56]);
    // A quarter of the way round (frame 2 of 8), it is at (32, 48).
    expect(at(makeSampleClip(8), 2, 32, 48)).toEqual([250, 158, 56]);
  });

  it('moves: consecutive frames differ, and each frame has colour variety', () => {
    const clip = makeSampleClip();
    const n = 64 * 64 * 3;
    for (let t = 1; t < clip.count; t++) {
      expect(Buffer.from(clip.data.subarray((t - 1) * n, t * n)).equals(Buffer.from(clip.data.subarray(t * n, (t + 1) * n)))).toBe(false);
    }
    const distinct = new Set<number>();
    for (let i = 0; i < n; i += 3) distinct.add((clip.data[i] << 16) | (clip.data[i + 1] << 8) | clip.data[i + 2]);
    expect(distinct.size).toBeGreaterThan(100);
  });

  it('gives a still image in the same style', () => {
    const image = makeSampleImage(48, 32);
    expect(image).toMatchObject({ count: 1, width: 48, height: 32 });
    expect(Array.from(image.data)).toEqual(Array.from(makeSampleClip(1, 48, 32).data));
  });

  it('writes the sample files, readable back exactly', () => withTempDir(async (dir) => {
    const { clip, image } = await writeSampleMedia(dir, 5, 32, 16);
    const clipBack = await readMedia(clip);
    expect(clipBack).toMatchObject({ kind: 'frames', count: 5, width: 32, height: 16 });
    expect(Buffer.from(clipBack.data).equals(Buffer.from(makeSampleClip(5, 32, 16).data))).toBe(true);
    const imageBack = await readMedia(image);
    expect(Buffer.from(imageBack.data).equals(Buffer.from(makeSampleImage(32, 16).data))).toBe(true);
  }));
});
