import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { Node, PadMode } from '../../../compiler/ir.ts';
import { evaluate } from '../../../compiler/reference/interpret.ts';
import { type IndexFn, expectValues, fromArray, materialize, ravel, run, sizeOf, unravel, values } from './helpers.ts';

const iota = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);

describe('views: hand-computed cases', () => {
  it('reshape keeps row-major order', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2, 3], 'f32');
    expectValues(run(g.reshape(x, [3, 2]), { x: iota(6) }), iota(6));
    expectValues(run(g.reshape(x, [6, 1, 1]), { x: iota(6) }), iota(6));
  });

  it('permute of a matrix transposes it', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2, 3], 'f32');
    expectValues(run(g.permute(x, [1, 0]), { x: [1, 2, 3, 4, 5, 6] }), [1, 4, 2, 5, 3, 6]);
  });

  it('permute of a rank-3 tensor: out.shape[k] = in.shape[perm[k]]', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2, 2, 2], 'f32');
    const p = g.permute(x, [2, 0, 1]);
    expect(p.shape).toEqual([2, 2, 2]);
    // out[a, b, c] = in[b, c, a]; in[i, j, k] = 4i + 2j + k + 1.
    expectValues(run(p, { x: iota(8) }), [1, 3, 5, 7, 2, 4, 6, 8]);
  });

  it('permute of rank 4 and 5 agrees with an index function', () => {
    const cases: [number[], number[]][] = [[[2, 3, 4, 5], [3, 1, 0, 2]], [[2, 1, 3, 2, 4], [4, 2, 0, 3, 1]], [[3, 2, 2, 3], [1, 0, 3, 2]]];
    for (const [shape, perm] of cases) {
      const g = new GraphBuilder();
      const data = values(sizeOf(shape), 3);
      const out = run(g.permute(g.input('x', shape, 'f32'), perm), { x: data });
      const outShape = perm.map((p) => shape[p]);
      const expected = Array.from({ length: sizeOf(shape) }, (_, i) => {
        const o = unravel(i, outShape);
        const j = new Array<number>(shape.length);
        perm.forEach((p, k) => { j[p] = o[k]; });
        return data[ravel(j, shape)];
      });
      expectValues(out, expected);
    }
  });

  it('expand broadcasts size-1 axes', () => {
    const g = new GraphBuilder();
    expectValues(run(g.expand(g.input('r', [1, 3], 'f32'), [2, 3]), { r: [1, 2, 3] }), [1, 2, 3, 1, 2, 3]);
    expectValues(run(g.expand(g.input('c', [2, 1], 'f32'), [2, 3]), { c: [7, 8] }), [7, 7, 7, 8, 8, 8]);
    expectValues(run(g.expand(g.input('s', [1, 1], 'f32'), [2, 2]), { s: [-Infinity] }), new Array(4).fill(-Infinity));
  });

  it('slice with steps that do not divide the size', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [10], 'f32');
    expectValues(run(g.slice(x, [1], [3], [3]), { x: iota(10, 0) }), [1, 4, 7]);
    expectValues(run(g.slice(x, [2], [2], [4]), { x: iota(10, 0) }), [2, 6]);
    const m = g.input('m', [3, 4], 'f32');
    // rows 1..2, columns 0 and 3
    expectValues(run(g.slice(m, [1, 0], [2, 2], [1, 3]), { m: iota(12) }), [5, 8, 9, 12]);
  });

  it('pad constant with -Infinity and NaN values', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [3], 'f32');
    expectValues(run(g.pad(x, [[2, 1]], 'constant', -Infinity), { x: [1, 2, 3] }), [-Infinity, -Infinity, 1, 2, 3, -Infinity]);
    expectValues(run(g.pad(x, [[0, 2]], 'constant', NaN), { x: [1, 2, 3] }), [1, 2, 3, NaN, NaN]);
    const m = g.input('m', [1, 2], 'f32');
    expectValues(run(g.pad(m, [[1, 1], [0, 1]], 'constant', 9), { m: [1, 2] }), [9, 9, 9, 1, 2, 9, 9, 9, 9]);
  });

  it('pad replicate on all sides', () => {
    const g = new GraphBuilder();
    expectValues(run(g.pad(g.input('x', [3], 'f32'), [[2, 3]], 'replicate'), { x: [1, 2, 3] }), [1, 1, 1, 2, 3, 3, 3, 3]);
    const m = g.input('m', [2, 2], 'f32');
    expectValues(run(g.pad(m, [[1, 1], [1, 2]], 'replicate'), { m: [1, 2, 3, 4] }), [
      1, 1, 2, 2, 2,
      1, 1, 2, 2, 2,
      3, 3, 4, 4, 4,
      3, 3, 4, 4, 4,
    ]);
    // Causal padding in time, as the VAE does: two copies of the first frame in front.
    const t = g.input('t', [3, 1, 1], 'f32');
    expectValues(run(g.pad(t, [[2, 0], [0, 0], [0, 0]], 'replicate'), { t: [5, 6, 7] }), [5, 5, 5, 6, 7]);
  });

  it('concat of three parts along each axis', () => {
    const g = new GraphBuilder();
    const a = g.input('a', [2, 1], 'f32');
    const b = g.input('b', [2, 2], 'f32');
    const c = g.input('c', [2, 1], 'f32');
    const inputs = { a: [1, 2], b: [3, 4, 5, 6], c: [7, 8] };
    expectValues(run(g.concat([a, b, c], 1), inputs), [1, 3, 4, 7, 2, 5, 6, 8]);
    const r = g.input('r', [1, 2], 'f32');
    expectValues(run(g.concat([r, g.reshape(b, [2, 2]), r], 0), { r: [0, -1], b: [3, 4, 5, 6] }), [0, -1, 3, 4, 5, 6, 0, -1]);
  });

  it('concat of large slabs (block copies) keeps order', () => {
    const g = new GraphBuilder();
    const a = g.input('a', [2, 3, 40], 'f32');
    const b = g.input('b', [2, 2, 40], 'f32');
    const av = values(240, 1), bv = values(160, 2);
    const out = run(g.concat([a, b], 1), { a: av, b: bv });
    const expected = Array.from({ length: 400 }, (_, i) => {
      const [n, ch, w] = unravel(i, [2, 5, 40]);
      return ch < 3 ? av[ravel([n, ch, w], [2, 3, 40])] : bv[ravel([n, ch - 3, w], [2, 2, 40])];
    });
    expectValues(out, expected);
  });

  it('repeat with mixed factors is nearest upsampling', () => {
    const g = new GraphBuilder();
    const m = g.input('m', [2, 2], 'f32');
    expectValues(run(g.repeat(m, [1, 3]), { m: [1, 2, 3, 4] }), [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    expectValues(run(g.repeat(m, [2, 1]), { m: [1, 2, 3, 4] }), [1, 2, 1, 2, 3, 4, 3, 4]);
    expectValues(run(g.repeat(m, [2, 2]), { m: [1, 2, 3, 4] }), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    const t = g.input('t', [2, 1, 2], 'f32');
    expectValues(run(g.repeat(t, [1, 2, 3]), { t: [1, 2, 3, 4] }), [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4]);
  });

  it('views of i32 and bool values pass them through unchanged', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [2], 'i32');
    expectValues(run(g.pad(x, [[1, 0]], 'constant', -5), { x: [3, -(2 ** 31)] }), [-5, 3, -(2 ** 31)]);
  });

  it('reshape to rank 0 and back', () => {
    const g = new GraphBuilder();
    const x = g.input('x', [1, 1], 'f32');
    const s = g.reshape(x, []);
    expectValues(run(s, { x: [42] }), [42]);
    expectValues(run(g.expand(g.reshape(s, [1]), [3]), { x: [42] }), [42, 42, 42]);
  });
});

