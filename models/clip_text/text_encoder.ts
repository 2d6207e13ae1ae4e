/**
 * ClipTextEncoder: CLIP's text transformer (clip_text.kiln) as HunyuanVideo's second text
 * encoder uses it: prompt token ids in, the final states and the pooled end-of-text state out
 * (the pipeline's `text_states_2`). Checkpoints are transformers' (a CLIPTextModel's, or a
 * whole CLIPModel's, whose vision half is ignored); `config.json` gives the sizes.
 */
import { tensorArg } from '../../compiler/bind.ts';
import { lazyProgram } from '../../dsl/program.ts';
import type { CallArg } from '../../dsl/session.ts';
import { ModelSession, type SessionOptions, type SessionWeights } from '../../runtime/model.ts';
import type { HostTensor, StorageDType } from '../../runtime/tensor.ts';
import { jsonObject, numericFields } from '../common/config_json.ts';
import { checkTokenIds } from '../common/token_ids.ts';

const INTEGER_DTYPES: ReadonlySet<StorageDType> = new Set(['I64', 'I32', 'I16', 'I8', 'U8']);

export const clipTextProgram = lazyProgram(import.meta.url, ['clip_text.kiln']);

/** transformers' CLIPTextConfig fields the network depends on (its activation is quick_gelu). */
export interface ClipTextConfig {
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly max_position_embeddings: number;
  readonly layer_norm_eps: number;
  /** 2 in the original OpenAI checkpoints: pool at the row's largest id (see clip_text.kiln). */
  readonly eos_token_id: number;
}

/** openai/clip-vit-large-patch14's text half: HunyuanVideo's `text_encoder_2`. */
export const CLIP_L_TEXT_CONFIG: ClipTextConfig = {
  vocab_size: 49408, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12,
  max_position_embeddings: 77, layer_norm_eps: 1e-5, eos_token_id: 2,
};

/** CLIPTextConfig's defaults in transformers 4.39, for fields a config.json leaves out. */
const CLIP_TEXT_DEFAULTS: ClipTextConfig = {
  vocab_size: 49408, hidden_size: 512, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 8,
  max_position_embeddings: 77, layer_norm_eps: 1e-5, eos_token_id: 49407,
};

export class ClipTextConfigError extends Error {
  override name = 'ClipTextConfigError';
}

/**
 * The text config in a transformers `config.json`: a CLIPTextConfig, or a CLIPConfig whose
 * `text_config` it is. `where` names the file in errors.
 */
export function clipTextConfigFromJson(json: unknown, where: string): ClipTextConfig {
  const root = jsonObject(json);
  if (!root) throw new ClipTextConfigError(`${where}: expected a JSON object (a transformers CLIPTextConfig or CLIPConfig)`);
  const text = jsonObject(root.text_config) ?? root;
  const act = text.hidden_act ?? 'quick_gelu';
  if (act !== 'quick_gelu') {
    throw new ClipTextConfigError(`${where}: hidden_act "${String(act)}" is not supported; CLIP's text encoders use "quick_gelu"`);
  }
  const c = numericFields(text, CLIP_TEXT_DEFAULTS, { where, floats: ['layer_norm_eps'], fail: (m) => new ClipTextConfigError(m) });
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new ClipTextConfigError(`${where}: hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
  }
  return c;
}

/** The forward's arguments as shapes: `batch` prompts of `tokens` ids. */
export function clipTextForwardShapes(batch: number, tokens: number): CallArg[] {
  return [tensorArg('input_ids', [batch, tokens], 'i32'), tensorArg('attention_mask', [batch, tokens], 'i32')];
}

export interface ClipTextOutput {
  /** After the final LayerNorm, [B, L, hidden_size]. */
  readonly lastHiddenState: HostTensor;
  /** The state at each row's end-of-text token, [B, hidden_size]. */
  readonly pooled: HostTensor;
}

export class ClipTextEncoder {
  readonly session: ModelSession;

  constructor(readonly config: ClipTextConfig, weights: SessionWeights, session: SessionOptions) {
    // A whole CLIPModel checkpoint also holds the vision tower and projections.
    this.session = new ModelSession(clipTextProgram(), 'CLIPTextModel', { ...config }, weights, { allowUnexpected: true, ...session });
  }

  /** Encodes token ids [B, L] (any integer dtype) with their attention mask (1 = real token). */
  async encode(inputIds: HostTensor, attentionMask: HostTensor): Promise<ClipTextOutput> {
    const [b, l] = inputIds.shape;
    if (inputIds.shape.length !== 2 || !INTEGER_DTYPES.has(inputIds.dtype)) throw new RangeError(`token ids must be integers [batch, tokens], got ${inputIds.dtype}[${inputIds.shape.join(', ')}]`);
    if (!INTEGER_DTYPES.has(attentionMask.dtype) || attentionMask.shape.join() !== inputIds.shape.join()) {
      throw new RangeError(`the attention mask must be integers [${b}, ${l}] like the ids, got ${attentionMask.dtype}[${attentionMask.shape.join(', ')}]`);
    }
    if (l > this.config.max_position_embeddings) throw new RangeError(`${l} tokens exceed the encoder's ${this.config.max_position_embeddings} positions; truncate the prompt`);
    checkTokenIds(inputIds, this.config.vocab_size);
    const out = (await this.session.call('forward', [inputIds, attentionMask])).outputs;
    return { lastHiddenState: out.last_hidden_state, pooled: out.pooler_output };
  }
}
