import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { PytorchCheckpointError, ZipFormatError } from '../../../runtime/weights/errors.ts';
import {
  TensorRecord, loadPytorchCheckpoint, openPytorchCheckpoint, readPytorchCheckpointBytes, stateDictFrom,
} from '../../../runtime/weights/pytorch.ts';
import { tempDirs } from './helpers.ts';
import {
  Py, PickleEmitter, asciiBytes, contiguous, f32Bytes, f64Bytes, i64Bytes, storage, torchSave, u16Bytes, writeZip,
  type PyValue,
} from './torch_writer.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const values = (t: HostTensor) => Array.from(toFloat64(t));
function save(value: PyValue, opts: Parameters<typeof torchSave>[1] = {}, name = 'model.pt'): string {
  const path = join(dirs.make(), name);
  writeFileSync(path, torchSave(value, opts));
  return path;
}

/** The checkpoint the brief describes, with values known by construction. */
function trainingCheckpoint(): PyValue {
  const w = storage('0', 'FloatStorage', f32Bytes([0, 1, 2, 3, 4, 5]));
  // 1.0, 2.0, -3.0, 0.5 as IEEE half
  const h = storage('1', 'HalfStorage', u16Bytes([0x3c00, 0x4000, 0xc200, 0x3800]));
  const shared = storage('2', 'FloatStorage', f32Bytes([10, 11, 12, 13, 14, 15, 16, 17]));
  const steps = storage('3', 'LongStorage', i64Bytes([-5, 2 ** 40]));
  const sd = Py.ordered([
    ['conv.weight', contiguous(w, [2, 3])],
    // the transpose of conv.weight: same storage, strides swapped
    ['conv.weight_t', Py.tensor(w, 0, [3, 2], [1, 3])],
    ['norm.weight', contiguous(h, [4])],
    ['a', Py.tensor(shared, 1, [3], [1])],
    ['b', Py.tensor(shared, 4, [2, 2], [2, 1])],
    ['steps', contiguous(steps, [2])],
    ['scale', Py.tensor(w, 2, [2], [2], { parameter: true })],
  ], true);
  return Py.dict([['state_dict', sd], ['epoch', 3], ['lr', Py.float(0.5)], ['tag', 'run-1'], ['history', Py.list(1, null, true)]]);
}

