/**
 * Attention, the kernel that decides the released transformer's speed (86% of a block's flops
 * at 720p): Kiln's flash-attention kernel against PyTorch, and, where the adapter reports
 * subgroup-matrix configurations, Kiln's tensor-core kernel against its scalar one.
 *
 * Case: softmax(q·kᵀ/√d)·v over heads of the transformer's width (d = 128): 24 heads × 4096
 * tokens on a GPU, 2 heads × 512 tokens on a CPU adapter. q, k and v are weights of the graph
 * so that f16 storage covers them (program inputs stay f32). Every kernel's output is checked
 * before its time counts, on a sample of query rows against softmax attention written out here
 * in float64. PyTorch runs the same sum as its users write it: on the CPU in f32; on a CUDA GPU
 * in f32 (TF32 off, as Kiln's scalar kernel computes) and, with PyTorch 2, its fused
 * scaled_dot_product_attention in f16, the tensor-core kernel's peer.
 */
import { GraphBuilder } from '../../compiler/builder.ts';
import { compile } from '../../compiler/compile.ts';
import type { SubgroupMatrixConfig } from '../../compiler/codegen/subgroup_matrix.ts';
import type { Graph } from '../../compiler/ir.ts';
import type { CompiledProgram } from '../../compiler/kernel.ts';
import type { StorageMode } from '../../compiler/passes/storage.ts';
import { timeKernel } from '../../runtime/gpu/kernel-timer.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import type { BenchContext } from '../context.ts';
import { bestOfRounds, fmt, gflops, uniform } from '../harness.ts';

interface AttentionCase { readonly heads: number; readonly tokens: number; readonly dim: number }

const GPU_CASE: AttentionCase = { heads: 24, tokens: 4096, dim: 128 };
const CPU_CASE: AttentionCase = { heads: 2, tokens: 512, dim: 128 };
const TIMING = { minMs: 300, samples: 1 };
/** Query rows of each head checked against the float64 sum (the first and the last few). */
const CHECKED_ROWS = 8;

const attentionFlops = (c: AttentionCase): number => 2 * c.heads * c.tokens * c.tokens * 2 * c.dim;

function attentionGraph(c: AttentionCase): Graph {
  const b = new GraphBuilder();
  const shape = [c.heads, c.tokens, c.dim];
  const [q, k, v] = ['q', 'k', 'v'].map((n) => b.input(n, shape, 'f32', 'weight'));
  const s = b.binary('mul', b.matmul(q, b.permute(k, [0, 2, 1])), b.const(1 / Math.sqrt(c.dim), [c.heads, c.tokens, c.tokens]));
  const e = b.unary('exp', b.binary('sub', s, b.expand(b.reduce('max', s, [2]), s.shape)));
  const p = b.binary('div', e, b.expand(b.reduce('sum', e, [2]), e.shape));
  return b.graph([{ name: 'o', node: b.matmul(p, v) }]);
}

/** Row `i` of head `h` of softmax(q·kᵀ/√d)·v, in float64. */
function referenceRow(c: AttentionCase, q: Float32Array, k: Float32Array, v: Float32Array, h: number, i: number): Float64Array {
  const { tokens: n, dim: d } = c;
  const base = h * n * d;
  const scores = new Float64Array(n);
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    let dot = 0;
    for (let f = 0; f < d; f++) dot += q[base + i * d + f] * k[base + j * d + f];
    scores[j] = dot / Math.sqrt(d);
    max = Math.max(max, scores[j]);
  }
  let sum = 0;
  for (let j = 0; j < n; j++) sum += (scores[j] = Math.exp(scores[j] - max));
  const out = new Float64Array(d);
  for (let j = 0; j < n; j++) for (let f = 0; f < d; f++) out[f] += (scores[j] / sum) * v[base + j * d + f];
  return out;
}

/** Worst relative error (over the sampled rows' norms) of `out` against the float64 sum. */
function sampledError(c: AttentionCase, out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array): number {
  const rows = [...Array(CHECKED_ROWS / 2).keys(), ...Array.from({ length: CHECKED_ROWS / 2 }, (_, i) => c.tokens - 1 - i)];
  let worst = 0;
  for (let h = 0; h < c.heads; h++) {
    for (const i of rows) {
      const ref = referenceRow(c, q, k, v, h, i);
      let [num, den] = [0, 0];
      for (let f = 0; f < c.dim; f++) {
        num += (out[(h * c.tokens + i) * c.dim + f] - ref[f]) ** 2;
        den += ref[f] ** 2;
      }
      worst = Math.max(worst, Math.sqrt(num / den));
    }
  }
  return worst;
}

interface Timed { readonly detail: string; readonly error: number; readonly time: () => Promise<number> }

/** Compiles, runs once (the output is checked) and returns a timer for the one attention kernel. */
async function attentionKernel(ctx: BenchContext, c: AttentionCase, storage: StorageMode, configs: readonly SubgroupMatrixConfig[] | undefined, data: Record<'q' | 'k' | 'v', Float32Array>): Promise<Timed> {
  const support = configs && ctx.dev.subgroupMatrix ? { ...ctx.dev.subgroupMatrix, configs } : undefined;
  const program: CompiledProgram = compile(attentionGraph(c), ctx.dev.target, { storage, subgroupMatrix: support });
  const kernel = program.kernels.find((k) => k.kind === 'attention');
  if (!kernel || program.kernels.length !== 1) throw new Error(`expected one attention kernel, got ${program.kernels.map((k) => `${k.name} (${k.kind})`).join(', ')}`);
  const shape = [c.heads, c.tokens, c.dim];
  ctx.dev.setWeights(new Map<string, HostTensor>(Object.entries(data).map(([n, d]) => [n, { dtype: 'F32', shape, data: d }])));
  const r = await ctx.dev.run(program, {}, { readback: 'all' });
  const out = r.outputs.o.data as Float32Array;
  r.release();
  const detail = /\(([^)]*)\)/.exec(kernel.wgsl.split('\n')[1])?.[1] ?? '';
  return { detail, error: sampledError(c, out, data.q, data.k, data.v), time: async () => (await timeKernel(ctx.dev, kernel, program.tensors, TIMING)).ms };
}

