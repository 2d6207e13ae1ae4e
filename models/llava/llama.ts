/**
 * The language model of HunyuanVideo-I2V's first text encoder: Llama's decoder (llama.kiln) and
 * what transformers computes for it outside the network, the rotary tables from position ids.
 */
import { lazyProgram } from '../../dsl/program.ts';
import { ModelSession, type SessionOptions, type SessionWeights } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { jsonObject, numericFields } from '../common/config_json.ts';
import { checkTokenIds } from '../common/token_ids.ts';

export const llamaProgram = lazyProgram(import.meta.url, ['llama.kiln']);

const f32 = Math.fround;

/** transformers' LlamaConfig fields the decoder depends on. */
export interface LlamaConfig {
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_key_value_heads: number;
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
}

/** The Llama-3-8B-Instruct decoder of xtuner/llava-llama-3-8b-v1_1 (vocabulary 128,320 with LLaVA's added tokens). */
export const LLAVA_LLAMA3_8B_CONFIG: LlamaConfig = {
  vocab_size: 128_320, hidden_size: 4096, intermediate_size: 14_336, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 8, rms_norm_eps: 1e-5, rope_theta: 500_000,
};

/** The module config (rope_theta is the host's: it only shapes the tables). */
export function llamaModuleConfig(c: LlamaConfig): Record<string, unknown> {
  const { rope_theta: _theta, ...rest } = c;
  return rest;
}

/**
 * Positions as LLaVA's merge of text and image gives them (transformers 4.39): the running
 * count of real tokens minus one, and 1 at padding. For right-padded prompts the real tokens
 * are simply 0, 1, 2, ...
 */
export function positionsFromMask(mask: HostTensor): Int32Array {
  const [b, l] = mask.shape;
  const out = new Int32Array(b * l);
  for (let r = 0; r < b; r++) {
    let count = 0;
    for (let i = 0; i < l; i++) {
      const real = Number(mask.data[r * l + i]) !== 0;
      if (real) count++;
      out[r * l + i] = real ? count - 1 : 1;
    }
  }
  return out;
}

/**
 * The rotary tables for positions [B, L]: cos and sin [B, L, headDim] of position · frequency,
 * the frequencies θ^(-2i/d) repeated over both halves, rounded to float32 where
 * LlamaRotaryEmbedding works in float32 (frequencies, products; its float32 pow may differ from
 * this rounded one by an ulp). Made on the host:
 * WGSL promises sin and cos only to 2^-11 absolute, and angles here reach hundreds of radians.
 */
export function llamaRotaryTables(positions: Int32Array, shape: readonly [number, number], headDim: number, theta: number): { cos: HostTensor; sin: HostTensor } {
  if (headDim % 2 !== 0) throw new RangeError(`the rotary head dimension must be even, got ${headDim}`);
  const half = headDim / 2;
  const inv = Array.from({ length: half }, (_, i) => f32(1 / f32(theta ** f32((2 * i) / headDim))));
  const [b, l] = shape;
  const cos = new Float32Array(b * l * headDim);
  const sin = new Float32Array(b * l * headDim);
  for (let p = 0; p < b * l; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f32(inv[i] * positions[p]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + i] = c; cos[p * headDim + half + i] = c;
      sin[p * headDim + i] = s; sin[p * headDim + half + i] = s;
    }
  }
  const dims = [b, l, headDim];
  return { cos: { dtype: 'F32', shape: dims, data: cos }, sin: { dtype: 'F32', shape: dims, data: sin } };
}

export class LlamaDecoder {
  readonly session: ModelSession;

  constructor(readonly config: LlamaConfig, weights: SessionWeights, session: SessionOptions) {
    this.session = new ModelSession(llamaProgram(), 'LlamaForCausalLM', llamaModuleConfig(config), weights, { allowUnexpected: true, ...session });
  }

  /**
   * transformers' hidden_states[after] for token ids [B, L] and their mask, at `positions`
   * (default: positionsFromMask).
   */
  async hiddenState(inputIds: HostTensor, attentionMask: HostTensor, after: number, positions?: Int32Array): Promise<HostTensor> {
    const [b, l] = inputIds.shape;
    if (!Number.isInteger(after) || after < 0 || after > this.config.num_hidden_layers) {
      throw new RangeError(`hidden state ${after} does not exist: the decoder has ${this.config.num_hidden_layers} layers (0 = the embeddings, ${this.config.num_hidden_layers} = the normed output)`);
    }
    checkTokenIds(inputIds, this.config.vocab_size);
    const head = this.config.hidden_size / this.config.num_attention_heads;
    const { cos, sin } = llamaRotaryTables(positions ?? positionsFromMask(attentionMask), [b, l], head, this.config.rope_theta);
    const out = await this.session.call('hidden_state', [inputIds, attentionMask, cos, sin, { value: after }]);
    return Object.values(out.outputs)[0];
  }
}

export class LlamaConfigError extends Error {
  override name = 'LlamaConfigError';
}

/** LlamaConfig's defaults in transformers 4.39, for fields a config.json leaves out. */
const LLAMA_DEFAULTS: LlamaConfig = {
  vocab_size: 32_000, hidden_size: 4096, intermediate_size: 11_008, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 32, rms_norm_eps: 1e-6, rope_theta: 10_000,
};

/**
 * The decoder config in a transformers `config.json`: a LlamaConfig, or a LlavaConfig whose
 * `text_config` it is. What Kiln's decoder does not compute (another activation, rope
 * scaling, biases) is refused, naming the field. `where` names the file in errors.
 */
export function llamaConfigFromJson(json: unknown, where: string): LlamaConfig {
  const root = jsonObject(json);
  if (!root) throw new LlamaConfigError(`${where}: expected a JSON object (a transformers LlamaConfig or LlavaConfig)`);
  const text = jsonObject(root.text_config) ?? root;
  const refuse = (field: string, why: string) => { throw new LlamaConfigError(`${where}: ${field} ${why}; Kiln's Llama decoder computes silu, no rope scaling, no biases`); };
  if ((text.hidden_act ?? 'silu') !== 'silu') refuse('hidden_act', `"${String(text.hidden_act)}" is not supported`);
  if (text.rope_scaling !== undefined && text.rope_scaling !== null) refuse('rope_scaling', `${JSON.stringify(text.rope_scaling)} is not supported`);
  for (const b of ['attention_bias', 'mlp_bias']) if (text[b] === true) refuse(b, 'is not supported');
  const c = numericFields(text, LLAMA_DEFAULTS, {
    where, floats: ['rms_norm_eps', 'rope_theta'], fail: (m) => new LlamaConfigError(m),
    fallback: (k) => (k === 'num_key_value_heads' ? text.num_attention_heads : undefined),
  });
  if (c.hidden_size % c.num_attention_heads !== 0 || c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new LlamaConfigError(`${where}: ${c.num_attention_heads} heads must divide hidden_size ${c.hidden_size}, and ${c.num_key_value_heads} key/value heads must divide the heads`);
  }
  return c;
}
