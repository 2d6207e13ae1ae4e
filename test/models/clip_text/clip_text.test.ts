/**
 * CLIP's text encoder (models/clip_text): the reference cases in fixtures/ (PyTorch's own
 * modules in float64, make_cases.py) on the interpreter, on WebGPU and with f16 storage; the
 * released CLIP-L module tree; transformers' config.json; and what the encoder refuses.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { CLIP_L_TEXT_CONFIG, ClipTextConfigError, clipTextConfigFromJson, ClipTextEncoder, clipTextProgram } from '../../../models/clip_text/text_encoder.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { deviceOrUndefined } from '../../runtime/gpu-available.ts';
import { itRunsCases, runCase } from '../golden_cases.ts';

const FIXTURES = resolve(import.meta.dirname, 'fixtures');
const CASES = readdirSync(FIXTURES).filter((f) => f.endsWith('.safetensors')).sort();
const device = await deviceOrUndefined();

describe('CLIP text encoder reference cases', () => {
  afterAll(async () => { await releaseDevice(); });
  it('has its two cases', () => expect(CASES).toEqual(['clip_text_eos_id.safetensors', 'clip_text_legacy_eos.safetensors']));

  itRunsCases(CASES.map((f) => resolve(FIXTURES, f)), device);
  it('agrees with the float64 reference to rounding on the interpreter', async () => {
    for (const f of CASES) for (const c of (await runCase(resolve(FIXTURES, f))).comparisons) expect(c.relL2, `${f} ${c.name}`).toBeLessThan(1e-12);
  });
});

describe('the released CLIP-L text encoder', () => {
  it("has CLIPTextModel's 196 keys and 123,060,480 parameters", () => {
    const bound = bindModule(clipTextProgram(), 'CLIPTextModel', { ...CLIP_L_TEXT_CONFIG });
    expect(bound.weights).toHaveLength(196);
    const keys = new Set(bound.weights.map((w) => w.key));
    for (const k of ['text_model.embeddings.token_embedding.weight', 'text_model.embeddings.position_embedding.weight',
      'text_model.encoder.layers.11.self_attn.out_proj.bias', 'text_model.encoder.layers.0.mlp.fc1.weight', 'text_model.final_layer_norm.weight']) {
      expect(keys.has(k), k).toBe(true);
    }
    const params = bound.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(123_060_480);
  });

  it("reads the text half of a CLIPModel's config.json, with CLIPTextConfig's defaults for what it leaves out", () => {
    const json = {
      architectures: ['CLIPModel'], projection_dim: 768,
      text_config: { hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, eos_token_id: 2, hidden_act: 'quick_gelu' },
      vision_config: { hidden_size: 1024, image_size: 224, patch_size: 14 },
    };
    expect(clipTextConfigFromJson(json, 'config.json')).toEqual(CLIP_L_TEXT_CONFIG);
    expect(() => clipTextConfigFromJson({ ...json.text_config, hidden_act: 'gelu' }, 'config.json')).toThrow(/config\.json: hidden_act "gelu" is not supported/);
    expect(() => clipTextConfigFromJson({ ...json.text_config, num_attention_heads: 7 }, 'config.json')).toThrow(ClipTextConfigError);
    expect(() => clipTextConfigFromJson([], 'config.json')).toThrow(/expected a JSON object/);
    expect(() => clipTextConfigFromJson({ hidden_size: 7.5 }, 'config.json')).toThrow(/config\.json: hidden_size must be a non-negative integer, got 7\.5/);
    expect(() => clipTextConfigFromJson({ layer_norm_eps: 0 }, 'config.json')).toThrow(/layer_norm_eps must be a positive number, got 0/);
  });

  it('refuses token ids outside the vocabulary and prompts longer than its positions, saying which', async () => {
    const cfg = { ...CLIP_L_TEXT_CONFIG, vocab_size: 10, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 4 };
    const bound = bindModule(clipTextProgram(), 'CLIPTextModel', { ...cfg });
    const weights = weightsFromMap(new Map(bound.weights.map((w) => [w.key, { dtype: 'F32' as const, shape: [...w.shape], data: new Float32Array(w.shape.reduce((a, b) => a * b, 1)) }])));
    const enc = new ClipTextEncoder(cfg, weights, { backend: 'interp' });
    const ids = (v: number[]) => ({ dtype: 'I64' as const, shape: [1, v.length], data: BigInt64Array.from(v.map(BigInt)) });
    await expect(enc.encode(ids([1, 12, 3]), ids([1, 1, 1]))).rejects.toThrow(/token id 12 \(prompt 0, position 1\) is outside the vocabulary of 10/);
    await expect(enc.encode(ids([1, 2, 3, 4, 5]), ids([1, 1, 1, 1, 1]))).rejects.toThrow(/5 tokens exceed the encoder's 4 positions/);
    const r = await enc.encode(ids([1, 2, 9]), ids([1, 1, 0]));
    expect(r.pooled.shape).toEqual([1, 8]);
  });
});
