// The subgroup-matrix (tensor-core) matmul path. Lavapipe reports no subgroup-matrix
// configurations, and Dawn refuses `enable chromium_experimental_subgroup_matrix;` on a device
// without the feature, so here the kernel is checked for what it must contain and for the
// cases that must fall back to the register-tiled kernel; it runs against the interpreter only
// on an adapter that offers configurations (the GPU test below skips, saying why, elsewhere).
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/builder.ts';
import { compile } from '../../compiler/compile.ts';
import type { SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import { DEFAULT_TARGET, type Target } from '../../compiler/target.ts';
import { checkGraph, gpu } from './support/gpu.ts';

const F16_TARGET: Target = { ...DEFAULT_TARGET, features: { ...DEFAULT_TARGET.features, shaderF16: true, subgroups: true } };
const SUPPORT: SubgroupMatrixSupport = {
  subgroupMaxSize: 32,
  configs: [
    { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' },
    { M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' },
  ],
};

function matmul(m: number, k: number, n: number, batch?: number) {
  const b = new GraphBuilder();
  const lead = batch ? [batch] : [];
  const a = b.input('a', [...lead, m, k], 'f32');
  const w = b.input('w', [...lead, k, n], 'f32', 'weight');
  return { b, a, w, graph: (node = b.matmul(a, w)) => b.graph([{ name: 'y', node }]) };
}

describe('subgroup-matrix matmul', () => {
  it('uses the first configuration that fits: fragments loaded from storage, multiply-accumulated, stored', () => {
    const { graph } = matmul(64, 32, 48, 2);
    const p = compile(graph(), F16_TARGET, { subgroupMatrix: SUPPORT });
    expect(p.kernels).toHaveLength(1);
    const w = p.kernels[0].wgsl;
    // f32 tensors: the f32 8x8x8 configuration (the f16 one needs f16 storage).
    expect(w).toMatch(/^enable chromium_experimental_subgroup_matrix;$/m);
    expect(w).toContain('subgroupMatrixLoad<subgroup_matrix_left<f32, 8, 8>>(&ba, abase + 0u + kk, false, 32u)');
    expect(w).toContain('subgroupMatrixLoad<subgroup_matrix_right<f32, 8, 8>>(&bb, bbase + kk * 48u + 8u, false, 48u)');
    expect(w.match(/subgroupMatrixMultiplyAccumulate\(/g)).toHaveLength(4);
    expect(w.match(/subgroupMatrixStore\(&bc, cbase \+ \d+u, acc\d\d, false, 48u\);/g)).toHaveLength(4);
    expect(w).toContain('@workgroup_size(32, 1, 1)');
    // 2 batches x (64 / 16) x (48 / 16) tiles of 2x2 fragments.
    expect(p.kernels[0].workgroups).toEqual([24, 1, 1]);
  });

  it('with f16 storage takes the f16 -> f32 configuration only when the output is stored f32', () => {
    const { graph } = matmul(64, 32, 64);
    // The output is a graph output: stored f32; the operands (an input and a weight)...
    const p = compile(graph(), F16_TARGET, { subgroupMatrix: SUPPORT, storage: 'f16' });
    // ...the input stays f32 (inputs keep their dtype) while the weight is f16: no config fits both.
    expect(p.kernels[0].wgsl).not.toContain('subgroup_matrix');
  });

  it('falls back to the register-tiled kernel for a prologue, an epilogue or sizes off the fragment grid', () => {
    const t = matmul(64, 32, 48);
    const withEpilogue = t.graph(t.b.unary('exp', t.b.matmul(t.a, t.w)));
    expect(compile(withEpilogue, F16_TARGET, { subgroupMatrix: SUPPORT }).kernels[0].wgsl).not.toContain('subgroup_matrix');
    const u = matmul(64, 32, 48);
    const withPrologue = u.graph(u.b.matmul(u.b.unary('neg', u.a), u.w));
    expect(compile(withPrologue, F16_TARGET, { subgroupMatrix: SUPPORT }).kernels[0].wgsl).not.toContain('subgroup_matrix');
    const odd = matmul(60, 32, 48);
    expect(compile(odd.graph(), F16_TARGET, { subgroupMatrix: SUPPORT }).kernels[0].wgsl).not.toContain('subgroup_matrix');
    const none = matmul(64, 32, 48);
    expect(compile(none.graph(), F16_TARGET, {}).kernels[0].wgsl).not.toContain('subgroup_matrix');
  });
});

const device = await gpu();
const support = device?.subgroupMatrix;
const why = !device ? 'skipped: no WebGPU adapter' : 'skipped: this adapter reports no subgroup-matrix configurations (lavapipe has none; Dawn will not compile the extension without them)';

describe.skipIf(!support)(support ? 'subgroup-matrix matmul on WebGPU against the interpreter' : `subgroup-matrix matmul on WebGPU — ${why}`, () => {
  it('matches the interpreter on a batched matmul', async () => {
    const cfg = support!.configs.find((c) => c.componentType === 'f32' && c.resultComponentType === 'f32');
    if (!cfg) return;
    const { graph } = matmul(4 * cfg.M, 4 * cfg.K, 4 * cfg.N, 2);
    const p = await checkGraph(graph(), { subgroupMatrix: support, rtol: 1e-4 });
    expect(p.kernels[0].wgsl).toContain('subgroup_matrix');
  });
});
