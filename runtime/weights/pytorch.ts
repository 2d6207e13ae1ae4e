/**
 * PyTorch checkpoints as written by `torch.save` since 1.6: a zip archive holding
 * `<name>/data.pkl` (the pickled object), `<name>/data/<key>` (raw storages) and small
 * bookkeeping entries (`version`, `byteorder`). The pickle is decoded by the restricted
 * unpickler (torch_pickle.ts), which only rebuilds tensors; tensor data is then read on demand
 * from the storages, honouring storage offset, sizes and strides (non-contiguous views are
 * materialised in row-major order) and the archive's byte order.
 *
 * `openPytorchCheckpoint` gives every tensor's dtype and shape without reading data;
 * `loadPytorchCheckpoint` reads everything.
 */
import { STORAGE_BYTES, elementCount, type HostData, type HostTensor } from '../tensor.ts';
import { MemoryByteSource, openFileSource, type ByteSource } from './byte_source.ts';
import { swapBytesInPlace, typedArrayFromBytes } from './dtypes.ts';
import { CheckpointError, PytorchCheckpointError } from './errors.ts';
import { flattenTensors, selectStateDict } from './state_dict.ts';
import { TensorRecord, unpickleTorch, type StorageRecord } from './torch_pickle.ts';
import { StoredZipArchive, type ZipEntry } from './zip.ts';

export { TensorRecord, type StorageRecord } from './torch_pickle.ts';

export interface PytorchCheckpoint {
  readonly path: string;
  /** The unpickled object; each tensor in it is a TensorRecord (no data read yet). */
  readonly value: unknown;
  /** Every tensor in `value`, under dotted keys (nested dicts and lists flattened). */
  readonly tensors: ReadonlyMap<string, TensorRecord>;
  /** Reads one tensor of `tensors`. */
  read(key: string): HostTensor;
  /** Reads any record of this checkpoint (for instance one found by walking `value`). */
  readRecord(record: TensorRecord): HostTensor;
  close(): void;
}

/** The first bytes of a pre-1.6 (non-zip) torch file: a protocol-2 pickle of torch's magic number. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export function openPytorchCheckpoint(path: string): PytorchCheckpoint {
  const src = openFileSource(path, 'PyTorch checkpoint');
  try {
    return new ZipCheckpoint(src, path);
  } catch (err) {
    src.close();
    throw err;
  }
}

/** The same for an archive already in memory; `label` names it in messages. */
export function readPytorchCheckpointBytes(bytes: Uint8Array, label = '<checkpoint bytes>'): PytorchCheckpoint {
  return new ZipCheckpoint(new MemoryByteSource(bytes, label), label);
}

/** Reads every tensor: `value` with TensorRecords replaced by HostTensors, and the flat map. */
export function loadPytorchCheckpoint(path: string): { value: unknown; tensors: Map<string, HostTensor> } {
  const ckpt = openPytorchCheckpoint(path);
  try {
    return materialiseAll(ckpt);
  } finally {
    ckpt.close();
  }
}

export function materialiseAll(ckpt: PytorchCheckpoint): { value: unknown; tensors: Map<string, HostTensor> } {
  // One HostTensor per record, so tensors shared in the pickle stay shared.
  const done = new Map<TensorRecord, HostTensor>();
  const get = (r: TensorRecord) => {
    let t = done.get(r);
    if (!t) done.set(r, (t = ckpt.readRecord(r)));
    return t;
  };
  const copies = new Map<unknown, unknown>();
  const rebuild = (v: unknown): unknown => {
    if (v instanceof TensorRecord) return get(v);
    if (!(v instanceof Map) && !Array.isArray(v)) return v;
    if (copies.has(v)) return copies.get(v);
    if (v instanceof Map) {
      const m = new Map<unknown, unknown>();
      copies.set(v, m);
      for (const [k, x] of v) m.set(k, rebuild(x));
      return m;
    }
    const a: unknown[] = [];
    copies.set(v, a);
    for (const x of v) a.push(rebuild(x));
    return Object.isFrozen(v) ? Object.freeze(a) : a;
  };
  const value = rebuild(ckpt.value);
  const tensors = new Map([...ckpt.tensors].map(([k, r]) => [k, get(r)]));
  return { value, tensors };
}