describe('PyTorch zip checkpoints', () => {
  it('rebuilds every tensor of a nested training checkpoint', () => {
    const { value, tensors } = loadPytorchCheckpoint(save(trainingCheckpoint()));
    expect([...tensors.keys()]).toEqual([
      'state_dict.conv.weight', 'state_dict.conv.weight_t', 'state_dict.norm.weight', 'state_dict.a', 'state_dict.b',
      'state_dict.steps', 'state_dict.scale',
    ]);
    const t = (k: string) => tensors.get(`state_dict.${k}`)!;
    expect(t('conv.weight')).toMatchObject({ dtype: 'F32', shape: [2, 3] });
    expect(values(t('conv.weight'))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t('conv.weight_t').shape).toEqual([3, 2]);
    expect(values(t('conv.weight_t'))).toEqual([0, 3, 1, 4, 2, 5]);
    expect(t('norm.weight').dtype).toBe('F16');
    expect(Array.from(t('norm.weight').data as Uint16Array)).toEqual([0x3c00, 0x4000, 0xc200, 0x3800]);
    expect(values(t('norm.weight'))).toEqual([1, 2, -3, 0.5]);
    expect(values(t('a'))).toEqual([11, 12, 13]);
    expect(values(t('b'))).toEqual([14, 15, 16, 17]);
    expect(t('steps').dtype).toBe('I64');
    expect(Array.from(t('steps').data as BigInt64Array)).toEqual([-5n, 2n ** 40n]);
    expect(values(t('scale'))).toEqual([2, 4]);

    const top = value as Map<string, unknown>;
    expect(top.get('epoch')).toBe(3);
    expect(top.get('lr')).toBe(0.5);
    expect(top.get('tag')).toBe('run-1');
    expect(top.get('history')).toEqual([1, null, true]);
    // The value holds the same HostTensor objects as the flat map.
    expect((top.get('state_dict') as Map<string, unknown>).get('conv.weight')).toBe(t('conv.weight'));
  });

  it('picks the nested state dict', () => {
    const { value } = loadPytorchCheckpoint(save(trainingCheckpoint()));
    const sd = stateDictFrom(value);
    expect([...sd.keys()]).toEqual(['conv.weight', 'conv.weight_t', 'norm.weight', 'a', 'b', 'steps', 'scale']);
    expect([...stateDictFrom(value, { path: 'state_dict' }).keys()]).toHaveLength(7);
    expect(() => stateDictFrom(value, { path: 'model' })).toThrow(/checkpoint has no entry "model"; its top-level entries are: "state_dict", "epoch"/);
  });

  it('gives dtypes and shapes before reading data', () => {
    const ckpt = openPytorchCheckpoint(save(trainingCheckpoint()));
    const r = ckpt.tensors.get('state_dict.conv.weight_t')!;
    expect(r).toBeInstanceOf(TensorRecord);
    expect(r).toMatchObject({ dtype: 'F32', shape: [3, 2], stride: [1, 3], offset: 0 });
    expect(r.storage).toMatchObject({ key: '0', dtype: 'F32', byteLength: 24, location: 'cpu' });
    ckpt.close();
  });

  it('materialises a permuted 3-d view in row-major order', () => {
    const n = 2 * 3 * 4;
    const s = storage('0', 'DoubleStorage', f64Bytes(Array.from({ length: n }, (_, i) => i)));
    // x = arange(24).reshape(2, 3, 4).permute(2, 0, 1): shape [4, 2, 3], strides [1, 12, 4]
    const { tensors } = loadPytorchCheckpoint(save(Py.ordered([['x', Py.tensor(s, 0, [4, 2, 3], [1, 12, 4])]])));
    const expected: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expected.push(i * 12 + j * 4 + k);
    expect(values(tensors.get('x')!)).toEqual(expected);
  });

  it('handles expanded (stride 0), scalar and empty tensors', () => {
    const s = storage('0', 'FloatStorage', f32Bytes([5, 6, 7, 8]));
    const { tensors } = loadPytorchCheckpoint(save(Py.ordered([
      ['rows', Py.tensor(s, 1, [2, 3], [0, 1])],
      ['scalar', Py.tensor(s, 3, [], [])],
      ['empty', Py.tensor(s, 0, [0, 3], [3, 1])],
    ])));
    expect(values(tensors.get('rows')!)).toEqual([6, 7, 8, 6, 7, 8]);
    expect(tensors.get('scalar')!).toMatchObject({ shape: [] });
    expect(values(tensors.get('scalar')!)).toEqual([8]);
    expect(tensors.get('empty')!.shape).toEqual([0, 3]);
    expect(tensors.get('empty')!.data.length).toBe(0);
  });

  it('reads archives named after the file, with ZIP64 records, without alignment', () => {
    const value = Py.ordered([['w', contiguous(storage('0', 'FloatStorage', f32Bytes([1.5, -2.5])), [2])]]);
    for (const opts of [{ archiveName: 'my_model' }, { zip64: true }, { align: 0 }, { zip64: true, align: 0 }]) {
      const { tensors } = loadPytorchCheckpoint(save(value, opts));
      expect(values(tensors.get('w')!)).toEqual([1.5, -2.5]);
    }
  });

  it('honours a big-endian byteorder entry, and no byteorder entry at all', () => {
    const swap = (b: Uint8Array, size: number) => {
      const out = new Uint8Array(b.length);
      for (let i = 0; i < b.length; i++) out[i] = b[i - (i % size) + (size - 1 - (i % size))];
      return out;
    };
    const le = f32Bytes([1, -2, 3.25]);
    const leLong = i64Bytes([1, -2]);
    const big = Py.ordered([
      ['w', contiguous(storage('0', 'FloatStorage', swap(le, 4)), [3])],
      ['n', contiguous(storage('1', 'LongStorage', swap(leLong, 8)), [2])],
    ]);
    const fromBig = loadPytorchCheckpoint(save(big, { byteorder: 'big' })).tensors;
    expect(values(fromBig.get('w')!)).toEqual([1, -2, 3.25]);
    expect(Array.from(fromBig.get('n')!.data as BigInt64Array)).toEqual([1n, -2n]);
    const legacy = Py.ordered([['w', contiguous(storage('0', 'FloatStorage', le), [3])]]);
    expect(values(loadPytorchCheckpoint(save(legacy, { byteorder: null })).tensors.get('w')!)).toEqual([1, -2, 3.25]);
  });

  it('reads tensors saved from a GPU and untyped storages with _rebuild_tensor_v3', () => {
    const gpu = storage('0', 'FloatStorage', f32Bytes([4, 2]), 'cuda:0');
    const bytes = storage('1', 'UntypedStorage', u16Bytes([0x3c00, 0xbc00, 0x4200]));
    const { tensors } = loadPytorchCheckpoint(save(Py.ordered([
      ['gpu', contiguous(gpu, [2])],
      ['half', Py.tensor(bytes, 1, [2], [1], { v3Dtype: 'float16' })],
    ])));
    expect(values(tensors.get('gpu')!)).toEqual([4, 2]);
    expect(tensors.get('half')!.dtype).toBe('F16');
    expect(values(tensors.get('half')!)).toEqual([-1, 3]);
  });

  it('reads tensors wrapped by _rebuild_from_type_v2, _rebuild_parameter_with_state and torch.Size', () => {
    const s = storage('0', 'FloatStorage', f32Bytes([9, 8, 7, 6]));
    // OrderedDict with two hand-built entries:
    //   'wrapped':  _rebuild_from_type_v2(_rebuild_tensor_v2, Parameter,
    //                 (storage, 1, torch.Size((3,)), (1,), False, OrderedDict()), {})
    //   'stateful': _rebuild_parameter_with_state(<tensor [2] at offset 2>, True, OrderedDict(), {'a': 1})
    const pickle = new PickleEmitter().proto(2).global('collections', 'OrderedDict').op(0x29, 0x52).put().op(0x28)
      .string('wrapped').global('torch._tensor', '_rebuild_from_type_v2').op(0x28)
      .global('torch._utils', '_rebuild_tensor_v2').global('torch.nn.parameter', 'Parameter')
      .op(0x28).op(0x28).string('storage').global('torch', 'FloatStorage').string('0').string('cpu').int(4).op(0x74, 0x51)
      .int(1).global('torch', 'Size').int(3).op(0x85, 0x85, 0x52).int(1).op(0x85).op(0x89)
      .global('collections', 'OrderedDict').op(0x29, 0x52).op(0x74)
      .op(0x7d).op(0x74, 0x52)
      .string('stateful').global('torch._utils', '_rebuild_parameter_with_state').op(0x28)
      .value(Py.tensor(s, 2, [2], [1])).op(0x88).global('collections', 'OrderedDict').op(0x29, 0x52)
      .op(0x7d).string('a').int(1).op(0x73).op(0x74, 0x52)
      .op(0x75).stop().bytes;
    const { tensors } = loadPytorchCheckpoint(save(Py.ordered([['unused', contiguous(s, [4])]]), { pickle }));
    expect([...tensors.keys()]).toEqual(['wrapped', 'stateful']);
    expect(values(tensors.get('wrapped')!)).toEqual([8, 7, 6]);
    expect(values(tensors.get('stateful')!)).toEqual([7, 6]);
  });

  it('reads from memory too', () => {
    const ckpt = readPytorchCheckpointBytes(torchSave(trainingCheckpoint()), 'mem.pt');
    expect(values(ckpt.read('state_dict.b'))).toEqual([14, 15, 16, 17]);
    expect(() => ckpt.read('nope')).toThrow(/mem\.pt has no tensor named "nope"/);
  });
});

