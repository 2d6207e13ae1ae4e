/**
 * Upstream's I2V template constants (crop_start 103, the blank line's id 271, the <image> token
 * at 5) hold for the template text Kiln carries, under Llama-3's real vocabulary: counted with
 * llama3-tokenizer-js (its BPE data baked in), with <image> as the one added token LLaVA's
 * tokenizer splits the text at.
 */
import llama3Tokenizer from 'llama3-tokenizer-js';
import { describe, expect, it } from 'vitest';
import { applyTemplate, VIDEO_I2V_TEMPLATE } from '../../../models/i2v/prompt_encoder.ts';

const BOS = 128_000;
const IMAGE = 128_257;
const ids = (text: string): number[] => {
  const [before, after] = text.split('<image>');
  const plain = (s: string) => llama3Tokenizer.encode(s, { bos: false, eos: false });
  return [BOS, ...plain(before), IMAGE, ...plain(after)];
};

describe("the video-i2v template under Llama-3's vocabulary", () => {
  it('has 103 tokens before the prompt, <image> at 5 after a blank line (271)', () => {
    const t = VIDEO_I2V_TEMPLATE.text;
    const prefix = ids(t.slice(0, t.indexOf('{}')));
    expect(prefix.length).toBe(VIDEO_I2V_TEMPLATE.cropStart);
    expect(prefix[4]).toBe(VIDEO_I2V_TEMPLATE.doubleReturnTokenId);
    expect(prefix[5]).toBe(IMAGE);
  });

  it('ends with <|eot_id|>, the assistant header and its blank line: four blank lines in all', () => {
    const all = ids(applyTemplate(VIDEO_I2V_TEMPLATE, 'A kite flies over the sea.'));
    expect(all.slice(-5)).toEqual([128_009, 128_006, llama3Tokenizer.encode('assistant', { bos: false, eos: false })[0], 128_007, 271]);
    expect(all.filter((x) => x === 271)).toHaveLength(4);
  });
});
