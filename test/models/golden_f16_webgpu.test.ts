// Goldens of the VAE blocks with f16 storage on WebGPU (lavapipe here: shader-f16 is offered):
// within the golden README's "roughly 1e-3 relative" for float16 — here each block stays
// within 1e-3 relative L2 and 5e-3 of its output's range elementwise, tighter than the CLI's
// F16 tolerance (which also covers whole encoders and decoders).
import { afterAll, describe, expect, it } from 'vitest';
import { runGoldenCase, F16_MAX_ABS, F16_REL_L2 } from '../../models/golden/run.ts';
import { releaseDevice } from '../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../runtime/gpu-available.ts';
import { goldenPath } from './golden_cases.ts';

const device = await deviceOrUndefined();
const f16 = device?.target.features.shaderF16 ?? false;
const why = !device ? NO_ADAPTER : 'skipped: this adapter has no shader-f16';

describe.skipIf(!f16)(f16 ? 'VAE block goldens with f16 storage on WebGPU' : `VAE block goldens with f16 storage — ${why}`, () => {
  afterAll(async () => {
    await releaseDevice();
  });
  const ctx = { backend: 'webgpu' as const, device, session: { backend: 'webgpu' as const, device, dtype: 'f16' as const }, log: () => {} };
  for (const f of ['causal_conv3d_k3_s1.safetensors', 'resnet_shortcut_c8to12_g4.safetensors', 'upsample_t2s2_T3.safetensors', 'midblock_c16_g4_T3.safetensors']) {
    it(f, async () => {
      const r = await runGoldenCase(goldenPath(f), ctx);
      expect(r.pass).toBe(true);
      for (const c of r.comparisons) {
        expect(c.relL2, c.name).toBeLessThan(1e-3);
        // Not exact: f16 storage really rounds (the f32 program is within 2e-6 here).
        if (c.name === 'y') expect(c.relL2, c.name).toBeGreaterThan(1e-5);
      }
    });
  }
  it('uses the README\'s f16 tolerance, not the file\'s f32 bounds', () => {
    expect(F16_REL_L2).toBeLessThanOrEqual(3e-3);
    expect(F16_MAX_ABS).toBeLessThanOrEqual(5e-3);
  });
});
