// Matmul on subgroup matrices with staged operands (compiler/codegen/subgroup_matrix_staged.ts):
// a transformer's linear — a prologue on the input, `x @ transpose(weight)`, sizes off the
// fragment grid, a bias and an activation after. As for the other tensor-core kernels: what the
// kernel must contain, Dawn's null backend on the native form, and runs against the
// interpreter here with the subgroup-matrix operations emulated in plain WGSL.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/builder.ts';
import { type CompileOptions, compile } from '../../compiler/compile.ts';
import type { SubgroupMatrixConfig, SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import { transposedRead } from '../../compiler/codegen/subgroup_matrix_staged.ts';
import type { Graph, Node } from '../../compiler/ir.ts';
import { DEFAULT_TARGET, type Target } from '../../compiler/target.ts';
import { shaderChecker } from '../../runtime/gpu/shader-check.ts';
import { seed } from './support/arbitraries.ts';
import { roundToF16 } from '../../compiler/f16.ts';
import { checkGraph, gpu, randomInputs, rng } from './support/gpu.ts';

const TARGET: Target = { ...DEFAULT_TARGET, limits: { ...DEFAULT_TARGET.limits, maxComputeWorkgroupStorageSize: 49_152 }, features: { ...DEFAULT_TARGET.features, shaderF16: true, subgroups: true } };
const F16_F32: SubgroupMatrixConfig = { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' };
const F32_F32: SubgroupMatrixConfig = { M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' };
const NON_SQUARE: SubgroupMatrixConfig = { M: 8, N: 16, K: 4, componentType: 'f32', resultComponentType: 'f32' };
const SUPPORT: SubgroupMatrixSupport = { subgroupMaxSize: 32, configs: [F16_F32, F32_F32] };

/**
 * tanh(prologue(x) @ transpose(weight) + bias) over x [batch, tokens, k], weight [n, k] (a
 * Linear); `plainWeight` multiplies by a [k, n] weight as it is stored instead.
 */
function linear(c: { batch: number; tokens: number; k: number; n: number; plainWeight?: boolean; prologue?: boolean }): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [c.batch, c.tokens, c.k], 'f32');
  const weight = c.plainWeight ? b.input('w', [c.k, c.n], 'f32', 'weight') : b.input('w', [c.n, c.k], 'f32', 'weight');
  const wt = c.plainWeight ? weight : b.permute(weight, [1, 0]);
  const rhs = b.expand(b.reshape(wt, [1, c.k, c.n]), [c.batch, c.k, c.n]);
  const lhs = c.prologue ? b.binary('mul', b.unary('tanh', x), b.const(1.5, x.shape)) : x;
  const y = b.matmul(lhs, rhs);
  const bias = b.input('bias', [c.n], 'f32', 'weight');
  const out: Node = b.unary('tanh', b.binary('add', y, b.expand(b.reshape(bias, [1, 1, c.n]), y.shape)));
  return b.graph([{ name: 'y', node: out }]);
}

const wgslOf = (g: Graph, opts: CompileOptions): string => compile(g, TARGET, opts).kernels.find((k) => k.kind === 'contraction')!.wgsl;

describe('staged subgroup-matrix matmul', () => {
  it('takes a Linear with a prologue: the weight transposed in workgroup memory, the epilogue in the staged store', () => {
    const w = wgslOf(linear({ batch: 2, tokens: 40, k: 24, n: 20, prologue: true }), { subgroupMatrix: SUPPORT });
    expect(w).toContain('matmul 2 x 40x24 @ 24x20 on subgroup matrices 8x8x8 f32->f32, 2x2 fragments per subgroup, operands staged by 32 steps, B transposed, staged store');
    expect(w).toMatch(/subgroupMatrixLoad<subgroup_matrix_right<f32, 8, 8>, col_major>\(&tile_b, /);
    expect(w).toContain('= kiln_tanh(');
  });

  it('knows a transposed weight through the expand and reshape that broadcast it', () => {
    const b = new GraphBuilder();
    const w = b.input('w', [6, 4], 'f32', 'weight');
    expect(transposedRead(b.expand(b.reshape(b.permute(w, [1, 0]), [1, 4, 6]), [3, 4, 6]))).toBe(true);
    expect(transposedRead(b.expand(b.reshape(w, [1, 6, 4]), [3, 6, 4]))).toBe(false);
    const x = b.input('x', [2, 3, 4, 5], 'f32');
    expect(transposedRead(b.permute(x, [0, 1, 3, 2]))).toBe(true);
    expect(transposedRead(b.permute(x, [1, 0, 2, 3]))).toBe(false);
  });

  it('stages A as hi and lo parts on an f16 configuration under f16 storage, and B as stored', () => {
    const w = wgslOf(linear({ batch: 1, tokens: 48, k: 64, n: 32, prologue: true }), { subgroupMatrix: SUPPORT, storage: 'f16' });
    expect(w).toContain('16x16x16 f16->f32');
    expect(w).toContain('(A as hi and lo parts), B transposed');
    // A weight stored f32 (f32 storage) is no f16 configuration's operand: the f32 one is taken.
    expect(wgslOf(linear({ batch: 1, tokens: 48, k: 64, n: 32 }), { subgroupMatrix: SUPPORT })).toContain('8x8x8 f32->f32');
    expect(wgslOf(linear({ batch: 1, tokens: 48, k: 64, n: 32 }), { subgroupMatrix: { subgroupMaxSize: 32, configs: [F16_F32] } })).not.toContain('subgroup_matrix');
  });
});

describe('staged subgroup-matrix matmul compiled by Dawn (null backend)', async () => {
  const checker = await shaderChecker();
  const cases: [string, () => string][] = [
    ['f32 8x8x8: a Linear with a prologue, off the grid', () => wgslOf(linear({ batch: 2, tokens: 37, k: 20, n: 19, prologue: true }), { subgroupMatrix: checker.supportFor([F32_F32]) })],
    ['f16 16x16x16 under f16 storage, A split, a plain weight', () => wgslOf(linear({ batch: 1, tokens: 48, k: 40, n: 24, prologue: true, plainWeight: true }), { subgroupMatrix: checker.supportFor([F16_F32]), storage: 'f16' })],
    ['a non-square 8x16x4 f32 configuration', () => wgslOf(linear({ batch: 1, tokens: 20, k: 12, n: 40 }), { subgroupMatrix: checker.supportFor([NON_SQUARE]) })],
  ];
  for (const [what, make] of cases) {
    it(what, async () => {
      const w = make();
      expect(w).toContain('operands staged');
      expect(await checker.check(w), w).toEqual([]);
    });
  }
});

const emulating = await gpu();
describe.skipIf(!emulating)(emulating ? 'staged subgroup-matrix matmul emulated in plain WGSL, run against the interpreter' : 'staged subgroup-matrix matmul emulated — skipped: no WebGPU adapter', () => {
  const emulated = (configs: SubgroupMatrixConfig[], subgroupMaxSize: number): SubgroupMatrixSupport => ({ configs, subgroupMaxSize, emulate: true });
  const staged = (p: { kernels: readonly { wgsl: string }[] }) => expect(p.kernels.some((k) => k.wgsl.includes('operands staged'))).toBe(true);

  it('f32 8x8x8: random sizes off the fragment grid, transposed and plain weights, prologues, subgroups of 8 and 32', async () => {
    const dims = fc.record({
      batch: fc.constantFrom(1, 2), tokens: fc.integer({ min: 1, max: 40 }), k: fc.integer({ min: 1, max: 40 }), n: fc.integer({ min: 1, max: 24 }),
      plainWeight: fc.boolean(), prologue: fc.boolean(), lanes: fc.constantFrom(8, 32),
    });
    await fc.assert(fc.asyncProperty(dims, seed, async (c, sd) => {
      staged(await checkGraph(linear(c), { subgroupMatrix: emulated([F32_F32], c.lanes), seed: sd, rtol: 1e-5 }));
    }), { numRuns: 6 });
  });

  it('a non-square 8x16x4 configuration, with fragment counts the tuner tries', async () => {
    for (const fragments of [[1, 1], [4, 2], [2, 4]] as const) {
      const p = await checkGraph(linear({ batch: 1, tokens: 30, k: 18, n: 35, prologue: true }), { subgroupMatrix: emulated([NON_SQUARE], 16), tiles: { subgroupMatrix: { fragments } }, rtol: 1e-5 });
      expect(p.kernels.find((k) => k.kind === 'contraction')!.wgsl).toContain(`${fragments[0]}x${fragments[1]} fragments per subgroup`);
    }
  });

  it.skipIf(!emulating?.target.features.shaderF16)(`f16 16x16x16 under f16 storage: A as hi and lo parts against f16 weights${emulating?.target.features.shaderF16 ? '' : ' — skipped: this adapter has no shader-f16'}`, async () => {
    // Inputs exact in f16, so storage rounds nothing; the prologue's f32 values (not exact in
    // f16) reach the tensor cores through their two parts, within a few f32 roundings.
    const g = linear({ batch: 2, tokens: 33, k: 40, n: 20, prologue: true });
    const halves = Object.fromEntries(Object.entries(randomInputs(g, rng(5))).map(([name, v]) => [name, Array.from(v, roundToF16)]));
    const p = await checkGraph(g, { subgroupMatrix: emulated([F16_F32], 32), storage: 'f16', values: halves, rtol: 1e-5 });
    expect(p.kernels.find((k) => k.kind === 'contraction')!.wgsl).toContain('A as hi and lo parts');
  });
});
