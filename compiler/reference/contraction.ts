/**
 * Contractions of the reference interpreter, in float64.
 *
 * - matmul: [...batch, M, K] x [...batch, K, N] -> [...batch, M, N], row by row as
 *   out[i, :] += a[i, k] * b[k, :] so the inner loop runs over contiguous memory.
 * - conv: N-d cross-correlation (any number of spatial axes), stride per axis, no padding,
 *   groups 1: [B, Cin, ...S] x [Cout, Cin, ...K] -> [B, Cout, ...O], O = floor((S - K) / s) + 1.
 *   Vocabulary: a *row* is one line of outputs along the last spatial axis; a *tap* is one
 *   kernel position. For each (batch, out channel, in channel, tap of all kernel axes but the
 *   last) the whole output volume gets out[row, j] += sum_t w[t] * in[row's input + j*s + t]
 *   over the last kernel axis t: the innermost loop walks contiguous outputs, and the offsets of
 *   rows and taps are precomputed, so no index is ever decoded from a flat position.
 */
import type { ConvNode, MatmulNode } from '../ir.ts';
import { numel, stridesOf } from '../ir.ts';

export function evalMatmul(node: MatmulNode, a: Float64Array, b: Float64Array): Float64Array {
  const aShape = node.src[0].shape;
  const r = aShape.length;
  const m = aShape[r - 2];
  const k = aShape[r - 1];
  const n = node.shape[r - 1];
  const batches = numel(aShape.slice(0, r - 2));
  const out = new Float64Array(batches * m * n);
  for (let bt = 0; bt < batches; bt++) {
    const aBase = bt * m * k;
    const bBase = bt * k * n;
    const oBase = bt * m * n;
    for (let i = 0; i < m; i++) {
      const oRow = oBase + i * n;
      for (let p = 0; p < k; p++) {
        const aip = a[aBase + i * k + p];
        const bRow = bBase + p * n;
        for (let j = 0; j < n; j++) out[oRow + j] += aip * b[bRow + j];
      }
    }
  }
  return out;
}

/** Row-major positions of a box, as offsets under `strides` scaled by `scale` per axis. */
function boxOffsets(dims: readonly number[], strides: readonly number[], scale: readonly number[]): Int32Array {
  const count = numel(dims);
  const offsets = new Int32Array(count);
  const idx = new Array<number>(dims.length).fill(0);
  for (let c = 0; c < count; c++) {
    let off = 0;
    for (let d = 0; d < dims.length; d++) off += idx[d] * scale[d] * strides[d];
    offsets[c] = off;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  return offsets;
}

export function evalConv(node: ConvNode, x: Float64Array, w: Float64Array): Float64Array {
  const [batch, cin, ...inSpatial] = node.src[0].shape;
  const [cout, , ...kernel] = node.src[1].shape;
  const outSpatial = node.shape.slice(2);
  const nd = inSpatial.length;
  const out = new Float64Array(numel(node.shape));
  if (out.length === 0) return out;

  const inStrides = stridesOf(inSpatial);
  const inSize = numel(inSpatial);
  const outSize = numel(outSpatial);
  const kSize = numel(kernel);
  const rowLen = outSpatial[nd - 1];
  const kLast = kernel[nd - 1];
  const sLast = node.stride[nd - 1];
  const outerOut = outSpatial.slice(0, nd - 1);
  // Input offset of each row's first element (stride applied), and of each tap (no stride).
  const rowIn = boxOffsets(outerOut, inStrides.slice(0, nd - 1), node.stride.slice(0, nd - 1));
  const tapIn = boxOffsets(kernel.slice(0, nd - 1), inStrides.slice(0, nd - 1), new Array<number>(nd - 1).fill(1));
  const rows = rowIn.length;
  const taps = tapIn.length;

  for (let b = 0; b < batch; b++) {
    for (let co = 0; co < cout; co++) {
      const oBase = (b * cout + co) * outSize;
      for (let ci = 0; ci < cin; ci++) {
        const iBase = (b * cin + ci) * inSize;
        const wBase = (co * cin + ci) * kSize;
        for (let tap = 0; tap < taps; tap++) {
          const wt = wBase + tap * kLast;
          const tBase = iBase + tapIn[tap];
          if (kLast === 3) {
            const w0 = w[wt], w1 = w[wt + 1], w2 = w[wt + 2];
            for (let r = 0; r < rows; r++) {
              const o = oBase + r * rowLen;
              let p = tBase + rowIn[r];
              for (let j = 0; j < rowLen; j++, p += sLast) out[o + j] += w0 * x[p] + w1 * x[p + 1] + w2 * x[p + 2];
            }
          } else if (kLast === 1) {
            const w0 = w[wt];
            for (let r = 0; r < rows; r++) {
              const o = oBase + r * rowLen;
              let p = tBase + rowIn[r];
              for (let j = 0; j < rowLen; j++, p += sLast) out[o + j] += w0 * x[p];
            }
          } else {
            for (let r = 0; r < rows; r++) {
              const o = oBase + r * rowLen;
              let p = tBase + rowIn[r];
              for (let j = 0; j < rowLen; j++, p += sLast) {
                let acc = 0;
                for (let t = 0; t < kLast; t++) acc += w[wt + t] * x[p + t];
                out[o + j] += acc;
              }
            }
          }
        }
      }
    }
  }
  return out;
}
