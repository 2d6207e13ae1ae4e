/**
 * Figure (a): Kiln's conv3d and matmul kernels against the hand-written baselines (bench/
 * baselines/) and PyTorch on the CPU (and on the GPU, where PyTorch has CUDA), in GFLOP/s,
 * all measured in this run.
 *
 * Cases: the VAE's causal convolution [1, 128, 5, 64, 64] -> 128 channels, k = 3 (replicate
 * pad + conv + bias: one Kiln kernel, the pad folded into its loads and the bias into its
 * store), and a 1024 x 1024 x 1024 matmul. Kiln is measured twice: with the target's
 * heuristic tiles (what compile uses without a tuning cache), and after the autotuner has
 * tuned the kernel (what compile uses after `kiln tune`); the `*_vs_handwritten` ratios use
 * the tuned kernel, and the heuristic's ratio is recorded beside it. The best of the
 * baseline's variants is the baseline. Every kernel's output is checked against the others
 * before its time counts.
 */
import { GraphBuilder } from '../../compiler/builder.ts';
import { compile } from '../../compiler/compile.ts';
import type { Graph, Node } from '../../compiler/ir.ts';
import type { SubgroupMatrixSupport } from '../../compiler/codegen/subgroup_matrix.ts';
import type { StorageMode } from '../../compiler/passes/storage.ts';
import type { CompiledProgram } from '../../compiler/kernel.ts';
import { TuneCache } from '../../compiler/tune/cache.ts';
import { describeTiles, tuneGraph } from '../../compiler/tune/tuner.ts';
import { timeKernel } from '../../runtime/gpu/kernel-timer.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { CONV3D_VARIANTS, type Conv3dShape, conv3dBaselineGrid, conv3dBaselineProblem, conv3dBaselineWeight, conv3dBaselineWgsl, conv3dFlops } from '../baselines/conv3d.ts';
import { MATMUL_VARIANTS, type MatmulShape, describeMatmulVariant, matmulBaselineGrid, matmulBaselineProblem, matmulBaselineWgsl, matmulFlops } from '../baselines/matmul.ts';
import type { BenchContext } from '../context.ts';
import { RawKernel, bestOfRounds, fmt, gflops, relativeError, uniform } from '../harness.ts';

export const CONV3D_CASE: Conv3dShape = { cin: 128, cout: 128, t: 5, h: 64, w: 64 };
export const MATMUL_CASE: MatmulShape = { m: 1024, k: 1024, n: 1024 };

const TIMING = { minMs: 300, samples: 1 };
// As ModelSession compiles: convolution weights channels-last, permuted once at upload.
const COMPILE = { relayoutWeights: 'upload' } as const;

function conv3dGraph(s: Conv3dShape): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [1, s.cin, s.t, s.h, s.w], 'f32');
  const w = b.input('w', [s.cout, s.cin, 3, 3, 3], 'f32', 'weight');
  const bias = b.input('bias', [s.cout], 'f32', 'weight');
  const padded = b.pad(x, [[0, 0], [0, 0], [2, 0], [1, 1], [1, 1]], 'replicate');
  const y = b.conv(padded, w, [1, 1, 1]);
  const bb = b.expand(b.reshape(bias, [1, s.cout, 1, 1, 1]), y.shape);
  return b.graph([{ name: 'y', node: b.binary('add', y, bb) }]);
}

/** C = A·B; `role` 'weight' makes both operands weights (so that f16 storage covers them). */
function matmulGraph(s: MatmulShape, role: 'input' | 'weight' = 'input'): Graph {
  const b = new GraphBuilder();
  const a = b.input('a', [s.m, s.k], 'f32', role);
  const m: Node = b.input('b', [s.k, s.n], 'f32', role);
  return b.graph([{ name: 'c', node: b.matmul(a, m) }]);
}

/** Both operands weights (so that f16 storage covers them), + bias, tanh: an epilogue at the store. */
function matmulBiasTanhGraph(s: MatmulShape): Graph {
  const b = new GraphBuilder();
  const a = b.input('a', [s.m, s.k], 'f32', 'weight');
  const w = b.input('b', [s.k, s.n], 'f32', 'weight');
  const bias = b.input('bias', [s.n], 'f32', 'weight');
  const y = b.matmul(a, w);
  return b.graph([{ name: 'c', node: b.unary('tanh', b.binary('add', y, b.expand(b.reshape(bias, [1, s.n]), y.shape))) }]);
}

