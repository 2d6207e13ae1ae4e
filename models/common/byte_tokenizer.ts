/**
 * A byte-level BPE tokenizer small enough to build in code: one token per byte (in GPT-2's
 * byte-to-character alphabet, as Llama-3's and CLIP's tokenizers use), one merge for a blank
 * line, and the special tokens a model needs. The built-in tiny text encoders use it, so that
 * `kiln i2v --prompt TEXT` runs the whole prompt path without a downloaded vocabulary; it goes
 * through the same tokenizer library as real checkpoints' tokenizer.json.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { PromptTokenizer } from './prompt_tokenizer.ts';

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map from U+0100 up. */
export function byteAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

export interface ByteTokenizerSpec {
  /** Special tokens, numbered after the bytes and the blank-line merge, in this order. */
  readonly specials: readonly string[];
  /** Put before every text (e.g. Llama's <|begin_of_text|>), and after it (CLIP's end-of-text). */
  readonly bos?: string;
  readonly eos?: string;
  readonly pad: string;
}

/** The tokenizer.json object of a byte-level tokenizer per `spec`. */
export function byteTokenizerJson(spec: ByteTokenizerSpec): Record<string, unknown> {
  const alphabet = byteAlphabet();
  const vocab: Record<string, number> = {};
  alphabet.forEach((ch, i) => { vocab[ch] = i; });
  const newline = alphabet[10];
  vocab[newline + newline] = 256;
  const specialId = (t: string) => 257 + spec.specials.indexOf(t);
  const added = spec.specials.map((content) => ({ id: specialId(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const single: unknown[] = [];
  if (spec.bos) single.push({ SpecialToken: { id: spec.bos, type_id: 0 } });
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (spec.eos) single.push({ SpecialToken: { id: spec.eos, type_id: 0 } });
  const specialTokens: Record<string, unknown> = {};
  for (const t of [spec.bos, spec.eos].filter((x): x is string => x !== undefined)) specialTokens[t] = { id: t, ids: [specialId(t)], tokens: [t] };
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    post_processor: { type: 'TemplateProcessing', single, pair: single, special_tokens: specialTokens },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [`${newline} ${newline}`] },
  };
}

/** The tokenizer itself, and its vocabulary size (bytes, the merge, the specials). */
export function byteTokenizer(spec: ByteTokenizerSpec): { tokenizer: PromptTokenizer; vocabSize: number } {
  for (const t of [spec.bos, spec.eos, spec.pad]) if (t !== undefined && !spec.specials.includes(t)) throw new RangeError(`${t} must be among the special tokens`);
  const config = { pad_token: spec.pad, bos_token: spec.bos ?? null, eos_token: spec.eos ?? null };
  const tokenizer = new PromptTokenizer(new Tokenizer(byteTokenizerJson(spec), config), config, 'the built-in byte tokenizer');
  return { tokenizer, vocabSize: 257 + spec.specials.length };
}
