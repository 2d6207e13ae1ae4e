import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { runGoldenCase, type CaseReport } from '../../models/golden/run.ts';
import { NO_ADAPTER } from '../runtime/gpu-available.ts';
import type { KilnDevice } from '../../runtime/device.ts';

export const GOLDEN_DIR = resolve(import.meta.dirname, '../golden');

const all = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.safetensors')).sort();

/** The five VAE block classes (issue: language and interpreter; WebGPU codegen). */
export const BLOCK_CASES = all.filter((f) => /^(causal_conv3d|downsample|upsample|resnet|midblock)_/.test(f));
/** Whole encoder, decoder and untiled autoencoder. */
export const MODEL_CASES = all.filter((f) => /^(encoder_tiny|decoder_tiny|vae_tiny_untiled)\./.test(f));
/** Tiled encode/decode cases. */
export const TILED_CASES = all.filter((f) => /^vae_tiny_tiled_/.test(f));

export const goldenPath = (f: string) => resolve(GOLDEN_DIR, f);
/** The flow-matching scheduler's cases (sigmas, timesteps and Euler steps). */
export const SCHEDULER_CASES = all.filter((f) => /^scheduler_/.test(f));
/** The transformer's rotary position tables. */
export const ROPE_CASES = all.filter((f) => /^rope_/.test(f));
/** The sampler's bucket and reference-image case. */
export const SAMPLER_CASES = all.filter((f) => /^sampler_/.test(f));
/** The denoising transformer's cases. */
export const DIT_CASES = all.filter((f) => /^dit_/.test(f));
/** One HunyuanVideoPipeline.__call__ each: i2v token_replace, with and without classifier-free guidance. */
export const PIPELINE_CASES = all.filter((f) => /^pipeline_/.test(f));

/** Cases made here from upstream's own modules on configs the public set does not cover (test/golden_upstream/README.md). */
export const UPSTREAM_DIR = resolve(import.meta.dirname, '../golden_upstream');
export const UPSTREAM_DIT_CASES = readdirSync(UPSTREAM_DIR).filter((f) => /^dit_.*\.safetensors$/.test(f)).sort();
export const upstreamPath = (f: string) => resolve(UPSTREAM_DIR, f);

/** Runs one case file on the interpreter, or on WebGPU with `device`. */
export function runCase(path: string, device?: KilnDevice): Promise<CaseReport> {
  const backend = device ? 'webgpu' as const : 'interp' as const;
  return runGoldenCase(path, { backend, device, session: { backend, device }, log: () => {} });
}

/**
 * One test per backend for each case file: the interpreter, WebGPU (f32), and WebGPU with f16
 * storage (the golden README's f16 tolerance); GPU tests skip, saying why, without a device or
 * shader-f16.
 */
export function itRunsCases(paths: readonly string[], device: KilnDevice | undefined, timeoutMs = 60_000): void {
  const f16 = device?.target.features.shaderF16 ?? false;
  for (const path of paths) {
    const name = path.split('/').pop()!;
    it(`${name} on the interpreter`, async () => {
      const r = await runCase(path);
      expect(r.pass, JSON.stringify(r.comparisons)).toBe(true);
    }, timeoutMs);
    it.skipIf(!device)(`${name} on WebGPU${device ? '' : ` (${NO_ADAPTER})`}`, async () => {
      const r = await runCase(path, device);
      expect(r.pass, JSON.stringify(r.comparisons)).toBe(true);
    }, timeoutMs);
    it.skipIf(!f16)(`${name} with f16 storage${f16 ? '' : ' (skipped: no adapter with shader-f16)'}`, async () => {
      const r = await runGoldenCase(path, { backend: 'webgpu', device, session: { backend: 'webgpu', device, dtype: 'f16' }, log: () => {} });
      expect(r.pass, JSON.stringify(r.comparisons)).toBe(true);
    }, timeoutMs);
  }
}
