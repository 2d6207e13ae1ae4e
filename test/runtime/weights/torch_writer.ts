/**
 * Test-only writer of `torch.save` archives, written independently of the reader under test:
 * its own pickle emitter (protocol 2 opcodes, memoised like CPython's pickler), its own zip
 * writer (STORED entries, torch's 64-byte data alignment through a padding extra field,
 * optional ZIP64 records) and a bitwise CRC-32.
 *
 * Python values are modelled as: null, boolean, number (int unless wrapped by `float`),
 * string, Py.tuple/list/dict/ordered, and Py.tensor (a strided view into a storage).
 */

// ---- Python value model -------------------------------------------------------------------

export interface StorageSpec {
  readonly key: string;
  /** torch storage class name: FloatStorage, HalfStorage, ... */
  readonly cls: string;
  readonly numel: number;
  /** Raw little-endian element bytes (numel × element size). */
  readonly bytes: Uint8Array;
  readonly location?: string;
}

export type PyValue =
  | null | boolean | number | string
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'tuple'; readonly items: readonly PyValue[] }
  | { readonly kind: 'list'; readonly items: readonly PyValue[] }
  | { readonly kind: 'dict'; readonly ordered: boolean; readonly entries: ReadonlyArray<readonly [PyValue, PyValue]>; readonly metadata?: boolean }
  | { readonly kind: 'tensor'; readonly storage: StorageSpec; readonly offset: number; readonly size: readonly number[]; readonly stride: readonly number[]; readonly parameter?: boolean; readonly v3Dtype?: string }
  | { readonly kind: 'raw'; readonly bytes: readonly number[] };

export const Py = {
  float: (value: number): PyValue => ({ kind: 'float', value }),
  tuple: (...items: PyValue[]): PyValue => ({ kind: 'tuple', items }),
  list: (...items: PyValue[]): PyValue => ({ kind: 'list', items }),
  dict: (entries: Array<[PyValue, PyValue]>): PyValue => ({ kind: 'dict', ordered: false, entries }),
  /** An OrderedDict; with `metadata`, it also carries state_dict()'s `_metadata` attribute (a BUILD). */
  ordered: (entries: Array<[PyValue, PyValue]>, metadata = false): PyValue => ({ kind: 'dict', ordered: true, entries, metadata }),
  tensor: (storage: StorageSpec, offset: number, size: number[], stride: number[], opts: { parameter?: boolean; v3Dtype?: string } = {}): PyValue =>
    ({ kind: 'tensor', storage, offset, size, stride, ...opts }),
  /** Hand-written opcodes, spliced in verbatim. */
  raw: (bytes: number[]): PyValue => ({ kind: 'raw', bytes }),
};

/** A contiguous row-major tensor over its own storage. */
export function contiguous(storage: StorageSpec, size: number[]): PyValue {
  const stride = size.map((_, i) => size.slice(i + 1).reduce((a, b) => a * b, 1));
  return Py.tensor(storage, 0, size, stride);
}

const ELEMENT_BYTES: Record<string, number> = {
  DoubleStorage: 8, FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, LongStorage: 8, IntStorage: 4,
  ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1, UntypedStorage: 1,
};

export function storage(key: string, cls: string, bytes: Uint8Array, location = 'cpu'): StorageSpec {
  return { key, cls, numel: bytes.length / ELEMENT_BYTES[cls], bytes, location };
}

export const f32Bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
export const f64Bytes = (values: number[]) => new Uint8Array(Float64Array.from(values).buffer);
export const i64Bytes = (values: number[]) => new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer);
export const u16Bytes = (values: number[]) => new Uint8Array(Uint16Array.from(values).buffer);

// ---- pickle emitter -----------------------------------------------------------------------

export class PickleEmitter {
  private readonly out: number[] = [];
  private readonly memo = new Map<string, number>();

