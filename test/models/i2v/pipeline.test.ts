/**
 * The image-to-video denoising run: the public pipeline goldens (one upstream __call__ each, with
 * and without classifier-free guidance: start latents, every step's transformer output and
 * latents, the decoded video) on the interpreter and on WebGPU, and the embedded guidance's
 * bfloat16 rounding against the spec's worked values.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { formatReport, runGoldenCase } from '../../../models/golden/run.ts';
import { embeddedGuidance } from '../../../models/i2v/pipeline.ts';
import { releaseDevice } from '../../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../../runtime/gpu-available.ts';
import { goldenPath, PIPELINE_CASES } from '../golden_cases.ts';

const device = await deviceOrUndefined();
afterAll(async () => {
  if (device) await releaseDevice();
});

describe('HunyuanVideoPipeline goldens', () => {
  expect(PIPELINE_CASES.length).toBeGreaterThanOrEqual(2);
  for (const f of PIPELINE_CASES) {
    it(`${f} on the interpreter`, async () => {
      const r = await runGoldenCase(goldenPath(f), { backend: 'interp', session: { backend: 'interp' }, log: () => {} });
      expect(r.comparisons.map((c) => c.name)).toEqual(expect.arrayContaining(['latents_init', 'model_output_step_0', 'latents_step_0', 'latents', 'video', 'dit_guidance']));
      expect(r.pass, formatReport(r)).toBe(true);
    });
    it.skipIf(!device)(device ? `${f} on WebGPU` : `${f} on WebGPU — ${NO_ADAPTER}`, async () => {
      const r = await runGoldenCase(goldenPath(f), { backend: 'webgpu', device, session: { backend: 'webgpu', device }, log: () => {} });
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
