/**
 * Loading VAE checkpoints as upstream's load_vae does: the released container (a torch.save
 * zip with a `state_dict` wrapper and `vae.`-prefixed keys) decodes exactly like the same
 * weights as plain safetensors; fp16/bf16 storage; configs beside the weights (upstream and
 * diffusers style) and their errors; clear reports for wrong keys and non-float tensors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserError } from '../../../cli/errors.ts';
import { HunyuanVae, RELEASED_VAE_CONFIG, type VaeConfig } from '../../../models/hunyuan_vae/autoencoder.ts';
import { chooseVaeConfig, loadVaeWeights, parseVaeConfig, readVaeConfigFile, RELEASED_CONFIG_NAME, VaeConfigError, VaeWeightsError, weightsLocation } from '../../../models/hunyuan_vae/checkpoint.ts';
import { randomVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import { createVae, openVaeSource } from '../../../models/hunyuan_vae/run.ts';
import { weightsFromMap, type SessionWeights } from '../../../runtime/model.ts';
import { floatToBf16, floatToHalf, halfToFloat, bf16ToFloat, type HostTensor } from '../../../runtime/tensor.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { tempDirs } from '../../runtime/weights/helpers.ts';
import { Py, contiguous, f32Bytes, i64Bytes, storage, torchSave, u16Bytes, type PyValue } from '../../runtime/weights/torch_writer.ts';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

let weights: Map<string, HostTensor>;
let z: HostTensor;
beforeAll(() => {
  weights = randomVaeWeights(TINY_VAE_CONFIG, 11);
  // A small latent (one frame, 2×2) keeps each interpreted decode to a fraction of a second.
  const data = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i * 1.7) * 1.3);
  z = { dtype: 'F32', shape: [1, 4, 1, 2, 2], data };
});

async function decodeWith(w: SessionWeights, config: VaeConfig = TINY_VAE_CONFIG): Promise<Float32Array> {
  const vae = new HunyuanVae(config, w, { backend: 'interp' });
  return Float32Array.from((await vae.decode(z)).data as Float32Array);
}

type Encode = 'f32' | 'f16' | 'bf16';

/** Storage class, element bytes and the value each element takes after storage. */
function encodeValues(values: Float32Array, how: Encode): { cls: string; bytes: Uint8Array; stored: Float32Array } {
  if (how === 'f32') return { cls: 'FloatStorage', bytes: f32Bytes(Array.from(values)), stored: values };
  const bits = Array.from(values, how === 'f16' ? floatToHalf : floatToBf16);
  const back = Float32Array.from(bits, how === 'f16' ? halfToFloat : bf16ToFloat);
  return { cls: how === 'f16' ? 'HalfStorage' : 'BFloat16Storage', bytes: u16Bytes(bits), stored: back };
}

/**
 * The released container: torch.save({'state_dict': {'vae.<key>': tensor, ...,
 * 'transformer.proj.weight': ...}, 'epoch': 3}). Returns the path and the F32 values the
 * tensors hold after storage (what a decode must see).
 */
function writeReleasedStylePt(dir: string, how: Encode): { path: string; stored: Map<string, HostTensor> } {
  const entries: Array<[PyValue, PyValue]> = [];
  const stored = new Map<string, HostTensor>();
  let n = 0;
  for (const [k, t] of weights) {
    const e = encodeValues(t.data as Float32Array, how);
    entries.push([`vae.${k}`, contiguous(storage(String(n++), e.cls, e.bytes), [...t.shape])]);
    stored.set(k, { dtype: 'F32', shape: t.shape, data: e.stored });
  }
  entries.push(['transformer.proj.weight', contiguous(storage(String(n++), 'FloatStorage', f32Bytes([1, 2, 3, 4])), [2, 2])]);
  const path = join(dir, 'pytorch_model.pt');
  writeFileSync(path, torchSave(Py.dict([['state_dict', Py.ordered(entries, true)], ['epoch', 3]])));
  return { path, stored };
}

