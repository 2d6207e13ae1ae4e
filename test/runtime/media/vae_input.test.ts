import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkVaeInput, resizeBilinear, vaeFrameCounts, vaeSideTargets } from '../../../runtime/media/vae_input.ts';
import { makeFrames, type Frames } from '../../../runtime/media/frames.ts';
import { MediaError } from '../../../runtime/media/errors.ts';
import { isUserError } from '../../../cli/errors.ts';

/** Pixels that name their own position: r = x, g = y, b = t. */
function positional(W: number, H: number, T: number): Frames {
  const f = makeFrames(W, H, T);
  for (let t = 0; t < T; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) f.data.set([x, y, t], ((t * H + y) * W + x) * 3);
  return f;
}

const pixel = (f: Frames, t: number, y: number, x: number) => Array.from(f.data.subarray(((t * f.height + y) * f.width + x) * 3, ((t * f.height + y) * f.width + x) * 3 + 3));

function errorOf(fn: () => unknown): Error {
  try { fn(); } catch (err) { return err as Error; }
  throw new Error('expected a throw');
}

describe('VAE shape rules', () => {
  it('finds the valid frame counts around T', () => {
    const table: [number, number, number][] = [[1, 1, 1], [2, 1, 5], [4, 1, 5], [5, 5, 5], [8, 5, 9], [12, 9, 13], [13, 13, 13], [129, 129, 129], [130, 129, 133]];
    for (const [T, below, above] of table) expect(vaeFrameCounts(T)).toEqual({ below, above });
  });

  it('finds crop, pad and resize targets for a side', () => {
    expect(vaeSideTargets(100)).toEqual({ crop: 96, pad: 104, resize: 104 });
    expect(vaeSideTargets(99)).toEqual({ crop: 96, pad: 104, resize: 96 });
    expect(vaeSideTargets(5)).toEqual({ crop: 0, pad: 8, resize: 8 });
    expect(vaeSideTargets(64)).toEqual({ crop: 64, pad: 64, resize: 64 });
  });
});

