/**
 * PromptTokenizer: a checkpoint's own tokenizer (its `tokenizer.json` and
 * `tokenizer_config.json`, read by @huggingface/tokenizers) called the way HunyuanVideo calls
 * transformers' tokenizers: `truncation=True, max_length=N, padding="max_length"`, padded on
 * the right, returning ids and an attention mask as i32 tensors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { HostTensor } from '../../runtime/tensor.ts';

export class TokenizerFilesError extends Error {
  override name = 'TokenizerFilesError';
}

export interface TokenizedPrompts {
  /** [prompts, maxLength] */
  readonly inputIds: HostTensor;
  /** [prompts, maxLength]: 1 for real tokens (special ones included), 0 for padding. */
  readonly attentionMask: HostTensor;
  /** Per prompt, the text tokens truncation dropped (0 when it fit). */
  readonly dropped: readonly number[];
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TokenizerFilesError(`cannot read ${path}: ${(e as Error).message}; a tokenizer folder holds tokenizer.json and tokenizer_config.json (as on the Hugging Face Hub)`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerFilesError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A token given as a string or as transformers' AddedToken object ({ content }). */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class PromptTokenizer {
  readonly padId: number;

  constructor(readonly tokenizer: Tokenizer, config: Readonly<Record<string, unknown>>, where: string) {
    const pad = tokenText(config.pad_token);
    const id = pad === undefined ? undefined : tokenizer.token_to_id(pad);
    if (id === undefined) {
      throw new TokenizerFilesError(`${where}: tokenizer_config.json names no pad_token the vocabulary has (got ${JSON.stringify(config.pad_token)}); padding to a fixed length needs one`);
    }
    this.padId = id;
  }

  /** Reads `dir/tokenizer.json` and `dir/tokenizer_config.json`. */
  static fromFolder(dir: string): PromptTokenizer {
    const json = readJson(join(dir, 'tokenizer.json'));
    const config = readJson(join(dir, 'tokenizer_config.json'));
    if (json === null || typeof json !== 'object' || config === null || typeof config !== 'object') {
      throw new TokenizerFilesError(`${dir}: tokenizer.json and tokenizer_config.json must each hold a JSON object`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, config);
    } catch (e) {
      throw new TokenizerFilesError(`${join(dir, 'tokenizer.json')}: not a tokenizer this library reads: ${(e as Error).message}`);
    }
    return new PromptTokenizer(tokenizer, config as Record<string, unknown>, dir);
  }

  /**
   * One prompt's ids with the tokenizer's special tokens, cut to `maxLength` as transformers
   * truncates a single sequence: the text's tokens are dropped from the end, the special
   * tokens the template puts around them are kept.
   */
  ids(prompt: string, maxLength: number): number[] {
    return this.truncated(prompt, maxLength).ids;
  }

  /** `ids`, with how many of the text's tokens were dropped. */
  truncated(prompt: string, maxLength: number): { ids: number[]; dropped: number } {
    const full: number[] = this.tokenizer.encode(prompt).ids;
    if (full.length <= maxLength) return { ids: full, dropped: 0 };
    const text: number[] = this.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
    const start = full.findIndex((_, i) => text.every((t, j) => full[i + j] === t));
    if (start < 0) throw new Error(`tokenizer: the text's tokens of ${JSON.stringify(prompt.slice(0, 40))} do not appear in its encoding with special tokens`);
    const prefix = full.slice(0, start);
    const suffix = full.slice(start + text.length);
    const room = maxLength - prefix.length - suffix.length;
    if (room < 0) throw new RangeError(`max length ${maxLength} leaves no room for the ${prefix.length + suffix.length} special tokens`);
    return { ids: [...prefix, ...text.slice(0, room), ...suffix], dropped: text.length - room };
  }

  /** Prompts to [B, maxLength] ids and mask, padded on the right with the pad token. */
  encode(prompts: readonly string[], maxLength: number): TokenizedPrompts {
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError(`max length must be a positive integer, got ${maxLength}`);
    const ids = new Int32Array(prompts.length * maxLength).fill(this.padId);
    const mask = new Int32Array(prompts.length * maxLength);
    const dropped = prompts.map((p, b) => {
      const t = this.truncated(p, maxLength);
      t.ids.forEach((id, i) => {
        ids[b * maxLength + i] = id;
        mask[b * maxLength + i] = 1;
      });
      return t.dropped;
    });
    const shape = [prompts.length, maxLength];
    return { inputIds: { dtype: 'I32', shape, data: ids }, attentionMask: { dtype: 'I32', shape, data: mask }, dropped };
  }
}
