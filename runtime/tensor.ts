/**
 * HostTensor: a tensor in CPU memory, as read from or written to files. `dtype` names the
 * storage format with safetensors' spelling; `data` is the matching typed array (F16 and BF16
 * are raw 16-bit patterns, I64 is a BigInt64Array, BOOL and U8 are Uint8Array).
 */
export type StorageDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export type HostData =
  | Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface HostTensor {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
  readonly data: HostData;
}

export const STORAGE_BYTES: { readonly [K in StorageDType]: number } = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

// IEEE half <-> float conversions. Float32Array/Uint32Array share one buffer for bit casts.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Round-to-nearest-even float -> half bits. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

export function bf16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** Round-to-nearest-even float -> bfloat16 bits. */
export function floatToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return (x >>> 16) | 0x40;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** Element values as float64 (I64 values beyond 2^53 lose precision). */
export function toFloat64(t: HostTensor): Float64Array {
  const n = elementCount(t.shape);
  const out = new Float64Array(n);
  const d = t.data;
  switch (t.dtype) {
    case 'F16': for (let i = 0; i < n; i++) out[i] = halfToFloat((d as Uint16Array)[i]); break;
    case 'BF16': for (let i = 0; i < n; i++) out[i] = bf16ToFloat((d as Uint16Array)[i]); break;
    case 'I64': for (let i = 0; i < n; i++) out[i] = Number((d as BigInt64Array)[i]); break;
    default: for (let i = 0; i < n; i++) out[i] = (d as Float64Array)[i]; break;
  }
  return out;
}

export function toFloat32(t: HostTensor): Float32Array {
  if (t.dtype === 'F32') return t.data as Float32Array;
  return Float32Array.from(toFloat64(t));
}

export function fromFloat64(values: ArrayLike<number>, shape: readonly number[], dtype: StorageDType = 'F32'): HostTensor {
  const n = values.length;
  if (n !== elementCount(shape)) throw new Error(`fromFloat64: ${n} values for shape [${shape.join(', ')}]`);
  switch (dtype) {
    case 'F64': return { dtype, shape: [...shape], data: Float64Array.from(values) };
    case 'F32': return { dtype, shape: [...shape], data: Float32Array.from(values) };
    case 'F16': { const d = new Uint16Array(n); for (let i = 0; i < n; i++) d[i] = floatToHalf(values[i]); return { dtype, shape: [...shape], data: d }; }
    case 'BF16': { const d = new Uint16Array(n); for (let i = 0; i < n; i++) d[i] = floatToBf16(values[i]); return { dtype, shape: [...shape], data: d }; }
    case 'I64': { const d = new BigInt64Array(n); for (let i = 0; i < n; i++) d[i] = BigInt(Math.trunc(values[i])); return { dtype, shape: [...shape], data: d }; }
    case 'I32': return { dtype, shape: [...shape], data: Int32Array.from(values, Math.trunc) };
    case 'I16': return { dtype, shape: [...shape], data: Int16Array.from(values, Math.trunc) };
    case 'I8': return { dtype, shape: [...shape], data: Int8Array.from(values, Math.trunc) };
    case 'U8': return { dtype, shape: [...shape], data: Uint8Array.from(values, Math.trunc) };
    case 'BOOL': return { dtype, shape: [...shape], data: Uint8Array.from(values, (v) => (v ? 1 : 0)) };
  }
}
