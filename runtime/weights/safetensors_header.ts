/**
 * The safetensors header: an 8-byte little-endian length N, then N bytes of UTF-8 JSON mapping
 * tensor names to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data
 * section that follows the header) plus an optional `__metadata__` string→string map.
 * `parseSafetensorsHeader` validates all of it against the file size before any tensor data
 * is read, and reports each kind of damage with its own message.
 */
import { STORAGE_BYTES, elementCount, type StorageDType } from '../tensor.ts';
import type { ByteSource } from './byte_source.ts';
import { STORAGE_DTYPES, isStorageDType } from './dtypes.ts';
import { SafetensorsError } from './errors.ts';

/** Where one tensor lives. `byteOffset` is absolute (from the start of the file). */
export interface SafetensorsEntry {
  readonly dtype: StorageDType;
  readonly shape: readonly number[];
  readonly byteOffset: number;
  readonly byteLength: number;
}

/** A stretch of the data section no tensor uses (the format allows them; we only record them). */
export interface ByteRange {
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** Tensor entries in header order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute offset of the data section (8 + N). */
  readonly dataOffset: number;
  readonly gaps: readonly ByteRange[];
}

/** Headers beyond this are refused as damage rather than parsed (the reference reader's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

export function parseSafetensorsHeader(src: ByteSource): SafetensorsHeader {
  const where = src.label;
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${where}: ${msg}`);
  };
  if (src.size < 8) {
    fail(`the file is ${src.size} bytes long, too short to be safetensors: it must start with an 8-byte header length. Is this the right file, and was it copied completely?`);
  }
  const lenBytes = src.read(0, 8);
  const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
  // A zip signature here means a PyTorch checkpoint handed to the safetensors reader.
  const hint = lenBytes[0] === 0x50 && lenBytes[1] === 0x4b
    ? ' It starts like a zip archive: if it is a PyTorch checkpoint, load it with loadWeights or convert it with `kiln convert`.'
    : '';
  if (headerLen > BigInt(src.size - 8)) {
    fail(`the header length field says ${headerLen} bytes, but only ${src.size - 8} bytes follow it. The file is truncated, or it is not a safetensors file.${hint}`);
  }
  const n = Number(headerLen);
  if (n > MAX_HEADER_BYTES) {
    fail(`the header length field says ${n} bytes, more than the ${MAX_HEADER_BYTES}-byte limit for a safetensors header; the file is damaged or not a safetensors file.${hint}`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, n));
  } catch {
    return fail(`the ${n}-byte header is not valid UTF-8 text; expected a JSON object. The file is damaged or not a safetensors file.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`the header is not valid JSON (${(err as Error).message}); expected a JSON object such as {"name": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail(`the header is JSON ${json === null ? 'null' : Array.isArray(json) ? 'array' : typeof json}, but it must be an object mapping tensor names to {dtype, shape, data_offsets}.`);
  }

  const dataOffset = 8 + n;
  const dataSize = src.size - dataOffset;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    entries.set(name, parseEntry(name, raw, dataOffset, dataSize, (msg) => fail(`tensor ${JSON.stringify(name)}: ${msg}`)));
  }
  return { entries, metadata, dataOffset, gaps: checkOverlapsAndFindGaps(entries, dataOffset, dataSize, fail) };
}

function parseMetadata(raw: unknown, fail: (msg: string) => never): Record<string, string> {
  // serde reads the reference format's Option<map> with null as "absent"; accept that too.
  if (raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    fail(`"${METADATA_KEY}" is ${describe(raw)}, but it must be an object of string values.`);
  }
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`"${METADATA_KEY}" entry ${JSON.stringify(k)} is ${describe(v)}, but metadata values must be strings.`);
    out[k] = v as string;
  }
  return out;
}

function parseEntry(name: string, raw: unknown, dataOffset: number, dataSize: number, fail: (msg: string) => never): SafetensorsEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(`its entry is ${describe(raw)}, but it must be an object {dtype, shape, data_offsets}.`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isStorageDType(dtype)) {
    fail(`unknown dtype ${JSON.stringify(dtype)}; Kiln reads ${STORAGE_DTYPES.join(', ')}.`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers.`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] of non-negative integers.`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`data_offsets [${begin}, ${end}] has begin > end.`);
  if (end > dataSize) {
    fail(`data_offsets [${begin}, ${end}] reach past the end of the data section, which is ${dataSize} bytes long; the file is truncated or its header is wrong.`);
  }
  const dims = shape as number[];
  const expected = elementCount(dims) * STORAGE_BYTES[dtype as StorageDType];
  if (end - begin !== expected) {
    fail(`data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${dims.join(', ')}] of ${dtype} needs ${elementCount(dims)} × ${STORAGE_BYTES[dtype as StorageDType]} = ${expected} bytes.`);
  }
  return { dtype: dtype as StorageDType, shape: [...dims], byteOffset: dataOffset + begin, byteLength: end - begin };
}

function checkOverlapsAndFindGaps(
  entries: ReadonlyMap<string, SafetensorsEntry>, dataOffset: number, dataSize: number, fail: (msg: string) => never,
): ByteRange[] {
  // Empty tensors occupy no bytes, so they can neither overlap nor close a gap.
  const sorted = [...entries].filter(([, e]) => e.byteLength > 0).sort(([, a], [, b]) => a.byteOffset - b.byteOffset);
  const gaps: ByteRange[] = [];
  let cursor = dataOffset;
  let previous = '';
  for (const [name, e] of sorted) {
    if (e.byteOffset < cursor) {
      const rel = (x: number) => x - dataOffset;
      fail(`tensors ${JSON.stringify(previous)} (bytes up to ${rel(cursor)}) and ${JSON.stringify(name)} (bytes ${rel(e.byteOffset)}..${rel(e.byteOffset + e.byteLength)}) overlap; each tensor needs its own bytes.`);
    }
    if (e.byteOffset > cursor) gaps.push({ byteOffset: cursor, byteLength: e.byteOffset - cursor });
    cursor = e.byteOffset + e.byteLength;
    previous = name;
  }
  const end = dataOffset + dataSize;
  if (cursor < end) gaps.push({ byteOffset: cursor, byteLength: end - cursor });
  return gaps;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array (${JSON.stringify(v).slice(0, 60)})`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
