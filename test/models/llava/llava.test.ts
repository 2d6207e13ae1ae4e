/**
 * LLaVA (models/llava/llava): the reference case in fixtures/ (float64, make_llava_cases.py) on
 * the interpreter and on WebGPU; the released checkpoint's module tree, and its prompt encoding
 * compiled at HunyuanVideo's size for a GPU; the merge's host half and config.json.
 */
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindModule, tensorArg } from '../../../compiler/bind.ts';
import { compile } from '../../../compiler/compile.ts';
import { DISCRETE_GPU_TARGET } from '../../../compiler/target.ts';
import {
  imagePatches, imageTokenPosition, LLAVA_LLAMA3_8B_V1_1_CONFIG, LlavaConfigError, llavaConfigFromJson, llavaModuleConfig, llavaProgram, mergedMask, visionAfter,
} from '../../../models/llava/llava.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { runCase } from '../golden_cases.ts';

const CASE = resolve(import.meta.dirname, 'fixtures', 'llava_image_at_2.safetensors');
const device = await deviceOrUndefined();

describe('LLaVA reference case', () => {
  afterAll(async () => { await releaseDevice(); });
  it('on the interpreter', async () => {
    const r = await runCase(CASE);
    expect(r.pass, JSON.stringify(r.comparisons)).toBe(true);
    expect(r.comparisons.map((c) => c.name).sort()).toEqual(['hidden_state_1', 'hidden_state_3', 'image_features', 'merged_attention_mask']);
  });
  it.skipIf(!device)(`on WebGPU${device ? '' : ` (${NO_ADAPTER})`}`, async () => {
    const r = await runCase(CASE, device);
    expect(r.pass, JSON.stringify(r.comparisons)).toBe(true);
  }, 120_000);
});

const C = LLAVA_LLAMA3_8B_V1_1_CONFIG;

describe('the released LLaVA (xtuner/llava-llama-3-8b-v1_1-transformers)', () => {
  it('has 685 keys: CLIP ViT-L/14-336 (303,507,456 parameters), the projector, and the decoder', () => {
    const bound = bindModule(llavaProgram(), 'LlavaForConditionalGeneration', llavaModuleConfig(C));
    expect(bound.weights).toHaveLength(685);
    const count = (prefix: string) => bound.weights.filter((w) => w.key.startsWith(prefix)).reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    expect(count('vision_tower.')).toBe(303_507_456);
    expect(count('multi_modal_projector.')).toBe(20_979_712);
    expect(count('language_model.')).toBe(7_505_186_816);
    expect(bound.weights.find((w) => w.key === 'vision_tower.vision_model.embeddings.position_embedding.weight')?.shape).toEqual([577, 1024]);
  });

  it("compiles HunyuanVideo's prompt encoding (2 × 359 tokens, hidden_states[-3]) for a GPU with f16 storage: fused attention per layer, no standalone elementwise kernel", () => {
    const L = 359;
    const M = L - 1 + imagePatches(C);
    expect(M).toBe(934);
    const g = bindModule(llavaProgram(), 'LlavaForConditionalGeneration', llavaModuleConfig(C)).trace({
      fn: 'hidden_state',
      args: [tensorArg('ids', [2, L], 'i32'), tensorArg('mask', [2, L], 'i32'), tensorArg('pixels', [2, 3, 336, 336]), tensorArg('cos', [2, M, 128]),
        tensorArg('sin', [2, M, 128]), { kind: 'value', value: 5 }, { kind: 'value', value: visionAfter(C) }, { kind: 'value', value: 30 }],
    });
    const p = compile(g, DISCRETE_GPU_TARGET, { storage: 'f16' });
    expect(visionAfter(C)).toBe(23);
    expect(p.kernels.filter((k) => k.kind === 'attention')).toHaveLength(23 + 30);
    expect(p.kernels.filter((k) => k.kind === 'elementwise')).toEqual([]);
    expect(p.plan.peakBytes / 2 ** 30).toBeLessThan(16);
  }, 60_000);
});

describe("the merge's host half", () => {
  const ids = (rows: number[][]) => ({ dtype: 'I64' as const, shape: [rows.length, rows[0].length], data: BigInt64Array.from(rows.flat().map(BigInt)) });

  it('finds the one image token, the same in every prompt, or says what is wrong', () => {
    expect(imageTokenPosition(ids([[1, 2, 9, 4], [1, 3, 9, 5]]), 9)).toBe(2);
    expect(() => imageTokenPosition(ids([[1, 2, 9, 9]]), 9)).toThrow(/prompt 0 has 2 image tokens \(id 9\)/);
    expect(() => imageTokenPosition(ids([[1, 9, 2], [9, 1, 2]]), 9)).toThrow(/at position 0 in prompt 1 but at 1 in prompt 0/);
  });

  it('widens the image token to the patches in the mask', () => {
    const m = mergedMask(ids([[1, 1, 1, 1, 0]]), 1, 3);
    expect([...m.data]).toEqual([1, 1, 1, 1, 1, 1, 0]);
  });

  it('reads a LlavaConfig, refusing what Kiln does not compute', () => {
    const json = {
      architectures: ['LlavaForConditionalGeneration'], image_token_index: 128_257, pad_token_id: 128_258, projector_hidden_act: 'gelu',
      vision_feature_layer: -2, vision_feature_select_strategy: 'default',
      vision_config: { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, image_size: 336, patch_size: 14 },
      text_config: { vocab_size: 128_320, hidden_size: 4096, intermediate_size: 14_336, num_attention_heads: 32, num_key_value_heads: 8, num_hidden_layers: 32, rms_norm_eps: 1e-5, rope_theta: 500_000 },
    };
    expect(llavaConfigFromJson(json, 'config.json')).toEqual(C);
    expect(() => llavaConfigFromJson({ ...json, vision_feature_select_strategy: 'full' }, 'config.json')).toThrow(LlavaConfigError);
    expect(() => llavaConfigFromJson({ ...json, vision_feature_layer: -30 }, 'config.json')).toThrow(/names no hidden state of a 24-layer vision tower/);
    expect(() => llavaConfigFromJson({ ...json, vision_config: { ...json.vision_config, patch_size: 0 } }, 'config.json')).toThrow(/vision_config: patch_size must be a positive integer, got 0/);
    expect(() => llavaConfigFromJson({ ...json, text_config: { ...json.text_config, rope_scaling: { factor: 2 } } }, 'config.json')).toThrow(/text_config.*rope_scaling/);
  });
});
