/**
 * The counter-based random generator behind `random` nodes, shared by the reference
 * interpreter and (bit for bit) by WGSL code generation.
 *
 * Vocabulary
 * - Philox4x32-10: a keyed bijection on 128-bit counters (Salmon et al., "Parallel random
 *   numbers: as easy as 1, 2, 3", SC 2011), ten rounds of 32x32->64-bit multiplies with the
 *   multipliers M0, M1 and the key schedule ("Weyl") increments W0, W1. It needs nothing but
 *   u32 arithmetic, so a shader can reproduce it exactly.
 * - Word: one of the four u32 outputs of one Philox call.
 * - Element i of a random tensor (row-major linear index) is a pure function of (seed, i):
 *   key = (seed, 0), counter = (i, 0, 0, 0). (Indices at or beyond 2^32 carry their high part
 *   in counter word 1; no real tensor gets there, but the mapping stays injective.)
 * - uniform: `(word0 >>> 8) * 2^-24`, in [0, 1) and exactly representable in f32.
 * - normal: Box-Muller from u1 = `((word0 >>> 8) + 1) * 2^-24` in (0, 1] (so log(u1) is
 *   finite) and u2 = `(word1 >>> 8) * 2^-24` in [0, 1): `sqrt(-2 ln u1) * cos(2 pi u2)`,
 *   evaluated in float64 here. A GPU evaluates the same value in f32 as
 *   `-sqrt(-2 ln u1) * cos(2 pi (u2 - 1/2))`, keeping cos's argument in [-pi, pi), where WGSL
 *   bounds its error.
 */

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

const TWO_POW_32 = 4294967296;
const TWO_POW_MINUS_24 = 1 / 16777216;

/**
 * High 32 bits of the 64-bit product of two u32 values. `Math.imul` gives only the low half
 * and a float64 product loses bits above 2^53, so the product is assembled from 16-bit limbs
 * whose partial products (< 2^32) are all exact.
 */
export function mulHi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const carry = ((ll >>> 16) + (lh & 0xffff) + (hl & 0xffff)) >>> 16;
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + carry) >>> 0;
}

export type PhiloxCounter = readonly [number, number, number, number];
export type PhiloxKey = readonly [number, number];

/** Philox4x32-10 of one 128-bit counter under one 64-bit key; all words are u32. */
export function philox4x32(counter: PhiloxCounter, key: PhiloxKey): [number, number, number, number] {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < PHILOX_ROUNDS; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulHi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulHi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

function wordsFor(seed: number, index: number): [number, number, number, number] {
  const lo = index >>> 0;
  const hi = Math.floor(index / TWO_POW_32) >>> 0;
  return philox4x32([lo, hi, 0, 0], [seed >>> 0, 0]);
}

/** Uniform in [0, 1) for element `index` of a tensor drawn with `seed`. */
export function randomUniform(seed: number, index: number): number {
  return (wordsFor(seed, index)[0] >>> 8) * TWO_POW_MINUS_24;
}

/** Standard normal for element `index` of a tensor drawn with `seed` (Box-Muller, cosine branch). */
export function randomNormal(seed: number, index: number): number {
  const w = wordsFor(seed, index);
  const u1 = ((w[0] >>> 8) + 1) * TWO_POW_MINUS_24;
  const u2 = (w[1] >>> 8) * TWO_POW_MINUS_24;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
