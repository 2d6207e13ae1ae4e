/**
 * The pipeline's encode_prompt for image-to-video (spec/pipeline.md §5.3, §7): a prompt and
 * the reference image to the transformer's text inputs.
 *
 * - LLaVA reads the prompt in its chat template with the image in place of the template's
 *   <image> token; the states after all but the last `skipLayers` decoder layers are kept.
 * - Of those, the image's states (every `interleave`-th patch) and the prompt's own tokens
 *   (the template's text before it and its closing assistant header cut out) become
 *   `text_states`, with their mask.
 * - CLIP's pooled state of the bare prompt is `text_states_2`.
 *
 * The negative prompt is encoded the same way with a black image of the reference's size.
 */
import type { Frames } from '../../runtime/media/frames.ts';
import type { HostTensor } from '../../runtime/tensor.ts';
import { toFloat64 } from '../../runtime/tensor.ts';
import type { ClipTextEncoder } from '../clip_text/text_encoder.ts';
import type { PromptTokenizer } from '../common/prompt_tokenizer.ts';
import { blackImage, clipImagePixels } from '../llava/image_processor.ts';
import { imagePatches, type LlavaEncoder } from '../llava/llava.ts';
import type { EncodedPrompt } from './pipeline.ts';

export interface LlavaPromptTemplate {
  /** The chat text; `{}` receives the prompt (Python's str.format). */
  readonly text: string;
  /** Tokens before the prompt's own (upstream's crop_start). */
  readonly cropStart: number;
  /** The token of a blank line ("\n\n"); the last one in a prompt ends the assistant header. */
  readonly doubleReturnTokenId: number;
}

/** HunyuanVideo-I2V's `dit-llm-encode-video-i2v`, the template its video prompts use, for the Llama-3 tokenizer. */
export const VIDEO_I2V_TEMPLATE: LlavaPromptTemplate = {
  text: '<|start_header_id|>system<|end_header_id|>\n\n<image>\nDescribe the video by detailing the following aspects according to the reference image: '
    + '1. The main content and theme of the video.'
    + '2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects.'
    + '3. Actions, events, behaviors temporal relationships, physical movement changes of the objects.'
    + '4. background environment, light, style and atmosphere.'
    + '5. camera angles, movements, and transitions used in the video:<|eot_id|>\n\n'
    + '<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>'
    + '<|start_header_id|>assistant<|end_header_id|>\n\n',
  cropStart: 103,
  doubleReturnTokenId: 271,
};

/** Upstream's default negative prompt for image-to-video. */
export const NEGATIVE_PROMPT_I2V = 'deformation, a poor composition and deformed video, bad teeth, bad eyes, bad limbs';

/** The template's chat text for one prompt. */
export const applyTemplate = (t: LlavaPromptTemplate, prompt: string): string => t.text.replace('{}', prompt);

/**
 * A template for another tokenizer (the built-in tiny model's): crop_start and the blank
 * line's token are read from how it tokenizes the template, as upstream's constants were for
 * Llama-3's.
 */
export function templateFor(tokenizer: PromptTokenizer, text: string): LlavaPromptTemplate {
  const at = text.indexOf('{}');
  if (at < 0) throw new RangeError('a prompt template needs a {} for the prompt');
  const cropStart = tokenizer.ids(text.slice(0, at), Number.MAX_SAFE_INTEGER).length;
  const blank = tokenizer.tokenizer.encode('\n\n', { add_special_tokens: false }).ids;
  if (blank.length !== 1) throw new RangeError(`this tokenizer splits a blank line into ${blank.length} tokens; the template's crop needs one`);
  return { text, cropStart, doubleReturnTokenId: blank[0] };
}

export interface CropLayout {
  readonly template: LlavaPromptTemplate;
  /** Where the image's states start in the merged sequence, and how many there are. */
  readonly imagePosition: number;
  readonly patches: number;
  /** Keep every `interleave`-th image state (4 for token_replace, 2 for latent_concat); 0 or >= 6 keeps all. */
  readonly interleave: number;
}

/**
 * Upstream's crop of LLaVA's states (§7.3 step 4) for one prompt [1, M, D] of L tokens: the
 * image's states, then the prompt's tokens up to its <|eot_id|> and what follows the assistant
 * header (its blank line and the padding), with the prompt's mask. k is the last blank line's
 * position; when only three blank lines are found (a prompt cut by truncation) k is L.
 */
