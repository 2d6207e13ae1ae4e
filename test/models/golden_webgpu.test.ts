// The VAE goldens on WebGPU (fused WGSL on Dawn; lavapipe on CPU-only machines): the five block
// classes, the encoder, the decoder and the untiled autoencoder. The tiled cases run through
// `npm run golden` (they compile many tile shapes, which takes minutes on lavapipe) and through
// the interpreter in golden_interp.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { formatReport, runGoldenCase } from '../../models/golden/run.ts';
import { releaseDevice } from '../../runtime/device.ts';
import { deviceOrUndefined, NO_ADAPTER } from '../runtime/gpu-available.ts';
import { BLOCK_CASES, goldenPath, MODEL_CASES } from './golden_cases.ts';

const device = await deviceOrUndefined();

describe.skipIf(!device)(device ? 'VAE goldens on WebGPU' : `VAE goldens on WebGPU — ${NO_ADAPTER}`, () => {
  afterAll(async () => {
    await releaseDevice();
  });
  const ctx = { backend: 'webgpu' as const, device, session: { backend: 'webgpu' as const, device }, log: () => {} };
  for (const f of [...BLOCK_CASES, ...MODEL_CASES]) {
    it(f, async () => {
      const r = await runGoldenCase(goldenPath(f), ctx);
      expect(r.pass, formatReport(r)).toBe(true);
    });
  }
});