const host = (data: Float32Array, shape: readonly number[]): HostTensor => ({ dtype: 'F32', shape: [...shape], data });

/** Runs a one-kernel Kiln program on real data (for the correctness check) and times its kernel. */
/** A compiled one-kernel program after one run: its output, its FLOPs, its header's detail, and a timer. */
interface KilnKernel { readonly out: Float32Array; readonly flops: number; readonly detail: string; readonly time: () => Promise<number> }

async function kilnKernel(ctx: BenchContext, program: CompiledProgram, inputs: Readonly<Record<string, HostTensor>>, weights: ReadonlyMap<string, HostTensor>): Promise<KilnKernel> {
  const kernels = program.kernels.filter((k) => k.kind === 'contraction');
  if (kernels.length !== 1 || program.kernels.length !== 1) throw new Error(`expected one contraction kernel, got ${program.kernels.map((k) => k.name).join(', ')}`);
  const kernel = kernels[0];
  ctx.dev.setWeights(weights);
  const r = await ctx.dev.run(program, inputs, { readback: 'all' });
  const out = Object.values(r.outputs)[0].data as Float32Array;
  r.release();
  const detail = /\(([^)]*)\)/.exec(kernel.wgsl.split('\n')[1])?.[1] ?? '';
  return { out, flops: kernel.flops, detail, time: async () => (await timeKernel(ctx.dev, kernel, program.tensors, TIMING)).ms };
}

interface Baseline { readonly gflops: number; readonly out: Float32Array; readonly label: string; readonly k: RawKernel }

/** Times every variant once and keeps the fastest (its kernel stays alive for the final rounds; dispose it). */
async function bestBaseline<V>(ctx: BenchContext, what: string, variants: readonly V[], make: (v: V) => Promise<{ k: RawKernel; outIndex: number; outFloats: number; flops: number; label: string } | undefined>): Promise<Baseline> {
  let best: Baseline | undefined;
  for (const v of variants) {
    const made = await make(v);
    if (!made) continue;
    await made.k.run();
    const out = await made.k.read(made.outIndex, made.outFloats);
    const t = await made.k.time(TIMING);
    const g = gflops(made.flops, t.ms);
    ctx.log(`    hand-written ${what} ${made.label}: ${fmt(g)} GFLOP/s`);
    if (!best || g > best.gflops) {
      best?.k.dispose();
      best = { gflops: g, out, label: made.label, k: made.k };
    } else {
      made.k.dispose();
    }
  }
  if (!best) throw new Error(`no hand-written ${what} variant fits the case`);
  return best;
}

/** Tunes the graph's kernel (with subgroup-matrix candidates when `subgroupMatrix` is given) and compiles it with the choice. */
async function tunedProgram(ctx: BenchContext, graph: Graph, storage: StorageMode = 'f32', subgroupMatrix?: SubgroupMatrixSupport): Promise<{ program: CompiledProgram; chosen: string; candidates: number }> {
  const cache = TuneCache.load(ctx.tuneDir, (m) => ctx.log(`    warning: ${m}`));
  const timer = async (k: Parameters<typeof timeKernel>[1], tensors: Parameters<typeof timeKernel>[2]) => (await timeKernel(ctx.dev, k, tensors, { minMs: 300, samples: 2 })).ms;
  const tuned = await tuneGraph(graph, ctx.dev.target, timer, cache, { ...COMPILE, storage, subgroupMatrix, force: true });
  const main = tuned[0];
  return { program: compile(graph, ctx.dev.target, { ...COMPILE, storage, subgroupMatrix, tuning: cache.table(ctx.dev.target) }), chosen: describeTiles(main.chosen), candidates: main.candidates.length };
}

/** What bench/torch/ops.py reports: CPU times always, CUDA times where PyTorch sees a GPU. */
interface TorchOps {
  readonly conv3d_ms: number;
  readonly matmul_ms: number;
  readonly threads: number;
  readonly cuda_device?: string;
  readonly conv3d_cuda_ms?: number;
  readonly matmul_cuda_ms?: number;
}

