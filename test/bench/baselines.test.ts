// The hand-written WGSL baselines the benchmarks compare Kiln with must compute the same
// thing as Kiln's graphs: each variant on small shapes against the reference interpreter.
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/builder.ts';
import { interpret } from '../../compiler/reference/interpret.ts';
import { CONV3D_VARIANTS, conv3dBaselineGrid, conv3dBaselineProblem, conv3dBaselineWeight, conv3dBaselineWgsl, type Conv3dShape } from '../../bench/baselines/conv3d.ts';
import { MATMUL_VARIANTS, matmulBaselineGrid, matmulBaselineProblem, matmulBaselineWgsl } from '../../bench/baselines/matmul.ts';
import { copyGrid, copyWgsl } from '../../bench/baselines/copy.ts';
import { RawKernel, relativeError, uniform } from '../../bench/harness.ts';
import { releaseDevice } from '../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../runtime/gpu-available.ts';

const device = await deviceOrUndefined();

describe.skipIf(!device)(device ? 'hand-written baselines against the interpreter' : `hand-written baselines — ${NO_ADAPTER}`, () => {
  afterAll(async () => { await releaseDevice(); });

  it('causal conv3d (replicate pad in front in time, around in space, bias), every variant', async () => {
    const s: Conv3dShape = { cin: 3, cout: 8, t: 3, h: 5, w: 16 };
    const b = new GraphBuilder();
    const x = b.input('x', [1, s.cin, s.t, s.h, s.w], 'f32');
    const w = b.input('w', [s.cout, s.cin, 3, 3, 3], 'f32', 'weight');
    const bias = b.input('bias', [s.cout], 'f32', 'weight');
    const y = b.conv(b.pad(x, [[0, 0], [0, 0], [2, 0], [1, 1], [1, 1]], 'replicate'), w, [1, 1, 1]);
    const g = b.graph([{ name: 'y', node: b.binary('add', y, b.expand(b.reshape(bias, [1, s.cout, 1, 1, 1]), y.shape)) }]);
    const xv = uniform(s.cin * s.t * s.h * s.w, 1);
    const wv = uniform(s.cout * s.cin * 27, 2);
    const bv = uniform(s.cout, 3);
    const expected = interpret(g, { x: xv, w: wv, bias: bv }).get('y')!;
    for (const v of CONV3D_VARIANTS) {
      expect(conv3dBaselineProblem(s, v)).toBeUndefined();
      const k = await RawKernel.create(device!, 'conv3d', conv3dBaselineWgsl(s, v), [{ data: xv }, { data: conv3dBaselineWeight(wv, s.cin, s.cout) }, { data: bv }, { bytes: expected.length * 4 }], conv3dBaselineGrid(s, v));
      await k.run();
      const got = await k.read(3, expected.length);
      k.dispose();
      expect(relativeError(got, expected), JSON.stringify(v)).toBeLessThan(1e-6);
    }
  });

  it('matmul, every variant (each on a shape it takes)', async () => {
    const tested = new Set<number>();
    for (const s of [{ m: 16, k: 12, n: 24 }, { m: 128, k: 48, n: 64 }]) {
      const b = new GraphBuilder();
      const g = b.graph([{ name: 'c', node: b.matmul(b.input('a', [s.m, s.k], 'f32'), b.input('b', [s.k, s.n], 'f32')) }]);
      const av = uniform(s.m * s.k, 4);
      const bv = uniform(s.k * s.n, 5);
      const expected = interpret(g, { a: av, b: bv }).get('c')!;
      for (const [i, v] of MATMUL_VARIANTS.entries()) {
        if (matmulBaselineProblem(s, v)) continue;
        const k = await RawKernel.create(device!, 'matmul', matmulBaselineWgsl(s, v), [{ data: av }, { data: bv }, { bytes: expected.length * 4 }], matmulBaselineGrid(s, v));
        await k.run();
        const got = await k.read(2, expected.length);
        k.dispose();
        expect(relativeError(got, expected), JSON.stringify(v)).toBeLessThan(1e-6);
        tested.add(i);
      }
    }
    expect(tested.size).toBe(MATMUL_VARIANTS.length);
  });

  it('copy moves every element', async () => {
    const n = 4 * 1000;
    const src = uniform(n, 6);
    for (const per of [1, 4, 8]) {
      const vec4s = n / 4;
      const k = await RawKernel.create(device!, 'copy', copyWgsl(vec4s, per), [{ data: src }, { bytes: n * 4 }], copyGrid(vec4s, per, 65535));
      await k.run();
      expect([...(await k.read(1, n))]).toEqual([...src]);
      k.dispose();
    }
  });
});
