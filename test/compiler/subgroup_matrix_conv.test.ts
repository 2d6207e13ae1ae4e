// Convolutions on subgroup matrices (tensor cores; codegen/subgroup_matrix_conv.ts). Lavapipe
// has no subgroup matrices, so the kernels are (1) run here against the interpreter with the
// subgroup-matrix operations emulated in plain WGSL, which checks their staging, fragment
// offsets, strides and layouts, partial tiles and epilogues, and (2) compiled natively by
// Dawn's null backend (Tint and pipeline validation, as a GPU's device would; nothing runs).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/builder.ts';
import { compile } from '../../compiler/compile.ts';
import type { SubgroupMatrixConfig, SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import { roundToF16 } from '../../compiler/f16.ts';
import type { Graph } from '../../compiler/ir.ts';
import { DEFAULT_TARGET, type Target } from '../../compiler/target.ts';
import { shaderChecker } from '../../runtime/gpu/shader-check.ts';
import { seed } from './support/arbitraries.ts';
import { causalConv3d, groupNorm, silu } from './support/graphs.ts';
import { checkGraph, gpu, randomInputs, rng } from './support/gpu.ts';

const F32_8: SubgroupMatrixConfig = { M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' };
const NON_SQUARE: SubgroupMatrixConfig = { M: 8, N: 16, K: 4, componentType: 'f32', resultComponentType: 'f32' };
const F16_16: SubgroupMatrixConfig = { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' };
const F16_TARGET: Target = { ...DEFAULT_TARGET, features: { ...DEFAULT_TARGET.features, shaderF16: true } };

interface ConvCase {
  readonly batch: number;
  readonly cin: number;
  readonly cout: number;
  readonly k: readonly number[];
  readonly spatial: readonly number[];
  readonly stride: readonly number[];
}

/** A bare convolution (stride 1 along the last axis: the kernel's requirement). */
function convGraph(c: ConvCase): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [c.batch, c.cin, ...c.spatial], 'f32');
  const w = b.input('w', [c.cout, c.cin, ...c.k], 'f32', 'weight');
  return b.graph([{ name: 'y', node: b.conv(x, w, c.stride) }]);
}

/** The VAE's pattern: GroupNorm + SiLU + replicate pad into a causal conv, bias and a residual at the store. */
function vaePattern(ch: number, out: number, [t, h, w]: readonly number[]): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [1, ch, t, h, w], 'f32');
  const normed = silu(b, groupNorm(b, x, 2, b.input('gamma', [ch], 'f32', 'weight'), b.input('beta', [ch], 'f32', 'weight')));
  const y = causalConv3d(b, normed, b.input('w', [out, ch, 3, 3, 3], 'f32', 'weight'), b.input('bias', [out], 'f32', 'weight'));
  return b.graph([{ name: 'y', node: b.binary('add', y, b.input('res', [1, out, t, h, w], 'f32')) }]);
}

const tensorCoreKernel = (p: { kernels: readonly { wgsl: string }[] }): string => {
  const k = p.kernels.find((x) => x.wgsl.includes('implicit GEMM on subgroup matrices'));
  expect(k, 'a convolution on subgroup matrices').toBeDefined();
  return k!.wgsl;
};

