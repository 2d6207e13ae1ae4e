/**
 * Reductions, matmul and convolution on the device against the reference interpreter, with
 * sizes that do not divide the workgroup and tile sizes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { GPU_RUNS, dim, seed, shape } from '../support/arbitraries.ts';
import { causalConv3d, groupNorm, silu } from '../support/graphs.ts';
import { checkGraph, gpuHasF16, randomInputs, requireGpu, rng } from '../support/gpu.ts';

const hasF16 = await gpuHasF16();

describe('reductions on the GPU', () => {
  it('sum and max over random axes (f32 and i32)', async () => {
    const arb = shape(1, 4, 4000).chain((s) => fc.tuple(fc.constant(s), fc.subarray([...s.keys()], { minLength: 1 })));
    await fc.assert(fc.asyncProperty(arb, seed, async ([s, axes], sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      const i = b.input('i', s, 'i32');
      const g = b.graph([
        { name: 'sum', node: b.reduce('sum', x, axes) },
        { name: 'max', node: b.reduce('max', x, axes) },
        { name: 'isum', node: b.reduce('sum', i, axes) },
        { name: 'imax', node: b.reduce('max', i, axes) },
      ]);
      // A float sum's rounding error scales with its terms, not with the result (which can
      // nearly cancel): relative to the L2 norm of the values summed.
      const values = randomInputs(g, rng(sd));
      const norm = Math.sqrt(Array.from(values.x, (v) => v * v).reduce((a, v) => a + v, 0));
      await checkGraph(g, { values, rtol: 1e-5, tolerances: { sum: { rtol: 1e-5, scale: norm }, isum: { rtol: 0, atol: 0 }, imax: { rtol: 0, atol: 0 } } });
    }), GPU_RUNS);
  });

  it('gives the same results under any reduction configuration, row chains included, with and without subgroup operations', async () => {
    const cfg = fc.record({ threadsPerRow: fc.constantFrom(1, 2, 8, 64), rowsPerWorkgroup: fc.constantFrom(1, 3, 64) });
    await fc.assert(fc.asyncProperty(cfg, shape(2, 3, 3000), fc.boolean(), seed, async (c, s, subgroups, sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      const last = s.length - 1;
      // softmax statistics: max, then sum of exp(x - max) in the same row kernel.
      const m = b.reduce('max', x, [last]);
      const e = b.unary('exp', b.binary('sub', x, b.expand(m, s)));
      const sum = b.reduce('sum', e, [last]);
      const g = b.graph([{ name: 'm', node: m }, { name: 'sum', node: b.unary('log', sum) }]);
      // Subgroup operations can only be asked for where the adapter offers them.
      const offered = (await requireGpu()).target.features.subgroups;
      const p = await checkGraph(g, { seed: sd, rtol: 1e-5, tiles: { reduction: c }, features: { subgroups: subgroups && offered } });
      expect(p.kernels.map((k) => k.kind)).toEqual(['reduction']);
      expect(p.kernels[0].wgsl.includes('subgroupAdd'), 'subgroup operations where offered, for rows of several threads').toBe(subgroups && offered && c.threadsPerRow > 1);
    }), { numRuns: 8 });
  });

  it('long rows (workgroup per row) and many short rows (thread per row)', async () => {
    for (const s of [[3, 5000], [700, 7], [1, 1], [2, 1, 9000]]) {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      const g = b.graph([{ name: 'sum', node: b.reduce('sum', x, [s.length - 1]) }, { name: 'max', node: b.reduce('max', x, [s.length - 1]) }]);
      await checkGraph(g, { rtol: 1e-5 });
    }
  });
});

describe('matmul on the GPU', () => {
  it('random sizes with batch axes', async () => {
    const arb = fc.tuple(fc.array(dim(3), { maxLength: 2 }), dim(), dim(), dim());
    await fc.assert(fc.asyncProperty(arb, seed, async ([batch, m, k, n], sd) => {
      const b = new GraphBuilder();
      const a = b.input('a', [...batch, m, k], 'f32');
      const c = b.input('c', [...batch, k, n], 'f32');
      await checkGraph(b.graph([{ name: 'mm', node: b.matmul(a, c) }]), { seed: sd, rtol: 1e-5 });
    }), GPU_RUNS);
  });

  it('permuted and broadcast operands, with a bias and residual epilogue', async () => {
    const arb = fc.tuple(dim(5), dim(), dim(), dim());
    await fc.assert(fc.asyncProperty(arb, seed, async ([batch, m, k, n], sd) => {
      const b = new GraphBuilder();
      const at = b.input('at', [batch, k, m], 'f32'); // A stored transposed
      const w = b.input('w', [n, k], 'f32'); // B shared by every batch, stored [N, K]
      const bias = b.input('bias', [n], 'f32');
      const res = b.input('res', [batch, m, n], 'f32');
      const a = b.permute(at, [0, 2, 1]);
      const wt = b.expand(b.reshape(b.permute(w, [1, 0]), [1, k, n]), [batch, k, n]);
      const mm = b.matmul(a, wt);
      const y = b.binary('add', b.binary('add', mm, b.expand(b.reshape(bias, [1, 1, n]), mm.shape)), res);
      const p = await checkGraph(b.graph([{ name: 'y', node: y }]), { seed: sd, rtol: 1e-5 });
      expect(p.kernels.map((kk) => kk.kind)).toEqual(['contraction']);
    }), GPU_RUNS);
  });
});

describe('matmul with operands staged in workgroup memory (TileConfig.stageK, the GPU form)', () => {
  const tile = fc.record({
    wgM: fc.constantFrom(2, 4, 8), wgN: fc.constantFrom(2, 4, 8), rm: fc.constantFrom(1, 2, 4), rn: fc.constantFrom(1, 3, 4), stageK: fc.constantFrom(4, 8, 16),
  }).map((t) => ({ ...t, unrollK: 1, unrollTaps: false }));

  it('sizes off the tile and chunk grid, batch axes', async () => {
    const arb = fc.tuple(tile, fc.array(dim(3), { maxLength: 1 }), dim(), dim(40), dim());
    await fc.assert(fc.asyncProperty(arb, seed, async ([t, batch, m, k, n], sd) => {
      const b = new GraphBuilder();
      const a = b.input('a', [...batch, m, k], 'f32');
      const c = b.input('c', [...batch, k, n], 'f32');
      const p = await checkGraph(b.graph([{ name: 'mm', node: b.matmul(a, c) }]), { seed: sd, rtol: 1e-5, tiles: { contraction: t } });
      expect(p.kernels[0].wgsl).toContain(`K staged in workgroup memory by ${t.stageK}`);
    }), GPU_RUNS);
  });

  it('a prologue (permuted, scaled and broadcast operands) evaluated once per staged element, a bias and residual epilogue', async () => {
    const arb = fc.tuple(tile, dim(3), dim(), dim(40), dim());
    await fc.assert(fc.asyncProperty(arb, seed, async ([t, batch, m, k, n], sd) => {
      const b = new GraphBuilder();
      const at = b.input('at', [batch, k, m], 'f32');
      const w = b.input('w', [n, k], 'f32', 'weight');
      const bias = b.input('bias', [n], 'f32', 'weight');
      const res = b.input('res', [batch, m, n], 'f32');
      const a = b.unary('tanh', b.permute(at, [0, 2, 1]));
      const wt = b.expand(b.reshape(b.permute(w, [1, 0]), [1, k, n]), [batch, k, n]);
      const mm = b.matmul(a, wt);
      const y = b.binary('add', b.binary('add', mm, b.expand(b.reshape(bias, [1, 1, n]), mm.shape)), res);
      const p = await checkGraph(b.graph([{ name: 'y', node: y }]), { seed: sd, rtol: 1e-5, tiles: { contraction: t } });
      expect(p.kernels.map((kk) => kk.kind)).toEqual(['contraction']);
      // The prologue's tanh is applied where the chunk of A is staged (at most once per element a
      // thread stages; fewer where clamped edges coincide), never per use in the accumulation.
      const calls = (p.kernels[0].wgsl.match(/kiln_tanh\(/g)?.length ?? 0) - 1;
      expect(calls).toBeGreaterThan(0);
      expect(calls).toBeLessThanOrEqual(Math.ceil((t.wgM * t.rm * t.stageK) / (t.wgM * t.wgN)));
    }), GPU_RUNS);
  });

  it.skipIf(!hasF16)(hasF16 ? 'f16 storage' : 'f16 storage — skipped: this adapter has no shader-f16', async () => {
    const b = new GraphBuilder();
    const a = b.input('a', [37, 45], 'f32', 'weight');
    const c = b.input('c', [45, 29], 'f32', 'weight');
    const p = await checkGraph(b.graph([{ name: 'mm', node: b.matmul(a, c) }]), { storage: 'f16', rtol: 3e-3, tiles: { contraction: { wgM: 8, wgN: 8, rm: 4, rn: 4, unrollK: 1, unrollTaps: false, stageK: 16 } } });
    expect(p.kernels[0].wgsl).toContain('K staged in workgroup memory by 16');
  });
});

/** A 1-d to 3-d convolution with strides and odd sizes. */
const convCase = fc.integer({ min: 1, max: 3 }).chain((nd) => fc.record({
  batch: fc.integer({ min: 1, max: 2 }),
  cin: dim(7),
  cout: dim(17),
  k: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: nd, maxLength: nd }),
  extra: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: nd, maxLength: nd }),
  stride: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: nd, maxLength: nd }),
}));

