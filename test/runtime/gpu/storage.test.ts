/** Host <-> GPU storage conversions, checked against bit patterns worked out by hand. */
import { describe, expect, it } from 'vitest';
import { fromStorage, gpuBytes, toStorage } from '../../../runtime/gpu/storage.ts';
import type { HostTensor } from '../../../runtime/tensor.ts';

const bytesOf = (r: Uint8Array | string): Uint8Array => {
  if (typeof r === 'string') throw new Error(r);
  return r;
};

describe('toStorage', () => {
  it('passes F32 data through without copying when the size matches', () => {
    const data = Float32Array.from([1, 2, 3]);
    const out = bytesOf(toStorage({ dtype: 'F32', shape: [3], data }, 'f32', 12));
    expect(out.buffer).toBe(data.buffer);
    expect(Array.from(new Float32Array(out.buffer, out.byteOffset, 3))).toEqual([1, 2, 3]);
  });

  it('converts F64, BF16 and integer data to f32, zero-padding to the TensorInfo size', () => {
    const bf16: HostTensor = { dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0xc0a0]) }; // 1, -5
    expect(Array.from(new Float32Array(bytesOf(toStorage(bf16, 'f32', 16)).buffer))).toEqual([1, -5, 0, 0]);
    const f64: HostTensor = { dtype: 'F64', shape: [2], data: Float64Array.from([0.5, -3]) };
    expect(Array.from(new Float32Array(bytesOf(toStorage(f64, 'f32', 8)).buffer))).toEqual([0.5, -3]);
    const i8: HostTensor = { dtype: 'I8', shape: [2, 1], data: Int8Array.from([-7, 9]) };
    expect(Array.from(new Float32Array(bytesOf(toStorage(i8, 'f32', 8)).buffer))).toEqual([-7, 9]);
  });

  it('converts floats to f16 bits and pads an odd count to 4 bytes', () => {
    const t: HostTensor = { dtype: 'F32', shape: [5], data: Float32Array.from([1, -2, 0.5, 65504, 2 ** -24]) };
    const out = bytesOf(toStorage(t, 'f16', gpuBytes('f16', 5)));
    expect(out.byteLength).toBe(12);
    expect(Array.from(new Uint16Array(out.buffer, 0, 6))).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0]);
  });

  it('stores i32 from wider integers and refuses values that are not 32-bit integers', () => {
    const ok: HostTensor = { dtype: 'I64', shape: [3], data: BigInt64Array.from([-2147483648n, 0n, 2147483647n]) };
    expect(Array.from(new Int32Array(bytesOf(toStorage(ok, 'i32', 12)).buffer))).toEqual([-2147483648, 0, 2147483647]);
    const big: HostTensor = { dtype: 'I64', shape: [1], data: BigInt64Array.from([2147483648n]) };
    expect(toStorage(big, 'i32', 4)).toMatch(/element 0 is 2147483648/);
    const frac: HostTensor = { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2.5]) };
    expect(toStorage(frac, 'i32', 8)).toMatch(/element 1 is 2.5.*F32 tensor given for an i32/);
  });

  it('stores bool as u32 0/1 (any nonzero is true)', () => {
    const t: HostTensor = { dtype: 'F32', shape: [4], data: Float32Array.from([0, 2, -0, NaN]) };
    expect(Array.from(new Uint32Array(bytesOf(toStorage(t, 'bool', 16)).buffer))).toEqual([0, 1, 0, 1]);
    const b: HostTensor = { dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) };
    expect(Array.from(new Uint32Array(bytesOf(toStorage(b, 'bool', 8)).buffer))).toEqual([1, 0]);
  });

  it('reports data whose length does not match its shape', () => {
    expect(toStorage({ dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }, 'f32', 16)).toMatch(/3 elements.*\[2, 2\] needs 4/);
  });
});

describe('fromStorage', () => {
  it('reads each dtype at an offset into the right HostTensor', () => {
    const buf = new ArrayBuffer(32);
    new Float32Array(buf, 8, 2).set([1.5, -2]);
    expect(fromStorage(buf, 8, 'f32', [2])).toEqual({ dtype: 'F32', shape: [2], data: Float32Array.from([1.5, -2]) });
    new Uint32Array(buf, 16, 3).set([0, 7, 1]);
    expect(fromStorage(buf, 16, 'bool', [3])).toEqual({ dtype: 'BOOL', shape: [3], data: Uint8Array.from([0, 1, 1]) });
    new Uint16Array(buf, 0, 3).set([0x3c00, 0xc000, 0x7bff]);
    expect(fromStorage(buf, 0, 'f16', [3])).toEqual({ dtype: 'F16', shape: [3], data: Uint16Array.from([0x3c00, 0xc000, 0x7bff]) });
    new Int32Array(buf, 4, 1).set([-9]);
    expect(fromStorage(buf, 4, 'i32', [1, 1])).toEqual({ dtype: 'I32', shape: [1, 1], data: Int32Array.from([-9]) });
  });

  it('copies out of the source buffer (a mapped range is unmapped afterwards)', () => {
    const buf = new ArrayBuffer(8);
    new Float32Array(buf).set([1, 2]);
    const t = fromStorage(buf, 0, 'f32', [2]);
    new Float32Array(buf).set([5, 6]);
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2]);
  });
});
