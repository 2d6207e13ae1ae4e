/**
 * The Llama decoder of LLaVA (models/llava/llama): the reference cases in fixtures/ (float64,
 * make_llama_cases.py) on the interpreter, on WebGPU and with f16 storage; the released
 * decoder's module tree; rotary tables and positions; config.json; and what it refuses.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { LLAVA_LLAMA3_8B_CONFIG, LlamaConfigError, llamaConfigFromJson, LlamaDecoder, llamaModuleConfig, llamaProgram, llamaRotaryTables, positionsFromMask } from '../../../models/llava/llama.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { deviceOrUndefined } from '../../runtime/gpu-available.ts';
import { itRunsCases } from '../golden_cases.ts';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
const CASES = readdirSync(FIXTURES).filter((f) => /^llama.*\.safetensors$/.test(f)).sort();
const device = await deviceOrUndefined();

describe('Llama decoder reference cases', () => {
  afterAll(async () => { await releaseDevice(); });
  it('has its two cases', () => expect(CASES).toEqual(['llama3_theta_one_kv_head.safetensors', 'llama_gqa_padded.safetensors']));

  itRunsCases(CASES.map((f) => resolve(FIXTURES, f)), device);
});

describe('the released decoder (Llama-3-8B-Instruct in xtuner/llava-llama-3-8b-v1_1)', () => {
  it("has LlamaModel's 290 keys and 7,505,186,816 parameters (Llama-3-8B's 8.03 B less its lm_head, with LLaVA's 64 added tokens)", () => {
    const bound = bindModule(llamaProgram(), 'LlamaForCausalLM', llamaModuleConfig(LLAVA_LLAMA3_8B_CONFIG));
    expect(bound.weights).toHaveLength(290);
    const shapes = new Map(bound.weights.map((w) => [w.key, w.shape]));
    expect(shapes.get('model.embed_tokens.weight')).toEqual([128_320, 4096]);
    expect(shapes.get('model.layers.31.self_attn.k_proj.weight')).toEqual([1024, 4096]);
    expect(shapes.get('model.layers.0.mlp.down_proj.weight')).toEqual([4096, 14_336]);
    const params = bound.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(7_505_186_816);
  });

  it('reads the text_config of a LlavaConfig, refusing what the decoder does not compute', () => {
    const text = { vocab_size: 128_320, hidden_size: 4096, intermediate_size: 14_336, num_attention_heads: 32, num_key_value_heads: 8, num_hidden_layers: 32, rms_norm_eps: 1e-5, rope_theta: 500_000 };
    expect(llamaConfigFromJson({ architectures: ['LlavaForConditionalGeneration'], text_config: text, image_token_index: 128_257 }, 'config.json')).toEqual(LLAVA_LLAMA3_8B_CONFIG);
    expect(llamaConfigFromJson({ ...text, num_key_value_heads: undefined }, 'c').num_key_value_heads).toBe(32);
    expect(() => llamaConfigFromJson({ ...text, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'config.json')).toThrow(/config\.json: rope_scaling .* is not supported/);
    expect(() => llamaConfigFromJson({ ...text, num_key_value_heads: 5 }, 'c')).toThrow(LlamaConfigError);
  });
});

describe('positions and rotary tables', () => {
  it("numbers the real tokens 0, 1, 2, ... and padding 1, as LLaVA's merge does", () => {
    const mask = { dtype: 'I64' as const, shape: [2, 5], data: BigInt64Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1].map(BigInt)) };
    expect([...positionsFromMask(mask)]).toEqual([0, 1, 2, 1, 1, 0, 1, 2, 3, 4]);
  });

  it('turns channel pair (i, i + d/2) by position · θ^(-2i/d), in float32', () => {
    const { cos, sin } = llamaRotaryTables(Int32Array.from([0, 3]), [1, 2], 4, 100);
    // Frequencies 1 and 100^(-1/2) = 0.1; position 3: angles 3 and 0.3 (as float32 products).
    const a = [3, Math.fround(Math.fround(0.1) * 3)];
    expect([...cos.data.slice(0, 4)]).toEqual([1, 1, 1, 1]);
    expect([...sin.data.slice(0, 4)]).toEqual([0, 0, 0, 0]);
    expect([...cos.data.slice(4)]).toEqual([a[0], a[1], a[0], a[1]].map((x) => Math.fround(Math.cos(x))));
    expect([...sin.data.slice(4)]).toEqual([a[0], a[1], a[0], a[1]].map((x) => Math.fround(Math.sin(x))));
  });

  it('refuses a hidden state the decoder does not have and ids outside its vocabulary', async () => {
    const cfg = { ...LLAVA_LLAMA3_8B_CONFIG, vocab_size: 10, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1 };
    const bound = bindModule(llamaProgram(), 'LlamaForCausalLM', llamaModuleConfig(cfg));
    const weights = weightsFromMap(new Map(bound.weights.map((w) => [w.key, { dtype: 'F32' as const, shape: [...w.shape], data: new Float32Array(w.shape.reduce((a, b) => a * b, 1)) }])));
    const dec = new LlamaDecoder(cfg, weights, { backend: 'interp' });
    const ids = (v: number[]) => ({ dtype: 'I32' as const, shape: [1, v.length], data: Int32Array.from(v) });
    await expect(dec.hiddenState(ids([1, 2]), ids([1, 1]), 3)).rejects.toThrow(/hidden state 3 does not exist: the decoder has 2 layers/);
    await expect(dec.hiddenState(ids([1, 10]), ids([1, 1]), 1)).rejects.toThrow(/token id 10 \(prompt 0, position 1\) is outside the vocabulary of 10/);
    expect((await dec.hiddenState(ids([1, 2]), ids([1, 1]), 2)).shape).toEqual([1, 2, 8]);
  });
});
