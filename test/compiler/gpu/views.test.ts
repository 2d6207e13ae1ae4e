/**
 * Views and leaves on the device: every view as an index map (stored directly and inlined
 * into an elementwise consumer), chains of views, and const / iota / random leaves.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { Node } from '../../../compiler/ir.ts';
import { GPU_RUNS, dim, seed, shape } from '../support/arbitraries.ts';
import { checkGraph } from '../support/gpu.ts';

type ViewFn = (b: GraphBuilder, x: Node) => Node;

let partCount = 0;

/** A random view applicable to a tensor of shape `s`. */
function viewFor(s: readonly number[]): fc.Arbitrary<ViewFn> {
  const r = s.length;
  const n = s.reduce((a, c) => a * c, 1);
  const divisorsOf = (m: number): number[] => Array.from({ length: m }, (_, i) => i + 1).filter((d) => m % d === 0);
  const reshape = fc.array(fc.nat(), { minLength: 0, maxLength: 3 }).map((picks) => {
    const target: number[] = [];
    let rest = n;
    for (const p of picks) { const ds = divisorsOf(rest); const d = ds[p % ds.length]; target.push(d); rest /= d; }
    target.push(rest);
    return ((b: GraphBuilder, x: Node) => b.reshape(x, target)) as ViewFn;
  });
  const permute = fc.shuffledSubarray([...Array(r).keys()], { minLength: r, maxLength: r })
    .map((perm) => ((b: GraphBuilder, x: Node) => b.permute(x, perm)) as ViewFn);
  const slice = fc.tuple(...s.map((d) => fc.tuple(fc.integer({ min: 0, max: d - 1 }), fc.integer({ min: 1, max: 3 }))))
    .map((ax) => ((b: GraphBuilder, x: Node) => {
      const start = ax.map(([st]) => st);
      const step = ax.map(([, k]) => k);
      const count = s.map((d, i) => Math.max(1, Math.floor((d - 1 - start[i]) / step[i]) + 1));
      return b.slice(x, start, count, step);
    }) as ViewFn);
  const pad = fc.tuple(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })), { minLength: r, maxLength: r }),
    fc.constantFrom('constant' as const, 'replicate' as const), fc.constantFrom(0, -2.5, -Infinity))
    .map(([pads, mode, value]) => ((b: GraphBuilder, x: Node) => b.pad(x, pads, mode, value)) as ViewFn);
  const repeat = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: r, maxLength: r })
    .map((f) => ((b: GraphBuilder, x: Node) => b.repeat(x, f)) as ViewFn);
  const concat = fc.tuple(fc.integer({ min: 0, max: r - 1 }), fc.array(dim(7), { minLength: 1, maxLength: 3 }))
    .map(([axis, sizes]) => ((b: GraphBuilder, x: Node) => {
      const parts = sizes.map((sz) => b.input(`part${partCount++}`, s.map((d, k) => (k === axis ? sz : d)), 'f32'));
      return b.concat([parts[0], x, ...parts.slice(1)], axis);
    }) as ViewFn);
  const expand = fc.array(dim(5), { minLength: r, maxLength: r }).map((to) => ((b: GraphBuilder, x: Node) => {
    // Collapse every other axis to size 1 first, then broadcast it.
    const ones = s.map((d, i) => (i % 2 === 0 ? d : 1));
    const sliced = b.slice(x, s.map(() => 0), ones);
    return b.expand(sliced, ones.map((d, i) => (d === 1 ? to[i] : d)));
  }) as ViewFn);
  return fc.oneof(reshape, permute, slice, pad, repeat, concat, expand);
}

const chain = shape(1, 4, 2000, 17).chain((s) => fc.tuple(fc.constant(s), fc.array(fc.constant(0), { minLength: 1, maxLength: 3 })));

describe('views on the GPU', () => {
  it('each view, stored directly and inlined into an elementwise op', async () => {
    await fc.assert(fc.asyncProperty(shape(1, 4, 1500, 17).chain((s) => fc.tuple(fc.constant(s), viewFor(s))), seed, async ([s, view], sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      const v = view(b, x);
      const g = b.graph([{ name: 'view', node: v }, { name: 'exp_view', node: b.unary('exp', v) }]);
      await checkGraph(g, { seed: sd, rtol: 2e-6 });
    }), { numRuns: 24 });
  });

  it('chains of views fold into one index map', async () => {
    await fc.assert(fc.asyncProperty(chain, fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), seed, async ([s, steps], picks, sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      let v: Node = x;
      for (let i = 0; i < steps.length; i++) {
        const views: ViewFn[] = fc.sample(viewFor(v.shape), { numRuns: 1, seed: picks[i] });
        const next: Node = views[0](b, v);
        if (next.shape.reduce((a: number, c: number) => a * c, 1) > 6000) break;
        v = next;
      }
      const g = b.graph([{ name: 'out', node: b.binary('mul', v, b.const(2, v.shape)) }]);
      await checkGraph(g, { seed: sd, rtol: 2e-6 });
    }), GPU_RUNS);
  });
});

describe('leaves on the GPU', () => {
  it('const (including non-finite values), iota and random', async () => {
    await fc.assert(fc.asyncProperty(shape(1, 3, 3000), fc.integer({ min: 0, max: 2 ** 32 - 1 }), async (s, rs) => {
      const b = new GraphBuilder();
      const outputs = [
        { name: 'const', node: b.const(1.25, s) },
        { name: 'inf', node: b.const(-Infinity, s) },
        { name: 'nan', node: b.const(NaN, s) },
        { name: 'int', node: b.const(-7, s, 'i32') },
        { name: 'uniform', node: b.random(s, 'uniform', rs) },
        { name: 'normal', node: b.random(s, 'normal', rs) },
        // Random values inlined into a consumer, addressed through a view.
        { name: 'normal_permuted', node: b.unary('exp', b.permute(b.random([...s].reverse(), 'normal', rs), s.map((_, i) => s.length - 1 - i))) },
        ...s.map((_, a) => ({ name: `iota${a}`, node: b.iota(s, a) })),
      ];
      // Box-Muller on the GPU: cos's absolute error (about 2^-21 on GPUs' fast paths) times the
      // radius sqrt(-2 ln u1) (up to ~5.5) stays near 2e-6, so normals get an absolute bound. Near
      // u1 = 1 the kernel takes ln from a series: f32 log's absolute error there made one element
      // in a million miss 1e-5 (on lavapipe: worst error/bound 1.16 before, 0.036 after).
      await checkGraph(b.graph(outputs), { rtol: 1e-6, atol: 1e-6, tolerances: { normal: { rtol: 1e-5, atol: 1e-5 }, normal_permuted: { rtol: 2e-5 } } });
    }), GPU_RUNS);
  });
});
