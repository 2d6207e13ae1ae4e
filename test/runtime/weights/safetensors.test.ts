import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../../runtime/tensor.ts';
import {
  MAX_HEADER_BYTES, SafetensorsError, encodeSafetensors, openSafetensors, readSafetensorsBytes, writeSafetensors,
  writeSafetensorsStreaming,
} from '../../../runtime/weights/safetensors.ts';
import { craftSafetensors, headerOf, tempDirs, tempLeftovers, withLength } from './helpers.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

/** One tensor of every dtype, with values chosen by hand (edge values included). */
function everyDtype(): Map<string, HostTensor> {
  return new Map<string, HostTensor>([
    ['f64', { dtype: 'F64', shape: [2, 2], data: Float64Array.from([1.5, -0, Number.MAX_VALUE, 1e-300]) }],
    ['f32', { dtype: 'F32', shape: [3], data: Float32Array.from([0.1, -2, Infinity]) }],
    // 1.0, -2.0, the largest half, smallest subnormal
    ['f16', { dtype: 'F16', shape: [4], data: Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]) }],
    ['bf16', { dtype: 'BF16', shape: [2, 1], data: Uint16Array.from([0x3f80, 0xc2f7]) }],
    ['i64', { dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]) }],
    ['i32', { dtype: 'I32', shape: [3], data: Int32Array.from([-(2 ** 31), 0, 2 ** 31 - 1]) }],
    ['i16', { dtype: 'I16', shape: [1], data: Int16Array.from([-32768]) }],
    ['i8', { dtype: 'I8', shape: [2], data: Int8Array.from([-128, 127]) }],
    ['u8', { dtype: 'U8', shape: [1, 3], data: Uint8Array.from([0, 128, 255]) }],
    ['bool', { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) }],
    ['scalar', { dtype: 'F32', shape: [], data: Float32Array.from([7]) }],
    ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

