/**
 * Casting floating-point tensors between storage dtypes (F64, F32, F16, BF16), rounding to
 * nearest-even as torch does. Integer and bool tensors are never cast: their values would
 * change meaning, so `castFloating` returns them unchanged.
 */
import { bf16ToFloat, elementCount, floatToBf16, floatToHalf, halfToFloat, type HostTensor, type StorageDType } from '../tensor.ts';
import { isFloatingDType } from './dtypes.ts';

export type FloatDType = 'F64' | 'F32' | 'F16' | 'BF16';

/** `t` with floating values stored as `to`; `t` itself if it is already `to` or not floating. */
export function castFloating(t: HostTensor, to: FloatDType): HostTensor {
  if (t.dtype === to || !isFloatingDType(t.dtype)) return t;
  const n = elementCount(t.shape);
  const get = elementReader(t);
  const shape = [...t.shape];
  switch (to) {
    case 'F64': { const d = new Float64Array(n); for (let i = 0; i < n; i++) d[i] = get(i); return { dtype: to, shape, data: d }; }
    case 'F32': { const d = new Float32Array(n); for (let i = 0; i < n; i++) d[i] = get(i); return { dtype: to, shape, data: d }; }
    case 'F16': { const d = new Uint16Array(n); for (let i = 0; i < n; i++) d[i] = floatToHalf(get(i)); return { dtype: to, shape, data: d }; }
    case 'BF16': { const d = new Uint16Array(n); for (let i = 0; i < n; i++) d[i] = floatToBf16(get(i)); return { dtype: to, shape, data: d }; }
  }
}

/** The dtype `castFloating(t, to)` would produce, without converting anything. */
export function castDType(dtype: StorageDType, to: FloatDType): StorageDType {
  return isFloatingDType(dtype) ? to : dtype;
}

function elementReader(t: HostTensor): (i: number) => number {
  const d = t.data;
  switch (t.dtype) {
    case 'F16': return (i) => halfToFloat((d as Uint16Array)[i]);
    case 'BF16': return (i) => bf16ToFloat((d as Uint16Array)[i]);
    default: return (i) => (d as Float64Array)[i];
  }
}
