/**
 * Figure (d): TensorFlow.js's WebGPU backend (@tensorflow/tfjs-backend-webgpu, a dev
 * dependency) on the same Dawn device as Kiln — its WebGPUBackend is constructed on Kiln's
 * GPUDevice — for the matmul case and a 2-D convolution [1, 128, 64, 64] -> 128, k = 3, zero
 * "same" padding (NHWC for TF.js, NCHW for Kiln; both f32). TF.js is timed over 10 calls with
 * one readback at the end (its ops are asynchronous), Kiln's kernel with the kernel timer.
 */
import { GraphBuilder } from '../../compiler/builder.ts';
import { compile } from '../../compiler/compile.ts';
import type { Graph } from '../../compiler/ir.ts';
import { timeKernel } from '../../runtime/gpu/kernel-timer.ts';
import { MATMUL_CASE } from './contractions.ts';
import type { BenchContext } from '../context.ts';
import { fmt, gflops } from '../harness.ts';

const CONV2D = { cin: 128, cout: 128, h: 64, w: 64 };
const conv2dFlops = 2 * CONV2D.cout * CONV2D.cin * 9 * CONV2D.h * CONV2D.w;

function conv2dGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [1, CONV2D.cin, CONV2D.h, CONV2D.w], 'f32');
  const w = b.input('w', [CONV2D.cout, CONV2D.cin, 3, 3], 'f32', 'weight');
  return b.graph([{ name: 'y', node: b.conv(b.pad(x, [[0, 0], [0, 0], [1, 1], [1, 1]], 'constant', 0), w, [1, 1]) }]);
}

function matmulGraph(): Graph {
  const b = new GraphBuilder();
  const a = b.input('a', [MATMUL_CASE.m, MATMUL_CASE.k], 'f32');
  const m = b.input('b', [MATMUL_CASE.k, MATMUL_CASE.n], 'f32');
  return b.graph([{ name: 'c', node: b.matmul(a, m) }]);
}

type Tf = typeof import('@tensorflow/tfjs-core');

/** TF.js on Kiln's device, or a sentence saying why not. */
async function loadTf(ctx: BenchContext): Promise<Tf | string> {
  try {
    // The backend module reads navigator.gpu when it registers its own factory; ours replaces it.
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: {} }, configurable: true, writable: true });
    const tf = await import('@tensorflow/tfjs-core');
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    // TF.js registers its kernels under the backend name 'webgpu': replace that backend's
    // factory (which would open a device of its own) with one on Kiln's device.
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new WebGPUBackend(ctx.dev.device, ctx.dev.adapter.info as never));
    if (!(await tf.setBackend('webgpu'))) return 'tf.setBackend refused the WebGPU backend on the Kiln device';
    await tf.ready();
    return tf;
  } catch (err) {
    return `TensorFlow.js's WebGPU backend did not start: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
}

async function tfTime(tf: Tf, f: () => import('@tensorflow/tfjs-core').Tensor, reps = 10): Promise<number> {
  const warm = f();
  await warm.data();
  warm.dispose();
  let best = Infinity;
  for (let round = 0; round < 2; round++) {
    const t0 = performance.now();
    let last: import('@tensorflow/tfjs-core').Tensor | undefined;
    for (let i = 0; i < reps; i++) {
      last?.dispose();
      last = f();
    }
    await last!.data();
    last!.dispose();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best;
}

async function kilnTime(ctx: BenchContext, g: Graph): Promise<number> {
  const p = compile(g, ctx.dev.target, { relayoutWeights: 'upload' });
  let ms = 0;
  for (const k of p.kernels) ms += (await timeKernel(ctx.dev, k, p.tensors, { minMs: 300, samples: 3 })).ms;
  return ms;
}

export async function runTfjs(ctx: BenchContext): Promise<string | undefined> {
  const tf = await loadTf(ctx);
  if (typeof tf === 'string') {
    ctx.log(`    ${tf}`);
    return tf;
  }
  const version = tf.version_core;
  const m = MATMUL_CASE;
  const a = tf.randomUniform([m.m, m.k]);
  const b = tf.randomUniform([m.k, m.n]);
  const tfMm = await tfTime(tf, () => tf.matMul(a, b));
  const kMm = await kilnTime(ctx, matmulGraph());
  const flopsMm = 2 * m.m * m.k * m.n;
  ctx.log(`    matmul ${m.m}x${m.k}x${m.n}: TF.js ${fmt(gflops(flopsMm, tfMm))} GFLOP/s, Kiln ${fmt(gflops(flopsMm, kMm))} GFLOP/s (heuristic tiles)`);
  ctx.rec.add('matmul_vs_tfjs_webgpu', gflops(flopsMm, kMm), 'GFLOP/s', `TensorFlow.js ${version} WebGPU backend on the same Dawn device: ${fmt(gflops(flopsMm, tfMm))} GFLOP/s`, tfMm / kMm, 'Kiln with heuristic tiles');
  const x = tf.randomUniform([1, CONV2D.h, CONV2D.w, CONV2D.cin]);
  const w = tf.randomUniform([3, 3, CONV2D.cin, CONV2D.cout]);
  const tfConv = await tfTime(tf, () => tf.conv2d(x as never, w as never, 1, 'same'));
  const kConv = await kilnTime(ctx, conv2dGraph());
  ctx.log(`    conv2d [1, ${CONV2D.cin}, ${CONV2D.h}, ${CONV2D.w}] -> ${CONV2D.cout} k3: TF.js ${fmt(gflops(conv2dFlops, tfConv))} GFLOP/s, Kiln ${fmt(gflops(conv2dFlops, kConv))} GFLOP/s`);
  ctx.rec.add('conv2d_vs_tfjs_webgpu', gflops(conv2dFlops, kConv), 'GFLOP/s', `TensorFlow.js ${version} WebGPU backend on the same Dawn device: ${fmt(gflops(conv2dFlops, tfConv))} GFLOP/s`, tfConv / kConv, 'Kiln with heuristic tiles');
  for (const t of [a, b, x, w]) t.dispose();
  tf.removeBackend('webgpu');
  return undefined;
}