describe('convolution on subgroup matrices: what it takes', () => {
  const support: SubgroupMatrixSupport = { configs: [F32_8], subgroupMaxSize: 32 };
  it('takes stride-1 convolutions and leaves strided ones (along the last axis) to the register tiles', () => {
    const wgsl = tensorCoreKernel(compile(convGraph({ batch: 1, cin: 5, cout: 6, k: [3, 3], spatial: [6, 9], stride: [2, 1] }), DEFAULT_TARGET, { subgroupMatrix: support }));
    expect(wgsl).toMatch(/subgroupMatrixLoad<subgroup_matrix_left<f32, 8, 8>, col_major>\(&tile_x, /);
    const strided = compile(convGraph({ batch: 1, cin: 5, cout: 6, k: [3, 3], spatial: [6, 9], stride: [1, 2] }), DEFAULT_TARGET, { subgroupMatrix: support });
    expect(strided.kernels[0].wgsl).not.toContain('subgroup_matrix');
  });
  it('needs the weight stored in the config\'s component type, and the tuner can turn it off', () => {
    const g = convGraph({ batch: 1, cin: 4, cout: 8, k: [3], spatial: [12], stride: [1] });
    expect(compile(g, F16_TARGET, { subgroupMatrix: { configs: [F16_16], subgroupMaxSize: 32 } }).kernels[0].wgsl).not.toContain('subgroup_matrix');
    tensorCoreKernel(compile(g, F16_TARGET, { subgroupMatrix: { configs: [F16_16], subgroupMaxSize: 32 }, storage: 'f16' }));
    expect(compile(g, DEFAULT_TARGET, { subgroupMatrix: support, tiles: { subgroupMatrix: 'off' } }).kernels[0].wgsl).not.toContain('subgroup_matrix');
  });
});

const device = await gpu();
describe.skipIf(!device)(device ? 'convolution on subgroup matrices, emulated in plain WGSL, against the interpreter' : 'convolution on subgroup matrices, emulated — skipped: no WebGPU adapter', () => {
  const emulated = (configs: SubgroupMatrixConfig[], subgroupMaxSize = 8): SubgroupMatrixSupport => ({ configs, subgroupMaxSize, emulate: true });

  it('1-d to 3-d, odd sizes, partial tiles and channel chunks, any fragment count', async () => {
    const nd = fc.integer({ min: 1, max: 3 });
    const cases = nd.chain((n) => fc.record({
      batch: fc.integer({ min: 1, max: 2 }),
      cin: fc.integer({ min: 1, max: 11 }),
      cout: fc.integer({ min: 1, max: 19 }),
      k: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: n, maxLength: n }),
      extra: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: n, maxLength: n }),
      stride: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: n - 1, maxLength: n - 1 }),
      fragments: fc.constantFrom<[number, number] | undefined>(undefined, [1, 1], [2, 1], [1, 2], [3, 2]),
      cfg: fc.constantFrom(F32_8, NON_SQUARE),
    }));
    await fc.assert(fc.asyncProperty(cases, seed, async (c, sd) => {
      const g = convGraph({ ...c, spatial: c.k.map((kk, i) => kk + c.extra[i]), stride: [...c.stride, 1] });
      const tiles = c.fragments ? { subgroupMatrix: { fragments: c.fragments } } : undefined;
      const p = await checkGraph(g, { seed: sd, rtol: 1e-5, subgroupMatrix: emulated([c.cfg], 32), ...(tiles ? { tiles } : {}) });
      expect(tensorCoreKernel(p)).toContain('(emulated in plain WGSL)');
    }), { numRuns: 6 });
  });

  it('the VAE pattern: GroupNorm + SiLU + replicate pad staged with the inputs, bias and residual at the store', async () => {
    const p = await checkGraph(vaePattern(12, 10, [2, 3, 9]), { rtol: 2e-5, subgroupMatrix: emulated([F32_8], 32) });
    expect(p.kernels.map((k) => k.kind)).toEqual(['reduction', 'contraction']);
    tensorCoreKernel(p);
  });

  it.skipIf(!device?.target.features.shaderF16)(`f16 16x16x16 from f16 storage, accumulating in f32${device?.target.features.shaderF16 ? '' : ' — skipped: this adapter has no shader-f16'}`, async () => {
    // Weights exactly representable in f16; the input is a program input (f32), rounded to f16
    // where it is staged, so it too is drawn from f16 values: only the f32 sums' order differs.
    const g = convGraph({ batch: 1, cin: 18, cout: 12, k: [3, 3], spatial: [3, 18], stride: [1, 1] });
    const values = Object.fromEntries(Object.entries(randomInputs(g, rng(5))).map(([k, v]) => [k, Array.from(v, roundToF16)]));
    const p = await checkGraph(g, { values, rtol: 1e-5, storage: 'f16', subgroupMatrix: emulated([F16_16], 32) });
    expect(tensorCoreKernel(p)).toContain('f16->f32');
  });

  it.skipIf(!device?.target.features.shaderF16)(`f16: inputs not exact in f16 are staged as hi and lo parts, losing nothing; exact ones once${device?.target.features.shaderF16 ? '' : ' — skipped: this adapter has no shader-f16'}`, async () => {
    // Only the weight is rounded to f16 (as stored); the f32 input keeps all its bits through the split.
    const g = convGraph({ batch: 1, cin: 9, cout: 12, k: [3], spatial: [21], stride: [1] });
    const random = randomInputs(g, rng(7));
    const values = { ...random, w: Array.from(random.w, roundToF16) };
    const p = await checkGraph(g, { values, rtol: 1e-5, storage: 'f16', subgroupMatrix: emulated([F16_16], 32) });
    expect(tensorCoreKernel(p)).toContain('inputs (as hi and lo parts)');
    // The VAE's pattern: the GroupNorm + SiLU prologue's f32 values go through in two parts too.
    const vae = vaePattern(12, 10, [2, 3, 9]);
    const vaeRandom = randomInputs(vae, rng(8));
    const vaeValues = Object.fromEntries(Object.entries(vaeRandom).map(([k, v]) => [k, k === 'x' || k === 'res' ? v : Array.from(v, roundToF16)]));
    expect(tensorCoreKernel(await checkGraph(vae, { values: vaeValues, rtol: 2e-5, storage: 'f16', subgroupMatrix: emulated([F16_16], 32) }))).toContain('hi and lo');
    // A convolution of an intermediate stored f16, through its causal pad: exact, staged once.
    const b = new GraphBuilder();
    const x = b.input('x', [1, 4, 20], 'f32');
    const h = b.conv(x, b.input('w1', [16, 4, 1], 'f32', 'weight'), [1]);
    const y = b.conv(b.pad(h, [[0, 0], [0, 0], [2, 0]], 'replicate'), b.input('w2', [8, 16, 3], 'f32', 'weight'), [1]);
    const two = compile(b.graph([{ name: 'y', node: y }]), device!.target, { storage: 'f16', subgroupMatrix: emulated([F16_16], 32) });
    const second = two.kernels.filter((k) => k.wgsl.includes('implicit GEMM on subgroup matrices')).map((k) => k.wgsl).find((k) => k.includes('conv1d 16->8'));
    expect(second).toBeDefined();
    expect(second).not.toContain('hi and lo');
  });
});

