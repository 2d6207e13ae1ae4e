import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { loadWeights, openCheckpoint, prefixView, requirePrefix, unwrapStateDict } from '../../../runtime/weights/checkpoint.ts';
import { CheckpointError } from '../../../runtime/weights/errors.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { craftSafetensors, tempDirs } from './helpers.ts';
import { Py, contiguous, f32Bytes, storage, torchSave, writeZip } from './torch_writer.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

const f32 = (...v: number[]): HostTensor => ({ dtype: 'F32', shape: [v.length], data: Float32Array.from(v) });
const values = (t: HostTensor) => Array.from(toFloat64(t));

/** A folder with two safetensors shards and the index diffusers would write for them. */
function shardedFolder(indexName = 'diffusion_pytorch_model.safetensors.index.json', weightMap?: Record<string, string>) {
  const dir = dirs.make();
  writeSafetensors(join(dir, 'part-1.safetensors'), { 'enc.w': f32(1, 2), 'enc.b': f32(3) });
  writeSafetensors(join(dir, 'part-2.safetensors'), { 'dec.w': f32(4, 5, 6) });
  const map = weightMap ?? { 'enc.w': 'part-1.safetensors', 'enc.b': 'part-1.safetensors', 'dec.w': 'part-2.safetensors' };
  writeFileSync(join(dir, indexName), JSON.stringify({ metadata: { total_size: 24 }, weight_map: map }));
  return { dir, index: join(dir, indexName) };
}

describe('sharded safetensors', () => {
  it('presents one keyed view across shards', () => {
    const { dir, index } = shardedFolder();
    for (const source of [openCheckpoint(index), openCheckpoint(dir), loadWeights(index), loadWeights(dir)]) {
      expect(source.format).toBe('sharded');
      expect(source.keys()).toEqual(['enc.w', 'enc.b', 'dec.w']);
      expect(source.info('dec.w')).toEqual({ dtype: 'F32', shape: [3] });
      expect(values(source.read('enc.w'))).toEqual([1, 2]);
      expect(values(source.read('dec.w'))).toEqual([4, 5, 6]);
      expect(source.metadata).toEqual({ total_size: '24' });
      expect(source.files.map((f) => f.split('/').pop()).sort()).toEqual(['part-1.safetensors', 'part-2.safetensors']);
      expect(() => source.info('enc.x')).toThrow(/has no tensor named "enc\.x"\. It has 3 tensors; the closest names are "enc\.b", "enc\.w"/);
      source.close();
    }
  });

  it('names a missing shard', () => {
    const { index } = shardedFolder('model.safetensors.index.json', { 'enc.w': 'part-1.safetensors', 'x.w': 'part-3.safetensors' });
    expect(() => openCheckpoint(index)).toThrow(CheckpointError);
    expect(() => openCheckpoint(index)).toThrow(/lists shard "part-3\.safetensors" \(holding 1 tensor, e\.g\. "x\.w"\) but .*part-3\.safetensors does not exist/);
  });

  it('names a key whose shard lacks it', () => {
    const { index } = shardedFolder('model.safetensors.index.json', { 'enc.w': 'part-1.safetensors', 'dec.w': 'part-1.safetensors' });
    expect(() => openCheckpoint(index)).toThrow(/says tensor "dec\.w" is in shard "part-1\.safetensors", but that file has no such tensor/);
  });

  it('refuses shard names outside the index folder', () => {
    const { index } = shardedFolder('model.safetensors.index.json', { 'enc.w': '../elsewhere.safetensors' });
    expect(() => openCheckpoint(index)).toThrow(/names shard "\.\.\/elsewhere\.safetensors", which is not inside the index's folder/);
  });

  it('explains an index without weight_map', () => {
    const dir = dirs.make();
    writeFileSync(join(dir, 'model.safetensors.index.json'), '{"metadata": {}}');
    expect(() => openCheckpoint(join(dir, 'model.safetensors.index.json'))).toThrow(/has no "weight_map" object/);
  });
});

describe('model folders', () => {
  it('prefers the conventional file name', () => {
    const dir = dirs.make();
    writeSafetensors(join(dir, 'other.safetensors'), { a: f32(1) });
    writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), { b: f32(2) });
    expect(openCheckpoint(dir).keys()).toEqual(['b']);
  });

  it('takes a lone safetensors file', () => {
    const dir = dirs.make();
    writeSafetensors(join(dir, 'weights.safetensors'), { a: f32(1) });
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(loadWeights(dir).keys()).toEqual(['a']);
  });

  it('asks which file when several could be meant', () => {
    const dir = dirs.make();
    writeSafetensors(join(dir, 'a.safetensors'), { a: f32(1) });
    writeSafetensors(join(dir, 'b.safetensors'), { b: f32(1) });
    expect(() => openCheckpoint(dir)).toThrow(/holds several candidate checkpoints \(a\.safetensors, b\.safetensors\)/);
  });

  it('lists what it found when there is no checkpoint', () => {
    const dir = dirs.make();
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(() => loadWeights(dir)).toThrow(/holds no checkpoint Kiln can find: expected a \.safetensors file.*; found config\.json/);
  });

  it('falls back to a PyTorch file only in loadWeights', () => {
    const dir = dirs.make();
    writeFileSync(join(dir, 'pytorch_model.pt'), torchSave(Py.ordered([['w', contiguous(storage('0', 'FloatStorage', f32Bytes([7])), [1])]])));
    expect(loadWeights(dir).keys()).toEqual(['w']);
    expect(() => openCheckpoint(dir)).toThrow(/expected a \.safetensors file or a \*\.safetensors\.index\.json/);
  });
});

