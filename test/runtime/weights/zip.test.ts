import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryByteSource } from '../../../runtime/weights/byte_source.ts';
import { crc32, crc32Table } from '../../../runtime/weights/crc32.ts';
import { StoredZipArchive } from '../../../runtime/weights/zip.ts';
import { crc32Bitwise, writeZip } from './torch_writer.ts';

const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const open = (bytes: Uint8Array) => StoredZipArchive.open(new MemoryByteSource(bytes, 'test.zip'));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// CPython 3.11 zipfile, ZIP_STORED: 'a/data.pkl' = b'hello', 'a/data/0' = bytes(range(10)) written
// with force_zip64=True (ZIP64 sizes in its local header), archive comment 'made by CPython zipfile'.
const PYTHON_ZIP = '504b030414000000000040737c5d86a6103605000000050000000a000000612f646174612e706b6c68656c6c6f504b03042d00000000000000210046d76c45ffffffffffffffff08001400612f646174612f30010010000a000000000000000a0000000000000000010203040506070809504b0102140314000000000040737c5d86a6103605000000050000000a0000000000000000000000800100000000612f646174612e706b6c504b01022d032d00000000000000210046d76c450a0000000a00000008000000000000000000000080012d000000612f646174612f30504b050600000000020002006e0000007100000017006d6164652062792043507974686f6e207a697066696c65';
// The same tool with ZIP_DEFLATED: 'a/data.pkl' = b'hello' * 10.
const PYTHON_DEFLATED_ZIP = '504b030414000000080040737c5d1a1cb48d0a000000320000000a000000612f646174612e706b6ccb48cdc9c9cf20850000504b0102140314000000080040737c5d1a1cb48d0a000000320000000a0000000000000000000000800100000000612f646174612e706b6c504b0506000000000100010038000000320000000000';

describe('crc32', () => {
  it('gives the standard check value', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Table(check)).toBe(0xcbf43926);
  });

  it('agrees with a bit-by-bit implementation, also when continued', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (bytes, cut) => {
      const c = Math.min(cut, bytes.length);
      const expected = crc32Bitwise(bytes);
      expect(crc32(bytes)).toBe(expected);
      expect(crc32Table(bytes)).toBe(expected);
      expect(crc32Table(bytes.subarray(c), crc32Table(bytes.subarray(0, c)))).toBe(expected);
    }));
  });
});

describe('StoredZipArchive', () => {
  it('reads an archive written by CPython, comment and ZIP64 local header included', () => {
    const zip = open(hex(PYTHON_ZIP));
    expect([...zip.entries.keys()]).toEqual(['a/data.pkl', 'a/data/0']);
    expect(text(zip.read(zip.entries.get('a/data.pkl')!))).toBe('hello');
    expect(Array.from(zip.read(zip.entries.get('a/data/0')!))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(zip.readRange(zip.entries.get('a/data/0')!, 3, 4))).toEqual([3, 4, 5, 6]);
  });

  it('lists but refuses to read compressed entries', () => {
    const zip = open(hex(PYTHON_DEFLATED_ZIP));
    const entry = zip.entries.get('a/data.pkl')!;
    expect(entry).toMatchObject({ method: 8, size: 50 });
    expect(() => zip.read(entry)).toThrow(/test\.zip: entry "a\/data\.pkl" is compressed \(deflate\)/);
  });

  it('reads what the test writer writes, in every layout', () => {
    const entries = [{ name: 'x/one', data: Uint8Array.from([1, 2, 3]) }, { name: 'x/empty', data: new Uint8Array(0) }];
    for (const opts of [{}, { zip64: true }, { align: 0 }, { zip64: true, align: 64 }]) {
      const zip = open(writeZip(entries, opts));
      expect(Array.from(zip.read(zip.entries.get('x/one')!))).toEqual([1, 2, 3]);
      expect(zip.read(zip.entries.get('x/empty')!).length).toBe(0);
      if (opts.align === undefined || opts.align === 64) expect(zip.dataOffset(zip.entries.get('x/one')!) % 64).toBe(0);
    }
  });

  it('explains damage', () => {
    expect(() => open(new Uint8Array(10))).toThrow(/10 bytes long, too short to be a zip archive/);
    expect(() => open(new Uint8Array(100))).toThrow(/no end-of-central-directory record/);
    const good = writeZip([{ name: 'a', data: Uint8Array.from([1]) }], { align: 0 });
    // Point the central directory offset (EOCD bytes 16..19) past the end of the file.
    const moved = Uint8Array.from(good);
    new DataView(moved.buffer).setUint32(moved.length - 6, 10_000, true);
    expect(() => open(moved)).toThrow(/central directory \(bytes 10000\.\.\d+\) lies past the end/);
    const dup = writeZip([{ name: 'a', data: Uint8Array.from([1]) }, { name: 'a', data: Uint8Array.from([2]) }]);
    expect(() => open(dup)).toThrow(/two entries named "a"/);
  });
});