/** `<op>_pytorch_cpu_gflops` and `<op>_vs_pytorch_cpu`, and the `_gpu` pair when PyTorch timed it on CUDA. */
function addPytorchFigures(ctx: BenchContext, op: string, kiln: number, flops: number, torch: TorchOps, cpuMs: number, cudaMs: number | undefined): void {
  const version = ctx.torch!.version;
  const cpu = gflops(flops, cpuMs);
  ctx.rec.add(`${op}_pytorch_cpu_gflops`, cpu, 'GFLOP/s', null, null, `PyTorch ${version} on the CPU, ${torch.threads} threads`);
  ctx.rec.add(`${op}_vs_pytorch_cpu`, kiln, 'GFLOP/s', `PyTorch ${version} CPU ${op} (${torch.threads} threads)`, kiln / cpu);
  if (cudaMs === undefined) return;
  const gpu = gflops(flops, cudaMs);
  ctx.rec.add(`${op}_pytorch_gpu_gflops`, gpu, 'GFLOP/s', null, null, `PyTorch ${version} on ${torch.cuda_device} (CUDA, f32, TF32 off)`);
  ctx.rec.add(`${op}_vs_pytorch_gpu`, kiln, 'GFLOP/s', `PyTorch ${version} CUDA ${op} on ${torch.cuda_device}`, kiln / gpu);
}