export const isHostTensor = (v: unknown): v is HostTensor =>
  typeof v === 'object' && v !== null && typeof (v as HostTensor).dtype === 'string' && Array.isArray((v as HostTensor).shape) && ArrayBuffer.isView((v as HostTensor).data);

/**
 * The state dict inside a loaded checkpoint value (see selectStateDict: `path` picks a nested
 * entry; by default a top-level `state_dict` entry is used when present), flattened.
 */
export function stateDictFrom(value: unknown, opts: { path?: string; where?: string } = {}): Map<string, HostTensor> {
  const where = opts.where ?? 'checkpoint';
  return flattenTensors(selectStateDict(value, opts.path, where), isHostTensor, where);
}

class ZipCheckpoint implements PytorchCheckpoint {
  readonly value: unknown;
  readonly tensors: ReadonlyMap<string, TensorRecord>;
  private readonly zip: StoredZipArchive;
  private readonly prefix: string;
  private readonly bigEndian: boolean;

  constructor(private readonly src: ByteSource, readonly path: string) {
    this.zip = openArchive(src, path);
    const pkl = findDataPkl(this.zip, path);
    this.prefix = pkl.name.slice(0, -'data.pkl'.length);
    this.bigEndian = readByteOrder(this.zip, this.prefix, path);
    const label = `${path} (entry ${pkl.name})`;
    const { value } = unpickleTorch(this.zip.read(pkl), { label, file: path });
    this.value = value;
    this.tensors = flattenTensors(value, (v): v is TensorRecord => v instanceof TensorRecord, path);
    for (const [key, record] of this.tensors) this.check(key, record);
  }

  read(key: string): HostTensor {
    const record = this.tensors.get(key);
    if (!record) throw new CheckpointError(`${this.path} has no tensor named ${JSON.stringify(key)}.`);
    return this.readRecord(record);
  }

  readRecord(r: TensorRecord): HostTensor {
    const entry = this.storageEntry(r.storage);
    const size = STORAGE_BYTES[r.dtype];
    const n = elementCount(r.shape);
    const shape = [...r.shape];
    if (n === 0) return { dtype: r.dtype, shape, data: typedArrayFromBytes(r.dtype, new Uint8Array(0)) };
    const last = lastElement(r);
    const whole = r.offset === 0 && (last + 1) * size === entry.size;
    // Whole-entry reads are checked against the archive's CRC; partial reads cannot be.
    const bytes = whole ? this.zip.read(entry) : this.zip.readRange(entry, r.offset * size, (last - r.offset + 1) * size);
    if (this.bigEndian) swapBytesInPlace(bytes, size);
    const span = typedArrayFromBytes(r.dtype, bytes);
    const data = isRowMajor(r.shape, r.stride) ? span : gather(span, r);
    return { dtype: r.dtype, shape, data };
  }

  close(): void {
    this.src.close();
  }

  private storageEntry(s: StorageRecord): ZipEntry {
    const name = `${this.prefix}data/${s.key}`;
    const entry = this.zip.entries.get(name);
    if (!entry) throw new PytorchCheckpointError(`${this.path}: the pickle refers to storage ${JSON.stringify(s.key)} but the archive has no entry ${name}; the file is incomplete or damaged.`);
    return entry;
  }

  private check(key: string, r: TensorRecord): void {
    const entry = this.storageEntry(r.storage);
    const where = `${this.path}: tensor ${JSON.stringify(key)}`;
    if (entry.size < r.storage.byteLength) {
      throw new PytorchCheckpointError(`${where}: its storage entry ${entry.name} holds ${entry.size} bytes but the pickle says ${r.storage.byteLength}; the file is truncated or damaged.`);
    }
    if (elementCount(r.shape) === 0) return;
    const size = STORAGE_BYTES[r.dtype];
    const needed = (lastElement(r) + 1) * size;
    if (needed > r.storage.byteLength) {
      throw new PytorchCheckpointError(`${where}: its view (offset ${r.offset}, size [${r.shape.join(', ')}], stride [${r.stride.join(', ')}]) needs ${needed} bytes of storage ${JSON.stringify(r.storage.key)}, which has ${r.storage.byteLength}; the file is damaged.`);
    }
  }
}

