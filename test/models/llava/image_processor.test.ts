/**
 * LLaVA's image processor (models/llava/image_processor.ts) against Pillow and numpy doing
 * CLIPImageProcessor's steps (clip_image_processor.py): bit for bit, on tall, wide, square,
 * small and large images.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blackImage, clipImagePixels, shortestEdgeSize } from '../../../models/llava/image_processor.ts';
import type { Frames } from '../../../runtime/media/frames.ts';

const ORACLE = resolve(import.meta.dirname, 'clip_image_processor.py');
const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import PIL, numpy'], { timeout: 30_000 }).status === 0);

function randomImage(width: number, height: number, seed: number): Frames {
  let s = seed >>> 0;
  const data = new Uint8Array(width * height * 3).map(() => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s >>> 24; });
  return { width, height, count: 1, data };
}

describe('CLIPImageProcessor for LLaVA', () => {
  it('sizes the short side to the crop and truncates the long one', () => {
    expect(shortestEdgeSize(100, 150, 36)).toEqual([36, 54]);
    expect(shortestEdgeSize(150, 101, 36)).toEqual([53, 36]);
    expect(shortestEdgeSize(40, 40, 36)).toEqual([36, 36]);
  });

  it.skipIf(!PYTHON)(PYTHON ? 'matches Pillow and numpy bit for bit' : 'matches Pillow and numpy — skipped: no python3 with PIL and numpy (apt-get install python3-pil python3-numpy)', () => {
    const jobs = [[50, 30, 24], [30, 77, 24], [24, 24, 24], [13, 19, 24], [200, 120, 36], [7, 300, 16]].map(([w, h, size], i) => ({ image: randomImage(w, h, i + 1), size }));
    const input = JSON.stringify(jobs.map((j) => ({ width: j.image.width, height: j.image.height, size: j.size, pixels: Buffer.from(j.image.data).toString('base64') })));
    const r = spawnSync(PYTHON!, [ORACLE], { input, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const expected = JSON.parse(r.stdout) as string[];
    jobs.forEach((j, i) => {
      const got = clipImagePixels(j.image, j.size);
      expect(got.shape).toEqual([1, 3, j.size, j.size]);
      const b = Buffer.from(expected[i], 'base64');
      const want = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
      const diff = (got.data as Float32Array).findIndex((v, k) => v !== want[k]);
      expect(diff, `${j.image.width}x${j.image.height} at ${j.size}: first mismatch at ${diff}`).toBe(-1);
    });
  });

  it('gives the negative prompt a black image of the same size', () => {
    const b = blackImage(randomImage(5, 3, 1));
    expect([b.width, b.height, b.data.length, Math.max(...b.data)]).toEqual([5, 3, 45, 0]);
  });
});
