/**
 * A minimal reader for the zip archives `torch.save` writes: it reads the central directory
 * (ZIP64 records included, for archives and entries past 4 GiB) and returns the bytes of
 * STORED (uncompressed) entries, whole or in ranges, straight from the file.
 *
 * Why our own reader rather than an npm zip library: torch never compresses entries, we need
 * random-access reads of byte ranges inside multi-gigabyte entries without inflating or
 * buffering them, and the format subset involved (end records, central directory, local
 * header) is about a page of code with no dependency to vet. Compressed or encrypted entries
 * are refused with an explanation.
 */
import type { ByteSource } from './byte_source.ts';
import { crc32 } from './crc32.ts';
import { ZipFormatError } from './errors.ts';

export interface ZipEntry {
  readonly name: string;
  readonly flags: number;
  /** 0 = stored; 8 = deflate; anything else we do not read either. */
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

const METHOD_NAMES: Record<number, string> = { 8: 'deflate', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz' };

export class StoredZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly dataOffsets = new Map<string, number>();

  private constructor(private readonly src: ByteSource, entries: Map<string, ZipEntry>) {
    this.entries = entries;
  }

  static open(src: ByteSource): StoredZipArchive {
    const fail = (msg: string): never => {
      throw new ZipFormatError(`${src.label}: ${msg}`);
    };
    const dir = locateCentralDirectory(src, fail);
    const bytes = src.read(dir.offset, dir.size);
    const view = new DataView(bytes.buffer);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < dir.count; i++) {
      if (p + 46 > bytes.length || view.getUint32(p, true) !== SIG_CENTRAL) {
        fail(`central directory entry ${i} of ${dir.count} is damaged (no header signature at byte ${dir.offset + p}); the archive is corrupt or truncated.`);
      }
      const flags = view.getUint16(p + 8, true);
      const method = view.getUint16(p + 10, true);
      const crc = view.getUint32(p + 16, true);
      let compressedSize = view.getUint32(p + 20, true);
      let size = view.getUint32(p + 24, true);
      const nameLen = view.getUint16(p + 28, true);
      const extraLen = view.getUint16(p + 30, true);
      const commentLen = view.getUint16(p + 32, true);
      let localHeaderOffset = view.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > bytes.length) fail(`central directory entry ${i} runs past the end of the directory; the archive is corrupt.`);
      // Bit 11 marks UTF-8 names; torch's names are ASCII either way.
      const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(bytes.subarray(p + 46, p + 46 + nameLen));

      // ZIP64: the 32-bit fields that overflowed hold 0xFFFFFFFF and the real values follow,
      // in this fixed order, in extra field 0x0001.
      const needs = [size === 0xffffffff, compressedSize === 0xffffffff, localHeaderOffset === 0xffffffff];
      if (needs.some(Boolean)) {
        const z64 = findExtra(bytes.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), 0x0001);
        if (!z64) fail(`entry ${JSON.stringify(name)} has 32-bit overflow markers but no ZIP64 extra field; the archive is corrupt.`);
        const zv = new DataView(z64!.buffer, z64!.byteOffset, z64!.byteLength);
        let q = 0;
        const next = (): number => {
          if (q + 8 > zv.byteLength) fail(`entry ${JSON.stringify(name)} has a short ZIP64 extra field; the archive is corrupt.`);
          const v = u64(zv, q, fail);
          q += 8;
          return v;
        };
        if (needs[0]) size = next();
        if (needs[1]) compressedSize = next();
        if (needs[2]) localHeaderOffset = next();
      }
      if (entries.has(name)) fail(`it holds two entries named ${JSON.stringify(name)}; refusing an ambiguous archive.`);
      entries.set(name, { name, flags, method, crc32: crc, compressedSize, size, localHeaderOffset });
      p = end;
    }
    return new StoredZipArchive(src, entries);
  }

  /** Absolute offset of the entry's data; checks that the entry can be read as stored bytes. */
  dataOffset(entry: ZipEntry): number {
    const cached = this.dataOffsets.get(entry.name);
    if (cached !== undefined) return cached;
    const where = `${this.src.label}: entry ${JSON.stringify(entry.name)}`;
    if (entry.flags & 0x1) throw new ZipFormatError(`${where} is encrypted; Kiln reads only unencrypted archives as written by torch.save.`);
    if (entry.method !== 0) {
      const how = METHOD_NAMES[entry.method] ?? `method ${entry.method}`;
      throw new ZipFormatError(`${where} is compressed (${how}); torch.save writes entries uncompressed and Kiln reads only those. If the archive was re-zipped, re-save it with torch.save or convert it to safetensors.`);
    }
    if (entry.compressedSize !== entry.size) throw new ZipFormatError(`${where} is stored but its compressed size ${entry.compressedSize} differs from its size ${entry.size}; the archive is corrupt.`);
    if (entry.localHeaderOffset + 30 > this.src.size) throw new ZipFormatError(`${where} starts past the end of the file; the archive is truncated.`);
    const local = this.src.read(entry.localHeaderOffset, 30);
    const lv = new DataView(local.buffer);
    if (lv.getUint32(0, true) !== SIG_LOCAL) throw new ZipFormatError(`${where} has no local header at byte ${entry.localHeaderOffset}; the archive is corrupt.`);
    const offset = entry.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    if (offset + entry.size > this.src.size) {
      throw new ZipFormatError(`${where} needs bytes ${offset}..${offset + entry.size} but the file has ${this.src.size}; the archive is truncated.`);
    }
    this.dataOffsets.set(entry.name, offset);
    return offset;
  }

  /** The whole entry, checked against its CRC-32. */
  read(entry: ZipEntry): Uint8Array {
    const bytes = this.src.read(this.dataOffset(entry), entry.size);
    const actual = crc32(bytes);
    if (actual !== entry.crc32) {
      throw new ZipFormatError(`${this.src.label}: entry ${JSON.stringify(entry.name)} fails its checksum (CRC-32 ${hex(actual)}, archive says ${hex(entry.crc32)}); the file is corrupt. Download or copy it again.`);
    }
    return bytes;
  }

  /** Bytes [start, start + length) of the entry, unchecked (a CRC covers whole entries only). */
  readRange(entry: ZipEntry, start: number, length: number): Uint8Array {
    if (start < 0 || length < 0 || start + length > entry.size) {
      throw new RangeError(`${this.src.label}: range ${start}+${length} is outside entry ${entry.name} (${entry.size} bytes)`);
    }
    return this.src.read(this.dataOffset(entry) + start, length);
  }
}