describe('loadWeights', () => {
  const pt = (dir: string, name: string, entries: Array<[string, number[]]>) => {
    const path = join(dir, name);
    writeFileSync(path, torchSave(Py.ordered(entries.map(([k, v], i) => [k, contiguous(storage(String(i), 'FloatStorage', f32Bytes(v)), [v.length])]))));
    return path;
  };

  it('decides the format by content, not by name', () => {
    const dir = dirs.make();
    const misnamedPt = pt(dir, 'weights.safetensors', [['w', [1, 2]]]);
    const misnamedSt = join(dir, 'weights.bin');
    writeSafetensors(misnamedSt, { s: f32(3) });
    expect(loadWeights(misnamedPt).format).toBe('pytorch');
    expect(values(loadWeights(misnamedPt).read('w'))).toEqual([1, 2]);
    expect(loadWeights(misnamedSt).format).toBe('safetensors');
  });

  it('is not fooled by a safetensors header length that starts with "PK"', () => {
    // Pad the metadata so the header is exactly 0x4b50 bytes: the file then starts "PK\0\0...".
    const path = join(dirs.make(), 'pk.safetensors');
    const base = JSON.stringify({ __metadata__: { pad: '' }, x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
    const header = JSON.stringify({ __metadata__: { pad: 'p'.repeat(0x4b50 - base.length) }, x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
    writeFileSync(path, craftSafetensors(header, f32Bytes([2.5])));
    const source = loadWeights(path);
    expect(source.format).toBe('safetensors');
    expect(values(source.read('x'))).toEqual([2.5]);
  });

  it('reads sharded PyTorch checkpoints through their index', () => {
    const dir = dirs.make();
    pt(dir, 'pytorch_model-00001.bin', [['a', [1]]]);
    pt(dir, 'pytorch_model-00002.bin', [['b', [2, 3]]]);
    writeFileSync(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { a: 'pytorch_model-00001.bin', b: 'pytorch_model-00002.bin' } }));
    const source = loadWeights(dir);
    expect(source.keys()).toEqual(['a', 'b']);
    expect(values(source.read('b'))).toEqual([2, 3]);
  });

  it('gives info without reading tensor data', () => {
    // The storage bytes are corrupt (wrong CRC): info works, reading the data does not.
    const dir = dirs.make();
    const path = join(dir, 'model.pt');
    const good = torchSave(Py.ordered([['w', contiguous(storage('0', 'FloatStorage', f32Bytes([1, 2])), [2])]]));
    writeFileSync(path, good);
    const clean = loadWeights(path);
    expect(clean.info('w')).toEqual({ dtype: 'F32', shape: [2] });
    // Flip one data byte of the storage entry (found by its known contents).
    const at = Buffer.from(good).indexOf(Buffer.from(f32Bytes([1, 2])));
    const broken = Uint8Array.from(good);
    broken[at] ^= 0xff;
    writeFileSync(path, broken);
    const source = loadWeights(path);
    expect(source.info('w')).toEqual({ dtype: 'F32', shape: [2] });
    expect(() => source.read('w')).toThrow(/entry "archive\/data\/0" fails its checksum/);
  });

  it('names a missing path', () => {
    expect(() => loadWeights('/nonexistent/model.pt')).toThrow(/cannot open weights \/nonexistent\/model\.pt: no such file or folder/);
  });

  it('refuses a zip that is not a checkpoint', () => {
    const path = join(dirs.make(), 'x.zip');
    writeFileSync(path, writeZip([{ name: 'a.txt', data: new Uint8Array([1]) }]));
    expect(() => loadWeights(path)).toThrow(/is a zip archive but not a PyTorch checkpoint/);
  });
});

describe('key views', () => {
  const source = () => {
    const dir = dirs.make();
    mkdirSync(join(dir, 'm'));
    const path = join(dir, 'm', 'model.pt');
    const t = (v: number) => contiguous(storage(String(v), 'FloatStorage', f32Bytes([v])), [1]);
    writeFileSync(path, torchSave(Py.dict([
      ['state_dict', Py.ordered([['vae.encoder.w', t(1)], ['vae.decoder.w', t(2)], ['text.w', t(3)]])],
      ['ema', Py.ordered([['vae.encoder.w', t(4)]])],
    ])));
    return loadWeights(path);
  };

  it('unwraps state_dict and selects or strips prefixes', () => {
    const s = source();
    expect(s.keys()).toEqual(['state_dict.vae.encoder.w', 'state_dict.vae.decoder.w', 'state_dict.text.w', 'ema.vae.encoder.w']);
    const sd = unwrapStateDict(s);
    expect(sd.keys()).toEqual(['vae.encoder.w', 'vae.decoder.w', 'text.w']);
    const vae = prefixView(sd, 'vae.');
    expect(vae.keys()).toEqual(['encoder.w', 'decoder.w']);
    expect(values(vae.read('decoder.w'))).toEqual([2]);
    expect(vae.info('encoder.w')).toEqual({ dtype: 'F32', shape: [1] });
    expect(prefixView(sd, 'vae.', { strip: false }).keys()).toEqual(['vae.encoder.w', 'vae.decoder.w']);
    expect(unwrapStateDict(vae)).toBe(vae);
    expect(() => vae.read('text.w')).toThrow(/has no tensor named "text\.w"/);
    expect(() => requirePrefix(sd, 'unet.')).toThrow(/no tensor key starts with "unet\."; its keys start with vae\., text\./);
    s.close();
  });
});
