import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Ix, evalIx, ixAdd, ixAddConst, ixConst, ixDelinearize, ixDiv, ixLinearize, ixMax, ixMin, ixMod, ixScale, ixVar,
} from '../../compiler/codegen/index_expr.ts';

/** An index expression together with a plain function computing the same value. */
interface Pair { ix: Ix; f: (env: Map<string, number>) => number }

const VARS = [
  { name: 'a', hi: 6 }, { name: 'b', hi: 12 }, { name: 'c', hi: 1 }, { name: 'd', hi: 20 },
];

/** Σ coef·var: what linearised coordinates look like (mixed radix, the case division must see through). */
const linear: fc.Arbitrary<Pair> = fc.array(fc.tuple(fc.constantFrom(...VARS), fc.integer({ min: 1, max: 24 })), { minLength: 1, maxLength: 4 })
  .map((ts) => ({
    ix: ts.reduce((acc, [v, k]) => ixAdd(acc, ixScale(ixVar(v.name, 0, v.hi, 1), k)), ixConst(0)),
    f: (env: Map<string, number>) => ts.reduce((acc, [v, k]) => acc + env.get(v.name)! * k, 0),
  }));

const leaf: fc.Arbitrary<Pair> = fc.oneof(
  linear,
  fc.constantFrom(...VARS).map((v) => ({ ix: ixVar(v.name, 0, v.hi, 1), f: (env: Map<string, number>) => env.get(v.name)! })),
  fc.integer({ min: 0, max: 9 }).map((c) => ({ ix: ixConst(c), f: () => c })),
);

const pair: fc.Arbitrary<Pair> = fc.letrec<{ p: Pair }>((tie) => ({
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(tie('p'), tie('p')).map(([x, y]) => ({ ix: ixAdd(x.ix, y.ix), f: (e: Map<string, number>) => x.f(e) + y.f(e) })),
    fc.tuple(tie('p'), fc.integer({ min: 1, max: 7 })).map(([x, k]) => ({ ix: ixScale(x.ix, k), f: (e: Map<string, number>) => x.f(e) * k })),
    fc.tuple(tie('p'), fc.integer({ min: 1, max: 9 })).map(([x, d]) => ({ ix: ixDiv(x.ix, d), f: (e: Map<string, number>) => Math.floor(x.f(e) / d) })),
    fc.tuple(tie('p'), fc.integer({ min: 1, max: 9 })).map(([x, d]) => ({ ix: ixMod(x.ix, d), f: (e: Map<string, number>) => x.f(e) % d })),
    fc.tuple(tie('p'), fc.integer({ min: 0, max: 20 })).map(([x, c]) => ({ ix: ixMin(x.ix, c), f: (e: Map<string, number>) => Math.min(x.f(e), c) })),
    fc.tuple(tie('p'), fc.integer({ min: 0, max: 20 })).map(([x, c]) => ({ ix: ixMax(x.ix, c), f: (e: Map<string, number>) => Math.max(x.f(e), c) })),
    fc.tuple(tie('p'), fc.integer({ min: 0, max: 5 })).map(([x, c]) => ({
      // max(x, c) - c stays non-negative: the pad/concat coordinate shift.
      ix: ixAddConst(ixMax(x.ix, c), -c), f: (e: Map<string, number>) => Math.max(x.f(e), c) - c,
    })),
  ),
})).p;

/** Every assignment of the variables (7·13·2·21 of them): boundaries are where bugs hide. */
const ALL_ENVS: Map<string, number>[] = [];
for (let a = 0; a <= 6; a++) for (let b = 0; b <= 12; b++) for (let c = 0; c <= 1; c++) for (let d = 0; d <= 20; d++) {
  ALL_ENVS.push(new Map([['a', a], ['b', b], ['c', c], ['d', d]]));
}

describe('index expressions', () => {
  it('simplify to the same value, within their ranges', () => {
    fc.assert(fc.property(pair, (p) => {
      for (const env of ALL_ENVS) {
        const v = evalIx(p.ix, env);
        if (v !== p.f(env) || v < p.ix.lo || v > p.ix.hi) {
          throw new Error(`${p.ix.key} at ${JSON.stringify([...env])}: ${v}, expected ${p.f(env)} in [${p.ix.lo}, ${p.ix.hi}]`);
        }
      }
    }), { numRuns: 300 });
  });

  it('divide and reduce linear (mixed-radix) combinations exactly', () => {
    fc.assert(fc.property(linear, fc.integer({ min: 2, max: 48 }), (p, d) => {
      const q = ixDiv(p.ix, d);
      const r = ixMod(p.ix, d);
      for (const env of ALL_ENVS) {
        const x = p.f(env);
        if (evalIx(q, env) !== Math.floor(x / d) || evalIx(r, env) !== x % d) {
          throw new Error(`${p.ix.key} / ${d} at ${JSON.stringify([...env])}: ${evalIx(q, env)} r ${evalIx(r, env)}, expected ${Math.floor(x / d)} r ${x % d}`);
        }
      }
    }), { numRuns: 300 });
  });

  it('delinearising then linearising a coordinate gives it back', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }), (shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const i = ixVar('i', 0, n - 1, 0);
      expect(ixLinearize(ixDelinearize(i, shape), shape).key).toBe(i.key);
    }));
  });

  it('folds a reshape round trip to the original coordinates', () => {
    // [2, 6, 3, 4] viewed as [2, 3, 24] (group norm) and back: the channel is g*2 + n / 12.
    const coords = [ixVar('b', 0, 1, 0), ixVar('c', 0, 5, 0), ixVar('t', 0, 2, 0), ixVar('w', 0, 3, 0)];
    const grouped = ixDelinearize(ixLinearize(coords, [2, 6, 3, 4]), [2, 3, 24]);
    expect(grouped[1].key).toBe(ixDiv(coords[1], 2).key);
    const back = ixDelinearize(ixLinearize(grouped, [2, 3, 24]), [2, 6, 3, 4]);
    back.forEach((x, k) => expect(x.key).toBe(coords[k].key));
  });

  it('drops a division whose operand is below the divisor', () => {
    const x = ixVar('x', 0, 9, 0);
    expect(ixDiv(x, 10).isConst).toBe(true);
    expect(ixMod(x, 10).key).toBe(x.key);
    expect(ixMin(x, 9).key).toBe(x.key);
  });
});
