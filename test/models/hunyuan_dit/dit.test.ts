/**
 * The denoising transformer (dit.kiln): the public golden on the interpreter and on WebGPU,
 * and properties upstream guarantees that hold for any weights: padded text tokens never reach
 * the output, and with token_replace latent frame 0 is modulated as at t = 0 (so the frame-0
 * tokens do not see the timestep except through attention). Configs the golden does not cover
 * (no token_replace, no guidance embedding, other widths) run on WebGPU against the interpreter.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { formatReport } from '../../../models/golden/run.ts';
import { ndRotaryPosEmbed } from '../../../models/hunyuan_dit/rope.ts';
import { timestepSinusoid } from '../../../models/hunyuan_dit/timestep.ts';
import { randomDitWeights } from '../../../models/hunyuan_dit/random_weights.ts';
import { HunyuanDit, type DitConfig, type DitInputs } from '../../../models/hunyuan_dit/transformer.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { DIT_CASES, goldenPath, runCase, UPSTREAM_DIT_CASES, upstreamPath } from '../golden_cases.ts';

const device = await deviceOrUndefined();
afterAll(async () => {
  if (device) await releaseDevice();
});
const interp = { backend: 'interp' as const };

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
const tensor = (shape: number[], next: () => number, scale = 1): HostTensor => ({
  dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * scale),
});

/** The transformer with the built-in models' random weights (the golden README's init rule) for `config`. */
const randomDit = (config: DitConfig, seed: number): HunyuanDit => new HunyuanDit(config, weightsFromMap(randomDitWeights(config, seed)), interp);

function inputs(config: DitConfig, next: () => number, mask: number[], t = 900): DitInputs {
  const [T, H, W] = [2, 4, 6];
  const head = config.hidden_size / config.heads_num;
  const third = 2 * Math.floor(head / 6);
  const { cos, sin } = ndRotaryPosEmbed({ ropeDimList: [head - 2 * third, third, third], grid: [T, H / 2, W / 2], theta: 256 });
  return {
    x: tensor([1, config.in_channels, T, H, W], next),
    t: { dtype: 'F32', shape: [1], data: Float32Array.of(t) },
    textStates: tensor([1, mask.length, config.text_states_dim], next),
    textMask: { dtype: 'I32', shape: [1, mask.length], data: Int32Array.from(mask) },
    textStates2: tensor([1, config.text_states_dim_2], next),
    freqsCos: cos, freqsSin: sin,
    guidance: { dtype: 'F32', shape: [1], data: Float32Array.of(6000) },
  };
}

const TINY: DitConfig = {
  in_channels: 4, out_channels: 4, hidden_size: 32, heads_num: 2, mm_double_blocks_depth: 1, mm_single_blocks_depth: 1,
  text_states_dim: 12, text_states_dim_2: 8, patch_size: [1, 2, 2], mlp_hidden: 64, guidance_embed: true, token_replace: true, qkv_bias: true, qk_norm: true,
};

describe('HYVideoDiffusionTransformer golden', () => {
  expect(DIT_CASES.length).toBeGreaterThanOrEqual(1);
  for (const f of DIT_CASES) {
    it(`${f} on the interpreter`, async () => {
      const r = await runCase(goldenPath(f));
      expect(r.pass, formatReport(r)).toBe(true);
    });
    it.skipIf(!device)(device ? `${f} on WebGPU` : `${f} on WebGPU — ${NO_ADAPTER}`, async () => {
      const r = await runCase(goldenPath(f), device);
      expect(r.pass, formatReport(r)).toBe(true);
    }, 300_000);
  }
});

describe('HYVideoDiffusionTransformer on configs the public golden does not cover (made from upstream\'s modules)', () => {
  expect(UPSTREAM_DIT_CASES.length).toBeGreaterThanOrEqual(3);
  for (const f of UPSTREAM_DIT_CASES) {
    it(`${f} on the interpreter`, async () => {
      const r = await runCase(upstreamPath(f));
      expect(r.pass, formatReport(r)).toBe(true);
    });
  }
  // Batch 2 with per-row text padding and latent_concat: the WebGPU kernels' other shapes.
  it.skipIf(!device)(device ? 'dit_latent_concat_b2 on WebGPU' : `dit_latent_concat_b2 on WebGPU — ${NO_ADAPTER}`, async () => {
    const r = await runCase(upstreamPath('dit_latent_concat_b2.safetensors'), device);
    expect(r.pass, formatReport(r)).toBe(true);
  }, 300_000);
});

