/**
 * Fusion plans (no GPU needed): which kernels a graph becomes, checked against what the
 * design says they must be. The validators run between passes in every compile here.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import { compile, schedule } from '../../../compiler/compile.ts';
import type { Graph, Node } from '../../../compiler/ir.ts';
import { topoSort } from '../../../compiler/ir.ts';
import { DEFAULT_TARGET, type Target } from '../../../compiler/target.ts';
import { attention, blockCausalMask, causalConv3d, groupNorm, resnetBlock, silu, upsampleCausal } from '../support/graphs.ts';

/** A target like lavapipe's: 16 storage buffers per kernel. */
const WIDE: Target = { ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, maxStorageBuffersPerShaderStage: 16 } };

function resnetGraph(cin: number, cout: number): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [1, cin, 3, 6, 5], 'f32');
  return b.graph([{ name: 'y', node: resnetBlock(b, x, { prefix: 'blk', cin, cout, groups: 2 }) }]);
}

const summary = (g: Graph, target = WIDE): string[] => compile(g, target, { validate: true }).kernels.map((k) => k.name.replace(/^k\d+_/, ''));

describe('fusion into kernel groups', () => {
  it('turns a ResNet block into two statistics kernels and two convolutions, with no elementwise kernel', () => {
    const p = compile(resnetGraph(4, 4), WIDE, { validate: true });
    expect(p.kernels.map((k) => k.kind)).toEqual(['reduction', 'contraction', 'reduction', 'contraction']);
    expect(summary(resnetGraph(4, 4))).toEqual(['rowchain_blk.norm1', 'conv_blk.conv1', 'rowchain_blk.norm2', 'conv_blk.conv2']);
    // GroupNorm's normalise-scale-shift and SiLU land in the convolution's loads; the residual in its store.
    const conv2 = p.kernels[3];
    expect(conv2.sourceOps).toEqual(expect.arrayContaining([
      expect.stringMatching(/^silu @ blk\.norm2/), expect.stringMatching(/^group_norm @ blk\.norm2/), expect.stringMatching(/@ blk\.add/)]));
  });

  it('adds one kernel for a shortcut convolution and still none of kind elementwise', () => {
    const p = compile(resnetGraph(2, 6), WIDE, { validate: true });
    expect(p.kernels.map((k) => k.kind)).toEqual(['reduction', 'contraction', 'reduction', 'contraction', 'contraction']);
  });

  it('without fusion gives one kernel per non-leaf node (views copied too)', () => {
    const g = resnetGraph(4, 4);
    const nodes = topoSort(g.outputs.map((o) => o.node));
    const fused = compile(g, WIDE);
    const simplified = schedule(g, WIDE, { fuse: false });
    const unfused = compile(g, WIDE, { fuse: false, validate: true });
    const nonLeaf = simplified.order.filter((n) => !['input', 'const', 'iota', 'random'].includes(n.op));
    expect(unfused.kernels.length).toBe(nonLeaf.length);
    expect(nonLeaf.length).toBeLessThanOrEqual(nodes.length);
    expect(unfused.kernels.length).toBeGreaterThan(10 * fused.kernels.length);
  });

  it('makes attention with a block-causal iota mask one attention kernel', () => {
    for (const additive of [false, true]) {
      const b = new GraphBuilder();
      const q = b.input('q', [2, 12, 8], 'f32');
      const k = b.input('k', [2, 12, 8], 'f32');
      const v = b.input('v', [2, 12, 8], 'f32');
      const o = attention(b, q, k, v, blockCausalMask(b, 12, 4), additive);
      const p = compile(b.graph([{ name: 'o', node: o }]), WIDE, { validate: true });
      expect(p.kernels.map((kk) => kk.kind)).toEqual(['attention']);
      // No L×L tensor exists anywhere.
      expect(p.tensors.every((t) => !(t.shape.length === 3 && t.shape[1] === 12 && t.shape[2] === 12))).toBe(true);
    }
  });

  it('keeps ordinary kernels when the attention pattern does not match exactly', () => {
    const b = new GraphBuilder();
    const q = b.input('q', [1, 6, 4], 'f32');
    const k = b.input('k', [1, 6, 4], 'f32');
    const v = b.input('v', [1, 6, 4], 'f32');
    const s = b.matmul(q, b.permute(k, [0, 2, 1]));
    // exp(s) / sum(exp(s)) without the max: not the stable form.
    const e = b.unary('exp', s);
    const o = b.matmul(b.binary('div', e, b.expand(b.reduce('sum', e, [2]), s.shape)), v);
    const kinds = compile(b.graph([{ name: 'o', node: o }]), WIDE, { validate: true }).kernels.map((kk) => kk.kind);
    expect(kinds).not.toContain('attention');
    expect(kinds).toEqual(['contraction', 'reduction', 'contraction']);
  });

  it('folds the upsampler (slices, repeats, concat) and the replicate pad into the convolution', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 4, 3, 5, 5], 'f32');
    const w = b.input('w', [4, 4, 3, 3, 3], 'f32', 'weight');
    const bias = b.input('bias', [4], 'f32', 'weight');
    const y = causalConv3d(b, upsampleCausal(b, x, 2), w, bias);
    expect(compile(b.graph([{ name: 'y', node: y }]), WIDE, { validate: true }).kernels.map((k) => k.kind)).toEqual(['contraction']);
  });

  it('runs GroupNorm statistics as one row chain (mean, then variance around it)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 6, 4, 3], 'f32');
    const gn = groupNorm(b, x, 3, b.input('g', [6], 'f32', 'weight'), b.input('b', [6], 'f32', 'weight'));
    const s = schedule(b.graph([{ name: 'y', node: silu(b, gn) }]), WIDE, { validate: true });
    expect(s.groups.map((g) => g.kind)).toEqual(['reduction', 'elementwise']);
    const chain = s.groups[0];
    expect(chain.kind === 'reduction' && chain.chain.map((e) => e.anchor.op === 'reduce' && e.anchor.fn)).toEqual(['sum', 'sum']);
  });

  it('packs GroupNorm\'s mean and rstd into one tensor, so a ResNet block fits WebGPU\'s minimum of 8 bindings', () => {
    // conv2 of a ResNet block reads x, the statistics, gamma, beta, weight, bias and the residual, and writes one.
    const p = compile(resnetGraph(4, 4), DEFAULT_TARGET, { validate: true });
    expect(p.kernels.map((k) => k.kind)).toEqual(['reduction', 'contraction', 'reduction', 'contraction']);
    expect(Math.max(...p.kernels.map((k) => k.bindings.length))).toBe(8);
    const stats = p.kernels[0].bindings.filter((b) => b.access === 'read_write').map((b) => p.tensors[b.tensor]);
    expect(stats.map((t) => t.shape)).toEqual([[1, 2, 1, 2]]); // [batch, groups, 1] x (mean, rstd)
  });

  it('materialises part of a prologue when a kernel would bind more buffers than allowed', () => {
    for (const cap of [7, 4]) {
      const tight: Target = { ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, maxStorageBuffersPerShaderStage: cap } };
      const p = compile(resnetGraph(4, 4), tight, { validate: true });
      for (const k of p.kernels) expect(k.bindings.length).toBeLessThanOrEqual(cap);
      expect(p.kernels.filter((k) => k.kind === 'elementwise').length).toBeGreaterThan(0);
    }
  });

  it('splits a concat of many tensors so each kernel fits the binding cap', () => {
    const b = new GraphBuilder();
    const parts: Node[] = Array.from({ length: 20 }, (_, i) => b.input(`p${i}`, [2, 3], 'f32'));
    const p = compile(b.graph([{ name: 'c', node: b.concat(parts, 0) }]), DEFAULT_TARGET, { validate: true });
    for (const k of p.kernels) expect(k.bindings.length).toBeLessThanOrEqual(8);
  });

  it('materialises shared subtrees when inlining would recompute exponentially many paths', () => {
    // v' = v + shift(v), 24 times: the inlined tree would have 2^24 leaves.
    const b = new GraphBuilder();
    let v: Node = b.input('x', [64], 'f32');
    for (let i = 0; i < 24; i++) v = b.binary('add', v, b.pad(b.slice(v, [1], [63]), [[0, 1]], 'replicate'));
    const t0 = performance.now();
    const p = compile(b.graph([{ name: 'y', node: v }]), WIDE, { validate: true });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(p.kernels.length).toBeGreaterThan(1);
    for (const k of p.kernels) expect(k.wgsl.length).toBeLessThan(400_000);
  });

  it('with relayoutWeights, copies each convolution weight channels-last once and loads it four channels at a time', () => {
    const g = resnetGraph(8, 8);
    const p = compile(g, WIDE, { validate: true, relayoutWeights: true });
    expect(p.kernels.map((k) => k.kind)).toEqual(['reduction', 'elementwise', 'contraction', 'reduction', 'elementwise', 'contraction']);
    const conv = p.kernels[2];
    expect(conv.wgsl).toMatch(/array<vec4<f32>>/);
    expect(conv.bindings.length).toBe(new Set(conv.bindings.map((b) => b.tensor)).size);
  });

  it('stores an output that is a reshape of an intermediate in place, without a copy', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [4, 6], 'f32');
    const w = b.input('w', [6, 5], 'f32');
    const y = b.reshape(b.matmul(x, w), [2, 10]);
    const p = compile(b.graph([{ name: 'y', node: y }]), WIDE, { validate: true });
    expect(p.kernels.map((k) => k.kind)).toEqual(['contraction']);
    expect(p.tensors[p.outputs[0]].shape).toEqual([2, 10]);
  });

  it('copies an output that is an input, or the same node under a second name', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [3], 'f32');
    const e = b.unary('exp', x);
    const p = compile(b.graph([{ name: 'x', node: x }, { name: 'e', node: e }, { name: 'e2', node: e }]), WIDE, { validate: true });
    expect(p.kernels.length).toBe(3);
    expect(new Set(p.outputs).size).toBe(3);
  });
});
