/**
 * Writing safetensors. The layout is deterministic: tensors are stored by element size,
 * largest first (8-byte dtypes, then 4, 2, 1), by name within a size class; the JSON header is
 * padded with spaces to a multiple of 8, so each tensor starts at an offset aligned to its
 * element size and readers can use typed-array views. Files are written atomically.
 */
import { STORAGE_BYTES, elementCount, type HostTensor, type StorageDType } from '../tensor.ts';
import { FileSink, writeFileAtomically } from './atomic_file.ts';
import { bytesOf, hostTensorProblem } from './dtypes.ts';
import { SafetensorsError } from './errors.ts';

export type TensorMap = ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>;

/** What the header needs to know about a tensor before its data exists. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
}

export interface PlacedTensor extends TensorSpec {
  /** Offsets relative to the data section, as in the header's data_offsets. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsLayout {
  /** Length field plus padded JSON: everything before the data section. */
  readonly headerBytes: Uint8Array;
  /** Tensors in storage order. */
  readonly tensors: readonly PlacedTensor[];
  readonly totalBytes: number;
}

const METADATA_KEY = '__metadata__';

export function planSafetensors(specs: readonly TensorSpec[], metadata: Readonly<Record<string, string>> = {}): SafetensorsLayout {
  const seen = new Set<string>();
  for (const s of specs) {
    if (s.name === METADATA_KEY) throw new SafetensorsError(`cannot write a tensor named "${METADATA_KEY}": safetensors reserves that name for the metadata map.`);
    if (seen.has(s.name)) throw new SafetensorsError(`cannot write two tensors named ${JSON.stringify(s.name)}.`);
    seen.add(s.name);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError(`metadata ${JSON.stringify(k)} is a ${typeof v}; safetensors metadata values must be strings.`);
  }
  const ordered = [...specs].sort((a, b) =>
    STORAGE_BYTES[b.dtype] - STORAGE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let offset = 0;
  const tensors = ordered.map((s) => {
    const begin = offset;
    offset += elementCount(s.shape) * STORAGE_BYTES[s.dtype];
    return { name: s.name, dtype: s.dtype, shape: [...s.shape], begin, end: offset };
  });

  // Built by hand rather than from an object: tensor names like "__proto__" or "0" would be
  // swallowed or reordered by a plain JS object.
  const fields: string[] = [];
  if (Object.keys(metadata).length > 0) {
    const meta = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    fields.push(`${JSON.stringify(METADATA_KEY)}:{${meta.join(',')}}`);
  }
  for (const t of tensors) {
    fields.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [t.begin, t.end] })}`);
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const headerBytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(padded), true);
  headerBytes.set(json, 8);
  return { headerBytes, tensors, totalBytes: headerBytes.byteLength + offset };
}

/** A whole safetensors file in memory. */
export function encodeSafetensors(tensors: TensorMap, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const map = toMap(tensors);
  const layout = planSafetensors(specsOf(map), metadata);
  const out = new Uint8Array(layout.totalBytes);
  out.set(layout.headerBytes, 0);
  for (const t of layout.tensors) out.set(bytesOf(map.get(t.name)!.data), layout.headerBytes.byteLength + t.begin);
  return out;
}

/** Writes `tensors` to `path` atomically; returns the file's size in bytes. */
export function writeSafetensors(path: string, tensors: TensorMap, metadata?: Readonly<Record<string, string>>): number {
  const map = toMap(tensors);
  return writeSafetensorsStreaming(path, specsOf(map), (name) => map.get(name)!, metadata);
}

/**
 * Writes a safetensors file whose tensors are produced one at a time by `load` (called once
 * per tensor, in storage order), so converting a large checkpoint holds one tensor in memory.
 * Returns the file's size in bytes.
 */
export function writeSafetensorsStreaming(
  path: string, specs: readonly TensorSpec[], load: (name: string) => HostTensor, metadata?: Readonly<Record<string, string>>,
): number {
  const layout = planSafetensors(specs, metadata);
  writeFileAtomically(path, (out: FileSink) => {
    out.write(layout.headerBytes);
    for (const t of layout.tensors) {
      const tensor = load(t.name);
      const problem = hostTensorProblem(tensor);
      if (problem) throw new SafetensorsError(`cannot write tensor ${JSON.stringify(t.name)} to ${path}: ${problem}.`);
      if (tensor.dtype !== t.dtype || tensor.shape.join() !== t.shape.join()) {
        throw new Error(`writeSafetensorsStreaming: tensor ${JSON.stringify(t.name)} was announced as ${t.dtype}[${t.shape}] but loaded as ${tensor.dtype}[${tensor.shape}]`);
      }
      out.write(bytesOf(tensor.data));
    }
  });
  return layout.totalBytes;
}

function toMap(tensors: TensorMap): ReadonlyMap<string, HostTensor> {
  return tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
}

function specsOf(map: ReadonlyMap<string, HostTensor>): TensorSpec[] {
  return [...map].map(([name, t]) => {
    const problem = hostTensorProblem(t);
    if (problem) throw new SafetensorsError(`cannot write tensor ${JSON.stringify(name)}: ${problem}.`);
    return { name, dtype: t.dtype, shape: t.shape };
  });
}
