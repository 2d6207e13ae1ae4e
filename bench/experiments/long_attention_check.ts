/**
 * Flash attention over more keys than a 32-bit index could address as an L × L matrix: L = 65,600
 * queries and keys (L² > 2^32), a mask that drops the last 7 keys. The compiler no longer refuses
 * it (the scores are never stored); this runs it on the WebGPU adapter and compares six output
 * rows with a direct float64 softmax. About 1.5 minutes on lavapipe.
 *
 *   npx tsx bench/experiments/long_attention_check.ts [--length 65600]
 */
import { parseArgs } from 'node:util';
import { GraphBuilder } from '../../compiler/builder.ts';
import { compile } from '../../compiler/compile.ts';
import { acquireDevice, releaseDevice } from '../../runtime/device.ts';
import { attention } from '../../test/compiler/support/graphs.ts';

const { values } = parseArgs({ options: { length: { type: 'string', default: '65600' } } });
const l = Number(values.length);
const d = 4;
const dropped = 7;
const b = new GraphBuilder();
const [q, k, v] = ['q', 'k', 'v'].map((n) => b.input(n, [1, l, d], 'f32'));
const keep = b.binary('lt', b.iota([l], 0), b.const(l - dropped, [l], 'i32'));
const graph = b.graph([{ name: 'o', node: attention(b, q, k, v, b.expand(b.reshape(keep, [1, l]), [l, l])) }]);

let s = 1;
const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const [Q, K, V] = [0, 1, 2].map(() => Float32Array.from({ length: l * d }, rnd));
const device = await acquireDevice();
try {
  const program = compile(graph, device.target);
  const t0 = performance.now();
  const input = (data: Float32Array) => ({ dtype: 'F32' as const, shape: [1, l, d], data });
  const r = await device.run(program, { q: input(Q), k: input(K), v: input(V) }, { readback: 'all' });
  const O = r.outputs.o.data as Float32Array;
  r.release();
  let worst = 0;
  for (const row of [0, 1, 12_345, Math.floor(l * 0.6), l - dropped - 1, l - 1]) {
    const scores = Float64Array.from({ length: l - dropped }, (_, j) => {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += Q[row * d + c] * K[j * d + c];
      return dot / Math.sqrt(d);
    });
    const m = Math.max(...scores);
    let sum = 0;
    const o = new Float64Array(d);
    scores.forEach((x, j) => {
      const e = Math.exp(x - m);
      sum += e;
      for (let c = 0; c < d; c++) o[c] += e * V[j * d + c];
    });
    for (let c = 0; c < d; c++) worst = Math.max(worst, Math.abs(o[c] / sum - O[row * d + c]));
  }
  console.log(`attention over ${l} keys (${(l * l).toLocaleString('en-US')} scores) on ${device.describe()}: ${((performance.now() - t0) / 1000).toFixed(1)} s; max abs error on 6 rows ${worst.toExponential(2)}`);
} finally {
  await releaseDevice();
}
