/**
 * `kiln i2v`: mistakes reported before any work (usage, prompt files, configs), and two whole
 * runs on WebGPU — a PNG in, a video out: one with a transformer checkpoint, its config file and
 * an encoded prompt file, all made here, so every file format the command reads is exercised;
 * one with a text prompt through the built-in text encoders. (Text encoder folders are read in
 * test/models/i2v/prompt_encoder.test.ts.)
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { randomDitWeights } from '../../../models/hunyuan_dit/random_weights.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { readMedia } from '../../../runtime/media/index.ts';
import { openSafetensors, writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { kiln, tempFolders } from './vae_helpers.ts';

const device = await deviceOrUndefined();
const dirs = tempFolders();
afterAll(async () => {
  dirs.cleanup();
  if (device) await releaseDevice();
});

async function pngImage(dir: string, width = 60, height = 40): Promise<string> {
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37) % 256;
  const path = join(dir, 'still.png');
  await sharp(px, { raw: { width, height, channels: 3 } }).png().toFile(path);
  return path;
}

/** An encoded prompt for the tiny transformer (text dims 32 and 24). */
function promptFile(dir: string, negative: boolean): string {
  const path = join(dir, 'prompt.safetensors');
  const t = (shape: number[], v: (i: number) => number) => ({ dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => v(i)) });
  const one = {
    prompt_embeds: t([1, 6, 32], (i) => Math.sin(i)), prompt_mask: { dtype: 'I64' as const, shape: [1, 6], data: BigInt64Array.from([1n, 1n, 1n, 1n, 0n, 0n]) },
    prompt_embeds_2: t([1, 24], (i) => Math.cos(i)),
  };
  writeSafetensors(path, negative ? { ...one, negative_prompt_embeds: one.prompt_embeds, negative_prompt_mask: one.prompt_mask, negative_prompt_embeds_2: one.prompt_embeds_2 } : one);
  return path;
}

describe('kiln i2v: mistakes', () => {
  it('names what is wrong with the command line', async () => {
    const dir = dirs.make();
    const image = await pngImage(dir);
    const cases: [string[], RegExp][] = [
      [[], /takes one image/],
      [[image, '--resolution', '480p'], /--resolution 480p: expected one of 360p, 540p, 720p/],
      [[image, '--frames', '8'], /--frames 8: the video length must be 4k \+ 1/],
      [[image, '--dit-config', join(dir, 'c.json')], /--dit-config needs --dit/],
      [[image, '--dit', join(dir, 'w.safetensors')], /a transformer checkpoint needs its text encoders .* or an encoded prompt \(--prompt-embeds FILE\)/],
      [[image, '--text-encoder', dir], /--text-encoder \(LLaVA\) and --text-encoder-2 \(CLIP\) go together/],
      [[image, '--text-encoder', dir, '--text-encoder-2', dir], /--text-encoder needs --prompt TEXT/],
      [[image, '--prompt-embeds', join(dir, 'p.safetensors'), '--prompt', 'a cat'], /--prompt-embeds is the prompt already encoded: it replaces --prompt/],
      [[image, '--save-prompt-embeds', join(dir, 'p.pt')], /--save-prompt-embeds .*p\.pt: the file is written as safetensors/],
      [[image, '--lora-scale', '0.5'], /--lora-scale needs --lora FILE/],
      [[image, '--prompt-embeds', join(dir, 'p.safetensors'), '--save-prompt-embeds', join(dir, 'q.safetensors')], /with --prompt-embeds there is nothing new to save/],
      [[image, '--backend', 'cuda'], /--backend cuda: expected webgpu or interp/],
      [[image, '--devices', '3'], /--devices 3: 3 devices cannot share 2 attention heads evenly; use 1, 2 devices/],
      [[image, '--gpus', '17:00.0'], /--gpus 17:00\.0: '17:00\.0' is not a PCI address/],
    ];
    for (const [args, message] of cases) {
      const r = await kiln('i2v', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
  });

  it('says which prompt tensors are missing, and that guidance needs the negative prompt', async () => {
    const dir = dirs.make();
    const image = await pngImage(dir);
    const partial = join(dir, 'partial.safetensors');
    writeSafetensors(partial, { prompt_embeds: { dtype: 'F32', shape: [1, 2, 32], data: new Float32Array(64) } });
    let r = await kiln('i2v', image, '--prompt', partial);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--prompt is the prompt's text; for an encoded prompt file use --prompt-embeds/);
    r = await kiln('i2v', image, '--prompt-embeds', partial);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/has prompt_embeds but not prompt_mask, prompt_embeds_2/);
    r = await kiln('i2v', image, '--prompt-embeds', promptFile(dir, false), '--guidance-scale', '5');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/needs negative_prompt_embeds, negative_prompt_mask and negative_prompt_embeds_2/);
  });

  it('names the LoRA weight that fits no module of the transformer', async () => {
    const dir = dirs.make();
    const image = await pngImage(dir);
    const lora = join(dir, 'lora.safetensors');
    const one = { dtype: 'F32' as const, shape: [4, 2], data: new Float32Array(8) };
    writeSafetensors(lora, { 'Hunyuan_video_I2V_lora_double_blocks_7_img_mlp_fc2.lora_up.weight': one, 'Hunyuan_video_I2V_lora_double_blocks_7_img_mlp_fc2.lora_down.weight': one });
    const r = await kiln('i2v', image, '--lora', lora, '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--lora .*lora\.safetensors: .*names double_blocks_7_img_mlp_fc2, which is no module with a weight in the transformer/);
  });

  it('refuses a transformer config Kiln does not build, naming the setting', async () => {
    const dir = dirs.make();
    const image = await pngImage(dir);
    const config = join(dir, 'dit.json');
    writeFileSync(config, JSON.stringify({ hidden_size: 64, heads_num: 2, rope_dim_list: [8, 12, 12], text_projection: 'linear' }));
    const weights = join(dir, 'dit.safetensors');
    writeSafetensors(weights, { x: { dtype: 'F32', shape: [1], data: new Float32Array(1) } });
    const r = await kiln('i2v', image, '--dit', weights, '--dit-config', config, '--prompt-embeds', promptFile(dir, false));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--dit-config .*text_projection "linear" is not supported/);
  });
});