export async function runContractions(ctx: BenchContext): Promise<void> {
  const { dev, rec, log } = ctx;
  const torch = ctx.torch?.run<TorchOps>('ops.py', { conv3d: CONV3D_CASE, matmul: MATMUL_CASE, repeats: 3 });
  if (torch?.cuda_device) log(`PyTorch sees a CUDA GPU (${torch.cuda_device}): its figures are recorded too`);

  // ---- conv3d
  const s = CONV3D_CASE;
  log(`conv3d [1, ${s.cin}, ${s.t}, ${s.h}, ${s.w}] -> ${s.cout}, k3 (causal replicate pad + bias), ${fmt(conv3dFlops(s) / 1e9)} GFLOP`);
  const x = uniform(s.cin * s.t * s.h * s.w, 1);
  const w = uniform(s.cout * s.cin * 27, 2, -1 / Math.sqrt(s.cin * 27), 1 / Math.sqrt(s.cin * 27));
  const bias = uniform(s.cout, 3, -0.1, 0.1);
  const wLast = conv3dBaselineWeight(w, s.cin, s.cout);
  const outFloats = s.cout * s.t * s.h * s.w;
  const baseline = await bestBaseline(ctx, 'conv3d', CONV3D_VARIANTS, async (v) => {
    if (conv3dBaselineProblem(s, v)) return undefined;
    const k = await RawKernel.create(dev, `conv3d baseline rm${v.rm} nv${v.nv}`, conv3dBaselineWgsl(s, v), [{ data: x }, { data: wLast }, { data: bias }, { bytes: outFloats * 4 }], conv3dBaselineGrid(s, v));
    return { k, outIndex: 3, outFloats, flops: conv3dFlops(s), label: `(${v.rm} positions x ${4 * v.nv} channels per thread, ${v.wgC}x${v.wgP} threads)` };
  });
  const graph = conv3dGraph(s);
  const inputs = { x: host(x, [1, s.cin, s.t, s.h, s.w]) };
  const weights = new Map([['w', host(w, [s.cout, s.cin, 3, 3, 3])], ['bias', host(bias, [s.cout])]]);
  const heuristic = await kilnKernel(ctx, compile(graph, dev.target, COMPILE), inputs, weights);
  const errH = relativeError(heuristic.out, baseline.out);
  if (!(errH < 1e-4)) throw new Error(`Kiln's conv3d and the hand-written one disagree (relative error ${errH})`);
  log('    tuning Kiln conv3d...');
  const tuned = await tunedProgram(ctx, graph);
  const kt = await kilnKernel(ctx, tuned.program, inputs, weights);
  if (!(relativeError(kt.out, baseline.out) < 1e-4)) throw new Error('Kiln\'s tuned conv3d disagrees with the hand-written one');
  log('    final rounds: hand-written, Kiln heuristic, Kiln tuned, in turn...');
  const [msB, msH, msT] = await bestOfRounds([async () => (await baseline.k.time(TIMING)).ms, heuristic.time, kt.time]);
  baseline.k.dispose();
  const gB = gflops(conv3dFlops(s), msB);
  const gH = gflops(heuristic.flops, msH);
  const gT = gflops(kt.flops, msT);
  rec.add('conv3d_kiln_gflops', gT, 'GFLOP/s', null, null, `Kiln conv3d after tuning (${tuned.chosen}; best of ${tuned.candidates} candidates)`);
  rec.add('conv3d_handwritten_gflops', gB, 'GFLOP/s', null, null, `hand-written implicit-GEMM conv3d, best variant ${baseline.label}`);
  rec.add('conv3d_vs_handwritten', gT, 'GFLOP/s', 'hand-written WGSL conv3d (bench/baselines/conv3d.ts)', gT / gB);
  rec.add('conv3d_heuristic_vs_handwritten', gH, 'GFLOP/s', 'hand-written WGSL conv3d (bench/baselines/conv3d.ts)', gH / gB, `Kiln with the heuristic tiles, no tuning (${heuristic.detail})`);
  if (torch) addPytorchFigures(ctx, 'conv3d', gT, conv3dFlops(s), torch, torch.conv3d_ms, torch.conv3d_cuda_ms);
  await runSubgroupMatrixConv3d(ctx, inputs, weights, baseline.out);

  // ---- matmul
  const m = MATMUL_CASE;
  log(`matmul ${m.m}x${m.k} @ ${m.k}x${m.n}, ${fmt(matmulFlops(m) / 1e9)} GFLOP`);
  const a = uniform(m.m * m.k, 4);
  const bm = uniform(m.k * m.n, 5);
  const mmBaseline = await bestBaseline(ctx, 'matmul', MATMUL_VARIANTS, async (v) => {
    if (matmulBaselineProblem(m, v)) return undefined;
    const k = await RawKernel.create(dev, `matmul baseline ${describeMatmulVariant(v)}`, matmulBaselineWgsl(m, v), [{ data: a }, { data: bm }, { bytes: m.m * m.n * 4 }], matmulBaselineGrid(m, v));
    return { k, outIndex: 2, outFloats: m.m * m.n, flops: matmulFlops(m), label: describeMatmulVariant(v) };
  });
  const mg = matmulGraph(m);
  const mmInputs = { a: host(a, [m.m, m.k]), b: host(bm, [m.k, m.n]) };
  const mmH = await kilnKernel(ctx, compile(mg, dev.target, COMPILE), mmInputs, new Map());
  const errM = relativeError(mmH.out, mmBaseline.out);
  if (!(errM < 1e-5)) throw new Error(`Kiln's matmul and the hand-written one disagree (relative error ${errM})`);
  log('    tuning Kiln matmul...');
  const mmTuned = await tunedProgram(ctx, mg);
  const mmT = await kilnKernel(ctx, mmTuned.program, mmInputs, new Map());
  if (!(relativeError(mmT.out, mmBaseline.out) < 1e-5)) throw new Error('Kiln\'s tuned matmul disagrees with the hand-written one');
  log('    final rounds: hand-written, Kiln heuristic, Kiln tuned, in turn...');
  const [mmsB, mmsH, mmsT] = await bestOfRounds([async () => (await mmBaseline.k.time(TIMING)).ms, mmH.time, mmT.time]);
  mmBaseline.k.dispose();
  const gmB = gflops(matmulFlops(m), mmsB);
  const gmH = gflops(mmH.flops, mmsH);
  const gmT = gflops(mmT.flops, mmsT);
  rec.add('matmul_kiln_gflops', gmT, 'GFLOP/s', null, null, `Kiln matmul after tuning (${mmTuned.chosen})`);
  rec.add('matmul_handwritten_gflops', gmB, 'GFLOP/s', null, null, `hand-written matmul, best variant ${mmBaseline.label}`);
  rec.add('matmul_vs_handwritten', gmT, 'GFLOP/s', 'hand-written WGSL matmul (bench/baselines/matmul.ts)', gmT / gmB);
  rec.add('matmul_heuristic_vs_handwritten', gmH, 'GFLOP/s', 'hand-written WGSL matmul (bench/baselines/matmul.ts)', gmH / gmB, `Kiln with the heuristic tiles (${mmH.detail})`);
  if (torch) addPytorchFigures(ctx, 'matmul', gmT, matmulFlops(m), torch, torch.matmul_ms, torch.matmul_cuda_ms);

  await runSubgroupMatrixMatmul(ctx, a, bm, mmBaseline.out);
}

