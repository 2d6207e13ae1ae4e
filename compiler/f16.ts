/**
 * IEEE 754 binary16 ("half", Kiln's f16) rounding as the compiler sees it: a float64 value
 * rounded once, directly, to the nearest half value (no detour through f32, which would round
 * twice). The result is returned as a float64 holding that half value exactly.
 *
 * Vocabulary
 * - Half: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Normal halves lie in
 *   [2^-14, 65504]; subnormals are multiples of 2^-24 below 2^-14.
 * - Round-to-nearest-even: ties go to the half whose last fraction bit is 0. Magnitudes at or
 *   above 65520 (the midpoint between 65504 and the first unrepresentable step, 65536) become
 *   Infinity; NaN stays NaN; the sign of zero is kept.
 */

export const F16_MAX = 65504;
/** The smallest positive normal half. */
export const F16_MIN_NORMAL = 2 ** -14;
/** The spacing of subnormal halves (and the smallest positive half). */
export const F16_MIN_SUBNORMAL = 2 ** -24;
/** Magnitudes at or above this round to Infinity. */
const F16_OVERFLOW = 65520;

/** Round `q` to an integer, ties to even. `q` is a float64 well below 2^52, so this is exact. */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The exponent e with 2^e <= a < 2^(e+1), for finite a > 0. */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  // log2 may be off by one right at powers of two; fix it with exact comparisons.
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** `x` rounded to the nearest f16 value (round-to-nearest-even, overflow to +-Infinity). */
export function roundToF16(x: number): number {
  if (x !== x) return NaN;
  const a = Math.abs(x);
  if (a === 0 || a === Infinity) return x;
  if (a >= F16_OVERFLOW) return x < 0 ? -Infinity : Infinity;
  // Spacing of halves around a: 2^(e-10) for normals, 2^-24 for subnormals.
  const e = Math.max(exponentOf(a), -14);
  const ulp = 2 ** (e - 10);
  // a / ulp and the product back are exact: both are scalings by powers of two in range.
  const r = roundHalfEven(a / ulp) * ulp;
  return x < 0 ? -r : r;
}
