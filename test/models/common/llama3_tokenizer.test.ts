/**
 * PromptTokenizer on Llama-3's real vocabulary: a tokenizer.json in the layout of Meta's
 * (byte-level BPE, ignore_merges, its split pattern, <|begin_of_text|> before every text), built
 * from the vocabulary and merges llama3-tokenizer-js bakes in, plus LLaVA's <image> and <pad>,
 * read by @huggingface/tokenizers. llama3-tokenizer-js is the oracle: the same ids for upstream's
 * template, contractions, numbers, blank lines, accents, CJK and emoji.
 */
import llama3Tokenizer from 'llama3-tokenizer-js';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { PromptTokenizer } from '../../../models/common/prompt_tokenizer.ts';
import { applyTemplate, VIDEO_I2V_TEMPLATE } from '../../../models/i2v/prompt_encoder.ts';

const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const IMAGE = 128_257;
const PAD = 128_258;

function llavaLlama3Tokenizer(): PromptTokenizer {
  const byId = llama3Tokenizer.vocabById;
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 128_000; i++) vocab[byId[i]] = i;
  const merges = [...llama3Tokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([m]) => m);
  const token = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const added = [...Array.from({ length: 256 }, (_, i) => token(128_000 + i, byId[128_000 + i])), token(IMAGE, '<image>'), token(PAD, '<pad>')];
  const json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ] },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [], special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128_000], tokens: ['<|begin_of_text|>'] } } },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges },
  };
  const config = { bos_token: '<|begin_of_text|>', pad_token: '<pad>' };
  return new PromptTokenizer(new Tokenizer(json, config), config, 'Llama-3 (from llama3-tokenizer-js)');
}

/** The oracle's ids, <image> being LLaVA's added token. */
function oracle(text: string): number[] {
  const parts = text.split('<image>');
  return [128_000, ...parts.flatMap((p, i) => [...(i > 0 ? [IMAGE] : []), ...llama3Tokenizer.encode(p, { bos: false, eos: false })])];
}

describe("PromptTokenizer with Llama-3's vocabulary", () => {
  const tok = llavaLlama3Tokenizer();

  it.each([
    ['the I2V template with a prompt', applyTemplate(VIDEO_I2V_TEMPLATE, 'A kite flies over the sea at dusk, waves rolling in.')],
    ['contractions and numbers', "I'll say it's 1234567 o'clock, we're OK"],
    ['blank lines and runs of spaces', 'one\n\ntwo   three \n \n\tfour  '],
    ['accents, CJK and emoji', 'Ünïcödé café — 東京の夜 🙂🚀'],
  ])('gives the oracle\'s ids: %s', (_, text) => {
    expect(tok.ids(text, 10_000)).toEqual(oracle(text));
  });

  it('pads with <pad> and truncates keeping <|begin_of_text|> (it has no end token)', () => {
    const { inputIds, attentionMask } = tok.encode(['Hello world'], 6);
    expect([...inputIds.data]).toEqual([...oracle('Hello world'), PAD, PAD, PAD]);
    expect([...attentionMask.data]).toEqual([1, 1, 1, 0, 0, 0]);
    expect(tok.ids('one two three four five', 3)).toEqual(oracle('one two three four five').slice(0, 3));
  });
});
