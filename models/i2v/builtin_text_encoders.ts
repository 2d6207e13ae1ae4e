/**
 * The built-in tiny text encoders: a LLaVA and a CLIP text model with deterministic random
 * weights, sized for the built-in tiny transformer (text widths 32 and 24), with byte-level
 * tokenizers holding the special tokens their templates use. Untrained, like the tiny
 * transformer and VAE: they let `kiln i2v --prompt TEXT` run every step of the prompt path
 * (template, tokenizer, image processor, LLaVA, crop, CLIP) without downloading anything.
 */
import { bindModule } from '../../compiler/bind.ts';
import { weightsFromMap, type SessionOptions } from '../../runtime/model.ts';
import { ClipTextEncoder, clipTextProgram, type ClipTextConfig } from '../clip_text/text_encoder.ts';
import { byteTokenizer } from '../common/byte_tokenizer.ts';
import { randomTensor } from '../common/random_tensors.ts';
import type { DitConfig } from '../hunyuan_dit/transformer.ts';
import { LlavaEncoder, llavaModuleConfig, llavaProgram, type LlavaConfig } from '../llava/llava.ts';
import { I2vPromptEncoder, templateFor, VIDEO_I2V_TEMPLATE, type I2vPromptEncoderOptions } from './prompt_encoder.ts';

export const BUILTIN_TEXT_ENCODER_SEED = 20250307;

// The chat roles are single tokens too, as in Llama-3's vocabulary: upstream's crop counts the
// assistant header as four tokens.
const LLAMA_SPECIALS = ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>', '<image>', '<pad>', 'system', 'user', 'assistant'];
const CLIP_SPECIALS = ['<|startoftext|>', '<|endoftext|>'];

function randomWeights(program: ReturnType<typeof llavaProgram>, module: string, config: Record<string, unknown>, seed: number) {
  const bound = bindModule(program, module, config);
  return weightsFromMap(new Map(bound.weights.map((w) => [w.key, randomTensor(w.key, w.shape, seed)])), `built-in tiny ${module}`);
}

/** A prompt encoder whose states fit `dit` (the built-in transformer's text widths). */
export function builtinPromptEncoder(dit: DitConfig, session: SessionOptions, opts: I2vPromptEncoderOptions = {}): I2vPromptEncoder {
  const llama = byteTokenizer({ specials: LLAMA_SPECIALS, bos: '<|begin_of_text|>', pad: '<pad>' });
  const id = (t: string) => 257 + LLAMA_SPECIALS.indexOf(t);
  const llavaConfig: LlavaConfig = {
    vision: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, image_size: 28, patch_size: 7, layer_norm_eps: 1e-5 },
    text: {
      vocab_size: llama.vocabSize, hidden_size: dit.text_states_dim, intermediate_size: 2 * dit.text_states_dim, num_hidden_layers: 3,
      num_attention_heads: 2, num_key_value_heads: 1, rms_norm_eps: 1e-5, rope_theta: 500_000,
    },
    image_token_index: id('<image>'), pad_token_id: id('<pad>'), vision_feature_layer: -2,
  };
  // CLIP's end-of-text is its largest id, which the legacy pooling rule (eos_token_id 2) relies on.
  const clip = byteTokenizer({ specials: CLIP_SPECIALS, bos: '<|startoftext|>', eos: '<|endoftext|>', pad: '<|endoftext|>' });
  const clipConfig: ClipTextConfig = {
    vocab_size: clip.vocabSize, hidden_size: dit.text_states_dim_2, intermediate_size: 2 * dit.text_states_dim_2, num_hidden_layers: 2,
    num_attention_heads: 2, max_position_embeddings: 77, layer_norm_eps: 1e-5, eos_token_id: 2,
  };
  const seed = BUILTIN_TEXT_ENCODER_SEED;
  return new I2vPromptEncoder({
    llava: new LlavaEncoder(llavaConfig, randomWeights(llavaProgram(), 'LlavaForConditionalGeneration', llavaModuleConfig(llavaConfig), seed), session),
    llavaTokenizer: llama.tokenizer,
    clip: new ClipTextEncoder(clipConfig, randomWeights(clipTextProgram(), 'CLIPTextModel', { ...clipConfig }, seed), session),
    clipTokenizer: clip.tokenizer,
    template: templateFor(llama.tokenizer, VIDEO_I2V_TEMPLATE.text),
  }, { textLen: 64, ...opts });
}
