/**
 * Test helpers for the reference interpreter: run one node, compare arrays, and a naive
 * index-function view of a tensor (row-major strides, computed independently of the code
 * under test).
 */
import { expect } from 'vitest';
import type { Node } from '../../../compiler/ir.ts';
import { evaluate, type InterpreterInputs } from '../../../compiler/reference/interpret.ts';

export function run(node: Node, inputs: InterpreterInputs = {}): number[] {
  return Array.from(evaluate([node], inputs).get(node.id) as Float64Array);
}

/** Element-wise equality with NaN == NaN and +0 == -0; `rel` is a relative tolerance. */
export function expectValues(actual: ArrayLike<number>, expected: readonly number[], rel = 0): void {
  expect(actual.length).toBe(expected.length);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const ok = Number.isNaN(e) ? Number.isNaN(a)
      : a === e || (Number.isFinite(e) && Math.abs(a - e) <= rel * Math.max(1, Math.abs(e)));
    if (!ok) bad.push(`[${i}] got ${a}, expected ${e}`);
  }
  expect(bad).toEqual([]);
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Multi-index of row-major position i. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

/** Row-major position of a multi-index. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let p = 0;
  for (let k = 0; k < shape.length; k++) p = p * shape[k] + idx[k];
  return p;
}

/** A tensor as a function of its multi-index. */
export interface IndexFn {
  readonly shape: readonly number[];
  readonly at: (idx: readonly number[]) => number;
}

export const fromArray = (data: ArrayLike<number>, shape: readonly number[]): IndexFn =>
  ({ shape, at: (idx) => data[ravel(idx, shape)] });

export function materialize(t: IndexFn): number[] {
  return Array.from({ length: sizeOf(t.shape) }, (_, i) => t.at(unravel(i, t.shape)));
}

/** Deterministic pseudo-random values (a small LCG), so failures reproduce. */
export function values(n: number, seed = 1, integers = false): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = integers ? (s >>> 24) - 128 : s / 2 ** 31 - 1;
  }
  return out;
}
