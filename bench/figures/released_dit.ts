/**
 * The released transformer's step time, measured on its blocks. HYVideo-T/2's widths
 * (RELEASED_I2V_DIT_CONFIG: hidden 3072, 24 heads, MLP 12288, LLaVA 4096 / CLIP 768 text) with one
 * double- and one single-stream block instead of 20 and 40, deterministic random weights drawn
 * lazily (bench/lazy_weights.ts), stored f16 where the adapter has shader-f16.
 *
 * Sizes: on a GPU, upstream's 720p landscape bucket at 129 frames — latents [1, 16, 33, 88, 156],
 * 113,256 image tokens — with 359 text tokens; on a CPU adapter (lavapipe) a small grid
 * [1, 16, 2, 16, 16] (128 image tokens, 32 text tokens), since the full size would take hours.
 *
 * A warm forward is timed, then profiled per kernel (GPU timestamps where the adapter has them).
 * Kernel times are attributed to the double block, the single block or the rest (embeddings,
 * token refiner, final layer) by the module paths of their source ops, scaled to the warm
 * forward's wall time, and the step is extrapolated to the released depth: rest + 20 · double +
 * 40 · single (batch 1: upstream's I2V default has no classifier-free guidance). Upstream
 * publishes 1904 s for 50 steps on one GPU of unstated model (38.1 s a step); that is a note,
 * not a ratio, since it was not measured in this run.
 */
import { ndRotaryPosEmbed } from '../../models/hunyuan_dit/rope.ts';
import { HunyuanDit, RELEASED_I2V_DIT_CONFIG, ditProgram, type DitConfig, type DitInputs } from '../../models/hunyuan_dit/transformer.ts';
import { bindModule } from '../../compiler/bind.ts';
import type { CompiledProgram } from '../../compiler/kernel.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import type { BenchContext } from '../context.ts';
import { fmt, uniform } from '../harness.ts';
import { lazyRandomWeights } from '../lazy_weights.ts';

const BLOCKS: DitConfig = { ...RELEASED_I2V_DIT_CONFIG, mm_double_blocks_depth: 1, mm_single_blocks_depth: 1 };
const RELEASED_DEPTH = { double: RELEASED_I2V_DIT_CONFIG.mm_double_blocks_depth, single: RELEASED_I2V_DIT_CONFIG.mm_single_blocks_depth };
const ROPE_DIMS = [16, 56, 56];
const GPU_SIZE = { latents: [1, 16, 33, 88, 156], text: 359 };
const CPU_SIZE = { latents: [1, 16, 2, 16, 16], text: 32 };
/** Upstream's published single-GPU latency: 1904.08 s for 50 steps (spec/pipeline.md §12). */
const UPSTREAM_STEP_SECONDS = 1904.08 / 50;

type Part = 'double' | 'single' | 'rest';

/** Which part of the network a kernel belongs to, by its source ops' module paths (`op @ path (loc)`). */
function partOf(sourceOps: readonly string[]): Part {
  const paths = sourceOps.map((o) => o.split(' @ ')[1] ?? '');
  if (paths.some((p) => p.startsWith('double_blocks.'))) return 'double';
  if (paths.some((p) => p.startsWith('single_blocks.'))) return 'single';
  return 'rest';
}

const random = (shape: number[], seed: number, scale = 1): HostTensor => ({ dtype: 'F32', shape, data: uniform(shape.reduce((a, b) => a * b, 1), seed, -scale, scale) });

function blockInputs(latents: number[], text: number): DitInputs {
  const [, , t, h, w] = latents;
  const { cos, sin } = ndRotaryPosEmbed({ ropeDimList: ROPE_DIMS, grid: [t, h / 2, w / 2], theta: 256 });
  return {
    x: random(latents, 1), t: { dtype: 'F32', shape: [1], data: Float32Array.of(900) },
    textStates: random([1, text, BLOCKS.text_states_dim], 2), textMask: { dtype: 'I32', shape: [1, text], data: new Int32Array(text).fill(1) },
    textStates2: random([1, BLOCKS.text_states_dim_2], 3), freqsCos: cos, freqsSin: sin,
    guidance: { dtype: 'F32', shape: [1], data: Float32Array.of(6016) },
  };
}