  get bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }

  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }

  proto(v = 2): this {
    return this.op(0x80, v);
  }

  stop(): this {
    return this.op(0x2e);
  }

  /** BINPUT/LONG_BINPUT of the next memo slot, as CPython does after each new object. */
  put(memoKey?: string): this {
    const i = this.memo.size;
    this.memo.set(memoKey ?? `#slot${i}`, i);
    return i < 256 ? this.op(0x71, i) : this.op(0x72, ...le32(i));
  }

  /** BINGET of an earlier memo entry, if `memoKey` was memoised; returns false otherwise. */
  get(memoKey: string): boolean {
    const i = this.memo.get(memoKey);
    if (i === undefined) return false;
    if (i < 256) this.op(0x68, i);
    else this.op(0x6a, ...le32(i));
    return true;
  }

  global(module: string, name: string): this {
    if (this.get(`global:${module}.${name}`)) return this;
    this.op(0x63, ...ascii(`${module}\n${name}\n`));
    return this.put(`global:${module}.${name}`);
  }

  string(s: string, memoise = true): this {
    if (memoise && this.get(`str:${s}`)) return this;
    const b = new TextEncoder().encode(s);
    this.op(0x58, ...le32(b.length), ...b);
    return memoise ? this.put(`str:${s}`) : this;
  }

  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...le32(n));
    // LONG1: minimal little-endian two's complement, as CPython encodes it.
    let v = BigInt(n);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
      const sign = bytes[bytes.length - 1] & 0x80;
      if ((v === 0n && !sign) || (v === -1n && sign)) break;
    }
    return this.op(0x8a, bytes.length, ...bytes);
  }

  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.op(0x47, ...b);
  }

  value(v: PyValue): this {
    if (v === null) return this.op(0x4e);
    if (v === true) return this.op(0x88);
    if (v === false) return this.op(0x89);
    if (typeof v === 'number') return this.int(v);
    if (typeof v === 'string') return this.string(v);
    switch (v.kind) {
      case 'raw': return this.op(...v.bytes);
      case 'float': return this.float(v.value);
      case 'tuple': {
        const n = v.items.length;
        if (n === 0) return this.op(0x29);
        if (n <= 3) {
          for (const x of v.items) this.value(x);
          return this.op(0x84 + n).put();
        }
        this.op(0x28);
        for (const x of v.items) this.value(x);
        return this.op(0x74).put();
      }
      case 'list': {
        this.op(0x5d).put();
        if (v.items.length === 0) return this;
        this.op(0x28);
        for (const x of v.items) this.value(x);
        return this.op(0x65);
      }
      case 'dict': {
        if (v.ordered) this.global('collections', 'OrderedDict').op(0x29, 0x52).put();
        else this.op(0x7d).put();
        if (v.entries.length) {
          this.op(0x28);
          for (const [k, x] of v.entries) this.value(k).value(x);
          this.op(0x75);
        }
        if (v.metadata) {
          // state_dict()._metadata = OrderedDict({'': {'version': 1}}), set through BUILD.
          this.op(0x7d).put().string('_metadata');
          this.global('collections', 'OrderedDict').op(0x29, 0x52).put();
          this.string('').op(0x7d).put().string('version').int(1).op(0x73).op(0x73);
          this.op(0x73).op(0x62);
        }
        return this;
      }
      case 'tensor': return this.tensor(v);
    }
  }

  private tensor(t: Extract<PyValue, { kind: 'tensor' }>): this {
    if (t.parameter) this.global('torch._utils', '_rebuild_parameter');
    if (t.v3Dtype) this.global('torch._utils', '_rebuild_tensor_v3');
    else this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(0x28); // MARK for the argument tuple
    // persistent id ('storage', torch.<Cls>, key, location, numel)
    this.op(0x28).string('storage');
    this.global(t.storage.cls === 'UntypedStorage' ? 'torch.storage' : 'torch', t.storage.cls);
    this.string(t.storage.key).string(t.storage.location ?? 'cpu').int(t.storage.numel).op(0x74).put();
    this.op(0x51); // BINPERSID
    this.int(t.offset);
    this.value(Py.tuple(...t.size)).value(Py.tuple(...t.stride));
    this.op(0x89); // requires_grad=False
    this.global('collections', 'OrderedDict').op(0x29, 0x52).put(); // backward_hooks
    if (t.v3Dtype) this.global('torch', t.v3Dtype);
    this.op(0x74).put().op(0x52).put(); // args TUPLE, REDUCE
    if (t.parameter) {
      // _rebuild_parameter(data, requires_grad, backward_hooks)
      this.op(0x88);
      this.global('collections', 'OrderedDict').op(0x29, 0x52).put();
      this.op(0x87).put().op(0x52).put();
    }
    return this;
  }
}

/** data.pkl bytes for `value`, as torch.save (pickle protocol 2) writes them. */
export function picklePy(value: PyValue): Uint8Array {
  return new PickleEmitter().proto(2).value(value).stop().bytes;
}

/** Every storage a value refers to, by key. */
export function storagesOf(value: PyValue, out = new Map<string, StorageSpec>()): Map<string, StorageSpec> {
  if (value === null || typeof value !== 'object') return out;
  switch (value.kind) {
    case 'tensor': out.set(value.storage.key, value.storage); break;
    case 'tuple': case 'list': for (const x of value.items) storagesOf(x, out); break;
    case 'dict': for (const [k, x] of value.entries) { storagesOf(k, out); storagesOf(x, out); } break;
    default: break;
  }
  return out;
}

// ---- zip writer ---------------------------------------------------------------------------

export interface ZipInput {
  readonly name: string;
  readonly data: Uint8Array;
  /** Claim this compression method in the headers (data stays as given). */
  readonly method?: number;
  /** Store this CRC instead of the real one. */
  readonly crc?: number;
}

