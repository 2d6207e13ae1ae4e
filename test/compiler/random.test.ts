import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mulHi32, philox4x32, randomNormal, randomUniform } from '../../compiler/random.ts';

/** An independent Philox4x32-10 in BigInt arithmetic, straight from the round definition. */
function philoxBig(counter: readonly number[], key: readonly number[]): number[] {
  const mask = 0xffffffffn;
  let [c0, c1, c2, c3] = counter.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9n) & mask;
      k1 = (k1 + 0xbb67ae85n) & mask;
    }
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & mask, p1 & mask, ((p0 >> 32n) ^ c3 ^ k1) & mask, p0 & mask];
  }
  return [c0, c1, c2, c3].map(Number);
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const hex = (words: readonly number[]) => words.map((w) => w.toString(16).padStart(8, '0')).join(' ');

describe('philox4x32-10', () => {
  // Known-answer vectors published with the Random123 library (kat_vectors, philox4x32 10 rounds).
  it.each([
    [[0, 0, 0, 0], [0, 0], '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], '408f276d 41c83b0e a20bc7c6 6d5451fd'],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], 'd16cfe09 94fdcceb 5001e420 24126ea1'],
  ] as const)('matches Random123 known answer for counter %j key %j', (counter, key, expected) => {
    expect(hex(philox4x32(counter, key))).toBe(expected);
  });

  it('agrees with a BigInt implementation on random counters and keys', () => {
    fc.assert(fc.property(fc.tuple(u32, u32, u32, u32), fc.tuple(u32, u32), (c, k) => {
      expect(philox4x32(c, k)).toEqual(philoxBig(c, k));
    }), { numRuns: 300 });
  });

  it('mulHi32 is the exact high half of the 64-bit product', () => {
    expect(mulHi32(0xffffffff, 0xffffffff)).toBe(0xfffffffe);
    expect(mulHi32(0x10000, 0x10000)).toBe(1);
    expect(mulHi32(0xffff, 0xffff)).toBe(0);
    fc.assert(fc.property(u32, u32, (a, b) => {
      expect(mulHi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }), { numRuns: 2000 });
  });
});

describe('random values', () => {
  it('uniform and normal of (seed 0, index 0) follow from the all-zero known answer', () => {
    // philox((0,0,0,0), (0,0)) words 0 and 1 are 0x6627e8d5 and 0xe169c58d.
    expect(randomUniform(0, 0)).toBe(0x6627e8 / 2 ** 24);
    const u1 = (0x6627e8 + 1) / 2 ** 24;
    const u2 = 0xe169c5 / 2 ** 24;
    expect(randomNormal(0, 0)).toBe(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
  });

  it('the seed is key word 0 and the index is counter word 0 (high part in word 1)', () => {
    // The third known answer has key word 1 != 0, so use the BigInt reference directly.
    const seed = 0xa4093822;
    expect(randomUniform(seed, 12345)).toBe((philoxBig([12345, 0, 0, 0], [seed, 0])[0] >>> 8) / 2 ** 24);
    expect(randomUniform(7, 2 ** 32 + 5)).toBe((philoxBig([5, 1, 0, 0], [7, 0])[0] >>> 8) / 2 ** 24);
  });

  it('uniform values are in [0, 1) and are multiples of 2^-24 (exact in f32)', () => {
    for (let i = 0; i < 2000; i++) {
      const u = randomUniform(42, i);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(Number.isInteger(u * 2 ** 24)).toBe(true);
      expect(Math.fround(u)).toBe(u);
    }
  });

  it('is deterministic per (seed, index) and differs across seeds', () => {
    expect(randomNormal(3, 99)).toBe(randomNormal(3, 99));
    expect(randomNormal(3, 99)).not.toBe(randomNormal(4, 99));
    expect(randomUniform(3, 99)).not.toBe(randomUniform(3, 100));
  });

  it('10^5 normals have mean ~0 and variance ~1; uniforms mean ~1/2 and variance ~1/12', () => {
    const n = 100_000;
    let s = 0, s2 = 0, u = 0, u2 = 0, nonFinite = 0;
    for (let i = 0; i < n; i++) {
      const z = randomNormal(2024, i);
      if (!Number.isFinite(z)) nonFinite++;
      s += z; s2 += z * z;
      const v = randomUniform(2024, i);
      u += v; u2 += v * v;
    }
    expect(nonFinite).toBe(0);
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    // Standard errors are about 0.003 (mean) and 0.0045 (variance); bounds are ~6 sigma wide.
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    const um = u / n;
    expect(Math.abs(um - 0.5)).toBeLessThan(0.006);
    expect(Math.abs(u2 / n - um * um - 1 / 12)).toBeLessThan(0.003);
  });
});