interface CentralDirectory {
  readonly offset: number;
  readonly size: number;
  readonly count: number;
}

function locateCentralDirectory(src: ByteSource, fail: (msg: string) => never): CentralDirectory {
  if (src.size < EOCD_SIZE) fail(`the file is ${src.size} bytes long, too short to be a zip archive.`);
  const tailStart = Math.max(0, src.size - EOCD_SIZE - MAX_COMMENT);
  const tail = src.read(tailStart, src.size - tailStart);
  const tv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tv.getUint16(i + 20, true) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) fail('no end-of-central-directory record found: this is not a zip archive, or it is truncated.');
  if (tv.getUint16(at + 4, true) !== 0 || tv.getUint16(at + 6, true) !== 0) fail('it is a multi-part (spanned) zip archive, which Kiln does not read.');
  let count = tv.getUint16(at + 10, true);
  let size = tv.getUint32(at + 12, true);
  let offset = tv.getUint32(at + 16, true);

  const eocdPos = tailStart + at;
  if (eocdPos >= 20) {
    const loc = src.read(eocdPos - 20, 20);
    const lv = new DataView(loc.buffer);
    if (lv.getUint32(0, true) === SIG_ZIP64_LOCATOR) {
      const recPos = u64(lv, 8, fail);
      if (recPos + 56 > src.size) fail('its ZIP64 end record lies past the end of the file; the archive is truncated or corrupt.');
      const rec = src.read(recPos, 56);
      const rv = new DataView(rec.buffer);
      if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) fail('its ZIP64 locator points at a damaged ZIP64 end record; the archive is corrupt.');
      count = u64(rv, 32, fail);
      size = u64(rv, 40, fail);
      offset = u64(rv, 48, fail);
    }
  }
  if (offset + size > src.size) fail(`its central directory (bytes ${offset}..${offset + size}) lies past the end of the ${src.size}-byte file; the archive is truncated.`);
  return { offset, size, count };
}

function findExtra(extra: Uint8Array, id: number): Uint8Array | undefined {
  const v = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let p = 0; p + 4 <= extra.length;) {
    const len = v.getUint16(p + 2, true);
    if (v.getUint16(p, true) === id) return extra.subarray(p + 4, Math.min(extra.length, p + 4 + len));
    p += 4 + len;
  }
  return undefined;
}

function u64(view: DataView, at: number, fail: (msg: string) => never): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`it has a 64-bit size or offset (${v}) too large to be real; the archive is corrupt.`);
  return Number(v);
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
