/**
 * Host <-> GPU storage formats. A tensor's logical dtype (compiler/ir.ts) fixes its storage:
 * f32 as 32-bit floats, f16 as IEEE half bits, i32 as 32-bit integers, bool as u32 0/1.
 * HostTensors of any storage dtype (safetensors' spelling) are converted on upload; readback
 * gives F32, F16 (half bits), I32 or BOOL HostTensors. GPU sizes are padded to 4 bytes.
 */
import type { DType } from '../../compiler/ir.ts';
import { elementCount, floatToHalf, toFloat64, type HostTensor } from '../tensor.ts';

const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Bytes one element takes on the GPU (bool is u32). */
export const gpuElementBytes = (d: DType): number => (d === 'f16' ? 2 : 4);

/** The GPU bytes of `count` elements, padded to a multiple of 4. */
export const gpuBytes = (d: DType, count: number): number => roundUp4(count * gpuElementBytes(d));

const INT_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']);

/**
 * The bytes to upload for `t` stored as `dtype`, at least `bytes` long (zero padded). Returns a
 * string saying what is wrong when the values cannot be represented (e.g. 2.5 as i32).
 */
export function toStorage(t: HostTensor, dtype: DType, bytes: number): Uint8Array | string {
  const n = elementCount(t.shape);
  if (t.data.length !== n) return `its data has ${t.data.length} elements but its shape [${t.shape.join(', ')}] needs ${n}`;
  const direct = directView(t, dtype);
  const size = Math.max(bytes, roundUp4(n * gpuElementBytes(dtype)));
  if (direct && direct.byteLength === size) return direct;
  const out = new Uint8Array(size);
  if (direct) { out.set(direct); return out; }
  const view = out.buffer;
  switch (dtype) {
    case 'f32': {
      const dst = new Float32Array(view, 0, n);
      const src = toFloat64(t);
      for (let i = 0; i < n; i++) dst[i] = src[i];
      return out;
    }
    case 'f16': {
      const dst = new Uint16Array(view, 0, n);
      const src = toFloat64(t);
      for (let i = 0; i < n; i++) dst[i] = floatToHalf(src[i]);
      return out;
    }
    case 'i32': {
      const dst = new Int32Array(view, 0, n);
      const src = toFloat64(t);
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
          return `element ${i} is ${v}, which is not a 32-bit integer${INT_DTYPES.has(t.dtype) ? '' : ` (a ${t.dtype} tensor given for an i32 tensor)`}`;
        }
        dst[i] = v;
      }
      return out;
    }
    case 'bool': {
      const dst = new Uint32Array(view, 0, n);
      const src = toFloat64(t);
      for (let i = 0; i < n; i++) dst[i] = src[i] !== 0 ? 1 : 0;
      return out;
    }
  }
}

/** The data's own bytes when it is already in the storage format (no conversion needed). */
function directView(t: HostTensor, dtype: DType): Uint8Array | undefined {
  const same = (dtype === 'f32' && t.dtype === 'F32') || (dtype === 'f16' && t.dtype === 'F16') || (dtype === 'i32' && t.dtype === 'I32');
  return same ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) : undefined;
}

/** A HostTensor from GPU storage bytes (copied out of `bytes`, which may be a mapped range). */
export function fromStorage(bytes: ArrayBuffer, byteOffset: number, dtype: DType, shape: readonly number[]): HostTensor {
  const n = elementCount(shape);
  switch (dtype) {
    case 'f32': return { dtype: 'F32', shape: [...shape], data: new Float32Array(bytes.slice(byteOffset, byteOffset + n * 4)) };
    case 'f16': return { dtype: 'F16', shape: [...shape], data: new Uint16Array(bytes.slice(byteOffset, byteOffset + n * 2)) };
    case 'i32': return { dtype: 'I32', shape: [...shape], data: new Int32Array(bytes.slice(byteOffset, byteOffset + n * 4)) };
    case 'bool': {
      const src = new Uint32Array(bytes, byteOffset, n);
      return { dtype: 'BOOL', shape: [...shape], data: Uint8Array.from(src, (v) => (v !== 0 ? 1 : 0)) };
    }
  }
}