/** The configuration the tensor-core figures use, or undefined (said in the log). */
interface TensorCoreChoice {
  readonly only: SubgroupMatrixSupport;
  readonly storage: StorageMode;
  readonly label: string;
  /** Relative error allowed against the f32 hand-written result. */
  readonly tol: number;
}

function tensorCoreChoice(ctx: BenchContext, op: string): TensorCoreChoice | undefined {
  const { dev, log } = ctx;
  const offered = dev.subgroupMatrix;
  const cfg = offered?.configs
    .filter((c) => c.resultComponentType === 'f32' && (c.componentType === 'f32' || (c.componentType === 'f16' && dev.target.features.shaderF16)))
    .sort((x, y) => (x.componentType === 'f16' ? 0 : 1) - (y.componentType === 'f16' ? 0 : 1))[0];
  if (!offered || !cfg) {
    log(`${op} on subgroup matrices: skipped (${offered ? 'no configuration of this adapter accumulates f32 or f16 operands in f32' : 'this adapter reports no subgroup-matrix configurations'})`);
    return undefined;
  }
  const storage: StorageMode = cfg.componentType === 'f16' ? 'f16' : 'f32';
  return { only: { ...offered, configs: [cfg] }, storage, label: `${cfg.M}x${cfg.N}x${cfg.K} ${cfg.componentType}->f32`, tol: storage === 'f16' ? 3e-3 : 1e-4 };
}

/**
 * `<op>_subgroup_matrix_gflops` and the two ratios against Kiln's tuned kernel without
 * subgroup matrices with the same storage: the heuristic on subgroup matrices, and what
 * `kiln tune` picks among both. `tc` (already checked) is the heuristic's kernel; every other
 * kernel is checked against `reference` (the f32 hand-written result) before it is timed.
 */
async function tensorCoreFigures(ctx: BenchContext, op: string, choice: TensorCoreChoice, graph: Graph, tc: KilnKernel, errTc: number,
  inputs: Readonly<Record<string, HostTensor>>, weights: ReadonlyMap<string, HostTensor>, reference: Float32Array): Promise<void> {
  const { rec, log } = ctx;
  const { storage, only, tol } = choice;
  log(`    tuning Kiln's ${op} without subgroup matrices, ${storage} storage...`);
  const tuned = await tunedProgram(ctx, graph, storage);
  const rt = await kilnKernel(ctx, tuned.program, inputs, weights);
  if (!(relativeError(rt.out, reference) < tol)) throw new Error(`Kiln's register-tiled ${op} with ${storage} storage disagrees with the hand-written one`);
  // What `kiln tune` does on this adapter: fragment counts and register tiles, the fastest kept.
  log('    tuning with subgroup matrices among the candidates...');
  const both = await tunedProgram(ctx, graph, storage, only);
  const tb = await kilnKernel(ctx, both.program, inputs, weights);
  if (!(relativeError(tb.out, reference) < tol)) throw new Error(`Kiln's tuned ${op} (${both.chosen}) disagrees with the hand-written one`);
  log('    final rounds: subgroup matrices (heuristic), register tiles (tuned), tuned among both, in turn...');
  const [msTc, msRt, msTb] = await bestOfRounds([tc.time, rt.time, tb.time]);
  const gTc = gflops(tc.flops, msTc);
  const gRt = gflops(rt.flops, msRt);
  const gTb = gflops(tb.flops, msTb);
  rec.add(`${op}_subgroup_matrix_gflops`, gTc, 'GFLOP/s', null, null, `Kiln ${op} on subgroup matrices (${tc.detail}); relative error ${errTc.toExponential(1)} against the f32 hand-written result`);
  rec.add(`${op}_subgroup_matrix_vs_register_tiled`, gTc, 'GFLOP/s', `Kiln's tuned ${op} without subgroup matrices, ${storage} storage (${tuned.chosen})`, gTc / gRt);
  rec.add(`${op}_tuned_with_subgroup_matrix_vs_register_tiled`, gTb, 'GFLOP/s', `Kiln's tuned ${op} without subgroup matrices, ${storage} storage`, gTb / gRt, `tuned among fragment counts and register tiles: ${both.chosen} (${both.candidates} candidates)`);
}