function openArchive(src: ByteSource, path: string): StoredZipArchive {
  const head = src.read(0, Math.min(src.size, LEGACY_MAGIC.length));
  if (head.length === LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => head[i] === b)) {
    throw new PytorchCheckpointError(`${path} is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which Kiln does not read. Re-save it with a current torch (torch.save(torch.load(path), new_path)) or convert it to safetensors.`);
  }
  if (head[0] === 0x50 && head[1] === 0x4b) return StoredZipArchive.open(src);
  if (src.size > 262 && new TextDecoder('latin1').decode(src.read(257, 5)) === 'ustar') {
    throw new PytorchCheckpointError(`${path} is a tar-format PyTorch checkpoint from before torch 1.0, which Kiln does not read. Re-save it with a current torch or convert it to safetensors.`);
  }
  throw new PytorchCheckpointError(`${path} is not a PyTorch zip checkpoint (it does not start with a zip header). Kiln reads torch.save files (torch >= 1.6) and safetensors.`);
}

function findDataPkl(zip: StoredZipArchive, path: string): ZipEntry {
  const names = [...zip.entries.keys()];
  // torch names the single top folder after the file (or "archive"); data.pkl sits right in it.
  const pkls = names.filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
  const prefixOf = (n: string) => n.slice(0, -'data.pkl'.length);
  if (pkls.length === 1 && names.some((n) => n.startsWith(`${prefixOf(pkls[0])}code/`) || n === `${prefixOf(pkls[0])}constants.pkl`)) {
    throw new PytorchCheckpointError(`${path} is a TorchScript archive (torch.jit.save), which holds code as well as weights. Kiln reads plain checkpoints: in Python, save the module's state_dict() with torch.save, or convert it to safetensors.`);
  }
  if (pkls.length === 0) {
    const shown = names.slice(0, 6).join(', ') + (names.length > 6 ? ', …' : '');
    throw new PytorchCheckpointError(`${path} is a zip archive but not a PyTorch checkpoint: it has no <name>/data.pkl entry (entries: ${shown || 'none'}).`);
  }
  if (pkls.length > 1) throw new PytorchCheckpointError(`${path} holds ${pkls.length} data.pkl entries (${pkls.join(', ')}); expected one, as torch.save writes.`);
  return zip.entries.get(pkls[0])!;
}

function readByteOrder(zip: StoredZipArchive, prefix: string, path: string): boolean {
  const entry = zip.entries.get(`${prefix}byteorder`);
  // Archives from before torch wrote this entry are little-endian.
  if (!entry) return false;
  const text = new TextDecoder().decode(zip.read(entry)).trim();
  if (text !== 'little' && text !== 'big') throw new PytorchCheckpointError(`${path}: entry ${entry.name} says ${JSON.stringify(text)}; expected "little" or "big".`);
  return text === 'big';
}

/** Index (in elements) of the last storage element the view touches; assumes a non-empty view. */
function lastElement(r: TensorRecord): number {
  return r.shape.reduce((acc, d, i) => acc + (d - 1) * r.stride[i], r.offset);
}

/** Whether stride is the row-major layout of shape (size-1 dimensions may have any stride). */
function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Copies the strided view out of `span` (which starts at the view's storage offset) in row-major order. */
function gather(span: HostData, r: TensorRecord): HostData {
  const shape = r.shape;
  const stride = r.stride;
  const rank = shape.length;
  const n = elementCount(shape);
  const out = new (span.constructor as new (n: number) => HostData)(n);
  const src = span as unknown as ArrayLike<number | bigint> & { [i: number]: number | bigint };
  const dst = out as unknown as { [i: number]: number | bigint };
  const inner = shape[rank - 1];
  const innerStride = stride[rank - 1];
  const index = new Array<number>(rank).fill(0);
  let base = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0, s = base; j < inner; j++, s += innerStride) dst[o + j] = src[s];
    // Advance the odometer over the outer dimensions.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      base += stride[d];
      if (index[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}
