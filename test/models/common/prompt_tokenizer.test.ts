/**
 * PromptTokenizer over a CLIP-style tokenizer folder (the layout of openai/clip-vit-large-patch14's
 * tokenizer.json: NFC + whitespace + lowercase normaliser, CLIP's split pattern, byte-level BPE
 * with an end-of-word suffix, start/end tokens around the text) with a vocabulary of a few
 * words, so that every expected id below can be worked out by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PromptTokenizer, TokenizerFilesError } from '../../../models/common/prompt_tokenizer.ts';

const BOS = 28;
const EOS = 29;
const VOCAB: Record<string, number> = {
  'a': 0, 'c': 1, 'd': 2, 'g': 3, 'o': 4, 't': 5, ',': 6, '!': 7,
  'a</w>': 8, 'c</w>': 9, 'd</w>': 10, 'g</w>': 11, 'o</w>': 12, 't</w>': 13, ',</w>': 14, '!</w>': 15,
  'ca': 16, 'cat</w>': 17, 'do': 18, 'dog</w>': 19,
  '<|startoftext|>': BOS, '<|endoftext|>': EOS,
};
const [A, CAT, COMMA, DOG, BANG] = [8, 17, 14, 19, 15];

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
const TOKENIZER_JSON = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [special(BOS, '<|startoftext|>'), special(EOS, '<|endoftext|>')],
  normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
  pre_tokenizer: {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" }, behavior: 'Removed', invert: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  },
  post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', EOS], cls: ['<|startoftext|>', BOS], trim_offsets: false, add_prefix_space: false },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false,
    vocab: VOCAB, merges: ['c a', 'ca t</w>', 'd o', 'do g</w>'],
  },
};
const TOKENIZER_CONFIG = {
  bos_token: { content: '<|startoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
  eos_token: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
  unk_token: { content: '<|endoftext|>', lstrip: false, normalized: true, rstrip: false, single_word: false },
  pad_token: '<|endoftext|>', do_lower_case: true, model_max_length: 77, tokenizer_class: 'CLIPTokenizer',
};

const dirs: string[] = [];
function folder(json: unknown, config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-tokenizer-'));
  dirs.push(dir);
  if (json !== undefined) writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  if (config !== undefined) writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('PromptTokenizer on a CLIP-style tokenizer', () => {
  const tok = PromptTokenizer.fromFolder(folder(TOKENIZER_JSON, TOKENIZER_CONFIG));

  it('lowercases, splits words and punctuation, merges by BPE, and wraps the text in start and end tokens', () => {
    expect(tok.ids('A  cat, a DOG!', 77)).toEqual([BOS, A, CAT, COMMA, A, DOG, BANG, EOS]);
  });

  it('pads on the right with the pad token to max_length, with mask 0 there', () => {
    const { inputIds, attentionMask } = tok.encode(['a cat', 'dog!'], 6);
    expect(inputIds.shape).toEqual([2, 6]);
    expect([...inputIds.data]).toEqual([BOS, A, CAT, EOS, EOS, EOS, BOS, DOG, BANG, EOS, EOS, EOS]);
    expect([...attentionMask.data]).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0]);
  });

  it('truncates the text, never the start and end tokens, as transformers does', () => {
    expect(tok.ids('a cat, a dog!', 5)).toEqual([BOS, A, CAT, COMMA, EOS]);
    expect(() => tok.ids('a cat', 1)).toThrow(/leaves no room for the 2 special tokens/);
  });

  it('says which file is missing or unusable', () => {
    expect(() => PromptTokenizer.fromFolder(folder(TOKENIZER_JSON, undefined))).toThrow(TokenizerFilesError);
    expect(() => PromptTokenizer.fromFolder(folder(TOKENIZER_JSON, undefined))).toThrow(/tokenizer_config\.json.*tokenizer\.json and tokenizer_config\.json/s);
    expect(() => PromptTokenizer.fromFolder(folder(TOKENIZER_JSON, { ...TOKENIZER_CONFIG, pad_token: '<pad>' }))).toThrow(/names no pad_token the vocabulary has/);
  });
});
