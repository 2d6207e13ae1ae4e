/**
 * The kernels Kiln writes for a discrete GPU, run here against the interpreter. A target's
 * adapter family decides the heuristic tiles, the autotuner's candidates, whether loop bounds
 * are opaque and how many vectors an elementwise thread takes (codegen/tile.ts,
 * tune/candidates.ts); the other GPU tests compile for this machine's adapter, which on CI is
 * lavapipe, a CPU. So this compiles as if for a GPU (isFallbackAdapter false, this device's
 * limits) and runs the result on whatever adapter is here: the heuristic choice and every
 * candidate the autotuner would time on a GPU, for each kernel family of the VAE.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../compiler/builder.ts';
import type { Node } from '../../../compiler/ir.ts';
import type { Target } from '../../../compiler/target.ts';
import { attentionCandidates, contractionCandidates, reductionCandidates } from '../../../compiler/tune/candidates.ts';
import { checkGraph, gpu, gpuHasF16 } from '../support/gpu.ts';
import { attention, blockCausalMask, broadcast, causalConv3d, groupNorm, silu } from '../support/graphs.ts';
import { NO_ADAPTER } from '../../runtime/gpu-available.ts';

const device = await gpu();
const GPU = { isFallbackAdapter: false } as const;
const gpuTarget = (): Target => ({ ...device!.target, adapter: { ...device!.target.adapter, ...GPU } });
const f16 = await gpuHasF16();

describe.skipIf(!device)(device ? 'kernels written for a discrete GPU, run here against the interpreter' : `kernels written for a discrete GPU — ${NO_ADAPTER}`, () => {
  it('causal conv3d + bias: the GPU heuristic and every GPU tuner candidate (f32, and f16 storage)', async () => {
    const [cin, cout, t, h, w] = [12, 20, 3, 9, 10];
    const b = new GraphBuilder();
    const x = b.input('x', [1, cin, t, h, w], 'f32');
    const y = causalConv3d(b, x, b.input('w', [cout, cin, 3, 3, 3], 'f32', 'weight'), b.input('bias', [cout], 'f32', 'weight'));
    const g = b.graph([{ name: 'y', node: y }]);
    const candidates = contractionCandidates(gpuTarget(), t * h * w, cout, w);
    expect(candidates.length).toBeGreaterThan(4);
    for (const contraction of [undefined, ...candidates]) {
      const p = await checkGraph(g, { adapter: GPU, rtol: 1e-5, tiles: contraction && { contraction } });
      expect(p.kernels.map((k) => k.kind)).toEqual(['contraction']);
      expect(p.kernels[0].wgsl, 'literal loop bounds on a GPU').not.toContain('kiln_zero');
    }
    if (f16) await checkGraph(g, { adapter: GPU, storage: 'f16', rtol: 3e-3 });
  });

  it('batched matmul + bias off the tile grid: the heuristic and every candidate (k unrolled by 4 too)', async () => {
    const [batch, m, k, n] = [2, 37, 44, 29];
    const b = new GraphBuilder();
    const a = b.input('a', [batch, m, k], 'f32');
    const wt = b.input('w', [k, n], 'f32', 'weight');
    const mm = b.matmul(a, b.expand(b.reshape(wt, [1, k, n]), [batch, k, n]));
    const g = b.graph([{ name: 'y', node: b.binary('add', mm, broadcast(b, b.input('bias', [n], 'f32', 'weight'), mm.shape, [2])) }]);
    const candidates = contractionCandidates(gpuTarget(), m, n, undefined, k);
    expect(candidates.some((c) => c.unrollK === 4)).toBe(true);
    for (const contraction of [undefined, ...candidates]) await checkGraph(g, { adapter: GPU, rtol: 1e-5, tiles: contraction && { contraction } });
  });

  it('GroupNorm + SiLU: 256-thread rows, every reduction candidate, with and without subgroup operations', async () => {
    const [ch, t, h, w] = [16, 2, 24, 20];
    const b = new GraphBuilder();
    const x = b.input('x', [1, ch, t, h, w], 'f32');
    const y = silu(b, groupNorm(b, x, 4, b.input('gamma', [ch], 'f32', 'weight'), b.input('beta', [ch], 'f32', 'weight')));
    const g = b.graph([{ name: 'y', node: y }]);
    const rowLength = (ch / 4) * t * h * w;
    const candidates = reductionCandidates(gpuTarget(), 4, rowLength);
    expect(candidates[0].threadsPerRow).toBe(256);
    const offered = device!.target.features.subgroups;
    for (const reduction of [undefined, ...candidates]) {
      for (const subgroups of offered ? [true, false] : [false]) {
        const p = await checkGraph(g, { adapter: GPU, rtol: 2e-5, tiles: reduction && { reduction }, features: { subgroups } });
        expect(p.kernels.map((k) => k.kind)).toEqual(['reduction', 'elementwise']);
      }
    }
    if (f16) await checkGraph(g, { adapter: GPU, storage: 'f16', rtol: 3e-3 });
  });

  it('block-causal attention: the heuristic and every GPU candidate', async () => {
    const [batch, frames, hw, d] = [1, 3, 12, 24];
    const l = frames * hw;
    const b = new GraphBuilder();
    const q = b.input('q', [batch, l, d], 'f32');
    const k = b.input('k', [batch, l, d], 'f32');
    const v = b.input('v', [batch, l, d], 'f32');
    const o: Node = attention(b, q, k, v, blockCausalMask(b, l, hw), true);
    const g = b.graph([{ name: 'o', node: o }]);
    for (const att of [undefined, ...attentionCandidates(gpuTarget(), l)]) {
      const p = await checkGraph(g, { adapter: GPU, rtol: 2e-5, tiles: att && { attention: att } });
      expect(p.kernels.map((kk) => kk.kind)).toEqual(['attention']);
    }
  });
});