export async function runReleasedDit(ctx: BenchContext): Promise<void> {
  const { dev, rec, log } = ctx;
  const size = dev.target.adapter.isFallbackAdapter ? CPU_SIZE : GPU_SIZE;
  const dtype = dev.target.features.shaderF16 ? 'f16' : 'f32';
  const bound = bindModule(ditProgram(), 'HYVideoDiffusionTransformer', { ...BLOCKS });
  const weights = lazyRandomWeights(new Map(bound.weights.map((w) => [w.key, w.shape])), 11, 'random released-width transformer weights (seed 11)');
  const dit = new HunyuanDit(BLOCKS, weights, { backend: 'webgpu', device: dev, dtype, tuning: 'cache' });
  const inputs = blockInputs(size.latents, size.text);
  const [, , t, h, w] = size.latents;
  const tokens = t * (h / 2) * (w / 2);
  const shape = `latents [${size.latents.join(', ')}] (${tokens} image + ${size.text} text tokens), ${dtype} storage`;
  log(`    released widths, 1 double + 1 single block, ${shape}`);

  let program: CompiledProgram | undefined;
  let t0 = performance.now();
  const first = await dit.call(inputs, { onPlan: (_, p) => { program = p; } });
  const firstSeconds = (performance.now() - t0) / 1000;
  const out = first.outputs.out.data as Float32Array;
  if (!out.every(Number.isFinite)) throw new Error('the released-width transformer blocks produced non-finite values');
  log(`    first call (compile, ${fmt(weights.drawn() / 1e6)} M weights drawn and uploaded, shader compiles): ${fmt(firstSeconds)} s`);

  t0 = performance.now();
  await dit.call(inputs);
  const wallMs = performance.now() - t0;
  const profiled = await dit.call(inputs, { profile: true });
  const entries = profiled.profile!;
  const kernels = program!.kernels;
  const ms: Record<Part, number> = { double: 0, single: 0, rest: 0 };
  const byKind = new Map<string, { ms: number; flops: number }>();
  entries.forEach((e, i) => {
    ms[partOf(e.sourceOps)] += e.ms;
    const kind = kernels[i]?.kind ?? 'unknown';
    const k = byKind.get(kind) ?? { ms: 0, flops: 0 };
    byKind.set(kind, { ms: k.ms + e.ms, flops: k.flops + e.flops });
  });
  const profileMs = ms.double + ms.single + ms.rest;
  const scale = wallMs / profileMs; // profiling runs one pass per kernel; the shares are what it tells
  const [double, single, rest] = [ms.double * scale, ms.single * scale, ms.rest * scale];
  const stepSeconds = (rest + RELEASED_DEPTH.double * double + RELEASED_DEPTH.single * single) / 1000;
  const where = `${shape}; kernel times from the profile scaled to the warm forward`;
  rec.add('released_dit_blocks_forward_ms', wallMs, 'ms', null, null, `warm forward of 1 double + 1 single block and the rest at released widths, ${kernels.length} kernels; ${shape}`);
  rec.add('released_dit_double_block_ms', double, 'ms', null, null, where);
  rec.add('released_dit_single_block_ms', single, 'ms', null, null, where);
  rec.add('released_dit_step_seconds', stepSeconds, 's', null, null,
    `extrapolated: rest ${fmt(rest)} ms + ${RELEASED_DEPTH.double} x double + ${RELEASED_DEPTH.single} x single; batch 1; ${shape}` +
    (size === GPU_SIZE ? `; upstream publishes ${fmt(UPSTREAM_STEP_SECONDS)} s a step on one GPU of unstated model (1904 s / 50 steps), not measured here` : '; a small grid on a CPU adapter, not upstream\'s size'));
  for (const [kind, k] of byKind) {
    if (k.flops === 0) continue;
    rec.add(`released_dit_${kind}_tflops`, k.flops / (k.ms / 1000) / 1e12, 'TFLOP/s', null, null, `${kind} kernels, ${fmt((100 * k.ms) / profileMs)}% of the profiled time; ${shape}`);
  }
  log(`    profiled: double ${fmt(ms.double)} ms, single ${fmt(ms.single)} ms, rest ${fmt(ms.rest)} ms (${profiled.profile!.length} kernels; warm forward ${fmt(wallMs)} ms)`);
}