export interface ZipOptions {
  /** Write ZIP64 extra fields and end records even though nothing needs them. */
  readonly zip64?: boolean;
  /** Data alignment via a padding extra field, as torch does (64); 0 for none. */
  readonly align?: number;
}

export function writeZip(entries: readonly ZipInput[], opts: ZipOptions = {}): Uint8Array {
  const align = opts.align ?? 64;
  const z64 = opts.zip64 ?? false;
  const out: number[] = [];
  const central: number[] = [];
  for (const e of entries) {
    const name = ascii(e.name);
    const crc = e.crc ?? crc32Bitwise(e.data);
    const offset = out.length;
    const z64Local = z64 ? [...le16(1), ...le16(16), ...le64(e.data.length), ...le64(e.data.length)] : [];
    let extra = z64Local;
    if (align) {
      const start = offset + 30 + name.length + extra.length;
      // torch's "FB" padding field: 4 header bytes plus filler so the data starts aligned.
      const pad = (align - ((start + 4) % align)) % align;
      extra = [...extra, ...le16(0x4246), ...le16(pad), ...new Array<number>(pad).fill(0x5a)];
    }
    const size32 = z64 ? 0xffffffff : e.data.length;
    out.push(...le32(0x04034b50), ...le16(z64 ? 45 : 20), ...le16(0), ...le16(e.method ?? 0), ...le16(0), ...le16(0x21),
      ...le32(crc), ...le32(size32), ...le32(size32), ...le16(name.length), ...le16(extra.length), ...name, ...extra);
    for (const b of e.data) out.push(b);
    const cExtra = z64 ? [...le16(1), ...le16(24), ...le64(e.data.length), ...le64(e.data.length), ...le64(offset)] : [];
    central.push(...le32(0x02014b50), ...le16(z64 ? 45 : 20), ...le16(z64 ? 45 : 20), ...le16(0), ...le16(e.method ?? 0), ...le16(0), ...le16(0x21),
      ...le32(crc), ...le32(size32), ...le32(size32), ...le16(name.length), ...le16(cExtra.length), ...le16(0), ...le16(0), ...le16(0), ...le32(0),
      ...le32(z64 ? 0xffffffff : offset), ...name, ...cExtra);
  }
  const cdOffset = out.length;
  out.push(...central);
  if (z64) {
    const recOffset = out.length;
    out.push(...le32(0x06064b50), ...le64(44), ...le16(45), ...le16(45), ...le32(0), ...le32(0),
      ...le64(entries.length), ...le64(entries.length), ...le64(central.length), ...le64(cdOffset));
    out.push(...le32(0x07064b50), ...le32(0), ...le64(recOffset), ...le32(1));
    out.push(...le32(0x06054b50), ...le16(0), ...le16(0), ...le16(0xffff), ...le16(0xffff), ...le32(0xffffffff), ...le32(0xffffffff), ...le16(0));
  } else {
    out.push(...le32(0x06054b50), ...le16(0), ...le16(0), ...le16(entries.length), ...le16(entries.length), ...le32(central.length), ...le32(cdOffset), ...le16(0));
  }
  return Uint8Array.from(out);
}

export interface TorchSaveOptions extends ZipOptions {
  /** The archive's top folder; torch uses the file's stem or "archive". */
  readonly archiveName?: string;
  /** Contents of the byteorder entry; omitted entirely when null (torch < 2.1). */
  readonly byteorder?: string | null;
  /** Replace data.pkl with these bytes (for hand-made pickles). */
  readonly pickle?: Uint8Array;
}

/** The bytes `torch.save(value, path)` writes (new zipfile serialization). */
export function torchSave(value: PyValue, opts: TorchSaveOptions = {}): Uint8Array {
  const root = opts.archiveName ?? 'archive';
  const entries: ZipInput[] = [{ name: `${root}/data.pkl`, data: opts.pickle ?? picklePy(value) }];
  if (opts.byteorder !== null) entries.push({ name: `${root}/byteorder`, data: asciiBytes(opts.byteorder ?? 'little') });
  for (const s of storagesOf(value).values()) entries.push({ name: `${root}/data/${s.key}`, data: s.bytes });
  entries.push({ name: `${root}/version`, data: asciiBytes('3\n') });
  entries.push({ name: `${root}/.data/serialization_id`, data: asciiBytes('1234567890123456789012345678901234567890') });
  return writeZip(entries, opts);
}

// ---- bytes --------------------------------------------------------------------------------

/** CRC-32 computed bit by bit (deliberately not table-driven like the reader's). */
export function crc32Bitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
export const asciiBytes = (s: string) => Uint8Array.from(ascii(s));
const le16 = (n: number) => [n & 0xff, (n >>> 8) & 0xff];
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const le64 = (n: number) => [...le32(n >>> 0), ...le32(Math.floor(n / 2 ** 32))];
