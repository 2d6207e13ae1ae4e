import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { framesToTensor, tensorToFrames } from '../../../runtime/media/pixels.ts';
import { makeFrames } from '../../../runtime/media/frames.ts';
import { floatToHalf } from '../../../runtime/tensor.ts';

function coordinateFrames(W: number, H: number, T: number) {
  const f = makeFrames(W, H, T);
  for (let t = 0; t < T; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = ((t * H + y) * W + x) * 3;
        f.data[i] = (x * 37 + t * 11) % 256;
        f.data[i + 1] = (y * 53 + 7) % 256;
        f.data[i + 2] = (t * 91 + x + y) % 256;
      }
  return f;
}

describe('framesToTensor', () => {
  it('puts channel c of pixel (t, y, x) at [0, c, t, y, x] scaled to [-1, 1]', () => {
    const [W, H, T] = [5, 3, 2];
    const f = coordinateFrames(W, H, T);
    const tensor = framesToTensor(f);
    expect(tensor.dtype).toBe('F32');
    expect(tensor.shape).toEqual([1, 3, T, H, W]);
    const d = tensor.data as Float32Array;
    for (let c = 0; c < 3; c++)
      for (let t = 0; t < T; t++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const byte = f.data[((t * H + y) * W + x) * 3 + c];
            expect(d[(((c * T + t) * H + y) * W) + x]).toBeCloseTo(byte / 127.5 - 1, 6);
          }
  });

  it('maps 0 to -1 and 255 to 1 exactly', () => {
    const f = makeFrames(1, 1, 1, Uint8Array.of(0, 255, 0));
    expect(Array.from(framesToTensor(f).data as Float32Array)).toEqual([-1, 1, -1]);
  });
});

describe('tensorToFrames', () => {
  it('clamps, rounds and maps NaN to 0 (hand-computed values)', () => {
    // One pixel per value in the red channel of a [1, 3, 1, 1, 8] tensor.
    const reds = [-1, 1, 0, -2, 2, NaN, 0.5, -0.999];
    const expected = [0, 255, 128, 0, 255, 0, 191, 0]; // 0 -> 127.5 -> 128; 0.5 -> 191.25 -> 191
    const data = new Float32Array(3 * 8);
    data.set(reds, 0);
    const frames = tensorToFrames({ dtype: 'F32', shape: [1, 3, 1, 1, 8], data });
    expect(frames).toMatchObject({ width: 8, height: 1, count: 1 });
    expect(Array.from({ length: 8 }, (_, x) => frames.data[x * 3])).toEqual(expected);
    expect(Array.from({ length: 8 }, (_, x) => frames.data[x * 3 + 1])).toEqual(new Array(8).fill(128));
  });

  it('reads F16 tensors and the batchless [3, T, H, W] layout', () => {
    const values = [-1, 0, 1];
    const data = Uint16Array.from(values, floatToHalf);
    const frames = tensorToFrames({ dtype: 'F16', shape: [3, 1, 1, 1], data });
    expect(Array.from(frames.data)).toEqual([0, 128, 255]);
  });

  it('rejects tensors that are not pixel tensors', () => {
    expect(() => tensorToFrames({ dtype: 'F32', shape: [1, 4, 1, 1, 1], data: new Float32Array(4) })).toThrow(/\[1, 3, T, H, W\]/);
    expect(() => tensorToFrames({ dtype: 'I32', shape: [1, 3, 1, 1, 1], data: new Int32Array(3) })).toThrow(/float/);
  });

  it('inverts framesToTensor for any frames', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer(),
      (W, H, T, seed) => {
        const f = makeFrames(W, H, T);
        let s = seed >>> 0;
        for (let i = 0; i < f.data.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; f.data[i] = s >>> 24; }
        const back = tensorToFrames(framesToTensor(f));
        expect(back).toMatchObject({ width: W, height: H, count: T });
        expect(Buffer.from(back.data).equals(Buffer.from(f.data))).toBe(true);
      },
    ), { numRuns: 50 });
  });
});