describe('safetensors round trip', () => {
  it('reads back every dtype exactly, from a file and from memory', () => {
    const tensors = everyDtype();
    const path = join(dirs.make(), 'all.safetensors');
    writeSafetensors(path, tensors, { note: 'hello', empty: '' });
    const bytes = readFileSync(path);
    for (const f of [openSafetensors(path), readSafetensorsBytes(new Uint8Array(bytes))]) {
      expect([...f.names].sort()).toEqual([...tensors.keys()].sort());
      expect(f.metadata).toEqual({ note: 'hello', empty: '' });
      for (const [name, t] of tensors) {
        const back = f.read(name);
        expect(back.dtype).toBe(t.dtype);
        expect(back.shape).toEqual(t.shape);
        expect(back.data.constructor).toBe(t.data.constructor);
        expect(Array.from(back.data as ArrayLike<number>)).toEqual(Array.from(t.data as ArrayLike<number>));
      }
      expect(f.readAll().size).toBe(tensors.size);
      f.close();
    }
  });

  it('lays tensors out largest element first, by name, aligned, with a space-padded header', () => {
    const bytes = encodeSafetensors({
      c: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
      a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) },
      z: { dtype: 'F64', shape: [1], data: Float64Array.from([1]) },
      b: { dtype: 'I64', shape: [1], data: BigInt64Array.from([5n]) },
      d: { dtype: 'F16', shape: [1], data: Uint16Array.from([0x3c00]) },
    }, { k: 'v' });
    const { n, json } = headerOf(bytes);
    expect(n % 8).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + n))).toMatch(/} *$/);
    // Hand-computed: b (I64, 8 bytes), z (F64, 8), a (F32, 8), d (F16, 2), c (U8, 3).
    const offsets = Object.fromEntries(Object.entries(json).filter(([k]) => k !== '__metadata__')
      .map(([k, v]) => [k, (v as { data_offsets: number[] }).data_offsets]));
    expect(offsets).toEqual({ b: [0, 8], z: [8, 16], a: [16, 24], d: [24, 26], c: [26, 29] });
    expect(json.__metadata__).toEqual({ k: 'v' });
    expect(bytes.length).toBe(8 + n + 29);
    // The F32 data sits at an absolute offset divisible by 4 and holds 1, 2.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect((8 + n + 16) % 4).toBe(0);
    expect([view.getFloat32(8 + n + 16, true), view.getFloat32(8 + n + 20, true)]).toEqual([1, 2]);
  });

  it('writes the same bytes for the same tensors in any insertion order', () => {
    const t = everyDtype();
    const reversed = new Map([...t].reverse());
    expect(Buffer.from(encodeSafetensors(reversed)).equals(Buffer.from(encodeSafetensors(t)))).toBe(true);
  });

  it('keeps awkward tensor names such as "__proto__" and "0"', () => {
    const f = readSafetensorsBytes(encodeSafetensors(new Map<string, HostTensor>([
      ['__proto__', { dtype: 'U8', shape: [1], data: Uint8Array.from([9]) }],
      ['0', { dtype: 'U8', shape: [1], data: Uint8Array.from([8]) }],
    ])));
    expect([...f.names].sort()).toEqual(['0', '__proto__']);
    expect(f.read('__proto__').data[0]).toBe(9);
  });

  it('returns aligned copies when the in-memory data is misaligned', () => {
    const file = encodeSafetensors({ x: { dtype: 'F64', shape: [2], data: Float64Array.from([3.25, -1]) } });
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const t = readSafetensorsBytes(shifted.subarray(1)).read('x');
    expect(t.data.byteOffset % 8).toBe(0);
    expect(Array.from(t.data as Float64Array)).toEqual([3.25, -1]);
  });

  it('refuses to write inconsistent tensors, naming them', () => {
    expect(() => encodeSafetensors({ bad: { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2]) } }))
      .toThrow(/tensor "bad".*2 elements but shape \[3\] has 3/);
    expect(() => encodeSafetensors({ bad: { dtype: 'F16', shape: [1], data: Float32Array.from([1]) } }))
      .toThrow(/"bad".*F16 data must be a Uint16Array/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow(/reserves that name/);
  });
});

describe('atomic writes', () => {
  it('leaves neither the destination nor a temporary file when writing fails', () => {
    const dir = dirs.make();
    const path = join(dir, 'out.safetensors');
    const specs = [{ name: 'a', dtype: 'F32' as const, shape: [1] }, { name: 'b', dtype: 'F32' as const, shape: [1] }];
    const load = (name: string): HostTensor => {
      if (name === 'b') throw new Error('disk on fire');
      return { dtype: 'F32', shape: [1], data: Float32Array.from([1]) };
    };
    expect(() => writeSafetensorsStreaming(path, specs, load)).toThrow('disk on fire');
    expect(existsSync(path)).toBe(false);
    expect(tempLeftovers(dir)).toEqual([]);
  });

  it('keeps the old file intact when overwriting fails', () => {
    const dir = dirs.make();
    const path = join(dir, 'out.safetensors');
    writeSafetensors(path, { a: { dtype: 'U8', shape: [1], data: Uint8Array.from([42]) } });
    const before = readFileSync(path);
    expect(() => writeSafetensorsStreaming(path, [{ name: 'a', dtype: 'U8', shape: [1] }], () => {
      throw new Error('interrupted');
    })).toThrow('interrupted');
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(tempLeftovers(dir)).toEqual([]);
  });

  it('says which folder is missing', () => {
    expect(() => writeSafetensors('/nonexistent-kiln-dir/x.safetensors', {})).toThrow(/folder \/nonexistent-kiln-dir does not exist/);
  });
});

