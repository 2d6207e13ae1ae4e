import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../../../runtime/tensor.ts';
import { castDType, castFloating } from '../../../runtime/weights/cast.ts';

describe('castFloating', () => {
  it('rounds F32 to F16 and BF16 bit patterns known by hand', () => {
    const t: HostTensor = { dtype: 'F32', shape: [4], data: Float32Array.from([1, -2, 65504, 1 / 3]) };
    // 1/3 in half: 0x3555 (0.333251953125); in bfloat16: 0x3eab
    expect(Array.from(castFloating(t, 'F16').data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x7bff, 0x3555]);
    expect(Array.from(castFloating(t, 'BF16').data as Uint16Array).slice(0, 2)).toEqual([0x3f80, 0xc000]);
    expect((castFloating(t, 'BF16').data as Uint16Array)[3]).toBe(0x3eab);
  });

  it('widens F16 and BF16 exactly', () => {
    const h: HostTensor = { dtype: 'F16', shape: [2, 1], data: Uint16Array.from([0x3800, 0x0001]) };
    const wide = castFloating(h, 'F64');
    expect(wide).toMatchObject({ dtype: 'F64', shape: [2, 1] });
    expect(Array.from(wide.data as Float64Array)).toEqual([0.5, 2 ** -24]);
    const b: HostTensor = { dtype: 'BF16', shape: [1], data: Uint16Array.from([0x4049]) };
    expect(Array.from(castFloating(b, 'F32').data as Float32Array)).toEqual([3.140625]);
  });

  it('leaves integer, bool and same-dtype tensors alone', () => {
    const i: HostTensor = { dtype: 'I32', shape: [1], data: Int32Array.from([7]) };
    const f: HostTensor = { dtype: 'F16', shape: [1], data: Uint16Array.from([0x3c00]) };
    expect(castFloating(i, 'F16')).toBe(i);
    expect(castFloating(f, 'F16')).toBe(f);
    expect(castDType('BOOL', 'F16')).toBe('BOOL');
    expect(castDType('F64', 'BF16')).toBe('BF16');
  });
});
