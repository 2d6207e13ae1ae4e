import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { roundToF16 } from '../../compiler/f16.ts';
import { floatToHalf, halfToFloat } from '../../runtime/tensor.ts';

// All finite non-negative halves in increasing order, decoded from their bit patterns
// (bits 0x0000..0x7bff are increasing in value), so index parity is fraction-bit parity.
const HALVES = Array.from({ length: 0x7c00 }, (_, bits) => halfToFloat(bits));

/** Nearest half by search over the table, ties to the even bit pattern; the reference. */
function nearestHalf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  const max = HALVES[HALVES.length - 1];
  // One step past max would be 65536; its midpoint with max is where overflow starts.
  if (a >= (max + 65536) / 2) return sign * Infinity;
  let lo = 0, hi = HALVES.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (HALVES[mid] <= a) lo = mid; else hi = mid;
  }
  if (a >= HALVES[hi]) lo = hi;
  const below = HALVES[lo];
  const above = lo + 1 < HALVES.length ? HALVES[lo + 1] : 65536;
  let pick: number;
  if (a - below < above - a) pick = below;
  else if (a - below > above - a) pick = above;
  else pick = lo % 2 === 0 ? below : above;
  return sign * pick;
}

describe('roundToF16', () => {
  it('keeps every half value', () => {
    const moved = HALVES.filter((h) => !Object.is(roundToF16(h), h) || !Object.is(roundToF16(-h), -h));
    expect(moved).toEqual([]);
  });

  it('rounds midpoints to even and near-midpoints to the nearer half', () => {
    for (let i = 0; i + 1 < HALVES.length; i++) {
      const lo = HALVES[i], hi = HALVES[i + 1];
      const mid = (lo + hi) / 2; // exact: halves have few bits
      const even = i % 2 === 0 ? lo : hi;
      if (roundToF16(mid) !== even) expect([i, roundToF16(mid)]).toEqual([i, even]);
      const eps = (hi - lo) * 2 ** -20;
      if (roundToF16(mid - eps) !== lo || roundToF16(mid + eps) !== hi) {
        expect([i, roundToF16(mid - eps), roundToF16(mid + eps)]).toEqual([i, lo, hi]);
      }
    }
  });

  it('handles hand-picked edges: overflow, underflow, signs, NaN', () => {
    expect(roundToF16(65504)).toBe(65504);
    expect(roundToF16(65519.99)).toBe(65504);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(-70000)).toBe(-Infinity);
    expect(roundToF16(Infinity)).toBe(Infinity);
    expect(roundToF16(2 ** -24)).toBe(2 ** -24);
    expect(roundToF16(2 ** -25)).toBe(0); // tie between 0 and 2^-24: even is 0
    expect(roundToF16(2 ** -25 * 1.0001)).toBe(2 ** -24);
    expect(roundToF16(3 * 2 ** -25)).toBe(2 ** -23); // tie between 1 and 2 units: even is 2
    expect(Object.is(roundToF16(-1e-30), -0)).toBe(true);
    expect(Object.is(roundToF16(-0), -0)).toBe(true);
    expect(roundToF16(NaN)).toBeNaN();
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // tie: 1 has even fraction
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToF16(0.1)).toBe(0.0999755859375);
  });

  it('rounds a float64 once (no double rounding through f32)', () => {
    // 1 + 2^-11 + 2^-40 is just above the midpoint; via f32 it would become the midpoint
    // 1 + 2^-11 and then round down to 1.
    expect(roundToF16(1 + 2 ** -11 + 2 ** -40)).toBe(1 + 2 ** -10);
  });

  it('agrees with a table search on arbitrary doubles and with runtime floatToHalf on f32 values', () => {
    fc.assert(fc.property(fc.double({ min: -70000, max: 70000, noNaN: true }), (x) => {
      expect(roundToF16(x)).toBe(nearestHalf(x));
      const f = Math.fround(x);
      expect(roundToF16(f)).toBe(halfToFloat(floatToHalf(f)));
    }), { numRuns: 5000 });
  });
});
