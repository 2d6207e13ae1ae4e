/**
 * The crop of LLaVA's states into the transformer's text states (models/i2v/prompt_encoder.ts),
 * on a miniature of the template's layout whose positions are worked out by hand from
 * spec/pipeline.md §7.3: every state's value is its merged position.
 */
import { describe, expect, it } from 'vitest';
import { applyTemplate, cropPromptStates, VIDEO_I2V_TEMPLATE, type CropLayout } from '../../../models/i2v/prompt_encoder.ts';

const BLANK = 7;
const IMAGE = 9;
// 0 BOS, 1 blank, 2 <image>, 3 a, 4 b, 5 blank, 6 c, 7 blank | 8..11 the prompt | 12 eot, 13 header, 14 assistant, 15 end header, 16 blank | 17..19 padding
const IDS = [1, BLANK, IMAGE, 3, 4, BLANK, 6, BLANK, 20, 21, 22, 23, 30, 31, 32, 33, BLANK, 0, 0, 0];
const MASK = [...new Array(17).fill(1), 0, 0, 0];
const PATCHES = 4;
const layout: CropLayout = { template: { text: '', cropStart: 8, doubleReturnTokenId: BLANK }, imagePosition: 2, patches: PATCHES, interleave: 2 };

const t = (values: number[], shape: number[]) => ({ dtype: 'I64' as const, shape, data: BigInt64Array.from(values.map(BigInt)) });
const merged = IDS.length - 1 + PATCHES;
const hidden = { dtype: 'F32' as const, shape: [1, merged, 1], data: Float32Array.from({ length: merged }, (_, i) => i) };

describe("the crop of LLaVA's states", () => {
  it('keeps every other image state, the prompt, and the blank line and padding after the assistant header', () => {
    const r = cropPromptStates(hidden, t(IDS, [1, 20]), t(MASK, [1, 20]), layout);
    // Image states 2..5 every 2nd; prompt tokens 8..11 at merged 11..14; tokens 16..19 at merged 19..22.
    expect([...r.states.data]).toEqual([2, 4, 11, 12, 13, 14, 19, 20, 21, 22]);
    expect([...r.mask.data]).toEqual([1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    // Always L − crop_start − 4 text states, whatever the prompt's length.
    expect(r.states.shape).toEqual([1, 2 + 20 - 8 - 4, 1]);
  });

  it('takes the sequence end for k when truncation cut the assistant header (three blank lines)', () => {
    const ids = [...IDS.slice(0, 8), 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 40, 41];
    const r = cropPromptStates(hidden, t(ids, [1, 20]), t(new Array(20).fill(1), [1, 20]), { ...layout, interleave: 0 });
    // k = 20: prompt tokens 8..15 (merged 11..18), then nothing after the header; all four image states.
    expect([...r.states.data]).toEqual([2, 3, 4, 5, 11, 12, 13, 14, 15, 16, 17, 18]);
  });

  it("gives the released layout's [1, 396, D] with 144 + P + 1 valid tokens (spec §7.3): 359 tokens, 576 patches at 5, every 4th kept", () => {
    const P = 20;
    const ids = new Array(359).fill(128_258);
    for (let i = 0; i < 103 + P + 5; i++) ids[i] = 1000 + i;
    ids[5] = 128_257;
    for (const i of [4, 98, 102, 103 + P + 4]) ids[i] = 271; // after the system header, its eot, the user header, the assistant header
    const mask = ids.map((_, i) => (i < 103 + P + 5 ? 1 : 0));
    const merged = 359 - 1 + 576;
    const h = { dtype: 'F32' as const, shape: [1, merged, 1], data: Float32Array.from({ length: merged }, (_, i) => i) };
    const r = cropPromptStates(h, t(ids, [1, 359]), t(mask, [1, 359]), { template: VIDEO_I2V_TEMPLATE, imagePosition: 5, patches: 576, interleave: 4 });
    expect(r.states.shape).toEqual([1, 144 + 252, 1]);
    expect(Array.from(r.mask.data, Number)).toEqual([...new Array(144 + P + 1).fill(1), ...new Array(252 - P - 1).fill(0)]);
    // The first text state is merged position 678 (upstream's text_crop_start), the image's 5, 9, ..., 577.
    expect([r.states.data[0], r.states.data[143], r.states.data[144]]).toEqual([5, 577, 678]);
  });

  it('refuses tokens without the layout', () => {
    expect(() => cropPromptStates(hidden, t(new Array(20).fill(3), [1, 20]), t(MASK, [1, 20]), layout)).toThrow(/do not have the template's layout/);
  });

  it("puts the prompt in upstream's template", () => {
    const text = applyTemplate(VIDEO_I2V_TEMPLATE, 'A cat {walks}');
    expect(text.startsWith('<|start_header_id|>system<|end_header_id|>\n\n<image>\nDescribe the video')).toBe(true);
    expect(text.endsWith('<|start_header_id|>user<|end_header_id|>\n\nA cat {walks}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
  });
});