/** What bench/torch/attention.py reports. */
interface TorchAttention {
  readonly cpu_ms: number;
  readonly threads: number;
  readonly cuda_device?: string;
  readonly cuda_f32_ms?: number;
  readonly cuda_sdpa_f16_ms?: number;
}

export async function runAttention(ctx: BenchContext): Promise<void> {
  const { dev, rec, log } = ctx;
  const c = dev.target.adapter.isFallbackAdapter ? CPU_CASE : GPU_CASE;
  const flops = attentionFlops(c);
  const what = `${c.heads} heads x ${c.tokens} tokens, d ${c.dim}`;
  log(`attention ${what}: ${fmt(flops / 1e9)} GFLOP`);
  const n = c.heads * c.tokens * c.dim;
  const data = { q: uniform(n, 11, -2, 2), k: uniform(n, 12, -2, 2), v: uniform(n, 13, -1, 1) };

  const scalar = await attentionKernel(ctx, c, 'f32', undefined, data);
  if (!(scalar.error < 1e-4)) throw new Error(`Kiln's attention disagrees with the float64 sum (relative error ${scalar.error})`);
  const [ms] = await bestOfRounds([scalar.time]);
  const kiln = gflops(flops, ms);
  rec.add('attention_kiln_gflops', kiln, 'GFLOP/s', null, null, `Kiln's flash attention, f32 (${scalar.detail}); ${what}`);

  const torch = ctx.torch?.run<TorchAttention>('attention.py', { ...c, repeats: 3 });
  if (torch) {
    const version = ctx.torch!.version;
    const cpu = gflops(flops, torch.cpu_ms);
    rec.add('attention_pytorch_cpu_gflops', cpu, 'GFLOP/s', null, null, `PyTorch ${version} on the CPU, ${torch.threads} threads, f32: softmax(q kᵀ / √d) v`);
    rec.add('attention_vs_pytorch_cpu', kiln, 'GFLOP/s', `PyTorch ${version} CPU attention (${torch.threads} threads)`, kiln / cpu);
    if (torch.cuda_f32_ms !== undefined) {
      const gpu = gflops(flops, torch.cuda_f32_ms);
      rec.add('attention_pytorch_gpu_gflops', gpu, 'GFLOP/s', null, null, `PyTorch ${version} on ${torch.cuda_device} (CUDA, f32, TF32 off)`);
      rec.add('attention_vs_pytorch_gpu', kiln, 'GFLOP/s', `PyTorch ${version} CUDA attention, f32, on ${torch.cuda_device}`, kiln / gpu);
    }
  }

  const configs = (dev.subgroupMatrix?.configs ?? []).filter((cfg) => cfg.resultComponentType === 'f32' && cfg.componentType === 'f16');
  if (configs.length === 0 || !dev.target.features.shaderF16) {
    log(`attention on subgroup matrices: skipped (${dev.subgroupMatrix ? 'no configuration of this adapter multiplies f16 into f32' : 'this adapter reports no subgroup-matrix configurations'})`);
    return;
  }
  const tc = await attentionKernel(ctx, c, 'f16', configs, data);
  if (!tc.detail.includes('subgroup matrices')) throw new Error(`the attention did not compile to the subgroup-matrix kernel (${tc.detail})`);
  if (!(tc.error < 3e-3)) throw new Error(`Kiln's tensor-core attention disagrees with the float64 sum (relative error ${tc.error})`);
  const scalarF16 = await attentionKernel(ctx, c, 'f16', undefined, data);
  log('    final rounds: subgroup matrices, scalar kernel (both f16 storage), in turn...');
  const [msTc, msScalar] = await bestOfRounds([tc.time, scalarF16.time]);
  const gTc = gflops(flops, msTc);
  rec.add('attention_subgroup_matrix_gflops', gTc, 'GFLOP/s', null, null, `Kiln's attention on subgroup matrices (${tc.detail}); relative error ${tc.error.toExponential(1)} on sampled rows`);
  rec.add('attention_subgroup_matrix_vs_scalar', gTc, 'GFLOP/s', `Kiln's scalar attention, f16 storage (${scalarF16.detail})`, gTc / gflops(flops, msScalar));
  if (torch?.cuda_sdpa_f16_ms !== undefined) {
    const sdpa = gflops(flops, torch.cuda_sdpa_f16_ms);
    rec.add('attention_pytorch_gpu_sdpa_f16_gflops', sdpa, 'GFLOP/s', null, null, `PyTorch ${ctx.torch!.version} scaled_dot_product_attention, f16, on ${torch.cuda_device}`);
    rec.add('attention_subgroup_matrix_vs_pytorch_gpu_sdpa_f16', gTc, 'GFLOP/s', `PyTorch scaled_dot_product_attention, f16, on ${torch.cuda_device}`, gTc / sdpa);
  }
}
