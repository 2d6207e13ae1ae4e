/**
 * The I2V prompt encoder end to end on the interpreter: the built-in tiny encoders give the
 * transformer's text shapes (image states interleaved, the prompt's tokens, their mask), and
 * text encoder folders in transformers' layout (config.json, safetensors, tokenizer.json)
 * read back to exactly the encoder built from the same parts in memory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bindModule } from '../../../compiler/bind.ts';
import { ClipTextEncoder, clipTextProgram, type ClipTextConfig } from '../../../models/clip_text/text_encoder.ts';
import { byteTokenizer, byteTokenizerJson } from '../../../models/common/byte_tokenizer.ts';
import { randomTensor } from '../../../models/common/random_tensors.ts';
import { TINY_DIT_CONFIG } from '../../../models/hunyuan_dit/random_weights.ts';
import { builtinPromptEncoder } from '../../../models/i2v/builtin_text_encoders.ts';
import { I2vPromptEncoder, templateFor, VIDEO_I2V_TEMPLATE } from '../../../models/i2v/prompt_encoder.ts';
import { openPromptEncoder, TextEncoderFolderError } from '../../../models/i2v/text_encoder_folders.ts';
import { LlavaEncoder, llavaModuleConfig, llavaProgram, type LlavaConfig } from '../../../models/llava/llava.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const image = { width: 30, height: 20, count: 1, data: Uint8Array.from({ length: 1800 }, (_, i) => (i * 37) % 256) };
const interp = { backend: 'interp' as const };

describe('the built-in tiny prompt encoder', () => {
  it("gives the tiny transformer's text inputs: 4 image states (16 patches, every 4th), 60 prompt tokens (64 less the assistant header), CLIP's pooled state", async () => {
    const enc = builtinPromptEncoder(TINY_DIT_CONFIG, interp, { interleave: 4 });
    const e = await enc.encode('a cat', image);
    expect(e.states.shape).toEqual([1, 4 + 60, TINY_DIT_CONFIG.text_states_dim]);
    expect(e.pooled.shape).toEqual([1, TINY_DIT_CONFIG.text_states_dim_2]);
    // The image states, the 5 bytes of "a cat", then the kept blank line; padding after.
    expect([...e.mask.data].slice(0, 11)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(Array.from(e.mask.data, Number).reduce((a, b) => a + b, 0)).toBe(10);
    const neg = await enc.encodeNegative('blurry', image);
    expect(neg.states.shape).toEqual(e.states.shape);
    expect([...neg.states.data]).not.toEqual([...e.states.data]);
    // A prompt longer than the encoders read is cut, and the caller told by how much.
    const told: string[] = [];
    const long = 'x'.repeat(100);
    await builtinPromptEncoder(TINY_DIT_CONFIG, interp, { interleave: 4, onTruncate: (w, _t, n) => told.push(`${w} ${n}`) }).encode(long, image);
    // LLaVA reads the template's opening and 64 tokens more: of the prompt's 100 bytes and the 5 closing
    // tokens, the last 41 go. CLIP reads 77 with its start and end tokens: 75 bytes stay.
    expect(told).toEqual(['LLaVA 41', 'CLIP 25']);
    // Both at once (LLaVA for both, then CLIP for both): the same encodings.
    const [p, n] = await enc.encodePair('a cat', 'blurry', image);
    for (const [x, y] of [[p, e], [n, neg]] as const) {
      expect([...x.states.data]).toEqual([...y.states.data]);
      expect([...x.pooled.data]).toEqual([...y.pooled.data]);
    }
  }, 60_000);
});

describe('text encoder folders', () => {
  const specials = ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>', '<image>', '<pad>', 'system', 'user', 'assistant'];
  const llamaSpec = { specials, bos: '<|begin_of_text|>', pad: '<pad>' };
  const clipSpec = { specials: ['<|startoftext|>', '<|endoftext|>'], bos: '<|startoftext|>', eos: '<|endoftext|>', pad: '<|endoftext|>' };
  const llavaConfig: LlavaConfig = {
    vision: { hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, image_size: 14, patch_size: 7, layer_norm_eps: 1e-5 },
    text: { vocab_size: 266, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1, rms_norm_eps: 1e-5, rope_theta: 500_000 },
    image_token_index: 261, pad_token_id: 262, vision_feature_layer: -2,
  };
  const clipConfig: ClipTextConfig = { vocab_size: 259, hidden_size: 24, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 77, layer_norm_eps: 1e-5, eos_token_id: 2 };
  const weightsOf = (program: ReturnType<typeof llavaProgram>, module: string, config: Record<string, unknown>) =>
    new Map(bindModule(program, module, config).weights.map((w) => [w.key, randomTensor(w.key, w.shape, 7)]));
  const llavaWeights = weightsOf(llavaProgram(), 'LlavaForConditionalGeneration', llavaModuleConfig(llavaConfig));
  const clipWeights = weightsOf(clipTextProgram(), 'CLIPTextModel', { ...clipConfig });

  function folders(llavaJson: unknown = {
    architectures: ['LlavaForConditionalGeneration'], image_token_index: 261, pad_token_id: 262, vision_feature_layer: -2,
    vision_config: llavaConfig.vision, text_config: llavaConfig.text,
  }): [string, string] {
    const root = mkdtempSync(join(tmpdir(), 'kiln-text-encoders-'));
    dirs.push(root);
    const [l, c] = [join(root, 'text_encoder_i2v'), join(root, 'text_encoder_2')];
    for (const [dir, json, spec, weights] of [[l, llavaJson, llamaSpec, llavaWeights], [c, { architectures: ['CLIPModel'], text_config: clipConfig }, clipSpec, clipWeights]] as const) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(json));
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteTokenizerJson(spec)));
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ pad_token: spec.pad, bos_token: spec.bos }));
      writeSafetensors(join(dir, 'model.safetensors'), Object.fromEntries(weights));
    }
    return [l, c];
  }

  it('read back to the encoder made from the same parts in memory', async () => {
    const [l, c] = folders();
    const llama = byteTokenizer(llamaSpec).tokenizer;
    const template = templateFor(llama, VIDEO_I2V_TEMPLATE.text);
    const { encoder, close } = openPromptEncoder(l, c, interp, { template, textLen: 16 });
    try {
      const direct = new I2vPromptEncoder({
        llava: new LlavaEncoder(llavaConfig, weightsFromMap(llavaWeights), interp), llavaTokenizer: llama,
        clip: new ClipTextEncoder(clipConfig, weightsFromMap(clipWeights), interp), clipTokenizer: byteTokenizer(clipSpec).tokenizer, template,
      }, { textLen: 16 });
      const [a, b] = [await encoder.encode('two birds', image), await direct.encode('two birds', image)];
      expect([...a.states.data]).toEqual([...b.states.data]);
      expect([...a.mask.data]).toEqual([...b.mask.data]);
      expect([...a.pooled.data]).toEqual([...b.pooled.data]);
    } finally {
      close();
    }
  }, 60_000);

  it("names the file at fault: a config Kiln does not compute, a tokenizer whose <image> is not the config's", () => {
    const [l, c] = folders({ projector_hidden_act: 'relu', vision_config: llavaConfig.vision, text_config: llavaConfig.text });
    expect(() => openPromptEncoder(l, c, interp)).toThrow(/config\.json: projector_hidden_act "relu" is not supported/);
    const [l2, c2] = folders({ image_token_index: 5, pad_token_id: 262, vision_config: llavaConfig.vision, text_config: llavaConfig.text });
    expect(() => openPromptEncoder(l2, c2, interp)).toThrow(TextEncoderFolderError);
    expect(() => openPromptEncoder(l2, c2, interp)).toThrow(/the tokenizer's <image> is 261, but config\.json's image_token_index is 5/);
  });
});
