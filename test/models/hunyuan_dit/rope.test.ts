/**
 * The transformer's rotary position tables: the public golden cases (upstream's float32
 * tables), and other axis splits, grids, thetas and factors against the formula of
 * spec/pipeline.md §8.7 evaluated in float64, since the held-out goldens use other sizes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReport } from '../../../models/golden/run.ts';
import { axisFrequencies, meshgridAxes, ndRotaryPosEmbed, RopeError, samplerRotaryTables } from '../../../models/hunyuan_dit/rope.ts';
import { goldenPath, ROPE_CASES, runCase } from '../golden_cases.ts';

/** cos and sin of pos_a · theta'^(−2j/d_a), pairs repeated, axes concatenated, tokens row-major over the grid — in float64. */
function referenceTables(dims: number[], sizes: number[], theta: number, rescale: number[], interpolation: number[]): { cos: number[]; sin: number[] } {
  const width = dims.reduce((a, b) => a + b, 0);
  const tokens = sizes.reduce((a, b) => a * b, 1);
  const cos: number[] = new Array(tokens * width);
  const sin: number[] = new Array(tokens * width);
  for (let token = 0; token < tokens; token++) {
    // Unravel the token index into grid coordinates (row-major).
    const coord: number[] = [];
    let rest = token;
    for (let a = sizes.length - 1; a >= 0; a--) {
      coord[a] = rest % sizes[a];
      rest = Math.floor(rest / sizes[a]);
    }
    let col = token * width;
    dims.forEach((d, a) => {
      const th = rescale[a] === 1 ? theta : theta * rescale[a] ** (d / (d - 2));
      for (let j = 0; j < d / 2; j++) {
        const angle = coord[a] * interpolation[a] * th ** (-(2 * j) / d);
        cos[col] = cos[col + 1] = Math.cos(angle);
        sin[col] = sin[col + 1] = Math.sin(angle);
        col += 2;
      }
    });
  }
  return { cos, sin };
}

const maxAbsDiff = (a: Float32Array, b: readonly number[]): number => b.reduce((m, v, i) => Math.max(m, Math.abs(a[i] - v)), 0);

describe('get_nd_rotary_pos_embed goldens', () => {
  expect(ROPE_CASES.length).toBeGreaterThanOrEqual(2);
  for (const f of ROPE_CASES) {
    it(f, async () => {
      const r = await runCase(goldenPath(f));
      expect(r.comparisons.map((c) => c.name).sort()).toEqual(['freqs_cos', 'freqs_sin']);
      expect(r.pass, formatReport(r)).toBe(true);
    });
  }
});

describe('ndRotaryPosEmbed', () => {
  it('matches the float64 formula for other axis splits, grids, thetas and factors', () => {
    const axis = fc.record({ half: fc.integer({ min: 1, max: 12 }), size: fc.integer({ min: 1, max: 7 }), rescale: fc.constantFrom(1, 1, 2, 0.5), interp: fc.constantFrom(1, 1, 0.5, 2) });
    fc.assert(fc.property(fc.array(axis, { minLength: 1, maxLength: 4 }), fc.constantFrom(256, 10000, 1000.5), (axes, theta) => {
      const dims = axes.map((a) => 2 * a.half + (a.rescale === 1 ? 0 : 2)); // a rescaled axis needs dim > 2
      const sizes = axes.map((a) => a.size);
      const { cos, sin } = ndRotaryPosEmbed({
        ropeDimList: dims, grid: sizes, theta, thetaRescaleFactor: axes.map((a) => a.rescale), interpolationFactor: axes.map((a) => a.interp),
      });
      const ref = referenceTables(dims, sizes, theta, axes.map((a) => a.rescale), axes.map((a) => a.interp));
      expect(cos.shape).toEqual([sizes.reduce((a, b) => a * b, 1), dims.reduce((a, b) => a + b, 0)]);
      // float32 angles: pos · freq rounded (relative 6e-8 of an angle up to ~14), then the table rounded.
      expect(maxAbsDiff(cos.data as Float32Array, ref.cos)).toBeLessThan(2e-6);
      expect(maxAbsDiff(sin.data as Float32Array, ref.sin)).toBeLessThan(2e-6);
    }), { numRuns: 150 });
  });

  it('builds the grid from sizes, start/stop, or start/stop/num, as upstream get_meshgrid_nd does', () => {
    expect(Array.from(meshgridAxes(2, [2, 3]).axes[1])).toEqual([0, 1, 2]);
    expect(Array.from(meshgridAxes(1, 2, 5).axes[0])).toEqual([2, 3, 4]);
    expect(Array.from(meshgridAxes(1, 0, 1, 4).axes[0])).toEqual([0, 0.25, 0.5, 0.75]);
    expect(() => meshgridAxes(3, [1, 2])).toThrow(/one per axis/);
  });

  it('gives the first frequency 1 and the channel pairs one frequency each', () => {
    const f = axisFrequencies(8, 256);
    expect(f[0]).toBe(1);
    expect(f.length).toBe(4);
    const { cos } = ndRotaryPosEmbed({ ropeDimList: [4, 6], grid: [2, 3], theta: 256 });
    const row = Array.from(cos.data as Float32Array).slice(5 * 10, 6 * 10);
    for (let j = 0; j < 10; j += 2) expect(row[j]).toBe(row[j + 1]);
  });

  it('refuses odd or empty axis splits and mismatched grids, saying what to pass', () => {
    expect(() => ndRotaryPosEmbed({ ropeDimList: [3, 4], grid: [1, 1] })).toThrow(RopeError);
    expect(() => ndRotaryPosEmbed({ ropeDimList: [], grid: [] })).toThrow(/rope_dim_list is empty/);
    expect(() => ndRotaryPosEmbed({ ropeDimList: [4, 4], grid: meshgridAxes(3, 2) })).toThrow(/3 axes but rope_dim_list 2/);
  });
});

describe('samplerRotaryTables', () => {
  it('is plain RoPE up to 192 frames', () => {
    const a = samplerRotaryTables(129, [33, 2, 3], [16, 56, 56]);
    const b = ndRotaryPosEmbed({ ropeDimList: [16, 56, 56], grid: [33, 2, 3], theta: 256 });
    expect(Array.from(a.cos.data as Float32Array)).toEqual(Array.from(b.cos.data as Float32Array));
  });

  it('applies RIFLEx beyond: temporal frequency k − 1 becomes 0.9·2π / latent frames, k = clamp(2 + (L + 3) // 100, 4, 8) (spec §8.7)', () => {
    for (const [frames, k] of [[193, 4], [201, 4], [401, 6], [897, 8], [1001, 8]] as const) {
      const latentFrames = (frames - 1) / 4 + 1;
      const grid = [latentFrames, 1, 1] as const;
      const { cos } = samplerRotaryTables(frames, grid, [16, 8, 8]);
      const plain = ndRotaryPosEmbed({ ropeDimList: [16, 8, 8], grid, theta: 256 });
      const data = cos.data as Float32Array;
      const width = 32;
      const w = (0.9 * 2 * Math.PI) / latentFrames;
      for (let t = 0; t < latentFrames; t += 7) {
        // Columns 2(k−1) and 2(k−1)+1 of each row carry the replaced frequency; the others are unchanged.
        expect(Math.abs(data[t * width + 2 * (k - 1)] - Math.cos(t * w))).toBeLessThan(1e-5);
        for (let j = 0; j < 8; j++) if (j !== k - 1) expect(data[t * width + 2 * j]).toBe((plain.cos.data as Float32Array)[t * width + 2 * j]);
      }
    }
  });
});
