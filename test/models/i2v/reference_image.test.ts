/**
 * I2V reference image preparation: the public sampler golden (upstream's buckets, bucket lists
 * and the exact pixels predict hands to the VAE), the spec's worked bucket examples, and the
 * PIL resampler against Pillow itself on random sizes (shrinking and enlarging, which the one
 * public pixel case does not both cover) where Debian's python3-pil is installed.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReport } from '../../../models/golden/run.ts';
import { BucketError, closestBucket, generateCropSizeList, i2vBucket, roundDigits } from '../../../models/i2v/buckets.ts';
import { referencePixels, resizeBilinearPil, resizedShortSide, resizePil } from '../../../models/i2v/reference_image.ts';
import { makeFrames, type Frames } from '../../../runtime/media/frames.ts';
import { goldenPath, runCase, SAMPLER_CASES } from '../golden_cases.ts';

const ORACLE = resolve(import.meta.dirname, 'pil_resize.py');
const PYTHON = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import PIL'], { timeout: 30_000 }).status === 0);

function randomImage(width: number, height: number, seed: number): Frames {
  let s = seed >>> 0 || 7;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  return makeFrames(width, height, 1, data);
}

describe('sampler golden', () => {
  expect(SAMPLER_CASES.length).toBeGreaterThanOrEqual(1);
  for (const f of SAMPLER_CASES) {
    it(f, async () => {
      const r = await runCase(goldenPath(f));
      expect(r.comparisons.map((c) => c.name)).toContain('pixel_values');
      expect(r.pass, formatReport(r)).toBe(true);
    });
  }
});

describe('buckets', () => {
  it('lists 43, 67 and 91 buckets at 360p, 540p and 720p, tall first, with the square one (spec §4.1)', () => {
    for (const [base, n, first, square] of [[480, 43, [896, 224], 480], [720, 67, [1408, 352], 704], [960, 91, [1920, 480], 960]] as const) {
      const list = generateCropSizeList(base);
      expect(list.length).toBe(n);
      expect(list[0]).toEqual(first);
      expect(list[n - 1]).toEqual([first[1], first[0]]);
      expect(list).toContainEqual([square, square]);
      expect(list.every(([h, w]) => h % 32 === 0 && w % 32 === 0)).toBe(true);
    }
  });

  it('picks the spec\'s buckets for its worked examples (spec §4.2)', () => {
    // (width, height) of the image → (height, width) of the bucket.
    expect(i2vBucket(720, 1280, '720p')).toEqual([704, 1248]);
    expect(i2vBucket(1280, 720, '720p')).toEqual([1248, 704]);
    expect(i2vBucket(1024, 1024, '720p')).toEqual([960, 960]);
    expect(i2vBucket(1536, 1152, '720p')).toEqual([1088, 832]);
    expect(i2vBucket(1152, 1536, '720p')).toEqual([832, 1088]);
    expect(i2vBucket(9, 16, '540p')).toEqual([544, 928]);
    expect(i2vBucket(9, 16, '360p')).toEqual([352, 608]);
  });

  it('picks buckets the short-side resize covers (without sequence parallelism) and obeys the sequence-parallel rule', () => {
    fc.assert(fc.property(fc.integer({ min: 16, max: 4000 }), fc.integer({ min: 16, max: 4000 }), fc.constantFrom('360p', '540p', '720p' as const), fc.constantFrom(1, 2, 4, 8), (h, w, res, sp) => {
      let bucket: readonly [number, number];
      try {
        bucket = i2vBucket(h, w, res, sp);
      } catch (e) {
        // Only images more extreme than the 4:1 buckets have none.
        expect(e).toBeInstanceOf(BucketError);
        expect(Math.max(h / w, w / h)).toBeGreaterThan(3.9);
        return;
      }
      if (sp > 1) {
        expect(bucket[0] % (16 * sp) === 0 || bucket[1] % (16 * sp) === 0).toBe(true);
        return; // xDiT's re-chosen bucket may be wider or taller than the resized image: the crop pads
      }
      const [rh, rw] = resizedShortSide(h, w, Math.min(...bucket));
      expect(rh).toBeGreaterThanOrEqual(bucket[0]);
      expect(rw).toBeGreaterThanOrEqual(bucket[1]);
    }), { numRuns: 300 });
  });

  it('rounds ratios as Python\'s round(x, 5) and breaks ties by list order', () => {
    expect(roundDigits(2 / 3, 5)).toBe(0.66667);
    expect(roundDigits(896 / 224, 5)).toBe(4);
    const twins = [[64, 64], [64, 64]] as const;
    expect(closestBucket(100, 100, twins).bucket).toBe(twins[0]);
    expect(closestBucket(100, 100, [[32, 64], [64, 64], [32, 32]]).bucket).toEqual([64, 64]);
  });
});

describe('reference pixels', () => {
  it('crops the centre, halves rounding to even, and maps 0..255 to -1..1', () => {
    // 1 row of 5 pixels cropped to 2 (offset round(1.5) = 2), a ramp so positions show.
    const data = Uint8Array.from([0, 0, 0, 51, 51, 51, 102, 102, 102, 153, 153, 153, 255, 255, 255]);
    const px = referencePixels(makeFrames(5, 1, 1, data), [1, 2]);
    // Resize(1) keeps a 1 × 5 image; the crop starts at x = 2.
    expect(px.shape).toEqual([1, 3, 1, 1, 2]);
    expect(Array.from(px.data as Float32Array).slice(0, 2)).toEqual([Math.fround(Math.fround(Math.fround(102 / 255) - 0.5) / 0.5), Math.fround(Math.fround(Math.fround(153 / 255) - 0.5) / 0.5)]);
  });

  it('pads with black where a sequence-parallel bucket is wider than the resized image, as torchvision\'s CenterCrop does', () => {
    const image = randomImage(100, 100, 5);
    const bucket = i2vBucket(100, 100, '360p', 8);
    expect(bucket).toEqual([448, 512]); // the square 480 has no side divisible by 128
    const px = referencePixels(image, bucket);
    const resized = resizeBilinearPil(image, 448, 448);
    const at = (ch: number, y: number, x: number) => (px.data as Float32Array)[(ch * 448 + y) * 512 + x];
    for (const y of [0, 200, 447]) {
      for (const x of [0, 31, 480, 511]) expect(at(1, y, x)).toBe(-1); // (512 − 448) / 2 = 32 columns each side
      for (const x of [32, 300, 479]) expect(at(2, y, x)).toBe(Math.fround(Math.fround(Math.fround(resized.data[(y * 448 + x - 32) * 3 + 2] / 255) - 0.5) / 0.5));
    }
  });

  for (const filter of ['bilinear', 'bicubic'] as const) {
    it.skipIf(!PYTHON)(PYTHON ? `resizes exactly as Pillow does (${filter}), shrinking and enlarging` : `resizes exactly as Pillow does (${filter}) — skipped: no python3 with PIL (apt-get install python3-pil)`, () => {
      const jobs: { image: Frames; ow: number; oh: number }[] = [];
      fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), fc.nat(), (w, h, ow, oh, seed) => {
        jobs.push({ image: randomImage(w, h, seed), ow, oh });
      }), { numRuns: 120 });
      jobs.push({ image: randomImage(300, 7, 1), ow: 17, oh: 7 }, { image: randomImage(9, 200, 2), ow: 9, oh: 3 });
      const input = JSON.stringify(jobs.map((j) => ({ width: j.image.width, height: j.image.height, out_width: j.ow, out_height: j.oh, filter, pixels: Buffer.from(j.image.data).toString('base64') })));
      const r = spawnSync(PYTHON!, [ORACLE], { input, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const expected = JSON.parse(r.stdout) as string[];
      jobs.forEach((j, i) => {
        const got = resizePil(j.image, j.ow, j.oh, filter);
        const want = Buffer.from(expected[i], 'base64');
        const diff = got.data.findIndex((v, k) => v !== want[k]);
        expect(diff, `${j.image.width}x${j.image.height} → ${j.ow}x${j.oh}: first mismatch at byte ${diff}`).toBe(-1);
      });
    });
  }
});