// ---- Property test: random chains of views against index functions ----

/** One view step: its builder form and its index-function form, built from random numbers. */
interface Pair { readonly node: Node; readonly ref: IndexFn }

const MAX_ELEMS = 4000;
const pick = (r: number, n: number) => r % n;

function applyStep(g: GraphBuilder, cur: Pair, kind: number, rs: readonly number[]): Pair {
  const shape = cur.node.shape;
  const rank = shape.length;
  let ri = 0;
  const r = () => rs[ri++ % rs.length];
  const src = cur.ref;
  switch (kind) {
    case 0: { // reshape: merge two adjacent axes, split one, or insert a size-1 axis
      let ns: number[];
      const mode = pick(r(), 3);
      if (mode === 0 && rank >= 2) {
        const a = pick(r(), rank - 1);
        ns = [...shape.slice(0, a), shape[a] * shape[a + 1], ...shape.slice(a + 2)];
      } else if (mode === 1 && rank >= 1 && rank < 6) {
        const a = pick(r(), rank);
        const divisors = iota(shape[a]).filter((d) => shape[a] % d === 0);
        const f = divisors[pick(r(), divisors.length)] ?? 1;
        ns = [...shape.slice(0, a), f, shape[a] / f, ...shape.slice(a + 1)];
      } else if (rank < 6) {
        const a = pick(r(), rank + 1);
        ns = [...shape.slice(0, a), 1, ...shape.slice(a)];
      } else return cur;
      return { node: g.reshape(cur.node, ns), ref: { shape: ns, at: (i) => src.at(unravel(ravel(i, ns), shape)) } };
    }
    case 1: { // permute
      const keys = shape.map(() => r());
      const perm = shape.map((_, i) => i).sort((p, q) => keys[p] - keys[q] || p - q);
      const ns = perm.map((p) => shape[p]);
      return {
        node: g.permute(cur.node, perm),
        ref: { shape: ns, at: (i) => { const j = new Array<number>(rank); perm.forEach((p, k) => { j[p] = i[k]; }); return src.at(j); } },
      };
    }
    case 2: { // expand size-1 axes
      const ns = shape.map((d) => (d === 1 ? 1 + pick(r(), 3) : d));
      if (sizeOf(ns) > MAX_ELEMS) return cur;
      return { node: g.expand(cur.node, ns), ref: { shape: ns, at: (i) => src.at(i.map((v, k) => (shape[k] === 1 ? 0 : v))) } };
    }
    case 3: { // slice
      const start = shape.map((d) => pick(r(), d));
      const step = shape.map(() => 1 + pick(r(), 3));
      const count = shape.map((d, k) => 1 + pick(r(), Math.floor((d - 1 - start[k]) / step[k]) + 1));
      return {
        node: g.slice(cur.node, start, count, step),
        ref: { shape: count, at: (i) => src.at(i.map((v, k) => start[k] + v * step[k])) },
      };
    }
    case 4: { // pad
      const pads = shape.map(() => [pick(r(), 3), pick(r(), 3)] as const);
      const mode: PadMode = pick(r(), 2) === 0 ? 'constant' : 'replicate';
      const value = [0, -1.5, -Infinity, 7][pick(r(), 4)];
      const ns = shape.map((d, k) => d + pads[k][0] + pads[k][1]);
      if (sizeOf(ns) > MAX_ELEMS) return cur;
      return {
        node: g.pad(cur.node, pads, mode, value),
        ref: {
          shape: ns,
          at: (i) => {
            const j = i.map((v, k) => v - pads[k][0]);
            if (mode === 'replicate') return src.at(j.map((v, k) => Math.min(Math.max(v, 0), shape[k] - 1)));
            return j.every((v, k) => v >= 0 && v < shape[k]) ? src.at(j) : value;
          },
        },
      };
    }
    case 5: { // concat [x, repeat(x along axis), x]
      if (rank === 0) return cur;
      const a = pick(r(), rank);
      const f = 1 + pick(r(), 2);
      const factors = shape.map((_, k) => (k === a ? f : 1));
      const mid = g.repeat(cur.node, factors);
      const ns = shape.map((d, k) => (k === a ? d * (2 + f) : d));
      if (sizeOf(ns) > MAX_ELEMS) return cur;
      return {
        node: g.concat([cur.node, mid, cur.node], a),
        ref: {
          shape: ns,
          at: (i) => {
            const v = i[a], d = shape[a];
            const j = [...i];
            if (v < d) return src.at(j);
            if (v < d + d * f) { j[a] = Math.floor((v - d) / f); return src.at(j); }
            j[a] = v - d - d * f;
            return src.at(j);
          },
        },
      };
    }
    default: { // repeat
      const factors = shape.map(() => 1 + pick(r(), 3));
      const ns = shape.map((d, k) => d * factors[k]);
      if (sizeOf(ns) > MAX_ELEMS) return cur;
      return { node: g.repeat(cur.node, factors), ref: { shape: ns, at: (i) => src.at(i.map((v, k) => Math.floor(v / factors[k]))) } };
    }
  }
}

describe('views: random chains against index functions', () => {
  it('every chain of views matches its composed index function', () => {
    const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 });
    const stepArb = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.array(fc.nat(1000), { minLength: 8, maxLength: 8 }));
    fc.assert(fc.property(shapeArb, fc.array(stepArb, { minLength: 1, maxLength: 6 }), fc.nat(), (shape, steps, seed) => {
      const g = new GraphBuilder();
      const data = values(sizeOf(shape), seed);
      let cur: Pair = { node: g.input('x', shape, 'f32'), ref: fromArray(data, shape) };
      for (const [kind, rs] of steps) cur = applyStep(g, cur, kind, rs);
      expect(cur.node.shape).toEqual(cur.ref.shape);
      const got = evaluate([cur.node], { x: data }).get(cur.node.id) as Float64Array;
      expectValues(got, materialize(cur.ref));
    }), { numRuns: 400 });
  });
});
