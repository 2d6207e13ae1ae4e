import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { DType, ReduceFn } from '../../../compiler/ir.ts';
import { expectValues, ravel, run, sizeOf, unravel, values } from './helpers.ts';

function reduce(fn: ReduceFn, data: ArrayLike<number>, shape: number[], axes: number[], dtype: DType = 'f32'): number[] {
  const g = new GraphBuilder();
  return run(g.reduce(fn, g.input('x', shape, dtype), axes), { x: data });
}

/** Reference: for each output position, visit the whole input and keep matching elements. */
function naiveReduce(fn: ReduceFn, data: ArrayLike<number>, shape: number[], axes: number[]): number[] {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Array<number>(sizeOf(outShape)).fill(fn === 'sum' ? 0 : -Infinity);
  for (let i = 0; i < sizeOf(shape); i++) {
    const idx = unravel(i, shape).map((v, k) => (axes.includes(k) ? 0 : v));
    const o = ravel(idx, outShape);
    const v = data[i];
    out[o] = fn === 'sum' ? out[o] + v : (Number.isNaN(v) || Number.isNaN(out[o]) ? NaN : Math.max(out[o], v));
  }
  return out;
}

describe('reduce', () => {
  it('sums rows and columns of a 2x3 matrix (hand-computed)', () => {
    const x = [1, 2, 3, 4, 5, 6];
    expectValues(reduce('sum', x, [2, 3], [1]), [6, 15]);
    expectValues(reduce('sum', x, [2, 3], [0]), [5, 7, 9]);
    expectValues(reduce('sum', x, [2, 3], [0, 1]), [21]);
    expectValues(reduce('max', x, [2, 3], [0]), [4, 5, 6]);
    expectValues(reduce('max', [3, -1, 9, 2, 8, -5], [2, 3], [1]), [9, 8]);
  });

  it('max propagates NaN and handles -Infinity', () => {
    expectValues(reduce('max', [1, NaN, 3, -Infinity, -Infinity, -Infinity], [2, 3], [1]), [NaN, -Infinity]);
    expectValues(reduce('max', [NaN, 5], [2], [0]), [NaN]);
  });

  it('sum with Infinity and NaN follows IEEE', () => {
    expectValues(reduce('sum', [Infinity, 1, -Infinity, 2, NaN, 3], [3, 2], [1]), [Infinity, -Infinity, NaN]);
  });

  it('an empty reduced axis gives 0 for sum and -Infinity for max (-2^31 for i32)', () => {
    expectValues(reduce('sum', [], [2, 0, 3], [1]), [0, 0, 0, 0, 0, 0]);
    expectValues(reduce('max', [], [2, 0, 3], [1]), new Array(6).fill(-Infinity));
    expectValues(reduce('max', [], [0, 2], [0], 'i32'), [-(2 ** 31), -(2 ** 31)]);
    // A kept empty axis gives an empty result.
    expectValues(reduce('sum', [], [0, 4], [1]), []);
  });

  it('reducing a size-1 axis is the identity', () => {
    expectValues(reduce('sum', [1, -2, 3], [3, 1], [1]), [1, -2, 3]);
    expectValues(reduce('max', [1, -2, 3], [1, 3, 1], [0, 2]), [1, -2, 3]);
  });

  it('i32 sums wrap to 32 bits', () => {
    expectValues(reduce('sum', [2 ** 31 - 1, 1, 5, -3], [2, 2], [1], 'i32'), [-(2 ** 31), 2]);
    expectValues(reduce('max', [7, -9, -2, -8], [2, 2], [1], 'i32'), [7, -2]);
  });

  it('sums in float64 (no f32 rounding)', () => {
    expectValues(reduce('sum', [1, 2 ** -30, 2 ** -30], [3], [0]), [1 + 2 ** -29]);
  });

  it('agrees with a naive reduction on random shapes and axis sets', () => {
    const arb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 5 }).chain((shape) =>
      fc.tuple(fc.constant(shape), fc.subarray(shape.map((_, i) => i), { minLength: 1 }), fc.constantFrom<ReduceFn>('sum', 'max'), fc.nat()));
    fc.assert(fc.property(arb, ([shape, axes, fn, seed]) => {
      const data = values(sizeOf(shape), seed);
      expectValues(reduce(fn, data, shape, axes), naiveReduce(fn, data, shape, axes), 1e-12);
    }), { numRuns: 300 });
  });

  it('reduce over a rank-5 tensor keeps reduced axes with size 1', () => {
    const g = new GraphBuilder();
    const r = g.reduce('sum', g.input('x', [2, 3, 2, 2, 3], 'f32'), [1, 3]);
    expect(r.shape).toEqual([2, 1, 2, 1, 3]);
    const data = values(72, 5);
    expectValues(run(r, { x: data }), naiveReduce('sum', data, [2, 3, 2, 2, 3], [1, 3]), 1e-12);
  });
});
