/**
 * Reductions of the reference interpreter: sum and max over a set of axes, which stay in the
 * output with size 1.
 *
 * The input is read once in row-major order while an odometer tracks the output position
 * (reduced axes have output stride 0). Each output therefore accumulates its elements left to
 * right in row-major order of the reduced positions, in float64. An empty reduced axis gives
 * the identity: 0 for sum, -Infinity for max (-2^31 for i32, which has no -Infinity). i32 sums
 * are exact in float64 (up to 2^53) and then wrapped to 32 bits, which equals 32-bit wrapping
 * arithmetic; max propagates NaN.
 */
import type { DType, ReduceFn } from '../ir.ts';
import { numel, stridesOf } from '../ir.ts';

export function evalReduce(
  fn: ReduceFn, dtype: DType, x: Float64Array, inShape: readonly number[], axes: readonly number[],
): Float64Array {
  const rank = inShape.length;
  const reduced = new Array<boolean>(rank).fill(false);
  for (const a of axes) reduced[a] = true;
  const outShape = inShape.map((d, i) => (reduced[i] ? 1 : d));
  const out = new Float64Array(numel(outShape));
  const identity = fn === 'sum' ? 0 : dtype === 'i32' ? -2147483648 : -Infinity;
  out.fill(identity);
  const n = x.length;
  if (n > 0) {
    const full = stridesOf(outShape);
    const outStrides = full.map((s, i) => (reduced[i] ? 0 : s));
    const len = inShape[rank - 1];
    const step = outStrides[rank - 1];
    const outer = rank - 1;
    const idx = new Int32Array(outer);
    const rows = n / len;
    let i = 0;
    for (let row = 0; row < rows; row++) {
      let base = 0;
      for (let k = 0; k < outer; k++) base += idx[k] * outStrides[k];
      if (fn === 'sum') {
        if (step === 0) {
          let acc = out[base];
          for (let j = 0; j < len; j++) acc += x[i + j];
          out[base] = acc;
        } else {
          for (let j = 0; j < len; j++) out[base + j] += x[i + j];
        }
      } else if (step === 0) {
        let acc = out[base];
        for (let j = 0; j < len; j++) acc = Math.max(acc, x[i + j]);
        out[base] = acc;
      } else {
        for (let j = 0; j < len; j++) out[base + j] = Math.max(out[base + j], x[i + j]);
      }
      i += len;
      for (let k = outer - 1; k >= 0; k--) {
        if (++idx[k] < inShape[k]) break;
        idx[k] = 0;
      }
    }
  }
  if (fn === 'sum' && dtype === 'i32') for (let k = 0; k < out.length; k++) out[k] = out[k] | 0;
  return out;
}
