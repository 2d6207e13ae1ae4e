/**
 * LlavaEncoder: LLaVA (llava.kiln) as HunyuanVideo-I2V's first text encoder runs it — the
 * reference image's patch features in place of the prompt's <image> token, then the language
 * model's hidden states over the merged sequence. The host part: where the image goes, the
 * merged mask and positions, and the rotary tables for them.
 */
import { lazyProgram } from '../../dsl/program.ts';
import { ModelSession, type SessionOptions, type SessionWeights } from '../../runtime/model.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { jsonObject, numericFields } from '../common/config_json.ts';
import { checkTokenIds } from '../common/token_ids.ts';
import { LLAVA_LLAMA3_8B_CONFIG, llamaConfigFromJson, LlamaConfigError, llamaRotaryTables, positionsFromMask, type LlamaConfig } from './llama.ts';

export const llavaProgram = lazyProgram(import.meta.url, ['llava.kiln']);

/** transformers' CLIPVisionConfig fields the vision tower depends on (its activation is quick_gelu). */
export interface ClipVisionConfig {
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly image_size: number;
  readonly patch_size: number;
  readonly layer_norm_eps: number;
}

export interface LlavaConfig {
  readonly vision: ClipVisionConfig;
  readonly text: LlamaConfig;
  readonly image_token_index: number;
  /** Padding tokens' embeddings are zeroed in the merge; -1 when the config names none. */
  readonly pad_token_id: number;
  /** Which of the vision tower's hidden_states feeds the projector (negative: from the end). */
  readonly vision_feature_layer: number;
}

/** xtuner/llava-llama-3-8b-v1_1-transformers: CLIP ViT-L/14 at 336 pixels and Llama-3-8B-Instruct. */
export const LLAVA_LLAMA3_8B_V1_1_CONFIG: LlavaConfig = {
  vision: { hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, image_size: 336, patch_size: 14, layer_norm_eps: 1e-5 },
  text: LLAVA_LLAMA3_8B_CONFIG,
  image_token_index: 128_257,
  pad_token_id: 128_258,
  vision_feature_layer: -2,
};

/** The flat module config of LlavaForConditionalGeneration (llava.kiln). */
export function llavaModuleConfig(c: LlavaConfig): Record<string, unknown> {
  const v = c.vision;
  const t = c.text;
  return {
    vision_hidden_size: v.hidden_size, vision_intermediate_size: v.intermediate_size, vision_num_hidden_layers: v.num_hidden_layers,
    vision_num_attention_heads: v.num_attention_heads, image_size: v.image_size, patch_size: v.patch_size, vision_layer_norm_eps: v.layer_norm_eps,
    vocab_size: t.vocab_size, hidden_size: t.hidden_size, intermediate_size: t.intermediate_size, num_hidden_layers: t.num_hidden_layers,
    num_attention_heads: t.num_attention_heads, num_key_value_heads: t.num_key_value_heads, rms_norm_eps: t.rms_norm_eps, pad_token_id: c.pad_token_id,
  };
}

export class LlavaConfigError extends Error {
  override name = 'LlavaConfigError';
}

const CLIP_VISION_DEFAULTS: ClipVisionConfig = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224, patch_size: 32, layer_norm_eps: 1e-5,
};