describe('the golden file format', () => {
  const golden = new URL('../../golden/causal_conv3d_k3_s1.safetensors', import.meta.url).pathname;

  it('reads names, shapes, dtypes and metadata', () => {
    const f = openSafetensors(golden);
    expect(new Set(f.names)).toEqual(new Set(['output_f64.y', 'conv.bias', 'conv.weight', 'input.x', 'output.y']));
    expect(f.entry('conv.weight')).toMatchObject({ dtype: 'F32', shape: [6, 4, 3, 3, 3] });
    expect(f.entry('output_f64.y')).toMatchObject({ dtype: 'F64', shape: [1, 6, 5, 6, 7] });
    expect(f.entry('input.x').shape).toEqual([1, 4, 5, 6, 7]);
    expect(f.metadata.case).toBe('causal_conv3d_k3_s1');
    expect(JSON.parse(f.metadata.config).constructor).toEqual({ chan_in: 4, chan_out: 6, kernel_size: 3, stride: 1 });
    expect(f.gaps).toEqual([]);
    f.close();
  });

  it('reads the same values as a plain DataView decoding of the file', () => {
    const bytes = readFileSync(golden);
    const { n, json } = headerOf(bytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const f = openSafetensors(golden);
    for (const name of ['conv.bias', 'conv.weight', 'output_f64.y']) {
      const { dtype, data_offsets: [begin, end] } = json[name] as { dtype: string; data_offsets: number[] };
      const size = dtype === 'F64' ? 8 : 4;
      const expected = Array.from({ length: (end - begin) / size }, (_, i) =>
        size === 8 ? view.getFloat64(8 + n + begin + i * 8, true) : view.getFloat32(8 + n + begin + i * 4, true));
      expect(Array.from(f.read(name).data as Float32Array)).toEqual(expected);
    }
    f.close();
  });
});

describe('damaged headers', () => {
  const bad = (bytes: Uint8Array) => () => readSafetensorsBytes(bytes, 'bad.safetensors');
  const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data8 = new Uint8Array(8);

  it('file shorter than 8 bytes', () => {
    expect(bad(new Uint8Array(5))).toThrow(SafetensorsError);
    expect(bad(new Uint8Array(5))).toThrow(/bad\.safetensors: the file is 5 bytes long, too short/);
  });

  it('header length larger than the file', () => {
    const json = new TextEncoder().encode('{}      ');
    expect(bad(withLength(json, new Uint8Array(0), 1000))).toThrow(/header length field says 1000 bytes, but only 8 bytes follow/);
  });

  it('points a PyTorch zip checkpoint at the right reader', () => {
    const zipLike = Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 1, 2, 3, 4]);
    expect(bad(zipLike)).toThrow(/starts like a zip archive: if it is a PyTorch checkpoint, load it with loadWeights or convert it with `kiln convert`/);
  });

  it('header length absurdly large', () => {
    // A sparse file just over the limit, so the length fits in the file but exceeds the cap.
    const path = join(dirs.make(), 'huge.safetensors');
    const fd = openSync(path, 'w');
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
    writeSync(fd, len, 0, 8, 0);
    ftruncateSync(fd, MAX_HEADER_BYTES + 64);
    closeSync(fd);
    expect(() => openSafetensors(path)).toThrow(/says 100000001 bytes, more than the 100000000-byte limit/);
  });

  it('header not UTF-8', () => {
    expect(bad(withLength(Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d, 0x20, 0x20, 0x20, 0x20])))).toThrow(/not valid UTF-8/);
  });

  it('header not JSON', () => {
    expect(bad(craftSafetensors('{"x": '))).toThrow(/header is not valid JSON/);
  });

  it('header not an object', () => {
    expect(bad(craftSafetensors('[1, 2]'))).toThrow(/header is JSON array, but it must be an object/);
    expect(bad(craftSafetensors('null'))).toThrow(/header is JSON null/);
  });

  it('entry not an object', () => {
    expect(bad(craftSafetensors({ x: [1] }))).toThrow(/tensor "x": its entry is an array/);
  });

  it('unknown dtype', () => {
    expect(bad(craftSafetensors({ x: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, data8)))
      .toThrow(/tensor "x": unknown dtype "F8_E4M3"; Kiln reads F64, F32/);
  });

  it('shape not a list of non-negative integers', () => {
    for (const shape of [[-1], [1.5], '2', [2, null]]) {
      expect(bad(craftSafetensors({ x: { dtype: 'F32', shape, data_offsets: [0, 8] } }, data8)))
        .toThrow(/tensor "x": shape .* is not a list of non-negative integers/);
    }
  });

  it('data_offsets not two integers', () => {
    for (const offs of [[0], [0, '8'], [0, 8, 9], 'x', [-8, 0]]) {
      expect(bad(craftSafetensors({ x: { dtype: 'F32', shape: [2], data_offsets: offs } }, data8)))
        .toThrow(/tensor "x": data_offsets .* is not a pair \[begin, end\]/);
    }
  });

  it('data_offsets with begin > end', () => {
    expect(bad(craftSafetensors({ x: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, new Uint8Array(16))))
      .toThrow(/tensor "x": data_offsets \[8, 0\] has begin > end/);
  });

  it('offsets outside the data section', () => {
    expect(bad(craftSafetensors({ x: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data8)))
      .toThrow(/tensor "x": data_offsets \[0, 16\] reach past the end of the data section, which is 8 bytes long/);
  });

  it('byte length not numel × element size', () => {
    expect(bad(craftSafetensors({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data8)))
      .toThrow(/tensor "x": data_offsets \[0, 8\] span 8 bytes, but shape \[3\] of F32 needs 3 × 4 = 12 bytes/);
  });

  it('two tensors overlapping', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expect(bad(craftSafetensors(header, new Uint8Array(12)))).toThrow(/tensors "a" \(bytes up to 8\) and "b" \(bytes 4\.\.12\) overlap/);
  });

  it('__metadata__ not a string→string map', () => {
    expect(bad(craftSafetensors({ __metadata__: { n: 1 }, ...ok }, data8))).toThrow(/"__metadata__" entry "n" is number 1, but metadata values must be strings/);
    expect(bad(craftSafetensors({ __metadata__: ['a'], ...ok }, data8))).toThrow(/"__metadata__" is an array/);
  });

  it('accepts gaps between tensors and records them', () => {
    const header = {
      a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] },
      b: { dtype: 'U8', shape: [2], data_offsets: [4, 6] },
    };
    const f = readSafetensorsBytes(craftSafetensors(header, Uint8Array.from([1, 2, 0, 0, 3, 4, 0]), true));
    const dataStart = headerOf(craftSafetensors(header)).n + 8;
    expect(f.gaps).toEqual([{ byteOffset: dataStart + 2, byteLength: 2 }, { byteOffset: dataStart + 6, byteLength: 1 }]);
    expect(Array.from(f.read('b').data as Uint8Array)).toEqual([3, 4]);
  });

  it('names the file and suggests close names for a missing tensor', () => {
    const f = readSafetensorsBytes(craftSafetensors(ok, data8), 'm.safetensors');
    expect(() => f.read('y')).toThrow(/m\.safetensors has no tensor named "y"\. It has 1 tensor; the closest names are "x"/);
  });

  it('says what is wrong with a missing file', () => {
    expect(() => openSafetensors('/nonexistent/x.safetensors')).toThrow(/cannot open safetensors file \/nonexistent\/x\.safetensors: no such file/);
  });

  it('marks every damage error as user-facing', () => {
    try {
      bad(craftSafetensors('[]'))();
      expect.unreachable();
    } catch (err) {
      expect((err as { userFacing?: boolean }).userFacing).toBe(true);
    }
  });
});

// Writes done through the public file API must not be visible until complete.
describe('writeSafetensors on disk', () => {
  it('returns the file size', () => {
    const path = join(dirs.make(), 'x.safetensors');
    const size = writeSafetensors(path, everyDtype());
    expect(readFileSync(path).length).toBe(size);
  });
});