describe('convolutions on subgroup matrices compiled by Dawn (null backend: Tint and pipeline validation, nothing runs)', async () => {
  const checker = await shaderChecker();
  const cases: [string, () => Graph, SubgroupMatrixConfig, 'f16' | undefined][] = [
    ['f32 8x8x8, 3-d with a temporal stride', () => convGraph({ batch: 2, cin: 9, cout: 13, k: [3, 3, 3], spatial: [5, 6, 17], stride: [2, 1, 1] }), F32_8, undefined],
    ['non-square 8x16x4, the VAE pattern', () => vaePattern(12, 10, [3, 5, 11]), NON_SQUARE, undefined],
    ['f16 16x16x16 from f16 storage, the VAE pattern', () => vaePattern(32, 32, [2, 4, 20]), F16_16, 'f16'],
  ];
  for (const [what, graph, cfg, storage] of cases) {
    it(what, async () => {
      const p = compile(graph(), F16_TARGET, { subgroupMatrix: checker.supportFor([cfg]), ...(storage ? { storage } : {}) });
      const wgsl = tensorCoreKernel(p);
      expect(wgsl).toMatch(/^enable chromium_experimental_subgroup_matrix;$/m);
      expect(await checker.check(wgsl), wgsl).toEqual([]);
    });
  }
});