describe.skipIf(!device)(device ? 'kiln i2v on WebGPU' : `kiln i2v on WebGPU — ${NO_ADAPTER}`, () => {
  it('turns a PNG into a video with a transformer checkpoint, its config, a LoRA and an encoded prompt', async () => {
    const dir = dirs.make();
    const image = await pngImage(dir);
    const weights = join(dir, 'mp_rank_00_model_states.safetensors');
    // Keyed under "module." as HunyuanVideo's checkpoint keeps its state dict.
    writeSafetensors(weights, Object.fromEntries([...randomDitWeights()].map(([k, v]) => [`module.${k}`, v])));
    const config = join(dir, 'dit.json');
    writeFileSync(config, JSON.stringify({
      args: { i2v_condition_type: 'token_replace', text_states_dim: 32, text_states_dim_2: 24 }, in_channels: 4, hidden_size: 64, heads_num: 2,
      mm_double_blocks_depth: 1, mm_single_blocks_depth: 1, rope_dim_list: [8, 12, 12], guidance_embed: true,
    }));
    const out = join(dir, 'frames/');
    // A LoRA on two of its projections (rank 2), as kohya's trainer names them.
    const lora = join(dir, 'effect_kohaya_weights.safetensors');
    const t = (shape: number[]) => ({ dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => Math.sin(i) * 0.1) });
    writeSafetensors(lora, {
      'Hunyuan_video_I2V_lora_double_blocks_0_img_attn_qkv.lora_up.weight': t([192, 2]), 'Hunyuan_video_I2V_lora_double_blocks_0_img_attn_qkv.lora_down.weight': t([2, 64]),
      'Hunyuan_video_I2V_lora_single_blocks_0_linear2.lora_up.weight': t([64, 2]), 'Hunyuan_video_I2V_lora_single_blocks_0_linear2.lora_down.weight': t([2, 320]),
    });
    const r = await kiln('i2v', image, '--dit', weights, '--dit-config', config, '--prompt-embeds', promptFile(dir, true), '--guidance-scale', '3',
      '--lora', lora, '--lora-scale', '0.8', '--frames', '5', '--steps', '1', '--out', out, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/with LoRA .*effect_kohaya_weights\.safetensors × 0\.8 \(2 weights changed\)/);
    // 60x40 is wider than tall: the 360p bucket nearest 2:3 is 384 high, 576 wide.
    expect(r.out).toContain('5 frames of 576x384 (the 360p bucket), 1 step');
    expect(existsSync(out)).toBe(true);
    const video = await readMedia(out);
    expect([video.count, video.width, video.height]).toEqual([5, 576, 384]);
  }, 600_000);

  it('runs the transformer on two devices by sequence parallelism: the same video to a unit of rounding', async () => {
    const dir = dirs.make();
    const image = await pngImage(dir);
    const [one, two] = [join(dir, 'one/'), join(dir, 'two/')];
    const common = ['--frames', '5', '--steps', '1', '--quiet'];
    const r1 = await kiln('i2v', image, '--out', one, ...common);
    expect(r1.code, r1.err).toBe(0);
    const r2 = await kiln('i2v', image, '--out', two, '--devices', '2', ...common);
    expect(r2.code, r2.err).toBe(0);
    expect(r2.out).toMatch(/transformer: the built-in tiny transformer \(random, untrained\), on 2 devices \(sequence parallel\)/);
    const [a, b] = [await readMedia(one), await readMedia(two)];
    expect([b.count, b.width, b.height]).toEqual([a.count, a.width, a.height]);
    let max = 0;
    for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
    expect(max).toBeLessThanOrEqual(1);
  }, 600_000);

  it('encodes a text prompt with the built-in tiny text encoders, the negative prompt too under guidance, and saves the encodings for reuse', async () => {
    const dir = dirs.make();
    const image = await pngImage(dir, 40, 60);
    const [out, again, saved] = [join(dir, 'clip.gif'), join(dir, 'again.gif'), join(dir, 'kite.safetensors')];
    const common = ['--guidance-scale', '2', '--frames', '5', '--steps', '1', '--quiet'];
    const r = await kiln('i2v', image, '--prompt', 'a red kite over the sea', '--save-prompt-embeds', saved, '--out', out, ...common);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('prompt: "a red kite over the sea" (negative: "deformation, a poor composition and deformed video, bad teeth, bad eyes, bad limbs"), encoded by the built-in tiny text encoders');
    const video = await readMedia(out);
    expect([video.count, video.width, video.height]).toEqual([5, 384, 576]);
    const file = openSafetensors(saved);
    try {
      expect(file.metadata).toMatchObject({ prompt: 'a red kite over the sea', negative_prompt: expect.stringMatching(/^deformation/) });
      expect(file.entry('prompt_embeds').shape).toEqual([1, 64, 32]);
      expect(file.entry('negative_prompt_embeds_2').shape).toEqual([1, 24]);
    } finally {
      file.close();
    }
    // The saved encodings give the same video without the text encoders.
    const r2 = await kiln('i2v', image, '--prompt-embeds', saved, '--out', again, ...common);
    expect(r2.code, r2.err).toBe(0);
    expect(Buffer.compare((await readMedia(again)).data, video.data)).toBe(0);
  }, 600_000);
});
