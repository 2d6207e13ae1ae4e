/**
 * Figure (b): the adapter's copy bandwidth (bench/baselines/copy.ts, the best of a few
 * per-thread widths) and the share of it that Kiln's memory-bound kernels reach: GroupNorm +
 * SiLU on a [1, 128, T, H, W] feature map (featureShape; a statistics reduction, then one elementwise kernel that
 * normalises, scales, shifts and applies SiLU — as a graph output; inside the VAE this work
 * is folded into the next convolution's loads) and a residual add of two such tensors.
 * Bandwidth counts the bytes each kernel's bindings hold (read + written), over its time.
 * Copies and kernels are timed in turn over three rounds, best of each, so that a drift in
 * the machine's speed hits the copy and the kernels compared with it alike.
 */
import { GraphBuilder } from '../../compiler/builder.ts';
import { compile } from '../../compiler/compile.ts';
import type { Graph, Node } from '../../compiler/ir.ts';
import { numel } from '../../compiler/ir.ts';
import { timeKernel } from '../../runtime/gpu/kernel-timer.ts';
import { COPY_WORKGROUP, copyGrid, copyWgsl } from '../baselines/copy.ts';
import type { BenchContext } from '../context.ts';
import { RawKernel, bestOfRounds, fmt, gbps } from '../harness.ts';

/**
 * The feature map: 10 MiB on a CPU adapter (lavapipe: its caches are a few MiB anyway, and a
 * larger one only lengthens the run); 64 MiB on a GPU, so that copies and kernels stream from
 * memory rather than from a large last-level cache (an H200 has 60 MB of L2, where a 10 MiB
 * tensor read over and over would measure the cache).
 */
function featureShape(ctx: BenchContext): number[] {
  return ctx.dev.target.adapter.isFallbackAdapter ? [1, 128, 5, 64, 64] : [1, 128, 8, 128, 128];
}
const GROUPS = 32;
// A 64 MiB copy takes ~30 µs on a GPU with HBM: up to 8000 dispatches keep a sample near the
// 200 ms asked for, so the ~1 ms granularity of the completion wait (wait.ts) stays under 1%.
const TIMING = { minMs: 200, samples: 3, maxDispatches: 8000 };

function groupNormSiluGraph(shape: readonly number[]): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', shape, 'f32');
  const gamma = b.input('gamma', [shape[1]], 'f32', 'weight');
  const beta = b.input('beta', [shape[1]], 'f32', 'weight');
  const g = b.reshape(x, [shape[0], GROUPS, numel(shape) / (shape[0] * GROUPS)]);
  const mean = (v: Node): Node => { const s = b.reduce('sum', v, [2]); return b.binary('mul', s, b.const(1 / v.shape[2], s.shape)); };
  const mu = mean(g);
  const d = b.binary('sub', g, b.expand(mu, g.shape));
  const rstd = b.unary('rsqrt', b.binary('add', mean(b.binary('mul', d, d)), b.const(1e-6, mu.shape)));
  const y = b.reshape(b.binary('mul', d, b.expand(rstd, g.shape)), shape);
  const chan = (v: Node): Node => b.expand(b.reshape(v, [1, shape[1], 1, 1, 1]), shape);
  const n = b.binary('add', b.binary('mul', y, chan(gamma)), chan(beta));
  const silu = b.binary('div', n, b.binary('add', b.const(1, shape), b.unary('exp', b.unary('neg', n))));
  return b.graph([{ name: 'y', node: silu }]);
}

function residualAdd(shape: readonly number[]): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', shape, 'f32');
  const r = b.input('r', shape, 'f32');
  return b.graph([{ name: 'y', node: b.binary('add', x, r) }]);
}

/** A timed contender; `best` is filled in by the interleaved rounds. */
interface Contender { readonly label: string; readonly bytes: number; readonly time: () => Promise<number>; best: number }

/** One contender per kernel of a Kiln program. */
function programKernels(ctx: BenchContext, graph: Graph): Contender[] {
  const program = compile(graph, ctx.dev.target, {});
  return program.kernels.map((k) => ({ label: `${k.name} (${k.kind})`, bytes: k.bytes, best: Infinity, time: async () => (await timeKernel(ctx.dev, k, program.tensors, TIMING)).ms }));
}

const rate = (cs: readonly Contender[]): number => gbps(cs.reduce((a, c) => a + c.bytes, 0), cs.reduce((a, c) => a + c.best, 0));

export async function runBandwidth(ctx: BenchContext): Promise<void> {
  const { dev, rec, log } = ctx;
  const shape = featureShape(ctx);
  const floats = numel(shape);
  const vec4s = floats / 4;
  const copies: (Contender & { per: number; k: RawKernel })[] = [];
  for (const per of [1, 4, 8, 16]) {
    const k = await RawKernel.create(dev, `copy x${per}`, copyWgsl(vec4s, per), [{ bytes: floats * 4 }, { bytes: floats * 4 }], copyGrid(vec4s, per, dev.target.limits.maxComputeWorkgroupsPerDimension));
    copies.push({ label: `copy, ${per} vec4 per thread (${COPY_WORKGROUP} threads per workgroup)`, per, k, bytes: 2 * floats * 4, best: Infinity, time: async () => (await k.time(TIMING)).ms });
  }
  const gnKernels = programKernels(ctx, groupNormSiluGraph(shape));
  const addKernels = programKernels(ctx, residualAdd(shape));
  try {
    // Timed in turn over three rounds: a drift in this machine's speed hits the copy and the kernels compared with it alike.
    const all = [...copies, ...gnKernels, ...addKernels];
    (await bestOfRounds(all.map((c) => c.time))).forEach((ms, i) => { all[i].best = ms; });
  } finally {
    for (const c of copies) c.k.dispose();
  }
  for (const c of [...copies, ...gnKernels, ...addKernels]) log(`    ${c.label}: ${fmt(gbps(c.bytes, c.best))} GB/s`);
  const fastest = copies.reduce((a, c) => (c.best < a.best ? c : a));
  const copy = gbps(fastest.bytes, fastest.best);
  rec.add('copy_bandwidth', copy, 'GB/s', null, null, `vec4 copy of ${fmt(floats * 4 / 2 ** 20)} MiB (read + write counted), ${fastest.per} vec4 per thread; best of 3 rounds timed in turn with the kernels below`);

  const gnRate = rate(gnKernels);
  rec.add('groupnorm_silu_vs_copy_bandwidth', gnRate, 'GB/s', 'copy bandwidth (bench/baselines/copy.ts)', gnRate / copy,
    `GroupNorm(${GROUPS}) + SiLU on [${shape.join(', ')}]: ${gnKernels.length} kernels (statistics, then normalise-SiLU), bytes of their bindings over their summed time`);
  const minimal = gbps(2 * floats * 4, gnKernels.reduce((a, c) => a + c.best, 0));
  rec.add('groupnorm_silu_effective_bandwidth', minimal, 'GB/s', 'copy bandwidth (bench/baselines/copy.ts)', minimal / copy, 'counting only one read of x and one write of y (x is read twice: by the statistics kernel, then by the normalise kernel)');
  const addRate = rate(addKernels);
  rec.add('residual_add_vs_copy_bandwidth', addRate, 'GB/s', 'copy bandwidth (bench/baselines/copy.ts)', addRate / copy, `x + r on [${shape.join(', ')}], one elementwise kernel`);
}
