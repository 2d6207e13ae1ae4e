import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { runGoldenCase, type CaseReport } from '../../models/golden/run.ts';
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