/** A LlavaConfig `config.json` (transformers 4.39 defaults for what it leaves out); `where` names it in errors. */
export function llavaConfigFromJson(json: unknown, where: string): LlavaConfig {
  const root = jsonObject(json);
  if (!root) throw new LlavaConfigError(`${where}: expected a JSON object (a transformers LlavaConfig)`);
  const refuse = (what: string) => { throw new LlavaConfigError(`${where}: ${what} is not supported (Kiln's LLaVA follows xtuner/llava-llama-3-8b-v1_1)`); };
  if ((root.projector_hidden_act ?? 'gelu') !== 'gelu') refuse(`projector_hidden_act ${JSON.stringify(root.projector_hidden_act)}`);
  if ((root.vision_feature_select_strategy ?? 'default') !== 'default') refuse(`vision_feature_select_strategy ${JSON.stringify(root.vision_feature_select_strategy)}`);
  const vj = jsonObject(root.vision_config) ?? {};
  if ((vj.hidden_act ?? 'quick_gelu') !== 'quick_gelu') refuse(`vision_config.hidden_act ${JSON.stringify(vj.hidden_act)}`);
  const vision = numericFields(vj, CLIP_VISION_DEFAULTS, { where: `${where}: vision_config`, floats: ['layer_norm_eps'], minInteger: 1, fail: (m) => new LlavaConfigError(m) });
  let text: LlamaConfig;
  try {
    text = llamaConfigFromJson(root.text_config ?? {}, `${where} (text_config)`);
  } catch (e) {
    if (e instanceof LlamaConfigError) throw new LlavaConfigError(e.message);
    throw e;
  }
  const int = (key: string, fallback: number): number => {
    const v = root[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new LlavaConfigError(`${where}: ${key} must be an integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const c: LlavaConfig = {
    vision, text,
    image_token_index: int('image_token_index', 32_000), pad_token_id: int('pad_token_id', -1), vision_feature_layer: int('vision_feature_layer', -2),
  };
  const layers = c.vision.num_hidden_layers;
  if (c.vision_feature_layer < -(layers + 1) || c.vision_feature_layer > layers) {
    throw new LlavaConfigError(`${where}: vision_feature_layer ${c.vision_feature_layer} names no hidden state of a ${layers}-layer vision tower`);
  }
  if (c.vision.image_size % c.vision.patch_size !== 0) throw new LlavaConfigError(`${where}: vision_config.image_size ${c.vision.image_size} is not a multiple of patch_size ${c.vision.patch_size}`);
  return c;
}

/** Patches per image (each a position in the merged sequence). */
export const imagePatches = (c: LlavaConfig): number => (c.vision.image_size / c.vision.patch_size) ** 2;

/** The vision tower's hidden_states index that vision_feature_layer names. */
export const visionAfter = (c: LlavaConfig): number =>
  c.vision_feature_layer < 0 ? c.vision.num_hidden_layers + 1 + c.vision_feature_layer : c.vision_feature_layer;

/**
 * Where each row's one <image> token is: the same position in every row (the prompt template
 * puts it there), or an error that says what is wrong.
 */
export function imageTokenPosition(inputIds: HostTensor, imageToken: number): number {
  const [b, l] = inputIds.shape;
  let position: number | undefined;
  for (let r = 0; r < b; r++) {
    const found: number[] = [];
    for (let i = 0; i < l; i++) if (Number(inputIds.data[r * l + i]) === imageToken) found.push(i);
    if (found.length !== 1) throw new RangeError(`prompt ${r} has ${found.length} image tokens (id ${imageToken}); LLaVA's prompt template puts exactly one in each`);
    if (position !== undefined && found[0] !== position) throw new RangeError(`the image token is at position ${found[0]} in prompt ${r} but at ${position} in prompt 0; the prompts must share the template's layout`);
    position = found[0];
  }
  if (position === undefined) throw new RangeError('no prompts to encode');
  return position;
}

/** The prompt's mask with the image token widened to `patches` ones: the merged sequence's mask. */
export function mergedMask(mask: HostTensor, position: number, patches: number): HostTensor {
  const [b, l] = mask.shape;
  const m = l - 1 + patches;
  const out = new Int32Array(b * m);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < m; i++) {
      const src = i < position ? i : i < position + patches ? -1 : i - patches + 1;
      out[r * m + i] = src < 0 ? 1 : Number(mask.data[r * l + src]) !== 0 ? 1 : 0;
    }
  }
  return { dtype: 'I32', shape: [b, m], data: out };
}

export interface LlavaHiddenState {
  /** [B, L - 1 + patches, hidden_size] */
  readonly hiddenState: HostTensor;
  /** [B, L - 1 + patches]: 1 at the image's positions and the prompt's real tokens. */
  readonly attentionMask: HostTensor;
  /** Where the image's patches start in the merged sequence. */
  readonly imagePosition: number;
}

export class LlavaEncoder {
  readonly session: ModelSession;

  constructor(readonly config: LlavaConfig, weights: SessionWeights, session: SessionOptions) {
    this.session = new ModelSession(llavaProgram(), 'LlavaForConditionalGeneration', llavaModuleConfig(config), weights, { allowUnexpected: true, ...session });
  }

  private checkPixels(pixelValues: HostTensor, batch = pixelValues.shape[0]): void {
    const s = this.config.vision.image_size;
    if (pixelValues.shape.join() !== [batch, 3, s, s].join()) {
      throw new RangeError(`pixel values must be [${batch}, 3, ${s}, ${s}] (one ${s}×${s} image per prompt, as the image processor makes them), got [${pixelValues.shape.join(', ')}]`);
    }
  }

  private checkInputs(inputIds: HostTensor, pixelValues: HostTensor): void {
    this.checkPixels(pixelValues, inputIds.shape[0]);
    checkTokenIds(inputIds, this.config.text.vocab_size);
  }

  /** The projected patch features of images [B, 3, S, S]: [B, patches, hidden_size]. */
  async imageFeatures(pixelValues: HostTensor): Promise<HostTensor> {
    this.checkPixels(pixelValues);
    const out = await this.session.call('image_features', [pixelValues, { value: visionAfter(this.config) }]);
    return Object.values(out.outputs)[0];
  }

  /** The language model's hidden_states[after] over prompts [B, L] with one image each. */
  async hiddenState(inputIds: HostTensor, attentionMask: HostTensor, pixelValues: HostTensor, after: number): Promise<LlavaHiddenState> {
    this.checkInputs(inputIds, pixelValues);
    const t = this.config.text;
    if (!Number.isInteger(after) || after < 0 || after > t.num_hidden_layers) {
      throw new RangeError(`hidden state ${after} does not exist: the language model has ${t.num_hidden_layers} layers`);
    }
    const position = imageTokenPosition(inputIds, this.config.image_token_index);
    const mask = mergedMask(attentionMask, position, imagePatches(this.config));
    const [b, m] = mask.shape;
    const { cos, sin } = llamaRotaryTables(positionsFromMask(mask), [b, m], t.hidden_size / t.num_attention_heads, t.rope_theta);
    const out = await this.session.call('hidden_state', [inputIds, attentionMask, pixelValues, cos, sin, { value: position }, { value: visionAfter(this.config) }, { value: after }]);
    return { hiddenState: Object.values(out.outputs)[0], attentionMask: mask, imagePosition: position };
  }
}
