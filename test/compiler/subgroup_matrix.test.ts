// The subgroup-matrix (tensor-core) matmul path. Lavapipe reports no subgroup-matrix
// configurations, so here the kernels are (1) checked for what they must contain and for the
// cases that must fall back to the register-tiled kernel, (2) compiled by Dawn itself on its
// null backend (Tint's WGSL checks and pipeline validation, the code an NVIDIA GPU's device
// runs them through; nothing executes there), (3) run against the interpreter on this adapter
// with the subgroup-matrix operations emulated in plain WGSL (the kernels' own indexing,
// staging and epilogues), and (4) run natively against the interpreter on any adapter that
// offers configurations (the last block skips, saying why, elsewhere).
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../compiler/builder.ts';
import { type CompileOptions, compile } from '../../compiler/compile.ts';
import type { SubgroupMatrixConfig, SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import type { Graph, Node } from '../../compiler/ir.ts';
import { DEFAULT_TARGET, type Target } from '../../compiler/target.ts';
import { shaderChecker } from '../../runtime/gpu/shader-check.ts';
import { roundToF16 } from '../../compiler/f16.ts';
import { checkGraph, gpu, randomInputs, rng, nativeSubgroupMatrixConfigs } from './support/gpu.ts';

const F16_TARGET: Target = { ...DEFAULT_TARGET, features: { ...DEFAULT_TARGET.features, shaderF16: true, subgroups: true } };
const F16_F32: SubgroupMatrixConfig = { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f32' };
const F32_F32: SubgroupMatrixConfig = { M: 8, N: 8, K: 8, componentType: 'f32', resultComponentType: 'f32' };
const F16_F16: SubgroupMatrixConfig = { M: 16, N: 16, K: 16, componentType: 'f16', resultComponentType: 'f16' };
const NON_SQUARE: SubgroupMatrixConfig = { M: 8, N: 16, K: 4, componentType: 'f32', resultComponentType: 'f32' };
const SUPPORT: SubgroupMatrixSupport = { subgroupMaxSize: 32, configs: [F16_F32, F32_F32] };

/** A (batched) matmul of an input and a weight; `graph` takes the output node (default: the matmul). */
function matmul(m: number, k: number, n: number, opts: { batch?: number; weightsOnly?: boolean } = {}) {
  const b = new GraphBuilder();
  const lead = opts.batch ? [opts.batch] : [];
  const a = b.input('a', [...lead, m, k], 'f32', opts.weightsOnly ? 'weight' : 'input');
  const w = b.input('w', [...lead, k, n], 'f32', 'weight');
  return { b, a, w, graph: (node: Node = b.matmul(a, w)) => b.graph([{ name: 'y', node }]) };
}

/** Matmul + bias + GELU-like tanh: an epilogue the staged store evaluates. */
function withEpilogue(t: ReturnType<typeof matmul>, n: number): Node {
  const { b } = t;
  const bias = b.input('bias', [n], 'f32', 'weight');
  const y = b.matmul(t.a, t.w);
  return b.unary('tanh', b.binary('add', y, b.expand(b.reshape(bias, [1, n]), y.shape)));
}

const wgslOf = (g: ReturnType<ReturnType<typeof matmul>['graph']>, opts: CompileOptions): string[] => compile(g, F16_TARGET, opts).kernels.map((k) => k.wgsl);

describe('subgroup-matrix matmul', () => {
  it('uses the first configuration that fits: fragments loaded from storage, multiply-accumulated, stored', () => {
    const { graph } = matmul(64, 32, 48, { batch: 2 });
    const p = compile(graph(), F16_TARGET, { subgroupMatrix: SUPPORT });
    expect(p.kernels).toHaveLength(1);
    const w = p.kernels[0].wgsl;
    // f32 tensors: the f32 8x8x8 configuration (the f16 one needs f16 storage).
    expect(w).toMatch(/^enable chromium_experimental_subgroup_matrix;$/m);
    expect(w).toMatch(/subgroupMatrixLoad<subgroup_matrix_left<f32, 8, 8>, row_major>\(&b\d, \w+ \+ kk \* 8u \+ 0u, 32u\)/);
    expect(w).toMatch(/subgroupMatrixLoad<subgroup_matrix_right<f32, 8, 8>, row_major>\(&b\d, \w+ \+ kk \* 384u \+ 8u, 48u\)/);
    expect(w.match(/subgroupMatrixMultiplyAccumulate\(/g)).toHaveLength(4);
    expect(w.match(/subgroupMatrixStore<row_major>\(&b\d, \w+ \+ \d+u, acc_\d_\d, 48u\);/g)).toHaveLength(4);
    expect(w).toContain('@workgroup_size(32, 1, 1)');
    expect(w).not.toContain('kiln_tile');
    // 2 batches x (64 / 16) x (48 / 16) tiles of 2x2 fragments.
    expect(p.kernels[0].workgroups).toEqual([24, 1, 1]);
  });

  it('takes the f16 configuration when both operands are stored f16, accumulating in f32', () => {
    const t = matmul(64, 32, 64, { weightsOnly: true });
    const [w] = wgslOf(t.graph(), { subgroupMatrix: SUPPORT, storage: 'f16' });
    expect(w).toMatch(/^enable f16;$/m);
    expect(w).toContain('subgroup_matrix_left<f16, 16, 16>');
    expect(w).toContain('subgroup_matrix_result<f32, 16, 16>');
    // An f32 input times an f16 weight: not directly; staged, the input as hi and lo parts.
    const u = matmul(64, 32, 64);
    expect(wgslOf(u.graph(), { subgroupMatrix: SUPPORT, storage: 'f16' })[0]).toContain('16x16x16 f16->f32, 2x2 fragments per subgroup, operands staged by 32 steps (A as hi and lo parts)');
  });

  it('refuses configurations that accumulate in f16', () => {
    const t = matmul(64, 32, 64, { weightsOnly: true });
    const [w] = wgslOf(t.graph(), { subgroupMatrix: { subgroupMaxSize: 32, configs: [F16_F16] }, storage: 'f16' });
    expect(w).not.toContain('subgroup_matrix');
  });

  it('evaluates an epilogue through a workgroup-memory tile (staged store)', () => {
    const t = matmul(64, 32, 48);
    const [w] = wgslOf(t.graph(withEpilogue(t, 48)), { subgroupMatrix: SUPPORT });
    expect(w).toContain('var<workgroup> kiln_tile: array<f32, 256>;');
    expect(w.match(/subgroupMatrixStore<row_major>\(&kiln_tile, \d+u, acc_\d_\d, 16u\);/g)).toHaveLength(4);
    expect(w).toContain('workgroupBarrier();');
    // 256 tile elements over 32 invocations: 8 stores each, none guarded.
    expect(w.match(/= kiln_tanh\(/g)).toHaveLength(8);
    expect(w).not.toMatch(/if \(/);
  });

  it('stages the operands for a prologue or sizes off the fragment grid; register tiles without configurations', () => {
    const staged = (w: string) => expect(w).toMatch(/on subgroup matrices .*operands staged by/);
    const u = matmul(64, 32, 48);
    staged(compile(u.graph(u.b.matmul(u.b.unary('neg', u.a), u.w)), F16_TARGET, { subgroupMatrix: SUPPORT }).kernels[0].wgsl);
    const odd = matmul(60, 32, 48);
    staged(compile(odd.graph(), F16_TARGET, { subgroupMatrix: SUPPORT }).kernels[0].wgsl);
    const none = matmul(64, 32, 48);
    expect(compile(none.graph(), F16_TARGET, {}).kernels[0].wgsl).not.toContain('subgroup_matrix');
  });
});

describe('subgroup-matrix kernels compiled by Dawn (null backend: Tint and pipeline validation, nothing runs)', async () => {
  const checker = await shaderChecker();
  const S = checker.subgroupMaxSize;
  const cases: [string, () => string[]][] = [
    ['f32 8x8x8, batched, stored directly', () => wgslOf(matmul(64, 32, 48, { batch: 2 }).graph(), { subgroupMatrix: checker.supportFor([F32_F32]) })],
    ['f16 16x16x16 from f16 storage, stored directly', () => wgslOf(matmul(64, 32, 64, { weightsOnly: true }).graph(), { subgroupMatrix: checker.supportFor([F16_F32]), storage: 'f16' })],
    ['f16 with a bias + tanh epilogue (staged)', () => {
      const t = matmul(64, 32, 64, { weightsOnly: true });
      return wgslOf(t.graph(withEpilogue(t, 64)), { subgroupMatrix: checker.supportFor([F16_F32]), storage: 'f16' });
    }],
    ['f16 result stored f16 for the next matmul (staged)', () => {
      const t = matmul(64, 32, 64, { weightsOnly: true });
      const c = t.b.input('c', [64, 32], 'f32', 'weight');
      return wgslOf(t.graph(t.b.matmul(t.b.matmul(t.a, t.w), c)), { subgroupMatrix: checker.supportFor([F16_F32]), storage: 'f16' });
    }],
    [`one 8x8 fragment per subgroup of ${S} (a guarded staged store)`, () => {
      const t = matmul(8, 16, 8);
      return wgslOf(t.graph(withEpilogue(t, 8)), { subgroupMatrix: checker.supportFor([F32_F32]) });
    }],
  ];
  // Tint checks left (M×K) × right (K×N) → result (M×N) by type: with M, N and K all
  // different, operand types written with rows and columns swapped would not compile.
  cases.push(['a non-square 8x16x4 f32 configuration, with an epilogue', () => {
    const t = matmul(32, 16, 32);
    return wgslOf(t.graph(withEpilogue(t, 32)), { subgroupMatrix: checker.supportFor([NON_SQUARE]) });
  }]);
  cases.push([`every fragment count the autotuner tries (f16, subgroups of ${S})`, () => {
    const support = checker.supportFor([F16_F32]);
    const t = matmul(128, 64, 128, { weightsOnly: true });
    return [[1, 1], [2, 1], [1, 2], [2, 2], [4, 2], [2, 4], [4, 4]].map(([fm, fn]) => {
      const [w] = wgslOf(t.graph(withEpilogue(t, 128)), { subgroupMatrix: support, storage: 'f16', tiles: { subgroupMatrix: { fragments: [fm, fn] } } });
      expect(w).toContain(`${fm}x${fn} fragments per subgroup`);
      return w;
    });
  }]);
  for (const [what, make] of cases) {
    it(what, async () => {
      const kernels = make();
      const tensorCore = kernels.filter((w) => w.includes('subgroup_matrix'));
      expect(tensorCore.length).toBeGreaterThan(0);
      for (const w of tensorCore) expect(await checker.check(w), w).toEqual([]);
    });
  }

  it('catches what the device would refuse: a workgroup narrower than its largest subgroup', async () => {
    const [w] = wgslOf(matmul(64, 32, 48).graph(), { subgroupMatrix: { subgroupMaxSize: S / 2, configs: [F32_F32] } });
    const found = await checker.check(w);
    expect(found.map((d) => d.severity)).toEqual(['error']);
    expect(found[0].message).toMatch(/workgroup_size.*multiple of the device maxSubgroupSize/);
  });
});

// The same kernels with the subgroup-matrix operations emulated in plain WGSL
// (subgroup_matrix_ops.ts): every offset, stride, layout, fragment count and staged store is
// run against the interpreter here, on an adapter without subgroup matrices.
const emulating = await gpu();
describe.skipIf(!emulating)(emulating ? 'subgroup-matrix matmul emulated in plain WGSL, run against the interpreter' : 'subgroup-matrix matmul emulated in plain WGSL — skipped: no WebGPU adapter', () => {
  const emulated = (configs: SubgroupMatrixConfig[], subgroupMaxSize = 8): SubgroupMatrixSupport => ({ configs, subgroupMaxSize, emulate: true });
  const isEmulated = (p: { kernels: readonly { wgsl: string }[] }) => {
    expect(p.kernels[0].wgsl).toContain('on subgroup matrices');
    expect(p.kernels[0].wgsl).not.toContain('subgroup_matrix_left');
  };

  it('f32 8x8x8: a batched matmul stored directly', async () => {
    isEmulated(await checkGraph(matmul(32, 24, 40, { batch: 2 }).graph(), { subgroupMatrix: emulated([F32_F32]), rtol: 1e-5 }));
  });

  it('f32 8x8x8: bias + tanh through the staged store, for every fragment count the tuner tries', async () => {
    const t = matmul(32, 16, 32);
    for (const [fm, fn] of [[1, 1], [2, 1], [1, 2], [2, 2], [4, 2], [2, 4], [4, 4]]) {
      const p = await checkGraph(t.graph(withEpilogue(t, 32)), { subgroupMatrix: emulated([F32_F32], 32), tiles: { subgroupMatrix: { fragments: [fm, fn] } }, rtol: 1e-5 });
      expect(p.kernels[0].wgsl).toContain(`${fm}x${fn} fragments per subgroup, staged store`);
    }
  });

  it('a non-square 8x16x4 configuration, direct and staged', async () => {
    const t = matmul(32, 12, 48, { batch: 2 });
    isEmulated(await checkGraph(t.graph(), { subgroupMatrix: emulated([NON_SQUARE]), rtol: 1e-5 }));
    const u = matmul(16, 12, 48);
    isEmulated(await checkGraph(u.graph(withEpilogue(u, 48)), { subgroupMatrix: emulated([NON_SQUARE]), rtol: 1e-5 }));
  });

  it('f32 8x8x8: a tile the subgroup does not divide (guarded staged store)', async () => {
    const t = matmul(8, 16, 8);
    isEmulated(await checkGraph(t.graph(withEpilogue(t, 8)), { subgroupMatrix: emulated([F32_F32], 24), rtol: 1e-5 }));
  });

  it.skipIf(!emulating?.target.features.shaderF16)(`f16 16x16x16 from f16 storage into f32, with an epilogue${emulating?.target.features.shaderF16 ? '' : ' — skipped: this adapter has no shader-f16'}`, async () => {
    // Operands exactly representable in f16, so only the f32 sums' order differs from the oracle.
    const halves = (g: Graph) => Object.fromEntries(Object.entries(randomInputs(g, rng(3))).map(([k, v]) => [k, Array.from(v, roundToF16)]));
    const t = matmul(32, 48, 32, { weightsOnly: true });
    const g = t.graph(withEpilogue(t, 32));
    isEmulated(await checkGraph(g, { subgroupMatrix: emulated([F16_F32]), storage: 'f16', values: halves(g), rtol: 1e-5 }));
    const batched = matmul(32, 48, 64, { weightsOnly: true, batch: 2 }).graph();
    isEmulated(await checkGraph(batched, { subgroupMatrix: emulated([F16_F32]), storage: 'f16', values: halves(batched), rtol: 1e-5 }));
  });
});

const { support, configs: accumulatesInF32, why } = await nativeSubgroupMatrixConfigs();

describe.skipIf(!accumulatesInF32.length)(accumulatesInF32.length ? 'subgroup-matrix matmul on WebGPU against the interpreter' : `subgroup-matrix matmul on WebGPU — ${why}`, () => {
  for (const cfg of accumulatesInF32) {
    const only: SubgroupMatrixSupport = { ...support!, configs: [cfg] };
    const f16 = cfg.componentType === 'f16';
    // f16 storage rounds the operands to f16 (relative 2^-11 each); sums of 4K products stay well inside 3e-3.
    const tol = f16 ? { storage: 'f16' as const, rtol: 3e-3 } : { rtol: 1e-4 };
    const label = `${cfg.M}x${cfg.N}x${cfg.K} ${cfg.componentType}->f32`;

    it(`${label}: a batched matmul, stored directly`, async () => {
      const { graph } = matmul(4 * cfg.M, 4 * cfg.K, 4 * cfg.N, { batch: 2, weightsOnly: f16 });
      const p = await checkGraph(graph(), { subgroupMatrix: only, ...tol });
      expect(p.kernels[0].wgsl).toContain('subgroup_matrix');
    });

    it(`${label}: with a bias + tanh epilogue (staged store)`, async () => {
      const t = matmul(2 * cfg.M, 8 * cfg.K, 6 * cfg.N, { weightsOnly: f16 });
      const p = await checkGraph(t.graph(withEpilogue(t, 6 * cfg.N)), { subgroupMatrix: only, ...tol });
      expect(p.kernels[0].wgsl).toContain('kiln_tile');
    });
  }
});
