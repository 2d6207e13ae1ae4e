import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { expectValues, ravel, run, sizeOf, unravel, values } from './helpers.ts';

/** Triple loop per batch, indexing through ravel(); the reference for matmul. */
function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, batch: number[], m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let bt = 0; bt < sizeOf(batch); bt++) {
    const bi = unravel(bt, batch);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ravel([...bi, i, p], [...batch, m, k])] * b[ravel([...bi, p, j], [...batch, k, n])];
        out.push(s);
      }
    }
  }
  return out;
}

/**
 * Reference convolution: for every output position, sum over input channels and every kernel
 * position, reading through multi-indices (optionally from a zero- or edge-padded copy made
 * here first).
 */
function naiveConv(x: ArrayLike<number>, xs: number[], w: ArrayLike<number>, ws: number[], stride: number[]): { data: number[]; shape: number[] } {
  const [B, Cin, ...S] = xs;
  const [Cout, , ...K] = ws;
  const O = S.map((s, d) => Math.floor((s - K[d]) / stride[d]) + 1);
  const shape = [B, Cout, ...O];
  const data = new Array<number>(sizeOf(shape)).fill(0);
  for (let i = 0; i < data.length; i++) {
    const [b, co, ...o] = unravel(i, shape);
    let s = 0;
    for (let ci = 0; ci < Cin; ci++) {
      for (let t = 0; t < sizeOf(K); t++) {
        const kk = unravel(t, K);
        const pos = o.map((v, d) => v * stride[d] + kk[d]);
        s += x[ravel([b, ci, ...pos], xs)] * w[ravel([co, ci, ...kk], ws)];
      }
    }
    data[i] = s;
  }
  return { data, shape };
}

function padCopy(x: ArrayLike<number>, shape: number[], pads: [number, number][], replicate: boolean): { data: number[]; shape: number[] } {
  const ns = shape.map((d, k) => d + pads[k][0] + pads[k][1]);
  const data = Array.from({ length: sizeOf(ns) }, (_, i) => {
    const j = unravel(i, ns).map((v, k) => v - pads[k][0]);
    if (replicate) return x[ravel(j.map((v, k) => Math.min(Math.max(v, 0), shape[k] - 1)), shape)];
    return j.every((v, k) => v >= 0 && v < shape[k]) ? x[ravel(j, shape)] : 0;
  });
  return { data, shape: ns };
}

describe('matmul', () => {
  it('2x2 by hand', () => {
    const g = new GraphBuilder();
    const c = g.matmul(g.input('a', [2, 2], 'f32'), g.input('b', [2, 2], 'f32'));
    expectValues(run(c, { a: [1, 2, 3, 4], b: [5, 6, 7, 8] }), [19, 22, 43, 50]);
  });

  it('non-square with a batch axis by hand', () => {
    const g = new GraphBuilder();
    const c = g.matmul(g.input('a', [2, 1, 3], 'f32'), g.input('b', [2, 3, 2], 'f32'));
    // batch 0: [1 2 3] x [[1 0],[0 1],[1 1]] = [4 5]; batch 1: [-1 0 2] x [[2 2],[2 2],[2 2]] = [2 2]
    expectValues(run(c, { a: [1, 2, 3, -1, 0, 2], b: [1, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2] }), [4, 5, 2, 2]);
  });

  it('propagates Infinity and NaN', () => {
    const g = new GraphBuilder();
    const c = g.matmul(g.input('a', [1, 2], 'f32'), g.input('b', [2, 2], 'f32'));
    expectValues(run(c, { a: [Infinity, 1], b: [1, 0, 2, NaN] }), [Infinity, NaN]);
  });

  it('agrees with a triple loop on random shapes with 0-2 batch axes', () => {
    const arb = fc.record({
      batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
      m: fc.integer({ min: 1, max: 6 }), k: fc.integer({ min: 0, max: 6 }), n: fc.integer({ min: 1, max: 6 }), seed: fc.nat(),
    });
    fc.assert(fc.property(arb, ({ batch, m, k, n, seed }) => {
      const g = new GraphBuilder();
      const av = values(sizeOf(batch) * m * k, seed), bv = values(sizeOf(batch) * k * n, seed + 1);
      const c = g.matmul(g.input('a', [...batch, m, k], 'f32'), g.input('b', [...batch, k, n], 'f32'));
      expectValues(run(c, { a: av, b: bv }), naiveMatmul(av, bv, batch, m, k, n), 1e-12);
    }), { numRuns: 150 });
  });
});