describe('PyTorch checkpoint errors', () => {
  const w = () => Py.ordered([['w', contiguous(storage('0', 'FloatStorage', f32Bytes([1, 2])), [2])]]);
  const write = (bytes: Uint8Array, name = 'bad.pt') => {
    const path = join(dirs.make(), name);
    writeFileSync(path, bytes);
    return path;
  };

  it('explains legacy (pre-1.6) files', () => {
    const legacy = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    expect(() => openPytorchCheckpoint(write(legacy))).toThrow(/legacy \(pre-1\.6, non-zip\) PyTorch checkpoint.*Re-save it with a current torch/);
  });

  it('explains files that are not zip archives', () => {
    expect(() => openPytorchCheckpoint(write(asciiBytes('hello world, not a checkpoint')))).toThrow(/bad\.pt is not a PyTorch zip checkpoint/);
  });

  it('explains truncated archives', () => {
    const full = torchSave(w());
    expect(() => openPytorchCheckpoint(write(full.subarray(0, full.length - 30)))).toThrow(ZipFormatError);
    expect(() => openPytorchCheckpoint(write(full.subarray(0, full.length - 30)))).toThrow(/no end-of-central-directory record/);
  });

  it('explains TorchScript archives', () => {
    const zip = writeZip([
      { name: 'm/data.pkl', data: new PickleEmitter().proto(2).op(0x4e).stop().bytes },
      { name: 'm/code/__torch__/m.py', data: asciiBytes('def forward(self): ...') },
      { name: 'm/constants.pkl', data: new PickleEmitter().proto(2).op(0x29).stop().bytes },
    ]);
    expect(() => openPytorchCheckpoint(write(zip))).toThrow(/TorchScript archive \(torch\.jit\.save\)/);
  });

  it('explains zip archives without data.pkl', () => {
    const zip = writeZip([{ name: 'readme.txt', data: asciiBytes('hi') }]);
    expect(() => openPytorchCheckpoint(write(zip))).toThrow(/is a zip archive but not a PyTorch checkpoint: it has no <name>\/data\.pkl entry \(entries: readme\.txt\)/);
  });

  it('refuses compressed entries', () => {
    const zip = writeZip([{ name: 'archive/data.pkl', data: new PickleEmitter().proto(2).op(0x4e).stop().bytes, method: 8 }]);
    expect(() => openPytorchCheckpoint(write(zip))).toThrow(/entry "archive\/data\.pkl" is compressed \(deflate\); torch\.save writes entries uncompressed/);
  });

  it('detects corrupted entries by their checksum', () => {
    const zip = writeZip([{ name: 'archive/data.pkl', data: new PickleEmitter().proto(2).op(0x4e).stop().bytes, crc: 1234 }]);
    expect(() => openPytorchCheckpoint(write(zip))).toThrow(/entry "archive\/data\.pkl" fails its checksum/);
  });

  it('names a storage the archive lacks', () => {
    // A valid pickle whose storage entry was never written.
    const zip = writeZip([{ name: 'archive/data.pkl', data: new PickleEmitter().proto(2).value(w()).stop().bytes }]);
    expect(() => openPytorchCheckpoint(write(zip))).toThrow(/bad\.pt: the pickle refers to storage "0" but the archive has no entry archive\/data\/0/);
  });

  it('refuses views reaching past their storage', () => {
    const s = storage('0', 'FloatStorage', f32Bytes([1, 2, 3]));
    const path = save(Py.ordered([['w', Py.tensor(s, 1, [2, 2], [2, 1])]]));
    expect(() => openPytorchCheckpoint(path)).toThrow(/tensor "w": its view \(offset 1, size \[2, 2\], stride \[2, 1\]\) needs 20 bytes of storage "0", which has 12/);
  });

  it('refuses storage entries shorter than the pickle says', () => {
    const s = { ...storage('0', 'FloatStorage', f32Bytes([1, 2, 3])), numel: 4 };
    expect(() => openPytorchCheckpoint(save(Py.ordered([['w', contiguous(s, [4])]])))).toThrow(/storage entry archive\/data\/0 holds 12 bytes but the pickle says 16/);
  });

  it('names unsupported storage dtypes', () => {
    const s = storage('0', 'FloatStorage', f32Bytes([1, 2]));
    const complex = { ...s, cls: 'ComplexFloatStorage', numel: 1 };
    expect(() => openPytorchCheckpoint(save(Py.ordered([['w', contiguous(complex, [1])]]))))
      .toThrow(/storage "0" has type torch\.ComplexFloatStorage, a dtype Kiln does not read/);
  });

  it('names unsupported tensor kinds', () => {
    const pickle = new PickleEmitter().proto(2).global('torch._utils', '_rebuild_qtensor').op(0x29, 0x52).stop().bytes;
    expect(() => openPytorchCheckpoint(save(null, { pickle }))).toThrow(/holds a quantized tensor \(torch\._utils\._rebuild_qtensor\)/);
  });

  it('refuses malformed tensor records', () => {
    const s = storage('0', 'FloatStorage', f32Bytes([1, 2]));
    const bad = Py.tensor(s, 0, [2], [1, 1]);
    expect(() => openPytorchCheckpoint(save(Py.ordered([['w', bad]])))).toThrow(/_rebuild_tensor_v2: size \[2\] and stride \[1,1\] must be equally long/);
  });

  it('is user-facing', () => {
    try {
      openPytorchCheckpoint(write(asciiBytes('nope')));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PytorchCheckpointError);
      expect((err as { userFacing?: boolean }).userFacing).toBe(true);
    }
  });
});
