/**
 * Tensor5: a host [B, C, T, H, W] float32 tensor with the few operations tiled encoding and
 * decoding need — cropping a tile, the in-place blend ramps, and concatenation — kept on the
 * CPU because tiles are assembled after each one comes back from the device.
 */
import { toFloat32, type HostTensor } from '../../runtime/tensor.ts';

export type Shape5 = readonly [number, number, number, number, number];

export class Tensor5 {
  constructor(readonly shape: Shape5, readonly data: Float32Array) {
    if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`internal: Tensor5 data length ${data.length} for [${shape.join(', ')}]`);
  }

  static zeros(shape: Shape5): Tensor5 {
    return new Tensor5(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));
  }

  static from(t: HostTensor): Tensor5 {
    if (t.shape.length !== 5) throw new Error(`expected a 5-d tensor [B, C, T, H, W], got [${t.shape.join(', ')}]`);
    const data = toFloat32(t);
    return new Tensor5(t.shape as unknown as Shape5, data === t.data ? new Float32Array(data) : data);
  }

  toHost(): HostTensor {
    return { dtype: 'F32', shape: [...this.shape], data: this.data };
  }

  private strides(): [number, number, number, number, number] {
    const [, C, T, H, W] = this.shape;
    return [C * T * H * W, T * H * W, H * W, W, 1];
  }

  /** A copy of [t0, t1) × [h0, h1) × [w0, w1) (clipped to the tensor, like Python slicing). */
  crop(t0: number, t1: number, h0: number, h1: number, w0: number, w1: number): Tensor5 {
    const [B, C, T, H, W] = this.shape;
    const ct = [Math.min(t0, T), Math.min(t1, T)];
    const ch = [Math.min(h0, H), Math.min(h1, H)];
    const cw = [Math.min(w0, W), Math.min(w1, W)];
    const out = Tensor5.zeros([B, C, ct[1] - ct[0], ch[1] - ch[0], cw[1] - cw[0]]);
    const [sb, sc, st, sh] = this.strides();
    const [, , OT, OH, OW] = out.shape;
    let o = 0;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < OT; t++) {
          for (let h = 0; h < OH; h++) {
            const src = b * sb + c * sc + (t + ct[0]) * st + (h + ch[0]) * sh + cw[0];
            out.data.set(this.data.subarray(src, src + OW), o);
            o += OW;
          }
        }
      }
    }
    return out;
  }

  /**
   * Blend `a` (the earlier tile) into the start of this tile along `axis` (2 = T, 3 = H, 4 = W),
   * in place: with E' = min(len_a, len_b, extent), for x < E':
   *   this[x] = a[len_a - E' + x] · (1 - x/E') + this[x] · (x/E').
   */
  blendFrom(a: Tensor5, axis: 2 | 3 | 4, extent: number): void {
    const la = a.shape[axis];
    const lb = this.shape[axis];
    const e = Math.min(la, lb, extent);
    if (e <= 0) return;
    const [B, C, T, H, W] = this.shape;
    const sb = this.strides();
    const sa = a.strides();
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < T; t++) {
          for (let h = 0; h < H; h++) {
            for (let w = 0; w < W; w++) {
              const x = axis === 2 ? t : axis === 3 ? h : w;
              if (x >= e) {
                if (axis === 4) break;
                continue;
              }
              const ax = [b, c, t, h, w];
              ax[axis] = la - e + x;
              const ia = ax[0] * sa[0] + ax[1] * sa[1] + ax[2] * sa[2] + ax[3] * sa[3] + ax[4];
              const ib = b * sb[0] + c * sb[1] + t * sb[2] + h * sb[3] + w;
              const r = x / e;
              this.data[ib] = a.data[ia] * (1 - r) + this.data[ib] * r;
            }
          }
        }
      }
    }
  }

  static concat(parts: readonly Tensor5[], axis: 2 | 3 | 4): Tensor5 {
    const first = parts[0];
    const shape = [...first.shape] as [number, number, number, number, number];
    shape[axis] = parts.reduce((s, p) => s + p.shape[axis], 0);
    const out = Tensor5.zeros(shape);
    // Copy row by row: everything before `axis` is the outer loop, the rest a contiguous block.
    const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    let offset = 0;
    for (const p of parts) {
      const block = p.shape[axis] * inner;
      for (let o = 0; o < outer; o++) out.data.set(p.data.subarray(o * block, (o + 1) * block), o * shape[axis] * inner + offset);
      offset += block;
    }
    return out;
  }
}