export function cropPromptStates(hidden: HostTensor, inputIds: HostTensor, mask: HostTensor, layout: CropLayout): { states: HostTensor; mask: HostTensor } {
  const [b, m, d] = hidden.shape;
  const l = inputIds.shape[1];
  if (b !== 1) throw new RangeError(`the crop takes one prompt at a time (as upstream encodes them), got ${b}`);
  const { cropStart, doubleReturnTokenId } = layout.template;
  const ids = Array.from(inputIds.data as ArrayLike<number | bigint>, Number);
  const blanks = ids.flatMap((id, i) => (id === doubleReturnTokenId ? [i] : []));
  const k = blanks.length === 3 ? l : blanks.at(-1);
  if (k === undefined || k - 4 < cropStart) {
    throw new RangeError(`the prompt's tokens do not have the template's layout (blank lines at ${JSON.stringify(blanks)}, the prompt starting at ${cropStart}); was it tokenized with this template?`);
  }
  const p = layout.patches;
  const textRanges: [number, number][] = [[cropStart - 1 + p, k - 5 + p], [k - 1 + p, m]];
  const step = layout.interleave > 0 && layout.interleave < 6 ? layout.interleave : 1;
  const imageRows = Array.from({ length: Math.ceil(p / step) }, (_, i) => layout.imagePosition + i * step);
  const rows = [...imageRows, ...textRanges.flatMap(([s, e]) => Array.from({ length: e - s }, (_, i) => s + i))];
  const src = toFloat64(hidden);
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => { for (let j = 0; j < d; j++) out[i * d + j] = src[r * d + j]; });
  const maskValues = Array.from(mask.data as ArrayLike<number | bigint>, Number);
  const textMask = [...maskValues.slice(cropStart, k - 4), ...maskValues.slice(k)];
  const fullMask = Int32Array.from([...imageRows.map(() => 1), ...textMask]);
  return { states: { dtype: 'F32', shape: [1, rows.length, d], data: out }, mask: { dtype: 'I32', shape: [1, fullMask.length], data: fullMask } };
}

export interface I2vPromptEncoderParts {
  readonly llava: LlavaEncoder;
  readonly llavaTokenizer: PromptTokenizer;
  readonly clip: ClipTextEncoder;
  readonly clipTokenizer: PromptTokenizer;
  readonly template: LlavaPromptTemplate;
}

export interface I2vPromptEncoderOptions {
  /** Prompt tokens kept after the template (upstream's text_len, 256). */
  readonly textLen?: number;
  /** Decoder layers not run at the end (upstream's hidden_state_skip_layer, 2). */
  readonly skipLayers?: number;
  /** Image states kept: every interleave-th (4 for token_replace, 2 for latent_concat). */
  readonly interleave?: number;
  /** CLIP's token count (77). */
  readonly clipMaxLength?: number;
  /** Told when a prompt is longer than an encoder reads (upstream truncates silently). */
  readonly onTruncate?: (encoder: 'LLaVA' | 'CLIP', prompt: string, dropped: number) => void;
}

export class I2vPromptEncoder {
  constructor(readonly parts: I2vPromptEncoderParts, readonly opts: I2vPromptEncoderOptions = {}) {}

  /** One prompt with its reference image. */
  async encode(prompt: string, image: Frames): Promise<EncodedPrompt> {
    return (await this.encodeAll([{ text: prompt, image }]))[0];
  }

  /** The negative prompt, with a black image the size of the reference (upstream's uncond image). */
  async encodeNegative(negative: string, image: Frames): Promise<EncodedPrompt> {
    return (await this.encodeAll([{ text: negative, image: blackImage(image) }]))[0];
  }

  /**
   * The prompt and, under guidance, the negative prompt with a black image. Each is encoded on
   * its own, as upstream does; LLaVA reads both before CLIP does, so each model's weights go to
   * the device once.
   */
  encodePair(prompt: string, negative: string | undefined, image: Frames): Promise<EncodedPrompt[]> {
    const jobs = [{ text: prompt, image }];
    if (negative !== undefined) jobs.push({ text: negative, image: blackImage(image) });
    return this.encodeAll(jobs);
  }

  private async encodeAll(jobs: readonly { text: string; image: Frames }[]): Promise<EncodedPrompt[]> {
    const { llava, llavaTokenizer, clip, clipTokenizer, template } = this.parts;
    const textLen = this.opts.textLen ?? 256;
    const after = llava.config.text.num_hidden_layers - (this.opts.skipLayers ?? 2);
    const text: { states: HostTensor; mask: HostTensor }[] = [];
    for (const job of jobs) {
      const tokens = llavaTokenizer.encode([applyTemplate(template, job.text)], textLen + template.cropStart);
      if (tokens.dropped[0] > 0) this.opts.onTruncate?.('LLaVA', job.text, tokens.dropped[0]);
      const pixels = clipImagePixels(job.image, llava.config.vision.image_size);
      const encoded = await llava.hiddenState(tokens.inputIds, tokens.attentionMask, pixels, after);
      text.push(cropPromptStates(encoded.hiddenState, tokens.inputIds, tokens.attentionMask, {
        template, imagePosition: encoded.imagePosition, patches: imagePatches(llava.config), interleave: this.opts.interleave ?? 4,
      }));
    }
    const out: EncodedPrompt[] = [];
    for (const [i, job] of jobs.entries()) {
      const clipTokens = clipTokenizer.encode([job.text], this.opts.clipMaxLength ?? 77);
      if (clipTokens.dropped[0] > 0) this.opts.onTruncate?.('CLIP', job.text, clipTokens.dropped[0]);
      const { pooled } = await clip.encode(clipTokens.inputIds, clipTokens.attentionMask);
      out.push({ ...text[i], pooled });
    }
    return out;
  }
}
