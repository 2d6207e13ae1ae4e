/**
 * The flash-attention kernel against the reference interpreter: block-causal masks computed
 * from iota (as `where` and as an additive mask), no mask, sizes that span several query and
 * key tiles and feature sizes that do not divide the lanes; the VAE mid-block's attention
 * layer end to end; and the fallback to ordinary kernels when the pattern does not match.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { Node } from '../../../compiler/ir.ts';
import { seed } from '../support/arbitraries.ts';
import { checkGraph } from '../support/gpu.ts';
import { attention, blockCausalMask, broadcast, groupNorm } from '../support/graphs.ts';

const kinds = (p: { kernels: readonly { kind: string }[] }): string[] => p.kernels.map((k) => k.kind);

const dims = fc.record({
  batch: fc.constantFrom(1, 2),
  frames: fc.constantFrom(1, 2, 3),
  hw: fc.constantFrom(1, 3, 7, 11),
  d: fc.constantFrom(1, 5, 16, 33),
  dv: fc.constantFrom(1, 7, 17),
  mode: fc.constantFrom('where' as const, 'additive' as const, 'none' as const),
});

describe('flash attention on the GPU', () => {
  it('matches softmax(q kᵀ / √d, mask) v for random sizes and masks', async () => {
    await fc.assert(fc.asyncProperty(dims, seed, async (c, sd) => {
      const b = new GraphBuilder();
      const l = c.frames * c.hw;
      const q = b.input('q', [c.batch, l, c.d], 'f32');
      const k = b.input('k', [c.batch, l, c.d], 'f32');
      const v = b.input('v', [c.batch, l, c.dv], 'f32');
      const mask = c.mode === 'none' ? undefined : blockCausalMask(b, l, c.hw);
      const o = attention(b, q, k, v, mask, c.mode === 'additive');
      const p = await checkGraph(b.graph([{ name: 'o', node: o }]), { seed: sd, rtol: 2e-5 });
      expect(kinds(p)).toEqual(['attention']);
    }), { numRuns: 8 });
  });

  it('gives the same results under any attention configuration', async () => {
    // Configurations whose workgroup memory (partial sums and scores: 4·rows·perThread·lanes·(lanes+1)
    // bytes) fits lavapipe's 32 KiB; larger ones are the compiler's to refuse, not to run.
    const cfg = fc.record({ rows: fc.constantFrom(1, 2, 4), lanes: fc.constantFrom(1, 4, 16), perThread: fc.constantFrom(1, 3, 8) })
      .filter((a) => 4 * a.rows * a.perThread * a.lanes * (a.lanes + 1) <= 32768);
    await fc.assert(fc.asyncProperty(cfg, dims, seed, async (a, c, sd) => {
      const b = new GraphBuilder();
      const l = c.frames * c.hw;
      const q = b.input('q', [c.batch, l, c.d], 'f32');
      const k = b.input('k', [c.batch, l, c.d], 'f32');
      const v = b.input('v', [c.batch, l, c.dv], 'f32');
      const o = attention(b, q, k, v, blockCausalMask(b, l, c.hw), true);
      const p = await checkGraph(b.graph([{ name: 'o', node: o }]), { seed: sd, rtol: 2e-5, tiles: { attention: a } });
      expect(kinds(p)).toEqual(['attention']);
    }), { numRuns: 6 });
  });

  it('takes whole query rows per thread on a CPU adapter and splits rows over lanes on a GPU', async () => {
    const b = new GraphBuilder();
    const [q, k, v] = ['q', 'k', 'v'].map((n) => b.input(n, [2, 40, 24], 'f32'));
    const g = b.graph([{ name: 'o', node: attention(b, q, k, v, blockCausalMask(b, 40, 8), true) }]);
    const p = await checkGraph(g, { rtol: 2e-5, adapter: { isFallbackAdapter: true } });
    expect(p.kernels[0].wgsl).toMatch(/whole rows: 16 threads x 4 queries, 8-key blocks/);
    expect(p.kernels[0].wgsl).not.toContain('var<workgroup>');
    const gpu = await checkGraph(g, { rtol: 2e-5, adapter: { isFallbackAdapter: false } });
    expect(gpu.kernels[0].wgsl).toMatch(/rows x 16 lanes/);
  });

  it('runs the VAE mid-block attention layer as norm + projections + one attention kernel', async () => {
    const b = new GraphBuilder();
    const [batch, ch, t, h, w] = [1, 8, 2, 3, 5];
    const l = t * h * w;
    const x = b.input('x', [batch, ch, t, h, w], 'f32');
    const param = (name: string, shape: number[]): Node => b.input(`attn.${name}`, shape, 'f32', 'weight');
    const normed = groupNorm(b, x, 2, param('group_norm.weight', [ch]), param('group_norm.bias', [ch]));
    const tokens = b.permute(b.reshape(normed, [batch, ch, l]), [0, 2, 1]);
    const linear = (name: string, inp: Node): Node => {
      const wt = param(`${name}.weight`, [ch, ch]);
      const mm = b.matmul(inp, b.expand(b.reshape(b.permute(wt, [1, 0]), [1, ch, ch]), [batch, ch, ch]));
      return b.binary('add', mm, broadcast(b, param(`${name}.bias`, [ch]), mm.shape, [2]));
    };
    const o = attention(b, linear('to_q', tokens), linear('to_k', tokens), linear('to_v', tokens), blockCausalMask(b, l, h * w), true);
    const y = linear('to_out.0', o);
    const residual = b.permute(b.reshape(x, [batch, ch, l]), [0, 2, 1]);
    const out = b.reshape(b.permute(b.binary('add', y, residual), [0, 2, 1]), x.shape);
    const p = await checkGraph(b.graph([{ name: 'out', node: out }]), { rtol: 2e-5 });
    expect(kinds(p)).toEqual(['reduction', 'contraction', 'contraction', 'contraction', 'attention', 'contraction', 'elementwise']);
  });

  it('falls back to ordinary kernels when an intermediate has other users', async () => {
    const b = new GraphBuilder();
    const q = b.input('q', [1, 9, 4], 'f32');
    const k = b.input('k', [1, 9, 4], 'f32');
    const v = b.input('v', [1, 9, 3], 'f32');
    const o = attention(b, q, k, v, blockCausalMask(b, 9, 3));
    const probs = o.src[0];
    const p = await checkGraph(b.graph([{ name: 'o', node: o }, { name: 'probs', node: probs }]), { rtol: 2e-5 });
    expect(kinds(p)).not.toContain('attention');
  });
});
