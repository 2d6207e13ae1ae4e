// Flash attention on subgroup matrices (tensor cores). Lavapipe reports no subgroup-matrix
// configurations, so, as for the matmul and the convolution, the kernel is (1) checked for
// what it must contain and for the cases that keep the scalar kernel, (2) compiled by Dawn on
// its null backend with the native builtins, (3) run against the interpreter here with the
// subgroup-matrix operations emulated in plain WGSL (every offset, layout, mask, the online
// softmax across key tiles and the epilogue), and (4) run natively against the interpreter on
// any adapter that offers configurations (the last block skips, saying why, elsewhere).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/builder.ts';
import { type CompileOptions, compile } from '../../compiler/compile.ts';
import type { SubgroupMatrixConfig, SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import type { Graph, Node } from '../../compiler/ir.ts';
import { DEFAULT_TARGET, type Target } from '../../compiler/target.ts';
import { shaderChecker } from '../../runtime/gpu/shader-check.ts';
import { seed } from './support/arbitraries.ts';
import { checkGraph, gpu, nativeSubgroupMatrixConfigs } from './support/gpu.ts';
import { attention, blockCausalMask } from './support/graphs.ts';

const TARGET: Target = { ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, maxComputeWorkgroupStorageSize: 49_152 }, features: { ...DEFAULT_TARGET.features, shaderF16: true, subgroups: true } };
const F16_F32: SubgroupMatrixConfig = { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' };
const F32_F32: SubgroupMatrixConfig = { M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' };
const NON_SQUARE: SubgroupMatrixConfig = { M: 8, N: 16, K: 4, componentType: 'f32', resultComponentType: 'f32' };
const SUPPORT: SubgroupMatrixSupport = { subgroupMaxSize: 32, configs: [F16_F32, F32_F32] };

type Mask = 'where' | 'additive' | 'none';

/**
 * softmax(q kᵀ/√d, mask) v over [batch, l, d]; `vFrom: 'weight'` reads V from a weight (stored
 * f16 under f16 storage, as a projection's output is) and `epilogue` adds a tanh after it.
 */
function attentionGraph(c: { batch: number; l: number; hw: number; d: number; dv: number; mask: Mask; vFrom?: 'input' | 'weight'; epilogue?: boolean }): Graph {
  const b = new GraphBuilder();
  const q = b.input('q', [c.batch, c.l, c.d], 'f32');
  const k = b.input('k', [c.batch, c.l, c.d], 'f32');
  const v = b.input('v', [c.batch, c.l, c.dv], 'f32', c.vFrom ?? 'input');
  const mask = c.mask === 'none' ? undefined : blockCausalMask(b, c.l, c.hw);
  let o: Node = attention(b, q, k, v, mask, c.mask === 'additive');
  if (c.epilogue) o = b.unary('tanh', o);
  return b.graph([{ name: 'o', node: o }]);
}

const wgslOf = (g: Graph, opts: CompileOptions, target = TARGET): string[] => compile(g, target, opts).kernels.map((k) => k.wgsl);

describe('subgroup-matrix attention', () => {
  it('runs both products on the first configuration that fits, with the online softmax between them', () => {
    const p = compile(attentionGraph({ batch: 2, l: 40, hw: 8, d: 16, dv: 24, mask: 'where' }), TARGET, { subgroupMatrix: SUPPORT });
    expect(p.kernels.map((k) => k.kind)).toEqual(['attention']);
    const w = p.kernels[0].wgsl;
    // f32 tensors: the f32 8x8x8 configuration; 64 queries by 32-key tiles.
    expect(w).toMatch(/^enable chromium_experimental_subgroup_matrix;$/m);
    expect(w).toContain('on subgroup matrices 8x8x8 f32->f32, 64 queries by 32-key tiles');
    expect(w).toMatch(/subgroupMatrixLoad<subgroup_matrix_left<f32, 8, 8>, row_major>\(&att_q, 128u \+ c \* 8u, 16u\)/);
    expect(w).toMatch(/subgroupMatrixLoad<subgroup_matrix_right<f32, 8, 8>, col_major>\(&att_kv, /);
    // S: 8 x 4 fragments; P·V: 8 fragments for each of 3 column blocks.
    expect(w.match(/subgroupMatrixMultiplyAccumulate\(/g)).toHaveLength(32 + 24);
    expect(w).toContain('@workgroup_size(32, 1, 1)');
    // 2 batches x ceil(40 / 64) query tiles.
    expect(p.kernels[0].workgroups).toEqual([2, 1, 1]);
  });

  it('takes an f16 configuration under f16 storage: Q, K, V and P staged in f16', () => {
    const g = attentionGraph({ batch: 1, l: 32, hw: 32, d: 32, dv: 32, mask: 'none', vFrom: 'weight' });
    const [w] = wgslOf(g, { subgroupMatrix: SUPPORT, storage: 'f16' });
    expect(w).toContain('16x16x16 f16->f32, 64 queries by 32-key tiles');
    expect(w).toContain('var<workgroup> att_q: array<f16, 2048>;');
    expect(w).toContain('var<workgroup> att_p: array<f16, 2048>;');
    // One product per feature chunk for each of 4 x 2 score fragments.
    expect(w.match(/= subgroupMatrixMultiplyAccumulate\(fq, fk, s_/g)).toHaveLength(8);
    // f32 storage: V is not stored in f16, so the f32 configuration is taken instead.
    expect(wgslOf(g, { subgroupMatrix: SUPPORT })[0]).toContain('8x8x8 f32->f32');
  });

  it('keeps at most 128 output accumulators per invocation where a plan allows, fewer query rows for wide values', () => {
    const rowsOf = (dv: number): string => /(\d+) queries by/.exec(wgslOf(attentionGraph({ batch: 1, l: 64, hw: 64, d: 16, dv, mask: 'none' }), { subgroupMatrix: SUPPORT })[0])![1];
    expect(rowsOf(64)).toBe('64');
    expect(rowsOf(128)).toBe('32');
    expect(rowsOf(256)).toBe('16');
  });

  it('keeps the scalar kernel without configurations, with `off`, or when the tiles do not fit', () => {
    const g = attentionGraph({ batch: 1, l: 24, hw: 8, d: 8, dv: 8, mask: 'additive' });
    const scalar = (w: string) => expect(w).not.toContain('subgroup_matrix');
    scalar(wgslOf(g, {})[0]);
    const tuned = { rows: 2, lanes: 4, perThread: 2 };
    scalar(wgslOf(g, { subgroupMatrix: SUPPORT, tiles: { attention: tuned, subgroupMatrix: 'off' } })[0]);
    // A scalar configuration alone configures the fallback; subgroup matrices still come first.
    expect(wgslOf(g, { subgroupMatrix: SUPPORT, tiles: { attention: tuned } })[0]).toContain('subgroup_matrix');
    const tiny: Target = { ...TARGET, limits: { ...TARGET.limits, maxComputeWorkgroupStorageSize: 2048 } };
    scalar(compile(attentionGraph({ batch: 1, l: 24, hw: 8, d: 64, dv: 64, mask: 'none' }), tiny, { subgroupMatrix: SUPPORT }).kernels[0].wgsl);
  });
});

describe('subgroup-matrix attention compiled by Dawn (null backend: Tint and pipeline validation, nothing runs)', async () => {
  const checker = await shaderChecker();
  // The null device's workgroup memory (16 KiB): the tiles shrink to fit it.
  const nullTarget: Target = { ...TARGET, limits: { ...TARGET.limits, maxComputeWorkgroupStorageSize: checker.gpuTarget.limits.maxComputeWorkgroupStorageSize } };
  const cases: [string, () => string[]][] = [
    ['f32 8x8x8, a where mask, padded features', () => wgslOf(attentionGraph({ batch: 2, l: 40, hw: 8, d: 12, dv: 20, mask: 'where' }), { subgroupMatrix: checker.supportFor([F32_F32]) }, nullTarget)],
    ['f16 16x16x16 under f16 storage, with an epilogue', () => wgslOf(attentionGraph({ batch: 1, l: 48, hw: 16, d: 32, dv: 32, mask: 'additive', vFrom: 'weight', epilogue: true }), { subgroupMatrix: checker.supportFor([F16_F32]), storage: 'f16' }, nullTarget)],
    ['a non-square 8x16x4 f32 configuration', () => wgslOf(attentionGraph({ batch: 1, l: 20, hw: 4, d: 8, dv: 16, mask: 'none' }), { subgroupMatrix: checker.supportFor([NON_SQUARE]) }, nullTarget)],
  ];
  for (const [what, make] of cases) {
    it(what, async () => {
      const kernels = make().filter((w) => w.includes('subgroup_matrix'));
      expect(kernels.length).toBeGreaterThan(0);
      for (const w of kernels) expect(await checker.check(w), w).toEqual([]);
    });
  }
});

const emulating = await gpu();
describe.skipIf(!emulating)(emulating ? 'subgroup-matrix attention emulated in plain WGSL, run against the interpreter' : 'subgroup-matrix attention emulated in plain WGSL — skipped: no WebGPU adapter', () => {
  const emulated = (configs: SubgroupMatrixConfig[], subgroupMaxSize: number): SubgroupMatrixSupport => ({ configs, subgroupMaxSize, emulate: true });
  // Emulated fragments are slow (every invocation loads whole ones): 8 KiB of workgroup memory
  // keeps the tiles small, so that these sizes span several query and key tiles.
  const small = { limits: { maxComputeWorkgroupStorageSize: 8192 } };
  const isEmulated = (p: { kernels: readonly { wgsl: string; kind: string }[] }) => {
    expect(p.kernels.map((k) => k.kind)).toEqual(['attention']);
    expect(p.kernels[0].wgsl).toContain('on subgroup matrices');
    expect(p.kernels[0].wgsl).not.toContain('subgroup_matrix_left');
  };

  it('f32 8x8x8: random sizes (several query and key tiles, padded features) and masks, subgroups of 8 and 32', async () => {
    const dims = fc.record({
      batch: fc.constantFrom(1, 2), frames: fc.constantFrom(1, 3), hw: fc.constantFrom(3, 7, 11),
      d: fc.constantFrom(5, 16), dv: fc.constantFrom(7, 8), mask: fc.constantFrom<Mask>('where', 'additive', 'none'), lanes: fc.constantFrom(8, 32),
    });
    await fc.assert(fc.asyncProperty(dims, seed, async (c, sd) => {
      const g = attentionGraph({ ...c, l: c.frames * c.hw });
      isEmulated(await checkGraph(g, { ...small, subgroupMatrix: emulated([F32_F32], c.lanes), seed: sd, rtol: 2e-5 }));
    }), { numRuns: 6 });
  });

  it('a non-square 8x16x4 configuration, with an epilogue', async () => {
    const g = attentionGraph({ batch: 2, l: 21, hw: 7, d: 6, dv: 10, mask: 'additive', epilogue: true });
    isEmulated(await checkGraph(g, { ...small, subgroupMatrix: emulated([NON_SQUARE], 16), rtol: 2e-5 }));
  });

  it.skipIf(!emulating?.target.features.shaderF16)(`f16 16x16x16 under f16 storage, with an epilogue${emulating?.target.features.shaderF16 ? '' : ' — skipped: this adapter has no shader-f16'}`, async () => {
    // V stored f16, Q, K and P rounded to f16 where staged (a relative 2^-11 each): well inside Kiln's 3e-3 f16 bound.
    const g = attentionGraph({ batch: 1, l: 40, hw: 8, d: 20, dv: 24, mask: 'where', vFrom: 'weight', epilogue: true });
    isEmulated(await checkGraph(g, { limits: { maxComputeWorkgroupStorageSize: 8192 }, subgroupMatrix: emulated([F16_F32], 32), storage: 'f16', rtol: 3e-3 }));
  });
});

const { support, configs: accumulatesInF32, why } = await nativeSubgroupMatrixConfigs();

describe.skipIf(!accumulatesInF32.length)(accumulatesInF32.length ? 'subgroup-matrix attention on WebGPU against the interpreter' : `subgroup-matrix attention on WebGPU — ${why}`, () => {
  for (const cfg of accumulatesInF32) {
    const f16 = cfg.componentType === 'f16';
    it(`${cfg.M}x${cfg.N}x${cfg.K} ${cfg.componentType}->f32: masked attention over several key tiles, with an epilogue`, async () => {
      const g = attentionGraph({ batch: 2, l: 72, hw: 24, d: 64, dv: 64, mask: 'additive', vFrom: f16 ? 'weight' : 'input', epilogue: true });
      const p = await checkGraph(g, { subgroupMatrix: { ...support!, configs: [cfg] }, ...(f16 ? { storage: 'f16' as const, rtol: 3e-3 } : { rtol: 1e-4 }) });
      expect(p.kernels[0].wgsl).toContain('subgroup_matrix');
    });
  }
});
