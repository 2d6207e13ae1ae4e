/**
 * The image-to-video denoising run: the public pipeline goldens (one upstream __call__ each, with
 * and without classifier-free guidance: start latents, every step's transformer output and
 * latents, the decoded video) on the interpreter and on WebGPU, and the embedded guidance's
 * bfloat16 rounding against the spec's worked values.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { formatReport } from '../../../models/golden/run.ts';
import { embeddedGuidance, HunyuanI2vPipeline } from '../../../models/i2v/pipeline.ts';
import { FlowMatchDiscreteScheduler } from '../../../models/flow_match/scheduler.ts';
import { randomDitWeights, TINY_DIT_CONFIG } from '../../../models/hunyuan_dit/random_weights.ts';
import { ndRotaryPosEmbed } from '../../../models/hunyuan_dit/rope.ts';
import { HunyuanDit } from '../../../models/hunyuan_dit/transformer.ts';
import { HunyuanVae } from '../../../models/hunyuan_vae/autoencoder.ts';
import { builtinVaeWeights, TINY_VAE_CONFIG } from '../../../models/hunyuan_vae/random_weights.ts';
import { gaussianNoise } from '../../../models/i2v/generate.ts';
import { weightsFromMap } from '../../../runtime/model.ts';
import { toFloat64, type HostTensor } from '../../../runtime/tensor.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { goldenPath, PIPELINE_CASES, runCase } from '../golden_cases.ts';

const device = await deviceOrUndefined();
afterAll(async () => {
  if (device) await releaseDevice();
});

describe('HunyuanVideoPipeline goldens', () => {
  expect(PIPELINE_CASES.length).toBeGreaterThanOrEqual(2);
  for (const f of PIPELINE_CASES) {
    it(`${f} on the interpreter`, async () => {
      const r = await runCase(goldenPath(f));
      expect(r.comparisons.map((c) => c.name)).toEqual(expect.arrayContaining(['latents_init', 'model_output_step_0', 'latents_step_0', 'latents', 'video', 'dit_guidance']));
      expect(r.pass, formatReport(r)).toBe(true);
    });
    it.skipIf(!device)(device ? `${f} on WebGPU` : `${f} on WebGPU — ${NO_ADAPTER}`, async () => {
      const r = await runCase(goldenPath(f), device);
      expect(r.pass, formatReport(r)).toBe(true);
    }, 600_000);
  }
});

describe('embeddedGuidance', () => {
  it('rounds the product in bfloat16 as upstream does (spec §5.5: 6.0 → 6016, 3.5 → 3504, 7.5 → 7488, 10 → 9984)', () => {
    expect([6, 3.5, 7.5, 10].map((g) => embeddedGuidance(g))).toEqual([6016, 3504, 7488, 9984]);
    expect(embeddedGuidance(6, 'fp32')).toBe(6000);
  });
});

describe('HunyuanI2vPipeline conditions', () => {
  const session = { backend: 'interp' as const };
  const vae = () => new HunyuanVae(TINY_VAE_CONFIG, weightsFromMap(builtinVaeWeights()), session);
  const scheduler = () => new FlowMatchDiscreteScheduler({ numTrainTimesteps: 1000, shift: 7, reverse: true }, session);
  const prompt = { states: gaussianNoise([1, 5, 32], 1), mask: { dtype: 'I32' as const, shape: [1, 5], data: Int32Array.of(1, 1, 1, 1, 0) }, pooled: gaussianNoise([1, 24], 2) };
  const image: HostTensor = gaussianNoise([1, 4, 1, 4, 6], 3);
  const { cos, sin } = ndRotaryPosEmbed({ ropeDimList: [8, 12, 12], grid: [2, 2, 3], theta: 256 });
  const inputs = { imageLatents: image, prompt, noise: gaussianNoise([1, 4, 2, 4, 6], 4), freqsCos: cos, freqsSin: sin };
  const frame0 = (t: HostTensor): number[] => {
    const v = toFloat64(t);
    const out: number[] = [];
    for (let c = 0; c < 4; c++) for (let p = 0; p < 24; p++) out.push(v[(c * 2) * 24 + p]);
    return out;
  };

  it('token_replace keeps the image latent as frame 0 of every step\'s latents', async () => {
    const dit = new HunyuanDit(TINY_DIT_CONFIG, weightsFromMap(randomDitWeights()), session);
    const pipeline = new HunyuanI2vPipeline(dit, vae(), scheduler());
    expect(pipeline.condition).toBe('token_replace');
    const r = await pipeline.denoise(inputs, { numInferenceSteps: 2, guidanceScale: 1, embeddedGuidanceScale: 6 });
    const want = Array.from(toFloat64(image));
    frame0(r.latents).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-6));
  });

  it('latent_concat feeds latents, image and mask as 2C + 1 channels, integrates every frame and drops four decoded frames', async () => {
    const config = { ...TINY_DIT_CONFIG, token_replace: false, in_channels: 9 };
    const dit = new HunyuanDit(config, weightsFromMap(randomDitWeights(config)), session);
    const pipeline = new HunyuanI2vPipeline(dit, vae(), scheduler());
    expect(pipeline.condition).toBe('latent_concat');
    const seen: number[][] = [];
    const r = await pipeline.denoise(inputs, { numInferenceSteps: 2, guidanceScale: 1, embeddedGuidanceScale: 6, onStep: (s) => seen.push([...s.modelOutput.shape]) });
    expect(seen).toEqual([[1, 4, 2, 4, 6], [1, 4, 2, 4, 6]]);
    // Frame 0 is integrated like the others: it is no longer the start latents' frame 0, nor the image latent.
    const start = frame0(r.latentsInit);
    const want = Array.from(toFloat64(image));
    expect(Math.max(...frame0(r.latents).map((v, i) => Math.abs(v - start[i])))).toBeGreaterThan(1e-3);
    expect(Math.max(...frame0(r.latents).map((v, i) => Math.abs(v - want[i])))).toBeGreaterThan(1e-3);
    const video = await pipeline.decode(r.latents);
    expect(video.shape).toEqual([1, 3, 1, 32, 48]); // 5 decoded frames, the first four dropped
  });

  it('refuses a transformer that fits neither condition, saying what it reads', () => {
    const config = { ...TINY_DIT_CONFIG, token_replace: false, in_channels: 4 };
    const dit = new HunyuanDit(config, weightsFromMap(randomDitWeights(config)), session);
    expect(() => new HunyuanI2vPipeline(dit, vae(), scheduler())).toThrow(/neither uses token_replace nor reads 9 channels/);
  });
});