function convGraph(c: { batch: number; cin: number; cout: number; k: number[]; extra: number[]; stride: number[] }) {
  const b = new GraphBuilder();
  const spatial = c.k.map((kk, i) => kk + c.extra[i]);
  const x = b.input('x', [c.batch, c.cin, ...spatial], 'f32');
  const w = b.input('w', [c.cout, c.cin, ...c.k], 'f32', 'weight');
  return b.graph([{ name: 'y', node: b.conv(x, w, c.stride) }]);
}

describe('convolution on the GPU', () => {
  it('1-d, 2-d and 3-d with strides and odd sizes', async () => {
    await fc.assert(fc.asyncProperty(convCase, seed, async (c, sd) => {
      await checkGraph(convGraph(c), { seed: sd, rtol: 1e-5 });
    }), { numRuns: 12 });
  });

  it('gives the same results under any tile configuration (what an autotuner may choose)', async () => {
    const tile = fc.record({
      wgM: fc.constantFrom(1, 2, 8), wgN: fc.constantFrom(1, 4), rm: fc.constantFrom(1, 3, 8), rn: fc.constantFrom(1, 2, 5),
      unrollK: fc.constantFrom(1, 3), unrollTaps: fc.boolean(),
    });
    await fc.assert(fc.asyncProperty(tile, dim(7), seed, async (t, wdt, sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', [2, 3, 3, 4, wdt + 2], 'f32');
      const w = b.input('w', [5, 3, 3, 3, 3], 'f32', 'weight');
      const a = b.input('a', [2, 7, 9], 'f32');
      const c = b.input('c', [2, 9, 6], 'f32');
      const g = b.graph([
        { name: 'conv', node: b.conv(b.pad(x, [[0, 0], [0, 0], [2, 0], [1, 1], [1, 1]], 'replicate'), w, [1, 1, 2]) },
        { name: 'mm', node: b.matmul(a, c) },
      ]);
      await checkGraph(g, { seed: sd, rtol: 1e-5, tiles: { contraction: t } });
    }), { numRuns: 6 });
  });

  it('staged in workgroup memory (TileConfig.stageK, a GPU candidate): 1-d to 3-d, strides, odd sizes, partial channel chunks', async () => {
    const tile = fc.record({ wgM: fc.constantFrom(1, 2, 4, 8), wgN: fc.constantFrom(1, 2, 4), rm: fc.constantFrom(1, 3, 4), rn: fc.constantFrom(1, 2, 4), stageK: fc.constantFrom(1, 2, 3, 8) })
      .map((t) => ({ ...t, unrollK: 1, unrollTaps: false }));
    await fc.assert(fc.asyncProperty(tile, convCase, seed, async (t, c, sd) => {
      const p = await checkGraph(convGraph(c), { seed: sd, rtol: 1e-5, tiles: { contraction: t } });
      expect(p.kernels[0].wgsl).toContain('inputs and weights staged in workgroup memory');
    }), { numRuns: 12 });
  });

  it('staged: the VAE pattern — GroupNorm + SiLU + replicate pad folded into the staged inputs, bias and residual at the store', async () => {
    const b = new GraphBuilder();
    const [ch, t, h, wd] = [8, 3, 5, 9];
    const x = b.input('x', [1, ch, t, h, wd], 'f32');
    const normed = silu(b, groupNorm(b, x, 2, b.input('gamma', [ch], 'f32', 'weight'), b.input('beta', [ch], 'f32', 'weight')));
    const y = causalConv3d(b, normed, b.input('w', [6, ch, 3, 3, 3], 'f32', 'weight'), b.input('bias', [6], 'f32', 'weight'));
    const out = b.binary('add', y, b.input('res', [1, 6, t, h, wd], 'f32'));
    for (const stageK of [1, 4]) {
      const p = await checkGraph(b.graph([{ name: 'y', node: out }]), { rtol: 2e-5, tiles: { contraction: { wgM: 4, wgN: 2, rm: 4, rn: 2, unrollK: 1, unrollTaps: false, stageK } } });
      expect(p.kernels.map((k) => k.kind)).toEqual(['reduction', 'contraction']);
      expect(p.kernels[1].wgsl).toContain('staged in workgroup memory');
    }
  });

  it('without fusion, too (one kernel per node)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 3, 5, 6, 7], 'f32');
    const w = b.input('w', [5, 3, 3, 3, 3], 'f32', 'weight');
    const y = b.binary('mul', b.conv(b.pad(x, [[0, 0], [0, 0], [2, 0], [1, 1], [1, 1]], 'replicate'), w, [1, 2, 2]), b.const(0.5, [1, 5, 5, 3, 4]));
    const p = await checkGraph(b.graph([{ name: 'y', node: y }]), { fuse: false, rtol: 1e-5 });
    expect(p.kernels.map((k) => k.kind)).toEqual(['elementwise', 'contraction', 'elementwise']);
  });
});

