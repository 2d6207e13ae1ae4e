/**
 * Deterministic random tensors for the built-in models (the stand-ins for checkpoints that
 * demos and tests use).
 *
 * Vocabulary
 * - Init rule (the golden README's): conv/linear weights (rank >= 2) ~ N(0, 1) / sqrt(fan_in),
 *   fan_in = prod(shape[1:]); 1-D `*.weight` (norm scales) = 1 + 0.1·N(0, 1);
 *   `*.bias` = 0.1·N(0, 1).
 * - Draw: element i of the tensor named `key` is a pure function of (seed, key, i). Philox4x32-10
 *   (compiler/random.ts) keyed by the seed, with the counter (i, hash(key), j, 0) for j = 0, 1, 2,
 *   gives twelve 24-bit uniforms; their sum minus 6 (Irwin–Hall) has mean 0 and variance 1.
 *   Everything after Philox's integer rounds is exact float64 arithmetic, then the init rule's
 *   few correctly rounded IEEE operations (sqrt, divide, multiply, add) and one rounding to
 *   float32 — no library transcendental — so the same seed gives the same bits on every machine
 *   and JavaScript engine.
 */
import { philox4x32 } from '../../compiler/random.ts';
import type { HostTensor } from '../../runtime/tensor.ts';

const TWO_POW_MINUS_24 = 1 / 16777216;

/** FNV-1a over the key's UTF-16 code units: a stable 32-bit tensor id, independent of key order. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/** Irwin–Hall(12) − 6 for element `index` of tensor `tensorId`: mean 0, variance 1, in (−6, 6). */
export function standardDraw(seed: number, tensorId: number, index: number): number {
  let sum = 0;
  for (let j = 0; j < 3; j++) {
    const w = philox4x32([index >>> 0, tensorId, j, 0], [seed >>> 0, 0x4b494c4e]);
    // Each term is a multiple of 2^-24 below 1, so the sum of twelve is exact in float64.
    sum += (w[0] >>> 8) + (w[1] >>> 8) + (w[2] >>> 8) + (w[3] >>> 8);
  }
  return sum * TWO_POW_MINUS_24 - 6;
}

/** How one tensor's values follow from standard draws (the init rule of the file header). */
export function initRule(key: string, shape: readonly number[]): (draw: number) => number {
  if (shape.length >= 2) {
    const root = Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));
    return (d) => d / root;
  }
  if (key.endsWith('.bias')) return (d) => 0.1 * d;
  return (d) => 1 + 0.1 * d;
}

/** One tensor drawn by the init rule (float32). */
export function randomTensor(key: string, shape: readonly number[], seed: number): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const rule = initRule(key, shape);
  const id = keyHash(key);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rule(standardDraw(seed, id, i));
  return { dtype: 'F32', shape: [...shape], data };
}