describe('checkVaeInput', () => {
  it('passes valid input through untouched', () => {
    const f = positional(16, 8, 9);
    const result = checkVaeInput(f);
    expect(result.frames).toBe(f);
    expect(result.changes).toEqual([]);
  });

  it('explains a bad frame count and how to fix it', () => {
    const err = errorOf(() => checkVaeInput(positional(16, 16, 12)));
    expect(err).toBeInstanceOf(MediaError);
    expect(isUserError(err)).toBe(true);
    expect(err.message).toContain('the video has 12 frames; the VAE needs 4k+1 frames (9 or 13): pass --trim to drop the last 3 frames or --pad to repeat the last frame 1 time');
  });

  it('explains bad sizes, one line each, naming the input', () => {
    const err = errorOf(() => checkVaeInput(positional(100, 60, 9), { name: 'in.mp4' }));
    expect(err.message).toMatch(/^in\.mp4 \(the 100×60 video\) does not fit the VAE/);
    expect(err.message).toContain('  - width 100 is not a multiple of 8: pass --crop to center-crop to 96, --pad to edge-pad to 104 or --resize to scale to 104');
    expect(err.message).toContain('  - height 60 is not a multiple of 8: pass --crop to center-crop to 56, --pad to edge-pad to 64 or --resize to scale to 64');
    expect(err.message).not.toContain('frames;');
  });

  it('does not offer cropping a side shorter than 8, and refuses to crop it', () => {
    expect(errorOf(() => checkVaeInput(positional(5, 8, 1))).message).toContain('width 5 is not a multiple of 8: pass --pad to edge-pad to 8 or --resize to scale to 8');
    expect(errorOf(() => checkVaeInput(positional(5, 8, 1), { onMismatch: 'trim' })).message).toContain('width 5 is smaller than 8');
  });

  it("'trim' keeps the first 4k+1 frames and the centred window", () => {
    const src = positional(21, 13, 12);
    const { frames, changes } = checkVaeInput(src, { onMismatch: 'trim' });
    expect(frames).toMatchObject({ count: 9, width: 16, height: 8 });
    // (21 - 16) / 2 -> 2 columns off the left; (13 - 8) / 2 -> 2 rows off the top.
    for (let t = 0; t < 9; t++) for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) expect(pixel(frames, t, y, x)).toEqual([x + 2, y + 2, t]);
    expect(changes).toEqual(['trimmed 12 frames to 9 (dropped the last 3)', 'center-cropped 21×13 to 16×8']);
  });

  it("'pad' repeats the last frame and replicates the edges", () => {
    const src = positional(21, 13, 10);
    const { frames, changes } = checkVaeInput(src, { onMismatch: 'pad' });
    expect(frames).toMatchObject({ count: 13, width: 24, height: 16 });
    const clamp = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
    // 3 extra columns: 1 left, 2 right; 3 extra rows: 1 top, 2 bottom.
    for (let t = 0; t < 13; t++)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 24; x++) expect(pixel(frames, t, y, x)).toEqual([clamp(x - 1, 21), clamp(y - 1, 13), Math.min(t, 9)]);
    expect(changes).toEqual(['padded 10 frames to 13 (repeated the last frame 3 times)', 'edge-padded 21×13 to 24×16']);
  });

  it("'resize' scales the sides but still asks about the frame count", () => {
    const { frames, changes } = checkVaeInput(positional(100, 60, 5), { onMismatch: 'resize' });
    expect(frames).toMatchObject({ count: 5, width: 104, height: 64 });
    expect(changes).toEqual(['resized 100×60 to 104×64']);
    expect(errorOf(() => checkVaeInput(positional(100, 60, 6), { onMismatch: 'resize' })).message).toContain('--trim');
    expect(checkVaeInput(positional(100, 60, 6), { onMismatch: 'resize', frames: 'trim' }).frames.count).toBe(5);
  });

  it('always yields a valid shape with trim and pad', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 8, max: 30 }), fc.integer({ min: 8, max: 30 }), (T, W, H) => {
      const src = makeFrames(W, H, T);
      const trimmed = checkVaeInput(src, { onMismatch: 'trim' }).frames;
      expect(trimmed.count % 4).toBe(1);
      expect(trimmed.count).toBeLessThanOrEqual(T);
      expect(T - trimmed.count).toBeLessThan(4);
      expect([trimmed.width % 8, trimmed.height % 8]).toEqual([0, 0]);
      expect(W - trimmed.width).toBeLessThan(8);
      const padded = checkVaeInput(src, { onMismatch: 'pad' }).frames;
      expect(padded.count % 4).toBe(1);
      expect(padded.count - T).toBeGreaterThanOrEqual(0);
      expect(padded.count - T).toBeLessThan(4);
      expect([padded.width % 8, padded.height % 8]).toEqual([0, 0]);
      expect(padded.height - H).toBeLessThan(8);
    }), { numRuns: 100 });
  });
});

describe('resizeBilinear', () => {
  it('matches a hand-computed 2 -> 4 upscale', () => {
    const f = makeFrames(2, 1, 1, Uint8Array.of(0, 0, 0, 100, 200, 40));
    const out = resizeBilinear(f, 4, 1);
    // Sample positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    expect(Array.from(out.data)).toEqual([0, 0, 0, 25, 50, 10, 75, 150, 30, 100, 200, 40]);
  });

  it('is the identity at the same size', () => {
    const f = positional(9, 7, 2);
    expect(Array.from(resizeBilinear(f, 9, 7).data)).toEqual(Array.from(f.data));
  });

  it('agrees with a direct two-dimensional bilinear formula', () => {
    const src = makeFrames(13, 11, 2);
    for (let i = 0; i < src.data.length; i++) src.data[i] = (i * 97 + (i >> 3) * 13) % 256;
    const [W, H] = [16, 8];
    const out = resizeBilinear(src, W, H);
    const pos = (d: number, n: number, m: number) => Math.min(Math.max((d + 0.5) * (n / m) - 0.5, 0), n - 1);
    for (let t = 0; t < 2; t++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          for (let c = 0; c < 3; c++) {
            const sx = pos(x, 13, W), sy = pos(y, 11, H);
            const x0 = Math.floor(sx), y0 = Math.floor(sy), x1 = Math.min(x0 + 1, 12), y1 = Math.min(y0 + 1, 10);
            const fx = sx - x0, fy = sy - y0;
            const at = (yy: number, xx: number) => src.data[((t * 11 + yy) * 13 + xx) * 3 + c];
            const v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
            expect(Math.abs(out.data[((t * H + y) * W + x) * 3 + c] - v)).toBeLessThanOrEqual(0.5 + 1e-9);
          }
  });
});
