/**
 * LoRA on the transformer (models/hunyuan_dit/lora.ts): kohya names resolved to the tiny
 * transformer's modules as upstream's attribute walk does, each pair merged as W + s·(up @ down)
 * (checked against sums written out here), .alpha ignored, and the mistakes it names. On the
 * device: the GPU merge against the host's, and a transformer whose weights are merged by a
 * program on the device while its own run waits for them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ndRotaryPosEmbed } from '../../../models/hunyuan_dit/rope.ts';
import { randomDitWeights, TINY_DIT_CONFIG, TINY_DIT_ROPE_DIMS } from '../../../models/hunyuan_dit/random_weights.ts';
import { HUNYUAN_I2V_LORA_PREFIX, LoraError, loraTargets, resolveLoraModule, withLora } from '../../../models/hunyuan_dit/lora.ts';
import { HunyuanDit, type DitInputs } from '../../../models/hunyuan_dit/transformer.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { weightsFromMap, type SessionWeights } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';

const device = await deviceOrUndefined();
afterAll(async () => {
  if (device) await releaseDevice();
});

const base = weightsFromMap(randomDitWeights(), 'dit');
const f32 = (shape: number[], f: (i: number) => number): HostTensor => ({ dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.fround(f(i))) });
const name = (module: string, part: 'lora_up' | 'lora_down' | 'alpha') => `${HUNYUAN_I2V_LORA_PREFIX}_${module}.${part}${part === 'alpha' ? '' : '.weight'}`;

describe('LoRA on the transformer', () => {
  it('resolves names as the shortest "_"-joined run naming a child, level by level', () => {
    const tree = new Map<string, Set<string>>([
      ['', new Set(['txt_in', 'double_blocks'])], ['txt_in', new Set(['individual_token_refiner'])],
      ['txt_in.individual_token_refiner', new Set(['blocks'])], ['txt_in.individual_token_refiner.blocks', new Set(['0'])],
      ['txt_in.individual_token_refiner.blocks.0', new Set(['mlp'])], ['txt_in.individual_token_refiner.blocks.0.mlp', new Set(['fc1'])],
    ]);
    expect(resolveLoraModule('txt_in_individual_token_refiner_blocks_0_mlp_fc1', tree)).toBe('txt_in.individual_token_refiner.blocks.0.mlp.fc1');
    expect(resolveLoraModule('txt_out', tree)).toBeUndefined();
  });

  it('adds scale · (up @ down) to the weights it names and leaves the rest alone', () => {
    const [o, i, r] = [3 * 64, 64, 2];
    const up = f32([o, r], (k) => Math.sin(k));
    const down = f32([r, i], (k) => Math.cos(k * 0.7));
    const lora = weightsFromMap(new Map([
      [name('double_blocks_0_img_attn_qkv', 'lora_up'), up], [name('double_blocks_0_img_attn_qkv', 'lora_down'), down],
      [name('double_blocks_0_img_attn_qkv', 'alpha'), f32([], () => 8)],
    ]), 'lora.safetensors');
    const told: string[] = [];
    const { weights, merged } = withLora(base, lora, 0.75, { onMerge: (d, n) => told.push(`${d}/${n}`) });
    expect(merged).toEqual(['double_blocks.0.img_attn_qkv.weight']);
    const w = toFloat64(base.read('double_blocks.0.img_attn_qkv.weight'));
    const got = toFloat64(weights.read('double_blocks.0.img_attn_qkv.weight'));
    const [u, d] = [toFloat64(up), toFloat64(down)];
    for (const [row, col] of [[0, 0], [5, 17], [o - 1, i - 1], [100, 33]]) {
      const delta = u[row * r] * d[col] + u[row * r + 1] * d[i + col];
      expect(got[row * i + col]).toBe(Math.fround(w[row * i + col] + 0.75 * delta));
    }
    expect(weights.read('double_blocks.0.img_attn_proj.weight')).toBe(base.read('double_blocks.0.img_attn_proj.weight'));
    expect(told).toEqual(['1/1']);
  });

  it('names what is wrong: an unknown module, a missing partner, shapes that do not fit, a text encoder LoRA', () => {
    const pair = (module: string, u: number[], d: number[]) => new Map([[name(module, 'lora_up'), f32(u, () => 1)], [name(module, 'lora_down'), f32(d, () => 1)]]);
    const check = (m: Map<string, HostTensor>, re: RegExp) => expect(() => loraTargets(base, weightsFromMap(m, 'l.safetensors'))).toThrow(re);
    check(pair('double_blocks_9_img_attn_qkv', [192, 2], [2, 64]), /names double_blocks_9_img_attn_qkv, which is no module with a weight/);
    check(new Map([[name('final_layer_linear', 'lora_up'), f32([16, 2], () => 1)]]), /has no .*lora_down\.weight to pair with/);
    check(pair('final_layer_linear', [16, 2], [2, 63]), /does not make final_layer\.linear\.weight's \[16, 64\]/);
    expect(() => loraTargets(base, weightsFromMap(new Map([['lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight', f32([1, 1], () => 1)]]), 'l'))).toThrow(LoraError);
  });
});

/** Largest |a - b| over max |b|. */
function relativeMaxError(a: HostTensor, b: HostTensor): number {
  const [x, y] = [toFloat64(a), toFloat64(b)];
  expect(x.length).toBe(y.length);
  let [err, scale] = [0, 0];
  for (let i = 0; i < y.length; i++) {
    err = Math.max(err, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return err / scale;
}

describe.skipIf(!device)(device ? 'LoRA merged on the device' : `LoRA merged on the device: ${NO_ADAPTER}`, () => {
  const session = { backend: 'webgpu' as const, device };
  // A linear (rank 3, an odd size) and the patch embedding's convolution, flattened to [out, in · kernel].
  const lora = weightsFromMap(new Map([
    [name('double_blocks_0_img_attn_qkv', 'lora_up'), f32([192, 3], (k) => Math.sin(k * 0.3))],
    [name('double_blocks_0_img_attn_qkv', 'lora_down'), f32([3, 64], (k) => Math.cos(k * 0.7))],
    [name('img_in_proj', 'lora_up'), f32([64, 5], (k) => Math.sin(k * 1.1) / 2)],
    [name('img_in_proj', 'lora_down'), f32([5, 16], (k) => Math.cos(k * 0.2))],
  ]), 'lora.safetensors');

  it('merges each pair as the host does (float32 on the device against float64)', async () => {
    const { weights } = withLora(base, lora, 0.6, { session });
    for (const key of ['double_blocks.0.img_attn_qkv.weight', 'img_in.proj.weight']) {
      const onDevice = await weights.readForDevice!(key);
      expect(onDevice.shape).toEqual(base.info(key).shape);
      expect(relativeMaxError(onDevice, weights.read(key))).toBeLessThan(1e-6);
    }
    expect(await weights.readForDevice!('final_layer.linear.weight')).toBe(base.read('final_layer.linear.weight'));
  });

  it('runs the transformer with weights merged on the device while its run waits for them', async () => {
    const next = (() => { let s = 7; return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1; })();
    const tensor = (shape: number[]): HostTensor => ({ dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next) });
    const c = TINY_DIT_CONFIG;
    const { cos, sin } = ndRotaryPosEmbed({ ropeDimList: [...TINY_DIT_ROPE_DIMS], grid: [2, 2, 3], theta: 256 });
    const inputs: DitInputs = {
      x: tensor([1, c.in_channels, 2, 4, 6]), t: { dtype: 'F32', shape: [1], data: Float32Array.of(700) },
      textStates: tensor([1, 5, c.text_states_dim]), textMask: { dtype: 'I32', shape: [1, 5], data: Int32Array.of(1, 1, 1, 0, 0) },
      textStates2: tensor([1, c.text_states_dim_2]), freqsCos: cos, freqsSin: sin, guidance: { dtype: 'F32', shape: [1], data: Float32Array.of(6000) },
    };
    const told: string[] = [];
    const merged = withLora(base, lora, 1.5, { session, onMerge: (d, n) => told.push(`${d}/${n}`) });
    // The same weights merged on the host beforehand, as a plain map.
    const hostMerged: SessionWeights = weightsFromMap(new Map([...base.keys()].map((k) => [k, merged.weights.read(k)])), 'host-merged');
    told.length = 0;
    const withDeviceMerge = await new HunyuanDit(c, merged.weights, session).forward(inputs);
    expect(told).toEqual(['3/2', '4/2']); // counted on from the two host merges above
    const reference = await new HunyuanDit(c, hostMerged, session).forward(inputs);
    expect(relativeMaxError(withDeviceMerge, reference)).toBeLessThan(1e-5);
    const unmerged = await new HunyuanDit(c, base, session).forward(inputs);
    expect(relativeMaxError(unmerged, reference)).toBeGreaterThan(1e-3);
  });
});
