/**
 * Fused chains on the device: what fusion folds into one kernel must still compute exactly
 * what the reference interpreter computes, on random shapes with odd sizes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { Node } from '../../../compiler/ir.ts';
import { seed, shape } from '../support/arbitraries.ts';
import { checkGraph, gpuHasF16, rng } from '../support/gpu.ts';
import { attention, blockCausalMask, broadcast, causalConv3d, groupNorm, resnetBlock, silu, upsampleCausal } from '../support/graphs.ts';

const kinds = (p: { kernels: readonly { kind: string }[] }): string[] => p.kernels.map((k) => k.kind);

/** [B, C, T, H, W] with C a multiple of the group count. */
const video = fc.record({
  batch: fc.constantFrom(1, 2),
  groups: fc.constantFrom(1, 2, 3),
  perGroup: fc.constantFrom(1, 2),
  t: fc.constantFrom(1, 2, 3, 5),
  h: fc.constantFrom(1, 3, 5, 6),
  w: fc.constantFrom(2, 3, 7),
});

describe('fused chains on the GPU', () => {
  it('elementwise ops and views folded into a reduction', async () => {
    const arb = shape(2, 4, 3000).chain((s) => fc.tuple(fc.constant(s), fc.subarray([...s.keys()], { minLength: 1 })));
    await fc.assert(fc.asyncProperty(arb, seed, async ([s, axes], sd) => {
      const b = new GraphBuilder();
      const x = b.input('x', s, 'f32');
      const y = b.input('y', [...s].reverse(), 'f32');
      const yt = b.permute(y, s.map((_, i) => s.length - 1 - i));
      const e = b.binary('mul', b.unary('exp', x), yt);
      const padded = b.pad(e, s.map(() => [1, 0] as const), 'replicate');
      const r = b.reduce('sum', padded, axes);
      const out = b.binary('mul', r, b.const(0.5, r.shape));
      const p = await checkGraph(b.graph([{ name: 'out', node: out }]), { seed: sd, rtol: 1e-5 });
      expect(kinds(p)).toEqual(['reduction']);
    }), { numRuns: 6 });
  });

  it('group norm statistics as one row-chain kernel, normalise + SiLU in the next convolution', async () => {
    await fc.assert(fc.asyncProperty(video, fc.constantFrom(1, 3, 5), seed, async (v, cout, sd) => {
      const b = new GraphBuilder();
      const c = v.groups * v.perGroup;
      const x = b.input('x', [v.batch, c, v.t, v.h, v.w], 'f32');
      const gamma = b.input('gamma', [c], 'f32', 'weight');
      const beta = b.input('beta', [c], 'f32', 'weight');
      const w = b.input('w', [cout, c, 3, 3, 3], 'f32', 'weight');
      const bias = b.input('bias', [cout], 'f32', 'weight');
      const y = causalConv3d(b, silu(b, groupNorm(b, x, v.groups, gamma, beta)), w, bias);
      const p = await checkGraph(b.graph([{ name: 'y', node: y }]), { seed: sd, rtol: 2e-5 });
      expect(kinds(p)).toEqual(['reduction', 'contraction']);
      expect(p.kernels[1].sourceOps.some((s) => s.startsWith('silu'))).toBe(true);
    }), { numRuns: 4 });
  });

  it('group norm statistics in one pass over x, accurate on data far from zero with outliers', async () => {
    // Rows of 3·1000 values around 1000 with spread 0.01 (Σx² - n·mean² would lose every digit
    // in f32), some rows with an outlier as the first element (a thread's shift), and one
    // constant row (variance exactly 0). Checked against the float64 interpreter.
    const [batch, groups, perGroup, len] = [2, 3, 2, 1500];
    const c = groups * perGroup;
    const r = rng(7);
    const x = new Float64Array(batch * c * len).map(() => Math.fround(1000 + 0.01 * (r() - 0.5)));
    for (let row = 0; row < batch * groups; row += 2) x[row * perGroup * len] = Math.fround(1000 + 50 * (r() + 0.5));
    x.fill(1000.5, 3 * perGroup * len, 4 * perGroup * len);
    for (const cfg of [{ threadsPerRow: 16, rowsPerWorkgroup: 1 }, { threadsPerRow: 256, rowsPerWorkgroup: 1 }, { threadsPerRow: 1, rowsPerWorkgroup: 4 }]) {
      const b = new GraphBuilder();
      const xi = b.input('x', [batch, c, len], 'f32');
      const gamma = b.input('gamma', [c], 'f32', 'weight');
      const beta = b.input('beta', [c], 'f32', 'weight');
      const values = { x, gamma: new Float64Array(c).fill(1), beta: new Float64Array(c).fill(0) };
      const y = groupNorm(b, xi, groups, gamma, beta, 1e-12);
      const p = await checkGraph(b.graph([{ name: 'y', node: y }]), { values, tiles: { reduction: cfg }, rtol: 2e-3 });
      const stats = p.kernels.find((k) => k.kind === 'reduction')!;
      expect(stats.wgsl.match(/for \(var k/g), 'the statistics kernel loops over its row once').toHaveLength(1);
    }
  });

  it('a centred sum of squares in a chain led by another reduction (max, then mean and variance)', async () => {
    for (const len of [7, 4000]) {
      const b = new GraphBuilder();
      const x = b.input('x', [5, len], 'f32');
      const mx = b.reduce('max', x, [1]);
      const total = b.reduce('sum', x, [1]);
      const mu = b.binary('mul', total, b.const(1 / len, total.shape));
      const d = b.binary('sub', x, b.expand(mu, [5, len]));
      const v = b.reduce('sum', b.binary('mul', d, d), [1]);
      const p = await checkGraph(b.graph([{ name: 'max', node: mx }, { name: 'mean', node: mu }, { name: 'var', node: v }]), { rtol: 1e-5 });
      expect(kinds(p)).toEqual(['reduction']);
    }
  });

  it('bias and residual in a contraction epilogue; replicate pad with stride in its prologue', async () => {
    const arb = fc.record({ v: video, stride: fc.constantFrom([1, 2, 2], [2, 2, 2], [1, 1, 1]), cout: fc.constantFrom(2, 5, 8), relayout: fc.boolean() });
    await fc.assert(fc.asyncProperty(arb, seed, async ({ v, stride, cout, relayout }, sd) => {
      const b = new GraphBuilder();
      const c = v.groups * v.perGroup;
      const x = b.input('x', [v.batch, c, v.t, v.h, v.w], 'f32');
      const w = b.input('w', [cout, c, 3, 3, 3], 'f32', 'weight');
      const bias = b.input('bias', [cout], 'f32', 'weight');
      const y = causalConv3d(b, x, w, bias, stride);
      const res = b.input('res', y.shape, 'f32');
      const out = b.binary('mul', b.binary('add', y, res), b.const(0.5, y.shape));
      const p = await checkGraph(b.graph([{ name: 'out', node: out }]), { seed: sd, rtol: 2e-5, relayoutWeights: relayout });
      // With relaid-out weights, one copy kernel writes the channels-last weight first.
      expect(kinds(p)).toEqual(relayout ? ['elementwise', 'contraction'] : ['contraction']);
    }), { numRuns: 4 });
  });

  it('upsampling (slice + repeat + concat) folded into a convolution', async () => {
    await fc.assert(fc.asyncProperty(video, fc.constantFrom(1, 2), seed, async (v, ft, sd) => {
      const b = new GraphBuilder();
      const c = v.groups * v.perGroup;
      const x = b.input('x', [v.batch, c, v.t, v.h, v.w], 'f32');
      const w = b.input('w', [3, c, 3, 3, 3], 'f32', 'weight');
      const bias = b.input('bias', [3], 'f32', 'weight');
      const y = causalConv3d(b, upsampleCausal(b, x, ft), w, bias);
      const p = await checkGraph(b.graph([{ name: 'y', node: y }]), { seed: sd, rtol: 2e-5 });
      expect(kinds(p)).toEqual(['contraction']);
    }), { numRuns: 4 });
  });

  it('a ResNet block, fused and unfused', async () => {
    for (const [cin, cout] of [[4, 4], [2, 6]]) {
      const b = new GraphBuilder();
      const x = b.input('x', [1, cin, 3, 5, 3], 'f32');
      const y = resnetBlock(b, x, { prefix: 'blk', cin, cout, groups: 2 });
      const g = b.graph([{ name: 'y', node: y }]);
      const fused = await checkGraph(g, { rtol: 2e-5, seed: cin });
      expect(kinds(fused).includes('elementwise')).toBe(false);
      const unfused = await checkGraph(g, { rtol: 2e-5, seed: cin, fuse: false });
      expect(unfused.kernels.length).toBeGreaterThan(fused.kernels.length);
    }
  });

  it('a ResNet block under a binding cap of 8 and 5 (parts of prologues and epilogues materialised)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 4, 2, 3, 5], 'f32');
    const g = b.graph([{ name: 'y', node: resnetBlock(b, x, { prefix: 'blk', cin: 4, cout: 4, groups: 2 }) }]);
    for (const cap of [8, 5]) {
      const p = await checkGraph(g, { rtol: 2e-5, limits: { maxStorageBuffersPerShaderStage: cap } });
      for (const k of p.kernels) expect(k.bindings.length).toBeLessThanOrEqual(cap);
    }
  });

  it('a deep chain of shifted sums (inline-cost guard materialises shared subtrees)', async () => {
    const b = new GraphBuilder();
    let v: Node = b.input('x', [37], 'f32');
    for (let i = 0; i < 14; i++) v = b.binary('mul', b.binary('add', v, b.pad(b.slice(v, [1], [36]), [[0, 1]], 'replicate')), b.const(0.5, [37]));
    const p = await checkGraph(b.graph([{ name: 'y', node: v }]), { rtol: 1e-5 });
    expect(p.kernels.length).toBeGreaterThan(1);
  });

  it('a matmul with a scaled, permuted prologue operand and a broadcast weight', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 7, 5, 3], 'f32'); // [B, C, H, W] -> tokens [B, H*W, C]
    const tokens = b.permute(b.reshape(x, [2, 7, 15]), [0, 2, 1]);
    const w = b.input('w', [9, 7], 'f32', 'weight');
    const bias = b.input('bias', [9], 'f32', 'weight');
    const scaled = b.binary('mul', tokens, b.const(0.25, tokens.shape));
    const mm = b.matmul(scaled, b.expand(b.reshape(b.permute(w, [1, 0]), [1, 7, 9]), [2, 7, 9]));
    const y = b.binary('add', mm, broadcast(b, bias, mm.shape, [2]));
    const p = await checkGraph(b.graph([{ name: 'y', node: y }]), { rtol: 1e-5 });
    expect(kinds(p)).toEqual(['contraction']);
  });
});