describe('vector loads and stores on the GPU', () => {
  it('matmul and elementwise kernels with aligned sizes take the vec4 paths and stay exact', async () => {
    const arb = fc.tuple(fc.constantFrom(1, 2), fc.constantFrom(4, 8, 12, 32), fc.constantFrom(4, 16, 20), fc.constantFrom(4, 8, 36));
    await fc.assert(fc.asyncProperty(arb, seed, async ([batch, m, k, n], sd) => {
      const b = new GraphBuilder();
      const a = b.input('a', [batch, m, k], 'f32');
      const c = b.input('c', [batch, k, n], 'f32');
      const big = b.input('big', [batch, 32, 64], 'f32');
      const wide = b.input('wide', [batch, 64, 136], 'f32');
      const g = b.graph([
        // Lanes that are not consecutive in memory (transposed, strided) must stay scalar loads.
        { name: 'transposed', node: b.unary('exp', b.permute(big, [0, 2, 1])) },
        { name: 'strided', node: b.unary('neg', b.slice(wide, [0, 0, 0], [batch, 64, 64], [1, 1, 2])) },
        { name: 'shifted', node: b.unary('neg', b.slice(wide, [0, 0, 2], [batch, 64, 128])) },
        { name: 'mm', node: b.matmul(a, c) },
        { name: 'ew', node: b.binary('mul', b.unary('exp', big), big) },
        { name: 'iw', node: b.binary('add', b.cast(big, 'i32'), b.const(3, big.shape, 'i32')) },
      ]);
      const p = await checkGraph(g, { seed: sd, rtol: 1e-5, tiles: { contraction: { wgM: 2, wgN: 2, rm: 4, rn: 4, unrollK: 4, unrollTaps: false } } });
      expect(p.kernels.some((kk) => kk.wgsl.includes('array<vec4<f32>>'))).toBe(true);
      expect(p.kernels.some((kk) => kk.wgsl.includes('array<vec4<i32>>'))).toBe(true);
    }), { numRuns: 5 });
  });
});