describe('loadVaeWeights', () => {
  it('unwraps state_dict and the vae. prefix of a .pt, and decodes exactly like safetensors', async () => {
    const dir = dirs.make();
    const { path, stored } = writeReleasedStylePt(dir, 'f32');
    const loaded = loadVaeWeights(path);
    try {
      expect(loaded.weights.keys().length).toBe(weights.size);
      expect(loaded.weights.has('decoder.conv_out.conv.weight')).toBe(true);
      expect(loaded.notes.join('; ')).toMatch(/"state_dict" entry.*"vae\.".*ignored 1 other key/);
      const st = join(dir, 'vae.safetensors');
      writeSafetensors(st, stored);
      const fromSt = loadVaeWeights(st);
      try {
        expect(fromSt.notes).toEqual([]);
        const a = await decodeWith(loaded.weights);
        const b = await decodeWith(fromSt.weights);
        expect(a.length).toBe(3 * 16 * 16);
        expect(Array.from(a)).toEqual(Array.from(b));
      } finally {
        fromSt.weights.close();
      }
    } finally {
      loaded.weights.close();
    }
  });

  it('accepts fp16 (.pt) and bf16 (safetensors) storage: the decode sees the stored values', async () => {
    const dir = dirs.make();
    const { path, stored } = writeReleasedStylePt(dir, 'f16');
    const half = loadVaeWeights(path);
    expect([...half.dtypes.keys()]).toEqual(['F16']);
    const reference = await decodeWith(weightsFromMap(stored));
    expect(Array.from(await decodeWith(half.weights))).toEqual(Array.from(reference));
    half.weights.close();

    const bf = new Map<string, HostTensor>();
    const bfValues = new Map<string, HostTensor>();
    for (const [k, t] of weights) {
      const e = encodeValues(t.data as Float32Array, 'bf16');
      bf.set(k, { dtype: 'BF16', shape: t.shape, data: new Uint16Array(e.bytes.buffer) });
      bfValues.set(k, { dtype: 'F32', shape: t.shape, data: e.stored });
    }
    const st = join(dir, 'bf16.safetensors');
    writeSafetensors(st, bf);
    const loaded = loadVaeWeights(st);
    expect([...loaded.dtypes.keys()]).toEqual(['BF16']);
    expect(Array.from(await decodeWith(loaded.weights))).toEqual(Array.from(await decodeWith(weightsFromMap(bfValues))));
    loaded.weights.close();
  });

  it('refuses integer tensors, naming them', () => {
    const dir = dirs.make();
    const path = join(dir, 'odd.pt');
    writeFileSync(path, torchSave(Py.ordered([
      ['encoder.conv_in.conv.weight', contiguous(storage('0', 'FloatStorage', f32Bytes([1, 2])), [2])],
      ['step', contiguous(storage('1', 'LongStorage', i64Bytes([5])), [1])],
    ])));
    let err: unknown;
    try { loadVaeWeights(path); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(VaeWeightsError);
    expect((err as Error).message).toMatch(/must be floating-point.*step \(I64\)/);
  });

  it('reports every mismatching key at once, with the config used and how to pick another', () => {
    const dir = dirs.make();
    const path = join(dir, 'tiny.safetensors');
    writeSafetensors(path, weights);
    // A tiny checkpoint read with the released (default) config: wrong shapes and missing keys.
    const source = openVaeSource({ weightsPath: path });
    expect(source.configSource).toBe(RELEASED_CONFIG_NAME);
    let err: unknown;
    try { createVae(source, { backend: 'interp' }); } catch (e) { err = e; }
    source.close();
    expect(err).toBeInstanceOf(VaeWeightsError);
    expect(isUserError(err)).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain(`the weights in ${path} do not match the module`);
    expect(msg).toMatch(/missing \(\d+\):/);
    expect(msg).toMatch(/wrong shape \(\d+\):\n {4}encoder\.conv_in\.conv\.weight: expected \[128, 3, 3, 3, 3\], found \[8, 3, 3, 3, 3\]/);
    expect(msg).toContain(`config used: ${RELEASED_CONFIG_NAME}.`);
    expect(msg).toContain('pass its config.json with --config FILE');
  });

  it('says so when no key belongs to the VAE', () => {
    const dir = dirs.make();
    const path = join(dir, 'other.safetensors');
    writeSafetensors(path, { 'model.proj.weight': { dtype: 'F32', shape: [2], data: new Float32Array(2) } });
    const source = openVaeSource({ weightsPath: path });
    let err: unknown;
    try { createVae(source, { backend: 'interp' }); } catch (e) { err = e; }
    source.close();
    expect((err as Error).message).toMatch(/None of the checkpoint's keys belong to the VAE; they start with model\./);
  });
});

const tinyJson = (extra: Record<string, unknown> = {}) => ({
  _class_name: 'AutoencoderKLCausal3D', in_channels: 3, out_channels: 3, block_out_channels: [8, 16, 16, 16], layers_per_block: 1,
  latent_channels: 4, norm_num_groups: 4, sample_size: 32, sample_tsize: 16, scaling_factor: 0.5, ...extra,
});

describe('VAE configs', () => {
  it('reads config.json from a weights folder, and a checkpoint root stands for its vae/ folder', () => {
    const root = dirs.make();
    const vaeDir = join(root, 'vae');
    mkdirSync(vaeDir);
    writeFileSync(join(vaeDir, 'config.json'), JSON.stringify(tinyJson()));
    writeReleasedStylePt(vaeDir, 'f32');
    const choice = chooseVaeConfig(root);
    expect(choice.source).toBe(join(vaeDir, 'config.json'));
    expect(choice.config).toMatchObject({ block_out_channels: [8, 16, 16, 16], sample_size: 32, scaling_factor: 0.5, latent_channels: 4 });
    const source = openVaeSource({ weightsPath: root });
    expect(() => createVae(source, { backend: 'interp' })).not.toThrow();
    source.close();
    // HunyuanVideo's ckpts/ layout.
    const ckpts = dirs.make();
    const released = join(ckpts, 'hunyuan-video-i2v-720p', 'vae');
    mkdirSync(released, { recursive: true });
    expect(weightsLocation(ckpts)).toBe(released);
    expect(weightsLocation(vaeDir)).toBe(vaeDir);
  });

  it('uses a file\'s neighbouring config.json only when it describes a VAE', () => {
    const dir = dirs.make();
    writeFileSync(join(dir, 'w.safetensors'), new Uint8Array(0));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ _class_name: 'HYVideoDiffusionTransformer', hidden_size: 3072 }));
    expect(chooseVaeConfig(join(dir, 'w.safetensors')).source).toBe(RELEASED_CONFIG_NAME);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(tinyJson()));
    expect(chooseVaeConfig(join(dir, 'w.safetensors')).source).toBe(join(dir, 'config.json'));
    // --config wins over both.
    const own = join(dir, 'mine.json');
    writeFileSync(own, JSON.stringify(tinyJson({ scaling_factor: 0.25 })));
    expect(chooseVaeConfig(join(dir, 'w.safetensors'), own).config.scaling_factor).toBe(0.25);
    expect(chooseVaeConfig(undefined).config).toEqual(RELEASED_VAE_CONFIG);
  });

  it('maps diffusers\' AutoencoderKLHunyuanVideo config to upstream tiling and defaults', () => {
    const c = parseVaeConfig({
      _class_name: 'AutoencoderKLHunyuanVideo', block_out_channels: [8, 16, 16, 16], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4,
      temporal_compression_ratio: 4, down_block_types: Array(4).fill('HunyuanVideoDownBlock3D'), up_block_types: Array(4).fill('HunyuanVideoUpBlock3D'),
    }, 'x.json');
    expect(c).toEqual({ ...TINY_VAE_CONFIG, sample_size: 256, sample_tsize: 64, scaling_factor: 0.476986 });
  });

  it('explains configs it cannot build', () => {
    const dir = dirs.make();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"block_out_channels": [8, 16,');
    expect(() => readVaeConfigFile(bad)).toThrow(/bad\.json is not valid JSON .*a VAE config is a JSON object/);
    expect(() => readVaeConfigFile(join(dir, 'none.json'))).toThrow(/cannot read the VAE config .*none\.json: no such file/);
    const cases: Array<[unknown, RegExp]> = [
      [{ _class_name: 'UNet2DConditionModel' }, /describes a UNet2DConditionModel, not the HunyuanVideo VAE/],
      [tinyJson({ norm_num_groups: 3 }), /norm_num_groups is 3; expected a divisor of every block_out_channels entry \(8, 16, 16, 16/],
      [tinyJson({ time_compression_ratio: 8 }), /time_compression_ratio is 8; expected 4/],
      [tinyJson({ act_fn: 'relu' }), /act_fn "relu" is not supported/],
      [tinyJson({ down_block_types: ['DownBlock2D'] }), /down_block_types \["DownBlock2D"\] is not supported/],
      [tinyJson({ sample_size: [256, 256] }), /sample_size is a list/],
      [tinyJson({ latent_channels: 0 }), /latent_channels is 0; expected a positive integer/],
      [[1, 2], /must be a JSON object/],
    ];
    for (const [json, re] of cases) {
      let err: unknown;
      try { parseVaeConfig(json, 'c.json'); } catch (e) { err = e; }
      expect(err, JSON.stringify(json)).toBeInstanceOf(VaeConfigError);
      expect((err as Error).message).toMatch(re);
    }
  });
});
