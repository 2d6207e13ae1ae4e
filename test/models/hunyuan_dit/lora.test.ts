/**
 * LoRA on the transformer (models/hunyuan_dit/lora.ts): kohya names resolved to the tiny
 * transformer's modules as upstream's attribute walk does, each pair merged as W + s·(up @ down)
 * (checked against sums written out here), .alpha ignored, and the mistakes it names.
 */
import { describe, expect, it } from 'vitest';
import { randomDitWeights } from '../../../models/hunyuan_dit/random_weights.ts';
import { HUNYUAN_I2V_LORA_PREFIX, LoraError, loraTargets, resolveLoraModule, withLora } from '../../../models/hunyuan_dit/lora.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';

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