/**
 * The conv3d on subgroup matrices (implicit GEMM on tensor cores), where the adapter reports a
 * configuration that accumulates in f32: the weight stored in its component type (f16 with an
 * f16 configuration), the input staged in it; bias through the staged store.
 */
async function runSubgroupMatrixConv3d(ctx: BenchContext, inputs: Readonly<Record<string, HostTensor>>, weights: ReadonlyMap<string, HostTensor>, reference: Float32Array): Promise<void> {
  const choice = tensorCoreChoice(ctx, 'conv3d');
  if (!choice) return;
  const s = CONV3D_CASE;
  ctx.log(`conv3d [1, ${s.cin}, ${s.t}, ${s.h}, ${s.w}] -> ${s.cout} on subgroup matrices (${choice.label}), ${choice.storage} storage`);
  const graph = conv3dGraph(s);
  const tc = await kilnKernel(ctx, compile(graph, ctx.dev.target, { ...COMPILE, storage: choice.storage, subgroupMatrix: choice.only }), inputs, weights);
  if (!tc.detail.includes('subgroup matrices')) throw new Error(`the conv3d did not compile to the subgroup-matrix kernel (${tc.detail})`);
  const errTc = relativeError(tc.out, reference);
  if (!(errTc < choice.tol)) throw new Error(`Kiln's subgroup-matrix conv3d disagrees with the hand-written one (relative error ${errTc}, allowed ${choice.tol})`);
  ctx.log(`    checked: ${errTc.toExponential(1)} relative error`);
  await tensorCoreFigures(ctx, 'conv3d', choice, graph, tc, errTc, inputs, weights, reference);
}

/**
 * The same matmul on subgroup matrices (tensor cores), where the adapter reports a
 * configuration that accumulates in f32, against Kiln's tuned register-tiled kernel with the
 * same operand storage (f16 for an f16 configuration: both operands are then weights, stored
 * f16). Both are checked against the f32 hand-written result first, within f16's tolerance.
 */
async function runSubgroupMatrixMatmul(ctx: BenchContext, a: Float32Array, b: Float32Array, reference: Float32Array): Promise<void> {
  const choice = tensorCoreChoice(ctx, 'matmul');
  if (!choice) return;
  const { dev, log } = ctx;
  const { only, storage, tol } = choice;
  const m = MATMUL_CASE;
  log(`matmul ${m.m}x${m.k} @ ${m.k}x${m.n} on subgroup matrices (${choice.label}), operands stored ${storage}`);
  const graph = matmulGraph(m, 'weight');
  const weights = new Map([['a', host(a, [m.m, m.k])], ['b', host(b, [m.k, m.n])]]);
  const tc = await kilnKernel(ctx, compile(graph, dev.target, { ...COMPILE, storage, subgroupMatrix: only }), {}, weights);
  if (!tc.detail.includes('subgroup matrices')) throw new Error(`the matmul did not compile to the subgroup-matrix kernel (${tc.detail})`);
  const errTc = relativeError(tc.out, reference);
  if (!(errTc < tol)) throw new Error(`Kiln's subgroup-matrix matmul disagrees with the hand-written one (relative error ${errTc}, allowed ${tol})`);
  // The staged store (an epilogue through workgroup memory) on the GPU too: + bias, tanh.
  const bias = uniform(m.n, 6, -0.5, 0.5);
  const staged = await kilnKernel(ctx, compile(matmulBiasTanhGraph(m), dev.target, { ...COMPILE, storage, subgroupMatrix: only }), {}, new Map([...weights, ['bias', host(bias, [m.n])]]));
  if (!staged.detail.includes('staged store')) throw new Error(`matmul + bias + tanh did not compile to the staged subgroup-matrix kernel (${staged.detail})`);
  const expected = reference.map((v, i) => Math.tanh(v + bias[i % m.n]));
  const errStaged = relativeError(staged.out, expected);
  if (!(errStaged < tol)) throw new Error(`Kiln's subgroup-matrix matmul + bias + tanh disagrees with the hand-written matmul's (relative error ${errStaged}, allowed ${tol})`);
  log(`    checked: plain ${errTc.toExponential(1)}, + bias + tanh (staged store) ${errStaged.toExponential(1)} relative error`);
  await tensorCoreFigures(ctx, 'matmul', choice, graph, tc, errTc, {}, weights, reference);
}