const f16 = await gpuHasF16();

describe.skipIf(!f16)(f16 ? 'f16 tensors on the GPU' : 'f16 tensors on the GPU — skipped: the adapter has no shader-f16', () => {
  it('loads and stores f16 inputs, weights, intermediates and outputs (math in f32)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 3, 2, 5, 6], 'f16');
    const w = b.input('w', [4, 3, 3, 3, 3], 'f16', 'weight');
    const bias = b.input('bias', [4], 'f16', 'weight');
    const y = causalConv3d(b, x, w, bias);
    const s = b.reduce('sum', y, [2, 3, 4]);
    const g = b.graph([{ name: 'y', node: y }, { name: 's', node: s }, { name: 'y32', node: b.cast(b.binary('mul', y, b.const(2, y.shape, 'f16')), 'f32') }]);
    // Outputs are rounded to f16 when stored (the oracle keeps float64): half an f16 ulp.
    await checkGraph(g, { rtol: 2 ** -10, atol: 1e-3 });
  });
});

describe('dispatch grids', () => {
  it('spread workgroups over 2-D and 3-D grids when one dimension is not enough', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 4, 3, 5, 7], 'f32');
    const q = b.input('q', [3, 20, 8], 'f32');
    const y = resnetBlock(b, x, { prefix: 'blk', cin: 4, cout: 4, groups: 2 });
    const g = b.graph([
      { name: 'y', node: y },
      { name: 'e', node: b.unary('exp', b.permute(b.input('z', [10, 11, 13], 'f32'), [2, 1, 0])) },
      { name: 'att', node: attention(b, q, q, q, blockCausalMask(b, 20, 4)) },
    ]);
    // Attention tiles pinned (32 queries a workgroup: 3 workgroups), so that every adapter's
    // kernels fit a 2 x 2 x 2 grid; GPU defaults take 8 queries a workgroup (9 workgroups).
    const tiles = { attention: { rows: 4, lanes: 4, perThread: 8 } };
    for (const max of [3, 2]) {
      const p = await checkGraph(g, { rtol: 2e-5, limits: { maxComputeWorkgroupsPerDimension: max }, tiles });
      for (const k of p.kernels) expect(Math.max(...k.workgroups)).toBeLessThanOrEqual(max);
      expect(p.kernels.some((k) => k.workgroups[1] > 1)).toBe(true);
      if (max === 2) expect(p.kernels.some((k) => k.workgroups[2] > 1)).toBe(true);
    }
  });
});

describe('outputs on the GPU', () => {
  it('stores a reshaped output in place, copies inputs and repeated outputs, and skips empty tensors', async () => {
    const b = new GraphBuilder();
    const a = b.input('a', [2, 5, 3], 'f32');
    const c = b.input('c', [2, 3, 4], 'f32');
    const mm = b.matmul(a, c);
    const empty = b.input('empty', [0, 3], 'f32');
    const g = b.graph([
      { name: 'flat', node: b.reshape(mm, [40]) },
      { name: 'exp', node: b.unary('exp', mm) },
      { name: 'a', node: a },
      { name: 'exp_again', node: b.unary('exp', mm) },
      { name: 'none', node: b.unary('exp', empty) },
    ]);
    const p = await checkGraph(g, { rtol: 1e-5, values: { a: Array.from({ length: 30 }, (_, i) => (i % 7) - 3), c: Array.from({ length: 24 }, (_, i) => (i % 5) * 0.5 - 1), empty: [] } });
    expect(p.kernels.map((k) => k.kind)).toEqual(['contraction', 'elementwise', 'elementwise', 'elementwise']);
  });
});
