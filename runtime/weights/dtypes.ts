/**
 * Storage dtypes as bytes: which typed array holds each StorageDType, how to turn raw
 * little-endian bytes into that array (a view when the bytes are aligned, else a copy), how to
 * see a tensor's data as bytes again, and checks that a HostTensor is self-consistent.
 */
import { endianness } from 'node:os';
import { STORAGE_BYTES, elementCount, type HostData, type HostTensor, type StorageDType } from '../tensor.ts';

export const STORAGE_DTYPES: readonly StorageDType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

export const isStorageDType = (s: unknown): s is StorageDType =>
  typeof s === 'string' && (STORAGE_DTYPES as readonly string[]).includes(s);

export const isFloatingDType = (d: StorageDType): boolean => d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';

type TypedArrayClass = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): HostData; readonly name: string };

const ARRAY_CLASS: { readonly [K in StorageDType]: TypedArrayClass } = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array, I64: BigInt64Array,
  I32: Int32Array, I16: Int16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
};

// Every file format we read and write is little-endian, and so are the typed-array views we
// hand out; a big-endian host would silently scramble every value, so refuse it up front.
if (endianness() !== 'LE') {
  throw new Error('Kiln reads and writes tensors as little-endian typed arrays; this host is big-endian, which is not supported.');
}

/**
 * `bytes` (little-endian, `numel * elementSize` long) as the dtype's typed array: a view sharing
 * memory when the start is aligned to the element size, otherwise an aligned copy.
 */
export function typedArrayFromBytes(dtype: StorageDType, bytes: Uint8Array): HostData {
  const size = STORAGE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new ARRAY_CLASS[dtype](aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
}

/** The tensor's data as raw little-endian bytes (a view, no copy). */
export function bytesOf(data: HostData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Reverses the byte order of each `size`-byte element in place (for big-endian storages). */
export function swapBytesInPlace(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

export function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Why `t` is not a well-formed HostTensor (wrong array class for its dtype, element count not
 * matching its shape, bad shape), or undefined when it is.
 */
export function hostTensorProblem(t: HostTensor): string | undefined {
  if (!isStorageDType(t.dtype)) return `its dtype ${JSON.stringify(t.dtype)} is not one of ${STORAGE_DTYPES.join(', ')}`;
  if (!isValidShape(t.shape)) return `its shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`;
  const cls = ARRAY_CLASS[t.dtype];
  if (!(t.data instanceof (cls as unknown as new () => HostData))) {
    return `its data is a ${t.data?.constructor?.name ?? typeof t.data} but ${t.dtype} data must be a ${cls.name}`;
  }
  const n = elementCount(t.shape);
  if (t.data.length !== n) return `its data has ${t.data.length} elements but shape [${t.shape.join(', ')}] has ${n}`;
  return undefined;
}