describe('conv', () => {
  it('1-D by hand: a difference kernel, with and without stride', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [1, 1, 5], 'f32');
    const w = g.input('w', [1, 1, 3], 'f32');
    const inputs = { x: [1, 2, 4, 8, 16], w: [1, 0, -1] };
    // cross-correlation (not flipped): out[i] = x[i] - x[i + 2]
    expectValues(run(g.conv(x, w, [1]), inputs), [-3, -6, -12]);
    expectValues(run(g.conv(x, w, [2]), inputs), [-3, -12]);
    // size 5, kernel 3, stride 3: floor(2 / 3) + 1 = 1 output (the stride does not divide).
    expectValues(run(g.conv(x, w, [3]), inputs), [-3]);
  });

  it('2-D by hand: two input channels, two output channels', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [1, 2, 2, 2], 'f32');
    const w = g.input('w', [2, 2, 1, 1], 'f32');
    // 1x1 kernel = per-position channel mixing: out0 = x0 + x1, out1 = 2 x0 - x1
    expectValues(run(g.conv(x, w, [1, 1]), { x: [1, 2, 3, 4, 10, 20, 30, 40], w: [1, 1, 2, -1] }),
      [11, 22, 33, 44, -8, -16, -24, -32]);
    const y = g.input('y', [1, 1, 3, 3], 'f32');
    const k = g.input('k', [1, 1, 2, 2], 'f32');
    // y = 1..9, k = [[1, 0], [0, 1]]: out[i, j] = y[i, j] + y[i + 1, j + 1]
    expectValues(run(g.conv(y, k, [1, 1]), { y: [1, 2, 3, 4, 5, 6, 7, 8, 9], k: [1, 0, 0, 1] }), [6, 8, 12, 14]);
  });

  it.each([
    // [input shape, weight shape, stride]
    [[2, 3, 7], [4, 3, 3], [2]],
    [[1, 2, 9], [3, 2, 5], [1]],
    [[1, 2, 6, 7], [3, 2, 3, 2], [2, 3]],
    [[2, 3, 5, 6], [2, 3, 1, 1], [1, 2]],
    [[1, 2, 5, 6, 7], [3, 2, 3, 3, 3], [1, 1, 1]],
    [[1, 3, 6, 5, 8], [2, 3, 3, 2, 3], [2, 2, 3]],
    [[2, 2, 4, 3, 4, 5], [2, 2, 2, 2, 3, 3], [1, 2, 1, 2]],
    [[1, 1, 3, 3], [1, 1, 3, 3], [2, 2]],
  ] as const)('input %j weight %j stride %j agrees with nested loops', (xs, ws, stride) => {
    const g = new GraphBuilder();
    const xv = values(sizeOf(xs), 11), wv = values(sizeOf(ws), 12);
    const c = g.conv(g.input('x', xs, 'f32'), g.input('w', ws, 'f32'), stride);
    const ref = naiveConv(xv, [...xs], wv, [...ws], [...stride]);
    expect(c.shape).toEqual(ref.shape);
    expectValues(run(c, { x: xv, w: wv }), ref.data, 1e-12);
  });

  it('conv of a padded input agrees with nested loops over a padded copy (zero and replicate)', () => {
    const xs = [1, 2, 4, 5, 6], ws = [3, 2, 3, 3, 3];
    const pads: [number, number][] = [[0, 0], [0, 0], [2, 0], [1, 1], [1, 1]];
    const xv = values(sizeOf(xs), 21), wv = values(sizeOf(ws), 22);
    for (const replicate of [false, true]) {
      const g = new GraphBuilder();
      const padded = g.pad(g.input('x', xs, 'f32'), pads, replicate ? 'replicate' : 'constant', 0);
      const c = g.conv(padded, g.input('w', ws, 'f32'), [1, 2, 2]);
      const p = padCopy(xv, xs, pads, replicate);
      const ref = naiveConv(p.data, p.shape, wv, ws, [1, 2, 2]);
      expect(c.shape).toEqual(ref.shape);
      expectValues(run(c, { x: xv, w: wv }), ref.data, 1e-12);
    }
  });

  it('agrees with nested loops on random 1-3-D shapes, kernels and strides', () => {
    const arb = fc.integer({ min: 1, max: 3 }).chain((nd) => fc.record({
      b: fc.integer({ min: 1, max: 2 }), cin: fc.integer({ min: 1, max: 3 }), cout: fc.integer({ min: 1, max: 3 }),
      k: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: nd, maxLength: nd }),
      extra: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: nd, maxLength: nd }),
      stride: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: nd, maxLength: nd }),
      seed: fc.nat(),
    }));
    fc.assert(fc.property(arb, ({ b, cin, cout, k, extra, stride, seed }) => {
      const xs = [b, cin, ...k.map((kk, d) => kk + extra[d])];
      const ws = [cout, cin, ...k];
      const xv = values(sizeOf(xs), seed), wv = values(sizeOf(ws), seed + 7);
      const g = new GraphBuilder();
      const c = g.conv(g.input('x', xs, 'f32'), g.input('w', ws, 'f32'), stride);
      const ref = naiveConv(xv, xs, wv, ws, stride);
      expectValues(run(c, { x: xv, w: wv }), ref.data, 1e-12);
    }), { numRuns: 150 });
  });
});
