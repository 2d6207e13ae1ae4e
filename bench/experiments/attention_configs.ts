/**
 * Kiln's scalar attention kernels under each CPU-adapter configuration, on three shapes: the
 * lane-split kernel (partial dot products through workgroup memory) and the whole-rows kernel
 * (`lanes: 1`, compiler/codegen/attention_rows.ts). The figures behind lavapipe's default in
 * compiler/codegen/tile.ts (defaultAttentionConfig). Each kernel is timed alone, on whatever
 * the pooled buffers hold (the time does not depend on the values).
 *
 *   npx tsx bench/experiments/attention_configs.ts
 */
import { GraphBuilder } from '../../compiler/builder.ts';
import type { AttentionConfig } from '../../compiler/codegen/tile.ts';
import { compile } from '../../compiler/compile.ts';
import { acquireDevice, releaseDevice } from '../../runtime/device.ts';
import { timeKernel } from '../../runtime/gpu/kernel-timer.ts';

const CONFIGS: readonly AttentionConfig[] = [
  { rows: 4, lanes: 4, perThread: 8 }, { rows: 4, lanes: 8, perThread: 4 }, { rows: 8, lanes: 4, perThread: 4 },
  { rows: 16, lanes: 1, perThread: 4 }, { rows: 8, lanes: 1, perThread: 8 }, { rows: 32, lanes: 1, perThread: 2 },
];
const SHAPES: readonly (readonly [number, number, number])[] = [[2, 512, 128], [4, 2600, 32], [1, 1024, 512]];

const dev = await acquireDevice();
console.log(`attention kernels on ${dev.describe()} (GFLOP/s)`);
for (const [heads, tokens, dim] of SHAPES) {
  const b = new GraphBuilder();
  const [q, k, v] = ['q', 'k', 'v'].map((n) => b.input(n, [heads, tokens, dim], 'f32', 'weight'));
  const s = b.binary('mul', b.matmul(q, b.permute(k, [0, 2, 1])), b.const(1 / Math.sqrt(dim), [heads, tokens, tokens]));
  const e = b.unary('exp', b.binary('sub', s, b.expand(b.reduce('max', s, [2]), s.shape)));
  const p = b.binary('div', e, b.expand(b.reduce('sum', e, [2]), e.shape));
  const graph = b.graph([{ name: 'o', node: b.matmul(p, v) }]);
  const flops = 4 * heads * tokens * tokens * dim;
  console.log(`${heads} heads x ${tokens} tokens, d ${dim}:`);
  for (const attention of CONFIGS) {
    const program = compile(graph, dev.target, { tiles: { attention } });
    const t = await timeKernel(dev, program.kernels[0], program.tensors, { minMs: 200, samples: 1 });
    const kind = attention.lanes === 1 ? 'whole rows' : 'lane split';
    console.log(`  ${kind.padEnd(10)} ${attention.rows} x ${attention.lanes} lanes x ${attention.perThread} queries: ${(flops / t.ms / 1e6).toFixed(2)}`);
  }
}
await releaseDevice();