describe('HunyuanDit', () => {
  it('never lets padded text tokens reach the output', async () => {
    const dit = randomDit(TINY, 1);
    const a = inputs(TINY, seeded(2), [1, 1, 1, 0, 0]);
    const text = Float32Array.from(a.textStates.data as Float32Array);
    for (let i = 3 * TINY.text_states_dim; i < text.length; i++) text[i] = text[i] * -7 + 3; // change only the padding
    const y1 = toFloat64(await dit.forward(a));
    const y2 = toFloat64(await dit.forward({ ...a, textStates: { ...a.textStates, data: text } }));
    expect(Math.max(...y1.map((v, i) => Math.abs(v - y2[i])))).toBeLessThan(1e-12);
    // ...while the real text does reach it.
    const y3 = toFloat64(await dit.forward({ ...a, textMask: { dtype: 'I32', shape: [1, 5], data: Int32Array.of(1, 1, 1, 1, 0) } }));
    expect(Math.max(...y1.map((v, i) => Math.abs(v - y3[i])))).toBeGreaterThan(1e-6);
  });

  it('modulates frame 0 with the token_replace vector, the other frames with the timestep\'s', async () => {
    const dit = randomDit(TINY, 3);
    const plain = randomDit({ ...TINY, token_replace: false }, 3);
    const a = inputs(TINY, seeded(4), [1, 1, 1, 1]);
    const y = toFloat64(await dit.forward(a));
    const p = toFloat64(await plain.forward(a));
    // Output [1, 4, T=2, 4, 6]: frame 0 of each channel differs from the plain model's, as do the later frames (through attention).
    const frame = 4 * 6;
    const diff = (t: number) => Math.max(...Array.from({ length: 4 * frame }, (_, i) => Math.floor(i / frame) * 2 * frame + t * frame + (i % frame)).map((j) => Math.abs(y[j] - p[j])));
    expect(diff(0)).toBeGreaterThan(1e-4);
    // At t = 0 the two modulations coincide except for guidance, so a guidance-free model matches the plain one exactly.
    const noGuidance = { ...TINY, guidance_embed: false };
    const at0 = { ...inputs(noGuidance, seeded(4), [1, 1, 1, 1], 0) };
    const q = toFloat64(await randomDit(noGuidance, 5).forward(at0));
    const r = toFloat64(await randomDit({ ...noGuidance, token_replace: false }, 5).forward(at0));
    expect(Math.max(...q.map((v, i) => Math.abs(v - r[i])))).toBeLessThan(1e-12);
  });

  it('makes upstream\'s float32 timestep sinusoid: [cos ; sin] of t·f_j, f_0 = 1', () => {
    const e = timestepSinusoid([0, 2], 8);
    expect(e.shape).toEqual([2, 8]);
    expect(Array.from(e.data as Float32Array).slice(0, 8)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect((e.data as Float32Array)[8]).toBe(Math.fround(Math.cos(2)));
    expect((e.data as Float32Array)[12]).toBe(Math.fround(Math.sin(2)));
  });

  describe.skipIf(!device)(device ? 'on WebGPU, against the interpreter' : `on WebGPU — ${NO_ADAPTER}`, () => {
    for (const [name, config] of [
      ['without token_replace or guidance, wider MLP', { ...TINY, token_replace: false, guidance_embed: false, mlp_hidden: 96 }],
      ['three heads, two blocks each, no qk norm', { ...TINY, hidden_size: 48, heads_num: 3, mm_double_blocks_depth: 2, mm_single_blocks_depth: 2, qk_norm: false }],
      ['head dim 128, as the released model\'s', { ...TINY, hidden_size: 256, heads_num: 2, mlp_hidden: 512 }],
    ] as const) {
      it(name, async () => {
        const ref = randomDit(config, 7);
        const gpu = new HunyuanDit(config, ref.session.weights, { backend: 'webgpu', device });
        const a = inputs(config, seeded(8), [1, 1, 1, 1, 1, 0]);
        const want = toFloat64(await ref.forward(a));
        const got = toFloat64(await gpu.forward(a));
        let num = 0;
        let den = 0;
        want.forEach((v, i) => { num += (got[i] - v) ** 2; den += v * v; });
        expect(Math.sqrt(num / den)).toBeLessThan(2e-6);
      }, 300_000);
    }
  });
});
