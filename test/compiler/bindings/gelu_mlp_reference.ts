/**
 * An independent float64 implementation of examples/gelu_mlp.kiln (plain loops, no Kiln), and
 * the paths of the example files, for the tests of the bindings and the CLI commands.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../../../runtime/tensor.ts';
import { toFloat64 } from '../../../runtime/tensor.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const EXAMPLE = join(ROOT, 'examples/gelu_mlp.kiln');
export const EXAMPLE_CONFIG = join(ROOT, 'examples/gelu_mlp.json');

/** PyTorch's GELU with approximate="tanh". */
export const geluTanh = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** y[r, o] = sum_i x[r, i] * w[o, i] + b[o] over rows r of a row-major [rows, inF] input. */
function linear(x: Float64Array, rows: number, inF: number, w: Float64Array, b: Float64Array, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = b[o];
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = acc;
    }
  }
  return y;
}

/** GeluMLP.forward_with_hidden on x [..., dim]: { y, h } (h after the GELU). */
export function geluMlp(weights: ReadonlyMap<string, HostTensor>, x: HostTensor): { y: Float64Array; h: Float64Array } {
  const w1 = weights.get('fc1.weight')!;
  const [hidden, dim] = w1.shape;
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const pre = linear(toFloat64(x), rows, dim, toFloat64(w1), toFloat64(weights.get('fc1.bias')!), hidden);
  const h = pre.map(geluTanh);
  const y = linear(h, rows, hidden, toFloat64(weights.get('fc2.weight')!), toFloat64(weights.get('fc2.bias')!), dim);
  return { y, h };
}

/** Largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
