/**
 * Frames <-> the VAE's pixel tensors. The HunyuanVideo VAE takes `[1, 3, T, H, W]` float32 in
 * [-1, 1] (channel-first, time before space) and its decoder returns unbounded values of the same
 * layout. Frames are time, row, column, channel bytes; these functions transpose and rescale:
 *   to the VAE:   v = byte / 127.5 - 1
 *   from the VAE: byte = round(clamp((v + 1) / 2, 0, 1) * 255), NaN -> 0
 * Rounding is half away from zero (Math.round on non-negative values), matching how images are
 * usually quantised; it differs from round-half-even only at exact .5 values.
 */
import { toFloat32, type HostTensor } from '../tensor.ts';
import { CHANNELS, makeFrames, type Frames } from './frames.ts';

/** `[1, 3, T, H, W]` F32 in [-1, 1]. */
export function framesToTensor(frames: Frames): HostTensor {
  const { width: W, height: H, count: T, data } = frames;
  const plane = T * H * W;
  const out = new Float32Array(CHANNELS * plane);
  for (let p = 0; p < plane; p++) {
    const src = p * CHANNELS;
    out[p] = data[src] / 127.5 - 1;
    out[plane + p] = data[src + 1] / 127.5 - 1;
    out[2 * plane + p] = data[src + 2] / 127.5 - 1;
  }
  return { dtype: 'F32', shape: [1, CHANNELS, T, H, W], data: out };
}

/**
 * Accepts `[1, 3, T, H, W]` or `[3, T, H, W]` in any float dtype (F16/BF16 are decoded) and
 * returns 8-bit frames.
 */
export function tensorToFrames(t: HostTensor): Frames {
  const shape = t.shape.length === 5 && t.shape[0] === 1 ? t.shape.slice(1) : t.shape;
  if (shape.length !== 4 || shape[0] !== CHANNELS) {
    throw new RangeError(`tensorToFrames: expected a pixel tensor [1, 3, T, H, W] or [3, T, H, W], got [${t.shape.join(', ')}]`);
  }
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
    throw new RangeError(`tensorToFrames: expected a float tensor, got ${t.dtype}`);
  }
  const [, T, H, W] = shape;
  const values = toFloat32(t);
  const frames = makeFrames(W, H, T);
  const plane = T * H * W;
  const out = frames.data;
  for (let c = 0; c < CHANNELS; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) out[p * CHANNELS + c] = toByte(values[base + p]);
  }
  return frames;
}

function toByte(v: number): number {
  const unit = (v + 1) / 2;
  if (!(unit > 0)) return 0; // also NaN
  if (unit >= 1) return 255;
  return Math.round(unit * 255);
}
